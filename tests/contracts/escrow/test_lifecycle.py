"""A grant from creation to the last payment, in ETH and in the THB stablecoin."""

import ape

from .conftest import DAG_PB, RAW, THB, evidence_digest

PENDING, SUBMITTED, PAID, REJECTED, ESCALATED = 1, 2, 3, 4, 5


def test_eth_grant__create_fund_submit_release__pays_exact_amounts(
    escrow, council, create_grant, funder, community, members
):
    grant_id = create_grant(amounts=(10**18, 2 * 10**18))
    escrow.fund(grant_id, 3 * 10**18, value=3 * 10**18, sender=funder)
    evidence = evidence_digest()
    escrow.submit(grant_id, 0, evidence, DAG_PB, sender=community)

    before = community.balance
    receipt = council.release(grant_id, 0, sender=members[4])

    assert community.balance == before + 10**18
    assert escrow.balance == 2 * 10**18
    milestone = escrow.milestone(grant_id, 0)
    assert milestone.status == PAID
    assert milestone.evidence == evidence
    assert milestone.codec == DAG_PB
    assert escrow.grant(grant_id).paid == 10**18
    assert receipt.events.filter(escrow.MilestoneReleased)[0].amount == 10**18


def test_thb_grant__three_of_five_release__moves_tokens_exactly(
    escrow, council, funded_thb_grant, thb, community, members
):
    for milestone_id, amount in enumerate((50_000 * THB, 100_000 * THB, 50_000 * THB)):
        before = thb.balanceOf(community)
        escrow.submit(funded_thb_grant, milestone_id, evidence_digest(), RAW, sender=community)
        council.release(funded_thb_grant, milestone_id, sender=members[0], signers=members[2:5])
        assert escrow.milestone(funded_thb_grant, milestone_id).status == PAID
        assert thb.balanceOf(community) == before + amount
    assert thb.balanceOf(community) == 200_000 * THB
    assert thb.balanceOf(escrow) == 0
    grant = escrow.grant(funded_thb_grant)
    assert grant.paid == grant.funded == 200_000 * THB


def test_reject_then_resubmit__releases_the_new_evidence(
    escrow, council, funded_eth_grant, community, members
):
    escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)
    reason = evidence_digest()
    receipt = council.reject(funded_eth_grant, 0, reason, sender=members[0])
    assert receipt.events.filter(escrow.MilestoneRejected)[0].reason == reason
    milestone = escrow.milestone(funded_eth_grant, 0)
    assert milestone.status == REJECTED
    assert milestone.rejection_reason == reason

    better = evidence_digest()
    escrow.submit(funded_eth_grant, 0, better, RAW, sender=community)
    assert escrow.milestone(funded_eth_grant, 0).nonce == 2
    council.release(funded_eth_grant, 0, sender=members[0])
    milestone = escrow.milestone(funded_eth_grant, 0)
    assert (milestone.status, milestone.evidence) == (PAID, better)


def test_funding_by_several_funders__is_recorded_per_funder(escrow, create_grant, funder, accounts):
    grant_id = create_grant(amounts=(3 * 10**18,))
    escrow.fund(grant_id, 10**18, value=10**18, sender=funder)
    escrow.fund(grant_id, 2 * 10**18, value=2 * 10**18, sender=accounts[9])
    assert escrow.funded_by(grant_id, funder) == 10**18
    assert escrow.funded_by(grant_id, accounts[9]) == 2 * 10**18
    assert escrow.grant(grant_id).funded == 3 * 10**18


def test_partial_funding__pays_milestones_covered_in_order(
    escrow, council, create_grant, funder, community, members
):
    grant_id = create_grant(amounts=(10**18, 10**18))
    escrow.fund(grant_id, 10**18, value=10**18, sender=funder)
    escrow.submit(grant_id, 1, evidence_digest(), RAW, sender=community)
    with ape.reverts("escrow: grant underfunded"):
        council.release(grant_id, 1, sender=members[0])
    escrow.submit(grant_id, 0, evidence_digest(), RAW, sender=community)
    council.release(grant_id, 0, sender=members[0])
    escrow.fund(grant_id, 10**18, value=10**18, sender=funder)
    council.release(grant_id, 1, sender=members[0])
    assert escrow.balance == 0


def test_escalate__after_review_timeout__marks_milestone_escalated(
    escrow, council, funded_eth_grant, community, members, chain
):
    escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)
    with ape.reverts("escrow: review period not over"):
        escrow.escalate(funded_eth_grant, 0, sender=community)
    chain.pending_timestamp += escrow.REVIEW_TIMEOUT() + 1
    receipt = escrow.escalate(funded_eth_grant, 0, sender=community)
    assert len(receipt.events.filter(escrow.MilestoneEscalated)) == 1
    assert escrow.milestone(funded_eth_grant, 0).status == ESCALATED
    # Escalation never pays by itself; the council still decides.
    council.release(funded_eth_grant, 0, sender=members[1])
    assert escrow.milestone(funded_eth_grant, 0).status == PAID


def test_on_chain_approvals__count_toward_threshold(escrow, council, funded_eth_grant, community, members):
    from tambon.typed_data import CouncilApproval, pack_signatures, sign, typed_data

    escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)
    deadline = council.deadline()
    digest = escrow.release_digest(funded_eth_grant, 0, deadline)
    escrow.approve_hash(digest, sender=members[0])
    data = typed_data("Release", council.release_message(funded_eth_grant, 0, deadline), council.domain())
    approvals = [
        CouncilApproval(members[0].address),  # approved on-chain above
        CouncilApproval(members[1].address),  # the sender itself
        CouncilApproval(members[2].address, sign(data, members[2].private_key)),
    ]
    escrow.release(funded_eth_grant, 0, deadline, pack_signatures(approvals), sender=members[1])
    assert escrow.milestone(funded_eth_grant, 0).status == PAID


def test_release_digest_view__equals_typed_data_digest(escrow, council, funded_eth_grant, community):
    from tambon.typed_data import digest, typed_data

    escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)
    deadline = council.deadline()
    data = typed_data("Release", council.release_message(funded_eth_grant, 0, deadline), council.domain())
    assert escrow.release_digest(funded_eth_grant, 0, deadline) == digest(data)
