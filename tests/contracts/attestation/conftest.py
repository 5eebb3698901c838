"""Personas and factories for AttestationRegistry tests."""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account

from tambon.attestation import Attestation, Grade, sign_attestation, sign_batch

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def sha(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def high_s(signature: bytes) -> bytes:
    """The malleable twin of a valid signature: s -> n - s, v flipped; recovers the same key."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


@pytest.fixture(scope="session")
def council(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def relayer(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[9]


@pytest.fixture(scope="session")
def oracle():
    return Account.from_key(sha("tambon test oracle key"))


@pytest.fixture(scope="session")
def second_oracle():
    return Account.from_key(sha("tambon second oracle key"))


@pytest.fixture(scope="session")
def model():
    return sha("grader-v1.onnx")


@pytest.fixture(scope="session", autouse=True)
def _personas(council, relayer, attacker):
    """Resolve the session personas before any module snapshot."""


@pytest.fixture(scope="module")
def registry(project, council, oracle, second_oracle, model):
    contract = project.attestation_registry.deploy(council, sender=council)
    contract.addOracleKey(oracle.address, sender=council)
    contract.addOracleKey(second_oracle.address, sender=council)
    contract.approveModel(model, sender=council)
    return contract


@pytest.fixture
def make_attestation(model, registry, chain):
    # Both keys are active by the head block, so gradings dated from it on are in range.
    graded_at = chain.blocks.head.timestamp

    def make(i: int = 0, **overrides) -> Attestation:
        fields = {
            "batch_id": 1 + i,
            "evidence": sha(f"evidence-{i}"),
            "grade": Grade.CLASS_I,
            "size_code": 2,
            "confidence_bps": 9_050,
            "model_sha256": model,
            "graded_at": graded_at + i,
        }
        return Attestation(**(fields | overrides))

    return make


@pytest.fixture
def sign_for(registry, chain):
    """Sign an attestation for this registry (or another chain id / contract when given)."""

    def sign(att: Attestation, key, chain_id: int | None = None, contract: str | None = None) -> bytes:
        return sign_attestation(att, key.key, chain_id or chain.chain_id, contract or registry.address)

    return sign


@pytest.fixture
def sign_many(registry, chain):
    def sign(atts, key, chain_id: int | None = None) -> tuple[bytes, bytes]:
        return sign_batch(atts, key.key, chain_id or chain.chain_id, registry.address)

    return sign
