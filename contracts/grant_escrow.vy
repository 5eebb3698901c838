# pragma version ~=0.4.3
"""
@title Grant escrow of an อปท.
@custom:contract-name grant_escrow
@license MIT
@notice Holds the money an อปท. (and anyone else) puts into community grants, in
        ETH or an ERC-20 such as a THB stablecoin, and pays each milestone to the
        community when the council approves its evidence.

        Life of a milestone: PENDING -> SUBMITTED (community, with an evidence CID)
        -> PAID (council release) or REJECTED (council, with a reason CID) ->
        SUBMITTED again. If the council does not decide within the review timeout,
        the community may ESCALATE: a public signal, never a self-payment.

        Every council decision is an EIP-712 message approved by `threshold`
        members (see the council module). A release is signed over
        `Release(grantId, milestoneId, evidence, amount, nonce, deadline)`, where
        `nonce` is the milestone's submission count, so a signature covers exactly
        one submission of one piece of evidence and dies with a resubmission.

        Funds of a grant only ever leave as a milestone payment to its recipient,
        or, after a council cancel, as pull refunds to the funders pro rata.

        Tokens: custody is pooled (one balance per token) but accounted per grant.
        Each grant holds funded - paid - refunded, and `token_held(token)` is the
        sum over all grants of a token. Every token payout first checks that the
        escrow's balance still covers `token_held`, so a negative rebase or a
        token that quietly loses balance stops payouts in that token for everyone
        ("escrow: token balance short") instead of leaving the last withdrawer,
        perhaps of another grant, with the loss; anyone may top the balance up.
        Funding credits what actually arrived (fee-on-transfer tokens) and is
        re-checked against the budget. A surplus (positive rebase, tokens sent
        directly) belongs to no grant and stays in the escrow as a cushion
        against a later shortfall: a council sweep would need a new signed
        entry point, and this contract sits at the 24 KB code-size limit.
        ETH needs no such accounting (it cannot rebase); ETH forced in by
        selfdestruct stays unclaimed. Plain ERC-20s are the intended tokens; the
        checks above keep hostile ones from hurting other grants.

        Limits the council should know:
        - The escrow owns the registries for good: it exposes no call that moves
          their ownership. Moving to a new escrow means deploying new registries
          (their history stays readable on the old ones).
        - Two council-wide decisions signed for the same council nonce race:
          whichever is relayed first wins and the other's signatures die with the
          nonce; members re-sign the loser for the next nonce if still wanted.
"""

from ethereum.ercs import IERC20

# @dev EIP-712 domain ("Tambon GrantEscrow", "1") shared by all decisions of this escrow.
from snekmate.utils import eip712_domain_separator as eip712

initializes: eip712

# @dev Signature checks for the community's gasless submissions (EOA or EIP-1271 wallet).
from snekmate.utils import signature_checker

# @dev Members, threshold and M-of-N signature checks.
from modules import council

initializes: council[eip712 := eip712]

# @dev Council-signed administration of the provenance and attestation registries it owns.
from modules import council_registries

initializes: council_registries[council := council]

exports: (
    eip712.eip712Domain,
    council.is_member,
    council.threshold,
    council.council_nonce,
    council.approved,
    council.members,
    council.member_count,
    council.approve_hash,
    council.add_member,
    council.remove_member,
    council.change_threshold,
    council_registries.register_producer,
    council_registries.revoke_producer,
    council_registries.add_oracle_key,
    council_registries.revoke_oracle_key,
    council_registries.approve_model,
    council_registries.revoke_model,
)


# CONSTANTS

MILESTONE_ID_BITS: constant(uint256) = 5
MAX_MILESTONES: constant(uint256) = 1 << MILESTONE_ID_BITS
# @dev Grant ids count up from 0, so they never reach 2**64; the bound keeps `grant_id << 8` lossless.
GRANT_ID_BITS: constant(uint256) = 64
MAX_SIGNATURES_BYTES: constant(uint256) = council.MAX_SIGNATURES_BYTES
MAX_AMOUNT: constant(uint256) = 2**88 - 1
MAX_SUBMISSIONS: constant(uint256) = 255

CODEC_RAW: constant(uint256) = 85  # 0x55
CODEC_DAG_PB: constant(uint256) = 112  # 0x70

# Milestone status, stored in 4 bits; zero means "no such milestone".
PENDING: constant(uint256) = 1
SUBMITTED: constant(uint256) = 2
PAID: constant(uint256) = 3
REJECTED: constant(uint256) = 4
ESCALATED: constant(uint256) = 5

