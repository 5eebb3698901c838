"""FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)(3)(ii)): one row per tracking event.

    rows = fsma_rows(traces, lot="TH-MG-0042")                # every batch of the lot + its lineage
    rows = fsma_rows(traces, start="2026-04-01", end="2026-04-30")
    csv_bytes = to_csv(rows)        # every event in one table, with its chain links
    xlsx_bytes = to_xlsx(rows)      # the FDA template: one tab per CTE, then "All events"
    zip_bytes = to_csv_zip(rows)    # the same tabs as one CSV each

The FDA template's tabs (`TEMPLATE_SHEETS`) carry each CTE's Key Data Elements (21 CFR
1.1325-1.1350) with every location split into business name, phone, street, city, state,
postal code, country and GLN; a transformation has one row per input food. Each row carries the Key Data Elements of its Critical Tracking Event and links back to the
chain (batch id, step index, transaction hash, block) and to the evidence CID it came from.
Events of a non-CTE kind (cultivation, domestic sale) are left out; events whose record could
not be read are kept, with the reason in Notes, so nothing disappears silently; an event dated out of
order against its lot's other records (`tambon.records.order_problems`) says so in Notes.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

from compliance.errors import ComplianceError
from compliance.model import BatchTrace, Traces, TrackingEvent, batch_gtin, batch_lot, date_order
from compliance.xlsx import write_tables
from tambon.records import FSMA_CTES

COLUMNS: tuple[str, ...] = (
    "Critical Tracking Event",
    "Event Date",
    "Event Time",
    "Traceability Lot Code",
    "Product Description",
    "Commodity",
    "Variety",
    "Quantity",
    "Unit of Measure",
    "Location Description",
    "Location GLN",
    "Farm Location Description",
    "Farm GLN",
    "Field Name",
    "Harvester Business Name",
    "Harvester Phone",
    "Cooling Date",
    "Cooling Location Description",
    "Date Received",
    "Quantity Received",
    "Unit Received",
    "Ship-From Location Description",
    "Ship-From GLN",
    "Ship-To / Immediate Subsequent Recipient",
    "Ship-To GLN",
    "TLC Source Location Description",
    "TLC Source GLN",
    "TLC Source Reference",
    "Input Traceability Lot Codes",
    "Reference Document Type",
    "Reference Document Number",
    "GTIN",
    "Batch ID",
    "On-chain Event",
    "Step Index",
    "Value-chain Stage",
    "Transaction Hash",
    "Block Number",
    "Log Index",
    "Chain ID",
    "Contract",
    "Evidence CID",
    "Evidence URI",
    "Notes",
)


def _address(addr: Any) -> str:
    if not isinstance(addr, Mapping):
        return ""
    keys = ("street", "subdistrict", "district", "city", "province", "postal_code", "country")
    return ", ".join(str(addr[k]) for k in keys if addr.get(k))


def _describe(place: Any) -> str:
    """FSMA location description in one cell: business name; address; phone."""
    if not isinstance(place, Mapping):
        return ""
    parts = [str(place.get("name") or place.get("business_name") or ""), _address(place.get("address"))]
    if place.get("phone"):
        parts.append(f"tel. {place['phone']}")
    return "; ".join(p for p in parts if p)


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _qty(value: Any) -> tuple[Any, str]:
    if isinstance(value, Mapping):
        return value.get("value", ""), str(value.get("unit", ""))
    return "", ""


def _gln(place: Any) -> str:
    return str(place.get("gln", "")) if isinstance(place, Mapping) else ""


def event_row(
    event: TrackingEvent, lot: str | None = None, gtin: str | None = None, places: dict | None = None
) -> dict[str, Any]:
    """The spreadsheet row of one tracking event (a dict keyed by COLUMNS). `places` memoises
    location descriptions by object identity within one export (records share place objects)."""
    memo = places if places is not None else {}

    def describe(place: Any) -> str:
        key = id(place)
        found = memo.get(key)
        if found is None or found[0] is not place:
            found = memo[key] = (place, _describe(place))
        return found[1]

    r: Mapping[str, Any] = event.record or {}
    ref = event.ref
    commodity = _obj(r.get("commodity"))
    farm = _obj(r.get("farm"))
    harvester = _obj(r.get("harvester"))
    cooling = _obj(r.get("cooling"))
    received = _obj(r.get("received"))
    docs = [d for d in (r.get("reference_documents") or []) if isinstance(d, Mapping)]
    qty, unit = _qty(r.get("quantity"))
    rqty, runit = _qty(received.get("quantity"))
    cte = r.get("event", "")
    # a receipt's own location is its Location Description, never its Ship-To
    ship_to = r.get("ship_to") if cte == "shipping" else r.get("recipient")
    location = r.get("location") or (r.get("ship_to") if cte == "receiving" else None)
    datetime_ = str(r.get("datetime", ""))
    notes = []
    if event.error:
        notes.append(f"record unavailable: {event.error}")
    tlc = r.get("traceability_lot_code") or ""
    if not tlc and lot and cte in ("harvesting", "cooling"):
        notes.append(f"before lot code assignment; later packed as lot {lot}")
    return {
        "Critical Tracking Event": cte,
        "Event Date": r.get("date", ""),
        "Event Time": datetime_.partition("T")[2] if "T" in datetime_ else "",
        "Traceability Lot Code": tlc,
        "Product Description": r.get("product_description", ""),
        "Commodity": commodity.get("name", ""),
        "Variety": commodity.get("variety", ""),
        "Quantity": qty,
        "Unit of Measure": unit,
        "Location Description": describe(location),
        "Location GLN": _gln(location),
        "Farm Location Description": describe(farm),
        "Farm GLN": _gln(farm),
        "Field Name": farm.get("field_name", ""),
        "Harvester Business Name": harvester.get("business_name", ""),
        "Harvester Phone": harvester.get("phone", ""),
        "Cooling Date": r.get("date", "") if cte == "cooling" else cooling.get("date", ""),
        "Cooling Location Description": describe(cooling.get("location")),
        "Date Received": received.get("date") or (r.get("date", "") if cte == "receiving" else ""),
        "Quantity Received": rqty,
        "Unit Received": runit,
        "Ship-From Location Description": describe(r.get("ship_from")),
        "Ship-From GLN": _gln(r.get("ship_from")),
        "Ship-To / Immediate Subsequent Recipient": describe(ship_to),
        "Ship-To GLN": _gln(ship_to),
        "TLC Source Location Description": describe(r.get("tlc_source")),
        "TLC Source GLN": _gln(r.get("tlc_source")),
        "TLC Source Reference": r.get("tlc_source_reference", ""),
        "Input Traceability Lot Codes": " | ".join(
            str(i.get("traceability_lot_code", "")) for i in (r.get("inputs") or []) if isinstance(i, Mapping)
        ),
        "Reference Document Type": " | ".join(str(d.get("type", "")) for d in docs),
        "Reference Document Number": " | ".join(str(d.get("number", "")) for d in docs),
        "GTIN": gtin or "",
        "Batch ID": ref.batch_id,
        "On-chain Event": ref.kind,
        "Step Index": "" if ref.step_index is None else ref.step_index,
        "Value-chain Stage": ref.stage or "",
        "Transaction Hash": ref.tx_hash,
        "Block Number": ref.block_number,
        "Log Index": ref.log_index,
        "Chain ID": "" if ref.chain_id is None else ref.chain_id,
        "Contract": ref.contract or "",
        "Evidence CID": event.evidence_cid or "",
        "Evidence URI": f"ipfs://{event.evidence_cid}" if event.evidence_cid else "",
        "Notes": "; ".join(notes),
        EVENT_KEY: event,
    }


#: the tracking event a row came from (not a column; the template tabs are built from it)
EVENT_KEY = "_event"


def _sort_key(row: Mapping[str, Any]) -> tuple:
    return (str(row["Event Date"]), row["Block Number"], row["Log Index"], row["Batch ID"])


def _check_date(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ComplianceError(f"{what} must be a date YYYY-MM-DD, got {value!r}") from None


def select_batches(traces: Traces, lot: str | None = None, lineage: bool = True) -> list[BatchTrace]:
    """Batches of a lot (whose traceability lot code is `lot`) plus, with `lineage`, their ancestors."""
    if lot is None:
        return list(traces)
    ids: dict[int, None] = {}
    for trace in traces:
        if batch_lot(traces, trace.batch_id) == lot or any(
            e.record and e.record.get("traceability_lot_code") == lot for e in trace.events
        ):
            for bid in traces.lineage(trace.batch_id) if lineage else [trace.batch_id]:
                ids[bid] = None
    return [traces[i] for i in ids if i in traces]


#: the harvest dates of a row's lot (its lineage's harvesting records), for initial packing
HARVEST_KEY = "_harvest_dates"


def _harvest_dates(traces: Traces, batch_id: int) -> str:
    dates = sorted(
        {
            str(e.record["date"])
            for bid in traces.lineage(batch_id)
            if bid in traces
            for e in traces[bid].events
            if e.record and e.record.get("event") == "harvesting" and e.record.get("date")
        }
    )
    return " | ".join(dates)


def fsma_rows(
    traces: Iterable[BatchTrace] | Mapping[int, BatchTrace] | Traces,
    *,
    lot: str | None = None,
    start: str | None = None,
    end: str | None = None,
    lineage: bool = True,
) -> list[dict[str, Any]]:
    """Sorted spreadsheet rows: the FSMA CTEs of every batch of `lot` (and its lineage), within
    [start, end] by event date when given."""
    traces = Traces.of(traces)
    start, end = _check_date(start, "--from"), _check_date(end, "--to")
    if start and end and start > end:
        raise ComplianceError(f"the date range is empty: {start} is after {end}")
    rows = []
    places: dict = {}
    for trace in select_batches(traces, lot, lineage):
        trace_lot = batch_lot(traces, trace.batch_id)
        gtin = batch_gtin(traces, trace.batch_id)
        harvest_dates = _harvest_dates(traces, trace.batch_id)
        out_of_order = date_order(traces, trace.batch_id)
        for event in trace.events:
            if event.record is not None and event.record.get("event") not in FSMA_CTES:
                continue
            date = event.date or ""
            if (start and (not date or date < start)) or (end and (not date or date > end)):
                continue
            row = event_row(event, trace_lot, gtin, places)
            if event.ref in out_of_order:  # data already on the chain is reported, never reordered
                row["Notes"] = "; ".join(filter(None, [row["Notes"], *out_of_order[event.ref]]))
            row[HARVEST_KEY] = harvest_dates
            rows.append(row)
    rows.sort(key=_sort_key)
    return rows


def to_csv(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """UTF-8 CSV with a BOM (so spreadsheet programs read Thai names correctly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    pick = itemgetter(*COLUMNS)
    writer.writerows([_cell(v) for v in pick(row)] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_FORMULA_START = frozenset("=+-@\t\r")


def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV/formula injection)."""
    if value.__class__ is str and value[:1] in _FORMULA_START and not _is_number(value):
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_xlsx(rows: Iterable[Mapping[str, Any]], title: str = "All events") -> bytes:
    """An .xlsx workbook in the FDA template's layout: one sortable tab per CTE
    (`TEMPLATE_SHEETS`), then `title`, every event in one table with its chain links."""
    return write_tables(export_tables(rows, title))


def export_tables(
    rows: Iterable[Mapping[str, Any]], title: str = "All events"
) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
    """What `to_xlsx` writes, as (sheet, column headings, rows): the template tabs, then `title`."""
    rows = list(rows)
    pick = itemgetter(*COLUMNS)
    return [*template_tables(rows), (title, COLUMNS, [pick(row) for row in rows])]


def to_csv_zip(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """A zip of one UTF-8 CSV per FDA template tab (`harvesting.csv`, ..., `transformation.csv`)
    plus `all-events.csv`, each as `to_csv` writes it."""
    rows = list(rows)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for (_tab, header, body), file in zip(template_tables(rows), TEMPLATE_FILES, strict=True):
            z.writestr(file, _csv(header, body))
        z.writestr("all-events.csv", to_csv(rows))
    return out.getvalue()


def _csv(header: tuple[str, ...], body: Iterable[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in body)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- the FDA sortable spreadsheet template: one tab per CTE -------------------------------
#
# Tabs as in the FDA's "FSMA Food Traceability Rule: Electronic Sortable Spreadsheet" template
# (June 2024, https://www.fda.gov/media/179617/download: Harvesting, Cooling, Initial Packing, Shipping,
# Receiving, Transformation). Each column heading is the Key Data Element as 21 CFR Part 1 Subpart S
# words it, the text the template is built from: § 1.1325(a) harvesting, § 1.1325(b) cooling,
# § 1.1330(a) initial packing, § 1.1340(a) shipping, § 1.1345(a) receiving, § 1.1350(a)
# transformation (eCFR, https://www.ecfr.gov/current/title-21/chapter-I/subchapter-A/part-1/subpart-S);
# a location description is split into the parts § 1.1310 lists ("business name, phone number,
# physical location address ..., city, State, and zip code ... including country"), plus its GLN.
# The template's own cell text was not in the public copies we could read; where it words a heading
# differently, the rule's wording here is what it asks for. After the KDEs come the chain links.

#: (our key, the § 1.1310 part) of a location description
LOCATION_PARTS = (
    ("Business Name", "business name"),
    ("Phone", "phone number"),
    ("Street Address", "physical location address"),
    ("City", "city"),
    ("State", "State"),
    ("Postal Code", "zip code or comparable information"),
    ("Country", "country"),
    ("GLN", "GLN"),
)


def _location_columns(label: str) -> tuple[str, ...]:
    return tuple(f"{label} - {part}" for part, _ in LOCATION_PARTS)


def _location(label: str, kde: str) -> tuple[tuple[str, str], ...]:
    """(our key, heading) of each part of one location description KDE."""
    return tuple((f"{label} - {part}", f"{kde} - {words}") for part, words in LOCATION_PARTS)


def _split_place(place: Any) -> tuple[Any, ...]:
    """A place's location description split as the template asks (Thai province as state,
    city or else district as city)."""
    if not isinstance(place, Mapping):
        return ("",) * len(LOCATION_PARTS)
    addr = _obj(place.get("address"))
    return (
        place.get("name") or place.get("business_name") or "",
        place.get("phone", ""),
        ", ".join(str(addr[k]) for k in ("street", "subdistrict") if addr.get(k)),
        addr.get("city") or addr.get("district") or "",
        addr.get("province", ""),
        addr.get("postal_code", ""),
        addr.get("country") or place.get("country") or "",
        place.get("gln", ""),
    )


Columns = tuple[tuple[str, str], ...]
_LINKS: Columns = tuple((name, name) for name in ("GTIN", "Batch ID", "Transaction Hash", "Evidence CID"))
_REFS: Columns = (
    ("Reference Document Type", "Reference document type"),
    ("Reference Document Number", "Reference document number"),
)
_RECIPIENT = (
    "Location description for the immediate subsequent recipient (other than a transporter) of the food"
)
_FARM = "Location description for the farm where the food was harvested"
_HARVESTER: Columns = (
    ("Harvester Business Name", "Business name for the harvester of the food"),
    ("Harvester Phone", "Phone number for the harvester of the food"),
)
_FIELD: Columns = (
    ("Field Name", "Name of the field or other growing area from which the food was harvested"),
)
_SOURCE: Columns = (
    *_location("Traceability Lot Code Source", "Location description for the traceability lot code source"),
    ("Traceability Lot Code Source Reference", "Traceability lot code source reference"),
)
_OF_THE_FOOD: Columns = (
    ("Traceability Lot Code", "Traceability lot code for the food"),
    ("Quantity", "Quantity of the food"),
    ("Unit of Measure", "Unit of measure of the food"),
    ("Product Description", "Product description for the food"),
)

#: (tab, CTE, ((our key, heading), ...)) in the order of the rule's paragraphs
TEMPLATE_SHEETS: tuple[tuple[str, str, Columns], ...] = (
    ("Harvesting", "harvesting", (
        *_location("Immediate Subsequent Recipient", _RECIPIENT),
        ("Commodity", "Commodity of the food"), ("Variety", "Variety of the food (if applicable)"),
        ("Quantity", "Quantity of the food"), ("Unit of Measure", "Unit of measure of the food"),
        *_location("Farm Where Harvested", _FARM), *_FIELD, ("Date of Harvest", "Date of harvesting"),
        *_REFS, *_HARVESTER, ("Traceability Lot Code", "Traceability Lot Code"), *_LINKS)),
    ("Cooling", "cooling", (
        *_location("Immediate Subsequent Recipient", _RECIPIENT),
        ("Commodity", "Commodity of the food"), ("Variety", "Variety of the food (if applicable)"),
        ("Quantity", "Quantity of the food"), ("Unit of Measure", "Unit of measure of the food"),
        *_location("Cooling Location", "Location description for where you cooled the food"),
        ("Cooling Date", "Date of cooling"), *_location("Farm Where Harvested", _FARM), *_REFS,
        ("Traceability Lot Code", "Traceability Lot Code"), *_LINKS)),
    ("Initial Packing", "initial_packing", (
        ("Commodity", "Commodity of the food received"),
        ("Variety", "Variety of the food received (if applicable)"),
        ("Date Received", "Date you received the food"),
        ("Quantity Received", "Quantity of the food received"),
        ("Unit Received", "Unit of measure of the food received"),
        *_location("Farm Where Harvested", _FARM), *_FIELD, *_HARVESTER,
        ("Date of Harvest", "Date of harvesting"),
        *_location("Cooling Location", "Location description for where the food was cooled (if applicable)"),
        ("Cooling Date", "Date of cooling (if applicable)"),
        ("Traceability Lot Code", "Traceability lot code you assigned"),
        ("Product Description", "Product description of the packed food"),
        ("Quantity Packed", "Quantity of the packed food"),
        ("Unit of Measure", "Unit of measure of the packed food"),
        *_location("Traceability Lot Code Source", "Location description for where you initially packed the "
                   "food (the traceability lot code source)"),
        ("Traceability Lot Code Source Reference", "Traceability lot code source reference (if applicable)"),
        ("Packing Date", "Date of initial packing"), *_REFS, *_LINKS)),
    ("Shipping", "shipping", (
        *_OF_THE_FOOD, *_location("Ship-To Location", _RECIPIENT),
        *_location("Ship-From Location", "Location description for the location from which you shipped the food"),
        ("Ship Date", "Date you shipped the food"), *_SOURCE, *_REFS, *_LINKS)),
    ("Receiving", "receiving", (
        *_OF_THE_FOOD,
        *_location("Immediate Previous Source", "Location description for the immediate previous source "
                   "(other than a transporter) for the food"),
        *_location("Receiving Location", "Location description for where the food was received"),
        ("Date Received", "Date you received the food"), *_SOURCE, *_REFS, *_LINKS)),
    ("Transformation", "transformation", (
        ("Input Traceability Lot Code", "Traceability lot code for the food used in transformation"),
        ("Input Product Description", "Product description for the food to which the traceability lot "
         "code applies"),
        ("Input Quantity", "Quantity of the food used from that traceability lot"),
        ("Input Unit of Measure", "Unit of measure of the food used from that traceability lot"),
        ("Traceability Lot Code", "New traceability lot code for the food"),
        *_location("Transformation Location", "Location description for where you transformed the food "
                   "(the traceability lot code source)"),
        ("Traceability Lot Code Source Reference", "Traceability lot code source reference (if applicable)"),
        ("Date Transformation Completed", "Date transformation was completed"),
        ("New Product Description", "Product description for the food produced"),
        ("Quantity Produced", "Quantity of the food produced"),
        ("Unit of Measure", "Unit of measure of the food produced"),
        ("Reference Document Type", "Reference document type for the transformation event"),
        ("Reference Document Number", "Reference document number for the transformation event"), *_LINKS)),
)  # fmt: skip
#: CTE -> {our key: the column heading}
TEMPLATE_HEADINGS = {cte: dict(columns) for _, cte, columns in TEMPLATE_SHEETS}
TEMPLATE_FILES = tuple(f"{cte}.csv" for _, cte, _ in TEMPLATE_SHEETS)


def _template_values(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The template cells of one flat row: one dict per template row (one per transformation input)."""
    event: TrackingEvent | None = row.get(EVENT_KEY)
    r: Mapping[str, Any] = (event.record if event else None) or {}
    commodity, farm, cooling = _obj(r.get("commodity")), _obj(r.get("farm")), _obj(r.get("cooling"))
    received = _obj(r.get("received"))
    qty, unit = _qty(r.get("quantity"))
    rqty, runit = _qty(received.get("quantity"))
    cte = r.get("event", "")
    date = r.get("date", "")
    cells: dict[str, Any] = {key: row[key] for key, _ in _LINKS + _REFS}
    cells["Traceability Lot Code"] = row["Traceability Lot Code"]
    cells.update({
        "Commodity": commodity.get("name", ""), "Variety": commodity.get("variety", ""),
        "Quantity": qty, "Unit of Measure": unit, "Product Description": r.get("product_description", ""),
        "Field Name": farm.get("field_name", ""),
        "Harvester Business Name": row["Harvester Business Name"], "Harvester Phone": row["Harvester Phone"],
        "Traceability Lot Code Source Reference": r.get("tlc_source_reference", ""),
    })  # fmt: skip

    def place(label: str, value: Any) -> None:
        cells.update(zip(_location_columns(label), _split_place(value), strict=True))

    place("Farm Where Harvested", farm)
    place("Traceability Lot Code Source", r.get("tlc_source"))
    if cte == "harvesting":
        cells["Date of Harvest"] = date
        place("Immediate Subsequent Recipient", r.get("recipient"))
    elif cte == "cooling":
        cells["Cooling Date"] = date
        place("Cooling Location", r.get("location"))
        place("Immediate Subsequent Recipient", r.get("recipient"))
    elif cte == "initial_packing":
        cells.update({
            "Date Received": received.get("date") or (r.get("date", "") if cte == "receiving" else ""), "Quantity Received": rqty, "Unit Received": runit,
            "Date of Harvest": row.get(HARVEST_KEY, ""), "Cooling Date": cooling.get("date", ""),
            "Quantity Packed": qty, "Packing Date": date,
        })  # fmt: skip
        place("Cooling Location", cooling.get("location"))
    elif cte == "shipping":
        cells["Ship Date"] = date
        place("Ship-From Location", r.get("ship_from") or r.get("location"))
        place("Ship-To Location", r.get("ship_to") or r.get("recipient"))
    elif cte == "receiving":
        # the receiving location is where the food arrived, never under "Ship-To"
        cells["Date Received"] = received.get("date") or date
        place("Receiving Location", r.get("location") or r.get("ship_to"))
        place("Immediate Previous Source", r.get("ship_from"))
    elif cte == "transformation":
        cells.update({"New Product Description": r.get("product_description", ""), "Quantity Produced": qty,
                      "Date Transformation Completed": date})  # fmt: skip
        place("Transformation Location", r.get("location") or r.get("tlc_source"))
        inputs = [i for i in (r.get("inputs") or []) if isinstance(i, Mapping)]
        out = []
        for food in inputs or [{}]:
            iqty, iunit = _qty(food.get("quantity"))
            out.append({**cells, "Input Traceability Lot Code": food.get("traceability_lot_code", ""),
                        "Input Product Description": food.get("product_description", ""),
                        "Input Quantity": iqty, "Input Unit of Measure": iunit})  # fmt: skip
        return out
    return [cells]


def template_tables(
    rows: Iterable[Mapping[str, Any]],
) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
    """The FDA template's tabs as (tab name, column headings, rows) from `fsma_rows` rows, in row
    order; a tab with no event is still there (its headings alone)."""
    bodies: dict[str, list[tuple[Any, ...]]] = {cte: [] for _, cte, _ in TEMPLATE_SHEETS}
    keys = {cte: tuple(key for key, _ in columns) for _, cte, columns in TEMPLATE_SHEETS}
    for row in rows:
        cte = row["Critical Tracking Event"]
        if cte not in bodies:
            continue
        for cells in _template_values(row):
            bodies[cte].append(tuple(cells.get(key, "") for key in keys[cte]))
    return [
        (name, tuple(heading for _, heading in columns), bodies[cte])
        for name, cte, columns in TEMPLATE_SHEETS
    ]
