"""`tambon index run | status | rebuild | verify`: the chain index from the command line."""

from __future__ import annotations

import json
import random
import signal
import time
from typing import Any

import typer
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tambon.chain import Deployment
from tambon.errors import TambonError
from tambon.events import JsonRpc
from tambon.index import schema
from tambon.index.follower import Follower, StepReport
from tambon.index.lots import RecordFetcher
from tambon.index.reader import IndexReader
from tambon.index.store import ConcurrentWriter, IndexStore, encode_args
from tambon.plugins import plugin
from tambon.settings import Settings, get_settings

app = typer.Typer(
    help="The chain index: follow the contracts' events into SQLite or PostgreSQL.", no_args_is_help=True
)


def _open(settings: Settings | None = None) -> tuple[IndexStore, JsonRpc, Deployment]:
    settings = settings or get_settings()
    deployment = Deployment.load(settings.deployment_file)
    store = IndexStore.open(settings)
    store.migrate()
    return store, JsonRpc(settings.rpc_url), deployment


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def evidence_records(store: Any = None) -> RecordFetcher:
    """The records behind on-chain CIDs, from an evidence store (default: the configured one), for
    lot identities (the evidence package lends the reader: `tambon.plugins`)."""
    return plugin("index_records")(store)


def follow_to_head(follower: Follower) -> StepReport:
    """Step until the index reaches the head (less the follower's confirmations), lot identities
    included."""
    while True:
        report = follower.step()
        if report.caught_up:
            return report


def caught_up_reader(settings: Settings | None = None) -> IndexReader | None:
    """The index brought up to the chain head, for a one-off command (`tambon export`); None when no
    index has been started (the command then reads the node). When a running follower (`tambon index
    run`) moves the cursor first, its index is read as it stands."""
    settings = settings or get_settings()
    started = IndexReader.started(settings)
    if started is None:
        return None
    started.store.close()
    store, rpc, deployment = _open(settings)
    try:
        follow_to_head(Follower(store, rpc, deployment, records=evidence_records()))
    except ConcurrentWriter:
        pass
    finally:
        rpc.close()
    return IndexReader(store)


@app.command()
def run(
    once: bool = typer.Option(False, "--once", help="Catch up to the head, then exit."),
    confirmations: int = typer.Option(
        0, min=0, help="Blocks to stay behind the head (reorgs are undone anyway)."
    ),
    max_range: int = typer.Option(10_000, min=1, help="Widest eth_getLogs range (narrowed on refusals)."),
    poll: float = typer.Option(0.25, min=0.01, help="Seconds between polls at the head."),
    records: bool = typer.Option(
        True, help="Read the records behind new batches and steps for lot identities (the resolver)."
    ),
) -> None:
    """Follow the chain into the index until interrupted (SIGTERM/SIGINT stop it cleanly)."""
    store, rpc, deployment = _open()
    follower = Follower(
        store,
        rpc,
        deployment,
        confirmations=confirmations,
        max_range=max_range,
        records=evidence_records() if records else None,
    )
    if once:
        report = follow_to_head(follower)
        typer.echo(
            f"index at block {report.cursor} (head {report.head}), {store.url and _safe_url(store.url)}"
        )
        return
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    typer.echo(f"following chain {deployment.chain_id} into {_safe_url(store.url)}")
    follower.run(lambda: stopping, poll_interval=poll)


