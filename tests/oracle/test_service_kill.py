"""`tambon oracle run` killed with SIGKILL at random moments and restarted: every batch attested once."""

from __future__ import annotations

import random

import pytest

from evidence.bundle import build_bundle
from evidence.store import LocalStore
from oracle.model import MODEL_FILE, SHA_FILE, read_expected_sha
from oracle.synth import render
from tests.oracle.chain import Anvil, deploy, kill_mid_run, oracle_env, run_until


@pytest.mark.slow
def test_run__sigkill_at_random_moments__each_batch_attested_exactly_once(tmp_path):
    anvil = Anvil()
    try:
        deployed = deploy(anvil.w3, read_expected_sha(SHA_FILE))
        store = LocalStore(tmp_path / "blocks")
        env = oracle_env(anvil, deployed, tmp_path)
        assert MODEL_FILE.exists()
        rng = random.Random(2026)
        evidences = []
        for run in range(10):
            for _ in range(rng.randint(1, 3)):
                i = len(evidences)
                photos = {"a.jpg": render(900 + i, 0)[0]}
                e = build_bundle(store, {"commodity": "mango", "run": run}, photos).onchain
                deployed.register(e)
                evidences.append(e)
            kill_mid_run(env, rng)
        err = run_until(env, lambda: all(deployed.attested_logs(e.digest) for e in evidences), 120)
        assert "Traceback" not in err, err[-2000:]
        for e in evidences:
            assert len(deployed.attested_logs(e.digest)) == 1, e
        assert deployed.oracle_reverted_txs() == 0
    finally:
        anvil.stop()
