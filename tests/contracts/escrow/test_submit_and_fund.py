"""Community submissions (wallet and gasless) and funding rules."""

import ape
import pytest
from eth_account import Account

from tambon.typed_data import domain, sign, typed_data

from .conftest import DAG_PB, RAW, THB, evidence_digest

ZERO = "0x0000000000000000000000000000000000000000"


def _submit_message(escrow, grant_id, milestone_id, evidence, codec, deadline):
    return {
        "grantId": grant_id,
        "milestoneId": milestone_id,
        "evidence": evidence,
        "codec": codec,
        "nonce": escrow.milestone(grant_id, milestone_id).nonce,
        "deadline": deadline,
    }


def test_submit_signed__relayed_by_anyone__records_community_evidence(
    escrow, council, funded_eth_grant, community, attacker
):
    evidence = evidence_digest()
    deadline = council.deadline()
    data = typed_data(
        "Submit", _submit_message(escrow, funded_eth_grant, 0, evidence, DAG_PB, deadline), council.domain()
    )
    signature = sign(data, community.private_key)
    receipt = escrow.submit_signed(
        funded_eth_grant, 0, evidence, DAG_PB, deadline, signature, sender=attacker
    )
    assert receipt.events.filter(escrow.MilestoneSubmitted)[0].evidence == evidence
    assert escrow.milestone(funded_eth_grant, 0).status == 2


def test_submit_signed__replayed_after_rejection__reverts(
    escrow, council, funded_eth_grant, community, members, attacker
):
    evidence = evidence_digest()
    deadline = council.deadline()
    data = typed_data(
        "Submit", _submit_message(escrow, funded_eth_grant, 0, evidence, RAW, deadline), council.domain()
    )
    signature = sign(data, community.private_key)
    escrow.submit_signed(funded_eth_grant, 0, evidence, RAW, deadline, signature, sender=attacker)
    council.reject(funded_eth_grant, 0, evidence_digest(), sender=members[0])
    with ape.reverts("escrow: invalid recipient signature"):
        escrow.submit_signed(funded_eth_grant, 0, evidence, RAW, deadline, signature, sender=attacker)


def test_submit_signed__signed_by_someone_else__reverts(escrow, council, funded_eth_grant, attacker):
    evidence = evidence_digest()
    deadline = council.deadline()
    data = typed_data(
        "Submit", _submit_message(escrow, funded_eth_grant, 0, evidence, RAW, deadline), council.domain()
    )
    signature = sign(data, Account.create().key)
    with ape.reverts("escrow: invalid recipient signature"):
        escrow.submit_signed(funded_eth_grant, 0, evidence, RAW, deadline, signature, sender=attacker)


def test_submit_signed__expired__reverts(escrow, council, funded_eth_grant, community, attacker, chain):
    evidence = evidence_digest()
    deadline = council.deadline(10)
    data = typed_data(
        "Submit", _submit_message(escrow, funded_eth_grant, 0, evidence, RAW, deadline), council.domain()
    )
    signature = sign(data, community.private_key)
    chain.pending_timestamp += 60
    with ape.reverts("escrow: signature expired"):
        escrow.submit_signed(funded_eth_grant, 0, evidence, RAW, deadline, signature, sender=attacker)


def test_submit__by_non_recipient__reverts(escrow, funded_eth_grant, attacker):
    with ape.reverts("escrow: only the recipient submits"):
        escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=attacker)


def test_submit__after_milestone_deadline__reverts(escrow, funded_eth_grant, community, chain):
    deadline = escrow.milestone(funded_eth_grant, 0).deadline
    chain.pending_timestamp = deadline + 1
    with ape.reverts("escrow: milestone deadline passed"):
        escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)


def test_submit__twice_while_under_review__reverts(escrow, funded_eth_grant, community):
    escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)
    with ape.reverts("escrow: milestone not open for submission"):
        escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)