# Grant head word: recipient (160) | funded (88) | flags (8).
FUNDED_SHIFT: constant(uint256) = 160
FLAGS_SHIFT: constant(uint256) = 248
FLAG_EXISTS: constant(uint256) = 1
FLAG_ERC20: constant(uint256) = 2
FLAG_CANCELLED: constant(uint256) = 4

# Grant config word: token (160) | budget (88) | milestone count (8).
BUDGET_SHIFT: constant(uint256) = 160
COUNT_SHIFT: constant(uint256) = 248

# Milestone word: amount (88) | cumulative (88) | status (4) | dag-pb flag (1) | spare (3)
#                 | nonce (8) | deadline (32) | submitted_at (32).
CUMULATIVE_SHIFT: constant(uint256) = 88
STATUS_SHIFT: constant(uint256) = 176
DAG_PB_BIT: constant(uint256) = 1 << 180
NONCE_SHIFT: constant(uint256) = 184
DEADLINE_SHIFT: constant(uint256) = 192
SUBMITTED_AT_SHIFT: constant(uint256) = 224
MASK_88: constant(uint256) = 2**88 - 1
MASK_32: constant(uint256) = 2**32 - 1
MASK_8: constant(uint256) = 2**8 - 1
MASK_160: constant(uint256) = 2**160 - 1
# Status and nonce are read inline with these masks: the contract sits near the 24 KB code limit
# and each helper call would cost bytes and gas on every release.
STATUS_BITS: constant(uint256) = 15
STATUS_MASK: constant(uint256) = STATUS_BITS << STATUS_SHIFT
# Everything a submission rewrites: status, codec flag, nonce and submission time.
SUBMISSION_MASK: constant(uint256) = (31 << 176) | (MASK_8 << 184) | (MASK_32 << 224)

RELEASE_TYPEHASH: constant(bytes32) = keccak256(
    "Release(uint256 grantId,uint256 milestoneId,bytes32 evidence,uint256 amount,uint256 nonce,uint256 deadline)"
)
REJECT_TYPEHASH: constant(bytes32) = keccak256(
    "Reject(uint256 grantId,uint256 milestoneId,bytes32 evidence,bytes32 reason,uint256 nonce,uint256 deadline)"
)
SUBMIT_TYPEHASH: constant(bytes32) = keccak256(
    "Submit(uint256 grantId,uint256 milestoneId,bytes32 evidence,uint8 codec,uint256 nonce,uint256 deadline)"
)
CANCEL_TYPEHASH: constant(bytes32) = keccak256("Cancel(uint256 grantId,uint256 nonce,uint256 deadline)")


# IMMUTABLES

#: Seconds the council has to decide on a submission before the community may escalate.
REVIEW_TIMEOUT: public(immutable(uint256))


# STORAGE

grant_count: public(uint256)
_grant_head: HashMap[uint256, uint256]
_grant_config: HashMap[uint256, uint256]
# Milestone data is keyed by `grant_id << 8 | milestone_id` (built only by `_milestone_key`, which
# bounds both ids, so keys never collide): one hash per access, not two.
_milestone: HashMap[uint256, uint256]
_evidence: HashMap[uint256, bytes32]
_rejection: HashMap[uint256, bytes32]
#: funded_by[grant_id][funder]: what each funder put into a grant.
funded_by: public(HashMap[uint256, HashMap[address, uint256]])
#: refund_claimed[grant_id][funder]: whether a funder took back its share after a cancel.
refund_claimed: public(HashMap[uint256, HashMap[address, bool]])
# Per cancelled grant: refund pool still unclaimed (128) | funding not yet refunded (128).
_refund_state: HashMap[uint256, uint256]
#: token_held[token]: what all grants in `token` hold (funded - paid - refunded).
token_held: public(HashMap[address, uint256])


# EVENTS

event GrantCreated:
    grant_id: indexed(uint256)
    recipient: indexed(address)
    token: indexed(address)
    budget: uint256
    milestone_count: uint256
    proposal: bytes32
    proposal_codec: uint8
    creator: address


event MilestoneScheduled:
    grant_id: indexed(uint256)
    milestone_id: indexed(uint256)
    amount: uint256
    deadline: uint256


event Funded:
    grant_id: indexed(uint256)
    funder: indexed(address)
    amount: uint256
    funded_total: uint256


event MilestoneSubmitted:
    grant_id: indexed(uint256)
    milestone_id: indexed(uint256)
    evidence: bytes32
    codec: uint8
    nonce: uint256


