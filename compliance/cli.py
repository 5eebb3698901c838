"""`tambon export ...`: compliance exports read from the chain index (or the node when no index has been
started) and the evidence store.

tambon export fsma204 --lot TH-MG-260402-A --out lot.xlsx
tambon export fsma204 --from 2026-04-01 --to 2026-04-30 --out april.csv
tambon export fsma204 --lot TH-MG-260402-A --out lot.zip     # one CSV per CTE
tambon export eudr 12 --out batch12-dds.json
tambon export epcis 12 --out batch12-epcis.jsonld
tambon export check-record record.json
tambon export check-record harvest.json cooling.json packing.json   # one lot, dates in order
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from compliance.errors import ComplianceError

app = typer.Typer(
    help="Export compliance data: FSMA 204 spreadsheets, EUDR due diligence, EPCIS 2.0 events.",
    no_args_is_help=True,
)


def load_traces():
    """All batches of the configured deployment, with their records (the CLI's data source): from the
    chain index when one has been started (brought up to the head first), else from the node."""
    from compliance.source import index_traces, read_traces
    from evidence.bundle import record_fetcher
    from evidence.remote import open_store
    from tambon.chain import Chain
    from tambon.index.cli import caught_up_reader

    chain = Chain()
    chain.check_connected()
    fetch = record_fetcher(open_store())
    index = caught_up_reader(chain.settings)
    if index is None:
        return read_traces(chain, fetch)
    try:
        contract = chain.contract("BatchProvenance").address
        return index_traces(index, fetch, chain_id=chain.chain_id, contract=contract)
    finally:
        index.store.close()


def _write(data: bytes, out: Path | None) -> None:
    if out is None:
        sys.stdout.buffer.write(data)
        return
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_bytes(data)
    tmp.replace(out)
    typer.echo(f"wrote {out} ({len(data)} bytes)", err=True)


@app.command("fsma204")
def fsma204(
    lot: Annotated[str | None, typer.Option("--lot", help="traceability lot code")] = None,
    start: Annotated[str | None, typer.Option("--from", help="first event date, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last event date, YYYY-MM-DD")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="file.csv, file.xlsx (one tab per CTE) or file.zip (one CSV per CTE); default: CSV on stdout",
        ),
    ] = None,
    no_lineage: Annotated[bool, typer.Option("--no-lineage", help="only the lot's own batches")] = False,
) -> None:
    """FSMA 204 sortable spreadsheet: one row per tracking event of a lot and/or a date range."""
    from compliance.fsma import fsma_rows, to_csv, to_csv_zip, to_xlsx

    if lot is None and start is None and end is None:
        raise ComplianceError("give --lot and/or --from/--to (the FDA asks for a lot or a date range)")
    suffix = out.suffix.lower() if out else ".csv"
    writers = {".csv": to_csv, ".xlsx": to_xlsx, ".zip": to_csv_zip}
    if suffix not in writers:
        raise ComplianceError(f"--out must end in .csv, .xlsx or .zip, got {out}")
    rows = fsma_rows(load_traces(), lot=lot, start=start, end=end, lineage=not no_lineage)
    if not rows:
        raise ComplianceError(
            "no tracking events match" + (f" lot {lot!r}" if lot else "") + " in that range"
        )
    _write(writers[suffix](rows), out)
    typer.echo(f"{len(rows)} tracking events", err=True)


@app.command("eudr")
def eudr(
    batch_id: Annotated[int, typer.Argument(help="batch id", min=1)],
    out: Annotated[Path | None, typer.Option("--out", help="JSON file (default: stdout)")] = None,
) -> None:
    """EUDR due-diligence data of a batch (plots as GeoJSON, origin flags)."""
    from compliance.eudr import eudr_statement

    statement = eudr_statement(load_traces(), batch_id)
    _write(json.dumps(statement, ensure_ascii=False, indent=2).encode("utf-8") + b"\n", out)


@app.command("epcis")
def epcis(
    batch_id: Annotated[int, typer.Argument(help="batch id", min=1)],
    out: Annotated[Path | None, typer.Option("--out", help="JSON-LD file (default: stdout)")] = None,
) -> None:
    """EPCIS 2.0 document of a batch and its lineage (what /batch/ID/epcis serves)."""
    from compliance.epcis import epcis_document
    from compliance.errors import NotFound

    traces = load_traces()
    if batch_id not in traces:
        raise NotFound(f"batch {batch_id} is not known on this deployment")
    document = epcis_document(traces, batch_id)
    _write(json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n", out)
    typer.echo(f"{len(document['epcisBody']['eventList'])} EPCIS events", err=True)


@app.command("check-record")
def check_record_cmd(
    paths: Annotated[
        list[Path],
        typer.Argument(help="record.json files; several are one lot's records in the order they were added"),
    ],
) -> None:
    """Validate record.json files against their schema (every missing KDE listed); given several, also
    check the lot's dates run harvesting <= cooling <= initial packing <= shipping <= receiving."""
    from tambon.records import RecordInvalid, check_record, loads, order_problems

    lot: list[Any] = []
    failed: RecordInvalid | None = None
    for path in paths:
        try:
            record = loads(path.read_bytes())
        except OSError as exc:
            raise ComplianceError(f"{path}: not a readable file ({exc})") from exc
        except RecordInvalid as exc:
            raise ComplianceError(f"{path}: {exc.problems[0]}") from exc
        problems = check_record(record) + order_problems(lot, record)
        lot.append(record)
        event = record.get("event") if isinstance(record, dict) else None
        if problems:
            typer.echo(f"{path}:", err=True)
            for p in problems:
                typer.echo(f"  {p}", err=True)
            failed = failed or RecordInvalid(
                problems, [p.removeprefix("missing ") for p in problems if p.startswith("missing ")], event
            )
            continue
        typer.echo(f"{path}: valid (schema_version {record['schema_version']}, event {event})")
    if failed is not None:
        raise failed
