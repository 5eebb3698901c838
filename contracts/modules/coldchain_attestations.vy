# pragma version ~=0.4.3
"""
@title Cold-chain attestations of the attestation registry
@custom:contract-name coldchain_attestations
@license MIT
@notice An oracle reads the temperature log of a batch's TRANSPORT step,
        judges it with an approved rule set (the sha256 of
        `oracle/coldchain/crop_rules.json`) and signs an EIP-712 `ColdChain`
        fact; anyone may relay it. Keys are the registry's oracle keys; a
        rule set is approved and revoked in the registry's table of approved
        hashes, as a grading model is (the council's ApproveModel decision).

        Verdicts (uint8): 0 OK, 1 EXCURSION, 2 CHILLING_RISK,
        3 UNRELIABLE_LOG. `mktCentiC` is the mean kinetic temperature in
        0.01 degC; `minutesOutOfRange` the time outside the crop's band;
        `shelfLifeDays` the storage life left at the crop's reference
        temperature.

        Each (batch, log, key) is attested at most once (the same truck log
        may cover many batches); `analysedAt` must lie in [the key's
        activation time, block time + 300 s], as `gradedAt` does.
@dev    Typed data, in the registry's domain:
          ColdChain(uint256 batchId,bytes32 logCid,uint8 verdict,
            uint32 minutesOutOfRange,int16 mktCentiC,uint16 shelfLifeDays,
            bytes32 rulesSha256,uint64 analysedAt)
          ColdChainRoot(bytes32 root,uint256 count)
        `logCid` is the sha2-256 digest of the CID of the TRANSPORT step's
        evidence (the bundle holding the log), as in `StepAdded.evidence`.
        One slot per record, keyed by keccak(batchId, logCid, key), packed:
        verdict (8) | minutes (32) | MKT as uint16 two's complement (16) |
        shelf days (16) | analysedAt (64) | attestedAt (40) | rules index (32).
        `ColdChainAttested` leaves out the rules hash and analysedAt (in the
        record, and in the calldata a verifier decodes to rebuild a batch's
        Merkle proof): 64 bytes of log data per item keep a 50-lot batch
        under 30,000 gas an item.
"""

# @dev The registry's oracle keys.
from modules import oracle_keys

uses: oracle_keys

# @dev The registry's EIP-712 domain.
from snekmate.utils import eip712_domain_separator

uses: eip712_domain_separator

# @dev Signer recovery; refuses high-s (malleable) signatures.
from snekmate.utils import ecdsa

# @dev Merkle root of a signed batch.
from modules import merkle

UNRELIABLE_LOG: constant(uint8) = 3

COLDCHAIN_TYPEHASH: public(constant(bytes32)) = keccak256(
    "ColdChain(uint256 batchId,bytes32 logCid,uint8 verdict,uint32 minutesOutOfRange,int16 mktCentiC,uint16 shelfLifeDays,bytes32 rulesSha256,uint64 analysedAt)"
)
COLDCHAIN_ROOT_TYPEHASH: public(constant(bytes32)) = keccak256("ColdChainRoot(bytes32 root,uint256 count)")

_U64: constant(uint256) = (1 << 64) - 1
_U16: constant(uint256) = (1 << 16) - 1


struct ColdChain:
    batchId: uint256
    logCid: bytes32
    verdict: uint8
    minutesOutOfRange: uint32
    mktCentiC: int16
    shelfLifeDays: uint16
    rulesSha256: bytes32
    analysedAt: uint64


struct ColdChainRecord:
    verdict: uint8
    minutesOutOfRange: uint32
    mktCentiC: int16
    shelfLifeDays: uint16
    rulesSha256: bytes32
    analysedAt: uint64
    attestedAt: uint64
    keyActivatedAt: uint64
    keyRevokedAt: uint64


# @dev keccak(batchId, logCid, key) -> packed record (see the module @dev); 0 = not attested.
_coldchain: HashMap[bytes32, uint256]


event ColdChainAttested:
    batchId: indexed(uint256)
    signer: indexed(address)
    logCid: bytes32
    verdict: uint8
    minutesOutOfRange: uint32
    mktCentiC: int16
    shelfLifeDays: uint16


event ColdChainRootAttested:
    signer: indexed(address)
    root: bytes32
    count: uint256


@external
def attestColdChain(item: ColdChain, signature: Bytes[65]) -> address:
    """
    @notice Records one cold-chain verdict signed by an active oracle key; anyone may relay it.
    @param item The signed fields.
    @param signature 65-byte (r, s, v) or 64-byte EIP-2098 signature over
           the EIP-712 `ColdChain`; s must be in the lower half.
    @return address The oracle key that signed.
    """
    signer: address = ecdsa._recover_sig(eip712_domain_separator._hash_typed_data_v4(self._hash(item)), signature)
    self._record(item, signer, oracle_keys._check_key(signer))
    return signer