event MilestoneReleased:
    grant_id: indexed(uint256)
    milestone_id: indexed(uint256)
    amount: uint256


event MilestoneRejected:
    grant_id: indexed(uint256)
    milestone_id: indexed(uint256)
    reason: bytes32
    nonce: uint256


event MilestoneEscalated:
    grant_id: indexed(uint256)
    milestone_id: indexed(uint256)
    submitted_at: uint256


event GrantCancelled:
    grant_id: indexed(uint256)
    refund_pool: uint256


event RefundClaimed:
    grant_id: indexed(uint256)
    funder: indexed(address)
    amount: uint256


struct GrantView:
    recipient: address
    token: address
    budget: uint256
    funded: uint256
    paid: uint256
    milestone_count: uint256
    cancelled: bool


struct MilestoneView:
    amount: uint256
    deadline: uint256
    status: uint256
    nonce: uint256
    submitted_at: uint256
    evidence: bytes32
    codec: uint8
    rejection_reason: bytes32


@deploy
def __init__(members: DynArray[address, council.MAX_MEMBERS], threshold: uint256, review_timeout: uint256):
    """
    @param members The founding council members.
    @param threshold How many members must approve a decision.
    @param review_timeout Seconds the council has to decide on a submission before escalation.
    """
    eip712.__init__("Tambon GrantEscrow", "1")
    council.__init__(members, threshold)
    assert review_timeout != 0, "escrow: zero review timeout"
    REVIEW_TIMEOUT = review_timeout


# GRANTS

@external
def create_grant(
    recipient: address,
    token: address,
    budget: uint256,
    amounts: DynArray[uint256, MAX_MILESTONES],
    deadlines: DynArray[uint256, MAX_MILESTONES],
    proposal: bytes32,
    proposal_codec: uint8,
) -> uint256:
    """
    @notice Open a grant for a community with its milestone plan.
    @dev Any council member may open a grant: no money moves until it is funded,
         and none leaves without `threshold` approvals.
    @param recipient The community's wallet; receives every milestone payment.
    @param token The ERC-20 paid out, or the zero address for ETH.
    @param budget The most this grant may ever be funded with.
    @param amounts Payment of each milestone; their sum must fit the budget.
    @param deadlines Unix time by which each milestone must be submitted.
    @param proposal sha2-256 digest of the proposal document's CID.
    @param proposal_codec CID codec of the proposal (0x55 raw or 0x70 dag-pb).
    @return uint256 The new grant's id.
    """
    assert council._is_member(msg.sender), "escrow: only council members create grants"
    assert recipient != empty(address), "escrow: zero address recipient"
    assert recipient != self, "escrow: escrow cannot be recipient"
    assert token == empty(address) or token.is_contract, "escrow: token has no code"
    assert budget != 0, "escrow: zero budget"
    assert budget <= MAX_AMOUNT, "escrow: budget too large"
    assert len(amounts) != 0, "escrow: no milestones"
    assert len(amounts) == len(deadlines), "escrow: amounts and deadlines differ in length"
    self._check_codec(convert(proposal_codec, uint256))

    grant_id: uint256 = self.grant_count
    cumulative: uint256 = 0
    for i: uint256 in range(MAX_MILESTONES):
        if i == len(amounts):
            break
        amount: uint256 = amounts[i]
        deadline: uint256 = deadlines[i]
        assert amount != 0, "escrow: zero milestone amount"
        assert deadline > block.timestamp, "escrow: milestone deadline in the past"
        assert deadline <= MASK_32, "escrow: milestone deadline too far"
        cumulative += amount
        assert cumulative <= budget, "escrow: milestones exceed budget"
        self._milestone[self._milestone_key(grant_id, i)] = (
            amount | (cumulative << CUMULATIVE_SHIFT) | (PENDING << STATUS_SHIFT) | (deadline << DEADLINE_SHIFT)
        )
        log MilestoneScheduled(grant_id=grant_id, milestone_id=i, amount=amount, deadline=deadline)

    flags: uint256 = FLAG_EXISTS
    if token != empty(address):
        flags |= FLAG_ERC20
    self._grant_head[grant_id] = convert(recipient, uint256) | (flags << FLAGS_SHIFT)
    self._grant_config[grant_id] = (convert(token, uint256) | (budget << BUDGET_SHIFT) | (len(amounts) << COUNT_SHIFT))
    self.grant_count = grant_id + 1
    log GrantCreated(
        grant_id=grant_id,
        recipient=recipient,
        token=token,
        budget=budget,
        milestone_count=len(amounts),
        proposal=proposal,
        proposal_codec=proposal_codec,
        creator=msg.sender,
    )
    return grant_id


