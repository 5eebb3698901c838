"""Cold-chain verdicts: what the oracle concludes from a transport's temperature log.

The numbers and the EIP-712 `ColdChain` message are the registry's
(`contracts/modules/coldchain_attestations.vy`, same domain as grading attestations, see
`tambon.attestation`); the analysis that produces them lives in `oracle/coldchain`. The oracle signs
here and the website checks here, so both hash the same bytes as the contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak

from tambon.attestation import (
    MAX_BATCH_ITEMS,
    AttestationError,
    _bytes32,
    merkle_root,
    registry_domain,
    verify_proof,
)
from tambon.errors import SignatureError
from tambon.typed_data import _fields, recover, sign, type_string, typed_data


class Verdict(IntEnum):
    """A transport's cold-chain verdict, as `uint8` on chain."""

    OK = 0  # kept inside the crop's band (short allowed blips aside)
    EXCURSION = 1  # too long outside the band (usually too warm)
    CHILLING_RISK = 2  # long enough below the crop's chilling limit to risk chilling injury
    UNRELIABLE_LOG = 3  # the log cannot support any conclusion: never a pass


#: The contract's `ColdChain` struct, in order: (python attribute, typed-data key, Solidity type).
COLDCHAIN_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("batch_id", "batchId", "uint256"),
    ("log_cid", "logCid", "bytes32"),
    ("verdict", "verdict", "uint8"),
    ("minutes_out_of_range", "minutesOutOfRange", "uint32"),
    ("mkt_centi_c", "mktCentiC", "int16"),
    ("shelf_life_days", "shelfLifeDays", "uint16"),
    ("rules_sha256", "rulesSha256", "bytes32"),
    ("analysed_at", "analysedAt", "uint64"),
)
COLDCHAIN_SPEC = ",".join(f"{kind} {key}" for _, key, kind in COLDCHAIN_FIELDS)
COLDCHAIN_TYPES: dict[str, list[dict[str, str]]] = {
    "ColdChain": _fields(COLDCHAIN_SPEC),
    "ColdChainRoot": _fields("bytes32 root,uint256 count"),
}
COLDCHAIN_TYPEHASH = keccak(text=type_string("ColdChain", COLDCHAIN_TYPES))
COLDCHAIN_ROOT_TYPEHASH = keccak(text=type_string("ColdChainRoot", COLDCHAIN_TYPES))


@dataclass(frozen=True)
class ColdChainAttestation:
    """One cold-chain verdict, field for field the registry's `ColdChain` struct."""

    batch_id: int
    log_cid: bytes  # sha2-256 digest of the TRANSPORT step's evidence CID
    verdict: Verdict
    minutes_out_of_range: int
    mkt_centi_c: int  # mean kinetic temperature in 0.01 °C
    shelf_life_days: int
    rules_sha256: bytes
    analysed_at: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "log_cid", _bytes32(self.log_cid, "log CID digest"))
        object.__setattr__(self, "rules_sha256", _bytes32(self.rules_sha256, "rules sha256"))
        try:
            object.__setattr__(self, "verdict", Verdict(int(self.verdict)))
        except ValueError as exc:
            raise AttestationError(f"verdict must be 0..3, got {self.verdict}") from exc
        limits = {
            "batch id": (self.batch_id, 1, 2**64 - 1),
            "minutes out of range": (self.minutes_out_of_range, 0, 2**32 - 1),
            "MKT (0.01 °C)": (self.mkt_centi_c, -(2**15), 2**15 - 1),
            "shelf-life days": (self.shelf_life_days, 0, 2**16 - 1),
            "analysedAt": (self.analysed_at, 0, 2**64 - 1),
        }
        for what, (value, low, high) in limits.items():
            if not low <= int(value) <= high:
                raise AttestationError(f"{what} must be {low}..{high}, got {value}")

    def as_tuple(self) -> tuple[Any, ...]:
        """Argument form for contract calls (`attestColdChain(item.as_tuple(), sig)`)."""
        return tuple(
            int(v) if isinstance(v, int) else v for v in (getattr(self, a) for a, _, _ in COLDCHAIN_FIELDS)
        )

    def message(self) -> dict[str, Any]:
        return {key: value for (_, key, _), value in zip(COLDCHAIN_FIELDS, self.as_tuple(), strict=True)}

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> ColdChainAttestation:
        """From typed-data JSON or a decoded `ColdChainAttested` log."""
        try:
            values = {attr: message[key] for attr, key, _ in COLDCHAIN_FIELDS}
        except KeyError as exc:
            raise AttestationError(f"cold-chain attestation lacks {exc.args[0]}") from exc
        for attr, _, kind in COLDCHAIN_FIELDS:
            if kind != "bytes32":
                values[attr] = int(values[attr])
        return cls(**values)

    def struct_hash(self) -> bytes:
        """EIP-712 `hashStruct` (also its Merkle leaf)."""
        return keccak(
            abi_encode(
                ["bytes32", *(k for _, _, k in COLDCHAIN_FIELDS)], [COLDCHAIN_TYPEHASH, *self.as_tuple()]
            )
        )


def coldchain_typed_data(item: ColdChainAttestation, chain_id: int, registry: str) -> dict[str, Any]:
    """The `eth_signTypedData_v4` JSON for one cold-chain verdict."""
    return typed_data("ColdChain", item.message(), registry_domain(chain_id, registry), COLDCHAIN_TYPES)


def coldchain_root_typed_data(root: bytes, count: int, chain_id: int, registry: str) -> dict[str, Any]:
    return typed_data(
        "ColdChainRoot",
        {"root": _bytes32(root, "Merkle root"), "count": int(count)},
        registry_domain(chain_id, registry),
        COLDCHAIN_TYPES,
    )


def sign_coldchain(
    item: ColdChainAttestation, private_key: bytes | str, chain_id: int, registry: str
) -> bytes:
    """65-byte low-s signature for `attestColdChain`."""
    return sign(coldchain_typed_data(item, chain_id, registry), private_key)


def recover_coldchain(
    item: ColdChainAttestation, signature: bytes | str, chain_id: int, registry: str
) -> str:
    return recover(coldchain_typed_data(item, chain_id, registry), signature)


def coldchain_batch_root(items: Sequence[ColdChainAttestation]) -> bytes:
    if len(items) > MAX_BATCH_ITEMS:
        raise AttestationError(f"attestColdChainMany takes at most {MAX_BATCH_ITEMS} items, got {len(items)}")
    return merkle_root([i.struct_hash() for i in items])


def sign_coldchain_batch(
    items: Sequence[ColdChainAttestation], private_key: bytes | str, chain_id: int, registry: str
) -> tuple[bytes, bytes]:
    """(root, signature) for `attestColdChainMany(items, signature)`."""
    root = coldchain_batch_root(items)
    return root, sign(coldchain_root_typed_data(root, len(items), chain_id, registry), private_key)


def recover_coldchain_batch_item(
    item: ColdChainAttestation,
    proof: Sequence[bytes],
    root: bytes,
    count: int,
    signature: bytes | str,
    chain_id: int,
    registry: str,
) -> str:
    """Signer of the batch `item` belongs to, after checking its Merkle proof against `root`."""
    if not verify_proof(item.struct_hash(), proof, root):
        raise SignatureError("cold-chain attestation is not in the signed Merkle batch")
    return recover(coldchain_root_typed_data(root, count, chain_id, registry), signature)
