"""Evidence GC against the real chain: every CID the chain references survives a GC with no grace window."""

from __future__ import annotations

import os
import shutil

from evidence.cids import digest_of, parse_cid
from evidence.gc import collect
from evidence.store import LocalStore


def test_gc__against_the_chain__every_onchain_cid_survives(world, settings, tmp_path):
    """The world's chain and a copy of its store: a GC with no grace window keeps every on-chain CID."""
    from tambon.references import referenced_digests

    referenced = referenced_digests(settings)
    assert len(referenced) > 10
    copy = tmp_path / "store"
    shutil.copytree(world.store.blocks.root, copy)
    store = LocalStore(copy, "kubo-v1")
    held = [d for d in referenced if world.store.blocks.path_for(d).exists()]
    junk = store.add_bytes(os.urandom(100_000))
    collect(store, referenced, window=0)
    for digest in held:
        assert store.blocks.path_for(digest).exists()
    proved = {digest_of(parse_cid(p)) for p in store.pins()}
    assert set(held) <= proved
    assert not store.has(junk)


def test_cli__status_then_gc(settings, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    tambon = Path(sys.executable).with_name("tambon")
    env = {
        **os.environ,
        **settings.as_env(),
        "TAMBON_EVIDENCE_BACKEND": "local",
        "TAMBON_EVIDENCE_STORE_DIR": str(tmp_path / "evidence"),
    }
    store = LocalStore(tmp_path / "evidence", "kubo-v1")
    junk = store.add_bytes(os.urandom(5000))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(tambon), "evidence", *args], env=env, capture_output=True, text=True, timeout=120
        )

    before = json.loads(run("status", "--json").stdout)
    assert before["pins"] == 1 and before["referenced_pins"] == 0 and before["bytes_unreferenced"] >= 5000
    kept = run("gc")
    assert kept.returncode == 0 and "younger than 24 h, kept: 1" in kept.stdout and store.has(junk)
    gone = run("gc", "--window", "0")
    assert gone.returncode == 0 and "unpinned: 1" in gone.stdout and not store.has(junk)
    bad = run("gc", "--window", "-1")
    assert bad.returncode != 0 and bad.stderr.startswith("error: window must be")