@external
@payable
@nonreentrant
def fund(grant_id: uint256, amount: uint256):
    """
    @notice Put money into a grant: ETH as `msg.value` (equal to `amount`), or an
            ERC-20 the caller approved this escrow to pull.
    @dev Anyone may fund; each funder's share is recorded for pro-rata refunds.
         For tokens the amount credited is what actually arrived, and the grant is
         read again after the token call: a token hook that cancels the grant (or
         delivers more than asked, past the budget) makes the funding revert
         instead of being written over the newer state.
    @param grant_id The grant to fund.
    @param amount How much to put in, in the grant's token units (wei for ETH).
    """
    head: uint256 = self._live_grant(grant_id)
    config: uint256 = self._grant_config[grant_id]
    assert amount != 0, "escrow: zero amount"
    funded: uint256 = (head >> FUNDED_SHIFT) & MASK_88
    budget: uint256 = (config >> BUDGET_SHIFT) & MASK_88

    received: uint256 = amount
    if (head >> FLAGS_SHIFT) & FLAG_ERC20 != 0:
        assert msg.value == 0, "escrow: ETH sent to a token grant"
        token: IERC20 = IERC20(convert(config & MASK_160, address))
        before: uint256 = staticcall token.balanceOf(self)
        assert extcall token.transferFrom(
            msg.sender, self, amount, default_return_value=True
        ), "escrow: token transfer failed"
        received = staticcall token.balanceOf(self) - before
        assert received != 0, "escrow: zero amount"
        # The token call may have re-entered (a hook relaying a public `cancel`): work on what is stored now.
        head = self._live_grant(grant_id)
        funded = (head >> FUNDED_SHIFT) & MASK_88
        self.token_held[token.address] += received
    else:
        assert msg.value == amount, "escrow: amount differs from ETH sent"
    # Checked on what arrived, after any re-entry: a token delivering more than asked cannot pass the budget.
    funded += received
    assert funded <= budget, "escrow: over budget"
    self._grant_head[grant_id] = (head & ~(MASK_88 << FUNDED_SHIFT)) | (funded << FUNDED_SHIFT)
    self.funded_by[grant_id][msg.sender] += received
    log Funded(grant_id=grant_id, funder=msg.sender, amount=received, funded_total=funded)


# MILESTONES

@external
def submit(grant_id: uint256, milestone_id: uint256, evidence: bytes32, codec: uint8):
    """
    @notice Submit a milestone's evidence (a UnixFS bundle of photos and receipts) for review.
    @dev Only the grant's recipient; a rejected milestone may be submitted again.
    @param grant_id The grant.
    @param milestone_id The milestone, counted from 0.
    @param evidence sha2-256 digest of the evidence CID.
    @param codec CID codec (0x55 raw or 0x70 dag-pb).
    """
    head: uint256 = self._live_grant(grant_id)
    assert msg.sender == convert(head & MASK_160, address), "escrow: only the recipient submits"
    self._submit(grant_id, milestone_id, evidence, codec)


@external
def submit_signed(
    grant_id: uint256, milestone_id: uint256, evidence: bytes32, codec: uint8, deadline: uint256, signature: Bytes[65]
):
    """
    @notice Relay a community's signed submission, so a community wallet without ETH can submit.
    @dev The recipient signs `Submit(grantId, milestoneId, evidence, codec, nonce, deadline)`
         with the milestone's current nonce; EIP-1271 wallets are accepted.
    @param grant_id The grant.
    @param milestone_id The milestone, counted from 0.
    @param evidence sha2-256 digest of the evidence CID.
    @param codec CID codec (0x55 raw or 0x70 dag-pb).
    @param deadline Unix time after which the signature is void.
    @param signature The recipient's signature (65 bytes, low-s).
    """
    head: uint256 = self._live_grant(grant_id)
    assert block.timestamp <= deadline, "escrow: signature expired"
    word: uint256 = self._milestone_word(self._milestone_key(grant_id, milestone_id))
    assert signature_checker._is_valid_signature_now(
        convert(head & MASK_160, address),
        self._submit_digest(grant_id, milestone_id, evidence, codec, word, deadline),
        signature,
    ), "escrow: invalid recipient signature"
    self._submit(grant_id, milestone_id, evidence, codec)


