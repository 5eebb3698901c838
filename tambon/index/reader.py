"""Reads over the index: what pages, exports, the resolver and the oracle ask of the chain.

Every read is a few indexed queries; none touches the node. Current state is derived from the
facts the way the contracts derive it (a batch's holder is its last transfer's receiver, a key's
revocation time is its `OracleKeyRevoked` event's, and so on).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, BindParameter, Select, bindparam, case, func, select, union_all

from tambon.events import ChainEvent
from tambon.grants import Grant, Milestone
from tambon.index import schema
from tambon.index.store import Cursor, IndexStore, default_url, stored_event
from tambon.provenance import Stage
from tambon.settings import Settings


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


_MILESTONE_STATUS = {"submitted": 2, "released": 3, "rejected": 4, "escalated": 5}
_NO_DIGEST = bytes(32)


@dataclass(frozen=True, slots=True)
class IndexHead:
    """The index's position: the block every answer is true at, and how fresh it is."""

    number: int
    hash: str
    timestamp: int
    confirmed_at: int = 0  # when the follower last checked it against the chain (unix time)
    chain_head: int | None = None  # the chain head the follower saw then, and its time
    chain_head_time: int | None = None
    #: bumped by every write that changes facts (a range with events, a reorg), never by an empty
    #: block: equal counters mean equal facts, so a reader compares it before asking what changed
    changes: int = 0
    #: the last block whose lot identities are stored (the resolver's lookups are true up to it)
    lots_block: int | None = None


