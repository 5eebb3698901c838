"""Reads over the index: what pages, exports, the resolver and the oracle ask of the chain.

Every read is a few indexed queries; none touches the node. Current state is derived from the
facts the way the contracts derive it (a batch's holder is its last transfer's receiver, a key's
revocation time is its `OracleKeyRevoked` event's, and so on).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, union_all

from tambon.events import ChainEvent
from tambon.index import schema
from tambon.index.store import Cursor, IndexStore
from tambon.provenance import Stage

#: event arguments stored as 0x hex that are `bytes` in a decoded event
_BYTES_ARGS = frozenset({"evidence", "modelSha256", "root", "proposal", "reason", "digest"})


@dataclass(frozen=True, slots=True)
class BatchFacts:
    """What `BatchProvenance.batch()` answers, derived from the facts."""

    batch_id: int
    producer: str
    holder: str
    evidence: bytes
    codec: int
    crop: int
    quantity_grams: int
    harvest_day: int
    step_count: int
    closed: bool
    consumed: bool


@dataclass(frozen=True, slots=True)
class IndexHead:
    """The index's position: the block every answer is true at."""

    number: int
    hash: str
    timestamp: int


def _event(row: Any) -> ChainEvent:
    args = json.loads(row.args)
    for key in _BYTES_ARGS & args.keys():
        args[key] = bytes.fromhex(args[key][2:])
    return ChainEvent(
        row.contract, row.name, args, row.block_number, row.block_hash, row.tx_hash, row.log_index
    )