@external
def release(grant_id: uint256, milestone_id: uint256, deadline: uint256, signatures: Bytes[MAX_SIGNATURES_BYTES]):
    """
    @notice Pay a submitted milestone to the community, with the council's approval.
    @dev Anyone may relay the signatures. The milestone is marked PAID before the
         transfer and nothing is read after it (checks-effects-interactions), so a
         re-entering recipient or token finds the milestone paid; no lock is needed
         and none is paid for on every release.
         WARNING: a recipient contract that rejects ETH makes the release revert.
    @param grant_id The grant.
    @param milestone_id The milestone.
    @param deadline Unix time after which the signatures are void.
    @param signatures `threshold` member approvals of the `Release` message, sorted by signer.
    """
    assert block.timestamp <= deadline, "escrow: signature expired"
    head: uint256 = self._live_grant(grant_id)
    # `_milestone_key` written out: a helper call here costs every release ~70 gas (goal: 66,000).
    assert (milestone_id >> MILESTONE_ID_BITS) | (grant_id >> GRANT_ID_BITS) == 0, "escrow: milestone id too large"
    key: uint256 = (grant_id << 8) | milestone_id
    word: uint256 = self._milestone_word(key)
    self._check_under_review(word)
    amount: uint256 = word & MASK_88
    assert (head >> FUNDED_SHIFT) & MASK_88 >= (word >> CUMULATIVE_SHIFT) & MASK_88, "escrow: grant underfunded"
    # The `Release` struct hash of `_release_digest`, written out for the same reason.
    council._check_signatures(
        eip712._hash_typed_data_v4(
            keccak256(
                abi_encode(
                    RELEASE_TYPEHASH,
                    grant_id,
                    milestone_id,
                    self._evidence[key],
                    amount,
                    (word >> NONCE_SHIFT) & MASK_8,
                    deadline,
                )
            )
        ),
        signatures,
    )
    self._milestone[key] = (word & ~STATUS_MASK) | (PAID << STATUS_SHIFT)
    log MilestoneReleased(grant_id=grant_id, milestone_id=milestone_id, amount=amount)
    self._pay(head, grant_id, convert(head & MASK_160, address), amount)


@external
def reject(
    grant_id: uint256,
    milestone_id: uint256,
    reason: bytes32,
    deadline: uint256,
    signatures: Bytes[MAX_SIGNATURES_BYTES],
):
    """
    @notice Send a submitted milestone back to the community with the council's reason.
    @param grant_id The grant.
    @param milestone_id The milestone.
    @param reason sha2-256 digest of the CID of the reason document (raw codec).
    @param deadline Unix time after which the signatures are void.
    @param signatures `threshold` member approvals of the `Reject` message, sorted by signer.
    """
    assert block.timestamp <= deadline, "escrow: signature expired"
    self._live_grant(grant_id)
    key: uint256 = self._milestone_key(grant_id, milestone_id)
    word: uint256 = self._milestone_word(key)
    self._check_under_review(word)
    assert reason != empty(bytes32), "escrow: empty reason"
    council._check_signatures(self._reject_digest(key, word, reason, deadline), signatures)
    self._milestone[key] = (word & ~STATUS_MASK) | (REJECTED << STATUS_SHIFT)
    self._rejection[key] = reason
    log MilestoneRejected(
        grant_id=grant_id, milestone_id=milestone_id, reason=reason, nonce=(word >> NONCE_SHIFT) & MASK_8
    )


@external
def escalate(grant_id: uint256, milestone_id: uint256):
    """
    @notice Flag a submission the council left undecided past the review timeout.
    @dev Only the recipient. Escalation is a public signal: the council can still
         release or reject, and nothing is paid without it.
    @param grant_id The grant.
    @param milestone_id The milestone.
    """
    head: uint256 = self._live_grant(grant_id)
    assert msg.sender == convert(head & MASK_160, address), "escrow: only the recipient escalates"
    key: uint256 = self._milestone_key(grant_id, milestone_id)
    word: uint256 = self._milestone_word(key)
    assert (word >> STATUS_SHIFT) & STATUS_BITS == SUBMITTED, "escrow: milestone not submitted"
    submitted_at: uint256 = word >> SUBMITTED_AT_SHIFT
    assert block.timestamp > submitted_at + REVIEW_TIMEOUT, "escrow: review period not over"
    self._milestone[key] = (word & ~STATUS_MASK) | (ESCALATED << STATUS_SHIFT)
    log MilestoneEscalated(grant_id=grant_id, milestone_id=milestone_id, submitted_at=submitted_at)


