# pragma version ~=0.4.3
"""
@title Council of an อปท. (M of N members)
@custom:contract-name council
@license MIT
@notice Members, threshold and the signature check every council decision goes
        through. A decision is an EIP-712 digest approved by `threshold` members,
        each either:
        - an ECDSA signature (65 bytes r, s, v with v in {27, 28}, low-s only),
        - an EIP-1271 contract signature (v = 0; r = the member contract, s = the
          offset of `[length][data]` inside the signature blob), so a Safe can sit
          on the council,
        - an on-chain approval (v = 1; r = the member), given earlier with
          `approve_hash` or implied when that member sends the transaction.
          An approval counts only under the council it was given to: any
          membership or threshold change starts a new roster and voids earlier
          on-chain approvals, so a removed and re-added member's old ones do
          not count again.

        Signature data is at most 608 bytes (MAX_SIGNATURES_BYTES): enough for
        9 plain signatures, or up to 7 with one contract member's data (a Safe
        3-of-5 adds 32 + 195 bytes). With a threshold of 8 or 9, a contract
        member approves on-chain with `approve_hash` (v = 1) instead. The
        buffer stays small on purpose: Vyper sizes memory by it and every
        release pays that memory.
        Entries are sorted by signer address, strictly ascending, which makes them
        unique without a seen-set.

        The roster (members sorted ascending) is kept as the code of a small data
        contract, written once per membership change (the SSTORE2 pattern). One
        storage word holds its address, the member count and the threshold, so a
        decision reads the whole council with one storage read and one
        EXTCODECOPY instead of one cold storage read per signer.

        Membership and threshold changes go through the same signed path and a
        council-wide nonce; decisions with a key of their own (a milestone's
        release) carry that key's nonce instead.
"""

# @dev Typed-data hashing with the domain of the contract that initializes this module.
from snekmate.utils import eip712_domain_separator as eip712

uses: eip712

# @dev Low-s ECDSA recovery, so no signature has a malleable twin.
from snekmate.utils import ecdsa


# CONSTANTS

MAX_MEMBERS: constant(uint256) = 16
SIGNATURE_BYTES: constant(uint256) = 65
# @dev Room for MAX_THRESHOLD plain signatures, or fewer plus the data of contract
#      signatures (a Safe 3-of-5 signing as a member adds 32 + 195 bytes). Kept small on
#      purpose: Vyper sizes memory frames by it and every release pays that memory.
MAX_THRESHOLD: constant(uint256) = 9
MAX_SIGNATURES_BYTES: constant(uint256) = 608
ROSTER_BYTES: constant(uint256) = 32 * MAX_MEMBERS
# @dev Init code that returns a STOP byte followed by the 512-byte roster as runtime code:
#      PUSH2 0x0201, DUP1, PUSH1 0x0a, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN, STOP.
ROSTER_INITCODE_PREFIX: constant(Bytes[11]) = b"\x61\x02\x01\x80\x60\x0a\x3d\x39\x3d\xf3\x00"
# @dev The whole 32-byte answer a valid EIP-1271 wallet returns: the selector, then zeros.
ERC1271_MAGIC_WORD: constant(bytes32) = 0x1626BA7E00000000000000000000000000000000000000000000000000000000
V_CONTRACT: constant(uint256) = 0
V_APPROVED: constant(uint256) = 1

# Roster word: data contract address (160) | member count (8) | threshold (8).
COUNT_SHIFT: constant(uint256) = 160
THRESHOLD_SHIFT: constant(uint256) = 168
MASK_160: constant(uint256) = 2**160 - 1
MASK_8: constant(uint256) = 255

ADD_MEMBER_TYPEHASH: constant(bytes32) = keccak256(
    "AddMember(address member,uint256 threshold,uint256 nonce,uint256 deadline)"
)
REMOVE_MEMBER_TYPEHASH: constant(bytes32) = keccak256(
    "RemoveMember(address member,uint256 threshold,uint256 nonce,uint256 deadline)"
)
CHANGE_THRESHOLD_TYPEHASH: constant(bytes32) = keccak256(
    "ChangeThreshold(uint256 threshold,uint256 nonce,uint256 deadline)"
)