class IndexReader:
    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self.engine = store.engine

    @classmethod
    def started(cls, settings: Settings) -> IndexReader | None:
        """The configured index (TAMBON_INDEX_URL, else the data dir's SQLite file) once a follower has
        started it; None when there is none.

        A store the follower is still creating or upgrading (its schema behind this code's newest
        migration) is not started yet: its tables may be missing or half made.
        """
        url = default_url(settings)
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            return None
        store = IndexStore(url)
        if not store.schema_is_current() or store.cursor() is None:
            store.close()
            return None
        return cls(store)

    def events_between(self, start: int, end: int, contract: str, name: str) -> list[ChainEvent]:
        """One event kind of one contract in blocks [start, end], in chain order."""
        e = schema.events
        query = (
            select(e)
            .where(
                e.c.block_number >= start, e.c.block_number <= end, e.c.contract == contract, e.c.name == name
            )
            .order_by(e.c.block_number, e.c.log_index)
        )
        with self.engine.connect() as conn:
            return [stored_event(r) for r in conn.execute(query)]

    # position

    def cursor(self) -> Cursor | None:
        return self.store.cursor()

    def head(self) -> IndexHead | None:
        with self.engine.connect() as conn:
            cur = schema.cursor
            row = conn.execute(
                select(
                    cur.c.block_number,
                    cur.c.block_hash,
                    schema.blocks.c.timestamp,
                    cur.c.updated_at,
                    cur.c.head_number,
                    cur.c.head_timestamp,
                    cur.c.changes,
                    cur.c.lots_block,
                )
                .select_from(cur)
                .join(schema.blocks, schema.blocks.c.number == schema.cursor.c.block_number, isouter=True)
                .where(schema.cursor.c.id == 1)
            ).first()
        if row is None:
            return None
        return IndexHead(
            row.block_number,
            row.block_hash,
            row.timestamp or 0,
            row.updated_at,
            row.head_number,
            row.head_timestamp,
            row.changes,
            row.lots_block,
        )

    # batches

    def batch(self, batch_id: int) -> BatchFacts | None:
        lot = {"lot": batch_id}
        with self.engine.connect() as conn:
            row = conn.execute(_READS.batch, lot).first()
            if row is None:
                return None
            holder = conn.execute(_READS.holder, lot).scalar()
            steps, closed = conn.execute(_READS.steps_closed, lot).one()
            consumed = conn.execute(_READS.consumed, lot).first()
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
        with self.engine.connect() as conn:
            return [int(p) for p in conn.execute(_READS.parents, {"lot": batch_id}).scalars()]

    def children(self, batch_id: int) -> list[int]:
        with self.engine.connect() as conn:
            return [int(c) for c in conn.execute(_READS.children, {"lot": batch_id}).scalars()]

    def provenance_events(self, ids: Sequence[int]) -> list[ChainEvent]:
        """The lots' BatchRegistered, StepAdded, Split (as parent), Merged (as child) and Transfer events."""
        return self._events(_READS.provenance_events, ids)

    def attestation_events(self, ids: Sequence[int]) -> list[ChainEvent]:
        return self._events(_READS.attestation_events, ids)

    def coldchain_events(self, ids: Sequence[int]) -> list[ChainEvent]:
        """The lots' ColdChainAttested events (cold-chain verdicts), in chain order."""
        return self._events(_READS.coldchain_events, ids)

    def _events(self, query: Any, ids: Sequence[int]) -> list[ChainEvent]:
        with self.engine.connect() as conn:
            return [stored_event(r) for r in conn.execute(query, {"lots": [int(i) for i in ids]})]

    def block_times(self, block_hashes: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(block_hashes))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            return {r.hash: int(r.timestamp) for r in conn.execute(_READS.block_times, {"hashes": wanted})}

    def block_hash(self, number: int) -> str | None:
        """The stored hash of a block the index has seen (a block with facts, or a range's end)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(schema.blocks.c.hash).where(schema.blocks.c.number == number)
            ).scalar()
        return str(found) if found is not None else None

    def touched_since(self, after: int, upto: int) -> tuple[set[int], bool]:
        """(batch ids with a fact in blocks (after, upto], whether a registry a page reads — producers,
        oracle keys, models — changed there): what a page cache drops when the index moves."""
        b, s, c, lin, a = schema.batches, schema.steps, schema.custody, schema.lineage, schema.attestations
        cc = schema.coldchain

        def within(t: Any) -> Any:
            return (t.c.block_number > after) & (t.c.block_number <= upto)

        ids = union_all(
            *(select(col.label("batch_id")).where(within(t)) for t, col in (
                (b, b.c.batch_id), (s, s.c.batch_id), (c, c.c.batch_id), (a, a.c.batch_id),
                (cc, cc.c.batch_id), (lin, lin.c.parent_id), (lin, lin.c.child_id),
            ))
        )  # fmt: skip
        registries = union_all(
            *(
                select(t.c.block_number).where(within(t))
                for t in (schema.producers, schema.keys, schema.models)
            )
        ).subquery()
        with self.engine.connect() as conn:
            touched = {int(i) for i in conn.execute(ids).scalars()}
            changed = conn.execute(select(registries).limit(1)).first() is not None
        return touched, changed

    def stamp_facts(
        self, after: int | None, upto: int
    ) -> tuple[list[tuple[int, int, int, str]], list[tuple[int, int]], tuple[int, int, str] | None]:
        """What `lineage_stamp` is made of, for every lot at once, in blocks (after, upto] (every block
        up to `upto` when `after` is None): each lot's facts as (lot, block, log index, block hash), a
        lineage link counting for its parent and for its child; the (parent, child) links; and the
        newest registry fact (block, log index, block hash), or None."""
        lots, links, newest = _STAMP_FACTS
        bounds = {"after": -1 if after is None else after, "upto": upto}
        with self.engine.connect() as conn:
            facts = [(int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in conn.execute(lots, bounds)]
            pairs = [(int(r[0]), int(r[1])) for r in conn.execute(links, bounds)]
            found = conn.execute(newest, bounds).first()
        return facts, pairs, (int(found[0]), int(found[1]), str(found[2])) if found else None

    def lineage_stamp(self, ids: Sequence[int]) -> str:
        """The newest fact touching these lots or the registries a page reads (producers, oracle keys,
        models), as "block.log_index.block_hash": a page rendered at this stamp stays true until it
        changes, and a reorg that replaces that fact changes the hash."""
        b, s, c, lin, a = schema.batches, schema.steps, schema.custody, schema.lineage, schema.attestations
        cc = schema.coldchain

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
                (cc, cc.c.batch_id),
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
        with self.engine.connect() as conn:
            rows = conn.execute(_READS.producer, {"account": account}).all()
        reg_id, name, registered_at, revoked_at = "", "", 0, 0
        for r in rows:
            if r.kind == "registered":  # registering again updates the record and clears a revocation
                reg_id, name, registered_at, revoked_at = r.registration_id, r.name, int(r.timestamp), 0
            else:
                revoked_at = int(r.timestamp)
        return reg_id, name, registered_at, revoked_at

    def key_status(self, key: str) -> tuple[int, int]:
        """(activated at, revoked at) as `keyStatus` answers."""
        return self._status(_READS.key_status, key, "added")

    def model_status(self, model_sha256: bytes) -> tuple[int, int]:
        """(approved at, revoked at) as `modelStatus` answers."""
        return self._status(_READS.model_status, "0x" + model_sha256.hex(), "approved")

    def _status(self, query: Any, value: str, started: str) -> tuple[int, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"value": value}).all()
        began = next((int(r.at) for r in rows if r.kind == started), 0)
        ended = next((int(r.at) for r in rows if r.kind != started), 0)
        return began, ended

    def signed_call(self, tx_hash: str) -> tuple[str, dict[str, Any]] | None:
        """(function, arguments) of the attest / attestMany call that recorded a transaction's
        attestations; None when it was relayed through another contract."""
        with self.engine.connect() as conn:
            row = conn.execute(_READS.signed_call, {"tx": tx_hash}).first()
        if row is None or row.function not in ("attest", "attestMany"):
            return None
        items = json.loads(row.items)
        signature = bytes.fromhex(row.signature[2:])
        if row.function == "attest":
            return "attest", {"attestation": items[0], "signature": signature}
        return "attestMany", {"attestations": items, "signature": signature}

    def history_events(self, ids: Sequence[int] | None = None) -> list[ChainEvent]:
        """BatchRegistered, StepAdded, Split and Merged events (what the exports read): of every batch,
        or of the given batches (Split as parent, Merged as child)."""
        if ids is not None:
            return [e for e in self.provenance_events(ids) if e.name != "Transfer"]
        e = schema.events
        query = (
            select(e)
            .where(
                e.c.contract == "BatchProvenance",
                e.c.name.in_(("BatchRegistered", "StepAdded", "Split", "Merged")),
            )
            .order_by(e.c.block_number, e.c.log_index)
        )
        with self.engine.connect() as conn:
            return [stored_event(r) for r in conn.execute(query)]

    # grants

    def grants(self) -> list[tuple[Grant, list[Milestone]]]:
        """Every grant of the escrow in id order with its milestones, as the core reads them from the
        escrow's views (`Grant.from_chain`, `Milestone.from_chain`), derived from the indexed events."""
        g, f, m = schema.grants, schema.grant_funds, schema.milestones
        with self.engine.connect() as conn:
            created = conn.execute(select(g).order_by(g.c.grant_id)).all()
            funds = conn.execute(select(f).order_by(f.c.block_number, f.c.log_index)).all()
            steps = conn.execute(
                select(m, schema.blocks.c.timestamp)
                .join(schema.blocks, schema.blocks.c.number == m.c.block_number)
                .order_by(m.c.block_number, m.c.log_index)
            ).all()
        funded: dict[int, int] = {}
        cancelled: set[int] = set()
        for r in funds:
            if r.kind == "funded":
                funded[r.grant_id] = int(r.total)
            elif r.kind == "cancelled":
                cancelled.add(r.grant_id)
        milestones: dict[tuple[int, int], dict[str, Any]] = {}
        paid: dict[int, int] = {}
        for r in steps:
            key = (r.grant_id, r.milestone_id)
            if r.kind == "scheduled":
                milestones[key] = {
                    "amount": int(r.amount),
                    "deadline": int(r.deadline),
                    "status": 1,
                    "nonce": 0,
                    "submitted_at": 0,
                    "evidence": _NO_DIGEST,
                    "codec": 0,
                    "rejection_reason": _NO_DIGEST,
                }
                continue
            state = milestones[key]
            state["status"] = _MILESTONE_STATUS[r.kind]
            if r.kind == "submitted":
                state |= {
                    "nonce": int(r.nonce),
                    "submitted_at": int(r.timestamp),
                    "evidence": bytes.fromhex(r.evidence[2:]),
                    "codec": int(r.codec),
                }
            elif r.kind == "rejected":
                state["rejection_reason"] = bytes.fromhex(r.evidence[2:])
            elif r.kind == "released":
                paid[r.grant_id] = paid.get(r.grant_id, 0) + state["amount"]
        fields = (
            "amount",
            "deadline",
            "status",
            "nonce",
            "submitted_at",
            "evidence",
            "codec",
            "rejection_reason",
        )
        return [
            (
                Grant.from_chain(
                    int(r.grant_id),
                    (
                        r.recipient,
                        r.token,
                        int(r.budget),
                        funded.get(r.grant_id, 0),
                        paid.get(r.grant_id, 0),
                        int(r.milestone_count),
                        r.grant_id in cancelled,
                    ),
                ),
                [
                    Milestone.from_chain(
                        int(r.grant_id), i, tuple(milestones[(r.grant_id, i)][f] for f in fields)
                    )
                    for i in range(int(r.milestone_count))
                ],
            )
            for r in created
        ]

    def council(self) -> tuple[list[str], int]:
        """(members sorted ascending, threshold) as `members()` and `threshold()` answer."""
        c = schema.council
        with self.engine.connect() as conn:
            rows = conn.execute(select(c).order_by(c.c.block_number, c.c.log_index)).all()
        members: set[str] = set()
        threshold = 0
        for r in rows:
            if r.kind == "member_added":
                members.add(r.member)
            elif r.kind == "member_removed":
                members.discard(r.member)
            elif r.kind == "threshold":
                threshold = int(r.threshold)
        return sorted(members, key=lambda a: int(a, 16)), threshold

    def escrow_events(self, names: Sequence[str]) -> list[ChainEvent]:
        """GrantEscrow events of these names, in chain order."""
        e = schema.events
        query = (
            select(e)
            .where(e.c.contract == "GrantEscrow", e.c.name.in_(list(names)))
            .order_by(e.c.block_number, e.c.log_index)
        )
        with self.engine.connect() as conn:
            return [stored_event(r) for r in conn.execute(query)]

    # lots (tambon.index.lots): identities a batch has carried; gtin "" is the crop's own GTIN. They
    # are filled behind the facts (`IndexHead.lots_block`): a lot registered after that block is not
    # found yet, so the resolver answers its GTIN + lot at the GTIN level (the GTIN's lots) and a link
    # with its serial (/21/<batch>) exactly (a batch without a lots row is identified from its
    # history); at the head the follower fills a new block's lots right after its facts.

    def has_lots(self) -> bool:
        """Whether the follower stores lot identities (it reads records; an index built before the
        `lots` table was filled has none until `tambon index rebuild`)."""
        with self.engine.connect() as conn:
            return conn.execute(select(schema.lots.c.batch_id).limit(1)).first() is not None

    def lot_rows(self, batch_ids: Iterable[int] | None = None) -> list[tuple[int, str, str, int]]:
        """(batch, gtin, lot code, crop) of every identity stored for these batches (all batches when
        None), in chain order: what an in-memory copy of the lots table is loaded from."""
        lots = schema.lots
        query = select(lots.c.batch_id, lots.c.gtin, lots.c.lot_code, lots.c.crop).order_by(
            lots.c.block_number, lots.c.log_index
        )
        if batch_ids is not None:
            query = query.where(lots.c.batch_id.in_(sorted(set(batch_ids))))
        with self.engine.connect() as conn:
            return [(int(r[0]), r[1], r[2], int(r[3])) for r in conn.execute(query)]

    def batches_with_lot(self, lot_code: str) -> list[int]:
        """Every batch that has carried this lot code (under any GTIN)."""
        lots = schema.lots
        with self.engine.connect() as conn:
            found = conn.execute(
                select(lots.c.batch_id)
                .where(lots.c.lot_code == lot_code)
                .distinct()
                .order_by(lots.c.batch_id)
            ).scalars()
            return [int(b) for b in found]


