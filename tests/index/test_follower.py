"""The follower: equal to a direct scan behind a limited provider, through reorgs, after kill -9."""

from __future__ import annotations

import contextlib
import gc
import gzip
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from tambon.chain import Deployment
from tambon.errors import ConfigError
from tambon.events import ChainUnavailable, EventDecoder, JsonRpc, LogReader
from tambon.index import schema
from tambon.index.cli import evidence_records
from tambon.index.follower import (
    Follower,
    collector_paused,
    fact_rows,
    forked,
    iter_with_collector_paused,
    prefetched,
    touched_batches,
)
from tambon.index.store import ArgsEncoder, IndexStore, encode_args
from tests.index.helpers import catch_up, direct_scan, stored_events
from tests.index.proxy import LimitedProvider
from tests.oracle.chain import Anvil


def _follower(settings, rpc_url=None, **kw) -> Follower:
    store = IndexStore.open(settings)
    store.migrate()
    rpc = JsonRpc(rpc_url or settings.rpc_url, timeout=kw.pop("timeout", 30.0), backoff=0.01, retries=12)
    return Follower(store, rpc, Deployment.load(settings.deployment_file), **kw)


def _fresh_batch(world, n: int) -> list[int]:
    """`n` new registrations by the community, one block each."""
    ids = []
    for i in range(n):
        receipt = world.provenance.register(
            bytes([0x40 + i]) * 32, 0x55, 201, 1000 + i, 20000, sender=world.community
        )
        ids.append(receipt.events[-1].batchId)
    return ids


def _behind_limited_provider(w3, index_settings, max_range: int) -> tuple[Follower, LimitedProvider]:
    proxy = LimitedProvider(
        w3.provider.endpoint_uri, max_range=max_range, rate_limited=0.15, timeouts=0.05, hold_seconds=0.6
    ).start()
    try:
        follower = _follower(index_settings, proxy.url, timeout=0.3, max_range=5 * max_range)
        catch_up(follower)
    finally:
        proxy.stop()
    return follower, proxy


def test_index__behind_a_limited_provider__equals_a_direct_scan(world, w3, index_settings):
    # a 40-block cap plays the 1,000-block one; ranges start at one block and widen while their
    # logs are few, so the chain is made long enough for them to reach the cap
    w3.provider.make_request("anvil_mine", [hex(200)])
    follower, proxy = _behind_limited_provider(w3, index_settings, 40)
    cursor = follower.store.cursor().block_number
    expected = direct_scan(w3, follower.deployment, cursor)
    assert len(expected) > 50
    assert stored_events(follower.store) == expected
    assert proxy.counts["range_refused"] and proxy.counts["429"] and proxy.counts["timeouts"], proxy.counts


@pytest.mark.slow
def test_index__behind_a_1000_block_cap__equals_a_direct_scan(world, w3, index_settings):
    for _ in range(25):
        w3.provider.make_request("anvil_mine", [100])
    follower, proxy = _behind_limited_provider(w3, index_settings, 1_000)
    assert stored_events(follower.store) == direct_scan(
        w3, follower.deployment, follower.store.cursor().block_number
    )
    assert proxy.counts["range_refused"] and proxy.counts["429"] and proxy.counts["timeouts"], proxy.counts


def test_index__result_cap__narrows_ranges_and_misses_nothing(world, w3, index_settings):
    proxy = LimitedProvider(w3.provider.endpoint_uri, max_results=7, rate_limited=0, timeouts=0).start()
    try:
        follower = _follower(index_settings, proxy.url)
        catch_up(follower)
    finally:
        proxy.stop()
    assert proxy.counts["results_refused"] > 0
    assert stored_events(follower.store) == direct_scan(
        w3, follower.deployment, follower.store.cursor().block_number
    )


def test_index__typed_facts__match_the_world(world, index_settings):
    follower = _follower(index_settings)
    catch_up(follower)
    counts = follower.store.counts()
    with follower.store.engine.connect() as conn:
        children = (
            conn.execute(select(schema.lineage.c.child_id).where(schema.lineage.c.parent_id == world.lot))
            .scalars()
            .all()
        )
        producers = conn.execute(select(func.count()).select_from(schema.producers)).scalar_one()
        sigs = conn.execute(select(schema.signatures.c.function).distinct()).scalars().all()
    assert sorted(children) == sorted(world.boxes)
    assert counts["batches"] >= 6 and counts["steps"] >= 5 and counts["attestations"] >= 3
    assert counts["grants"] >= 2 and counts["milestones"] >= 4 and counts["keys"] >= 2
    assert producers >= 1
    assert {"attest", "attestMany"} <= set(sigs)