def status_report(store: IndexStore, rpc: JsonRpc) -> dict[str, Any]:
    cur = store.cursor()
    head = rpc.block("latest")
    out: dict[str, Any] = {"store": _safe_url(store.url), "started": cur is not None}
    if head is not None:
        out |= {"head": head.number, "head_time": head.timestamp}
    if cur is not None:
        with store.engine.connect() as conn:
            cursor_time = conn.execute(
                select(schema.blocks.c.timestamp).where(schema.blocks.c.number == cur.block_number)
            ).scalar()
        out |= {
            "block": cur.block_number,
            "block_hash": cur.block_hash,
            "chain_id": cur.chain_id,
            "lag_blocks": (head.number - cur.block_number) if head else None,
            "lag_seconds": (head.timestamp - cursor_time) if head and cursor_time is not None else None,
            "updated_at": cur.updated_at,
            "lots_block": cur.lots_block,  # lot identities (the resolver's) are filled to this block
            "facts": store.counts(),
        }
    return out


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Where the index is: its block, the chain head, the lag and how many facts it holds."""
    store, rpc, _ = _open()
    report = status_report(store, rpc)
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    if not report["started"]:
        typer.echo(f"index {report['store']}: empty (run `tambon index run`)")
        return
    typer.echo(
        f"index {report['store']}: block {report['block']} of {report.get('head')} "
        f"(lag {report['lag_blocks']} blocks, {report['lag_seconds']} s), "
        f"lot identities to block {report['lots_block']}"
    )
    for name, count in report["facts"].items():
        typer.echo(f"  {name:<14} {count}")


@app.command()
def rebuild(
    max_range: int = typer.Option(10_000, min=1, help="Widest eth_getLogs range (narrowed on refusals)."),
) -> None:
    """Drop every fact and read the whole deployment again up to the head."""
    store, rpc, deployment = _open()
    store.clear()
    follower = Follower(store, rpc, deployment, max_range=max_range, records=evidence_records())
    started = time.perf_counter()
    events = 0
    while True:
        report = follower.step()
        events += report.events
        if report.caught_up:
            break
    typer.echo(
        f"rebuilt: {events} events up to block {report.cursor} in {time.perf_counter() - started:.1f} s"
    )


def verify_sample(
    store: IndexStore, rpc: JsonRpc, deployment: Deployment, sample: int, seed: int | None
) -> dict[str, Any]:
    """Re-read `sample` stored blocks' logs straight from the chain and compare them event for event."""
    follower = Follower(store, rpc, deployment)
    follower.ensure_started()
    cur = store.cursor()
    assert cur is not None
    with store.engine.connect() as conn:
        numbers = [
            int(n)
            for n in conn.execute(
                select(schema.events.c.block_number)
                .distinct()
                .where(schema.events.c.block_number <= cur.block_number)
            ).scalars()
        ]
        total = int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())
    rng = random.Random(seed)
    chosen = sorted(rng.sample(numbers, min(sample, len(numbers))))
    differences: list[str] = []
    canonical = rpc.block(cur.block_number)
    if canonical is None or canonical.hash != cur.block_hash:
        differences.append(f"cursor block {cur.block_number} is no longer canonical")
    for number in chosen:
        chain = [
            (e.log_index, e.block_hash, e.tx_hash, e.contract, e.name, encode_args(e.args))
            for e in follower.reader.events(number, number)
        ]
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(schema.events)
                .where(schema.events.c.block_number == number)
                .order_by(schema.events.c.log_index)
            ).all()
        stored = [(r.log_index, r.block_hash, r.tx_hash, r.contract, r.name, r.args) for r in rows]
        if chain != stored:
            missing = set(chain) - set(stored)
            extra = set(stored) - set(chain)
            differences.append(f"block {number}: {len(missing)} events missing, {len(extra)} not on chain")
    return {
        "block": cur.block_number,
        "events": total,
        "blocks_checked": len(chosen),
        "differences": differences,
    }


@app.command()
def verify(
    sample: int = typer.Option(50, min=1, help="How many stored blocks to re-read from the chain."),
    seed: int | None = typer.Option(None, help="Seed of the sample (default: random)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-read a sample of the index's blocks from the chain; exit 1 on any difference."""
    store, rpc, deployment = _open()
    report = verify_sample(store, rpc, deployment, sample, seed)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(
            f"checked {report['blocks_checked']} blocks of {report['events']} indexed events up to block "
            f"{report['block']}: {len(report['differences'])} differences"
        )
        for line in report["differences"]:
            typer.echo(f"  {line}")
    if report["differences"]:
        raise IndexMismatch(f"the index differs from the chain in {len(report['differences'])} places")


class IndexMismatch(TambonError):
    pass
