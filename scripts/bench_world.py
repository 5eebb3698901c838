"""A large world for the moving-head web bench, built through the contracts on anvil and cached.

    world = load_or_build(lots=10_000, steps=50_000, attestations=10_000)   # bench/world/<size>-<key>/
    with world.chain(block_time=1) as rpc_url: ...                          # anvil --load-state

The base is the populated อปท. of tests/frontend/world.py (council, registered producers, oracle keys,
the approved model, grants, the demo lots), built once through ape and kept (bench/world/base-<key>/):
every world starts from its chain state and evidence store. On top of it, all through the contracts:
`lots` batches registered 64 at a time with `registerMany`, each with its own record naming its own
traceability lot code (so the resolver has `lots` lots to find); `steps` steps (`addStep` on random
lots, random stages before the final sale) and `attestations` oracle attestations (`attestMany`, 64 per
signed Merkle batch). Calldata is encoded once per function with eth-abi, transactions go out in
JSON-RPC batches with automine off and are mined thousands per block, and success is checked by the
events they emit, so a 10,000-lot world takes minutes. The chain is kept with `anvil_dumpState` beside
the evidence store; a rerun loads it with `anvil --load-state` in seconds. The cache key is the
contracts' compiled bytecode, the world's size and the builders' own source, so a changed contract or
builder never reuses a stale world. bench/world/ is not committed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
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


def rpc_batch(
    url: str, calls: Sequence[tuple[str, Sequence[Any]]], size: int = 500, max_bytes: int = 1 << 20
) -> list[Any]:
    """Calls in JSON-RPC batches of at most `size` calls and about `max_bytes` (anvil refuses bigger
    request bodies); answers in the order of `calls`."""
    parts: list[list[tuple[str, Sequence[Any]]]] = [[]]
    weight = 0
    for call in calls:
        cost = len(json.dumps(call[1]))
        if parts[-1] and (len(parts[-1]) >= size or weight + cost > max_bytes):
            parts.append([])
            weight = 0
        parts[-1].append(call)
        weight += cost
    out: list[Any] = []
    with httpx.Client(timeout=600) as client:
        for part in parts:
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in enumerate(part)
            ]
            answers = client.post(url, json=payload).json()
            if not isinstance(answers, list):
                raise RuntimeError(f"the node refused a batch of {len(part)} calls: {str(answers)[:300]}")
            for a in sorted(answers, key=lambda a: a["id"]):
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


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Print how long a building stage took (building a big world is worth watching)."""
    started = time.perf_counter()
    yield
    print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)


POPULATE = REPO / "tests" / "frontend" / "world.py"


def cache_key(sources: Sequence[Path], *parameters: object) -> str:
    """The contracts' compiled bytecode, the builders' source and the world's parameters, hashed."""
    from tambon.deploy import ARTIFACTS, ensure_compiled

    ensure_compiled()
    digest = hashlib.sha256()
    contracts = json.loads(ARTIFACTS.read_text())["contractTypes"]
    for name in sorted(contracts):
        digest.update(name.encode() + contracts[name]["deploymentBytecode"]["bytecode"].encode())
    for source in sources:
        digest.update(source.read_bytes())
    digest.update(json.dumps(parameters).encode())
    return digest.hexdigest()[:16]


def _encoder(contract: str, function: str) -> Callable[..., str]:
    """Calldata of one contract function, its selector and argument types worked out once."""
    from eth_abi import encode
    from eth_utils import function_abi_to_4byte_selector, get_abi_input_types

    from tambon.chain import load_abi

    item = next(i for i in load_abi(contract) if i.get("type") == "function" and i["name"] == function)
    selector = function_abi_to_4byte_selector(item)  # type: ignore[arg-type]
    types = get_abi_input_types(item)  # type: ignore[arg-type]
    return lambda *args: "0x" + (selector + encode(types, args)).hex()


def _send_all(url: str, txs: list[dict[str, Any]]) -> None:
    """Send transactions (automine off) and mine them a thousand per block. Nonces are given: a
    JSON-RPC batch would otherwise race for the same pending nonce. anvil's unsigned sending skips
    signing (a third of the cost). The caller checks success by the events the transactions emit
    (reading every receipt costs more than sending)."""
    nonce = int(rpc(url, "eth_getTransactionCount", [HOLDER, "pending"]), 16)
    txs = [{**tx, "nonce": hex(nonce + i)} for i, tx in enumerate(txs)]
    for start in range(0, len(txs), 1000):
        rpc_batch(url, [("eth_sendUnsignedTransaction", [tx]) for tx in txs[start : start + 1000]])
        rpc(url, "evm_mine")
    while int(rpc(url, "txpool_status")["pending"], 16):
        rpc(url, "evm_mine")


