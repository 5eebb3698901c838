"""Collect bench/results/*.json into one table (figure, goal, anchor, measured) in bench/README.md.

Run by `make bench` after every `bench-*` target. A missing result is listed as not measured, never
filled in; the verdict column compares the measured figure with the issue's goal. The same table
replaces the one between the bench markers in the top-level README.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
README = REPO / "bench" / "README.md"
TOP_README = REPO / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Goal:
    result: str  # bench/results/<result>.json
    figure: str
    limit: float
    at_most: bool  # True: measured <= limit is good
    anchor: str | None = None  # key in the same file measured in the same run
    anchor_label: str = ""
    unit: str = ""
    relative: bool = False  # the goal is `limit` × the anchor, not `limit` itself
    world: str = ""  # key of the size the figure was measured at, when the goal names a size
    world_size: int = 0  # the size the goal names (a smaller run is reported as such, never as the goal)


# fmt: off
GOALS = [
    Goal("gas", "grant_release_3of5_eth", 66_000, True, "anchor_safe_3of5_eth", "Safe v1.4.1 3-of-5", "gas"),
    Goal("gas", "grant_release_3of5_erc20", 88_000, True, "anchor_safe_3of5_erc20", "Safe v1.4.1 3-of-5", "gas"),
    Goal("gas", "milestone_submit", 55_000, True, unit="gas"),
    Goal("gas", "batch_register", 90_000, True, "anchor_snekmate_erc721_mint_uri", "snekmate ERC-721 + URI", "gas"),
    Goal("gas", "batch_register_per_batch_in_50", 30_000, True, unit="gas"),
    Goal("gas", "step_add", 35_000, True, unit="gas"),
    Goal("gas", "attest_single", 60_000, True, "anchor_eas_attest", "EAS attest", "gas"),
    Goal("gas", "attest_per_item_in_50", 30_000, True, "anchor_eas_multiattest_per_item_in_50", "EAS multiAttest", "gas"),
    Goal("gas", "coldchain_attest_single", 60_000, True, "anchor_eas_attest", "EAS attest", "gas"),
    Goal("gas", "coldchain_attest_per_item_in_50", 30_000, True, "anchor_eas_multiattest_per_item_in_50", "EAS multiAttest", "gas"),
    Goal("evidence", "cid_mb_per_s", 0.8, False, "sha256_mb_per_s", "hashlib sha256 (goal: ≥ 0.8 ×)", "MB/s", True),
    Goal("evidence", "cid_mb_per_s", 1.0, False, "js_importer_mb_per_s", "npm ipfs-unixfs-importer (goal: ≥ 1 ×)", "MB/s", True),
    Goal("oracle", "images_per_s_batched", 150, False, "decode_only_images_per_s", "full-size JPEG decode alone", "images/s"),
    Goal("oracle", "p95_ms_single", 20, True, unit="ms"),
    Goal("oracle", "evidence_to_attestation_s", 3, True, unit="s"),
    Goal("oracle", "real_defect_auc", 0.97, False),
    Goal("oracle", "real_condition_accuracy", 0.90, False),
    Goal("oracle", "real_bad_as_top_grade", 0, True, unit="photos"),
    Goal("oracle", "real_fresh_reject_rate", 0.05, True),
    Goal("oracle", "real_abstain_rate", 0.15, True),
    Goal("oracle", "real_ece", 0.05, True),
    Goal("oracle", "coldchain_logs_per_s", 200, False, "coldchain_mkt_only_logs_per_s", "MKT alone", "logs/s"),
    Goal("oracle", "coldchain_evidence_to_attestation_s", 3, True, "coldchain_evidence_to_attestation_s_automine", "automine", "s"),
    Goal("web", "rps", 200, False, unit="req/s"),
    Goal("web", "p99_ms", 50, True, unit="ms"),
    Goal("web", "errors", 0, True),
    Goal("web", "anon_write_accepted", 0, True, unit="uploads"),
    Goal("web", "verify_p99_ms_during_upload_flood", 50, True, unit="ms"),
    *(Goal("web", f"lighthouse.{page}.{preset}.{category}", 95, False, unit="/100")
      for page in ("verify", "dashboard", "capture") for preset in ("mobile", "desktop")
      for category in ("performance", "accessibility", "best-practices", "seo")),
    *(Goal("web", f"moving_head.{figure}", limit, at_most, anchor, label, unit, relative,
           world="moving_head.moving_head_world.lots", world_size=10_000)
      for figure, limit, at_most, anchor, label, unit, relative in (
          ("verify_moving_head_rps", 1_000, False, None, "", "req/s", False),
          ("verify_moving_head_p99_ms", 50, True, "moving_head.static_page_moving_head_p99_ms",
           "ready-made page, no framework", "ms", False),
          ("verify_errors", 0, True, None, "", "", False),
          ("render_cost_ratio_10k_vs_10_lots", 1.2, True, None, "", "", False),
          ("index_sync_events_per_s", 0.8, False, "moving_head.index_sync_anchor_getlogs_decode_events_per_s",
           "eth_getLogs + decode", "events/s", True),
          ("index_lag_p99_s", 2, True, None, "", "s", False),
          ("resolver_lookup_p99_ms", 10, True, "moving_head.resolver_lookup_p99_ms_client_at_nice_-10",
           "same lookups, client ahead of the host's other processes", "ms", False),
      )),
    Goal("compliance", "fsma204_export_10k_events_s", 2, True, "anchor_openpyxl_xlsx_10k_s", "openpyxl, same rows and tabs", "s"),
]
# fmt: on


def _load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _figure(data: dict, name: str) -> float | None:
    """A top-level figure, or a nested one named by a dotted path (`lighthouse.verify.mobile.seo`)."""
    if name in data:
        return data[name]
    value: object = data
    for key in name.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, (int, float)) else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1_000 or (float(value).is_integer() and abs(value) >= 100):
        return f"{value:,.0f}"  # four significant digits of 16,540 would read 1.654e+04
    return f"{value:,.4g}"


def rows() -> list[tuple[str, str, str, str, str]]:
    out = []
    for goal in GOALS:
        data = _load(goal.result)
        measured = _figure(data, goal.figure)
        anchor = _figure(data, goal.anchor) if goal.anchor else None
        if goal.relative:  # a ratio goal against the anchor measured beside it
            target = goal.limit * anchor if anchor else None
            goal_text = f"≥ {goal.limit:g} × anchor"
        else:
            target = goal.limit
            goal_text = f"{'≤' if goal.at_most else '≥'} {_fmt(goal.limit)}"
        if measured is None or target is None:
            verdict = "not measured"
        else:
            ok = (operator.le if goal.at_most else operator.ge)(measured, target)
            verdict = "met" if ok else "**not met**"
            size = _figure(data, goal.world) if goal.world else None
            if size is not None and size < goal.world_size:
                verdict = f"{verdict} at {size:,.0f} lots (goal's world: {goal.world_size:,})"
        anchor_text = f"{goal.anchor_label}: {_fmt(anchor)}" if goal.anchor else "—"
        unit = f" {goal.unit}" if goal.unit else ""
        out.append((f"`{goal.figure}`", goal_text + unit, anchor_text, _fmt(measured), verdict))
    return out


def table() -> list[str]:
    return [
        "| figure | goal | anchor (same run) | measured | verdict |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows()),
    ]


def main() -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`scripts/bench_summary.py`) from `bench/results/*.json`; each figure comes from",
        "its `scripts/bench_*.py` run, with the anchor measured in the same run. The JSON files hold the detail",
        "(rounds, medians, machine load, method).",
        "",
        *table(),
        "",
    ]
    README.write_text("\n".join(lines))
    top = TOP_README.read_text()
    if START in top and END in top:
        before, rest = top.split(START, 1)
        after = rest.split(END, 1)[1]
        TOP_README.write_text(before + START + "\n" + "\n".join(table()) + "\n" + END + after)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
