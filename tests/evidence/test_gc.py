"""Evidence GC: unreferenced uploads go after the window, referenced evidence stays pinned for good."""

from __future__ import annotations

import json
import os
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence import dag
from evidence.cids import digest_of, parse_cid
from evidence.gc import collect, status
from evidence.store import LocalStore
from tambon.events import ChainEvent
from tambon.references import digests_in

DAY = 86_400


def _age(store: LocalStore, cid: str, seconds: float) -> None:
    """Make a pin and its blocks look `seconds` old."""
    past = time.time() - seconds
    root = parse_cid(cid)
    os.utime(store.blocks.pins_dir / digest_of(root).hex(), (past, past))
    for block, _ in dag.walk_blocks(store.get_block, root):
        os.utime(store.blocks.path_for(digest_of(block)), (past, past))


def _whole(store: LocalStore, cid: str) -> bool:
    try:
        for _ in dag.walk_blocks(store.get_block, parse_cid(cid)):
            pass
    except Exception:
        return False
    return True


def _event(name: str, **args) -> ChainEvent:
    return ChainEvent("X", name, args, 1, "0x", "0x", 0)


def test_gc__unreferenced_old_removed_young_kept_referenced_pinned(store):
    referenced = store.add_tree({"photo.jpg": os.urandom(300_000), "record.json": b'{"a": 1}'})
    bundle = store.add_tree({"box.jpg": os.urandom(50_000)})
    metadata = store.add_bytes(json.dumps({"properties": {"evidence": f"ipfs://{bundle}"}}).encode())
    garbage = store.add_bytes(os.urandom(400_000))
    young = store.add_bytes(os.urandom(1000))
    for cid in (referenced, bundle, metadata, garbage):
        _age(store, cid, 2 * DAY)
    store.unpin(referenced)  # referenced on chain but unpinned: it is pinned again, for good
    chain = [
        _event("StepAdded", evidence=digest_of(parse_cid(referenced)), codec=0x70),
        _event("BatchRegistered", evidence=digest_of(parse_cid(metadata)), codec=0x55),
        _event("MilestoneRejected", reason=bytes(32)),  # no reason given: not a CID
    ]
    digests = digests_in(chain)
    before = status(store, digests)
    assert before.bytes_unreferenced > 400_000 and before.referenced_pins == 2

    dry = collect(store, digests, dry_run=True)
    assert dry.unpinned == [garbage] and _whole(store, garbage)

    report = collect(store, digests)
    assert report.unpinned == [garbage] and report.kept_young == [young]
    assert report.bytes_freed >= 400_000
    assert not _whole(store, garbage)
    for cid in (referenced, bundle, metadata, young):
        assert _whole(store, cid), cid
    assert store.blocks.is_pinned(referenced) and store.blocks.is_pinned(bundle)
    after = status(store, digests)
    assert after.bytes_unreferenced < 2000  # only the young upload


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=600_000), min_size=1, max_size=6),
    shared=st.booleans(),
    data=st.data(),
)
def test_gc__never_removes_evidence_referenced_on_chain(tmp_path_factory, sizes, shared, data):
    store = LocalStore(tmp_path_factory.mktemp("gc"))
    common = os.urandom(262_144)  # a chunk two uploads share: referenced through one, garbage in the other
    cids = [
        store.add_tree({"a.jpg": (common if shared else b"") + os.urandom(size), "record.json": b"{}"})
        if i % 2
        else store.add_bytes((common if shared else b"") + os.urandom(size))
        for i, size in enumerate(sizes)
    ]
    for cid in cids:
        _age(store, cid, data.draw(st.sampled_from([0, DAY / 2, 2 * DAY])))
    on_chain = data.draw(st.lists(st.sampled_from(cids), unique=True))
    events = [_event("StepAdded", evidence=digest_of(parse_cid(c)), codec=0x70) for c in on_chain]
    collect(store, digests_in(events), window=data.draw(st.sampled_from([0, DAY])))
    for cid in on_chain:
        assert _whole(store, cid) and store.blocks.is_pinned(cid)