def _stamp_facts_statements() -> tuple[Any, Any, Any]:
    """`IndexReader.stamp_facts`' three statements, built once: a site reads them at every index block,
    and building and keying a statement of ten selects cost more than running it."""
    b, s, c, lin, a = schema.batches, schema.steps, schema.custody, schema.lineage, schema.attestations
    cc = schema.coldchain
    after, upto = bindparam("after", type_=BigInteger), bindparam("upto", type_=BigInteger)

    def within(t: Any) -> Any:
        return (t.c.block_number > after) & (t.c.block_number <= upto)

    lots = union_all(
        *(
            select(col.label("lot"), t.c.block_number, t.c.log_index, t.c.block_hash).where(within(t))
            for t, col in (
                (b, b.c.batch_id), (s, s.c.batch_id), (c, c.c.batch_id), (a, a.c.batch_id),
                (cc, cc.c.batch_id), (lin, lin.c.parent_id), (lin, lin.c.child_id),
            )
        )
    )  # fmt: skip
    links = select(lin.c.parent_id, lin.c.child_id).where(within(lin))
    registries = union_all(
        *(
            select(t.c.block_number, t.c.log_index, t.c.block_hash).where(within(t))
            for t in (schema.producers, schema.keys, schema.models)
        )
    ).subquery()
    newest = (
        select(registries).order_by(registries.c.block_number.desc(), registries.c.log_index.desc()).limit(1)
    )
    return lots, links, newest


