"""FSMA 204 sortable spreadsheet from demo-like batches: a mango lot to the US, a rubber lot to the EU."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest

from compliance import fsma, samples
from compliance.errors import ComplianceError
from compliance.model import BatchTrace, ChainRef, Traces, TrackingEvent

LOT = "TH-MG-260402-A"


@pytest.fixture
def chain():
    """Two mango lots (2 and 12 April) and the rubber merge, on one pretend chain."""
    chain, mango = samples.mango_chain(lot=LOT, day=2)
    samples.mango_chain(chain, lot="TH-MG-260412-B", day=12)
    samples.rubber_chain(chain)
    return chain


def test_mango_lot__one_row_per_cte_with_kdes_and_chain_links(chain):
    rows = fsma.fsma_rows(chain.traces(), lot=LOT)
    assert [r["Critical Tracking Event"] for r in rows] == [
        "harvesting",
        "cooling",
        "initial_packing",
        "shipping",
        "receiving",
    ]
    harvest, cooling, packing, shipping, receiving = rows
    assert harvest["Farm Location Description"].startswith("วิสาหกิจชุมชนสวนมะม่วงบางคล้า")
    assert harvest["Field Name"] == "แปลง 3 (Plot 3)"
    assert (harvest["Harvester Business Name"], harvest["Harvester Phone"]) == (
        "Bang Khla Mango Community Enterprise",
        "+66 81 234 5678",
    )
    assert (harvest["Commodity"], harvest["Variety"], harvest["Quantity"], harvest["Unit of Measure"]) == (
        "mango",
        "Nam Dok Mai Si Thong",
        1200.0,
        "kg",
    )
    assert harvest["Ship-To / Immediate Subsequent Recipient"].startswith("Chachoengsao Fruit Packing House")
    assert harvest["Reference Document Type"] == "harvest log"
    assert "later packed as lot TH-MG-260402-A" in harvest["Notes"]
    assert cooling["Location GLN"] == samples.PACKHOUSE_GLN
    assert packing["Traceability Lot Code"] == LOT
    assert packing["TLC Source GLN"] == samples.PACKHOUSE_GLN
    assert (packing["Date Received"], packing["Quantity Received"], packing["Cooling Date"]) == (
        "2026-04-02",
        1200.0,
        "2026-04-02",
    )
    assert (
        shipping["Ship-To GLN"] == samples.LA_IMPORTER_GLN
        and "Los Angeles" in shipping["Ship-To / Immediate Subsequent Recipient"]
    )
    assert shipping["Reference Document Type"] == "bill of lading | invoice"
    assert receiving["Event Date"] == "2026-04-20"
    # each row links back to its on-chain event and evidence
    traces = chain.traces()
    batch = next(t for t in traces if t.events[0].record["date"] == "2026-04-02")
    assert [r["Step Index"] for r in rows] == ["", 0, 1, 2, 3]
    assert [r["On-chain Event"] for r in rows] == ["register", "step", "step", "step", "step"]
    assert [r["Value-chain Stage"] for r in rows] == ["", "HARVEST", "PROCESSING", "TRANSPORT", "MARKETING"]
    assert [r["Transaction Hash"] for r in rows] == [e.ref.tx_hash for e in batch.events]
    assert [r["Evidence CID"] for r in rows] == [e.evidence_cid for e in batch.events]
    assert all(r["Evidence URI"] == f"ipfs://{r['Evidence CID']}" for r in rows)
    assert {r["Batch ID"] for r in rows} == {batch.batch_id}
    assert {r["GTIN"] for r in rows} == {"0" + samples.MANGO_GTIN}  # GTIN-14, as every output writes it


def test_date_range__across_lots_sorted_by_date(chain):
    rows = fsma.fsma_rows(chain.traces(), start="2026-04-03", end="2026-04-14")
    dates = [r["Event Date"] for r in rows]
    assert dates == sorted(dates) and dates[0] == "2026-04-03" and dates[-1] == "2026-04-14"
    assert {r["Traceability Lot Code"] for r in rows if r["Traceability Lot Code"]} == {LOT, "TH-MG-260412-B"}
    both = fsma.fsma_rows(chain.traces(), lot=LOT, start="2026-04-03", end="2026-04-14")
    assert [r["Critical Tracking Event"] for r in both] == ["initial_packing", "shipping"]


def test_rubber_lot__lineage_includes_smallholder_harvests(chain):
    rows = fsma.fsma_rows(chain.traces(), lot="TH-RB-2605-01")
    assert [r["Critical Tracking Event"] for r in rows] == [
        "harvesting",
        "harvesting",
        "transformation",
        "shipping",
        "receiving",
    ]
    transformation = rows[2]
    assert transformation["Input Traceability Lot Codes"] == "SK-RP-01 | SK-RP-02"
    assert transformation["On-chain Event"] == "merge"
    only_own = fsma.fsma_rows(chain.traces(), lot="TH-RB-2605-01", lineage=False)
    assert [r["Critical Tracking Event"] for r in only_own] == ["transformation", "shipping", "receiving"]


def test_unknown_lot__no_rows(chain):
    assert fsma.fsma_rows(chain.traces(), lot="NOPE") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2026-13-01"}, "--from must be a date YYYY-MM-DD"),
        ({"end": "yesterday"}, "--to must be a date"),
        ({"start": "2026-05-01", "end": "2026-04-01"}, "the date range is empty"),
    ],
)
def test_bad_dates__refused(chain, kwargs, message):
    with pytest.raises(ComplianceError, match=message):
        fsma.fsma_rows(chain.traces(), **kwargs)


def test_unreadable_record__kept_with_reason_non_cte_left_out():
    ref = ChainRef(batch_id=1, kind="register", tx_hash="0x01", block_number=5)
    step = ChainRef(
        batch_id=1, kind="step", tx_hash="0x02", block_number=6, step_index=0, stage="CULTIVATION"
    )
    cultivation = {
        "schema_version": "1",
        "event": "cultivation",
        "date": "2026-01-01",
        "commodity": {"name": "x"},
    }
    trace = BatchTrace(
        1,
        events=(
            TrackingEvent(ref, "bafkreia", None, "evidence store does not hold this CID"),
            TrackingEvent(step, "bafkreib", cultivation),
        ),
    )
    rows = fsma.fsma_rows(Traces.of([trace]))
    assert len(rows) == 1
    assert rows[0]["Notes"] == "record unavailable: evidence store does not hold this CID"
    assert rows[0]["Evidence CID"] == "bafkreia" and rows[0]["Transaction Hash"] == "0x01"


def test_csv__parses_back_utf8_bom_and_neutralises_formulas(chain):
    rows = fsma.fsma_rows(chain.traces(), lot=LOT)
    rows[0]["Notes"] = '=HYPERLINK("http://evil")'
    data = fsma.to_csv(rows)
    assert data.startswith("\ufeff".encode())
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(parsed) == 5 and list(parsed[0]) == list(fsma.COLUMNS)
    assert parsed[0]["Farm Location Description"].startswith("วิสาหกิจชุมชน")
    assert parsed[0]["Notes"].startswith("'=HYPERLINK")
    assert parsed[0]["Harvester Phone"] == "'+66 81 234 5678"  # a leading + would start a formula
    assert parsed[1]["Quantity"] == "1200.0"


def test_xlsx__opens_with_openpyxl_sortable_header(chain):
    rows = fsma.fsma_rows(chain.traces(), lot="TH-RB-2605-01")
    rows[0]["Notes"] = "=1+1"
    wb = openpyxl.load_workbook(io.BytesIO(fsma.to_xlsx(rows, title="FSMA 204 lot TH-RB-2605-01")))
    ws = wb["FSMA 204 lot TH-RB-2605-01"]
    assert wb.sheetnames == [name for name, _, _ in fsma.TEMPLATE_SHEETS] + [ws.title]
    header = [c.value for c in ws[1]]
    assert header == list(fsma.COLUMNS)
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:AR{len(rows) + 1}"
    assert ws.max_row == len(rows) + 1
    values = [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]
    assert [v["Critical Tracking Event"] for v in values] == [r["Critical Tracking Event"] for r in rows]
    assert values[0]["Quantity"] == 800 and isinstance(values[0]["Batch ID"], int)
    assert values[0]["Notes"] == "=1+1" and ws["AR2"].data_type == "s"  # text, not a formula
    assert values[0]["Farm Location Description"] == rows[0]["Farm Location Description"]
    assert values[2]["Evidence CID"] == rows[2]["Evidence CID"]


def test_xlsx__control_characters_stripped_not_corrupting():
    ref = ChainRef(batch_id=1, kind="register", tx_hash="0x01", block_number=5)
    record = {
        "schema_version": "1",
        "event": "harvesting",
        "date": "2026-01-01",
        "commodity": {"name": "bad\x01name <&>"},
    }
    rows = fsma.fsma_rows([BatchTrace(1, events=(TrackingEvent(ref, None, record),))])
    wb = openpyxl.load_workbook(io.BytesIO(fsma.to_xlsx(rows)))
    assert wb["All events"]["F2"].value == "badname <&>"
    _, (harvest,) = _tab(wb, "Harvesting")
    assert harvest["Commodity"] == "badname <&>"


def _tab(wb, name):
    """A tab's column keys and rows keyed by them (headings mapped back through TEMPLATE_HEADINGS)."""
    ws = wb[name]
    cte = next(cte for tab, cte, _ in fsma.TEMPLATE_SHEETS if tab == name)
    key_of = {heading: key for key, heading in fsma.TEMPLATE_HEADINGS[cte].items()}
    header = [key_of[c.value] for c in ws[1]]
    return header, [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]