# CANCEL AND REFUNDS

@external
def cancel(grant_id: uint256, deadline: uint256, signatures: Bytes[MAX_SIGNATURES_BYTES]):
    """
    @notice Stop a grant: no further payments; what was funded and not paid becomes
            claimable by the funders, pro rata to what each put in.
    @dev Makes no external call. `fund` re-reads the grant after its token call,
         so a cancel relayed from inside a token hook cannot be written over.
    @param grant_id The grant.
    @param deadline Unix time after which the signatures are void.
    @param signatures `threshold` member approvals of `Cancel(grantId, nonce, deadline)` with the council nonce.
    """
    head: uint256 = self._live_grant(grant_id)
    council._authorize_council(self._cancel_struct_hash(grant_id, deadline), deadline, signatures)
    funded: uint256 = (head >> FUNDED_SHIFT) & MASK_88
    # Paid is at most funded: each paid milestone's cumulative amount was covered by funding.
    pool: uint256 = unsafe_sub(funded, self._paid(grant_id))
    self._grant_head[grant_id] = head | (FLAG_CANCELLED << FLAGS_SHIFT)
    self._refund_state[grant_id] = pool | (funded << 128)
    log GrantCancelled(grant_id=grant_id, refund_pool=pool)


@external
@nonreentrant
def claim_refund(grant_id: uint256) -> uint256:
    """
    @notice Take back a funder's share of a cancelled grant's unspent money.
    @dev Share = remaining pool x own funding / funding not yet refunded, so the
         last claimer receives the exact remainder and no dust is stranded.
    @param grant_id The cancelled grant.
    @return uint256 The amount refunded.
    """
    head: uint256 = self._grant_head[grant_id]
    assert head != 0, "escrow: unknown grant"
    assert (head >> FLAGS_SHIFT) & FLAG_CANCELLED != 0, "escrow: grant not cancelled"
    share: uint256 = self.funded_by[grant_id][msg.sender]
    assert share != 0, "escrow: nothing funded"
    assert not self.refund_claimed[grant_id][msg.sender], "escrow: refund already claimed"
    state: uint256 = self._refund_state[grant_id]
    pool: uint256 = state & (2**128 - 1)
    unrefunded_funding: uint256 = state >> 128
    refund: uint256 = pool * share // unrefunded_funding
    self._refund_state[grant_id] = (pool - refund) | ((unrefunded_funding - share) << 128)
    self.refund_claimed[grant_id][msg.sender] = True
    log RefundClaimed(grant_id=grant_id, funder=msg.sender, amount=refund)
    if refund != 0:
        self._pay(head, grant_id, msg.sender, refund)
    return refund


# VIEW

@external
@view
def grant(grant_id: uint256) -> GrantView:
    """
    @notice Everything about a grant a dashboard shows, paid total included.
    @param grant_id The grant.
    @return GrantView recipient, token (zero for ETH), budget, funded, paid,
            milestone count and whether it is cancelled.
    """
    head: uint256 = self._grant_head[grant_id]
    assert head != 0, "escrow: unknown grant"
    config: uint256 = self._grant_config[grant_id]
    return GrantView(
        recipient=convert(head & MASK_160, address),
        token=convert(config & MASK_160, address),
        budget=(config >> BUDGET_SHIFT) & MASK_88,
        funded=(head >> FUNDED_SHIFT) & MASK_88,
        paid=self._paid(grant_id),
        milestone_count=config >> COUNT_SHIFT,
        cancelled=(head >> FLAGS_SHIFT) & FLAG_CANCELLED != 0,
    )


@external
@view
def milestone(grant_id: uint256, milestone_id: uint256) -> MilestoneView:
    """
    @notice A milestone's amount, deadline, status (1 pending, 2 submitted, 3 paid,
            4 rejected, 5 escalated), submission nonce and evidence.
    @param grant_id The grant.
    @param milestone_id The milestone, counted from 0.
    @return MilestoneView amount, deadline, status, nonce, submission time,
            evidence digest and codec (0 before any submission) and the last
            rejection reason.
    """
    key: uint256 = self._milestone_key(grant_id, milestone_id)
    word: uint256 = self._milestone_word(key)
    evidence: bytes32 = self._evidence[key]
    codec: uint8 = 0
    if evidence != empty(bytes32):
        codec = convert(CODEC_DAG_PB if word & DAG_PB_BIT != 0 else CODEC_RAW, uint8)
    return MilestoneView(
        amount=word & MASK_88,
        deadline=(word >> DEADLINE_SHIFT) & MASK_32,
        status=(word >> STATUS_SHIFT) & STATUS_BITS,
        nonce=(word >> NONCE_SHIFT) & MASK_8,
        submitted_at=word >> SUBMITTED_AT_SHIFT,
        evidence=evidence,
        codec=codec,
        rejection_reason=self._rejection[key],
    )


