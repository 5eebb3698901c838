"""Cancel with pull refunds, council membership changes, EIP-1271 members and re-entrancy."""

import ape
import pytest

from tambon.typed_data import CouncilApproval, pack_signatures, sign, typed_data

from .conftest import RAW, THB, evidence_digest


def test_cancel__refunds_unspent_funds_pro_rata_without_dust(
    escrow, council, create_grant, funder, accounts, community, members
):
    grant_id = create_grant(amounts=(10**18, 2 * 10**18))
    escrow.fund(grant_id, 10**18 + 1, value=10**18 + 1, sender=funder)
    escrow.fund(grant_id, 2 * 10**18 - 1, value=2 * 10**18 - 1, sender=accounts[9])
    escrow.submit(grant_id, 0, evidence_digest(), RAW, sender=community)
    council.release(grant_id, 0, sender=members[0])
    council.cancel(grant_id, sender=members[0])
    assert escrow.refund_pool(grant_id) == 2 * 10**18

    first = escrow.claim_refund(grant_id, sender=funder).return_value
    second = escrow.claim_refund(grant_id, sender=accounts[9]).return_value
    assert first + second == 2 * 10**18
    assert first == (2 * 10**18) * (10**18 + 1) // (3 * 10**18)
    assert escrow.balance == 0
    assert escrow.refund_pool(grant_id) == 0


def test_cancel__thb_grant__refund_is_pulled_by_funder(
    escrow, council, funded_thb_grant, thb, funder, members
):
    council.cancel(funded_thb_grant, sender=members[0])
    escrow.claim_refund(funded_thb_grant, sender=funder)
    assert thb.balanceOf(funder) == 200_000 * THB


def test_claim_refund__twice__reverts(escrow, council, funded_eth_grant, funder, members):
    council.cancel(funded_eth_grant, sender=members[0])
    escrow.claim_refund(funded_eth_grant, sender=funder)
    with ape.reverts("escrow: refund already claimed"):
        escrow.claim_refund(funded_eth_grant, sender=funder)


def test_claim_refund__before_cancel__reverts(escrow, funded_eth_grant, funder):
    with ape.reverts("escrow: grant not cancelled"):
        escrow.claim_refund(funded_eth_grant, sender=funder)


def test_claim_refund__by_non_funder__reverts(escrow, council, funded_eth_grant, attacker, members):
    council.cancel(funded_eth_grant, sender=members[0])
    with ape.reverts("escrow: nothing funded"):
        escrow.claim_refund(funded_eth_grant, sender=attacker)


def test_cancel__below_threshold__reverts(escrow, council, funded_eth_grant, members):
    with ape.reverts("council: below threshold"):
        council.cancel(funded_eth_grant, sender=members[0], signers=members[:2])


def test_cancel__twice__reverts(escrow, council, funded_eth_grant, members):
    council.cancel(funded_eth_grant, sender=members[0])
    with ape.reverts("escrow: grant cancelled"):
        council.cancel(funded_eth_grant, sender=members[0])


def test_fund__after_cancel__reverts(escrow, council, create_grant, funder, members):
    grant_id = create_grant(amounts=(10**18,))
    council.cancel(grant_id, sender=members[0])
    with ape.reverts("escrow: grant cancelled"):
        escrow.fund(grant_id, 1, value=1, sender=funder)


def test_add_member__then_new_member_signs_release(
    escrow, council, funded_eth_grant, community, accounts, members
):
    newcomer = accounts[9]
    council.governance("AddMember", members[0], member=newcomer.address, threshold=4)
    assert escrow.is_member(newcomer)
    assert (escrow.threshold(), escrow.member_count()) == (4, 6)
    escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)
    council.release(funded_eth_grant, 0, sender=community, signers=[newcomer, *members[:3]])
    assert escrow.milestone(funded_eth_grant, 0).status == 3


def test_add_member__existing_member__reverts(escrow, council, members):
    with ape.reverts("council: already a member"):
        council.governance("AddMember", members[0], member=members[1].address, threshold=3)


def test_remove_member__non_member__reverts(escrow, council, members, attacker):
    with ape.reverts("council: not a member"):
        council.governance("RemoveMember", members[0], member=attacker.address, threshold=3)


def test_change_threshold__above_member_count__reverts(escrow, council, members):
    with ape.reverts("council: threshold above member count"):
        council.governance("ChangeThreshold", members[0], threshold=6)


def test_change_threshold__zero__reverts(escrow, council, members):
    with ape.reverts("council: zero threshold"):
        council.governance("ChangeThreshold", members[0], threshold=0)


def test_remove_member__leaving_fewer_members_than_threshold__reverts(escrow, council, members):
    council.governance("ChangeThreshold", members[0], threshold=5)
    with ape.reverts("council: threshold above member count"):
        council.governance(
            "RemoveMember", members[0], signers=members, member=members[4].address, threshold=5
        )


def test_governance_signatures__replayed__revert(escrow, council, members):
    deadline = council.deadline()
    message = {"threshold": 2, "nonce": escrow.council_nonce(), "deadline": deadline}
    signatures = council.sign("ChangeThreshold", message, members[:3])
    escrow.change_threshold(2, deadline, signatures, sender=members[0])
    with ape.reverts("council: not a member"):
        escrow.change_threshold(2, deadline, signatures, sender=members[0])


def test_deploy__threshold_above_members__reverts(project, deployer, members):
    with ape.reverts("council: threshold above member count"):
        project.grant_escrow.deploy([m.address for m in members], 6, 1, sender=deployer)


