"""Each exploit of the contract review, replayed: it must now fail with its own revert reason."""

import ape

from tambon.typed_data import CouncilApproval, pack_signatures, sign, typed_data

from .conftest import RAW, THB, evidence_digest, submitted_eth_milestone


def _token_grant(escrow, members, community, chain, token, amounts=(THB, THB)):
    deadlines = [chain.pending_timestamp + (i + 1) * 86_400 for i in range(len(amounts))]
    return escrow.create_grant(
        community, token, sum(amounts), list(amounts), deadlines, evidence_digest(), RAW, sender=members[0]
    ).return_value


# 1. milestone-id aliasing


def test_out_of_range_milestone_id__cannot_reach_another_grant(
    escrow, council, create_grant, funder, community, attacker, members
):
    attackers_grant = create_grant(amounts=(THB,), recipient=attacker)
    communitys_grant = create_grant(amounts=(THB, THB))
    assert (attackers_grant, communitys_grant) == (0, 1)
    escrow.fund(communitys_grant, 2 * THB, value=2 * THB, sender=funder)
    aliased = 256 * communitys_grant + 1  # grant 0 | 1, milestone 1 under the old key
    deadline = council.deadline()
    with ape.reverts("escrow: milestone id too large"):
        escrow.submit(attackers_grant, aliased, evidence_digest(), RAW, sender=attacker)
    with ape.reverts("escrow: milestone id too large"):
        escrow.release_digest(attackers_grant, aliased, deadline)
    with ape.reverts("escrow: milestone id too large"):
        escrow.reject_digest(attackers_grant, aliased, evidence_digest(), deadline)
    with ape.reverts("escrow: milestone id too large"):
        escrow.milestone(attackers_grant, aliased)
    with ape.reverts("escrow: milestone id too large"):
        escrow.escalate(attackers_grant, aliased, sender=attacker)
    with ape.reverts("escrow: milestone id too large"):
        escrow.release(attackers_grant, aliased, deadline, b"\x00" * 195, sender=attacker)
    with ape.reverts("escrow: milestone id too large"):
        escrow.milestone(2**248 + communitys_grant, 1)  # the grant id half of the key is bounded too
    # The community's milestone was never touched and stays open to the community alone.
    assert escrow.milestone(communitys_grant, 1).status == 1
    escrow.submit(communitys_grant, 1, evidence_digest(), RAW, sender=community)
    council.release(communitys_grant, 1, sender=members[0])
    assert escrow.milestone(communitys_grant, 1).status == 3


# 2. fund() and a cancel relayed from a token hook


def test_fund__erc777_hook_relaying_cancel__reverts_and_cancel_stays_usable(
    project, deployer, escrow, council, members, community, chain
):
    token = project.hook_token_mock.deploy(sender=deployer)
    grant_id = _token_grant(escrow, members, community, chain, token)
    funder = project.relay_hook_mock.deploy(escrow, sender=deployer)
    token.mint(funder, 2 * THB, sender=deployer)
    deadline = council.deadline()
    message = {"grantId": grant_id, "nonce": escrow.council_nonce(), "deadline": deadline}
    signatures = council.sign("Cancel", message, members[:3])
    funder.prime(escrow.cancel.as_transaction(grant_id, deadline, signatures).data, sender=deployer)
    nonce = escrow.council_nonce()
    with ape.reverts("escrow: grant cancelled"):
        funder.fund_grant(token, grant_id, THB, sender=deployer)
    assert not escrow.grant(grant_id).cancelled and escrow.council_nonce() == nonce
    # The council's decision was not used up: relayed alone it cancels for good.
    escrow.cancel(grant_id, deadline, signatures, sender=members[0])
    assert escrow.grant(grant_id).cancelled


# 3. EIP-1271 answers are checked on all 32 bytes


def test_contract_member_answering_magic_plus_junk__is_not_an_approval(
    project, deployer, accounts, community, funder, chain
):
    wallet = project.erc1271_junk_wallet_mock.deploy(sender=deployer)
    others = [accounts[1], accounts[2]]
    escrow = project.grant_escrow.deploy(
        [wallet.address, *[m.address for m in others]], 3, 1, sender=deployer
    )
    grant_id, deadline, data = submitted_eth_milestone(escrow, chain, others[0], community, funder)
    approvals = [CouncilApproval(m.address, sign(data, m.private_key)) for m in others]
    forged = pack_signatures([*approvals, CouncilApproval(wallet.address, contract_data=b"anything")])
    with ape.reverts("council: invalid contract signature"):
        escrow.release(grant_id, 0, deadline, forged, sender=community)