@external
def attestColdChainMany(items: DynArray[ColdChain, merkle.MAX_ITEMS], signature: Bytes[65]) -> address:
    """
    @notice Records up to 64 cold-chain verdicts with one signature over their Merkle root.
    @dev Same trade-off and tree as the registry's `attestMany`: the oracle
         signs `ColdChainRoot(root, count)` once; leaves are the items'
         EIP-712 struct hashes in order, so a relayer must post exactly the
         signed set.
    @param items The signed items (1 to 64), in the signed order.
    @param signature Signature over the EIP-712 `ColdChainRoot`.
    @return address The oracle key that signed.
    """
    count: uint256 = len(items)
    assert count != 0, "registry: no attestations"
    leaves: DynArray[bytes32, merkle.MAX_ITEMS] = []
    for item: ColdChain in items:
        leaves.append(self._hash(item))
    root: bytes32 = merkle._merkle_root(leaves)
    signer: address = ecdsa._recover_sig(
        eip712_domain_separator._hash_typed_data_v4(keccak256(abi_encode(COLDCHAIN_ROOT_TYPEHASH, root, count))),
        signature,
    )
    activated_at: uint256 = oracle_keys._check_key(signer)
    for item: ColdChain in items:
        self._record(item, signer, activated_at)
    log ColdChainRootAttested(signer=signer, root=root, count=count)
    return signer


@external
@view
def is_coldchain_attested(batchId: uint256, logCid: bytes32, key: address) -> bool:
    """
    @notice Whether `key` has attested the cold chain of `batchId` from the log in `logCid`.
    @param batchId The batch.
    @param logCid sha2-256 digest of the TRANSPORT step's evidence CID.
    @param key The oracle key.
    @return bool True once attested (stays true after the key is revoked).
    """
    return self._coldchain[keccak256(abi_encode(batchId, logCid, key))] != 0


@external
@view
def coldChainRecord(batchId: uint256, logCid: bytes32, key: address) -> ColdChainRecord:
    """
    @notice The stored cold-chain verdict, with the signing key's history.
    @param batchId The batch.
    @param logCid sha2-256 digest of the TRANSPORT step's evidence CID.
    @param key The oracle key.
    @return ColdChainRecord verdict, minutes out of range, MKT (0.01 degC),
            shelf-life days, rules sha256, analysedAt, attestedAt (relay
            block time) and the key's activation / revocation times.
            Reverts if there is no such attestation.
    """
    packed: uint256 = self._coldchain[keccak256(abi_encode(batchId, logCid, key))]
    assert packed != 0, "registry: not attested"
    k: uint256 = oracle_keys._keys[key]
    return ColdChainRecord(
        verdict=convert(packed & 255, uint8),
        minutesOutOfRange=convert((packed >> 8) & 4_294_967_295, uint32),
        mktCentiC=self._int16((packed >> 40) & _U16),
        shelfLifeDays=convert((packed >> 56) & _U16, uint16),
        rulesSha256=oracle_keys._model_hashes[packed >> 200],
        analysedAt=convert((packed >> 72) & _U64, uint64),
        attestedAt=convert((packed >> 136) & ((1 << 40) - 1), uint64),
        keyActivatedAt=convert(k & _U64, uint64),
        keyRevokedAt=convert(k >> 64, uint64),
    )


@external
@view
def coldChainDigest(item: ColdChain) -> bytes32:
    """
    @notice The EIP-712 digest an oracle signs for `item` (for off-chain checks).
    @param item The fields.
    @return bytes32 The digest.
    """
    return eip712_domain_separator._hash_typed_data_v4(self._hash(item))


@internal
@pure
def _hash(c: ColdChain) -> bytes32:
    return keccak256(
        abi_encode(
            COLDCHAIN_TYPEHASH,
            c.batchId,
            c.logCid,
            c.verdict,
            c.minutesOutOfRange,
            c.mktCentiC,
            c.shelfLifeDays,
            c.rulesSha256,
            c.analysedAt,
        )
    )


@internal
@pure
def _int16(raw: uint256) -> int16:
    """
    @dev Reads a 16-bit two's complement field.
    """
    if raw >= 32_768:
        return convert(convert(raw, int256) - 65_536, int16)
    return convert(raw, int16)


@internal
def _record(c: ColdChain, signer: address, activated_at: uint256):
    """
    @dev `activated_at` is the signer's activation time (`oracle_keys._check_key`).
    """
    analysed_at: uint256 = convert(c.analysedAt, uint256)
    assert analysed_at >= activated_at, "registry: analysed before key activation"
    # Cannot overflow: block.timestamp is far below 2**256 - MAX_CLOCK_SKEW.
    assert analysed_at <= unsafe_add(block.timestamp, oracle_keys.MAX_CLOCK_SKEW), "registry: analysed in the future"
    assert c.verdict <= UNRELIABLE_LOG, "registry: bad verdict"
    assert c.batchId != 0 and c.batchId <= _U64, "registry: bad batch id"
    r: uint256 = oracle_keys._models[c.rulesSha256]
    assert r != 0 and r >> 96 == 0, "registry: rules not approved"
    slot: bytes32 = keccak256(abi_encode(c.batchId, c.logCid, signer))
    assert self._coldchain[slot] == 0, "registry: already attested"
    # MKT is stored as 16-bit two's complement: adding 2**16 keeps a negative value positive before the mask.
    self._coldchain[slot] = (
        convert(c.verdict, uint256)
        | (convert(c.minutesOutOfRange, uint256) << 8)
        | ((convert(convert(c.mktCentiC, int256) + 65_536, uint256) & _U16) << 40)
        | (convert(c.shelfLifeDays, uint256) << 56)
        | (analysed_at << 72)
        | (block.timestamp << 136)
        | ((r & 4_294_967_295) << 200)
    )
    log ColdChainAttested(
        batchId=c.batchId,
        signer=signer,
        logCid=c.logCid,
        verdict=c.verdict,
        minutesOutOfRange=c.minutesOutOfRange,
        mktCentiC=c.mktCentiC,
        shelfLifeDays=c.shelfLifeDays,
    )
