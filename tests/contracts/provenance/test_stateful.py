"""Stateful property test: register / registerMany / transfer / addStep / split / merge against a Python model.

Ids are drawn out of range too (0, just past the last batch, and huge ids): every call naming one
reverts with "provenance: unknown batch" and changes nothing.

Invariants after every rule: ownership and balances match the model, step counts and parents match,
the `StepAdded` logs of every batch are exactly the model's append-only history, and every lot's
lineage roots (tambon.provenance.lineage_roots over the chain's `parentsOf`) are the model's origins. Size with
TAMBON_HYPOTHESIS_EXAMPLES / TAMBON_HYPOTHESIS_STEPS (modest defaults keep CI fast).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import ape
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from tambon.provenance import lineage_roots

from .conftest import RAW, RICE, digest

EXAMPLES = int(os.environ.get("TAMBON_HYPOTHESIS_EXAMPLES", "5"))
STEPS = int(os.environ.get("TAMBON_HYPOTHESIS_STEPS", "12"))


@dataclass
class Lot:
    owner: str
    grams: int
    steps: list[tuple[int, int, bytes, str]] = field(default_factory=list)  # (index, stage, evidence, actor)
    consumed: bool = False
    closed: bool = False
    parents: list[int] = field(default_factory=list)


class ProvenanceMachine(RuleBasedStateMachine):
    project = None
    council = None
    actors: list = []

    def __init__(self) -> None:
        super().__init__()
        self.contract = self.project.batch_provenance.deploy(self.council, sender=self.council)
        # the invariant reads every lot after every rule: one JSON-RPC batch of plain web3 view calls,
        # the same answers as ape's contract calls at a fraction of the cost
        abi = [
            e.model_dump(mode="json", by_alias=True, exclude_none=True)
            for e in self.contract.contract_type.abi
        ]
        self.w3 = Web3(Web3.HTTPProvider(ape.chain.provider.web3.provider.endpoint_uri))
        self.view = self.w3.eth.contract(address=self.contract.address, abi=abi, decode_tuples=True).functions
        self.start_block = ape.chain.blocks.height
        self.lots: dict[int, Lot] = {}
        self.counter = 0

    def _label(self) -> bytes:
        self.counter += 1
        return digest(f"m{self.counter}")

    def _open(self) -> list[int]:
        return [i for i, lot in self.lots.items() if not lot.consumed and not lot.closed]

    @rule(actor=st.integers(0, 3), grams=st.integers(1, 10**9))
    def register(self, actor, grams):
        account = self.actors[actor]
        receipt = self.contract.register(self._label(), RAW, RICE, grams, 20_000, sender=account)
        batch_id = receipt.events.filter(self.contract.Transfer)[0].tokenId
        assert batch_id == len(self.lots) + 1
        self.lots[batch_id] = Lot(owner=account.address, grams=grams)

    @rule(actor=st.integers(0, 3), sizes=st.lists(st.integers(1, 5_000), min_size=1, max_size=12))
    def register_many(self, actor, sizes):
        account = self.actors[actor]
        lots = [(self._label(), RAW, RICE, g, 20_000) for g in sizes]
        self.contract.registerMany(lots, sender=account)
        for g in sizes:
            self.lots[len(self.lots) + 1] = Lot(owner=account.address, grams=g)

    @precondition(lambda self: self.lots)
    @rule(data=st.data(), to=st.integers(0, 3))
    def transfer(self, data, to):
        batch_id = data.draw(st.sampled_from(sorted(self.lots)))
        lot = self.lots[batch_id]
        holder = next(a for a in self.actors if a.address == lot.owner)
        self.contract.transferFrom(holder, self.actors[to], batch_id, sender=holder)
        lot.owner = self.actors[to].address

    @precondition(lambda self: self.lots)
    @rule(data=st.data(), stage=st.integers(0, 4), by_holder=st.booleans())
    def add_step(self, data, stage, by_holder):
        batch_id = data.draw(st.sampled_from(sorted(self.lots)))
        lot = self.lots[batch_id]
        actor = next(a for a in self.actors if (a.address == lot.owner) == by_holder)
        evidence = self._label()
        if not by_holder:
            with ape.reverts("provenance: not holder or approved"):
                self.contract.addStep(batch_id, stage, evidence, RAW, 0, sender=actor)
        elif lot.consumed:
            with ape.reverts("provenance: batch consumed"):
                self.contract.addStep(batch_id, stage, evidence, RAW, 0, sender=actor)
        elif lot.closed:
            with ape.reverts("provenance: batch closed"):
                self.contract.addStep(batch_id, stage, evidence, RAW, 0, sender=actor)
        else:
            self.contract.addStep(batch_id, stage, evidence, RAW, 0, sender=actor)
            lot.steps.append((len(lot.steps), stage, evidence, actor.address))
            lot.closed = stage == 4

    @precondition(lambda self: any(self.lots[i].grams >= 2 for i in self._open()))
    @rule(data=st.data(), parts=st.integers(2, 4))
    def split(self, data, parts):
        batch_id = data.draw(st.sampled_from([i for i in self._open() if self.lots[i].grams >= 2]))
        lot = self.lots[batch_id]
        parts = min(parts, lot.grams)
        share = lot.grams // parts
        holder = next(a for a in self.actors if a.address == lot.owner)
        self.contract.split(batch_id, [(self._label(), RAW, share) for _ in range(parts)], sender=holder)
        lot.consumed = True
        for _ in range(parts):
            self.lots[len(self.lots) + 1] = Lot(owner=lot.owner, grams=share, parents=[batch_id])

    @precondition(lambda self: self._mergeable())
    @rule(data=st.data())
    def merge(self, data):
        holder, ids = data.draw(st.sampled_from(self._mergeable()))
        parents = sorted(data.draw(st.lists(st.sampled_from(ids), min_size=2, max_size=4, unique=True)))
        account = next(a for a in self.actors if a.address == holder)
        child = self.contract.merge(parents, self._label(), RAW, sender=account).return_value
        assert child == len(self.lots) + 1
        for parent in parents:
            self.lots[parent].consumed = True
        grams = sum(self.lots[p].grams for p in parents)
        self.lots[child] = Lot(owner=holder, grams=grams, parents=parents)

    def _mergeable(self) -> list[tuple[str, list[int]]]:
        by_holder: dict[str, list[int]] = {}
        for i in self._open():
            by_holder.setdefault(self.lots[i].owner, []).append(i)
        return [(holder, ids) for holder, ids in sorted(by_holder.items()) if len(ids) >= 2]

    @rule(
        data=st.data(),
        stage=st.integers(0, 4),
        far=st.sampled_from([0, 2**64, 2**64 + 1, 2**128 + 1, 2**255, 2**256 - 1]),
    )
    def out_of_range_id(self, data, stage, far):
        """An id that names no batch: 0, just past the last one, or far beyond (no aliasing)."""
        batch_id = data.draw(st.sampled_from([far, len(self.lots) + 1, len(self.lots) + 2]))
        actor = self.actors[0]
        with ape.reverts("provenance: unknown batch"):
            self.contract.addStep(batch_id, stage, self._label(), RAW, 0, sender=actor)
        with ape.reverts("provenance: unknown batch"):
            self.contract.batch(batch_id)
        if self._open():
            mine = [i for i in self._open() if self.lots[i].owner == actor.address]
            if mine and batch_id > mine[0]:
                with ape.reverts("provenance: unknown batch"):
                    self.contract.merge([mine[0], batch_id], self._label(), RAW, sender=actor)

    def _origins(self, batch_id: int) -> list[int]:
        lot = self.lots[batch_id]
        if not lot.parents:
            return [batch_id]
        out: list[int] = []
        for parent in lot.parents:
            out += [r for r in self._origins(parent) if r not in out]
        return out

    def _views(self, calls: list) -> list:
        with self.w3.batch_requests() as batch:
            for call in calls:
                batch.add(call)
            return list(batch.execute())

    @invariant()
    def chain_matches_model(self):
        ids = list(self.lots)
        answers = self._views(
            [self.view.parentsOf(i) for i in ids]
            + [self.view.batch(i) for i in ids]
            + [self.view.balanceOf(account.address) for account in self.actors]
            + [self.view.totalSupply()]
        )
        parents = {i: list(p) for i, p in zip(ids, answers[: len(ids)], strict=True)}
        infos = dict(zip(ids, answers[len(ids) : 2 * len(ids)], strict=True))
        balances = answers[2 * len(ids) : -1]
        for batch_id, lot in self.lots.items():
            assert parents[batch_id] == lot.parents
            assert sorted(lineage_roots(batch_id, parents.__getitem__)) == sorted(self._origins(batch_id))
        logs = self.contract.StepAdded.range(self.start_block, ape.chain.blocks.height + 1)
        seen: dict[int, list] = {}
        for log in logs:
            seen.setdefault(log.batchId, []).append((log.index, log.stage, bytes(log.evidence), log.actor))
        for batch_id, lot in self.lots.items():
            # History: the logs are exactly the model's append-only list, and the count agrees.
            assert seen.get(batch_id, []) == lot.steps
            info = infos[batch_id]
            assert info.holder == lot.owner
            assert info.stepCount == len(lot.steps)
            assert (info.consumed, info.closed, info.quantityGrams) == (lot.consumed, lot.closed, lot.grams)
            assert info.hasParents == bool(lot.parents)
        for account, balance in zip(self.actors, balances, strict=True):
            assert balance == sum(lot.owner == account.address for lot in self.lots.values())
        assert answers[-1] == len(self.lots)


def test_provenance_state_machine(project, council, producer, packer, carrier, seller):
    ProvenanceMachine.project = project
    ProvenanceMachine.council = council
    ProvenanceMachine.actors = [producer, packer, carrier, seller]
    run_state_machine_as_test(
        ProvenanceMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
