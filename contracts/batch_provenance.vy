# pragma version ~=0.4.3
"""
@title Tambon Trust batch provenance
@notice Every produce lot is one ERC-721 token ("batch"). The producer
        registers it with its evidence CID and basic facts; packers,
        transporters and sellers append steps while the lot moves along
        the value chain; custody moves by ERC-721 transfer. Lots can be
        split into boxes or merged at a packing house: children record
        their parents and the parents are closed for new steps.

        A buyer rebuilds the whole history from this contract alone:
        `batch()` (facts, evidence, producer, holder, step count, status),
        `parentsOf()` / `childrenOf()`, `producerOf()`, and the logs
        `BatchRegistered`, `StepAdded`, `Transfer`, `Split`, `Merged`,
        all indexed by batch id.

        Stages (uint8): 0 CULTIVATION, 1 HARVEST, 2 PROCESSING (packing),
        3 TRANSPORT, 4 MARKETING (final sale: the batch is closed).
        TRANSPORT step data: bits 0..15 minimum and bits 16..31 maximum
        temperature, each an int16 in 0.01 degC (two's complement); other
        stages' data is free for the application (0 when unused).

        CIDs are stored as a sha2-256 digest and a codec (0x55 raw,
        0x70 dag-pb); `tokenURI` rebuilds `ipfs://<CIDv1 base32>`. The
        registered CID is the batch's ERC-721 metadata document (name,
        description, image, attributes), which links the evidence bundle.
@dev    Storage layout, chosen for gas (see `scripts/gas_provenance.py`):
        - single `register` / `merge` ("inline" batches): one packed word
          `_packed[id]` = owner (160) | state (24) | crop (16) |
          quantity grams (40) | harvest day (16), plus the digest slot.
        - `registerMany` / `split` ("run" batches): ownership is written
          once per run of consecutive ids as ERC721A does (`_runs[head]`
          holds the minter and the address of a data contract with the
          immutable records, 64 bytes each, written with CREATE as
          SSTORE2 does, 200 gas per byte instead of 690 for a slot);
          each id keeps a 32-bit lane in `_lanes[id >> 3]` (8 per slot):
          state (24) | offset from the run head (8). `_packed[id]` holds
          the owner only once a run batch has moved.
        - state = step count (16) | flags (8), see the `S_*` constants.
"""

from ethereum.ercs import IERC165

implements: IERC165

# @dev Not `implements: IERC721`: Vyper's copy declares the transfer and
# approve functions payable, and a batch registry should not trap ether.
# Conformance (selectors, events, ERC-165 id 0x80ac58cd) is proven in the tests.

# @dev Optional ERC-721 metadata extension (name, symbol, tokenURI).
from snekmate.tokens.interfaces import IERC721Metadata

implements: IERC721Metadata

# @dev Receiver hook checked by `safeTransferFrom`.
from snekmate.tokens.interfaces import IERC721Receiver

# @dev Owner (the council's GrantEscrow in production) manages the producer registry.
from snekmate.auth import ownable

initializes: ownable

exports: (ownable.owner, ownable.transfer_ownership, ownable.renounce_ownership)


# CONSTANTS

# @dev Value-chain stages (Table 3 of the design card).
CULTIVATION: constant(uint8) = 0
HARVEST: constant(uint8) = 1
PROCESSING: constant(uint8) = 2
TRANSPORT: constant(uint8) = 3
MARKETING: constant(uint8) = 4

CODEC_RAW: constant(uint8) = 85  # 0x55
CODEC_DAG_PB: constant(uint8) = 112  # 0x70

# @dev Most batches one `registerMany` or `split` creates (also the run length bound).
MAX_RUN: constant(uint256) = 64
# @dev Most parents one `merge` consumes.
MAX_PARENTS: constant(uint256) = 16

_INTERFACE_ID_ERC165: constant(bytes4) = 0x01FFC9A7
_INTERFACE_ID_ERC721: constant(bytes4) = 0x80AC58CD
_INTERFACE_ID_ERC721_METADATA: constant(bytes4) = 0x5B5E139F
_ERC721_RECEIVED: constant(bytes4) = 0x150B7A02

_ADDRESS_MASK: constant(uint256) = (1 << 160) - 1
# @dev state = step count (bits 0..15) | flags (bits 16..23)
_STATE_MASK: constant(uint256) = (1 << 24) - 1
_STEP_MASK: constant(uint256) = (1 << 16) - 1
S_CLOSED: constant(uint256) = 1 << 16  # a MARKETING step (final sale) was added
S_CONSUMED: constant(uint256) = 1 << 17  # split or merged into new batches
S_PARENTS: constant(uint256) = 1 << 18  # made by split/merge; see parentsOf
S_MOVED: constant(uint256) = 1 << 19  # has left its minter once
S_DAG_PB: constant(uint256) = 1 << 20  # inline batches: codec is dag-pb (else raw)
S_RUN: constant(uint256) = 1 << 21  # lanes only: the batch belongs to a run