# 4. the budget is re-checked on what arrived; fee-on-transfer credits what arrived


def test_fund__token_delivering_more_than_asked__cannot_pass_the_budget(
    project, deployer, escrow, members, community, funder, chain
):
    token = project.fee_token_mock.deploy(20_000, sender=deployer)  # delivers twice what is sent
    grant_id = _token_grant(escrow, members, community, chain, token)
    token.mint(funder, 4 * THB, sender=deployer)
    token.approve(escrow, 4 * THB, sender=funder)
    with ape.reverts("escrow: over budget"):
        escrow.fund(grant_id, 3 * THB // 2, sender=funder)  # asks 1.5, 3 arrive, budget 2
    escrow.fund(grant_id, THB, sender=funder)  # 2 arrive: exactly the budget
    assert escrow.grant(grant_id).funded == 2 * THB == escrow.token_held(token)


def test_fund__fee_on_transfer_token__credits_what_arrived(
    project, deployer, escrow, members, community, funder, chain
):
    token = project.fee_token_mock.deploy(9_000, sender=deployer)  # 10 % fee
    grant_id = _token_grant(escrow, members, community, chain, token)
    token.mint(funder, THB, sender=deployer)
    token.approve(escrow, THB, sender=funder)
    receipt = escrow.fund(grant_id, THB, sender=funder)
    assert receipt.events.filter(escrow.Funded)[0].amount == 9 * THB // 10
    assert escrow.funded_by(grant_id, funder) == 9 * THB // 10 == escrow.token_held(token)
    assert token.balanceOf(escrow) == escrow.token_held(token)


# 5. pooled tokens: a shortfall stops payouts instead of landing on the last withdrawer


def test_rebasing_token__negative_rebase_stops_payouts_until_topped_up(
    project, deployer, escrow, council, members, community, funder, chain
):
    token = project.rebasing_token_mock.deploy(sender=deployer)
    first = _token_grant(escrow, members, community, chain, token)
    second = _token_grant(escrow, members, community, chain, token)
    token.mint(funder, 4 * THB, sender=deployer)
    token.approve(escrow, 4 * THB, sender=funder)
    escrow.fund(first, 2 * THB, sender=funder)
    escrow.fund(second, 2 * THB, sender=funder)
    assert escrow.token_held(token) == 4 * THB
    token.rebase(9_000, sender=deployer)  # every balance loses 10 %
    escrow.submit(second, 0, evidence_digest(), RAW, sender=community)
    with ape.reverts("escrow: token balance short"):
        council.release(second, 0, sender=members[0])
    token.mint(escrow, THB // 2, sender=deployer)  # anyone may make the pool whole again
    council.release(second, 0, sender=members[0])
    # The token rounds share conversions at a 0.9 index down by at most one base unit.
    assert THB - 1 <= token.balanceOf(community) <= THB and escrow.token_held(token) == 3 * THB
    token.rebase(11_000, sender=deployer)  # a gain belongs to no grant: held stays, surplus shows
    assert token.balanceOf(escrow) > escrow.token_held(token) == 3 * THB


# 6. on-chain approvals are bound to the roster they were given under


def test_approve_hash__of_removed_then_readded_member__does_not_count_again(
    escrow, council, funded_eth_grant, community, members, attacker
):
    escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)
    deadline = council.deadline(30 * 86_400)
    digest = escrow.release_digest(funded_eth_grant, 0, deadline)
    leaver = members[4]
    escrow.approve_hash(digest, sender=leaver)
    assert escrow.approved(digest, leaver)
    council.governance("RemoveMember", members[0], member=leaver.address, threshold=3)
    council.governance("AddMember", members[0], member=leaver.address, threshold=3)
    assert escrow.is_member(leaver) and not escrow.approved(digest, leaver)
    data = typed_data("Release", council.release_message(funded_eth_grant, 0, deadline), council.domain())
    approvals = [CouncilApproval(m.address, sign(data, m.private_key)) for m in members[:2]]
    stale = pack_signatures([*approvals, CouncilApproval(leaver.address)])
    with ape.reverts("council: hash not approved"):
        escrow.release(funded_eth_grant, 0, deadline, stale, sender=attacker)
    escrow.approve_hash(digest, sender=leaver)  # approving again under the new roster counts
    escrow.release(funded_eth_grant, 0, deadline, stale, sender=attacker)
    assert escrow.milestone(funded_eth_grant, 0).status == 3