def test_reorg__depth_5_during_ingest__index_equals_the_canonical_chain(world, w3, index_settings):
    follower = _follower(index_settings, max_range=2)
    catch_up(follower)
    orphans = _fresh_batch(world, 5)
    follower.step(limit_ranges=1)  # part of the new blocks ingested, then the chain reorganises
    head = w3.eth.block_number
    response = w3.provider.make_request("anvil_reorg", [5, []])
    assert "error" not in response, response
    w3.provider.make_request("anvil_mine", [1])
    report = follower.step()
    assert report.reorgs == 1
    catch_up(follower)
    assert follower.store.cursor().block_number >= head
    assert stored_events(follower.store) == direct_scan(
        w3, follower.deployment, follower.store.cursor().block_number
    )
    with follower.store.engine.connect() as conn:
        left = conn.execute(
            select(schema.batches.c.batch_id).where(schema.batches.c.batch_id.in_(orphans))
        ).all()
    assert left == []


def test_reorg__replaced_blocks_with_new_facts__stored_from_the_new_branch(world, w3, index_settings):
    follower = _follower(index_settings)
    catch_up(follower)
    _fresh_batch(world, 3)
    catch_up(follower)
    assert "error" not in w3.provider.make_request("anvil_reorg", [3, []])
    fresh = _fresh_batch(world, 2)  # lands at the heights of the orphaned blocks
    catch_up(follower)
    assert stored_events(follower.store) == direct_scan(
        w3, follower.deployment, follower.store.cursor().block_number
    )
    with follower.store.engine.connect() as conn:
        ids = conn.execute(
            select(schema.batches.c.batch_id).where(schema.batches.c.batch_id.in_(fresh))
        ).scalars()
        assert sorted(ids) == sorted(fresh)


def _lots_rows(store: IndexStore) -> list[tuple]:
    lots = schema.lots
    with store.engine.connect() as conn:
        return list(conn.execute(select(lots).order_by(lots.c.block_number, lots.c.log_index)).all())


def test_lots_pass__behind_the_facts__fills_in_order_as_one_pass_would_and_a_reorg_undoes_it(
    world, w3, index_settings, tmp_path
):
    records = evidence_records(world.store)
    follower = _follower(index_settings, records=records)
    tracker, follower.lots = follower.lots, None
    catch_up(follower)  # the facts alone
    cursor = follower.store.cursor()
    assert cursor.lots_block < cursor.block_number and _lots_rows(follower.store) == []
    follower.lots = tracker
    passes = 0
    while follower.fill_lots(limit=3) < cursor.block_number:
        passes += 1
    assert passes > 2  # whole blocks of about three events at a time
    one_pass = _follower(
        index_settings.model_copy(update={"index_url": f"sqlite:///{tmp_path / 'one-pass.sqlite'}"}),
        records=records,
    )
    catch_up(one_pass)
    one_pass_cursor = one_pass.store.cursor().block_number
    assert [r for r in _lots_rows(follower.store) if r[0] <= one_pass_cursor] == _lots_rows(one_pass.store)

    orphans = _fresh_batch(world, 3)
    catch_up(follower)
    assert {r.batch_id for r in _lots_rows(follower.store)} >= set(orphans)
    assert "error" not in w3.provider.make_request("anvil_reorg", [3, []])
    assert follower.step().reorgs == 1
    catch_up(follower)
    assert not {r.batch_id for r in _lots_rows(follower.store)} & set(orphans)
    catch_up(one_pass)
    assert _lots_rows(follower.store) == _lots_rows(one_pass.store)


def test_changes__counted_for_facts_and_reorgs__not_for_empty_blocks(world, w3, index_settings):
    follower = _follower(index_settings)
    catch_up(follower)
    before = follower.store.cursor()
    w3.provider.make_request("anvil_mine", [3])
    catch_up(follower)
    empty = follower.store.cursor()
    assert empty.block_number == before.block_number + 3 and empty.changes == before.changes
    _fresh_batch(world, 1)
    catch_up(follower)
    fresh = follower.store.cursor()
    assert fresh.changes == empty.changes + 1
    assert "error" not in w3.provider.make_request("anvil_reorg", [1, []])
    catch_up(follower)
    assert follower.store.cursor().changes == fresh.changes + 1