# @dev Bit offsets inside an inline batch's packed word.
_STATE_SHIFT: constant(uint256) = 160
_CROP_SHIFT: constant(uint256) = 184
_QUANTITY_SHIFT: constant(uint256) = 200
_DAY_SHIFT: constant(uint256) = 240
_LANE_MASK: constant(uint256) = (1 << 32) - 1
_U40_MASK: constant(uint256) = (1 << 40) - 1

# @dev Record word 1 of a run batch: codec (8) | crop (16) | quantity (40) | day (16).
_RECORD_BYTES: constant(uint256) = 64

_BASE32: constant(String[32]) = "abcdefghijklmnopqrstuvwxyz234567"
# @dev CIDv1 header bytes before the digest: version 1, codec, sha2-256 (0x12), 32 bytes (0x20).
_CID_PREFIX_RAW: constant(uint256) = 22_352_416  # 0x01551220
_CID_PREFIX_DAG_PB: constant(uint256) = 24_121_888  # 0x01701220


# STRUCTS

struct BatchInput:
    evidence: bytes32
    codec: uint8
    crop: uint16
    quantityGrams: uint40
    harvestDay: uint16


struct ChildInput:
    evidence: bytes32
    codec: uint8
    quantityGrams: uint40


struct BatchInfo:
    producer: address
    holder: address
    evidence: bytes32
    codec: uint8
    crop: uint16
    quantityGrams: uint40
    harvestDay: uint16
    stepCount: uint16
    closed: bool
    consumed: bool
    hasParents: bool


struct Producer:
    registrationId: String[64]
    name: String[128]
    registeredAt: uint64
    revokedAt: uint64


struct Run:
    minter: address
    data: address


struct Loaded:
    owner: address
    state: uint256
    run: bool
    head: uint256
    word: uint256


# STORAGE

name: public(String[25])
symbol: public(String[5])

# @dev Next id to mint; ids start at 1 so that 0 means "none".
_next_id: uint256
_balances: HashMap[address, uint256]
_approvals: HashMap[uint256, address]
_operators: HashMap[address, HashMap[address, bool]]

_packed: HashMap[uint256, uint256]
_digests: HashMap[uint256, bytes32]
_lanes: HashMap[uint256, uint256]
_runs: HashMap[uint256, Run]
# @dev Minter of an inline batch, copied on its first move (the packed word then holds the new owner).
_minters: HashMap[uint256, address]

# @dev Parents of a merge child (keyed by the child) or of a split run (keyed by the run head).
_parents: HashMap[uint256, DynArray[uint256, MAX_PARENTS]]
# @dev Consumed batch -> first child | count << 128.
_children: HashMap[uint256, uint256]

_producers: HashMap[address, Producer]


# EVENTS

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    tokenId: indexed(uint256)


event Approval:
    owner: indexed(address)
    approved: indexed(address)
    tokenId: indexed(uint256)


event ApprovalForAll:
    owner: indexed(address)
    operator: indexed(address)
    approved: bool


event BatchRegistered:
    batchId: indexed(uint256)
    producer: indexed(address)
    evidence: bytes32
    codec: uint8
    crop: uint16
    quantityGrams: uint40
    harvestDay: uint16


event StepAdded:
    batchId: indexed(uint256)
    actor: indexed(address)
    index: uint16
    stage: uint8
    evidence: bytes32
    codec: uint8
    data: uint256


event Split:
    parentId: indexed(uint256)
    actor: indexed(address)
    firstChildId: uint256
    count: uint256


event Merged:
    childId: indexed(uint256)
    actor: indexed(address)
    parentIds: DynArray[uint256, MAX_PARENTS]


event ProducerRegistered:
    account: indexed(address)
    registrationId: String[64]
    name: String[128]


event ProducerRevoked:
    account: indexed(address)


@deploy
def __init__(owner_: address):
    """
    @notice Deploys the registry of batches.
    @param owner_ Manages the producer registry: the council's GrantEscrow
           in production.
    """
    assert owner_ != empty(address), "provenance: zero owner"
    ownable.__init__()
    ownable._transfer_ownership(owner_)
    self.name = "Tambon Batch Provenance"
    self.symbol = "TBATC"
    self._next_id = 1


# ERC-165 / ERC-721 VIEWS


@external
@view
def supportsInterface(interface_id: bytes4) -> bool:
    """
    @notice ERC-165: this contract implements ERC-165, ERC-721 and ERC-721 Metadata.
    @param interface_id The 4-byte interface identifier.
    @return bool Whether the interface is implemented.
    """
    return interface_id in [_INTERFACE_ID_ERC165, _INTERFACE_ID_ERC721, _INTERFACE_ID_ERC721_METADATA]


