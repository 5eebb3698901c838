"""`tambon oracle run` killed with SIGKILL while judging cold-chain logs: every TRANSPORT step attested once.

Logs are made in code (oracle.coldchain.synth): no licensed real logger traces yet.
"""

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
from oracle.coldchain import load_rules
from oracle.coldchain.synth import logger_csv, reefer_readings
from oracle.model import SHA_FILE, read_expected_sha
from tests.oracle.chain import ORACLE_INDEX, Anvil, deploy, send

TAMBON = str(Path(sys.executable).parent / "tambon")


@pytest.mark.slow
def test_run__sigkill_while_attesting_cold_chain__each_step_attested_once(tmp_path):
    anvil = Anvil()
    try:
        deployed = deploy(anvil.w3, read_expected_sha(SHA_FILE))
        rules = bytes.fromhex(load_rules().sha256)
        send(deployed.w3, deployed.registry.functions.approveModel(rules), deployed.owner)
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
        rng = random.Random(2019)
        steps: list[tuple[int, bytes]] = []
        cmd = [TAMBON, "oracle", "run", "--dev-account", str(ORACLE_INDEX)]
        provenance, w3, producer = deployed.provenance, deployed.w3, deployed.producer
        for run in range(8):
            for _ in range(rng.randint(1, 3)):
                i = len(steps)
                receipt = send(
                    w3,
                    provenance.functions.register(bytes([i + 1]) * 32, 0x55, 201, 25_000, 20_500),
                    producer,
                )
                batch_id = int(
                    provenance.events.BatchRegistered().process_receipt(receipt)[0]["args"]["batchId"]
                )
                times, temps = reefer_readings(1_793_000_000, 30, 11.5, seed=i)
                bundle = build_bundle(
                    store, {"event": "shipping", "run": run}, {"trip.csv": logger_csv(times, temps)}
                )
                onchain = bundle.onchain
                send(
                    w3,
                    provenance.functions.addStep(
                        batch_id, 3, onchain.digest, onchain.codec, 1100 | (1300 << 16)
                    ),
                    producer,
                )
                steps.append((batch_id, onchain.digest))
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.5, 5.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        registry, key = deployed.registry, deployed.oracle.address
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if all(registry.functions.is_coldchain_attested(b, d, key).call() for b, d in steps):
                    break
                time.sleep(0.5)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        assert b"Traceback" not in err, err.decode()[-2000:]
        logs = registry.events.ColdChainAttested().get_logs(from_block=0, to_block="latest")
        posted = sorted((int(e["args"]["batchId"]), bytes(e["args"]["logCid"])) for e in logs)
        assert posted == sorted(steps)  # each step once, none twice
        assert deployed.oracle_reverted_txs() == 0
    finally:
        anvil.stop()