KILL_ON_COMMIT = r"""
import os, signal, sys
from sqlalchemy import event
from tambon.chain import Deployment
from tambon.events import JsonRpc
from tambon.index.cli import evidence_records
from tambon.index.follower import Follower
from tambon.index.store import IndexStore
from tambon.settings import Settings

settings = Settings()
store = IndexStore.open(settings)
store.migrate()
commits = 0
kill_at = int(sys.argv[1])

def commit(conn):
    global commits
    commits += 1
    if commits == kill_at:  # the range's rows are written, the commit has not happened
        os.kill(os.getpid(), signal.SIGKILL)

event.listen(store.engine, "commit", commit)
follower = Follower(store, JsonRpc(settings.rpc_url), Deployment.load(settings.deployment_file), max_range=3)
while True:
    report = follower.step()
    if report.cursor >= report.head:
        break
"""


def test_kill_9_mid_range__restart__nothing_lost_or_doubled(world, w3, index_settings):
    env = {**os.environ, **index_settings.as_env()}
    killed = 0
    for kill_at in (3, 5, 4, 7):
        run = subprocess.run(
            [sys.executable, "-c", KILL_ON_COMMIT, str(kill_at)], env=env, capture_output=True
        )
        killed += run.returncode == -signal.SIGKILL
    assert killed == 4
    follower = _follower(index_settings)
    catch_up(follower)
    assert stored_events(follower.store) == direct_scan(
        w3, follower.deployment, follower.store.cursor().block_number
    )