@external
@view
def balanceOf(_owner: address) -> uint256:
    """
    @notice Number of batches `_owner` holds.
    @param _owner The holder; the zero address is refused.
    @return uint256 The count.
    """
    assert _owner != empty(address), "provenance: zero address"
    return self._balances[_owner]


@external
@view
def ownerOf(_tokenId: uint256) -> address:
    """
    @notice Current holder (custodian) of batch `_tokenId`.
    @param _tokenId The batch id.
    @return address The holder; reverts for an unknown batch.
    """
    return self._load(_tokenId).owner


@external
@view
def getApproved(_tokenId: uint256) -> address:
    """
    @notice Address approved to move batch `_tokenId` and add steps to it.
    @param _tokenId The batch id.
    @return address The approved address or zero.
    """
    self._require_exists(_tokenId)
    return self._approvals[_tokenId]


@external
@view
def isApprovedForAll(_owner: address, _operator: address) -> bool:
    """
    @notice Whether `_operator` may move and add steps to all of `_owner`'s batches.
    @param _owner The holder.
    @param _operator The operator.
    @return bool The approval status.
    """
    return self._operators[_owner][_operator]


@external
@view
def tokenURI(_tokenId: uint256) -> String[512]:
    """
    @notice The batch's ERC-721 metadata document: `ipfs://<cid>` when the
            registered CID is the JSON document itself (raw codec), or
            `ipfs://<cid>/metadata.json` when it is an evidence bundle (a UnixFS
            directory of photos, record.json and metadata.json; dag-pb codec).
    @param _tokenId The batch id.
    @return String The URI, e.g. `ipfs://bafkrei...` or `ipfs://bafybei.../metadata.json`.
    """
    digest: bytes32 = empty(bytes32)
    codec: uint8 = 0
    digest, codec = self._cid_of(_tokenId)
    if codec == CODEC_DAG_PB:
        return concat(self._ipfs_uri(digest, codec), "/metadata.json")
    return self._ipfs_uri(digest, codec)


# ERC-721 ACTIONS


@external
def approve(_approved: address, _tokenId: uint256):
    """
    @notice Approves `_approved` to move batch `_tokenId` and add steps to it.
    @dev The approval is cleared when the batch moves.
    @param _approved The approved address (zero to clear).
    @param _tokenId The batch id.
    """
    holder: address = self._load(_tokenId).owner
    assert msg.sender == holder or self._operators[holder][msg.sender], "provenance: not holder or operator"
    self._approvals[_tokenId] = _approved
    log Approval(owner=holder, approved=_approved, tokenId=_tokenId)


@external
def setApprovalForAll(_operator: address, _approved: bool):
    """
    @notice Lets `_operator` move and add steps to all of the caller's batches.
    @param _operator The operator.
    @param _approved Grant (True) or withdraw (False).
    """
    assert _operator != empty(address), "provenance: zero operator"
    self._operators[msg.sender][_operator] = _approved
    log ApprovalForAll(owner=msg.sender, operator=_operator, approved=_approved)


@external
def transferFrom(_from: address, _to: address, _tokenId: uint256):
    """
    @notice Moves custody of batch `_tokenId` from `_from` to `_to`.
    @dev WARNING: no receiver check; a contract that cannot handle ERC-721
         tokens locks the batch. Prefer `safeTransferFrom`.
    @param _from The current holder.
    @param _to The new holder.
    @param _tokenId The batch id.
    """
    self._transfer(_from, _to, _tokenId)


@external
def safeTransferFrom(_from: address, _to: address, _tokenId: uint256, _data: Bytes[1_024] = b""):
    """
    @notice Moves custody of batch `_tokenId`; a contract recipient must
            answer `onERC721Received` with its selector.
    @param _from The current holder.
    @param _to The new holder.
    @param _tokenId The batch id.
    @param _data Passed to the recipient's `onERC721Received`.
    """
    self._transfer(_from, _to, _tokenId)
    if _to.is_contract:
        success: bool = False
        response: Bytes[32] = b""
        success, response = raw_call(
            _to,
            abi_encode(
                msg.sender,
                _from,
                _tokenId,
                _data,
                method_id=method_id("onERC721Received(address,address,uint256,bytes)"),
            ),
            max_outsize=32,
            revert_on_failure=False,
        )
        assert success and len(response) == 32, "provenance: transfer to non-ERC721Receiver"
        assert convert(slice(response, 0, 4), bytes4) == _ERC721_RECEIVED, "provenance: transfer to non-ERC721Receiver"


# BATCHES