#: every Key Data Element heading of each tab as 21 CFR 1.1325-1.1350 words it (the chain links after them
#: are ours); a location description is one heading per part its § 1.1310 definition lists
RECIPIENT = (
    "Location description for the immediate subsequent recipient (other than a transporter) of the food"
)
FARM = "Location description for the farm where the food was harvested"
SOURCE = "Location description for the traceability lot code source"
PARTS = ["business name", "phone number", "physical location address", "city", "State",
         "zip code or comparable information", "country", "GLN"]  # fmt: skip


def _place(kde):
    return [f"{kde} - {part}" for part in PARTS]


RULE_HEADINGS = {
    "Harvesting": [*_place(RECIPIENT), "Commodity of the food", "Variety of the food (if applicable)",
                   "Quantity of the food", "Unit of measure of the food", *_place(FARM),
                   "Name of the field or other growing area from which the food was harvested", "Date of harvesting",
                   "Reference document type", "Reference document number",
                   "Business name for the harvester of the food", "Phone number for the harvester of the food"],
    "Cooling": [*_place(RECIPIENT), "Commodity of the food", "Variety of the food (if applicable)",
                "Quantity of the food", "Unit of measure of the food",
                *_place("Location description for where you cooled the food"), "Date of cooling", *_place(FARM),
                "Reference document type", "Reference document number"],
    "Initial Packing": ["Commodity of the food received", "Variety of the food received (if applicable)",
                        "Date you received the food", "Quantity of the food received",
                        "Unit of measure of the food received", *_place(FARM),
                        "Name of the field or other growing area from which the food was harvested",
                        "Business name for the harvester of the food", "Phone number for the harvester of the food",
                        "Date of harvesting",
                        *_place("Location description for where the food was cooled (if applicable)"),
                        "Date of cooling (if applicable)", "Traceability lot code you assigned",
                        "Product description of the packed food", "Quantity of the packed food",
                        "Unit of measure of the packed food",
                        *_place("Location description for where you initially packed the food (the traceability "
                                "lot code source)"),
                        "Traceability lot code source reference (if applicable)", "Date of initial packing",
                        "Reference document type", "Reference document number"],
    "Shipping": ["Traceability lot code for the food", "Quantity of the food", "Unit of measure of the food",
                 "Product description for the food", *_place(RECIPIENT),
                 *_place("Location description for the location from which you shipped the food"),
                 "Date you shipped the food", *_place(SOURCE), "Traceability lot code source reference",
                 "Reference document type", "Reference document number"],
    "Receiving": ["Traceability lot code for the food", "Quantity of the food", "Unit of measure of the food",
                  "Product description for the food",
                  *_place("Location description for the immediate previous source (other than a transporter) "
                          "for the food"),
                  *_place("Location description for where the food was received"), "Date you received the food",
                  *_place(SOURCE), "Traceability lot code source reference", "Reference document type",
                  "Reference document number"],
    "Transformation": ["Traceability lot code for the food used in transformation",
                       "Product description for the food to which the traceability lot code applies",
                       "Quantity of the food used from that traceability lot",
                       "Unit of measure of the food used from that traceability lot",
                       "New traceability lot code for the food",
                       *_place("Location description for where you transformed the food (the traceability lot "
                               "code source)"),
                       "Traceability lot code source reference (if applicable)", "Date transformation was completed",
                       "Product description for the food produced", "Quantity of the food produced",
                       "Unit of measure of the food produced", "Reference document type for the transformation event",
                       "Reference document number for the transformation event"],
}  # fmt: skip