def test_kill_9_at_random_moments__restart__nothing_lost_or_doubled(world, w3, index_settings):
    env = {**os.environ, **index_settings.as_env()}
    tambon = [sys.executable, "-m", "tambon", "index", "run", "--max-range", "2", "--poll", "0.05"]
    store = IndexStore.open(index_settings)
    store.migrate()
    # Enough blocks that two-block ranges cannot catch up before the kills, however fast the host.
    for _ in range(6):  # 500 at a time: one request for 3000 blocks can outlast the client's timeout
        assert "error" not in w3.provider.make_request("anvil_mine", [hex(500)])
    cursors = []
    for delay in (0.3, 0.05, 0.2):
        proc = subprocess.Popen(tambon, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = store.cursor()
        deadline = time.monotonic() + 60
        while store.cursor() == before and time.monotonic() < deadline:  # wait until it writes
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cursors.append(store.cursor().block_number)
    assert cursors == sorted(cursors) and cursors[0] < w3.eth.block_number  # killed while catching up
    follower = _follower(index_settings)
    catch_up(follower)
    assert stored_events(follower.store) == direct_scan(
        w3, follower.deployment, follower.store.cursor().block_number
    )


@pytest.mark.parametrize("command", [["status", "--json"], ["verify", "--sample", "20", "--seed", "1"]])
def test_cli__status_and_verify__after_a_run(world, index_settings, command):
    env = {**os.environ, **index_settings.as_env()}
    tambon = [sys.executable, "-m", "tambon", "index"]
    subprocess.run([*tambon, "run", "--once"], env=env, check=True, capture_output=True)
    out = subprocess.run([*tambon, *command], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "differences" in out.stdout or '"lag_blocks"' in out.stdout
    if command[0] == "status":  # `run --once` fills lot identities up to the facts
        report = json.loads(out.stdout)
        assert report["lots_block"] == report["block"]


def test_cli__verify__reports_a_tampered_fact(world, index_settings):
    env = {**os.environ, **index_settings.as_env()}
    tambon = [sys.executable, "-m", "tambon", "index"]
    subprocess.run([*tambon, "run", "--once"], env=env, check=True, capture_output=True)
    store = IndexStore.open(index_settings)
    with store.engine.begin() as conn:
        conn.execute(schema.events.update().values(args='{"forged":1}'))
    out = subprocess.run([*tambon, "verify", "--sample", "5"], env=env, capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.startswith("error: the index differs from the chain")


def test_resume__on_another_chain__refused_with_a_clear_error(world, index_settings):
    follower = _follower(index_settings)
    catch_up(follower)
    before = stored_events(follower.store)
    other = Anvil()  # same chain id, same contract addresses in the deployment, other blocks
    try:
        other.w3.provider.make_request("anvil_mine", [hex(follower.store.cursor().block_number + 5)])
        resumed = Follower(follower.store, JsonRpc(other.url), follower.deployment)
        with pytest.raises(ConfigError, match=r"built from another chain .*tambon index rebuild"):
            resumed.step()
        env = {**os.environ, **index_settings.as_env(), "TAMBON_RPC_URL": other.url}
        run = subprocess.run(
            [sys.executable, "-m", "tambon", "index", "run", "--once"],
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        other.stop()
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "built from another chain" in run.stderr
    assert stored_events(follower.store) == before


def test_resume__after_the_node_restarts_from_its_saved_state__follows_on(tmp_path, index_settings):
    first = Anvil()
    try:
        first.w3.provider.make_request("anvil_mine", [hex(6)])
        dumped = first.w3.provider.make_request("anvil_dumpState", [])["result"]
        state = tmp_path / "state.json"
        state.write_bytes(gzip.decompress(bytes.fromhex(dumped[2:])))
    finally:
        first.stop()
    contracts = Deployment.load(index_settings.deployment_file).contracts
    deployment = Deployment("local", 31337, 2, contracts)  # the index starts at block 1
    store = IndexStore.open(index_settings)
    store.migrate()
    for _ in range(2):  # started on one load of the state, resumed on the next (blocks 7-9 replaced)
        chain = Anvil(load_state=state)
        try:
            chain.w3.provider.make_request("anvil_mine", [hex(3)])
            follower = Follower(store, JsonRpc(chain.url), deployment)
            catch_up(follower, limit=20)
            assert store.cursor().block_hash == chain.w3.eth.get_block("latest")["hash"].to_0x_hex()
        finally:
            chain.stop()


def test_log_reader__max_results__ranges_follow_the_logs_density_and_miss_nothing(world, index_settings):
    deployment = Deployment.load(index_settings.deployment_file)
    rpc = JsonRpc(index_settings.rpc_url)
    decoder = EventDecoder.for_deployment(deployment)
    head = rpc.block_number()
    whole = LogReader(rpc, decoder).events(deployment.block, head)
    chunks = list(LogReader(rpc, decoder, max_results=4).raw_chunks(deployment.block, head))
    assert [e for c in chunks for e in decoder.decode_all(c.logs)] == whole
    assert chunks[0].start == deployment.block and chunks[-1].end == head
    assert all(a.end + 1 == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    widths = [c.end - c.start + 1 for c in chunks]
    assert max(widths) > 1  # widened over sparse blocks
    dense = [(a, b) for a, b in zip(chunks, chunks[1:], strict=False) if len(a.logs) > 4 and a.end > a.start]
    assert dense and all(b.end - b.start < a.end - a.start for a, b in dense)  # narrowed after dense ones


def test_prefetched__caller_stops_early__reading_ahead_stops_with_it():
    made: list[int] = []

    def items():
        for i in range(100):
            made.append(i)
            yield i

    ahead = prefetched(items(), depth=2)
    with contextlib.closing(ahead):
        assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    stopped_at = len(made)
    assert stopped_at <= 3 + 2 + 1  # taken, queued, and the one in the making
    assert not any(t.name == "index-read" for t in threading.enumerate())
    assert len(made) == stopped_at


def test_index__decoded_in_a_forked_process_or_in_the_follower__same_facts(
    world, w3, index_settings, tmp_path
):
    w3.provider.make_request("anvil_mine", [hex(40)])
    tables = (*schema.FACT_TABLES, schema.signatures)
    stored = []
    for fork_blocks in (1, 10**9):  # every step in a child process; none
        store = IndexStore(f"sqlite:///{tmp_path / f'index-{fork_blocks}.sqlite'}")
        store.migrate()
        rpc = JsonRpc(index_settings.rpc_url)
        follower = Follower(
            store,
            rpc,
            Deployment.load(index_settings.deployment_file),
            max_results=5,
            fork_blocks=fork_blocks,
        )
        catch_up(follower)
        with store.engine.connect() as conn:
            stored.append({t.name: sorted(conn.execute(select(t)).all()) for t in tables})
    assert stored[0] == stored[1]
    assert len(stored[0]["events"]) > 50 and stored[0]["signatures"]
    assert stored[0]["events"] == stored_events(store)


def schema_columns(table: str) -> tuple[str, ...]:
    """A table's columns in the schema's order."""
    return tuple(c.name for c in schema.metadata.tables[table].columns)


def _generic_rows(follower: Follower, logs: list[dict]) -> dict[str, list[tuple]]:
    """Rows by decoding every log into an event and `fact_rows`."""
    out: dict[str, list[tuple]] = {}
    for e in follower.decoder.decode_all(logs):
        args = follower.args.encode(e.contract, e.name, e.args)
        out.setdefault("events", []).append(
            (e.block_number, e.log_index, e.block_hash, e.tx_hash, e.contract, e.name, args)
        )
        for table, row in fact_rows(e):
            out.setdefault(table, []).append(row)
    return {table: sorted(rows) for table, rows in out.items()}


def test_log_rows__same_rows_as_decoding_every_world_event__unusual_words_left_to_the_decoder(
    world, index_settings
):
    follower = _follower(index_settings)
    head = follower.rpc.block_number()
    logs = follower.rpc.logs(follower.decoder.addresses, follower.deployment.block, head)
    headers = follower.rpc.blocks({int(raw["blockNumber"], 16) for raw in logs})
    txs = follower.rpc.transactions(raw["transactionHash"] for raw in logs)
    made = follower._rows(logs, headers, txs)
    assert made is not None
    compact_rows, projected, numbers, count, touched = made
    assert len(projected) >= 3  # steps, transfers, attestations left as where + arguments
    rows = follower.projected.expand(projected, compact_rows)
    assert {table: sorted(r) for table, (_, r) in rows.items() if table != "signatures"} == _generic_rows(
        follower, logs
    )
    assert all(columns == schema_columns(table) for table, (columns, _) in rows.items())
    assert count == len(logs) and numbers == set(headers)
    assert touched == touched_batches(follower.decoder.decode_all(logs))
    projected = [raw for raw in logs if follower.projected.kind(raw) is not None]
    assert {
        (follower.projected.kind(raw).contract, follower.projected.kind(raw).name) for raw in projected
    } >= {
        ("BatchProvenance", "StepAdded"),
        ("BatchProvenance", "Transfer"),
        ("AttestationRegistry", "Attested"),
    }

    step = next(raw for raw in projected if follower.projected.kind(raw).name == "StepAdded")
    kind = follower.projected.kind(step)
    assert kind.values(step) is not None
    data = step["data"]
    unusual = [
        step | {"data": data.upper().replace("0X", "0x")},  # hex digits in upper case
        step | {"topics": [*step["topics"][:2], "0x" + "1" + step["topics"][2][3:]]},  # actor: dirty padding
        step | {"data": data[:2] + "f" * 64 + data[66:]},  # index (uint16) out of range
        step | {"data": data[:-64]},  # a word short
    ]
    assert [kind.values(raw) for raw in unusual] == [None] * len(unusual)
    decodable = unusual[0]
    made = follower._rows([decodable], headers, {})
    assert made is not None and made[0]["events"][1] == _generic_rows(follower, [decodable])["events"]


def test_forked__caller_stops_early__child_killed__errors_and_deaths_reach_the_caller():
    def items():
        yield from range(10**6)

    ahead = forked(items())
    with contextlib.closing(ahead):
        assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    assert not multiprocessing.active_children()

    def failing():
        yield 1
        raise ChainUnavailable("the node went away")

    with pytest.raises(ChainUnavailable, match="went away"):
        list(forked(failing()))

    def dying():
        yield 1
        os._exit(3)

    with pytest.raises(ChainUnavailable, match="exit code 3"):
        list(forked(dying()))
    assert not multiprocessing.active_children()


def test_collector_paused__off_while_each_item_is_made__on_again_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    made_with_collector: list[bool] = []

    def items():
        for i in range(3):
            made_with_collector.append(gc.isenabled())
            yield i

    given = []
    for item in iter_with_collector_paused(items()):
        given.append((item, gc.isenabled()))
    assert given == [(0, True), (1, True), (2, True)] and made_with_collector == [False] * 3
    assert gc.isenabled()


def test_prefetched__a_failed_read__raised_to_the_caller():
    def items():
        yield 1
        raise ChainUnavailable("the node went away")

    with pytest.raises(ChainUnavailable, match="went away"):
        list(prefetched(items(), depth=2))


def test_args_encoder__same_text_as_encode_args__every_world_event_and_edge_values(world, index_settings):
    deployment = Deployment.load(index_settings.deployment_file)
    rpc = JsonRpc(index_settings.rpc_url)
    decoder = EventDecoder.for_deployment(deployment)
    encoder = ArgsEncoder(decoder.arg_types())
    events = LogReader(rpc, decoder).events(deployment.block, rpc.block_number())
    assert len({(e.contract, e.name) for e in events}) >= 10
    assert [encoder.encode(e.contract, e.name, e.args) for e in events] == [
        encode_args(e.args) for e in events
    ]
    edges = ArgsEncoder(
        {
            ("C", "Static"): [
                ("b", "bool"),
                ("n", "int8"),
                ("a", "address"),
                ("x", "bytes4"),
                ("u", "uint256"),
            ],
            ("C", "Dynamic"): [("s", "string"), ("n", "uint8")],
        }
    )
    for args in (
        {"b": True, "n": -128, "a": "0xAbC0", "x": b"\x00\x01\x02\xff", "u": 2**256 - 1},
        {"b": False, "n": 0, "a": "0x0", "x": bytes(4), "u": 0},
    ):
        assert edges.encode("C", "Static", args) == encode_args(args)
    assert edges.encode("C", "Dynamic", {"s": 'say "hi"\n', "n": 1}) == encode_args(
        {"s": 'say "hi"\n', "n": 1}
    )
