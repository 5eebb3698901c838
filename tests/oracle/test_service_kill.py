"""`tambon oracle run` killed with SIGKILL at random moments and restarted: every batch attested once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evidence.bundle import build_bundle
from evidence.store import LocalStore
from oracle.model import MODEL_FILE, SHA_FILE, read_expected_sha
from oracle.synth import render
from tests.oracle.chain import ORACLE_INDEX, Anvil, deploy

TAMBON = str(Path(sys.executable).parent / "tambon")


@pytest.mark.slow
def test_run__sigkill_at_random_moments__each_batch_attested_exactly_once(tmp_path):
    anvil = Anvil()
    try:
        deployed = deploy(anvil.w3, read_expected_sha(SHA_FILE))
        store = LocalStore(tmp_path / "blocks")
        env = {
            **os.environ,
            "TAMBON_RPC_URL": anvil.url,
            "TAMBON_NETWORK": "local",
            "TAMBON_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
            "TAMBON_DATA_DIR": str(tmp_path / "data"),
            "TAMBON_EVIDENCE_BACKEND": "local",
            "TAMBON_EVIDENCE_STORE_DIR": str(tmp_path / "blocks"),
            "TAMBON_ORACLE_CONFIRMATIONS": "0",
            "TAMBON_ORACLE_POLL_INTERVAL": "0.1",
            "TAMBON_ORACLE_MAX_BATCH": "2",
        }
        deployed.deployment_json(tmp_path / "deployments")
        assert MODEL_FILE.exists()
        rng = random.Random(2026)
        evidences = []
        cmd = [TAMBON, "oracle", "run", "--dev-account", str(ORACLE_INDEX)]
        for run in range(10):
            for _ in range(rng.randint(1, 3)):
                i = len(evidences)
                photos = {"a.jpg": render(900 + i, 0)[0]}
                e = build_bundle(store, {"commodity": "mango", "run": run}, photos).onchain
                deployed.register(e)
                evidences.append(e)
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.5, 5.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if all(deployed.attested_logs(e.digest) for e in evidences):
                    break
                time.sleep(0.5)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        assert b"Traceback" not in err, err.decode()[-2000:]
        for e in evidences:
            assert len(deployed.attested_logs(e.digest)) == 1, e
        assert deployed.oracle_reverted_txs() == 0
    finally:
        anvil.stop()