@pytest.mark.parametrize("tab", list(RULE_HEADINGS))
def test_template__headings_are_the_rules_kde_wording(chain, tab):
    wb = openpyxl.load_workbook(io.BytesIO(fsma.to_xlsx(fsma.fsma_rows(chain.traces()))))
    headings = [c.value for c in wb[tab][1]]
    links = ["GTIN", "Batch ID", "Transaction Hash", "Evidence CID"]
    kdes = [h for h in headings if h not in (*links, "Traceability Lot Code")]
    assert kdes == RULE_HEADINGS[tab]
    assert headings[-4:] == links
    csv_name = fsma.TEMPLATE_FILES[list(RULE_HEADINGS).index(tab)]
    files = zipfile.ZipFile(io.BytesIO(fsma.to_csv_zip(fsma.fsma_rows(chain.traces()))))
    assert next(csv.reader(io.StringIO(files.read(csv_name).decode("utf-8-sig")))) == headings


LOCATION_PARTS = [
    "Business Name",
    "Phone",
    "Street Address",
    "City",
    "State",
    "Postal Code",
    "Country",
    "GLN",
]


def test_template__one_tab_per_cte_with_its_kde_columns(chain):
    wb = openpyxl.load_workbook(io.BytesIO(fsma.to_xlsx(fsma.fsma_rows(chain.traces()))))
    assert wb.sheetnames == [
        "Harvesting", "Cooling", "Initial Packing", "Shipping", "Receiving", "Transformation", "All events",
    ]  # fmt: skip
    required = {
        "Harvesting": ["Commodity", "Variety", "Quantity", "Unit of Measure", "Date of Harvest", "Field Name",
                       "Farm Where Harvested", "Immediate Subsequent Recipient"],
        "Cooling": ["Commodity", "Variety", "Quantity", "Unit of Measure", "Cooling Date", "Cooling Location",
                    "Farm Where Harvested", "Immediate Subsequent Recipient"],
        "Initial Packing": ["Commodity", "Variety", "Date Received", "Quantity Received", "Unit Received",
                            "Field Name", "Harvester Business Name", "Harvester Phone", "Date of Harvest",
                            "Cooling Date", "Cooling Location", "Farm Where Harvested", "Product Description",
                            "Quantity Packed", "Unit of Measure", "Packing Date", "Traceability Lot Code",
                            "Traceability Lot Code Source"],
        "Shipping": ["Traceability Lot Code", "Product Description", "Quantity", "Unit of Measure", "Ship Date",
                     "Ship-From Location", "Ship-To Location", "Traceability Lot Code Source"],
        "Receiving": ["Traceability Lot Code", "Product Description", "Quantity", "Unit of Measure",
                      "Date Received", "Receiving Location", "Immediate Previous Source",
                      "Traceability Lot Code Source"],
        "Transformation": ["Input Traceability Lot Code", "Input Product Description", "Input Quantity",
                           "Input Unit of Measure", "Traceability Lot Code", "New Product Description",
                           "Quantity Produced", "Unit of Measure", "Date Transformation Completed",
                           "Transformation Location", "Traceability Lot Code Source Reference"],
    }  # fmt: skip
    locations = {"Farm Where Harvested", "Immediate Subsequent Recipient", "Cooling Location",
                 "Traceability Lot Code Source", "Ship-From Location", "Ship-To Location", "Receiving Location",
                 "Immediate Previous Source", "Transformation Location"}  # fmt: skip
    for tab, names in required.items():
        header, rows = _tab(wb, tab)
        assert rows, tab
        for name in names:
            wanted = [f"{name} - {part}" for part in LOCATION_PARTS] if name in locations else [name]
            assert set(wanted) <= set(header), (tab, name)
        assert all(r["Reference Document Type"] and r["Reference Document Number"] for r in rows), tab
        assert not any("Description" in h and "Location" in h for h in header)  # no one-cell locations
    _, cooling = _tab(wb, "Cooling")
    assert {r["Cooling Date"] for r in cooling} == {"2026-04-02", "2026-04-12"}
    # the CSV zip holds the same tabs
    files = zipfile.ZipFile(io.BytesIO(fsma.to_csv_zip(fsma.fsma_rows(chain.traces()))))
    assert files.namelist() == [*fsma.TEMPLATE_FILES, "all-events.csv"]
    for (tab, _, _), file in zip(fsma.TEMPLATE_SHEETS, fsma.TEMPLATE_FILES, strict=True):
        parsed = list(csv.reader(io.StringIO(files.read(file).decode("utf-8-sig"))))
        assert parsed[0] == [c.value for c in wb[tab][1]] and len(parsed) == len(_tab(wb, tab)[1]) + 1


