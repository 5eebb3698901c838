"""A large world for the moving-head web bench, built through the contracts on anvil and cached.

    world = load_or_build(lots=10_000, steps=50_000, attestations=10_000)   # bench/world/<size>/
    with world.chain(block_time=1) as rpc_url: ...                          # anvil --load-state

The base is the populated อปท. of tests/frontend/world.py (council, registered producers, oracle keys,
the approved model, grants, the demo lots). On top of it, all through the contracts: `lots` batches
registered 64 at a time with `registerMany`, each with its own record naming its own traceability lot
code (so the resolver has `lots` lots to find); `steps` steps (`addStep` on random lots, random
stages before the final sale) and `attestations` oracle attestations (`attestMany`, 64 per signed
Merkle batch). Transactions go out in JSON-RPC batches with automine off and are mined thousands per
block, so the world takes minutes, not hours. The chain is kept with `anvil_dumpState` beside the
evidence store; a rerun loads it with `anvil --load-state` in seconds. bench/world/ is not committed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / "world"
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
MNEMONIC = "test test test test test test test test test test test junk"
#: the account that registers the bench lots and adds their steps (anvil's 10th test account)
HOLDER = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
GAS_LIMIT = 1_000_000_000  # blocks of thousands of transactions (set after the base world: ape sends
# its own transactions with the block's gas limit)
RUN = 64  # registerMany and attestMany take up to 64 items


def rpc(url: str, method: str, params: Sequence[Any] = ()) -> Any:
    answer = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=600
    )
    body = answer.json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]


def rpc_batch(url: str, calls: Sequence[tuple[str, Sequence[Any]]], size: int = 500) -> list[Any]:
    out: list[Any] = []
    with httpx.Client(timeout=600) as client:
        for start in range(0, len(calls), size):
            part = calls[start : start + size]
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in enumerate(part)
            ]
            answers = sorted(client.post(url, json=payload).json(), key=lambda a: a["id"])
            for a in answers:
                if "error" in a:
                    raise RuntimeError(f"{part[a['id']][0]}: {a['error']}")
                out.append(a["result"])
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def anvil(state: Path | None = None, block_time: float | None = None) -> Iterator[str]:
    """An anvil node of our own (no step tracing, big blocks); yields its URL."""
    port = free_port()
    command = [
        str(ANVIL), "--port", str(port), "--mnemonic", MNEMONIC, "--accounts", "10", "--balance", "1000000",
        "--block-base-fee-per-gas", "0", "--gas-price", "0",
        "--silent",
    ]  # fmt: skip
    if state is not None:
        command += ["--load-state", str(state)]
    if block_time is not None:
        command += ["--block-time", str(block_time)]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                rpc(url, "eth_blockNumber")
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("error: anvil did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


@dataclass
class World:
    root: Path
    lots: list[tuple[int, str]]  # (batch id, traceability lot code) of the bench lots
    gtin: str
    events: int
    steps: int
    attestations: int
    sold_box: int
    step_evidence: list[str]  # 0x digests (raw codec) of the records steps carry
    spare_evidence: list[str]  # 0x digests of stored files no attestation names yet (for a writer)

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def deployments(self) -> Path:
        return self.root / "deployments"

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    def chain(self, block_time: float | None = None) -> contextlib.AbstractContextManager[str]:
        return anvil(self.state, block_time)


def _send_all(url: str, txs: list[dict[str, Any]]) -> None:
    """Send transactions (automine off) and mine them, a few thousand per block; every one must succeed.
    Nonces are given: a JSON-RPC batch would otherwise race for the same pending nonce."""
    nonce = int(rpc(url, "eth_getTransactionCount", [HOLDER, "pending"]), 16)
    txs = [{**tx, "nonce": hex(nonce + i)} for i, tx in enumerate(txs)]
    hashes: list[str] = []
    for start in range(0, len(txs), 2000):
        part = txs[start : start + 2000]
        hashes += rpc_batch(url, [("eth_sendTransaction", [tx]) for tx in part])
        rpc(url, "evm_mine")
    while int(rpc(url, "txpool_status")["pending"], 16):
        rpc(url, "evm_mine")
    receipts = rpc_batch(url, [("eth_getTransactionReceipt", [h]) for h in hashes])
    failed = [h for h, r in zip(hashes, receipts, strict=True) if r is None or r["status"] != "0x1"]
    if failed:
        raise SystemExit(f"error: {len(failed)} world transactions failed, e.g. {failed[0]}")


def build(root: Path, lots: int, steps: int, attestations: int, seed: int = 7) -> World:
    from ape import accounts, chain, networks, project
    from web3 import Web3

    from compliance import samples
    from tambon.accounts import demo_account
    from tambon.attestation import sample_attestation, sign_batch
    from tambon.chain import load_abi
    from tambon.cid import OnchainCid
    from tambon.deploy import deploy_all
    from tambon.events import EventDecoder, JsonRpc, LogReader
    from tambon.provenance import Stage, encode_transport
    from tests.frontend.world import MODEL_SHA, ORACLE_KEY, evidence_node, populate

    rng = random.Random(seed)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    with anvil() as url:
        os.environ["APE_FOUNDRY_HOST"] = url  # ape drives our anvil instead of starting its own
        try:
            with networks.parse_network_choice("ethereum:local:foundry") as provider:
                project.load_contracts()
                test_accounts = accounts.test_accounts
                members = [test_accounts[i].address for i in range(1, 6)]
                deployment = deploy_all(provider.web3, demo_account(0), members, 3, "local")
                deployment.save(root / "deployments" / f"{deployment.network}.json")
                store, node = evidence_node(root / "evidence")
                base = populate(project, chain, test_accounts, deployment, store, node)
                node.stop()
        finally:
            del os.environ["APE_FOUNDRY_HOST"]
        w3 = Web3(Web3.HTTPProvider(url))
        provenance = w3.eth.contract(
            address=deployment.contracts["BatchProvenance"], abi=load_abi("BatchProvenance")
        )
        registry = w3.eth.contract(
            address=deployment.contracts["AttestationRegistry"], abi=load_abi("AttestationRegistry")
        )
        rpc(url, "anvil_setBlockGasLimit", [hex(GAS_LIMIT)])
        rpc(url, "evm_setAutomine", [False])

        # lots: one record each (its own lot code), registered 64 at a time
        codes = [f"BW-{i:05d}" for i in range(lots)]
        cids = []
        for code in codes:
            record = samples.mango_lot(code, 2)[2]  # initial packing: it assigns the lot code
            cids.append(OnchainCid.parse(store.add_bytes(json.dumps(record).encode(), "record.json")))
        by_digest = {cid.digest: code for cid, code in zip(cids, codes, strict=True)}
        register = []
        for start in range(0, lots, RUN):
            batch = [(c.digest, c.codec, 201, 500_000, 20_545) for c in cids[start : start + RUN]]
            data = provenance.encode_abi("registerMany", args=[batch])
            register.append({"from": HOLDER, "to": provenance.address, "data": data, "gas": hex(20_000_000)})
        first = int(rpc(url, "eth_blockNumber"), 16) + 1
        _send_all(url, register)
        decoder = EventDecoder.for_deployment(deployment, ("BatchProvenance",))
        reader = LogReader(JsonRpc(url), decoder)
        topic = decoder.topic("BatchProvenance", "BatchRegistered")
        registered = reader.events(first, int(rpc(url, "eth_blockNumber"), 16), [topic])
        ids = [(e.args["batchId"], by_digest[bytes(e.args["evidence"])]) for e in registered]
        assert len(ids) == lots, (len(ids), lots)

        # steps on random lots (never the final sale: every lot stays open), with real records
        step_cids = [
            OnchainCid.parse(store.add_bytes(json.dumps(record).encode(), "record.json"))
            for day in (2, 3, 4)
            for record in samples.mango_lot("BW-STEP", day)[:2]  # harvesting, cooling: no lot code
        ]
        stage_choices = [stage for stage in Stage if stage != Stage.MARKETING]
        step_txs = []
        for _ in range(steps):
            batch_id = rng.choice(ids)[0]
            stage = rng.choice(stage_choices)
            payload = encode_transport(2.0, 7.5) if stage == Stage.TRANSPORT else 0
            cid = rng.choice(step_cids)
            data = provenance.encode_abi(
                "addStep", args=[batch_id, int(stage), cid.digest, cid.codec, payload]
            )
            step_txs.append({"from": HOLDER, "to": provenance.address, "data": data, "gas": hex(300_000)})

        # attestations on random lots, signed by the oracle key 64 at a time, each over its own file
        def stored_file() -> bytes:
            return OnchainCid.parse(store.add_bytes(rng.randbytes(48), "photo.bin")).digest

        graded_at = int(rpc(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        attest_txs = []
        for start in range(0, attestations, RUN):
            atts = [
                sample_attestation(rng.choice(ids)[0], stored_file(), MODEL_SHA, graded_at)
                for _ in range(min(RUN, attestations - start))
            ]
            _, signature = sign_batch(atts, ORACLE_KEY, deployment.chain_id, registry.address)
            data = registry.encode_abi("attestMany", args=[[a.as_tuple() for a in atts], signature])
            attest_txs.append({"from": HOLDER, "to": registry.address, "data": data, "gas": hex(30_000_000)})
        _send_all(url, step_txs + attest_txs)
        head = int(rpc(url, "eth_blockNumber"), 16)
        events = len(
            LogReader(JsonRpc(url), EventDecoder.for_deployment(deployment)).events(deployment.block, head)
        )
        dumped = rpc(url, "anvil_dumpState")
        (root / "state.json").write_bytes(gzip.decompress(bytes.fromhex(dumped[2:])))
    spare = ["0x" + stored_file().hex() for _ in range(2_000)]
    world = World(
        root,
        ids,
        "0" + samples.MANGO_GTIN,
        events,
        steps,
        attestations,
        base.sold_box,
        ["0x" + c.digest.hex() for c in step_cids],
        spare,
    )
    meta = {k: v for k, v in world.__dict__.items() if k != "root"}
    (root / "world.json").write_text(json.dumps(meta))
    return world


def load_or_build(lots: int, steps: int, attestations: int) -> World:
    """The cached world of this size, built first when there is none."""
    root = CACHE / f"v2-{lots}-lots-{steps}-steps-{attestations}-attestations"
    meta = root / "world.json"
    if meta.exists() and (root / "state.json").exists():
        m = json.loads(meta.read_text())
        m["lots"] = [(int(b), str(c)) for b, c in m["lots"]]
        return World(root, **m)
    started = time.perf_counter()
    world = build(root, lots, steps, attestations)
    print(f"built the world of {lots} lots in {time.perf_counter() - started:.0f} s ({world.events} events)")
    return world