def _count_logs(url: str, address: str, topic: str, start: int) -> int:
    end = int(rpc(url, "eth_blockNumber"), 16)
    query = {"address": address, "fromBlock": hex(start), "toBlock": hex(end), "topics": [topic]}
    return len(rpc(url, "eth_getLogs", [query]))


def _drop_stale(root: Path) -> None:
    """Forget the builds of this kind made for other contracts or builders, and interrupted ones (a
    10,000-lot world is a few hundred MB)."""
    kind = root.name.rsplit("-", 1)[0] + "-"
    for other in CACHE.glob(kind + "*"):
        if other.name.rsplit("-", 1)[0] + "-" == kind or other.name.endswith(".partial"):
            shutil.rmtree(other, ignore_errors=True)


def base_world() -> Path:
    """The populated อปท. of tests/frontend/world.py on its own chain, built through ape once and kept:
    state.json, deployments/, evidence/ and base.json (the sold box)."""
    from ape import accounts, chain, networks, project

    from tambon.accounts import demo_account
    from tambon.deploy import deploy_all
    from tests.frontend.world import evidence_node, populate

    root = CACHE / f"base-{cache_key([POPULATE, Path(__file__)])}"
    if (root / "base.json").exists():
        return root
    _drop_stale(root)
    partial = root.with_name(root.name + ".partial")
    partial.mkdir(parents=True)
    with stage("base world (deploy and populate through ape)"), anvil() as url:
        # anvil makes its genesis block anew on each --load-state (a new hash, which the stored block 1
        # does not name as its parent): the deployment goes to block 2, so an index starting at the
        # block before it starts on a block the state keeps
        rpc(url, "evm_mine")
        os.environ["APE_FOUNDRY_HOST"] = url  # ape drives our anvil instead of starting its own
        try:
            with networks.parse_network_choice("ethereum:local:foundry") as provider:
                project.load_contracts()
                test_accounts = accounts.test_accounts
                members = [test_accounts[i].address for i in range(1, 6)]
                deployment = deploy_all(provider.web3, demo_account(0), members, 3, "local")
                deployment.save(partial / "deployments" / f"{deployment.network}.json")
                store, node = evidence_node(partial / "evidence")
                base = populate(project, chain, test_accounts, deployment, store, node)
                node.stop()
        finally:
            del os.environ["APE_FOUNDRY_HOST"]
        _dump_state(url, partial / "state.json")
    (partial / "base.json").write_text(json.dumps({"sold_box": base.sold_box}))
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


def _dump_state(url: str, path: Path) -> None:
    dumped = rpc(url, "anvil_dumpState")
    path.write_bytes(gzip.decompress(bytes.fromhex(dumped[2:])))


