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
        Entries are sorted by signer address, strictly ascending, which makes them
        unique without a seen-set.
        Membership and threshold changes go through the same signed path and a
        council-wide `nonce`; decisions with a key of their own (a milestone's
        release) carry that key's nonce instead.
"""

# @dev Typed-data hashing with the domain of the contract that initializes this module.
from snekmate.utils import eip712_domain_separator as eip712
uses: eip712

# @dev Low-s ECDSA recovery, so no signature has a malleable twin.
from snekmate.utils import ecdsa


# CONSTANTS

MAX_MEMBERS: constant(uint256) = 20
SIGNATURE_BYTES: constant(uint256) = 65
# @dev Room for MAX_MEMBERS plain signatures plus the data of contract signatures (a Safe's own 3-of-5 is 195 bytes).
MAX_SIGNATURES_BYTES: constant(uint256) = 2_048
ERC1271_MAGIC: constant(bytes4) = 0x1626BA7E
V_CONTRACT: constant(uint256) = 0
V_APPROVED: constant(uint256) = 1

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

is_member: public(HashMap[address, bool])
threshold: public(uint256)
#: Council-wide nonce, consumed by membership changes and other council-wide decisions.
council_nonce: public(uint256)
#: approved[digest][member]: on-chain approvals by member transactions.
approved: public(HashMap[bytes32, HashMap[address, bool]])
_members: DynArray[address, MAX_MEMBERS]


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
    for member: address in members:
        self._add_member(member)
    self._set_threshold(threshold)


# VIEW

@external
@view
def members() -> DynArray[address, MAX_MEMBERS]:
    """
    @notice The current council members, in the order they joined (removal swaps the last in).
    """
    return self._members


@external
@view
def member_count() -> uint256:
    return len(self._members)


# COUNCIL DECISIONS

@external
def approve_hash(digest: bytes32):
    """
    @notice Approve a decision digest on-chain; counts as this member's signature.
    @dev For members who cannot sign typed data (a multisig wallet, a hardware
         device without EIP-712 display) or prefer an on-chain record.
    @param digest The EIP-712 digest of the decision, as the `*_digest` views return it.
    """
    assert self.is_member[msg.sender], "council: not a member"
    self.approved[digest][msg.sender] = True
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
    self._add_member(member)
    self._set_threshold(new_threshold)


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
    self._remove_member(member)
    self._set_threshold(new_threshold)


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
    self._set_threshold(new_threshold)


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
    required: uint256 = self.threshold
    # The threshold is at most MAX_MEMBERS, so the product cannot overflow.
    static_bytes: uint256 = unsafe_mul(required, SIGNATURE_BYTES)
    assert len(signatures) >= static_bytes, "council: below threshold"
    previous: uint256 = 0
    for i: uint256 in range(MAX_MEMBERS):
        if i == required:
            break
        offset: uint256 = unsafe_mul(i, SIGNATURE_BYTES)
        r: uint256 = extract32(signatures, offset, output_type=uint256)
        s: uint256 = extract32(signatures, unsafe_add(offset, 32), output_type=uint256)
        v: uint256 = convert(slice(signatures, unsafe_add(offset, 64), 1), uint256)
        signer: address = empty(address)
        if v == V_APPROVED:
            signer = self._address_from_word(r)
            assert msg.sender == signer or self.approved[digest][signer], "council: hash not approved"
        elif v == V_CONTRACT:
            signer = self._address_from_word(r)
            self._check_contract_signature(signer, digest, signatures, s, static_bytes)
        else:
            signer = ecdsa._recover_vrs(digest, v, r, s)
        signer_word: uint256 = convert(signer, uint256)
        assert signer_word > previous, "council: signers not sorted or duplicate"
        assert self.is_member[signer], "council: not a member"
        previous = signer_word


@internal
@view
def _check_contract_signature(
    signer: address, digest: bytes32, signatures: Bytes[MAX_SIGNATURES_BYTES], data_offset: uint256, static_bytes: uint256
):
    # Dynamic parts live after the fixed 65-byte entries so they cannot alias one.
    assert data_offset >= static_bytes, "council: contract signature overlaps"
    assert data_offset + 32 <= len(signatures), "council: contract signature out of bounds"
    data_length: uint256 = extract32(signatures, data_offset, output_type=uint256)
    assert data_offset + 32 + data_length <= len(signatures), "council: contract signature out of bounds"
    data: Bytes[MAX_SIGNATURES_BYTES] = slice(signatures, data_offset + 32, data_length)
    assert signer.is_contract, "council: contract signer has no code"
    # A wallet that reverts on a bad signature (as Safe does) must read as "invalid", not bubble up.
    success: bool = False
    response: Bytes[32] = b""
    success, response = raw_call(
        signer,
        abi_encode(digest, data, method_id=method_id("isValidSignature(bytes32,bytes)")),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    assert success and len(response) == 32, "council: invalid contract signature"
    assert convert(slice(response, 0, 4), bytes4) == ERC1271_MAGIC, "council: invalid contract signature"


@internal
@pure
def _address_from_word(word: uint256) -> address:
    assert word <= convert(max_value(uint160), uint256), "council: malformed signer"
    return convert(convert(word, uint160), address)


@internal
def _add_member(member: address):
    assert member != empty(address), "council: zero address member"
    assert not self.is_member[member], "council: already a member"
    assert len(self._members) < MAX_MEMBERS, "council: too many members"
    self.is_member[member] = True
    self._members.append(member)
    log MemberAdded(member=member)


@internal
def _remove_member(member: address):
    assert self.is_member[member], "council: not a member"
    self.is_member[member] = False
    count: uint256 = len(self._members)
    for i: uint256 in range(MAX_MEMBERS):
        if i == count:
            break
        if self._members[i] == member:
            # Swap with the last member and shrink; `count >= 1` because `member` is in the list.
            self._members[i] = self._members[unsafe_sub(count, 1)]
            self._members.pop()
            break
    log MemberRemoved(member=member)


@internal
def _set_threshold(new_threshold: uint256):
    assert new_threshold != 0, "council: zero threshold"
    assert new_threshold <= len(self._members), "council: threshold above member count"
    if new_threshold != self.threshold:
        self.threshold = new_threshold
        log ThresholdChanged(threshold=new_threshold)