@external
def register(evidence: bytes32, codec: uint8, crop: uint16, quantityGrams: uint40, harvestDay: uint16) -> uint256:
    """
    @notice Registers one produce lot and mints its batch token to the caller (the producer).
    @dev Producers are not gated: the verify page shows whether the caller
         is in the council's producer registry (`producerOf`).
    @param evidence sha2-256 digest of the batch's metadata CID.
    @param codec CID codec: 0x55 raw or 0x70 dag-pb.
    @param crop Crop code (project code list; not interpreted on-chain).
    @param quantityGrams Lot weight in grams (> 0).
    @param harvestDay Harvest date in days since 1970-01-01 UTC.
    @return uint256 The new batch id.
    """
    self._check_cid(evidence, codec)
    assert quantityGrams != 0, "provenance: zero quantity"
    return self._mint_inline(msg.sender, evidence, codec, crop, quantityGrams, harvestDay, 0)


@external
def registerMany(batches: DynArray[BatchInput, MAX_RUN]) -> uint256:
    """
    @notice Registers many lots at once; they get consecutive ids, all minted to the caller.
    @dev Ownership is written once for the run and the immutable records
         go to one data contract; each batch costs one Transfer and one
         BatchRegistered log and 1/8 of a storage slot.
    @param batches The lots (1 to 64).
    @return uint256 The id of the first batch; the others follow.
    """
    count: uint256 = len(batches)
    assert count != 0, "provenance: no batches"
    records: DynArray[uint256, 2 * MAX_RUN] = []
    for b: BatchInput in batches:
        self._check_cid(b.evidence, b.codec)
        assert b.quantityGrams != 0, "provenance: zero quantity"
        records.append(convert(b.evidence, uint256))
        records.append(self._pack_record(b.codec, b.crop, b.quantityGrams, b.harvestDay))
    return self._mint_run(msg.sender, records, count, 0, 0)


@external
def addStep(batchId: uint256, stage: uint8, evidence: bytes32, codec: uint8, data: uint256) -> uint256:
    """
    @notice Appends a value-chain step to a batch's history.
    @dev Steps are append-only and live in `StepAdded` logs; `stepCount`
         tells a reader how many to expect. A MARKETING step is the final
         sale: the batch then takes no more steps, splits or merges.
    @param batchId The batch.
    @param stage 0 CULTIVATION, 1 HARVEST, 2 PROCESSING, 3 TRANSPORT, 4 MARKETING.
    @param evidence sha2-256 digest of the step's evidence CID.
    @param codec CID codec: 0x55 raw or 0x70 dag-pb.
    @param data Compact step data; TRANSPORT: min | max << 16 (int16, 0.01 degC).
    @return uint256 The index of the new step (0-based).
    """
    l: Loaded = self._load(batchId)
    self._check_actor(batchId, l.owner)
    self._check_open(l.state)
    assert stage <= MARKETING, "provenance: bad stage"
    self._check_cid(evidence, codec)
    if stage == TRANSPORT:
        assert data >> 32 == 0, "provenance: bad transport data"
        assert self._int16(data & 65_535) <= self._int16(data >> 16), "provenance: bad temperature range"
    index: uint256 = l.state & _STEP_MASK
    assert index < _STEP_MASK, "provenance: too many steps"
    # Cannot overflow: index < 2**16 - 1 was just checked.
    state: uint256 = unsafe_add(l.state, 1)
    if stage == MARKETING:
        state |= S_CLOSED
    self._save_state(batchId, l, state)
    log StepAdded(
        batchId=batchId,
        actor=msg.sender,
        index=convert(index, uint16),
        stage=stage,
        evidence=evidence,
        codec=codec,
        data=data,
    )
    return index


@external
def split(parentId: uint256, children: DynArray[ChildInput, MAX_RUN]) -> uint256:
    """
    @notice Splits a lot into smaller lots (e.g. export boxes). The children
            are minted to the parent's holder, inherit crop and harvest day,
            and record the parent; the parent takes no more steps.
    @param parentId The lot to split (held by or approved to the caller).
    @param children Each child's evidence CID and weight (2 to 64); the
           weights may not add up to more than the parent's.
    @return uint256 The first child id; the others follow.
    """
    l: Loaded = self._load(parentId)
    self._check_actor(parentId, l.owner)
    self._check_open(l.state)
    count: uint256 = len(children)
    assert count >= 2, "provenance: split needs two children"
    crop: uint16 = 0
    quantity: uint40 = 0
    day: uint16 = 0
    crop, quantity, day = self._facts_of(parentId, l)
    total: uint256 = 0
    records: DynArray[uint256, 2 * MAX_RUN] = []
    for c: ChildInput in children:
        self._check_cid(c.evidence, c.codec)
        assert c.quantityGrams != 0, "provenance: zero quantity"
        total += convert(c.quantityGrams, uint256)
        records.append(convert(c.evidence, uint256))
        records.append(self._pack_record(c.codec, crop, c.quantityGrams, day))
    assert total <= convert(quantity, uint256), "provenance: split exceeds quantity"
    first: uint256 = self._mint_run(l.owner, records, count, S_PARENTS, parentId)
    self._save_state(parentId, l, l.state | S_CONSUMED)
    self._children[parentId] = first | (count << 128)
    log Split(parentId=parentId, actor=msg.sender, firstChildId=first, count=count)
    return first


