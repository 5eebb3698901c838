"""Fixtures for the grant escrow: a 3-of-5 council, a community, funders and an attacker."""

import os

import pytest

from tambon.typed_data import ESCROW_DOMAIN_NAME, CouncilApproval, domain, pack_signatures, sign, typed_data

ZERO = "0x0000000000000000000000000000000000000000"
DAY = 86_400
THB = 10**18
REVIEW_TIMEOUT = 7 * DAY
RAW = 0x55
DAG_PB = 0x70


@pytest.fixture
def members(accounts):
    return [accounts[i] for i in range(1, 6)]


@pytest.fixture
def community(accounts):
    return accounts[6]


@pytest.fixture
def funder(accounts):
    return accounts[7]


@pytest.fixture
def attacker(accounts):
    return accounts[8]


@pytest.fixture
def escrow(project, deployer, members):
    return project.grant_escrow.deploy([m.address for m in members], 3, REVIEW_TIMEOUT, sender=deployer)


def evidence_digest() -> bytes:
    return os.urandom(32)


class Council:
    """Signs escrow messages the way members' wallets do (eth_signTypedData_v4)."""

    def __init__(self, escrow, members, chain):
        self.escrow = escrow
        self.members = members
        self.chain = chain

    def domain(self, chain_id=None, contract=None):
        return domain(ESCROW_DOMAIN_NAME, chain_id or self.chain.chain_id, contract or self.escrow.address)

    def deadline(self, seconds=DAY):
        return self.chain.pending_timestamp + seconds

    def sign(self, primary, message, signers, **domain_overrides):
        data = typed_data(primary, message, self.domain(**domain_overrides))
        return pack_signatures([CouncilApproval(s.address, sign(data, s.private_key)) for s in signers])

    def release_message(self, grant_id, milestone_id, deadline):
        m = self.escrow.milestone(grant_id, milestone_id)
        return {
            "grantId": grant_id,
            "milestoneId": milestone_id,
            "evidence": m.evidence,
            "amount": m.amount,
            "nonce": m.nonce,
            "deadline": deadline,
        }

    def release_signatures(self, grant_id, milestone_id, deadline, signers=None, **domain_overrides):
        message = self.release_message(grant_id, milestone_id, deadline)
        return self.sign("Release", message, signers or self.members[:3], **domain_overrides)

    def release(self, grant_id, milestone_id, sender, signers=None):
        deadline = self.deadline()
        signatures = self.release_signatures(grant_id, milestone_id, deadline, signers)
        return self.escrow.release(grant_id, milestone_id, deadline, signatures, sender=sender)

    def reject(self, grant_id, milestone_id, reason, sender, signers=None):
        deadline = self.deadline()
        m = self.escrow.milestone(grant_id, milestone_id)
        message = {
            "grantId": grant_id,
            "milestoneId": milestone_id,
            "evidence": m.evidence,
            "reason": reason,
            "nonce": m.nonce,
            "deadline": deadline,
        }
        signatures = self.sign("Reject", message, signers or self.members[:3])
        return self.escrow.reject(grant_id, milestone_id, reason, deadline, signatures, sender=sender)

    def cancel(self, grant_id, sender, signers=None):
        deadline = self.deadline()
        message = {"grantId": grant_id, "nonce": self.escrow.council_nonce(), "deadline": deadline}
        signatures = self.sign("Cancel", message, signers or self.members[:3])
        return self.escrow.cancel(grant_id, deadline, signatures, sender=sender)

    def governance(self, primary, sender, signers=None, **fields):
        deadline = self.deadline()
        message = {**fields, "nonce": self.escrow.council_nonce(), "deadline": deadline}
        signatures = self.sign(primary, message, signers or self.members[:3])
        call = {
            "AddMember": lambda: self.escrow.add_member(
                fields["member"], fields["threshold"], deadline, signatures, sender=sender
            ),
            "RemoveMember": lambda: self.escrow.remove_member(
                fields["member"], fields["threshold"], deadline, signatures, sender=sender
            ),
            "ChangeThreshold": lambda: self.escrow.change_threshold(
                fields["threshold"], deadline, signatures, sender=sender
            ),
        }[primary]
        return call()


def submitted_eth_milestone(escrow, chain, creator, community, funder) -> tuple[int, int, dict]:
    """A one-milestone ETH grant on `escrow`, funded and submitted for review: (grant id, a release
    deadline an hour away, the Release typed data members sign for it)."""
    grant_id = escrow.create_grant(
        community, ZERO, THB, [THB], [chain.pending_timestamp + DAY], evidence_digest(), RAW, sender=creator
    ).return_value
    escrow.fund(grant_id, THB, value=THB, sender=funder)
    escrow.submit(grant_id, 0, evidence_digest(), RAW, sender=community)
    deadline = chain.pending_timestamp + 3_600
    council = Council(escrow, [], chain)
    return (
        grant_id,
        deadline,
        typed_data("Release", council.release_message(grant_id, 0, deadline), council.domain()),
    )


@pytest.fixture
def council(escrow, members, chain):
    return Council(escrow, members, chain)


@pytest.fixture
def create_grant(escrow, members, community, chain):
    """Open a grant (ETH unless a token is given) with the usual 200,000 THB plan in three milestones."""

    def _create(token=None, amounts=(50_000 * THB, 100_000 * THB, 50_000 * THB), budget=None, recipient=None):
        deadlines = [chain.pending_timestamp + (i + 1) * 30 * DAY for i in range(len(amounts))]
        receipt = escrow.create_grant(
            recipient or community,
            token or "0x0000000000000000000000000000000000000000",
            budget or sum(amounts),
            list(amounts),
            deadlines,
            evidence_digest(),
            RAW,
            sender=members[0],
        )
        return receipt.return_value

    return _create


@pytest.fixture
def funded_eth_grant(create_grant, escrow, funder):
    """A fully funded ETH grant of three small milestones (1, 2 and 1 ETH)."""
    grant_id = create_grant(amounts=(10**18, 2 * 10**18, 10**18))
    escrow.fund(grant_id, 4 * 10**18, value=4 * 10**18, sender=funder)
    return grant_id


@pytest.fixture
def funded_thb_grant(create_grant, escrow, funder, thb, deployer):
    grant_id = create_grant(token=thb.address)
    thb.mint(funder, 200_000 * THB, sender=deployer)
    thb.approve(escrow, 200_000 * THB, sender=funder)
    escrow.fund(grant_id, 200_000 * THB, sender=funder)
    return grant_id