@external
@view
def refund_pool(grant_id: uint256) -> uint256:
    """
    @notice Unspent money of a cancelled grant that funders have not claimed yet.
    @param grant_id The grant.
    @return uint256 The unclaimed pool (0 for a grant that is not cancelled).
    """
    return self._refund_state[grant_id] & (2**128 - 1)


@external
@view
def release_digest(grant_id: uint256, milestone_id: uint256, deadline: uint256) -> bytes32:
    """
    @notice The EIP-712 digest members sign to release a milestone as it stands now.
    @param grant_id The grant.
    @param milestone_id The milestone.
    @param deadline Unix time after which the signatures are void.
    @return bytes32 The digest `release` checks.
    """
    key: uint256 = self._milestone_key(grant_id, milestone_id)
    return self._release_digest(key, self._milestone_word(key), deadline)


@external
@view
def reject_digest(grant_id: uint256, milestone_id: uint256, reason: bytes32, deadline: uint256) -> bytes32:
    """
    @notice The EIP-712 digest members sign to reject a milestone as it stands now.
    @param grant_id The grant.
    @param milestone_id The milestone.
    @param reason sha2-256 digest of the reason document's CID.
    @param deadline Unix time after which the signatures are void.
    @return bytes32 The digest `reject` checks.
    """
    key: uint256 = self._milestone_key(grant_id, milestone_id)
    return self._reject_digest(key, self._milestone_word(key), reason, deadline)


@external
@view
def cancel_digest(grant_id: uint256, deadline: uint256) -> bytes32:
    """
    @notice The EIP-712 digest members sign to cancel a grant with the current council nonce.
    @param grant_id The grant.
    @param deadline Unix time after which the signatures are void.
    @return bytes32 The digest `cancel` checks.
    """
    return eip712._hash_typed_data_v4(self._cancel_struct_hash(grant_id, deadline))


# SURPLUS

# INTERNAL

@internal
@view
def _live_grant(grant_id: uint256) -> uint256:
    head: uint256 = self._grant_head[grant_id]
    assert head != 0, "escrow: unknown grant"
    assert (head >> FLAGS_SHIFT) & FLAG_CANCELLED == 0, "escrow: grant cancelled"
    return head


@internal
@pure
def _milestone_key(grant_id: uint256, milestone_id: uint256) -> uint256:
    """
    @dev The one place a milestone's storage key is built. Both ids are bounded
         here: an unbounded milestone id 256 * k + m would alias milestone m of
         grant `grant_id | k` (grant 0 reaching every grant).
    """
    # One test for both bounds (MAX_MILESTONES and MAX_GRANT_ID + 1 are powers of two): this runs on every release.
    assert (milestone_id >> MILESTONE_ID_BITS) | (grant_id >> GRANT_ID_BITS) == 0, "escrow: milestone id too large"
    return (grant_id << 8) | milestone_id


@internal
@view
def _release_digest(key: uint256, word: uint256, deadline: uint256) -> bytes32:
    """
    @dev The `Release` digest for the milestone as stored, as `release` checks it (`release` writes
         it out to stay within its gas goal; tests compare the two). The ids are read back from the
         key (`_milestone_key` keeps it one-to-one).
    """
    return eip712._hash_typed_data_v4(
        keccak256(
            abi_encode(
                RELEASE_TYPEHASH,
                key >> 8,
                key & MASK_8,
                self._evidence[key],
                word & MASK_88,
                (word >> NONCE_SHIFT) & MASK_8,
                deadline,
            )
        )
    )


@internal
@view
def _reject_digest(key: uint256, word: uint256, reason: bytes32, deadline: uint256) -> bytes32:
    """
    @dev The `Reject` digest for the milestone as stored; `reject` and `reject_digest` share it.
    """
    return eip712._hash_typed_data_v4(
        keccak256(
            abi_encode(
                REJECT_TYPEHASH,
                key >> 8,
                key & MASK_8,
                self._evidence[key],
                reason,
                (word >> NONCE_SHIFT) & MASK_8,
                deadline,
            )
        )
    )


