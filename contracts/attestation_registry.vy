# pragma version ~=0.4.3
"""
@title Tambon Trust attestation registry
@notice Records AI grading results for produce batches. An oracle grades a
        batch's evidence with an approved model and signs an EIP-712
        `Attestation`; anyone may relay it here. The owner (the council's
        GrantEscrow in production) adds and revokes oracle keys and
        approves model hashes (sha256 of the ONNX file).

        Grades (uint8): 0 ABSTAIN (needs human review), 1 EXTRA,
        2 CLASS_I, 3 CLASS_II, 4 REJECT. `confidenceBps` is 0..10000.

        Each (evidence, key) pair is attested at most once; the record
        (`attestation()`) keeps the relay time, and `keyStatus()` keeps
        the key's activation and revocation times, so a verifier sees when
        an attestation came from a key that has since been revoked.
        Revoking never erases records.

        Cold-chain verdicts on TRANSPORT temperature logs are a second kind
        of attestation (`modules/coldchain_attestations.vy`), signed by the
        same oracle keys in the same EIP-712 domain, citing a council-approved
        rule-set hash as grading cites an approved model.
@dev    One storage slot per attestation (keyed by keccak(evidence, key),
        packed: batch id, grade, size, confidence, gradedAt, attestedAt,
        model index); the per-batch list lives in the `Attested` logs,
        indexed by batch id and key.

        Typed data (domain: "Tambon AttestationRegistry", version "1",
        chainId, this contract):
          Attestation(uint256 batchId,bytes32 evidence,uint8 grade,
            uint8 sizeCode,uint16 confidenceBps,bytes32 modelSha256,
            uint64 gradedAt)
          AttestationRoot(bytes32 root,uint256 count)
        No deadline or nonce: an attestation is a dated statement of fact
        (`gradedAt`) whose unique key is (evidence, signer); replay is
        refused by that key, and a late relay still needs an active key
        and an approved model at relay time.

        `gradedAt` must lie in [the signing key's activation time,
        block.timestamp + 300 s]: a key cannot have graded before it was
        trusted, nor date a grading in the future (300 s allows the
        oracle's clock to run slightly ahead of the chain's).
"""

# @dev Owner (the council) manages oracle keys and approved models.
from snekmate.auth import ownable

initializes: ownable

# @dev Signer recovery; refuses high-s (malleable) signatures.
from snekmate.utils import ecdsa

# @dev EIP-712 domain separator and EIP-5267 `eip712Domain()`.
from snekmate.utils import eip712_domain_separator

initializes: eip712_domain_separator

# @dev Oracle keys, shared by grading and cold-chain attestations.
from modules import oracle_keys

initializes: oracle_keys[ownable := ownable]

# @dev Merkle root of a signed batch.
from modules import merkle

# @dev Cold-chain attestations: a second kind of fact, same keys and domain.
from modules import coldchain_attestations

initializes: coldchain_attestations[oracle_keys := oracle_keys, eip712_domain_separator := eip712_domain_separator]

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    ownable.renounce_ownership,
    eip712_domain_separator.eip712Domain,
    oracle_keys.keyStatus,
    oracle_keys.is_active_key,
    oracle_keys.addOracleKey,
    oracle_keys.revokeOracleKey,
    oracle_keys.modelStatus,
    oracle_keys.is_approved_model,
    oracle_keys.approveModel,
    oracle_keys.revokeModel,
    coldchain_attestations.attestColdChain,
    coldchain_attestations.attestColdChainMany,
    coldchain_attestations.is_coldchain_attested,
    coldchain_attestations.coldChainRecord,
    coldchain_attestations.coldChainDigest,
    coldchain_attestations.COLDCHAIN_TYPEHASH,
    coldchain_attestations.COLDCHAIN_ROOT_TYPEHASH,
)


# CONSTANTS

ABSTAIN: constant(uint8) = 0
EXTRA: constant(uint8) = 1
CLASS_I: constant(uint8) = 2
CLASS_II: constant(uint8) = 3
REJECT: constant(uint8) = 4

MAX_CONFIDENCE_BPS: constant(uint16) = 10_000
# @dev Most attestations one `attestMany` posts (one signed Merkle root).
MAX_ITEMS: constant(uint256) = merkle.MAX_ITEMS

ATTESTATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Attestation(uint256 batchId,bytes32 evidence,uint8 grade,uint8 sizeCode,uint16 confidenceBps,bytes32 modelSha256,uint64 gradedAt)"
)
ATTESTATION_ROOT_TYPEHASH: public(constant(bytes32)) = keccak256("AttestationRoot(bytes32 root,uint256 count)")

