"""FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)(3)(ii)): one row per tracking event.

    rows = fsma_rows(traces, lot="TH-MG-0042")                # every batch of the lot + its lineage
    rows = fsma_rows(traces, start="2026-04-01", end="2026-04-30")
    csv_bytes = to_csv(rows); xlsx_bytes = to_xlsx(rows)

Each row carries the Key Data Elements of its Critical Tracking Event and links back to the
chain (batch id, step index, transaction hash, block) and to the evidence CID it came from.
Events of a non-CTE kind (cultivation, domestic sale) are left out; events whose record could
not be read are kept, with the reason in Notes, so nothing disappears silently.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

from compliance.errors import ComplianceError
from compliance.model import BatchTrace, Traces, TrackingEvent, batch_gtin, batch_lot
from compliance.xlsx import write_table
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
    ship_to = r.get("ship_to") if cte in ("shipping", "receiving") else r.get("recipient")
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
        "Location Description": describe(r.get("location")),
        "Location GLN": _gln(r.get("location")),
        "Farm Location Description": describe(farm),
        "Farm GLN": _gln(farm),
        "Field Name": farm.get("field_name", ""),
        "Harvester Business Name": harvester.get("business_name", ""),
        "Harvester Phone": harvester.get("phone", ""),
        "Cooling Date": cooling.get("date", ""),
        "Cooling Location Description": describe(cooling.get("location")),
        "Date Received": received.get("date", ""),
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
    }


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
        for event in trace.events:
            if event.record is not None and event.record.get("event") not in FSMA_CTES:
                continue
            date = event.date or ""
            if (start and (not date or date < start)) or (end and (not date or date > end)):
                continue
            rows.append(event_row(event, trace_lot, gtin, places))
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


def to_xlsx(rows: Iterable[Mapping[str, Any]], title: str = "FSMA 204") -> bytes:
    """An .xlsx workbook: one sheet, a bold frozen header row with an autofilter (sortable)."""
    pick = itemgetter(*COLUMNS)
    return write_table(COLUMNS, (pick(row) for row in rows), sheet=title)
