"""Exports read from a real chain (anvil) and evidence store: the reader, and `tambon export` itself."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile

import openpyxl
import pytest

from compliance import eudr, fsma
from compliance.source import read_traces
from evidence.bundle import record_fetcher
from tambon.chain import Chain
from tests.compliance.conftest import MANGO_LOT


def _traces(settings, lots):
    return read_traces(Chain(settings), record_fetcher(lots.store))


def test_read_traces__mango_lot_rows_link_to_chain_and_evidence(settings, lots):
    traces = _traces(settings, lots)
    rows = fsma.fsma_rows(traces, lot=MANGO_LOT)
    assert [r["Critical Tracking Event"] for r in rows] == [
        "harvesting", "cooling", "initial_packing", "shipping", "receiving",
    ]  # fmt: skip
    assert {r["Batch ID"] for r in rows} == {lots.mango}
    # registration: the metadata CID on-chain, the record read from the bundle it links
    assert rows[0]["Evidence CID"] == lots.cids["mango-register"]
    assert rows[0]["Farm Location Description"].startswith("วิสาหกิจชุมชนสวนมะม่วงบางคล้า")
    assert [r["Evidence CID"] for r in rows[1:]] == [
        lots.cids[f"mango-{e}"] for e in ("cooling", "initial_packing", "shipping", "receiving")
    ]
    assert [r["Step Index"] for r in rows] == ["", 0, 1, 2, 3]
    assert [r["Value-chain Stage"] for r in rows] == ["", "HARVEST", "PROCESSING", "TRANSPORT", "MARKETING"]
    chain = Chain(settings)
    for row in rows:
        receipt = chain.w3.eth.get_transaction_receipt(row["Transaction Hash"])
        assert receipt["blockNumber"] == row["Block Number"]
        assert receipt["to"].lower() == chain.deployment.address("BatchProvenance").lower()
    assert {r["Chain ID"] for r in rows} == {chain.chain_id}


def test_read_traces__merges_and_eudr_flags(settings, lots):
    traces = _traces(settings, lots)
    assert len(traces[lots.rubber].parents) == 2
    ok = eudr.eudr_statement(traces, lots.rubber)
    assert ok["compliant"] is True and len(ok["geolocation"]["features"]) == 2
    mixed = eudr.eudr_statement(traces, lots.mixed)
    assert mixed["compliant"] is False
    [flag] = [f for f in mixed["flags"] if f["code"] == "unknown_origin"]
    assert flag["batch_id"] == lots.trader
    assert traces[lots.mixed].events[0].ref.tx_hash in flag["message"]


def _cli(settings, lots, *args):
    env = {
        **os.environ,
        "TAMBON_NETWORK": settings.network,
        "TAMBON_RPC_URL": settings.rpc_url,
        "TAMBON_DEPLOYMENTS_DIR": str(settings.deployments_dir),
        "TAMBON_DATA_DIR": str(settings.data_dir),
        "TAMBON_EVIDENCE_BACKEND": "rpc",
        "TAMBON_EVIDENCE_API_URL": lots.gateway_url,
    }
    tambon = os.path.join(os.path.dirname(sys.executable), "tambon")
    return subprocess.run([tambon, "export", *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli__fsma204_lot_to_xlsx_and_date_range_to_csv(settings, lots, tmp_path):
    out = tmp_path / "lot.xlsx"
    done = _cli(settings, lots, "fsma204", "--lot", MANGO_LOT, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "5 tracking events" in done.stderr
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:6] == [name for name, _, _ in fsma.TEMPLATE_SHEETS]
    ws = wb["All events"]
    assert [c.value for c in ws["A"]][1:] == [
        "harvesting",
        "cooling",
        "initial_packing",
        "shipping",
        "receiving",
    ]

    zipped = tmp_path / "lot.zip"
    done = _cli(settings, lots, "fsma204", "--lot", MANGO_LOT, "--out", str(zipped))
    assert done.returncode == 0, done.stderr
    files = zipfile.ZipFile(zipped)
    assert files.namelist() == [*fsma.TEMPLATE_FILES, "all-events.csv"]
    packing = list(csv.DictReader(io.StringIO(files.read("initial_packing.csv").decode("utf-8-sig"))))
    assert [p["Traceability lot code you assigned"] for p in packing] == [MANGO_LOT]
    assert packing[0]["Date of harvesting"] == "2026-04-02"

    done = _cli(settings, lots, "fsma204", "--from", "2026-05-01", "--to", "2026-05-31")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout.lstrip("\ufeff"))))
    assert rows and all("2026-05-01" <= r["Event Date"] <= "2026-05-31" for r in rows)
    assert {"TH-RB-2605-01", "TH-RB-2605-M"} <= {r["Traceability Lot Code"] for r in rows}


def test_cli__eudr_json(settings, lots):
    done = _cli(settings, lots, "eudr", str(lots.mixed))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["flags"][0]["code"] == "unknown_origin"


def test_cli__epcis_matches_the_web_route(settings, lots):
    done = _cli(settings, lots, "epcis", str(lots.rubber))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    events = document["epcisBody"]["eventList"]
    assert [e["type"] for e in events].count("TransformationEvent") == 1
    assert all(e["eventID"].startswith("ni:///sha-256;") for e in events)
    assert done.stderr.strip().endswith(f"{len(events)} EPCIS events")


def test_cli__no_selection__one_error_line(settings, lots):
    done = _cli(settings, lots, "fsma204")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: give --lot and/or --from/--to (the FDA asks for a lot or a date range)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fsma204", "--lot", "NOPE"), "no tracking events match lot 'NOPE'"),
        (("fsma204", "--lot", MANGO_LOT, "--out", "x.pdf"), "--out must end in .csv, .xlsx or .zip"),
        (("fsma204", "--from", "2026-02-30"), "--from must be a date YYYY-MM-DD"),
        (("fsma204", "--from", "2026-05-02", "--to", "2026-05-01"), "the date range is empty"),
        (("eudr", "999999"), "batch 999999 is not known"),
        (("epcis", "999999"), "batch 999999 is not known"),
    ],
)
def test_cli__bad_input__refused_with_message(settings, lots, monkeypatch, args, message):
    """In process (the `tambon` wrapper turns these errors into one `error:` line, shown above)."""
    from typer.testing import CliRunner

    from compliance import cli
    from tambon.errors import TambonError

    monkeypatch.setattr(cli, "load_traces", lambda: _traces(settings, lots))
    result = CliRunner().invoke(cli.app, list(args))
    assert isinstance(result.exception, TambonError), result.output
    assert message in str(result.exception)


def test_cli__check_record(tmp_path):
    from compliance import samples

    good = tmp_path / "good.json"
    good.write_text(json.dumps(samples.mango_lot()[0]))
    bad = tmp_path / "bad.json"
    record = samples.mango_lot()[0]
    del record["harvester"], record["farm"]["field_name"]
    bad.write_text(json.dumps(record))
    tambon = os.path.join(os.path.dirname(sys.executable), "tambon")
    ok = subprocess.run([tambon, "export", "check-record", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "valid (schema_version 1, event harvesting)" in ok.stdout
    no = subprocess.run([tambon, "export", "check-record", str(bad)], capture_output=True, text=True)
    assert no.returncode == 1
    assert (
        "error: record.json (harvesting) is invalid: missing required fields: harvester, farm.field_name"
        in no.stderr
    )


def test_cli__check_record__a_lots_records_in_date_order(tmp_path):
    from compliance import samples

    harvest, cooling, packing, *_ = samples.mango_lot()
    paths = []
    for name, record in (
        ("harvest", harvest),
        ("packing", packing),
        ("cooling", {**cooling, "date": "2026-04-05"}),
    ):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(record))
    tambon = os.path.join(os.path.dirname(sys.executable), "tambon")
    ok = subprocess.run(
        [tambon, "export", "check-record", *map(str, paths[:2])], capture_output=True, text=True
    )
    assert ok.returncode == 0 and ok.stdout.count(": valid (schema_version 1") == 2
    no = subprocess.run([tambon, "export", "check-record", *map(str, paths)], capture_output=True, text=True)
    assert no.returncode == 1
    assert (
        "error: record.json (cooling) is invalid: date: the cooling on 2026-04-05 is after the lot's "
        "initial_packing on 2026-04-03" in no.stderr
    )
