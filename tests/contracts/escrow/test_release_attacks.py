"""Every way to get money out without the council's approval must revert with its reason."""

import ape
import pytest
from eth_account import Account

from tambon.typed_data import SECP256K1_N, CouncilApproval, pack_signatures, sign, typed_data

from .conftest import RAW, evidence_digest


@pytest.fixture
def submitted(escrow, funded_eth_grant, community):
    escrow.submit(funded_eth_grant, 0, evidence_digest(), RAW, sender=community)
    return funded_eth_grant


def _release(escrow, council, grant_id, signatures, deadline, sender):
    return escrow.release(grant_id, 0, deadline, signatures, sender=sender)


def test_release__signed_for_another_chain_id__reverts(escrow, council, submitted, attacker):
    deadline = council.deadline()
    signatures = council.release_signatures(submitted, 0, deadline, chain_id=1)
    with ape.reverts("council: not a member"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__signed_for_another_escrow__reverts(
    escrow, council, submitted, attacker, project, deployer, members
):
    other = project.grant_escrow.deploy([m.address for m in members], 3, 1, sender=deployer)
    deadline = council.deadline()
    signatures = council.release_signatures(submitted, 0, deadline, contract=other.address)
    with ape.reverts("council: not a member"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__replayed_after_payment__reverts(escrow, council, submitted, attacker):
    deadline = council.deadline()
    signatures = council.release_signatures(submitted, 0, deadline)
    _release(escrow, council, submitted, signatures, deadline, attacker)
    with ape.reverts("escrow: milestone already paid"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__signature_of_previous_submission_nonce__reverts(
    escrow, council, submitted, community, members, attacker
):
    deadline = council.deadline()
    stale = council.release_signatures(submitted, 0, deadline)
    council.reject(submitted, 0, evidence_digest(), sender=members[0])
    escrow.submit(submitted, 0, escrow.milestone(submitted, 0).evidence, RAW, sender=community)
    # Same evidence resubmitted: only the nonce differs, and it alone voids the old approval.
    with ape.reverts("council: not a member"):
        _release(escrow, council, submitted, stale, deadline, attacker)


def test_release__expired_deadline__reverts(escrow, council, submitted, attacker, chain):
    deadline = council.deadline(60)
    signatures = council.release_signatures(submitted, 0, deadline)
    chain.pending_timestamp += 120
    with ape.reverts("escrow: signature expired"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__high_s_malleable_signature__reverts(escrow, council, submitted, members, attacker):
    deadline = council.deadline()
    data = typed_data("Release", council.release_message(submitted, 0, deadline), council.domain())
    approvals = []
    for i, member in enumerate(members[:3]):
        signature = sign(data, member.private_key)
        if i == 0:
            r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
            signature = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
        approvals.append(CouncilApproval(member.address, signature))
    signatures = pack_signatures(approvals)
    with ape.reverts("ecdsa: invalid signature `s` value"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__duplicate_signer__reverts(escrow, council, submitted, members, attacker):
    deadline = council.deadline()
    data = typed_data("Release", council.release_message(submitted, 0, deadline), council.domain())
    one = sign(data, members[0].private_key)
    two = sign(data, members[1].private_key)
    first, second = sorted(
        [(members[0].address, one), (members[1].address, two)], key=lambda p: int(p[0], 16)
    )
    signatures = first[1] + first[1] + second[1]
    with ape.reverts("council: signers not sorted or duplicate"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__unsorted_signers__reverts(escrow, council, submitted, members, attacker):
    deadline = council.deadline()
    data = typed_data("Release", council.release_message(submitted, 0, deadline), council.domain())
    ordered = sorted(members[:3], key=lambda m: int(m.address, 16))
    signatures = b"".join(sign(data, m.private_key) for m in reversed(ordered))
    with ape.reverts("council: signers not sorted or duplicate"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__non_member_signature__reverts(escrow, council, submitted, members, attacker):
    outsider = Account.create()
    deadline = council.deadline()
    data = typed_data("Release", council.release_message(submitted, 0, deadline), council.domain())
    approvals = [CouncilApproval(m.address, sign(data, m.private_key)) for m in members[:2]]
    approvals.append(CouncilApproval(outsider.address, sign(data, outsider.key)))
    with ape.reverts("council: not a member"):
        _release(escrow, council, submitted, pack_signatures(approvals), deadline, attacker)


def test_release__below_threshold__reverts(escrow, council, submitted, members, attacker):
    deadline = council.deadline()
    signatures = council.release_signatures(submitted, 0, deadline, signers=members[:2])
    with ape.reverts("council: below threshold"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__empty_signatures__reverts(escrow, council, submitted, attacker):
    with ape.reverts("council: below threshold"):
        _release(escrow, council, submitted, b"", council.deadline(), attacker)


def test_release__removed_members_old_signature__reverts(escrow, council, submitted, members, attacker):
    deadline = council.deadline()
    signatures = council.release_signatures(submitted, 0, deadline, signers=members[:3])
    council.governance("RemoveMember", attacker, signers=members[1:4], member=members[0].address, threshold=3)
    with ape.reverts("council: not a member"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__more_than_funded__reverts(escrow, council, create_grant, funder, community, attacker):
    grant_id = create_grant(amounts=(2 * 10**18,))
    escrow.fund(grant_id, 10**18, value=10**18, sender=funder)
    escrow.submit(grant_id, 0, evidence_digest(), RAW, sender=community)
    with ape.reverts("escrow: grant underfunded"):
        council.release(grant_id, 0, sender=attacker)


def test_release__after_cancel__reverts(escrow, council, submitted, members, attacker):
    deadline = council.deadline()
    signatures = council.release_signatures(submitted, 0, deadline)
    council.cancel(submitted, sender=members[0])
    with ape.reverts("escrow: grant cancelled"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__pending_milestone__reverts(escrow, council, funded_eth_grant, attacker):
    with ape.reverts("escrow: milestone not submitted"):
        council.release(funded_eth_grant, 1, sender=attacker)


def test_release__rejected_milestone__reverts(escrow, council, submitted, members, attacker):
    deadline = council.deadline()
    signatures = council.release_signatures(submitted, 0, deadline)
    council.reject(submitted, 0, evidence_digest(), sender=members[0])
    with ape.reverts("escrow: milestone not submitted"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_release__unknown_grant__reverts(escrow, council, attacker):
    with ape.reverts("escrow: unknown grant"):
        escrow.release(99, 0, council.deadline(), b"", sender=attacker)


def test_release__unknown_milestone__reverts(escrow, council, funded_eth_grant, attacker):
    with ape.reverts("escrow: unknown milestone"):
        escrow.release(funded_eth_grant, 7, council.deadline(), b"", sender=attacker)


def test_release__approval_entry_without_on_chain_approval__reverts(
    escrow, council, submitted, members, attacker
):
    deadline = council.deadline()
    data = typed_data("Release", council.release_message(submitted, 0, deadline), council.domain())
    approvals = [CouncilApproval(m.address, sign(data, m.private_key)) for m in members[:2]]
    approvals.append(CouncilApproval(members[2].address))  # claims an on-chain approval it never gave
    with ape.reverts("council: hash not approved"):
        _release(escrow, council, submitted, pack_signatures(approvals), deadline, attacker)


def test_release__tampered_amount_in_signed_message__reverts(escrow, council, submitted, attacker):
    deadline = council.deadline()
    message = council.release_message(submitted, 0, deadline)
    message["amount"] = message["amount"] * 2
    signatures = council.sign("Release", message, council.members[:3])
    with ape.reverts("council: not a member"):
        _release(escrow, council, submitted, signatures, deadline, attacker)


def test_approve_hash__by_non_member__reverts(escrow, attacker):
    with ape.reverts("council: not a member"):
        escrow.approve_hash(b"\x11" * 32, sender=attacker)


def test_release__contract_signature_pointing_into_static_part__reverts(
    escrow, council, submitted, members, attacker
):
    deadline = council.deadline()
    data = typed_data("Release", council.release_message(submitted, 0, deadline), council.domain())
    approvals = sorted(
        (CouncilApproval(m.address, sign(data, m.private_key)) for m in members[:3]),
        key=lambda a: a.signer_int,
    )
    first = approvals[0].signer_int.to_bytes(32, "big") + (0).to_bytes(32, "big") + b"\x00"
    signatures = first + approvals[1].signature + approvals[2].signature
    with ape.reverts("council: contract signature overlaps"):
        _release(escrow, council, submitted, signatures, deadline, attacker)