# STORAGE

_roster: uint256
#: Council-wide nonce, consumed by membership changes and other council-wide decisions.
council_nonce: public(uint256)
# @dev digest -> member -> the roster (data contract address) the approval was given under;
#      it counts only while that roster is current.
_approvals: HashMap[bytes32, HashMap[address, uint256]]


# EVENTS

event MemberAdded:
    member: indexed(address)


event MemberRemoved:
    member: indexed(address)


event ThresholdChanged:
    threshold: uint256


event HashApproved:
    digest: indexed(bytes32)
    member: indexed(address)


@deploy
def __init__(members: DynArray[address, MAX_MEMBERS], threshold: uint256):
    roster: DynArray[address, MAX_MEMBERS] = []
    for member: address in members:
        roster = self._with_member(roster, member)
    self._store_roster(roster, threshold)


# VIEW

@external
@view
def members() -> DynArray[address, MAX_MEMBERS]:
    """
    @notice The current council members, sorted ascending (the order signatures are given in).
    @return DynArray[address, 16] The members.
    """
    return self._members()


@external
@view
def member_count() -> uint256:
    """
    @notice How many members the council has.
    @return uint256 The member count.
    """
    return (self._roster >> COUNT_SHIFT) & MASK_8


@external
@view
def threshold() -> uint256:
    """
    @notice How many members must approve a decision.
    @return uint256 The threshold.
    """
    return self._roster >> THRESHOLD_SHIFT


@external
@view
def is_member(account: address) -> bool:
    """
    @notice Whether `account` sits on the council now.
    @param account Any address.
    @return bool True for a current member.
    """
    return self._is_member(account)


@external
@view
def approved(digest: bytes32, member: address) -> bool:
    """
    @notice Whether `member`'s on-chain approval of `digest` counts now.
    @param digest A decision digest.
    @param member The member.
    @return bool True if approved under the current roster (no membership or
            threshold change since).
    """
    return self._approvals[digest][member] == self._roster & MASK_160


# COUNCIL DECISIONS

@external
def approve_hash(digest: bytes32):
    """
    @notice Approve a decision digest on-chain; counts as this member's signature.
    @dev For members who cannot sign typed data (a multisig wallet, a hardware
         device without EIP-712 display) or prefer an on-chain record.
    @param digest The EIP-712 digest of the decision, as the `*_digest` views return it.
    """
    assert self._is_member(msg.sender), "council: not a member"
    self._approvals[digest][msg.sender] = self._roster & MASK_160
    log HashApproved(digest=digest, member=msg.sender)


@external
def add_member(member: address, new_threshold: uint256, deadline: uint256, signatures: Bytes[MAX_SIGNATURES_BYTES]):
    """
    @notice Add a member and set the threshold, as the council decided.
    @param member The new member, an EOA or an EIP-1271 contract.
    @param new_threshold The threshold after the change.
    @param deadline Unix time after which the signatures are void.
    @param signatures Sorted member signatures over `AddMember(member, threshold, nonce, deadline)`.
    """
    self._authorize_council(
        keccak256(abi_encode(ADD_MEMBER_TYPEHASH, member, new_threshold, self.council_nonce, deadline)),
        deadline,
        signatures,
    )
    self._store_roster(self._with_member(self._members(), member), new_threshold)


@external
def remove_member(member: address, new_threshold: uint256, deadline: uint256, signatures: Bytes[MAX_SIGNATURES_BYTES]):
    """
    @notice Remove a member and set the threshold, as the council decided.
    @dev Signatures the removed member gave earlier stop counting at once.
    @param member The member to remove.
    @param new_threshold The threshold after the change; at most the remaining member count.
    @param deadline Unix time after which the signatures are void.
    @param signatures Sorted member signatures over `RemoveMember(member, threshold, nonce, deadline)`.
    """
    self._authorize_council(
        keccak256(abi_encode(REMOVE_MEMBER_TYPEHASH, member, new_threshold, self.council_nonce, deadline)),
        deadline,
        signatures,
    )
    self._store_roster(self._without_member(self._members(), member), new_threshold)