@internal
@view
def _submit_digest(
    grant_id: uint256, milestone_id: uint256, evidence: bytes32, codec: uint8, word: uint256, deadline: uint256
) -> bytes32:
    """
    @dev The `Submit` digest with the milestone's current nonce, as `submit_signed` checks it.
    """
    return eip712._hash_typed_data_v4(
        keccak256(
            abi_encode(
                SUBMIT_TYPEHASH, grant_id, milestone_id, evidence, codec, (word >> NONCE_SHIFT) & MASK_8, deadline
            )
        )
    )


@internal
@view
def _cancel_struct_hash(grant_id: uint256, deadline: uint256) -> bytes32:
    """
    @dev The `Cancel` struct hash with the current council nonce; `cancel` and `cancel_digest` share it.
    """
    return keccak256(abi_encode(CANCEL_TYPEHASH, grant_id, council.council_nonce, deadline))


@internal
@view
def _milestone_word(key: uint256) -> uint256:
    word: uint256 = self._milestone[key]
    assert word != 0, "escrow: unknown milestone"
    return word


@internal
@pure
def _check_under_review(word: uint256):
    status: uint256 = (word >> STATUS_SHIFT) & STATUS_BITS
    if status != SUBMITTED and status != ESCALATED:
        assert status != PAID, "escrow: milestone already paid"
        raise "escrow: milestone not submitted"


@internal
@pure
def _check_codec(codec: uint256):
    assert codec == CODEC_RAW or codec == CODEC_DAG_PB, "escrow: unsupported CID codec"


@internal
def _submit(grant_id: uint256, milestone_id: uint256, evidence: bytes32, codec: uint8):
    key: uint256 = self._milestone_key(grant_id, milestone_id)
    word: uint256 = self._milestone_word(key)
    status: uint256 = (word >> STATUS_SHIFT) & STATUS_BITS
    assert status == PENDING or status == REJECTED, "escrow: milestone not open for submission"
    assert block.timestamp <= (word >> DEADLINE_SHIFT) & MASK_32, "escrow: milestone deadline passed"
    assert evidence != empty(bytes32), "escrow: empty evidence"
    codec_code: uint256 = convert(codec, uint256)
    self._check_codec(codec_code)
    nonce: uint256 = (word >> NONCE_SHIFT) & MASK_8
    assert nonce < MAX_SUBMISSIONS, "escrow: too many submissions"
    # Bounded by MAX_SUBMISSIONS just above.
    nonce = unsafe_add(nonce, 1)
    updated: uint256 = (
        (word & ~SUBMISSION_MASK)
        | (SUBMITTED << STATUS_SHIFT)
        | (nonce << NONCE_SHIFT)
        | (block.timestamp << SUBMITTED_AT_SHIFT)
    )
    if codec_code == CODEC_DAG_PB:
        updated |= DAG_PB_BIT
    self._milestone[key] = updated
    self._evidence[key] = evidence
    log MilestoneSubmitted(grant_id=grant_id, milestone_id=milestone_id, evidence=evidence, codec=codec, nonce=nonce)


@internal
@view
def _paid(grant_id: uint256) -> uint256:
    count: uint256 = self._grant_config[grant_id] >> COUNT_SHIFT
    paid: uint256 = 0
    for i: uint256 in range(MAX_MILESTONES):
        if i == count:
            break
        word: uint256 = self._milestone[self._milestone_key(grant_id, i)]
        if (word >> STATUS_SHIFT) & STATUS_BITS == PAID:
            paid += word & MASK_88
    return paid


@internal
def _pay(head: uint256, grant_id: uint256, to: address, amount: uint256):
    """
    @dev The last step of every payout (nothing is read after it).
    """
    if (head >> FLAGS_SHIFT) & FLAG_ERC20 != 0:
        token: IERC20 = IERC20(convert(self._grant_config[grant_id] & MASK_160, address))
        held: uint256 = self.token_held[token.address]
        # A shortfall (negative rebase) stops payouts in this token rather than landing on the last one.
        assert staticcall token.balanceOf(self) >= held, "escrow: token balance short"
        # Cannot underflow: what grants hold includes this payment (credited when funded).
        self.token_held[token.address] = unsafe_sub(held, amount)
        assert extcall token.transfer(to, amount, default_return_value=True), "escrow: token transfer failed"
    else:
        assert raw_call(to, b"", value=amount, revert_on_failure=False), "escrow: ETH transfer failed"
