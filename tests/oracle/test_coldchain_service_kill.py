"""`tambon oracle run` killed with SIGKILL while judging cold-chain logs: every TRANSPORT step attested once.

Logs are made in code (oracle.coldchain.synth): no licensed real logger traces yet.
"""

from __future__ import annotations

import random

import pytest

from evidence.bundle import build_bundle
from evidence.store import LocalStore
from oracle.coldchain import load_rules
from oracle.coldchain.synth import logger_csv, reefer_readings
from oracle.model import SHA_FILE, read_expected_sha
from tests.oracle.chain import Anvil, deploy, kill_mid_run, oracle_env, registered_batch_id, run_until, send


@pytest.mark.slow
def test_run__sigkill_while_attesting_cold_chain__each_step_attested_once(tmp_path):
    anvil = Anvil()
    try:
        deployed = deploy(anvil.w3, read_expected_sha(SHA_FILE))
        rules = bytes.fromhex(load_rules().sha256)
        send(deployed.w3, deployed.registry.functions.approveModel(rules), deployed.owner)
        store = LocalStore(tmp_path / "blocks")
        env = oracle_env(anvil, deployed, tmp_path)
        rng = random.Random(2019)
        steps: list[tuple[int, bytes]] = []
        provenance, w3, producer = deployed.provenance, deployed.w3, deployed.producer
        for run in range(8):
            for _ in range(rng.randint(1, 3)):
                i = len(steps)
                receipt = send(
                    w3,
                    provenance.functions.register(bytes([i + 1]) * 32, 0x55, 201, 25_000, 20_500),
                    producer,
                )
                batch_id = registered_batch_id(provenance, receipt)
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
            kill_mid_run(env, rng)
        registry, key = deployed.registry, deployed.oracle.address
        err = run_until(
            env,
            lambda: all(registry.functions.is_coldchain_attested(b, d, key).call() for b, d in steps),
            180,
        )
        assert "Traceback" not in err, err[-2000:]
        logs = registry.events.ColdChainAttested().get_logs(from_block=0, to_block="latest")
        posted = sorted((int(e["args"]["batchId"]), bytes(e["args"]["logCid"])) for e in logs)
        assert posted == sorted(steps)  # each step once, none twice
        assert deployed.oracle_reverted_txs() == 0
    finally:
        anvil.stop()
