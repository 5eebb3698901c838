"""Cold-chain verdicts: what the oracle concludes from a transport's temperature log.

The numbers and the EIP-712 `ColdChain` message are the registry's
(`contracts/modules/coldchain_attestations.vy`, same domain as grading attestations, see
`tambon.attestation`); the analysis that produces them lives in `oracle/coldchain`. The oracle signs
here and the website checks here, so both hash the same bytes as the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from eth_utils import keccak

from tambon.attestation import AttestationError, MerkleBatch, RegistryStruct, _bytes32, registry_domain
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
class ColdChainAttestation(RegistryStruct):
    """One cold-chain verdict, field for field the registry's `ColdChain` struct."""

    FIELDS: ClassVar = COLDCHAIN_FIELDS
    TYPEHASH: ClassVar = COLDCHAIN_TYPEHASH
    NOUN: ClassVar = "cold-chain attestation"

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


def coldchain_typed_data(item: ColdChainAttestation, chain_id: int, registry: str) -> dict[str, Any]:
    """The `eth_signTypedData_v4` JSON for one cold-chain verdict."""
    return typed_data("ColdChain", item.message(), registry_domain(chain_id, registry), COLDCHAIN_TYPES)


def sign_coldchain(
    item: ColdChainAttestation, private_key: bytes | str, chain_id: int, registry: str
) -> bytes:
    """65-byte low-s signature for `attestColdChain`."""
    return sign(coldchain_typed_data(item, chain_id, registry), private_key)


def recover_coldchain(
    item: ColdChainAttestation, signature: bytes | str, chain_id: int, registry: str
) -> str:
    return recover(coldchain_typed_data(item, chain_id, registry), signature)


COLDCHAIN_BATCH = MerkleBatch(
    "ColdChainRoot", COLDCHAIN_TYPES, "attestColdChainMany", "cold-chain attestation"
)
coldchain_root_typed_data = COLDCHAIN_BATCH.typed_data
coldchain_batch_root = COLDCHAIN_BATCH.root
sign_coldchain_batch = COLDCHAIN_BATCH.sign
recover_coldchain_batch_item = COLDCHAIN_BATCH.recover_item