@external
def change_threshold(new_threshold: uint256, deadline: uint256, signatures: Bytes[MAX_SIGNATURES_BYTES]):
    """
    @notice Change how many members must approve a decision.
    @param new_threshold Between 1 and the member count.
    @param deadline Unix time after which the signatures are void.
    @param signatures Sorted member signatures over `ChangeThreshold(threshold, nonce, deadline)`.
    """
    self._authorize_council(
        keccak256(abi_encode(CHANGE_THRESHOLD_TYPEHASH, new_threshold, self.council_nonce, deadline)),
        deadline,
        signatures,
    )
    self._store_roster(self._members(), new_threshold)


# INTERNAL

@internal
def _authorize_council(struct_hash: bytes32, deadline: uint256, signatures: Bytes[MAX_SIGNATURES_BYTES]):
    """
    @dev Checks a council-wide decision and consumes the council nonce.
    """
    assert block.timestamp <= deadline, "council: signature expired"
    self._check_signatures(eip712._hash_typed_data_v4(struct_hash), signatures)
    # The nonce counts decisions; 2**256 of them cannot happen.
    self.council_nonce = unsafe_add(self.council_nonce, 1)


@internal
@view
def _check_signatures(digest: bytes32, signatures: Bytes[MAX_SIGNATURES_BYTES]):
    """
    @dev Reverts unless the first `threshold` entries of `signatures` are valid
         approvals of `digest` by distinct current members, sorted ascending.
    """
    roster_word: uint256 = self._roster
    required: uint256 = roster_word >> THRESHOLD_SHIFT
    count: uint256 = (roster_word >> COUNT_SHIFT) & MASK_8
    roster: Bytes[ROSTER_BYTES] = slice(convert(roster_word & MASK_160, address).code, 1, ROSTER_BYTES)
    # Cannot overflow: the threshold is at most MAX_MEMBERS.
    static_bytes: uint256 = unsafe_mul(required, SIGNATURE_BYTES)
    assert len(signatures) >= static_bytes, "council: below threshold"

    previous: uint256 = 0
    # Position in the roster; signers and roster both ascend, so one forward walk finds them all.
    cursor: uint256 = 0
    for i: uint256 in range(MAX_MEMBERS):
        if i == required:
            break
        # Cannot overflow: i < MAX_MEMBERS; offsets past the data make extract32 revert.
        offset: uint256 = unsafe_mul(i, SIGNATURE_BYTES)
        r: uint256 = extract32(signatures, offset, output_type=uint256)
        s: uint256 = extract32(signatures, unsafe_add(offset, 32), output_type=uint256)
        # The word ending at this entry's last byte carries v in its low byte.
        v: uint256 = extract32(signatures, unsafe_add(offset, 33), output_type=uint256) & MASK_8
        signer: uint256 = 0
        if v == V_APPROVED:
            signer = r
            assert signer <= MASK_160, "council: malformed signer"
            member: address = convert(convert(signer, uint160), address)
            # Approvals given under an earlier roster (before a membership change) do not count.
            assert (
                msg.sender == member or self._approvals[digest][member] == roster_word & MASK_160
            ), "council: hash not approved"
        elif v == V_CONTRACT:
            signer = r
            assert signer <= MASK_160, "council: malformed signer"
            # Dynamic parts live after the fixed 65-byte entries so they cannot alias one.
            assert s >= static_bytes, "council: contract signature overlaps"
            assert s + 32 <= len(signatures), "council: contract signature out of bounds"
            data_length: uint256 = extract32(signatures, s, output_type=uint256)
            assert s + 32 + data_length <= len(signatures), "council: contract signature out of bounds"
            wallet: address = convert(convert(signer, uint160), address)
            assert wallet.is_contract, "council: contract signer has no code"
            # Inline rather than a helper: a helper's Bytes parameter would enlarge every
            # caller's memory frame, and memory expansion is paid on each plain release too.
            # A wallet that reverts on a bad signature (as Safe does) reads as "invalid".
            success: bool = False
            response: Bytes[32] = b""
            success, response = raw_call(
                wallet,
                abi_encode(
                    digest,
                    slice(signatures, s + 32, data_length),
                    method_id=method_id("isValidSignature(bytes32,bytes)"),
                ),
                max_outsize=32,
                is_static_call=True,
                revert_on_failure=False,
            )
            # The whole word, not its first 4 bytes: a wallet answering the magic value followed by
            # junk, or echoing its calldata, must not read as approval.
            assert success and len(response) == 32, "council: invalid contract signature"
            assert extract32(response, 0) == ERC1271_MAGIC_WORD, "council: invalid contract signature"
        else:
            signer = convert(ecdsa._recover_vrs(digest, v, r, s), uint256)
        assert signer > previous, "council: signers not sorted or duplicate"
        for _: uint256 in range(MAX_MEMBERS):
            # Cannot overflow: cursor <= count <= MAX_MEMBERS.
            if cursor == count or extract32(roster, unsafe_mul(cursor, 32), output_type=uint256) >= signer:
                break
            # cursor < count <= MAX_MEMBERS.
            cursor = unsafe_add(cursor, 1)
        assert cursor != count, "council: not a member"
        # Cannot overflow: cursor < count <= MAX_MEMBERS.
        assert extract32(roster, unsafe_mul(cursor, 32), output_type=uint256) == signer, "council: not a member"
        previous = signer