def test_deploy__duplicate_member__reverts(project, deployer, members):
    with ape.reverts("council: already a member"):
        project.grant_escrow.deploy([members[0].address, members[0].address], 1, 1, sender=deployer)


def test_eip1271_member__contract_signature_counts(
    project, deployer, accounts, council, community, funder, chain
):
    owner = accounts[9]
    wallet = project.erc1271_wallet_mock.deploy(owner, sender=deployer)
    others = [accounts[i] for i in range(1, 3)]
    escrow = project.grant_escrow.deploy(
        [wallet.address, *[m.address for m in others]], 3, 1, sender=deployer
    )
    deadlines = [chain.pending_timestamp + 86_400]
    grant_id = escrow.create_grant(
        community, "0x" + "00" * 20, 10**18, [10**18], deadlines, evidence_digest(), RAW, sender=others[0]
    ).return_value
    escrow.fund(grant_id, 10**18, value=10**18, sender=funder)
    escrow.submit(grant_id, 0, evidence_digest(), RAW, sender=community)

    deadline = chain.pending_timestamp + 3600
    milestone = escrow.milestone(grant_id, 0)
    message = {
        "grantId": grant_id,
        "milestoneId": 0,
        "evidence": milestone.evidence,
        "amount": milestone.amount,
        "nonce": milestone.nonce,
        "deadline": deadline,
    }
    data = typed_data("Release", message, council.domain(contract=escrow.address))
    digest = escrow.release_digest(grant_id, 0, deadline)
    wallet_signature = owner.sign_raw_msghash(digest).encode_rsv()
    approvals = [CouncilApproval(m.address, sign(data, m.private_key)) for m in others]
    good = pack_signatures([*approvals, CouncilApproval(wallet.address, contract_data=wallet_signature)])
    bad = pack_signatures([*approvals, CouncilApproval(wallet.address, contract_data=b"\x01" * 65)])
    with ape.reverts("council: invalid contract signature"):
        escrow.release(grant_id, 0, deadline, bad, sender=community)
    escrow.release(grant_id, 0, deadline, good, sender=community)
    assert escrow.milestone(grant_id, 0).status == 3


@pytest.fixture
def reentrant_community(project, deployer, escrow):
    return project.reentrant_receiver_mock.deploy(escrow, sender=deployer)


def test_release__reentrant_eth_receiver__is_paid_once(
    escrow, council, reentrant_community, members, funder, chain
):
    grant_id = escrow.create_grant(
        reentrant_community,
        "0x" + "00" * 20,
        2 * 10**18,
        [10**18, 10**18],
        [chain.pending_timestamp + 86_400] * 2,
        evidence_digest(),
        RAW,
        sender=members[0],
    ).return_value
    escrow.fund(grant_id, 2 * 10**18, value=2 * 10**18, sender=funder)
    for milestone_id in (0, 1):
        reentrant_community.call_escrow(
            escrow.submit.as_transaction(grant_id, milestone_id, evidence_digest(), RAW).data,
            sender=members[0],
        )
    deadline = council.deadline()
    signatures = council.release_signatures(grant_id, 0, deadline)
    replay = escrow.release.as_transaction(grant_id, 0, deadline, signatures).data
    reentrant_community.prime(replay, sender=members[0])
    council.release(grant_id, 0, sender=members[0])
    assert reentrant_community.reentry_attempts() == 1
    assert not reentrant_community.reentry_succeeded()
    assert reentrant_community.balance == 10**18
    assert escrow.balance == 10**18


def test_release__reentrant_token__is_paid_once(
    project, deployer, escrow, council, community, funder, members, chain
):
    token = project.reentrant_token_mock.deploy(sender=deployer)
    grant_id = escrow.create_grant(
        community,
        token,
        2 * THB,
        [THB, THB],
        [chain.pending_timestamp + 86_400] * 2,
        evidence_digest(),
        RAW,
        sender=members[0],
    ).return_value
    token.mint(funder, 2 * THB, sender=deployer)
    token.approve(escrow, 2 * THB, sender=funder)
    escrow.fund(grant_id, 2 * THB, sender=funder)
    escrow.submit(grant_id, 0, evidence_digest(), RAW, sender=community)
    deadline = council.deadline()
    signatures = council.release_signatures(grant_id, 0, deadline)
    token.prime(
        escrow, escrow.release.as_transaction(grant_id, 0, deadline, signatures).data, sender=deployer
    )
    escrow.release(grant_id, 0, deadline, signatures, sender=members[0])
    assert token.reentry_attempts() == 1
    assert not token.reentry_succeeded()
    assert token.balanceOf(community) == THB
    assert token.balanceOf(escrow) == THB


def test_claim_refund__reentrant_funder__cannot_claim_twice(
    escrow, council, reentrant_community, create_grant, members
):
    grant_id = create_grant(amounts=(10**18,))
    fund_call = escrow.fund.as_transaction(grant_id, 10**18, value=10**18).data
    reentrant_community.call_escrow(fund_call, value=10**18, sender=members[0])
    council.cancel(grant_id, sender=members[0])
    claim_call = escrow.claim_refund.as_transaction(grant_id).data
    reentrant_community.prime(claim_call, sender=members[0])
    reentrant_community.call_escrow(claim_call, sender=members[0])
    assert reentrant_community.reentry_attempts() == 1
    assert not reentrant_community.reentry_succeeded()
    assert reentrant_community.balance == 10**18
    assert escrow.balance == 0
