"""Inputs of the compliance exports: batches, their tracking events and on-chain references."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tambon.gs1 import InvalidGtin
from tambon.lots import LotIdentity, identify
from tambon.records import order_problems

#: how a tracking event appears on-chain
KINDS = ("register", "step", "split", "merge")


@dataclass(frozen=True, slots=True)
class ChainRef:
    """Where a tracking event is anchored: the log that recorded its evidence CID."""

    batch_id: int
    kind: str  # register | step | split | merge
    tx_hash: str
    block_number: int
    log_index: int = 0
    step_index: int | None = None  # addStep's index; None for register/split/merge
    stage: str | None = None  # CULTIVATION..MARKETING for steps
    data: int | None = None  # addStep's data word (TRANSPORT: min/max temperature)
    timestamp: int | None = None  # block time, unix seconds
    actor: str | None = None
    chain_id: int | None = None
    contract: str | None = None


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One on-chain event with its evidence record (None with `error` when it could not be read)."""

    ref: ChainRef
    evidence_cid: str | None
    record: Mapping[str, Any] | None
    error: str | None = None

    @property
    def cte(self) -> str | None:
        return self.record.get("event") if self.record else None

    @property
    def date(self) -> str | None:
        return self.record.get("date") if self.record else None


@dataclass(frozen=True, slots=True)
class BatchTrace:
    """A batch with its facts from the contract and its tracking events in chain order."""

    batch_id: int
    producer: str = ""
    crop: int = 0
    quantity_grams: int = 0
    harvest_day: int = 0
    parents: tuple[int, ...] = ()
    events: tuple[TrackingEvent, ...] = ()
    holder: str | None = None
    producer_name: str | None = None
    producer_registered: bool = False


@dataclass
class Traces:
    """Batches by id, with lineage helpers (parents recorded by split/merge)."""

    batches: dict[int, BatchTrace] = field(default_factory=dict)

    @classmethod
    def of(cls, traces: Iterable[BatchTrace] | Mapping[int, BatchTrace]) -> Traces:
        if isinstance(traces, Traces):
            return traces
        items = traces.values() if isinstance(traces, Mapping) else traces
        return cls({t.batch_id: t for t in items})

    def __getitem__(self, batch_id: int) -> BatchTrace:
        return self.batches[batch_id]

    def __contains__(self, batch_id: object) -> bool:
        return batch_id in self.batches

    def __iter__(self) -> Iterator[BatchTrace]:
        return iter(self.batches.values())

    def __len__(self) -> int:
        return len(self.batches)

    def ancestors(self, batch_id: int) -> list[int]:
        """Every ancestor id known here (parents first, breadth-first, no duplicates)."""
        seen: dict[int, None] = {}
        queue = list(self.batches[batch_id].parents) if batch_id in self.batches else []
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen[current] = None
            if current in self.batches:
                queue.extend(self.batches[current].parents)
        return list(seen)

    def lineage(self, batch_id: int) -> list[int]:
        return [batch_id, *self.ancestors(batch_id)]


def lot_identity(
    traces: Traces, batch_id: int, fallback_gtin: str | None = None, depth: int = 0
) -> LotIdentity | None:
    """A batch's public identity (`tambon.lots`): its records' GTIN and lot code, a split child
    inheriting its parent's; None when no record and no `fallback_gtin` names a GTIN."""
    trace = traces.batches.get(batch_id)
    if trace is None or depth > 64:
        return None
    inherited = None
    if len(trace.parents) == 1 and trace.events and trace.events[0].ref.kind == "split":
        inherited = lot_identity(traces, trace.parents[0], fallback_gtin, depth + 1)
    try:
        return identify(batch_id, (e.record for e in trace.events), inherited=inherited,
                        fallback_gtin=fallback_gtin)  # fmt: skip
    except InvalidGtin:
        return None


def batch_lot(traces: Traces, batch_id: int) -> str | None:
    """A batch's traceability lot code (its own, or its split parent's)."""
    ident = lot_identity(traces, batch_id)
    return ident.lot if ident else None


def batch_gtin(traces: Traces, batch_id: int) -> str | None:
    """A batch's GTIN-14 (its records', or its split parent's)."""
    ident = lot_identity(traces, batch_id)
    return ident.gtin if ident else None


def lot_history(
    traces: Traces, batch_id: int, depth: int = 0
) -> tuple[list[Mapping[str, Any]], list[tuple[str, Mapping[str, Any]]]]:
    """The records of a batch's lot in chain order, and (input lot, record) pairs of the lots a
    transformation made it from. A split box continues its parent's lot (the parent's records come
    first); a merge, or a box whose first record is a transformation, starts a new lot whose inputs
    are its parents' lots."""
    trace = traces.batches.get(batch_id)
    if trace is None or depth > 64:
        return [], []
    own = [e.record for e in trace.events if e.record is not None]
    if not trace.parents:
        return own, []
    first = trace.events[0] if trace.events else None
    new_lot = (
        first is None
        or first.ref.kind == "merge"
        or (first.record is not None and first.record.get("event") == "transformation")
    )
    if new_lot:
        inputs = [
            (batch_lot(traces, parent) or f"of batch {parent}", record)
            for parent in trace.parents
            for record in lot_history(traces, parent, depth + 1)[0]
        ]
        return own, inputs
    records, inputs = lot_history(traces, trace.parents[0], depth + 1)
    return records + own, inputs


def date_order(traces: Traces, batch_id: int) -> dict[ChainRef, list[str]]:
    """Date-order problems (`tambon.records.order_problems`) of each of a batch's tracking events
    against the records its lot held before it; events in order are left out."""
    trace = traces.batches.get(batch_id)
    if trace is None:
        return {}
    records, inputs = lot_history(traces, batch_id)
    start = len(records) - sum(1 for e in trace.events if e.record is not None)
    found: dict[ChainRef, list[str]] = {}
    position = start
    for event in trace.events:
        if event.record is None:
            continue
        problems = order_problems(records[:position], event.record, inputs)
        if problems:
            found[event.ref] = problems
        position += 1
    return found