@external
def merge(parentIds: DynArray[uint256, MAX_PARENTS], evidence: bytes32, codec: uint8) -> uint256:
    """
    @notice Merges lots of the same crop held by one account (e.g. at a
            packing house) into a new lot that records its parents. Its
            weight is the sum, its harvest day the earliest; the parents
            take no more steps.
    @param parentIds 2 to 16 batch ids in strictly increasing order.
    @param evidence sha2-256 digest of the merged lot's metadata CID.
    @param codec CID codec: 0x55 raw or 0x70 dag-pb.
    @return uint256 The new batch id.
    """
    assert len(parentIds) >= 2, "provenance: merge needs two parents"
    self._check_cid(evidence, codec)
    holder: address = empty(address)
    crop: uint16 = 0
    day: uint16 = max_value(uint16)
    total: uint256 = 0
    previous: uint256 = 0
    for parent_id: uint256 in parentIds:
        assert parent_id > previous, "provenance: parents not sorted"
        previous = parent_id
        l: Loaded = self._load(parent_id)
        self._check_actor(parent_id, l.owner)
        self._check_open(l.state)
        p_crop: uint16 = 0
        p_quantity: uint40 = 0
        p_day: uint16 = 0
        p_crop, p_quantity, p_day = self._facts_of(parent_id, l)
        if holder == empty(address):
            holder = l.owner
            crop = p_crop
        assert l.owner == holder, "provenance: parents held by different accounts"
        assert p_crop == crop, "provenance: merge mixes crops"
        total += convert(p_quantity, uint256)
        day = min(day, p_day)
        self._save_state(parent_id, l, l.state | S_CONSUMED)
    assert total <= convert(max_value(uint40), uint256), "provenance: quantity overflow"
    child: uint256 = self._mint_inline(holder, evidence, codec, crop, convert(total, uint40), day, S_PARENTS)
    self._parents[child] = parentIds
    for parent_id: uint256 in parentIds:
        self._children[parent_id] = child | (1 << 128)
    log Merged(childId=child, actor=msg.sender, parentIds=parentIds)
    return child


# BATCH VIEWS


@external
@view
def batch(batchId: uint256) -> BatchInfo:
    """
    @notice Everything the chain stores about a batch.
    @param batchId The batch.
    @return BatchInfo producer (minter), holder, metadata CID (digest, codec),
            crop, weight, harvest day, step count, closed (sold), consumed
            (split/merged away), hasParents (see parentsOf).
    """
    l: Loaded = self._load(batchId)
    digest: bytes32 = empty(bytes32)
    codec: uint8 = 0
    digest, codec = self._cid_of(batchId)
    crop: uint16 = 0
    quantity: uint40 = 0
    day: uint16 = 0
    crop, quantity, day = self._facts_of(batchId, l)
    return BatchInfo(
        producer=self._producer_of_batch(batchId, l),
        holder=l.owner,
        evidence=digest,
        codec=codec,
        crop=crop,
        quantityGrams=quantity,
        harvestDay=day,
        stepCount=convert(l.state & _STEP_MASK, uint16),
        closed=l.state & S_CLOSED != 0,
        consumed=l.state & S_CONSUMED != 0,
        hasParents=l.state & S_PARENTS != 0,
    )


@external
@view
def stepCount(batchId: uint256) -> uint256:
    """
    @notice Number of steps added to a batch; its `StepAdded` logs carry indices 0..n-1.
    @param batchId The batch.
    @return uint256 The count.
    """
    return self._load(batchId).state & _STEP_MASK


@external
@view
def parentsOf(batchId: uint256) -> DynArray[uint256, MAX_PARENTS]:
    """
    @notice Lots this batch was split from (one) or merged from (several).
    @param batchId The batch.
    @return DynArray The parent ids (empty for a registered lot).
    """
    l: Loaded = self._load(batchId)
    if l.state & S_PARENTS == 0:
        return []
    return self._parents[l.head]


@external
@view
def childrenOf(batchId: uint256) -> (uint256, uint256):
    """
    @notice Lots this batch was split or merged into: ids first..first+count-1.
    @param batchId The batch.
    @return uint256 The first child id (0 if not consumed).
    @return uint256 The number of children.
    """
    self._require_exists(batchId)
    packed: uint256 = self._children[batchId]
    return packed & ((1 << 128) - 1), packed >> 128


@external
@view
def exists(batchId: uint256) -> bool:
    """
    @notice Whether `batchId` has been minted.
    @param batchId The batch.
    @return bool True for 1..totalSupply().
    """
    return batchId != 0 and batchId < self._next_id


@external
@view
def totalSupply() -> uint256:
    """
    @notice Number of batches ever minted (none are burned); ids run 1..totalSupply().
    @return uint256 The count.
    """
    # Cannot underflow: `_next_id` starts at 1.
    return unsafe_sub(self._next_id, 1)