def test_submit__empty_evidence__reverts(escrow, funded_eth_grant, community):
    with ape.reverts("escrow: empty evidence"):
        escrow.submit(funded_eth_grant, 0, b"\x00" * 32, RAW, sender=community)


@pytest.mark.parametrize("codec", [0, 0x71, 0x55 + 1])
def test_submit__unsupported_codec__reverts(escrow, funded_eth_grant, community, codec):
    with ape.reverts("escrow: unsupported CID codec"):
        escrow.submit(funded_eth_grant, 0, evidence_digest(), codec, sender=community)


def test_create_grant__zero_address_recipient__reverts(escrow, members):
    with ape.reverts("escrow: zero address recipient"):
        escrow.create_grant(ZERO, ZERO, 10, [10], [2**31], b"\x01" * 32, RAW, sender=members[0])


def test_create_grant__by_non_member__reverts(escrow, attacker):
    with ape.reverts("escrow: only council members create grants"):
        escrow.create_grant(attacker, ZERO, 10, [10], [2**31], b"\x01" * 32, RAW, sender=attacker)


def test_create_grant__milestones_exceed_budget__reverts(escrow, members, community):
    with ape.reverts("escrow: milestones exceed budget"):
        escrow.create_grant(community, ZERO, 10, [6, 5], [2**31, 2**31], b"\x01" * 32, RAW, sender=members[0])


def test_create_grant__mismatched_plan__reverts(escrow, members, community):
    with ape.reverts("escrow: amounts and deadlines differ in length"):
        escrow.create_grant(community, ZERO, 10, [5, 5], [2**31], b"\x01" * 32, RAW, sender=members[0])


def test_create_grant__deadline_in_past__reverts(escrow, members, community):
    with ape.reverts("escrow: milestone deadline in the past"):
        escrow.create_grant(community, ZERO, 10, [10], [1], b"\x01" * 32, RAW, sender=members[0])


def test_create_grant__token_without_code__reverts(escrow, members, community, attacker):
    with ape.reverts("escrow: token has no code"):
        escrow.create_grant(community, attacker, 10, [10], [2**31], b"\x01" * 32, RAW, sender=members[0])


def test_fund__over_budget__reverts(escrow, funded_eth_grant, funder):
    with ape.reverts("escrow: over budget"):
        escrow.fund(funded_eth_grant, 1, value=1, sender=funder)


def test_fund__eth_amount_differs_from_value__reverts(escrow, create_grant, funder):
    grant_id = create_grant(amounts=(10**18,))
    with ape.reverts("escrow: amount differs from ETH sent"):
        escrow.fund(grant_id, 10**18, value=10**17, sender=funder)


def test_fund__eth_into_token_grant__reverts(escrow, create_grant, thb, funder):
    grant_id = create_grant(token=thb.address)
    with ape.reverts("escrow: ETH sent to a token grant"):
        escrow.fund(grant_id, 10, value=10, sender=funder)


def test_fund__token_without_allowance__reverts(escrow, create_grant, thb, funder):
    grant_id = create_grant(token=thb.address)
    with ape.reverts("erc20: insufficient allowance"):
        escrow.fund(grant_id, 10 * THB, sender=funder)


def test_fund__zero_amount__reverts(escrow, create_grant, funder):
    grant_id = create_grant(amounts=(10**18,))
    with ape.reverts("escrow: zero amount"):
        escrow.fund(grant_id, 0, sender=funder)


def test_fund__unknown_grant__reverts(escrow, funder):
    with ape.reverts("escrow: unknown grant"):
        escrow.fund(5, 1, value=1, sender=funder)


def test_domain__matches_eip5267(escrow, chain):
    fields = escrow.eip712Domain()
    assert (fields[1], fields[2], fields[3], fields[4]) == (
        "Tambon GrantEscrow",
        "1",
        chain.chain_id,
        escrow.address,
    )
    assert domain("Tambon GrantEscrow", chain.chain_id, escrow.address)["verifyingContract"] == escrow.address
