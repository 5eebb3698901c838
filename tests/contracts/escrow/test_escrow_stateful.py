"""Stateful fuzzing of the escrow against a small Python model.

Grants are paid in ETH, a plain ERC-20 or a fee-on-transfer token (10 % of every transfer is lost),
and milestone ids are drawn out of range too (up to 600: ids from 256 on aliased another grant's
milestones before they were bounded).

Invariants after every step:
- per token, the escrow's balance equals funded - paid - refunded, and `token_held` equals it;
- per grant, paid + refundable (claimed and unclaimed) + held = funded;
- every milestone of every grant has the model's status: no call naming one grant changes another;
- a milestone is paid only with threshold approvals, only once, never beyond what was funded;
- every call the model expects to fail reverts, and every call it expects to succeed does.

`make test` runs a short variant (at least 100 checked steps); `make test-all` adds the long one, at
least 10,000 checked steps. TAMBON_FUZZ_EXAMPLES / _STEPS / _MIN_STEPS override the short one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import ape
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from web3 import Web3

from tambon.tokens import erc20
from tambon.typed_data import ESCROW_DOMAIN_NAME, CouncilApproval, domain, pack_signatures, sign, typed_data

EXAMPLES = int(os.environ.get("TAMBON_FUZZ_EXAMPLES", "6"))
STEPS = int(os.environ.get("TAMBON_FUZZ_STEPS", "25"))
MIN_STEPS = int(os.environ.get("TAMBON_FUZZ_MIN_STEPS", "100"))
FEE_BPS = 9_000  # the fee-on-transfer token delivers 90 %
MAX_DRAWN_MILESTONE_ID = 600
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
    refunded: int = 0

    def cumulative(self, milestone_id: int) -> int:
        return sum(self.amounts[: milestone_id + 1])


def test_escrow__random_operations__keep_balances_and_approval_rules(project, accounts, chain):
    _run_machine(project, accounts, chain, EXAMPLES, STEPS, MIN_STEPS)


@pytest.mark.slow
def test_escrow__ten_thousand_random_operations__keep_balances_and_approval_rules(project, accounts, chain):
    _run_machine(project, accounts, chain, examples=260, steps=50, min_steps=10_000)


def _milestone_id(data, g: ModelGrant) -> int:
    """A milestone of the grant, or (a quarter of the time) an id it does not have."""
    return data.draw(
        st.integers(0, len(g.amounts) - 1) | st.integers(len(g.amounts), MAX_DRAWN_MILESTONE_ID),
    )


def _run_machine(project, accounts, chain, examples: int, steps: int, min_steps: int) -> None:
    deployer = accounts[0]
    members = [accounts[i] for i in range(1, 6)]
    community = accounts[6]
    funders = [accounts[7], accounts[8]]
    token = project.thb_token.deploy(sender=deployer)
    fee_token = project.fee_token_mock.deploy(FEE_BPS, sender=deployer)
    tokens = {ZERO: None, token.address: token, fee_token.address: fee_token}
    escrow = project.grant_escrow.deploy([m.address for m in members], 3, 86_400, sender=deployer)
    for funder in funders:
        for minted in (token, fee_token):
            minted.mint(funder, 10**30, sender=deployer)
            minted.approve(escrow, 2**256 - 1, sender=funder)
    escrow_domain = domain(ESCROW_DOMAIN_NAME, chain.chain_id, escrow.address)
    # the invariants read every grant after every step: one JSON-RPC batch of plain web3 view calls,
    # the same answers as ape's contract calls at a fraction of the cost
    w3 = Web3(Web3.HTTPProvider(chain.provider.web3.provider.endpoint_uri))
    abi = [e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in escrow.contract_type.abi]
    views = w3.eth.contract(address=escrow.address, abi=abi, decode_tuples=True).functions

    def read(calls: list) -> list:
        if not calls:  # a node refuses an empty batch
            return []
        with w3.batch_requests() as batch:
            for call in calls:
                batch.add(call)
            return list(batch.execute())

    steps_run = [0]

    class EscrowMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.grants: list[ModelGrant] = []
            self.paid = dict.fromkeys(tokens, 0)
            self.funded = dict.fromkeys(tokens, 0)
            self.refunded = dict.fromkeys(tokens, 0)

        def teardown(self):
            chain.restore(self.snapshot)

        def _expect(self, ok: bool, call):
            if ok:
                return call()
            with ape.reverts():
                call()

        @rule(
            amounts=st.lists(st.integers(1, 50), min_size=1, max_size=3),
            token_address=st.sampled_from(list(tokens)),
            slack=st.integers(0, 20),
        )
        def create(self, amounts, token_address, slack):
            amounts = [a * UNIT for a in amounts]
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
            # The budget holds on what arrives: a fee token credits 90 % of what is sent.
            received = amount * FEE_BPS // 10_000 if g.token == fee_token.address else amount
            ok = not g.cancelled and g.funded + received <= g.budget
            value = amount if g.token == ZERO else 0
            self._expect(ok, lambda: escrow.fund(grant_id, amount, value=value, sender=funder))
            if ok:
                g.funded += received
                g.funded_by[funder.address] = g.funded_by.get(funder.address, 0) + received
                self.funded[g.token] += received

        @rule(data=st.data())
        def submit(self, data):
            if not self.grants:
                return
            grant_id = data.draw(st.integers(0, len(self.grants) - 1))
            g = self.grants[grant_id]
            m = _milestone_id(data, g)
            ok = not g.cancelled and m < len(g.amounts) and g.status[m] in (PENDING, REJECTED)
            self._expect(ok, lambda: escrow.submit(grant_id, m, os.urandom(32), 0x55, sender=community))
            if ok:
                g.status[m] = SUBMITTED

        def _decision(self, primary, grant_id, m, signer_count, extra):
            deadline = chain.pending_timestamp + 3600
            g = self.grants[grant_id]
            # An id the grant does not have: sign what an attacker would, the state of milestone 0.
            milestone = escrow.milestone(grant_id, m if m < len(g.amounts) else 0)
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
            m = _milestone_id(data, g)
            amount = g.amounts[m % len(g.amounts)]
            deadline, signatures = self._decision("Release", grant_id, m, signer_count, {"amount": amount})
            ok = (
                not g.cancelled
                and m < len(g.amounts)
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
            m = _milestone_id(data, g)
            reason = b"\x02" * 32
            deadline, signatures = self._decision("Reject", grant_id, m, signer_count, {"reason": reason})
            ok = not g.cancelled and m < len(g.amounts) and g.status[m] == SUBMITTED and signer_count >= 3
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
                g.refunded += expected
                self.refunded[g.token] += expected

        @invariant()
        def balances_match_the_books(self):
            if not hasattr(self, "grants"):
                return
            steps_run[0] += 1
            erc20s = [address for address, contract in tokens.items() if contract is not None]
            answers = read(
                [erc20(w3, address).functions.balanceOf(escrow.address) for address in erc20s]
                + [views.token_held(address) for address in erc20s]
            )
            balances = dict(zip(erc20s, answers[: len(erc20s)], strict=True))
            balances[ZERO] = w3.eth.get_balance(escrow.address)
            token_held = dict(zip(erc20s, answers[len(erc20s) :], strict=True))
            for address in tokens:
                held = self.funded[address] - self.paid[address] - self.refunded[address]
                assert balances[address] == held
                if address in token_held:
                    assert token_held[address] == held

        @invariant()
        def every_grant_matches_the_model(self):
            if not hasattr(self, "grants"):
                return
            calls = []
            for grant_id, g in enumerate(self.grants):
                calls += [views.grant(grant_id), views.refund_pool(grant_id)]
                calls += [views.milestone(grant_id, m) for m in range(len(g.amounts))]
            answers = iter(read(calls))
            for g in self.grants:
                view, pool = next(answers), next(answers)
                statuses = [next(answers).status for _ in g.amounts]
                paid = sum(a for a, s in zip(g.amounts, g.status, strict=True) if s == PAID)
                assert (view.paid, view.funded, view.cancelled) == (paid, g.funded, g.cancelled)
                # paid + refundable (claimed and still in the pool) + held = funded
                refundable = g.refunded + pool
                held = 0 if g.cancelled else g.funded - paid
                assert paid + refundable + held == g.funded
                # no call naming another grant (or an out-of-range id) changed this grant's milestones
                assert statuses == g.status

    EscrowMachine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    EscrowMachine.TestCase().runTest()
    print(f"escrow state machine: {steps_run[0]} checked steps")
    assert steps_run[0] >= min_steps, f"only {steps_run[0]} steps ran; raise TAMBON_FUZZ_EXAMPLES or _STEPS"