_U64: constant(uint256) = (1 << 64) - 1
# @dev How far `gradedAt` may run ahead of the block time (oracle clock skew).
MAX_CLOCK_SKEW: constant(uint256) = oracle_keys.MAX_CLOCK_SKEW


# STRUCTS

struct Attestation:
    batchId: uint256
    evidence: bytes32
    grade: uint8
    sizeCode: uint8
    confidenceBps: uint16
    modelSha256: bytes32
    gradedAt: uint64


struct AttestationRecord:
    batchId: uint256
    grade: uint8
    sizeCode: uint8
    confidenceBps: uint16
    modelSha256: bytes32
    gradedAt: uint64
    attestedAt: uint64
    keyActivatedAt: uint64
    keyRevokedAt: uint64


# STORAGE

# @dev keccak(evidence, key) -> batch id (64) | grade (8) | size (8) | confidence (16)
#      | gradedAt (64) | attestedAt (40) | model index (32); 0 = not attested.
_records: HashMap[bytes32, uint256]


# EVENTS

event Attested:
    batchId: indexed(uint256)
    signer: indexed(address)
    evidence: bytes32
    grade: uint8
    sizeCode: uint8
    confidenceBps: uint16
    modelSha256: bytes32
    gradedAt: uint64


event RootAttested:
    signer: indexed(address)
    root: bytes32
    count: uint256


@deploy
def __init__(owner_: address):
    """
    @notice Deploys the registry.
    @param owner_ Manages oracle keys and models: the council's GrantEscrow in production.
    """
    assert owner_ != empty(address), "registry: zero owner"
    ownable.__init__()
    ownable._transfer_ownership(owner_)
    eip712_domain_separator.__init__("Tambon AttestationRegistry", "1")


# ATTEST


@external
def attest(attestation: Attestation, signature: Bytes[65]) -> address:
    """
    @notice Records one attestation signed by an active oracle key; anyone may relay it.
    @param attestation The signed fields.
    @param signature 65-byte (r, s, v) or 64-byte EIP-2098 signature over
           the EIP-712 `Attestation`; s must be in the lower half.
    @return address The oracle key that signed.
    """
    signer: address = ecdsa._recover_sig(
        eip712_domain_separator._hash_typed_data_v4(self._hash_attestation(attestation)), signature
    )
    self._record(attestation, signer, oracle_keys._check_key(signer))
    return signer


@external
def attestMany(attestations: DynArray[Attestation, MAX_ITEMS], signature: Bytes[65]) -> address:
    """
    @notice Records up to 64 attestations with one signature over their Merkle root.
    @dev Trade-off, chosen for gas: per-item signatures would make every
         item verifiable alone and postable in any grouping, but cost an
         ecrecover (3,000 gas) and ~1,100 gas of signature calldata per
         item, above the 30,000 gas per item goal. Here the oracle signs
         EIP-712 `AttestationRoot(root, count)` once; the contract rebuilds
         the root from the items, so a relayer must post exactly the signed
         set (a subset, an extra or a changed item gives another root and
         fails; swapping two siblings keeps the root, which is harmless as
         records are keyed by (evidence, key), not by position).
         Leaves are the EIP-712 struct hashes of the items in order; a node
         is keccak256 of its two children sorted ascending (OpenZeppelin's
         commutative pair hash); an odd node at the end of a level moves up
         unchanged. An item's proof (siblings) is rebuilt off-chain from the
         `Attested` logs of the transaction (tambon.attestation.merkle_proof)
         and checked with `RootAttested`'s root and the signature in the
         transaction's calldata.
    @param attestations The signed items (1 to 64), in the signed order.
    @param signature Signature over the EIP-712 `AttestationRoot`.
    @return address The oracle key that signed.
    """
    count: uint256 = len(attestations)
    assert count != 0, "registry: no attestations"
    leaves: DynArray[bytes32, MAX_ITEMS] = []
    for a: Attestation in attestations:
        leaves.append(self._hash_attestation(a))
    root: bytes32 = merkle._merkle_root(leaves)
    signer: address = ecdsa._recover_sig(
        eip712_domain_separator._hash_typed_data_v4(keccak256(abi_encode(ATTESTATION_ROOT_TYPEHASH, root, count))),
        signature,
    )
    activated_at: uint256 = oracle_keys._check_key(signer)
    for a: Attestation in attestations:
        self._record(a, signer, activated_at)
    log RootAttested(signer=signer, root=root, count=count)
    return signer


# VIEWS