def test_template__initial_packing_carries_harvest_date_and_split_locations(chain):
    wb = openpyxl.load_workbook(io.BytesIO(fsma.to_xlsx(fsma.fsma_rows(chain.traces(), lot=LOT))))
    _, (packing,) = _tab(wb, "Initial Packing")
    assert packing["Date of Harvest"] == "2026-04-02"  # from the lot's harvesting record, §1.1330
    assert (packing["Date Received"], packing["Quantity Received"], packing["Unit Received"]) == (
        "2026-04-02", 1200, "kg",
    )  # fmt: skip
    assert (packing["Packing Date"], packing["Traceability Lot Code"]) == ("2026-04-03", LOT)
    assert packing["Farm Where Harvested - Business Name"].startswith("วิสาหกิจชุมชนสวนมะม่วงบางคล้า")
    assert (packing["Farm Where Harvested - City"], packing["Farm Where Harvested - State"],
            packing["Farm Where Harvested - Postal Code"], packing["Farm Where Harvested - Country"]) == (
        "Bang Khla", "Chachoengsao", "24110", "TH",
    )  # fmt: skip
    assert packing["Farm Where Harvested - Phone"] == "+66 81 234 5678"
    assert packing["Traceability Lot Code Source - GLN"] == samples.PACKHOUSE_GLN
    _, (shipping,) = _tab(wb, "Shipping")
    assert (shipping["Ship-To Location - City"], shipping["Ship-To Location - State"],
            shipping["Ship-To Location - GLN"]) == ("Los Angeles", "CA", samples.LA_IMPORTER_GLN)  # fmt: skip
    _, (receiving,) = _tab(wb, "Receiving")
    # the receipt's own place is its Receiving Location; its previous source is the packer
    assert receiving["Date Received"] == "2026-04-20"
    assert receiving["Receiving Location - GLN"] == samples.LA_IMPORTER_GLN
    assert receiving["Immediate Previous Source - GLN"] == samples.PACKHOUSE_GLN
    flat = fsma.fsma_rows(chain.traces(), lot=LOT)[-1]
    assert flat["Critical Tracking Event"] == "receiving" and flat["Date Received"] == "2026-04-20"
    assert (
        flat["Ship-To / Immediate Subsequent Recipient"] == ""
        and "Los Angeles" in flat["Location Description"]
    )