_STAMP_FACTS = _stamp_facts_statements()


@dataclass(frozen=True)
class _PageReads:
    """The statements a lot's page reads through (`IndexReader.batch`, `parents`, the events, the
    registries), built once with bound parameters: a page runs some seventeen of them, and building
    and keying a statement cost SQLAlchemy more than SQLite took to run it."""

    batch: Any
    holder: Any
    steps_closed: Any
    consumed: Any
    parents: Any
    children: Any
    provenance_events: Any
    attestation_events: Any
    coldchain_events: Any
    block_times: Any
    producer: Any
    key_status: Any
    model_status: Any
    signed_call: Any


def _page_reads() -> _PageReads:
    b, s, c, lin, a = schema.batches, schema.steps, schema.custody, schema.lineage, schema.attestations
    cc, e, bl, p = schema.coldchain, schema.events, schema.blocks, schema.producers
    lot = bindparam("lot", type_=BigInteger)
    lots: BindParameter[list[int]] = bindparam("lots", expanding=True)

    def events_at(*positions: Select[int, int]) -> Any:
        """The events at these (block, log index) positions, in chain order."""
        at = (union_all(*positions) if len(positions) > 1 else positions[0]).subquery()
        return (
            select(e)
            .join(at, (at.c.block_number == e.c.block_number) & (at.c.log_index == e.c.log_index))
            .distinct()
            .order_by(e.c.block_number, e.c.log_index)
        )

    def status(table: Any, column: Any) -> Any:
        return select(table.c.kind, table.c.at).where(column == bindparam("value"))

    return _PageReads(
        batch=select(b).where(b.c.batch_id == lot),
        holder=select(c.c.receiver)
        .where(c.c.batch_id == lot)
        .order_by(c.c.block_number.desc(), c.c.log_index.desc())
        .limit(1),
        steps_closed=select(
            func.count(), func.max(case((s.c.stage == int(Stage.MARKETING), 1), else_=0))
        ).where(s.c.batch_id == lot),
        consumed=select(lin.c.child_id).where(lin.c.parent_id == lot).limit(1),
        parents=select(lin.c.parent_id).where(lin.c.child_id == lot).order_by(lin.c.parent_id),
        children=select(lin.c.child_id).where(lin.c.parent_id == lot).order_by(lin.c.child_id),
        provenance_events=events_at(
            select(b.c.block_number, b.c.log_index).where(b.c.batch_id.in_(lots)),
            select(s.c.block_number, s.c.log_index).where(s.c.batch_id.in_(lots)),
            select(c.c.block_number, c.c.log_index).where(c.c.batch_id.in_(lots)),
            select(lin.c.block_number, lin.c.log_index).where(
                lin.c.kind == "split", lin.c.parent_id.in_(lots)
            ),
            select(lin.c.block_number, lin.c.log_index).where(
                lin.c.kind == "merge", lin.c.child_id.in_(lots)
            ),
        ),
        attestation_events=events_at(select(a.c.block_number, a.c.log_index).where(a.c.batch_id.in_(lots))),
        coldchain_events=events_at(select(cc.c.block_number, cc.c.log_index).where(cc.c.batch_id.in_(lots))),
        block_times=select(bl.c.hash, bl.c.timestamp).where(
            bl.c.hash.in_(bindparam("hashes", expanding=True))
        ),
        producer=select(p, bl.c.timestamp)
        .join(bl, bl.c.number == p.c.block_number)
        .where(p.c.account == bindparam("account"))
        .order_by(p.c.block_number, p.c.log_index),
        key_status=status(schema.keys, schema.keys.c.key),
        model_status=status(schema.models, schema.models.c.model_sha256),
        signed_call=select(schema.signatures).where(schema.signatures.c.tx_hash == bindparam("tx")),
    )


_READS = _page_reads()