@external
@pure
def cidString(digest: bytes32, codec: uint8) -> String[512]:
    """
    @notice `ipfs://<CIDv1 base32>` for an on-chain CID (e.g. a step's evidence).
    @param digest sha2-256 digest.
    @param codec 0x55 raw or 0x70 dag-pb.
    @return String The URI.
    """
    assert codec == CODEC_RAW or codec == CODEC_DAG_PB, "provenance: unsupported codec"
    return self._ipfs_uri(digest, codec)


# PRODUCER REGISTRY


@external
def registerProducer(account: address, registrationId: String[64], name: String[128]):
    """
    @notice Marks `account` as a registered community enterprise (วิสาหกิจชุมชน).
    @dev Owner (council) only. Registering again updates the record and clears a revocation.
    @param account The enterprise's wallet.
    @param registrationId Its registration number.
    @param name Its name (UTF-8, up to 128 bytes).
    """
    ownable._check_owner()
    assert account != empty(address), "provenance: zero address"
    assert len(registrationId) != 0, "provenance: empty registration id"
    self._producers[account] = Producer(
        registrationId=registrationId, name=name, registeredAt=convert(block.timestamp, uint64), revokedAt=0
    )
    log ProducerRegistered(account=account, registrationId=registrationId, name=name)


@external
def revokeProducer(account: address):
    """
    @notice Withdraws `account`'s registration; the record stays with its revocation time.
    @dev Owner (council) only.
    @param account The enterprise's wallet.
    """
    ownable._check_owner()
    p: Producer = self._producers[account]
    assert p.registeredAt != 0 and p.revokedAt == 0, "provenance: producer not registered"
    self._producers[account].revokedAt = convert(block.timestamp, uint64)
    log ProducerRevoked(account=account)


@external
@view
def producerOf(account: address) -> Producer:
    """
    @notice The registry record of `account` (all zero if never registered).
    @param account The wallet.
    @return Producer registration id, name, registeredAt, revokedAt (0 while active).
    """
    return self._producers[account]


@external
@view
def isRegisteredProducer(account: address) -> bool:
    """
    @notice Whether `account` is currently a registered community enterprise.
    @param account The wallet.
    @return bool True if registered and not revoked.
    """
    p: Producer = self._producers[account]
    return p.registeredAt != 0 and p.revokedAt == 0


# INTERNAL: storage access


@internal
@view
def _require_exists(batch_id: uint256):
    assert batch_id != 0 and batch_id < self._next_id, "provenance: unknown batch"


@internal
@view
def _load(batch_id: uint256) -> Loaded:
    """
    @dev Owner and state of a batch: one lane read, then the run head or the
         packed word. A minted batch has a run lane or a non-zero packed word
         (it holds the owner), so existence costs no extra read.
    """
    lane: uint256 = (self._lanes[batch_id >> 3] >> ((batch_id & 7) << 5)) & _LANE_MASK
    if lane & S_RUN != 0:
        # Cannot underflow: the offset was written as `batch_id - head` at mint.
        head: uint256 = unsafe_sub(batch_id, lane >> 24)
        owner: address = empty(address)
        if lane & S_MOVED != 0:
            owner = convert(convert(self._packed[batch_id], uint160), address)
        else:
            owner = self._runs[head].minter
        return Loaded(owner=owner, state=lane & _STATE_MASK, run=True, head=head, word=0)
    word: uint256 = self._packed[batch_id]
    assert word != 0, "provenance: unknown batch"
    return Loaded(
        owner=convert(convert(word & _ADDRESS_MASK, uint160), address),
        state=(word >> _STATE_SHIFT) & _STATE_MASK,
        run=False,
        head=batch_id,
        word=word,
    )


@internal
def _save_state(batch_id: uint256, l: Loaded, state: uint256):
    if l.run:
        key: uint256 = batch_id >> 3
        bit: uint256 = (batch_id & 7) << 5
        self._lanes[key] = (self._lanes[key] & ~(_STATE_MASK << bit)) | (state << bit)
    else:
        self._packed[batch_id] = (l.word & ~(_STATE_MASK << _STATE_SHIFT)) | (state << _STATE_SHIFT)


@internal
@view
def _check_actor(batch_id: uint256, holder: address):
    if msg.sender != holder:
        assert (
            self._approvals[batch_id] == msg.sender or self._operators[holder][msg.sender]
        ), "provenance: not holder or approved"


@internal
@pure
def _check_open(state: uint256):
    assert state & S_CONSUMED == 0, "provenance: batch consumed"
    assert state & S_CLOSED == 0, "provenance: batch closed"


@internal
@pure
def _check_cid(digest: bytes32, codec: uint8):
    assert digest != empty(bytes32), "provenance: empty evidence"
    assert codec == CODEC_RAW or codec == CODEC_DAG_PB, "provenance: unsupported codec"