class IndexReader:
    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self.engine = store.engine

    # position

    def cursor(self) -> Cursor | None:
        return self.store.cursor()

    def head(self) -> IndexHead | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.cursor.c.block_number, schema.cursor.c.block_hash, schema.blocks.c.timestamp)
                .select_from(schema.cursor)
                .join(schema.blocks, schema.blocks.c.number == schema.cursor.c.block_number, isouter=True)
                .where(schema.cursor.c.id == 1)
            ).first()
        if row is None:
            return None
        return IndexHead(row.block_number, row.block_hash, row.timestamp or 0)

    # batches

    def batch(self, batch_id: int) -> BatchFacts | None:
        b, s, c, lin = schema.batches, schema.steps, schema.custody, schema.lineage
        with self.engine.connect() as conn:
            row = conn.execute(select(b).where(b.c.batch_id == batch_id)).first()
            if row is None:
                return None
            holder = conn.execute(
                select(c.c.receiver)
                .where(c.c.batch_id == batch_id)
                .order_by(c.c.block_number.desc(), c.c.log_index.desc())
                .limit(1)
            ).scalar()
            steps, closed = conn.execute(
                select(func.count(), func.max(case((s.c.stage == int(Stage.MARKETING), 1), else_=0))).where(
                    s.c.batch_id == batch_id
                )
            ).one()
            consumed = conn.execute(
                select(lin.c.child_id).where(lin.c.parent_id == batch_id).limit(1)
            ).first()
        return BatchFacts(
            batch_id=batch_id,
            producer=row.producer,
            holder=holder or row.producer,
            evidence=bytes.fromhex(row.evidence[2:]),
            codec=row.codec,
            crop=row.crop,
            quantity_grams=row.quantity_grams,
            harvest_day=row.harvest_day,
            step_count=int(steps),
            closed=bool(closed),
            consumed=consumed is not None,
        )

    def parents(self, batch_id: int) -> list[int]:
        lin = schema.lineage
        with self.engine.connect() as conn:
            return [
                int(p)
                for p in conn.execute(
                    select(lin.c.parent_id).where(lin.c.child_id == batch_id).order_by(lin.c.parent_id)
                ).scalars()
            ]

    def children(self, batch_id: int) -> list[int]:
        lin = schema.lineage
        with self.engine.connect() as conn:
            return [
                int(c)
                for c in conn.execute(
                    select(lin.c.child_id).where(lin.c.parent_id == batch_id).order_by(lin.c.child_id)
                ).scalars()
            ]

    def provenance_events(self, ids: Sequence[int]) -> list[ChainEvent]:
        """The lots' BatchRegistered, StepAdded, Split (as parent), Merged (as child) and Transfer events."""
        b, s, c, lin = schema.batches, schema.steps, schema.custody, schema.lineage
        positions = union_all(
            select(b.c.block_number, b.c.log_index).where(b.c.batch_id.in_(ids)),
            select(s.c.block_number, s.c.log_index).where(s.c.batch_id.in_(ids)),
            select(c.c.block_number, c.c.log_index).where(c.c.batch_id.in_(ids)),
            select(lin.c.block_number, lin.c.log_index).where(
                lin.c.kind == "split", lin.c.parent_id.in_(ids)
            ),
            select(lin.c.block_number, lin.c.log_index).where(lin.c.kind == "merge", lin.c.child_id.in_(ids)),
        ).subquery()
        return self._events_at(positions)

    def attestation_events(self, ids: Sequence[int]) -> list[ChainEvent]:
        a = schema.attestations
        positions = select(a.c.block_number, a.c.log_index).where(a.c.batch_id.in_(ids)).subquery()
        return self._events_at(positions)

    def _events_at(self, positions: Any) -> list[ChainEvent]:
        e = schema.events
        query = (
            select(e)
            .join(
                positions,
                (positions.c.block_number == e.c.block_number) & (positions.c.log_index == e.c.log_index),
            )
            .distinct()
            .order_by(e.c.block_number, e.c.log_index)
        )
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(query)]

    def block_times(self, block_hashes: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(block_hashes))
        if not wanted:
            return {}
        bl = schema.blocks
        with self.engine.connect() as conn:
            return {
                r.hash: int(r.timestamp)
                for r in conn.execute(select(bl.c.hash, bl.c.timestamp).where(bl.c.hash.in_(wanted)))
            }

    def lineage_stamp(self, ids: Sequence[int]) -> str:
        """The newest fact touching these lots or the registries a page reads (producers, oracle keys,
        models), as "block.log_index.block_hash": a page rendered at this stamp stays true until it
        changes, and a reorg that replaces that fact changes the hash."""
        b, s, c, lin, a = schema.batches, schema.steps, schema.custody, schema.lineage, schema.attestations

        def cols(t: Any) -> Any:
            return select(t.c.block_number, t.c.log_index, t.c.block_hash)

        parts = [cols(t) for t in (schema.producers, schema.keys, schema.models)]
        parts += [
            cols(t).where(col.in_(ids))
            for t, col in (
                (b, b.c.batch_id),
                (s, s.c.batch_id),
                (c, c.c.batch_id),
                (a, a.c.batch_id),
                (lin, lin.c.parent_id),
                (lin, lin.c.child_id),
            )
        ]
        every = union_all(*parts).subquery()
        query = select(every).order_by(every.c.block_number.desc(), every.c.log_index.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return f"{row.block_number}.{row.log_index}.{row.block_hash}" if row else "empty"

    # registries

    def producer(self, account: str) -> tuple[str, str, int, int]:
        """(registration id, name, registered at, revoked at) as `producerOf` answers (zeros if never)."""
        p = schema.producers
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(p, schema.blocks.c.timestamp)
                .join(schema.blocks, schema.blocks.c.number == p.c.block_number)
                .where(p.c.account == account)
                .order_by(p.c.block_number, p.c.log_index)
            ).all()
        reg_id, name, registered_at, revoked_at = "", "", 0, 0
        for r in rows:
            if r.kind == "registered":  # registering again updates the record and clears a revocation
                reg_id, name, registered_at, revoked_at = r.registration_id, r.name, int(r.timestamp), 0
            else:
                revoked_at = int(r.timestamp)
        return reg_id, name, registered_at, revoked_at

    def key_status(self, key: str) -> tuple[int, int]:
        """(activated at, revoked at) as `keyStatus` answers."""
        return self._status(schema.keys, schema.keys.c.key, key, "added")

    def model_status(self, model_sha256: bytes) -> tuple[int, int]:
        """(approved at, revoked at) as `modelStatus` answers."""
        return self._status(
            schema.models, schema.models.c.model_sha256, "0x" + model_sha256.hex(), "approved"
        )

    def _status(self, table: Any, column: Any, value: str, started: str) -> tuple[int, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.kind, table.c.at).where(column == value)).all()
        began = next((int(r.at) for r in rows if r.kind == started), 0)
        ended = next((int(r.at) for r in rows if r.kind != started), 0)
        return began, ended

    def signed_call(self, tx_hash: str) -> tuple[str, dict[str, Any]] | None:
        """(function, arguments) of the attest / attestMany call that recorded a transaction's
        attestations; None when it was relayed through another contract."""
        sig = schema.signatures
        with self.engine.connect() as conn:
            row = conn.execute(select(sig).where(sig.c.tx_hash == tx_hash)).first()
        if row is None or row.function not in ("attest", "attestMany"):
            return None
        items = json.loads(row.items)
        signature = bytes.fromhex(row.signature[2:])
        if row.function == "attest":
            return "attest", {"attestation": items[0], "signature": signature}
        return "attestMany", {"attestations": items, "signature": signature}

    # lots

    def lot(self, gtin: str, lot_code: str) -> int | None:
        lots = schema.lots
        with self.engine.connect() as conn:
            found = conn.execute(
                select(lots.c.batch_id).where(lots.c.gtin == gtin, lots.c.lot_code == lot_code)
            ).scalar()
        return int(found) if found is not None else None