@external
@view
def is_attested(evidence: bytes32, key: address) -> bool:
    """
    @notice Whether `key` has attested `evidence`.
    @param evidence sha2-256 digest of the graded evidence CID.
    @param key The oracle key.
    @return bool True once attested (stays true after the key is revoked).
    """
    return self._records[self._record_key(evidence, key)] != 0


@external
@view
def attestation(evidence: bytes32, key: address) -> AttestationRecord:
    """
    @notice The stored attestation of `evidence` by `key`, with the key's history.
    @param evidence sha2-256 digest of the graded evidence CID.
    @param key The oracle key.
    @return AttestationRecord batch id, grade, size code, confidence, model
            sha256, gradedAt, attestedAt (relay block time) and the key's
            activation / revocation times (revokedAt 0 while active).
            Reverts if there is no such attestation.
    """
    packed: uint256 = self._records[self._record_key(evidence, key)]
    assert packed != 0, "registry: not attested"
    k: uint256 = oracle_keys._keys[key]
    return AttestationRecord(
        batchId=packed & _U64,
        grade=convert((packed >> 64) & 255, uint8),
        sizeCode=convert((packed >> 72) & 255, uint8),
        confidenceBps=convert((packed >> 80) & 65_535, uint16),
        modelSha256=oracle_keys._model_hashes[packed >> 200],
        gradedAt=convert((packed >> 96) & _U64, uint64),
        attestedAt=convert((packed >> 160) & ((1 << 40) - 1), uint64),
        keyActivatedAt=convert(k & _U64, uint64),
        keyRevokedAt=convert(k >> 64, uint64),
    )


@external
@view
def attestationDigest(attestation: Attestation) -> bytes32:
    """
    @notice The EIP-712 digest an oracle signs for `attestation` (for off-chain checks).
    @param attestation The fields.
    @return bytes32 The digest.
    """
    return eip712_domain_separator._hash_typed_data_v4(self._hash_attestation(attestation))


@external
@view
def merkleRoot(attestations: DynArray[Attestation, MAX_ITEMS]) -> bytes32:
    """
    @notice The Merkle root `attestMany` computes for these items.
    @param attestations The items in order.
    @return bytes32 The root.
    """
    leaves: DynArray[bytes32, MAX_ITEMS] = []
    for a: Attestation in attestations:
        leaves.append(self._hash_attestation(a))
    return merkle._merkle_root(leaves)


# ADMIN


# INTERNAL


@internal
@pure
def _hash_attestation(a: Attestation) -> bytes32:
    return keccak256(
        abi_encode(
            ATTESTATION_TYPEHASH, a.batchId, a.evidence, a.grade, a.sizeCode, a.confidenceBps, a.modelSha256, a.gradedAt
        )
    )


@internal
@pure
def _record_key(evidence: bytes32, key: address) -> bytes32:
    return keccak256(abi_encode(evidence, key))


@internal
def _record(a: Attestation, signer: address, activated_at: uint256):
    """
    @dev `activated_at` is the signer's activation time (`_check_key`).
    """
    graded_at: uint256 = convert(a.gradedAt, uint256)
    assert graded_at >= activated_at, "registry: graded before key activation"
    # Cannot overflow: block.timestamp is far below 2**256 - MAX_CLOCK_SKEW.
    assert graded_at <= unsafe_add(block.timestamp, MAX_CLOCK_SKEW), "registry: graded in the future"
    assert a.grade <= REJECT, "registry: bad grade"
    assert a.confidenceBps <= MAX_CONFIDENCE_BPS, "registry: bad confidence"
    assert a.batchId != 0 and a.batchId <= _U64, "registry: bad batch id"
    m: uint256 = oracle_keys._models[a.modelSha256]
    assert m != 0 and m >> 96 == 0, "registry: model not approved"
    slot: bytes32 = keccak256(abi_encode(a.evidence, signer))
    assert self._records[slot] == 0, "registry: already attested"
    self._records[slot] = (
        a.batchId
        | (convert(a.grade, uint256) << 64)
        | (convert(a.sizeCode, uint256) << 72)
        | (convert(a.confidenceBps, uint256) << 80)
        | (graded_at << 96)
        | (block.timestamp << 160)
        | ((m & 4_294_967_295) << 200)
    )
    log Attested(
        batchId=a.batchId,
        signer=signer,
        evidence=a.evidence,
        grade=a.grade,
        sizeCode=a.sizeCode,
        confidenceBps=a.confidenceBps,
        modelSha256=a.modelSha256,
        gradedAt=a.gradedAt,
    )