@internal
@pure
def _pack_record(codec: uint8, crop: uint16, quantity: uint40, day: uint16) -> uint256:
    return (
        convert(codec, uint256)
        | (convert(crop, uint256) << 8)
        | (convert(quantity, uint256) << 24)
        | (convert(day, uint256) << 64)
    )


@internal
@pure
def _int16(raw: uint256) -> int256:
    result: int256 = convert(raw, int256)
    if raw >= 1 << 15:
        result -= 1 << 16
    return result


@internal
@view
def _record_of(batch_id: uint256, head: uint256) -> (bytes32, uint256):
    """
    @dev The two record words of a run batch, read from the run's data contract.
    """
    # Cannot overflow: batch_id - head < MAX_RUN; byte 0 of the data contract is STOP.
    offset: uint256 = unsafe_add(1, unsafe_mul(unsafe_sub(batch_id, head), _RECORD_BYTES))
    record: Bytes[64] = slice(self._runs[head].data.code, offset, 64)
    return extract32(record, 0), extract32(record, 32, output_type=uint256)


@internal
@view
def _facts_of(batch_id: uint256, l: Loaded) -> (uint16, uint40, uint16):
    word: uint256 = l.word
    if l.run:
        digest: bytes32 = empty(bytes32)
        digest, word = self._record_of(batch_id, l.head)
        return (
            convert((word >> 8) & 65_535, uint16),
            convert((word >> 24) & _U40_MASK, uint40),
            convert((word >> 64) & 65_535, uint16),
        )
    return (
        convert((word >> _CROP_SHIFT) & 65_535, uint16),
        convert((word >> _QUANTITY_SHIFT) & _U40_MASK, uint40),
        convert(word >> _DAY_SHIFT, uint16),
    )


@internal
@view
def _cid_of(batch_id: uint256) -> (bytes32, uint8):
    l: Loaded = self._load(batch_id)
    if l.run:
        digest: bytes32 = empty(bytes32)
        word: uint256 = 0
        digest, word = self._record_of(batch_id, l.head)
        return digest, convert(word & 255, uint8)
    if l.state & S_DAG_PB != 0:
        return self._digests[batch_id], CODEC_DAG_PB
    return self._digests[batch_id], CODEC_RAW


@internal
@view
def _producer_of_batch(batch_id: uint256, l: Loaded) -> address:
    if l.run:
        return self._runs[l.head].minter
    if l.state & S_MOVED != 0:
        return self._minters[batch_id]
    return l.owner


# INTERNAL: mint and transfer


@internal
def _mint_inline(
    to: address, evidence: bytes32, codec: uint8, crop: uint16, quantity: uint40, day: uint16, flags: uint256
) -> uint256:
    batch_id: uint256 = self._next_id
    # Cannot overflow: one id per call, starting at 1.
    self._next_id = unsafe_add(batch_id, 1)
    state: uint256 = flags
    if codec == CODEC_DAG_PB:
        state |= S_DAG_PB
    self._packed[batch_id] = (
        convert(convert(to, uint160), uint256)
        | (state << _STATE_SHIFT)
        | (convert(crop, uint256) << _CROP_SHIFT)
        | (convert(quantity, uint256) << _QUANTITY_SHIFT)
        | (convert(day, uint256) << _DAY_SHIFT)
    )
    self._digests[batch_id] = evidence
    # Cannot overflow: a balance never exceeds the number of minted ids.
    self._balances[to] = unsafe_add(self._balances[to], 1)
    log Transfer(sender=empty(address), receiver=to, tokenId=batch_id)
    log BatchRegistered(
        batchId=batch_id, producer=to, evidence=evidence, codec=codec, crop=crop, quantityGrams=quantity, harvestDay=day
    )
    return batch_id