def build(root: Path, base: Path, lots: int, steps: int, attestations: int, seed: int = 7) -> World:
    from compliance import samples
    from evidence.store import LocalStore
    from tambon.attestation import sample_attestation, sign_batch
    from tambon.chain import Deployment
    from tambon.cid import OnchainCid
    from tambon.events import EventDecoder, JsonRpc, LogReader
    from tambon.provenance import Stage, encode_transport
    from tests.frontend.world import MODEL_SHA, ORACLE_KEY

    rng = random.Random(seed)
    shutil.copytree(base / "evidence", root / "evidence")
    shutil.copytree(base / "deployments", root / "deployments")
    store = LocalStore(root / "evidence", "kubo-v1")
    deployment = Deployment.load(root / "deployments" / "local.json")
    provenance, registry = (
        deployment.contracts["BatchProvenance"],
        deployment.contracts["AttestationRegistry"],
    )
    register_many = _encoder("BatchProvenance", "registerMany")
    add_step = _encoder("BatchProvenance", "addStep")
    attest_many = _encoder("AttestationRegistry", "attestMany")
    decoder = EventDecoder.for_deployment(deployment)

    def add_files(files: list[bytes]) -> list[str]:
        """Stored a thousand to a transaction (a staging directory of tens of thousands of files is
        slow to remove), unpinned (a cache needs no pins)."""
        return [
            cid for i in range(0, len(files), 1000) for cid in store.add_many(files[i : i + 1000], pin=False)
        ]

    def stored_files(count: int) -> list[bytes]:
        """Digests of `count` new stored files of 48 random bytes."""
        return [OnchainCid.parse(cid).digest for cid in add_files([rng.randbytes(48) for _ in range(count)])]

    with anvil(base / "state.json") as url:
        rpc(url, "anvil_setBlockGasLimit", [hex(GAS_LIMIT)])
        rpc(url, "evm_setAutomine", [False])
        with stage(f"{lots} lot records"):
            codes = [f"BW-{i:05d}" for i in range(lots)]
            # initial packing: it assigns the lot code
            records = [json.dumps(samples.mango_lot(code, 2)[2]).encode() for code in codes]
            cids = [OnchainCid.parse(c) for c in add_files(records)]
        with stage(f"{lots} lots registered"):
            by_digest = {cid.digest: code for cid, code in zip(cids, codes, strict=True)}
            register = [
                {
                    "from": HOLDER,
                    "to": provenance,
                    "data": register_many(
                        [(c.digest, c.codec, 201, 500_000, 20_545) for c in cids[i : i + RUN]]
                    ),
                    "gas": hex(20_000_000),
                }
                for i in range(0, lots, RUN)
            ]
            first = int(rpc(url, "eth_blockNumber"), 16) + 1
            _send_all(url, register)
            reader = LogReader(JsonRpc(url), decoder)
            topic = decoder.topic("BatchProvenance", "BatchRegistered")
            registered = reader.events(first, int(rpc(url, "eth_blockNumber"), 16), [topic])
            ids = [(e.args["batchId"], by_digest[bytes(e.args["evidence"])]) for e in registered]
            if len(ids) != lots:
                raise SystemExit(f"error: {lots - len(ids)} of {lots} world registrations failed")

        with stage(f"{steps} steps and {attestations} attestations encoded"):
            # steps on random lots, every stage before the final sale (every lot stays open), with real
            # records (harvesting and cooling: they name no lot code)
            step_cids = [
                OnchainCid.parse(store.add_bytes(json.dumps(record).encode(), "record.json"))
                for day in (2, 3, 4)
                for record in samples.mango_lot("BW-STEP", day)[:2]
            ]
            open_stages = [stage for stage in Stage if stage != Stage.MARKETING]
            transport = encode_transport(2.0, 7.5)
            step_txs = []
            for _ in range(steps):
                stage_ = rng.choice(open_stages)
                cid = rng.choice(step_cids)
                payload = transport if stage_ == Stage.TRANSPORT else 0
                data = add_step(rng.choice(ids)[0], int(stage_), cid.digest, cid.codec, payload)
                step_txs.append({"from": HOLDER, "to": provenance, "data": data, "gas": hex(300_000)})
            # attestations on random lots, signed by the oracle key 64 at a time, each over its own file
            graded_at = int(rpc(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
            photos = stored_files(attestations)
            attest_txs = []
            for start in range(0, attestations, RUN):
                atts = [
                    sample_attestation(rng.choice(ids)[0], photo, MODEL_SHA, graded_at)
                    for photo in photos[start : start + RUN]
                ]
                _, signature = sign_batch(atts, ORACLE_KEY, deployment.chain_id, registry)
                data = attest_many([a.as_tuple() for a in atts], signature)
                attest_txs.append({"from": HOLDER, "to": registry, "data": data, "gas": hex(30_000_000)})
        with stage("steps and attestations mined"):
            first = int(rpc(url, "eth_blockNumber"), 16) + 1
            _send_all(url, step_txs + attest_txs)
            added = _count_logs(url, provenance, decoder.topic("BatchProvenance", "StepAdded"), first)
            attested = _count_logs(url, registry, decoder.topic("AttestationRegistry", "Attested"), first)
            if (added, attested) != (steps, attestations):
                raise SystemExit(
                    f"error: world transactions failed: {added} of {steps} steps, "
                    f"{attested} of {attestations} attestations recorded"
                )
        with stage("chain state dumped"):
            head = int(rpc(url, "eth_blockNumber"), 16)
            events = len(JsonRpc(url).logs(decoder.addresses, deployment.block, head))
            _dump_state(url, root / "state.json")
    spare = ["0x" + digest.hex() for digest in stored_files(2_000)]
    world = World(
        root,
        ids,
        "0" + samples.MANGO_GTIN,
        events,
        steps,
        attestations,
        json.loads((base / "base.json").read_text())["sold_box"],
        ["0x" + c.digest.hex() for c in step_cids],
        spare,
    )
    meta = {k: v for k, v in world.__dict__.items() if k != "root"}
    (root / "world.json").write_text(json.dumps(meta))
    return world


def load_or_build(lots: int, steps: int, attestations: int) -> World:
    """The cached world of this size, built first when there is none (or its contracts changed)."""
    key = cache_key([POPULATE, Path(__file__)], lots, steps, attestations)
    root = CACHE / f"{lots}-lots-{steps}-steps-{attestations}-attestations-{key}"
    meta = root / "world.json"
    if meta.exists() and (root / "state.json").exists():
        m = json.loads(meta.read_text())
        m["lots"] = [(int(b), str(c)) for b, c in m["lots"]]
        return World(root, **m)
    started = time.perf_counter()
    base = base_world()
    _drop_stale(root)
    partial = root.with_name(root.name + ".partial")  # an interrupted build is never taken for a world
    partial.mkdir(parents=True)
    world = build(partial, base, lots, steps, attestations)
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    world.root = root
    print(f"built the world of {lots} lots in {time.perf_counter() - started:.0f} s ({world.events} events)")
    return world
