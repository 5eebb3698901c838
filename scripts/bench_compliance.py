"""FSMA 204 export speed -> bench/results/compliance.json (run by `make bench-web`).

10,000 tracking events (2,000 mango batches, each harvesting, cooling, initial packing, shipping,
receiving, with their record.json contents and on-chain references) exported end to end: select
and sort the rows, lay out the FDA template's tabs, then write the file. Figures, best of several
rounds (medians kept too):

  fsma204_export_10k_events_s       the XLSX export (six template tabs + all events; goal <= 2 s)
  fsma204_export_10k_events_csv_s   the flat CSV export (all events)
  fsma204_export_10k_events_zip_s   the zip of one CSV per template tab + all events
  tables_10k_s                      the part every writer shares: rows selected, sorted, laid out
  anchor_openpyxl_xlsx_10k_s        like-for-like anchor of the XLSX export, in the same run: the same
                                    rows and tables, written by openpyxl (write-only mode, frozen
                                    header and autofilter as ours) instead of compliance.xlsx
  anchor_csv_module_zip_10k_s       like-for-like anchor of the zip export: the same tables written by
                                    the csv module alone into the same deflated zip (no formula guard)
  eudr_statement_ms                 EUDR due-diligence data for a merged rubber lot
  record_validations_per_s          record.json validations (JSON Schema + geo/GS1 checks)

    python scripts/bench_compliance.py [--events 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compliance import eudr, fsma, samples  # noqa: E402
from tambon.records import check_record  # noqa: E402

RESULT = REPO / "bench" / "results" / "compliance.json"
GOAL_S = 2.0


def build(events: int):
    chain = samples.PretendChain()
    for i in range(events // 5):
        samples.mango_chain(chain, lot=f"TH-MG-{i:06d}", day=1 + i % 10)
    return chain.traces()


def openpyxl_xlsx(tables) -> bytes:
    """The tables `fsma.to_xlsx` writes, written by openpyxl instead."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    for name, header, body in tables:
        ws = wb.create_sheet(name[:31])
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(body) + 1}"
        ws.append(list(header))
        for row in body:
            ws.append([None if value == "" else value for value in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_module_zip(tables) -> bytes:
    """The tables `fsma.to_csv_zip` writes, each a CSV from the csv module, in one deflated zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, header, body in tables:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(body)
            z.writestr(f"{name}.csv", ("\ufeff" + text.getvalue()).encode("utf-8"))
    return out.getvalue()


def best(samples_s: list[float]) -> float:
    return round(min(samples_s), 3)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    traces = build(args.events)
    n_events = sum(len(t.events) for t in traces)
    times: dict[str, list[float]] = {
        name: [] for name in ("xlsx", "csv", "zip", "tables", "anchor_openpyxl", "anchor_csv")
    }
    for _ in range(args.runs):  # each round: ours and the anchors, in turn, on the same traces
        t, xlsx_bytes = timed(lambda: fsma.to_xlsx(fsma.fsma_rows(traces)))
        times["xlsx"].append(t)
        t, csv_bytes = timed(lambda: fsma.to_csv(fsma.fsma_rows(traces)))
        times["csv"].append(t)
        t, zip_bytes = timed(lambda: fsma.to_csv_zip(fsma.fsma_rows(traces)))
        times["zip"].append(t)
        t, tables = timed(lambda: fsma.export_tables(fsma.fsma_rows(traces)))
        times["tables"].append(t)
        t, _ = timed(lambda: openpyxl_xlsx(fsma.export_tables(fsma.fsma_rows(traces))))
        times["anchor_openpyxl"].append(t)
        t, _ = timed(lambda: csv_module_zip(fsma.export_tables(fsma.fsma_rows(traces))))
        times["anchor_csv"].append(t)
    assert len(tables[-1][2]) == n_events, (len(tables[-1][2]), n_events)

    chain, merged = samples.rubber_chain(with_unknown=True)
    rubber = chain.traces()
    eudr_times = [timed(lambda: eudr.eudr_statement(rubber, merged))[0] for _ in range(50)]
    records = [e.record for t in list(traces)[:200] for e in t.events]
    t, problems = timed(lambda: [check_record(r) for r in records])
    assert not any(problems)

    result = {
        "events": n_events,
        "runs": args.runs,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": round(load, 2),
        "fsma204_export_10k_events_s": best(times["xlsx"]),
        "fsma204_export_10k_events_csv_s": best(times["csv"]),
        "fsma204_export_10k_events_zip_s": best(times["zip"]),
        "fsma204_export_10k_events_s_median": round(statistics.median(times["xlsx"]), 3),
        "fsma204_export_10k_events_csv_s_median": round(statistics.median(times["csv"]), 3),
        "tables_10k_s": best(times["tables"]),
        "anchor_openpyxl_xlsx_10k_s": best(times["anchor_openpyxl"]),
        "anchor_csv_module_zip_10k_s": best(times["anchor_csv"]),
        "xlsx_bytes": len(xlsx_bytes),
        "csv_bytes": len(csv_bytes),
        "zip_bytes": len(zip_bytes),
        "eudr_statement_ms": round(min(eudr_times) * 1000, 3),
        "record_validations_per_s": round(len(records) / t, 1),
        "goal_fsma204_export_10k_events_s": GOAL_S,
        "meets_goal": max(best(times[name]) for name in ("xlsx", "csv", "zip")) <= GOAL_S,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULT.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULT)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
