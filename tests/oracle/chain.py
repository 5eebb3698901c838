"""A private anvil per test module (reorgs and kills must not disturb ape's shared node) and the
registry + provenance contracts deployed on it straight from ape's compiled artifacts."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3.logs import DISCARD

from tambon.accounts import demo_account
from tambon.attestation import Attestation
from tests.frontend.world import free_port

REPO = Path(__file__).resolve().parents[2]
ANVIL = shutil.which("anvil") or str(REPO / "node_modules" / ".bin" / "anvil")
ORACLE_INDEX = 7
PRODUCER_INDEX = 2


class Anvil:
    def __init__(self, block_time: float | None = None, load_state: Path | None = None):
        self.port = free_port()
        cmd = [ANVIL, "--port", str(self.port), "--silent", "--chain-id", "31337"]
        if block_time:
            cmd += ["--block-time", str(block_time)]
        if load_state is not None:
            cmd += ["--load-state", str(load_state)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))
        for _ in range(200):
            try:
                if self.w3.eth.chain_id == 31337:
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("anvil did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _artifact(name: str) -> tuple[list, str]:
    from ape import project

    ct = getattr(project, name).contract_type
    abi = [entry.model_dump(mode="json", by_alias=True, exclude_none=True) for entry in ct.abi]
    return abi, ct.deployment_bytecode.bytecode


def send(w3: Web3, fn, sender: str):
    tx_hash = fn.transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
    assert receipt["status"] == 1
    return receipt


def registered_batch_id(provenance, receipt) -> int:
    """The batch id of a `register` transaction (its receipt also holds the lot token's Transfer)."""
    (registered,) = provenance.events.BatchRegistered().process_receipt(receipt, errors=DISCARD)
    return int(registered["args"]["batchId"])


@dataclass
class Deployed:
    w3: Web3
    provenance: object
    registry: object
    owner: str
    producer: str
    oracle: object  # LocalAccount
    block: int

    def deployment_json(self, path: Path) -> Path:
        payload = {
            "network": "local",
            "chain_id": 31337,
            "block": self.block,
            "contracts": {
                "BatchProvenance": self.provenance.address,
                "AttestationRegistry": self.registry.address,
            },
        }
        path.mkdir(parents=True, exist_ok=True)
        (path / "local.json").write_text(json.dumps(payload))
        return path / "local.json"

    def register(self, onchain) -> int:
        """Register a batch with `onchain` evidence from the producer; returns the batch id."""
        fn = self.provenance.functions.register(onchain.digest, onchain.codec, 1, 25_000, 20_500)
        return registered_batch_id(self.provenance, send(self.w3, fn, self.producer))

    def attested_logs(self, evidence: bytes) -> list:
        logs = self.registry.events.Attested().get_logs(from_block=0, to_block="latest")
        return [e for e in logs if bytes(e["args"]["evidence"]) == evidence]

    def oracle_reverted_txs(self) -> int:
        reverted = 0
        for n in range(self.block, self.w3.eth.block_number + 1):
            block = self.w3.eth.get_block(n, full_transactions=True)
            for tx in block["transactions"]:
                if tx["from"] == self.oracle.address:
                    reverted += self.w3.eth.get_transaction_receipt(tx["hash"])["status"] != 1
        return reverted


def deploy(w3: Web3, model_sha256: str) -> Deployed:
    accounts = w3.eth.accounts
    owner, producer = accounts[0], accounts[PRODUCER_INDEX]
    block = w3.eth.block_number + 1
    contracts = {}
    for stem in ("batch_provenance", "attestation_registry"):
        abi, bytecode = _artifact(stem)
        factory = w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(owner).transact({"from": owner}))
        contracts[stem] = w3.eth.contract(address=receipt["contractAddress"], abi=abi)
    registry = contracts["attestation_registry"]
    oracle = demo_account(ORACLE_INDEX)
    send(w3, registry.functions.addOracleKey(oracle.address), owner)
    send(w3, registry.functions.approveModel(bytes.fromhex(model_sha256)), owner)
    return Deployed(w3, contracts["batch_provenance"], registry, owner, producer, oracle, block)


def record_of(d: Deployed, evidence: bytes):
    """The registry's stored attestation as an Attestation-like tuple for assertions."""
    rec = d.registry.functions.attestation(evidence, d.oracle.address).call()
    return rec


__all__ = ["Anvil", "Attestation", "Deployed", "deploy", "record_of", "send"]


#: `tambon oracle run` as the oracle's operator starts it, with the demo oracle key
ORACLE_RUN = [
    str(Path(sys.executable).parent / "tambon"),
    "oracle",
    "run",
    "--dev-account",
    str(ORACLE_INDEX),
]


def oracle_env(anvil: Anvil, deployed: Deployed, tmp_path: Path) -> dict[str, str]:
    """The environment `tambon oracle run` gets in the kill tests: this anvil and deployment, a local
    evidence store under `tmp_path/blocks`, no confirmations, a fast poll and batches of two."""
    deployed.deployment_json(tmp_path / "deployments")
    return {
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


def kill_mid_run(env: dict[str, str], rng: random.Random) -> None:
    """Start the oracle and SIGKILL it 0.5 to 5 s later, wherever it is."""
    proc = subprocess.Popen(ORACLE_RUN, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(rng.uniform(0.5, 5.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def run_until(env: dict[str, str], done: Callable[[], bool], timeout: float) -> str:
    """Run the oracle until `done()` or `timeout` seconds, stop it; its stderr."""
    proc = subprocess.Popen(ORACLE_RUN, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            time.sleep(0.5)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    return err.decode()
