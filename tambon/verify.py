"""The buyer's checks: pure functions over chain facts and evidence proofs.

Each check answers pass, fail or unknown with a sentence a buyer can read. The verify page, the
JSON API and `tambon verify batch ID` all call these, so the website and the command line can never
disagree about a lot:
- evidence: the bytes served for an on-chain CID prove that CID (the proof is computed by the caller);
- signature: the attestation in the relaying transaction's calldata recovers to the logged signer;
- key: that oracle key was active when the attestation was recorded and has not been revoked since;
- model: the model hash was approved at that time and is still approved;
- graded_evidence: what the oracle graded is evidence recorded in this lot's history;
- producer: the minter is a community enterprise registered by the council.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from tambon.attestation import (
    Attestation,
    RegistryStruct,
    merkle_levels,
    proof_in,
    recover_attestation,
    recover_batch_item,
)
from tambon.errors import SignatureError, TambonError

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # evidence | signature | key | model | graded_evidence | producer
    status: str  # pass | fail | unknown
    detail: str


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def producer_check(status: str, registration_id: str | None) -> Check:
    """`status`: registered | revoked | unregistered, as the council's producer registry has it."""
    if status == "registered":
        return Check("producer", PASS, f"registered by the council as {registration_id}")
    if status == "revoked":
        return Check("producer", FAIL, "the council revoked this producer's registration")
    return Check("producer", UNKNOWN, "the producer is not a registered community enterprise")


def key_check(activated_at: int, revoked_at: int, attested_at: int) -> Check:
    """The oracle key was active when the attestation was recorded and is not revoked now."""
    if activated_at == 0 or activated_at > attested_at:
        return Check("key", FAIL, "the signing key was not an active oracle key at attestation time")
    if revoked_at and revoked_at < attested_at:
        return Check("key", FAIL, "the signing key was already revoked at attestation time")
    if revoked_at:
        # the registry refuses revoked keys, so a recorded attestation predates the revocation
        return Check(
            "key", FAIL, f"the council revoked this oracle key on {_iso(revoked_at)}, after this attestation"
        )
    return Check("key", PASS, f"oracle key active since {_iso(activated_at)}, not revoked")


def model_check(approved_at: int, revoked_at: int, attested_at: int) -> Check:
    if approved_at == 0 or approved_at > attested_at:
        return Check("model", FAIL, "the model was not approved at attestation time")
    if revoked_at:
        return Check("model", FAIL, f"the council withdrew approval of this model on {_iso(revoked_at)}")
    return Check("model", PASS, f"model approved since {_iso(approved_at)}")


def graded_evidence_check(in_history: bool) -> Check:
    if in_history:
        return Check("graded_evidence", PASS, "the graded evidence is recorded in this batch's history")
    return Check("graded_evidence", FAIL, "the graded evidence is not part of this batch's history")


def evidence_check(status: str | None, detail: str) -> Check:
    """The result of proving an on-chain CID against the bytes the store serves (None: no CID)."""
    if status is None:
        return Check("evidence", UNKNOWN, "no evidence recorded")
    return Check("evidence", status, detail)


def _attestation_from_args(value: Any) -> Attestation:
    return Attestation.from_message(value) if isinstance(value, Mapping) else Attestation(*value)


@lru_cache(maxsize=512)
def batch_tree(items: tuple[RegistryStruct, ...]) -> tuple[tuple[bytes, ...], ...]:
    """The Merkle tree of one batch call's items (attestMany's grades, attestColdChainMany's verdicts),
    built once for all the lots it covers: each lot's page checks its own item against it."""
    return tuple(map(tuple, merkle_levels([a.struct_hash() for a in items])))


def signature_check(
    att: Attestation, signer: str, call: tuple[str, Mapping[str, Any]] | None, chain_id: int, registry: str
) -> Check:
    """Recover the attestation's signer from the calldata (function, arguments) that recorded it."""
    if call is None:
        return Check(
            "signature", UNKNOWN, "relayed through another contract; the registry verified it on-chain"
        )
    name, args = call
    try:
        if name == "attest":
            recovered = recover_attestation(att, args["signature"], chain_id, registry)
        elif name == "attestMany":
            items = tuple(_attestation_from_args(a) for a in args["attestations"])
            levels = batch_tree(items)
            recovered = recover_batch_item(
                att, proof_in(levels, items.index(att)), levels[-1][0], len(items), args["signature"],
                chain_id, registry,
            )  # fmt: skip
        else:
            return Check("signature", UNKNOWN, f"recorded by an unexpected call {name}")
    except (SignatureError, ValueError, TambonError) as exc:
        return Check("signature", FAIL, f"signature does not verify: {exc}")
    if recovered.lower() != signer.lower():
        return Check(
            "signature", FAIL, f"signature recovers to {recovered}, not to the logged signer {signer}"
        )
    return Check("signature", PASS, f"EIP-712 signature recovers to oracle key {recovered}")


def summary(checks: list[Check]) -> dict[str, int]:
    counts = {PASS: 0, FAIL: 0, UNKNOWN: 0}
    for c in checks:
        counts[c.status] += 1
    return counts
