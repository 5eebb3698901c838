"""Kill -9 and restart the real services (evidence node, oracle, web site) during their work.

Afterwards: every batch has exactly one attestation per evidence, no evidence block is missing or
corrupt, an upload cut short is invisible and a retry completes it, and the site agrees with the chain.
The default run does one pass; `-m slow` adds ten passes with random kill points.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import threading
import time
from collections import Counter

import httpx
import pytest
from web3 import Web3

from evidence.bundle import build_bundle
from evidence.cids import cid_str
from evidence.errors import EvidenceError
from evidence.importer import import_bytes
from evidence.remote import RpcStore
from evidence.verify import verify_car
from oracle.synth import render
from tambon.accounts import demo_account
from tambon.chain import Chain
from tambon.cid import cid_string
from tambon.deploy import deploy_all
from tambon.grants import Grants, council_decision
from tambon.settings import REPO_ROOT
from tambon.stack import ORACLE_DEMO_ACCOUNT, Stack
from tambon.tx import send
from tests.frontend.world import local_stack_settings

MODEL_SHA256 = REPO_ROOT / "oracle" / "model" / "grader.onnx.sha256"
PRODUCER = demo_account(6)
COUNCIL = [demo_account(i) for i in range(1, 4)]
MANGO = 201


def _kill9(stack: Stack, name: str) -> None:
    pid = stack.pid(name)
    assert pid is not None, f"{name} is not running"
    os.killpg(pid, signal.SIGKILL)
    while stack.pid(name) is not None:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    settings = local_stack_settings(root)
    stack = Stack(settings)
    stack.start("chain")
    stack.start("evidence")
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url))
    members = [demo_account(i).address for i in range(1, 6)]
    deploy_all(w3, demo_account(0), members, 3, settings.network).save(settings.deployment_file)
    chain = Chain(settings)
    grants = Grants(chain)
    registry = chain.contract("AttestationRegistry")
    council_decision(grants, demo_account(0), "AddOracleKey", {"registry": registry.address,
                     "key": demo_account(ORACLE_DEMO_ACCOUNT).address}, COUNCIL)  # fmt: skip
    model = bytes.fromhex(MODEL_SHA256.read_text().split()[0])
    council_decision(
        grants, demo_account(0), "ApproveModel", {"registry": registry.address, "modelSha256": model}, COUNCIL
    )
    yield stack, chain
    stack.stop_all()


def _register_batches(chain: Chain, store: RpcStore, count: int, seed: int) -> list[int]:
    provenance = chain.contract("BatchProvenance")
    ids = []
    for i in range(count):
        photos = {f"lot-{k}.jpg": render(seed, i * 3 + k, marker=True)[0] for k in range(2)}
        record = {"lot": f"FT-{seed}-{i}", "fruit_weight_g": 350}
        bundle = build_bundle(store, record, photos).onchain
        send(
            chain.w3,
            PRODUCER,
            provenance.functions.register(bundle.digest, bundle.codec, MANGO, 50_000, 20_400),
        )
        ids.append(provenance.functions.totalSupply().call())
    return ids


def _attestations(chain: Chain) -> Counter:
    registry = chain.contract("AttestationRegistry")
    logs = registry.events.Attested().get_logs(from_block=chain.deployment.block)
    return Counter("0x" + bytes(e["args"]["evidence"]).hex() for e in logs)


def _registered_evidence(chain: Chain) -> dict[str, tuple[int, int]]:
    provenance = chain.contract("BatchProvenance")
    logs = provenance.events.BatchRegistered().get_logs(from_block=chain.deployment.block)
    return {
        "0x" + bytes(e["args"]["evidence"]).hex(): (e["args"]["batchId"], e["args"]["codec"]) for e in logs
    }


def _wait_until_all_graded(chain: Chain, timeout: float = 120) -> Counter:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = _attestations(chain)
        if set(_registered_evidence(chain)) <= set(counts):
            return counts
        time.sleep(0.5)
    pytest.fail(f"not every batch was graded within {timeout:.0f} s")


def _oracle_crash_pass(
    stack: Stack, chain: Chain, store: RpcStore, rng: random.Random, batches: int, kills: int
):
    _register_batches(chain, store, batches, rng.randrange(10_000))
    stack.start("oracle")
    for _ in range(kills):
        time.sleep(rng.uniform(0.2, 2.5))  # somewhere in scan, grade, sign or post
        _kill9(stack, "oracle")
        stack.start("oracle")
    counts = _wait_until_all_graded(chain)
    doubled = {evidence: n for evidence, n in counts.items() if n != 1}
    assert not doubled, f"evidence attested more than once: {doubled}"


def _check_every_onchain_cid(stack: Stack, chain: Chain) -> None:
    """Every registered CID is served whole: each block hashes to its CID (gateway CAR, verified here)."""
    gateway = stack.settings.gateway_url
    with httpx.Client(timeout=30) as http:
        for digest, (_, codec) in _registered_evidence(chain).items():
            cid = cid_string(digest, codec)
            response = http.get(f"{gateway}/ipfs/{cid}", params={"format": "car"})
            assert response.status_code == 200, (cid, response.text[:200])
            verify_car(cid, response.content)


def _check_site_matches_chain(stack: Stack, chain: Chain) -> None:
    provenance = chain.contract("BatchProvenance")
    counts = _attestations(chain)
    with httpx.Client(timeout=30) as http:
        for evidence, (batch_id, _) in _registered_evidence(chain).items():
            page = http.get(f"{stack.settings.public_url}/api/batches/{batch_id}")
            assert page.status_code == 200, page.text[:300]
            body = page.json()
            holder = provenance.functions.ownerOf(batch_id).call()
            assert holder.lower() in page.text.lower(), f"batch {batch_id}: holder {holder} missing"
            assert counts[evidence] == 1
            assert body, "empty batch history"


class _Trickle(io.RawIOBase):
    """A slow uploader: 1 MiB every 25 ms, so the node is killed while bytes are still arriving."""

    def __init__(self, data: bytes):
        self._view = memoryview(data)
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        time.sleep(0.025)
        n = min(len(buffer), 1 << 20, len(self._view) - self._at)
        buffer[:n] = self._view[self._at : self._at + n]
        self._at += n
        return n


def _cut_upload_then_retry(stack: Stack, rng: random.Random) -> None:
    """Kill the node while a large upload streams in: nothing of it is visible; a retry stores it whole."""
    data = rng.randbytes(48 * 1024 * 1024)
    expected = cid_str(import_bytes(data).cid)  # what the node must answer, computed here
    store = RpcStore(stack.settings.evidence_api_url, timeout=30)

    def upload() -> None:
        with contextlib.suppress(EvidenceError):  # the node dies under it, as intended
            store.add_stream(_Trickle(data), "big.bin")

    uploader = threading.Thread(target=upload)
    uploader.start()
    time.sleep(rng.uniform(0.05, 0.3))  # the trickle takes over a second: the kill lands mid-upload
    _kill9(stack, "evidence")
    uploader.join(timeout=60)
    store.close()
    stack.start("evidence")
    with httpx.Client(timeout=30) as http:
        assert http.get(f"{stack.settings.gateway_url}/ipfs/{expected}").status_code == 404
    retry = RpcStore(stack.settings.evidence_api_url, timeout=60)
    try:
        assert retry.add_bytes(data, "big.bin") == expected
    finally:
        retry.close()
    with httpx.Client(timeout=60) as http:
        response = http.get(f"{stack.settings.gateway_url}/ipfs/{expected}", params={"format": "car"})
        assert response.status_code == 200
        assert verify_car(expected, response.content).read() == data


def _one_pass(stack: Stack, chain: Chain, rng: random.Random, batches: int, kills: int) -> None:
    store = RpcStore(stack.settings.evidence_api_url)
    try:
        _oracle_crash_pass(stack, chain, store, rng, batches, kills)
    finally:
        store.close()
    _cut_upload_then_retry(stack, rng)
    stack.start("web", timeout=90)
    _kill9(stack, "web")
    stack.start("web", timeout=90)
    _check_every_onchain_cid(stack, chain)
    _check_site_matches_chain(stack, chain)


def test_kill9_during_grading_upload_and_serving__nothing_lost_nothing_doubled(stack):
    services, chain = stack
    _one_pass(services, chain, random.Random(1), batches=4, kills=2)


@pytest.mark.slow
@pytest.mark.parametrize("run", range(10))
def test_kill9_at_random_points__ten_runs(stack, run):
    services, chain = stack
    _one_pass(services, chain, random.Random(100 + run), batches=3, kills=3)