@internal
def _mint_run(
    to: address, records: DynArray[uint256, 2 * MAX_RUN], count: uint256, flags: uint256, parent_id: uint256
) -> uint256:
    """
    @dev Mints `count` consecutive ids to `to`: one data contract with the
         records (STOP byte, then 64 bytes per batch), one run entry, one
         lane per id, and the per-token logs ERC-721 requires.
    """
    head: uint256 = self._next_id
    # Cannot overflow: ids grow by at most MAX_RUN per call; count <= MAX_RUN bounds the sizes below.
    self._next_id = unsafe_add(head, count)
    size: uint256 = unsafe_add(unsafe_mul(count, _RECORD_BYTES), 1)
    # SSTORE2 creation code: PUSH2 size, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY,
    # RETURNDATASIZE, RETURN; then the runtime code: STOP and the records.
    initcode: Bytes[4_200] = concat(
        b"\x61",
        slice(convert(size, bytes32), 30, 2),
        b"\x80\x60\x0a\x3d\x39\x3d\xf3\x00",
        slice(abi_encode(records), 64, unsafe_mul(count, _RECORD_BYTES)),
    )
    data: address = raw_create(initcode)
    self._runs[head] = Run(minter=to, data=data)
    if parent_id != 0:
        self._parents[head] = [parent_id]
    # Cannot overflow: a balance never exceeds the number of minted ids.
    self._balances[to] = unsafe_add(self._balances[to], count)
    lane_state: uint256 = flags | S_RUN
    key: uint256 = head >> 3
    word: uint256 = self._lanes[key]
    for i: uint256 in range(count, bound=MAX_RUN):
        # Cannot overflow: i < count <= MAX_RUN and `records` holds 2 * count words.
        batch_id: uint256 = unsafe_add(head, i)
        if batch_id >> 3 != key:
            self._lanes[key] = word
            key = batch_id >> 3
            word = 0
        word |= (lane_state | (i << 24)) << ((batch_id & 7) << 5)
        log Transfer(sender=empty(address), receiver=to, tokenId=batch_id)
        record: uint256 = records[unsafe_add(unsafe_mul(i, 2), 1)]
        log BatchRegistered(
            batchId=batch_id,
            producer=to,
            evidence=convert(records[unsafe_mul(i, 2)], bytes32),
            codec=convert(record & 255, uint8),
            crop=convert((record >> 8) & 65_535, uint16),
            quantityGrams=convert((record >> 24) & _U40_MASK, uint40),
            harvestDay=convert((record >> 64) & 65_535, uint16),
        )
    self._lanes[key] = word
    return head


@internal
def _transfer(owner: address, to: address, batch_id: uint256):
    l: Loaded = self._load(batch_id)
    assert l.owner == owner, "provenance: transfer from incorrect owner"
    assert to != empty(address), "provenance: transfer to zero address"
    self._check_actor(batch_id, owner)
    if self._approvals[batch_id] != empty(address):
        self._approvals[batch_id] = empty(address)
    if l.run:
        self._packed[batch_id] = convert(convert(to, uint160), uint256)
        if l.state & S_MOVED == 0:
            self._save_state(batch_id, l, l.state | S_MOVED)
    else:
        state: uint256 = l.state
        if state & S_MOVED == 0:
            self._minters[batch_id] = owner
            state |= S_MOVED
        self._packed[batch_id] = (
            (l.word & ~(_ADDRESS_MASK | (_STATE_MASK << _STATE_SHIFT)))
            | convert(convert(to, uint160), uint256)
            | (state << _STATE_SHIFT)
        )
    # Cannot underflow: `owner` holds this batch. Cannot overflow: bounded by minted ids.
    self._balances[owner] = unsafe_sub(self._balances[owner], 1)
    self._balances[to] = unsafe_add(self._balances[to], 1)
    log Transfer(sender=owner, receiver=to, tokenId=batch_id)


# INTERNAL: ipfs:// URIs


@internal
@pure
def _ipfs_uri(digest: bytes32, codec: uint8) -> String[66]:
    """
    @dev Multibase "b" + RFC 4648 base32 (lowercase, no padding) of the
         36 CID bytes 0x01 codec 0x12 0x20 digest: seven 5-byte groups of
         8 characters, then the last byte as 2 characters.
    """
    hi: uint256 = _CID_PREFIX_RAW
    if codec == CODEC_DAG_PB:
        hi = _CID_PREFIX_DAG_PB
    lo: uint256 = convert(digest, uint256)
    # The 288-bit CID is hi (32 bits) followed by lo (256 bits); group g
    # covers bits [40g, 40g + 40) from the top, i.e. ends `shift` bits above the bottom.
    g0: String[8] = self._base32_group((hi << 8) | (lo >> 248))
    g1: String[8] = self._base32_group(lo >> 208)
    g2: String[8] = self._base32_group(lo >> 168)
    g3: String[8] = self._base32_group(lo >> 128)
    g4: String[8] = self._base32_group(lo >> 88)
    g5: String[8] = self._base32_group(lo >> 48)
    g6: String[8] = self._base32_group(lo >> 8)
    last: uint256 = lo & 255
    tail: String[2] = concat(self._base32_char(last >> 3), self._base32_char((last & 7) << 2))
    return concat("ipfs://b", g0, g1, g2, g3, g4, g5, g6, tail)


@internal
@pure
def _base32_group(bits: uint256) -> String[8]:
    v: uint256 = bits & ((1 << 40) - 1)
    return concat(
        self._base32_char(v >> 35),
        self._base32_char((v >> 30) & 31),
        self._base32_char((v >> 25) & 31),
        self._base32_char((v >> 20) & 31),
        self._base32_char((v >> 15) & 31),
        self._base32_char((v >> 10) & 31),
        self._base32_char((v >> 5) & 31),
        self._base32_char(v & 31),
    )


@internal
@pure
def _base32_char(v: uint256) -> String[1]:
    return slice(_BASE32, v, 1)
