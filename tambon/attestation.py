"""Oracle attestations: EIP-712 typed data, signing, recovery and the Merkle batch format.

The contract is `contracts/attestation_registry.vy`; its domain is ("Tambon AttestationRegistry", "1",
chainId, registry address) and it accepts two messages:

- `Attestation(uint256 batchId,bytes32 evidence,uint8 grade,uint8 sizeCode,uint16 confidenceBps,
  bytes32 modelSha256,uint64 gradedAt)` — one grading result, posted with `attest`;
- `AttestationRoot(bytes32 root,uint256 count)` — one signature over the Merkle root of many
  attestations, posted with `attestMany`. Leaves are the EIP-712 struct hashes of the attestations in
  order; a parent is keccak256 of its two children sorted ascending; an odd node at the end of a level
  moves up unchanged. `merkle_proof` / `verify_proof` let a verifier check one item of such a batch.

Both the oracle (signing) and the website (checking) use this module, so the JSON a wallet or the
oracle signs is the same bytes the contract hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from typing import Any, ClassVar, Self

from eth_utils import keccak

from tambon.errors import SignatureError, TambonError
from tambon.typed_data import _fields, digest, domain, recover, sign, type_string, typed_data

REGISTRY_DOMAIN_NAME = "Tambon AttestationRegistry"
MAX_CONFIDENCE_BPS = 10_000
MAX_BATCH_ITEMS = 64  # contract's MAX_ITEMS for attestMany


class AttestationError(TambonError, ValueError):
    """An attestation's fields are out of range or its batch format is wrong."""

    http_status = 400


class Grade(IntEnum):
    """Grades as `uint8` on-chain (same numbers in contracts/attestation_registry.vy)."""

    ABSTAIN = 0  # below the confidence threshold: needs human review
    EXTRA = 1
    CLASS_I = 2
    CLASS_II = 3
    REJECT = 4


#: The `Attestation` struct, written once: (Python attribute, JSON/Solidity name, Solidity type) in the
#: contract's type-string order. Typed data, the calldata tuple, the struct hash and log decoding derive
#: from it, so adding a field is one line here plus the contract.
ATTESTATION_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("batch_id", "batchId", "uint256"),
    ("evidence", "evidence", "bytes32"),
    ("grade", "grade", "uint8"),
    ("size_code", "sizeCode", "uint8"),
    ("confidence_bps", "confidenceBps", "uint16"),
    ("model_sha256", "modelSha256", "bytes32"),
    ("graded_at", "gradedAt", "uint64"),
)
#: The fields' Solidity types, in order (ABI-encoding an attestation's tuple).
ATTESTATION_ABI_TYPES: tuple[str, ...] = tuple(kind for _, _, kind in ATTESTATION_FIELDS)
#: The fields as an EIP-712 / ABI parameter list: "uint256 batchId,bytes32 evidence,…".
ATTESTATION_SPEC = ",".join(f"{kind} {key}" for _, key, kind in ATTESTATION_FIELDS)

#: Message types by primary type name; field order is the contract's type string order.
ATTESTATION_TYPES: dict[str, list[dict[str, str]]] = {
    "Attestation": _fields(ATTESTATION_SPEC),
    "AttestationRoot": _fields("bytes32 root,uint256 count"),
}
ATTESTATION_TYPE = type_string("Attestation", ATTESTATION_TYPES)
ATTESTATION_TYPEHASH = keccak(text=ATTESTATION_TYPE)
ATTESTATION_ROOT_TYPEHASH = keccak(text=type_string("AttestationRoot", ATTESTATION_TYPES))