def test_template__rubber_transformation_one_row_per_input(chain):
    wb = openpyxl.load_workbook(io.BytesIO(fsma.to_xlsx(fsma.fsma_rows(chain.traces(), lot="TH-RB-2605-01"))))
    _, rows = _tab(wb, "Transformation")
    assert [(r["Input Traceability Lot Code"], r["Input Product Description"], r["Input Quantity"],
             r["Input Unit of Measure"]) for r in rows] == [
        ("SK-RP-01", "natural rubber field latex / cup lump", 800, "kg"),
        ("SK-RP-02", "natural rubber field latex / cup lump", 1500, "kg"),
    ]  # fmt: skip
    assert {r["Traceability Lot Code"] for r in rows} == {"TH-RB-2605-01"}
    assert {
        (r["Quantity Produced"], r["Unit of Measure"], r["Date Transformation Completed"]) for r in rows
    } == {(2300, "kg", "2026-05-12")}
    assert {r["Transformation Location - State"] for r in rows} == {"Songkhla"}
    _, harvests = _tab(wb, "Harvesting")
    assert len(harvests) == 2 and _tab(wb, "Cooling")[1] == [] and _tab(wb, "Initial Packing")[1] == []


def test_out_of_order_chain__reported_in_notes_not_reordered():
    chain = samples.PretendChain()
    harvest, cooling, packing, shipping, receiving = samples.mango_lot(LOT, 2)
    batch = chain.register(harvest)
    for record in (cooling, packing, {**shipping, "date": "2026-04-01"}, receiving):
        chain.add_step(batch, record)
    rows = fsma.fsma_rows(chain.traces(), lot=LOT)
    notes = {r["Critical Tracking Event"]: r["Notes"] for r in rows}
    assert notes["shipping"] == (
        "date: the shipping on 2026-04-01 is before the lot's harvesting on 2026-04-02 (a lot's dates run "
        "harvesting ≤ cooling ≤ initial packing ≤ shipping ≤ receiving); date: the shipping on 2026-04-01 "
        "is before the lot's cooling on 2026-04-02 (a lot's dates run harvesting ≤ cooling ≤ initial "
        "packing ≤ shipping ≤ receiving); date: the shipping on 2026-04-01 is before the lot's "
        "initial_packing on 2026-04-03 (a lot's dates run harvesting ≤ cooling ≤ initial packing ≤ "
        "shipping ≤ receiving)"
    )
    assert not any("date:" in notes[cte] for cte in ("harvesting", "cooling", "initial_packing", "receiving"))
