"""Stateful fuzzing of the escrow against a small Python model.

Invariants after every step:
- per token, the escrow's balance equals funded - paid - refunded;
- a milestone is paid only with threshold approvals, only once, never beyond what was funded;
- every call the model expects to fail reverts, and every call it expects to succeed does.

Steps: TAMBON_FUZZ_EXAMPLES examples of up to TAMBON_FUZZ_STEPS rules (default 60 x 50); the test fails
unless at least TAMBON_FUZZ_MIN_STEPS (default 2,000) checked steps ran. Raise all three for 10,000+.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import ape
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tambon.typed_data import ESCROW_DOMAIN_NAME, CouncilApproval, domain, pack_signatures, sign, typed_data

EXAMPLES = int(os.environ.get("TAMBON_FUZZ_EXAMPLES", "60"))
STEPS = int(os.environ.get("TAMBON_FUZZ_STEPS", "50"))
MIN_STEPS = int(os.environ.get("TAMBON_FUZZ_MIN_STEPS", "2000"))
ZERO = "0x0000000000000000000000000000000000000000"
UNIT = 10**15
PENDING, SUBMITTED, PAID, REJECTED = 1, 2, 3, 4


@dataclass
class ModelGrant:
    token: str
    amounts: list[int]
    budget: int
    funded: int = 0
    funded_by: dict[str, int] = field(default_factory=dict)
    status: list[int] = field(default_factory=list)
    cancelled: bool = False
    refund_pool: int = 0
    unrefunded_funding: int = 0
    claimed: set[str] = field(default_factory=set)

    def cumulative(self, milestone_id: int) -> int:
        return sum(self.amounts[: milestone_id + 1])


def test_escrow__random_operations__keep_balances_and_approval_rules(project, accounts, chain):
    deployer = accounts[0]
    members = [accounts[i] for i in range(1, 6)]
    community = accounts[6]
    funders = [accounts[7], accounts[8]]
    token = project.thb_token.deploy(sender=deployer)
    for funder in funders:
        token.mint(funder, 10**30, sender=deployer)
    escrow = project.grant_escrow.deploy([m.address for m in members], 3, 86_400, sender=deployer)
    for funder in funders:
        token.approve(escrow, 2**256 - 1, sender=funder)
    escrow_domain = domain(ESCROW_DOMAIN_NAME, chain.chain_id, escrow.address)

    steps_run = [0]

    class EscrowMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.grants: list[ModelGrant] = []
            self.paid = {ZERO: 0, token.address: 0}
            self.funded = {ZERO: 0, token.address: 0}
            self.refunded = {ZERO: 0, token.address: 0}

        def teardown(self):
            chain.restore(self.snapshot)

        def _expect(self, ok: bool, call):
            if ok:
                return call()
            with ape.reverts():
                call()

        @rule(
            amounts=st.lists(st.integers(1, 50), min_size=1, max_size=3),
            erc20=st.booleans(),
            slack=st.integers(0, 20),
        )
        def create(self, amounts, erc20, slack):
            amounts = [a * UNIT for a in amounts]
            token_address = token.address if erc20 else ZERO
            deadlines = [chain.pending_timestamp + 10 * 86_400] * len(amounts)
            budget = sum(amounts) + slack * UNIT
            escrow.create_grant(
                community, token_address, budget, amounts, deadlines, b"\x01" * 32, 0x55, sender=members[0]
            )
            self.grants.append(ModelGrant(token_address, amounts, budget, status=[PENDING] * len(amounts)))

        @rule(data=st.data(), amount=st.integers(1, 80), funder_index=st.integers(0, 1))
        def fund(self, data, amount, funder_index):
            if not self.grants:
                return
            grant_id = data.draw(st.integers(0, len(self.grants) - 1))
            g = self.grants[grant_id]
            funder = funders[funder_index]
            amount *= UNIT
            ok = not g.cancelled and g.funded + amount <= g.budget
            value = amount if g.token == ZERO else 0
            self._expect(ok, lambda: escrow.fund(grant_id, amount, value=value, sender=funder))
            if ok:
                g.funded += amount
                g.funded_by[funder.address] = g.funded_by.get(funder.address, 0) + amount
                self.funded[g.token] += amount

        @rule(data=st.data())
        def submit(self, data):
            if not self.grants:
                return
            grant_id = data.draw(st.integers(0, len(self.grants) - 1))
            g = self.grants[grant_id]
            m = data.draw(st.integers(0, len(g.amounts) - 1))
            ok = not g.cancelled and g.status[m] in (PENDING, REJECTED)
            self._expect(ok, lambda: escrow.submit(grant_id, m, os.urandom(32), 0x55, sender=community))
            if ok:
                g.status[m] = SUBMITTED

        def _decision(self, primary, grant_id, m, signer_count, extra):
            deadline = chain.pending_timestamp + 3600
            milestone = escrow.milestone(grant_id, m)
            message = {
                "grantId": grant_id,
                "milestoneId": m,
                "evidence": milestone.evidence,
                **extra,
                "nonce": milestone.nonce,
                "deadline": deadline,
            }
            data = typed_data(primary, message, escrow_domain)
            approvals = [
                CouncilApproval(s.address, sign(data, s.private_key)) for s in members[:signer_count]
            ]
            return deadline, pack_signatures(approvals)

        @rule(data=st.data(), signer_count=st.integers(1, 5))
        def release(self, data, signer_count):
            if not self.grants:
                return
            grant_id = data.draw(st.integers(0, len(self.grants) - 1))
            g = self.grants[grant_id]
            m = data.draw(st.integers(0, len(g.amounts) - 1))
            amount = g.amounts[m]
            deadline, signatures = self._decision("Release", grant_id, m, signer_count, {"amount": amount})
            ok = (
                not g.cancelled
                and g.status[m] == SUBMITTED
                and signer_count >= 3
                and g.funded >= g.cumulative(m)
            )
            self._expect(ok, lambda: escrow.release(grant_id, m, deadline, signatures, sender=accounts[9]))
            if ok:
                g.status[m] = PAID
                self.paid[g.token] += amount

        @rule(data=st.data(), signer_count=st.integers(2, 4))
        def reject(self, data, signer_count):
            if not self.grants:
                return
            grant_id = data.draw(st.integers(0, len(self.grants) - 1))
            g = self.grants[grant_id]
            m = data.draw(st.integers(0, len(g.amounts) - 1))
            reason = b"\x02" * 32
            deadline, signatures = self._decision("Reject", grant_id, m, signer_count, {"reason": reason})
            ok = not g.cancelled and g.status[m] == SUBMITTED and signer_count >= 3
            self._expect(
                ok, lambda: escrow.reject(grant_id, m, reason, deadline, signatures, sender=accounts[9])
            )
            if ok:
                g.status[m] = REJECTED

        @rule(data=st.data())
        def cancel(self, data):
            if not self.grants:
                return
            grant_id = data.draw(st.integers(0, len(self.grants) - 1))
            g = self.grants[grant_id]
            deadline = chain.pending_timestamp + 3600
            message = {"grantId": grant_id, "nonce": escrow.council_nonce(), "deadline": deadline}
            signed = typed_data("Cancel", message, escrow_domain)
            signatures = pack_signatures(
                [CouncilApproval(s.address, sign(signed, s.private_key)) for s in members[2:5]]
            )
            self._expect(
                not g.cancelled, lambda: escrow.cancel(grant_id, deadline, signatures, sender=accounts[9])
            )
            if not g.cancelled:
                g.cancelled = True
                paid = sum(a for a, s in zip(g.amounts, g.status, strict=True) if s == PAID)
                g.refund_pool = g.funded - paid
                g.unrefunded_funding = g.funded

        @rule(data=st.data(), funder_index=st.integers(0, 1))
        def claim(self, data, funder_index):
            if not self.grants:
                return
            grant_id = data.draw(st.integers(0, len(self.grants) - 1))
            g = self.grants[grant_id]
            funder = funders[funder_index]
            share = g.funded_by.get(funder.address, 0)
            ok = g.cancelled and share > 0 and funder.address not in g.claimed
            receipt = self._expect(ok, lambda: escrow.claim_refund(grant_id, sender=funder))
            if ok:
                expected = g.refund_pool * share // g.unrefunded_funding
                assert receipt.return_value == expected
                g.refund_pool -= expected
                g.unrefunded_funding -= share
                g.claimed.add(funder.address)
                self.refunded[g.token] += expected

        @invariant()
        def balances_match_the_books(self):
            if not hasattr(self, "grants"):
                return
            steps_run[0] += 1
            assert escrow.balance == self.funded[ZERO] - self.paid[ZERO] - self.refunded[ZERO]
            assert token.balanceOf(escrow) == (
                self.funded[token.address] - self.paid[token.address] - self.refunded[token.address]
            )

        @invariant()
        def paid_totals_match_the_model(self):
            if not hasattr(self, "grants") or not self.grants:
                return
            grant_id = len(self.grants) - 1
            g = self.grants[grant_id]
            view = escrow.grant(grant_id)
            assert view.paid == sum(a for a, s in zip(g.amounts, g.status, strict=True) if s == PAID)
            assert view.paid <= view.funded == g.funded

    EscrowMachine.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    EscrowMachine.TestCase().runTest()
    print(f"escrow state machine: {steps_run[0]} checked steps")
    assert steps_run[0] >= MIN_STEPS, f"only {steps_run[0]} steps ran; raise TAMBON_FUZZ_EXAMPLES or _STEPS"