@internal
@view
def _members() -> DynArray[address, MAX_MEMBERS]:
    roster_word: uint256 = self._roster
    count: uint256 = (roster_word >> COUNT_SHIFT) & MASK_8
    roster: Bytes[ROSTER_BYTES] = slice(convert(roster_word & MASK_160, address).code, 1, ROSTER_BYTES)
    members: DynArray[address, MAX_MEMBERS] = []
    for i: uint256 in range(MAX_MEMBERS):
        if i == count:
            break
        members.append(extract32(roster, i * 32, output_type=address))
    return members


@internal
@view
def _is_member(account: address) -> bool:
    return account != empty(address) and account in self._members()


@internal
@pure
def _with_member(members: DynArray[address, MAX_MEMBERS], member: address) -> DynArray[address, MAX_MEMBERS]:
    assert member != empty(address), "council: zero address member"
    assert member not in members, "council: already a member"
    assert len(members) < MAX_MEMBERS, "council: too many members"
    # Insert in ascending order.
    result: DynArray[address, MAX_MEMBERS] = []
    inserted: bool = False
    for current: address in members:
        if not inserted and convert(member, uint256) < convert(current, uint256):
            result.append(member)
            inserted = True
        result.append(current)
    if not inserted:
        result.append(member)
    return result


@internal
@pure
def _without_member(members: DynArray[address, MAX_MEMBERS], member: address) -> DynArray[address, MAX_MEMBERS]:
    assert member in members, "council: not a member"
    result: DynArray[address, MAX_MEMBERS] = []
    for current: address in members:
        if current != member:
            result.append(current)
    return result


@internal
def _store_roster(members: DynArray[address, MAX_MEMBERS], new_threshold: uint256):
    assert new_threshold != 0, "council: zero threshold"
    assert new_threshold <= len(members), "council: threshold above member count"
    assert new_threshold <= MAX_THRESHOLD, "council: threshold above 9"
    padded: address[MAX_MEMBERS] = empty(address[MAX_MEMBERS])
    for i: uint256 in range(MAX_MEMBERS):
        if i == len(members):
            break
        padded[i] = members[i]
    data_contract: address = raw_create(concat(ROSTER_INITCODE_PREFIX, abi_encode(padded)))
    old: uint256 = self._roster
    old_members: DynArray[address, MAX_MEMBERS] = []
    if old != 0:
        old_members = self._members()
    self._roster = (
        convert(data_contract, uint256) | (len(members) << COUNT_SHIFT) | (new_threshold << THRESHOLD_SHIFT)
    )
    for member: address in members:
        if member not in old_members:
            log MemberAdded(member=member)
    for member: address in old_members:
        if member not in members:
            log MemberRemoved(member=member)
    if new_threshold != old >> THRESHOLD_SHIFT:
        log ThresholdChanged(threshold=new_threshold)