def _bytes32(value: bytes | str, what: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise AttestationError(f"{what} is 32 bytes, got {len(raw)}")
    return raw


def _abi_word(name: str, kind: str) -> Callable[[Any], bytes]:
    """How one static field (uintN, intN, bytes32) becomes its 32-byte ABI word, as eth-abi encodes it:
    a batch call's tree hashes up to 64 structs on a lot's page, where eth-abi's general encoder cost
    three times as much."""
    if kind == "bytes32":
        return lambda value: _bytes32(value, name)
    signed = kind.startswith("int")
    bits = int(kind.removeprefix("int" if signed else "uint"))
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    def word(value: Any) -> bytes:
        if not low <= value <= high:
            raise AttestationError(f"{name} must fit {kind}, got {value}")
        return int(value).to_bytes(32, "big", signed=signed)

    return word


class RegistryStruct:
    """A struct the registry verifies by EIP-712, written once as `FIELDS`: the typed-data message,
    the calldata tuple, decoding and the struct hash (its Merkle leaf) derive from it."""

    #: (Python attribute, JSON/Solidity name, Solidity type), in the contract's type-string order
    FIELDS: ClassVar[tuple[tuple[str, str, str], ...]]
    TYPEHASH: ClassVar[bytes]
    #: what an error calls one of these
    NOUN: ClassVar[str]
    #: each field's ABI word (`_abi_word`), in order
    _WORDS: ClassVar[tuple[Callable[[Any], bytes], ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._WORDS = tuple(_abi_word(key, kind) for _, key, kind in cls.FIELDS)

    def as_tuple(self) -> tuple[Any, ...]:
        """Argument form for contract calls (`attest(att.as_tuple(), sig)`), in struct order."""
        return tuple(
            int(v) if isinstance(v, int) else v for v in (getattr(self, a) for a, _, _ in self.FIELDS)
        )

    def message(self) -> dict[str, Any]:
        """The typed-data `message` (JSON field names)."""
        return {key: value for (_, key, _), value in zip(self.FIELDS, self.as_tuple(), strict=True)}

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> Self:
        """From typed-data JSON or a decoded log/struct with the contract's field names."""
        try:
            values = {attr: message[key] for attr, key, _ in cls.FIELDS}
        except KeyError as exc:
            raise AttestationError(f"{cls.NOUN} field {exc.args[0]} is missing") from None
        for attr, _, kind in cls.FIELDS:
            if kind != "bytes32":
                values[attr] = int(values[attr])
        return cls(**values)

    def struct_hash(self) -> bytes:
        """EIP-712 `hashStruct` (also the Merkle leaf of a batch): every field is static, so it is
        keccak256 of the type hash and one ABI word per field."""
        words = (word(value) for word, value in zip(self._WORDS, self.as_tuple(), strict=True))
        return keccak(b"".join((self.TYPEHASH, *words)))


@dataclass(frozen=True)
class Attestation(RegistryStruct):
    """One grading result, field for field the contract's `Attestation` struct."""

    FIELDS: ClassVar = ATTESTATION_FIELDS
    TYPEHASH: ClassVar = ATTESTATION_TYPEHASH
    NOUN: ClassVar = "attestation"

    batch_id: int
    evidence: bytes
    grade: Grade
    size_code: int
    confidence_bps: int
    model_sha256: bytes
    graded_at: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", _bytes32(self.evidence, "evidence digest"))
        object.__setattr__(self, "model_sha256", _bytes32(self.model_sha256, "model sha256"))
        try:
            object.__setattr__(self, "grade", Grade(int(self.grade)))
        except ValueError as exc:
            raise AttestationError(f"grade must be 0..4, got {self.grade}") from exc
        if not 0 < self.batch_id < 2**64:
            raise AttestationError(f"batch id must be 1..2**64-1, got {self.batch_id}")
        if not 0 <= self.size_code < 256:
            raise AttestationError(f"size code must fit uint8, got {self.size_code}")
        if not 0 <= self.confidence_bps <= MAX_CONFIDENCE_BPS:
            raise AttestationError(f"confidence must be 0..10000 bps, got {self.confidence_bps}")
        if not 0 <= self.graded_at < 2**64:
            raise AttestationError(f"gradedAt must fit uint64, got {self.graded_at}")


def sample_attestation(batch_id: int, evidence: bytes, model_sha256: bytes, graded_at: int) -> Attestation:
    """A typical confident Class I grading of `batch_id`, for benchmarks and seeded worlds, so they
    measure and show a realistic attestation; a new field gets its sample value here."""
    return Attestation(
        batch_id=batch_id,
        evidence=evidence,
        grade=Grade.CLASS_I,
        size_code=3,
        confidence_bps=9_120,
        model_sha256=model_sha256,
        graded_at=graded_at,
    )


def registry_domain(chain_id: int, registry: str) -> dict[str, Any]:
    return domain(REGISTRY_DOMAIN_NAME, chain_id, registry)


def attestation_typed_data(att: Attestation, chain_id: int, registry: str) -> dict[str, Any]:
    """The `eth_signTypedData_v4` JSON for one attestation."""
    return typed_data("Attestation", att.message(), registry_domain(chain_id, registry), ATTESTATION_TYPES)


def attestation_digest(att: Attestation, chain_id: int, registry: str) -> bytes:
    return digest(attestation_typed_data(att, chain_id, registry))


def sign_attestation(att: Attestation, private_key: bytes | str, chain_id: int, registry: str) -> bytes:
    """65-byte low-s signature for `attest`."""
    return sign(attestation_typed_data(att, chain_id, registry), private_key)


def recover_attestation(att: Attestation, signature: bytes | str, chain_id: int, registry: str) -> str:
    """Checksummed address that signed `att`; raises SignatureError on a bad or high-s signature."""
    return _attestation_signer(att, _hashable(signature), chain_id, registry)


# A lot's page checks its attestations' signatures on every render, and it is rendered again whenever
# the lot moves: a signature's signer, once recovered, is kept (a failure is not, and raises again).
@lru_cache(maxsize=4096)
def _attestation_signer(att: Attestation, signature: bytes | str, chain_id: int, registry: str) -> str:
    return recover(attestation_typed_data(att, chain_id, registry), signature)


def _hashable(signature: bytes | bytearray | str) -> bytes | str:
    return signature if isinstance(signature, str) else bytes(signature)


# Merkle batches (attestMany)


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def _next_level(level: list[bytes]) -> list[bytes]:
    pairs = range(0, len(level), 2)
    return [_hash_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in pairs]


def merkle_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree as the contract builds it (sorted pairs, odd last node moves up), the
    leaves first and the root last."""
    if not leaves:
        raise AttestationError("a Merkle batch needs at least one attestation")
    levels = [[bytes(x) for x in leaves]]
    while len(levels[-1]) > 1:
        levels.append(_next_level(levels[-1]))
    return levels


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root as the contract builds it."""
    return merkle_levels(leaves)[-1][0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf `index` up to the root (levels where it has no sibling are skipped)."""
    if not 0 <= index < len(leaves):
        raise AttestationError(f"leaf index {index} outside 0..{len(leaves) - 1}")
    return proof_in(merkle_levels(leaves), index)


def proof_in(levels: Sequence[Sequence[bytes]], index: int) -> list[bytes]:
    """`merkle_proof` read from a tree's `merkle_levels`, built once for all its leaves."""
    proof: list[bytes] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def verify_proof(leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    node = bytes(leaf)
    for sibling in proof:
        node = _hash_pair(node, bytes(sibling))
    return node == bytes(root)


@dataclass(frozen=True)
class MerkleBatch:
    """A registry entry point that takes many structs under one signature over their Merkle root
    (`<ROOT_TYPE>(bytes32 root,uint256 count)` in the registry's domain)."""

    root_type: str
    types: dict[str, list[dict[str, str]]]
    entry_point: str
    noun: str
    #: signers of the roots recovered so far: every lot a batch call covers checks its item against
    #: the same root and signature, on every render of its page
    _root_signers: Callable[[bytes, int, bytes | str, int, str], str] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_root_signers", lru_cache(maxsize=1024)(self._recover_root))

    def _recover_root(
        self, root: bytes, count: int, signature: bytes | str, chain_id: int, registry: str
    ) -> str:
        return recover(self.typed_data(root, count, chain_id, registry), signature)

    def typed_data(self, root: bytes, count: int, chain_id: int, registry: str) -> dict[str, Any]:
        """The `eth_signTypedData_v4` JSON for a Merkle root of `count` items."""
        message = {"root": _bytes32(root, "Merkle root"), "count": int(count)}
        return typed_data(self.root_type, message, registry_domain(chain_id, registry), self.types)

    def root(self, items: Sequence[RegistryStruct]) -> bytes:
        if len(items) > MAX_BATCH_ITEMS:
            raise AttestationError(
                f"{self.entry_point} takes at most {MAX_BATCH_ITEMS} items, got {len(items)}"
            )
        return merkle_root([item.struct_hash() for item in items])

    def sign(
        self, items: Sequence[RegistryStruct], private_key: bytes | str, chain_id: int, registry: str
    ) -> tuple[bytes, bytes]:
        """(root, signature) for `<entry_point>(items, signature)`."""
        root = self.root(items)
        return root, sign(self.typed_data(root, len(items), chain_id, registry), private_key)

    def recover_item(
        self,
        item: RegistryStruct,
        proof: Sequence[bytes],
        root: bytes,
        count: int,
        signature: bytes | str,
        chain_id: int,
        registry: str,
    ) -> str:
        """Signer of the batch `item` belongs to, after checking its Merkle proof against `root`."""
        if not verify_proof(item.struct_hash(), proof, root):
            raise SignatureError(f"{self.noun} is not in the signed Merkle batch")
        return self._root_signers(bytes(root), int(count), _hashable(signature), chain_id, registry)

    def forget_signers(self) -> None:
        """Drop the roots' signers recovered so far."""
        self._root_signers.cache_clear()  # type: ignore[attr-defined]  # an lru_cache


ATTESTATION_BATCH = MerkleBatch("AttestationRoot", ATTESTATION_TYPES, "attestMany", "attestation")
root_typed_data = ATTESTATION_BATCH.typed_data
batch_root = ATTESTATION_BATCH.root
sign_batch = ATTESTATION_BATCH.sign
recover_batch_item = ATTESTATION_BATCH.recover_item


def forget_attestation_signers() -> None:
    """Drop every attestation and attestation root signer recovered so far: a process that never
    checked these signatures starts from here (what a cold render of a lot's page measures)."""
    _attestation_signer.cache_clear()
    ATTESTATION_BATCH.forget_signers()
