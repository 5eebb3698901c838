"""Lot identity as the site sees it: a batch's `LotIdentity` from its proven records, and the lot index
the resolver looks (GTIN, lot) up in. Records are read through the evidence service (every block
hashed against the on-chain CID) and follow a metadata document to its bundle."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from compliance.errors import ComplianceError
from compliance.model import Traces, lot_history, lot_identity
from compliance.source import index_traces, read_traces, traces_from_chain_events
from evidence.bundle import record_behind
from frontend.services import gs1 as site_gs1
from frontend.services.batches import BatchHistory, Label
from frontend.services.chain import Head
from tambon.gs1 import normalise_gtin
from tambon.index.reader import IndexReader
from tambon.lots import LotIdentity, LotIndex
from tambon.provenance import lineage
from tambon.records import RecordInvalid, order_problems, read_record


def open_proven(ctx, cid: str) -> tuple[str, Mapping[str, Any] | None]:
    """A CID as the site proved it (every block hashed): its kind and its record or JSON document."""
    proof = ctx.evidence.prove(cid)
    if proof.status != "pass":
        raise ComplianceError(f"evidence {cid}: {proof.detail}")
    return proof.kind, proof.record


def record_of(ctx, cid: str) -> Mapping[str, Any]:
    """record.json behind an on-chain CID (a bundle, or metadata linking one), proven by the site."""
    record = record_behind(cid, lambda c: open_proven(ctx, c))
    try:
        return read_record(record)  # validated against its own version, upgraded to the current one
    except RecordInvalid as exc:
        raise ComplianceError(str(exc)) from exc


def compliance_traces(ctx, history) -> Traces:
    """The batch and its lineage as `compliance` traces, from a `BatchHistory`."""
    reader = ctx.reader
    return traces_from_chain_events(
        history.events,
        history.times,
        lambda cid: record_of(ctx, cid),
        chain_id=reader.chain_id,
        contract=reader.provenance.address,
    )


def identity_of(ctx, head, batch_id: int) -> LotIdentity:
    """The batch's public identity (GTIN + lot code, batch id as serial); the crop's GTIN when no
    record names one. On the index it is the batch's newest `lots` row (`LotDirectory`, in memory); a
    batch the follower read no records for is identified from its history, as without an index."""
    if ctx.index is not None:
        found = ctx.lots_at(head).identity(batch_id)
        if found is not None:
            return found
    history = ctx.history(head, batch_id)
    found = lot_identity(compliance_traces(ctx, history), batch_id, history.gtin)
    return found or LotIdentity(history.gtin, None, batch_id)


def step_order_problems(ctx, head, batch_id: int, record: Mapping[str, Any]) -> list[str]:
    """Date-order problems of a new step's record against the records the batch's lot holds (and,
    for a transformation, its input lots); records the site cannot prove are left out of the check."""
    traces = compliance_traces(ctx, ctx.history(head, batch_id))
    records, inputs = lot_history(traces, batch_id)
    return order_problems(records, record, inputs)


def all_traces(ctx) -> Traces:
    """Every batch of the deployment (what `tambon export` reads), records proven by the site: from the
    chain index when the site reads one, else from the node (the core event reader)."""
    fetch = partial(record_of, ctx)
    if ctx.index is not None:
        return index_traces(
            ctx.index, fetch, chain_id=ctx.reader.chain_id, contract=ctx.reader.provenance.address
        )
    return read_traces(ctx.reader.chain, fetch)


def lot_traces(ctx, lot: str) -> Traces:
    """The batches that carry a traceability lot code and their lineage (the FSMA 204 lot export); on
    the index only those batches' records are read."""
    if ctx.index is None or not ctx.index.has_lots():
        return all_traces(ctx)
    ids: dict[int, None] = {}
    for batch_id in ctx.index.batches_with_lot(lot):
        ids |= dict.fromkeys(lineage(batch_id, ctx.index.parents))
    return index_traces(
        ctx.index,
        partial(record_of, ctx),
        chain_id=ctx.reader.chain_id,
        contract=ctx.reader.provenance.address,
        batch_ids=sorted(ids),
    )


class LotDirectory:
    """The resolver's lookup, (GTIN, lot code) -> batches, held in memory from the chain index's `lots`
    table: loaded once, then kept true as the index moves by re-reading the rows of only the batches
    the new blocks touched (all of them after a reorg). The follower fills lot identities behind the
    facts (`IndexHead.lots_block`), so the directory follows that block. A lookup is a few dict
    reads, no query."""

    def __init__(self, index: IndexReader, company_prefix: str) -> None:
        self.index = index
        self.company_prefix = company_prefix
        self._lock = threading.Lock()
        self._at: tuple[int, str] | None = None  # the index head it was last brought to
        self._lots_block = 0  # the block its rows are true to
        #: batch -> the identities (gtin, lot code, crop) it has carried, oldest first
        self._rows: dict[int, list[tuple[str, str, int]]] = {}
        self._by_lot: dict[str, set[int]] = {}
        self._by_gtin: dict[str, set[int]] = {}  # "" collects the batches known by their crop's GTIN

    def at(self, head: Head, lots_block: int | None) -> LotDirectory:
        """The directory, true at `head` (lot identities up to `lots_block`, all when None: an index
        that fills them with the facts) or at a later block of the index."""
        upto = head.number if lots_block is None else min(lots_block, head.number)
        with self._lock:
            seen = self._at
            if seen is not None and (
                head.number < seen[0] or (seen[1] == head.hash and upto <= self._lots_block)
            ):
                return self  # current, or newer than a request that read the head a moment ago
            if seen is None or (seen[1] != head.hash and (
                head.number == seen[0] or self.index.block_hash(seen[0]) != seen[1]
            )):  # fmt: skip
                self._load(None)  # first use, or the index went back (a reorg)
                self._lots_block = upto
            elif upto > self._lots_block:
                touched, _ = self.index.touched_since(self._lots_block, upto)
                if touched:
                    self._load(touched)
                self._lots_block = upto
            self._at = (head.number, head.hash)
        return self

    def _load(self, batches: set[int] | None) -> None:
        if batches is None:
            self._rows, self._by_lot, self._by_gtin = {}, {}, {}
        else:
            for batch_id in batches:
                for gtin, lot, _ in self._rows.pop(batch_id, ()):
                    self._by_lot.get(lot, set()).discard(batch_id)
                    self._by_gtin.get(gtin, set()).discard(batch_id)
        for batch_id, gtin, lot, crop in self.index.lot_rows(batches):
            self._rows.setdefault(batch_id, []).append((gtin, lot, crop))
            self._by_lot.setdefault(lot, set()).add(batch_id)
            self._by_gtin.setdefault(gtin, set()).add(batch_id)

    @property
    def has_lots(self) -> bool:
        return bool(self._rows)

    def _matches(self, gtin: str) -> Callable[[tuple[str, str, int]], bool]:
        """Whether a stored identity names `gtin`: itself, or "" with the crop it stands for under the
        site's company prefix."""
        crop = site_gs1.crop_of_gtin(gtin, self.company_prefix)
        return lambda row: row[0] == gtin or (row[0] == "" and crop is not None and row[2] == crop)

    def batches(self, gtin: str, lot: str) -> list[int]:
        gtin = normalise_gtin(gtin)
        matches = self._matches(gtin)
        with self._lock:
            return sorted(
                b for b in self._by_lot.get(lot, ()) if any(r[1] == lot and matches(r) for r in self._rows[b])
            )

    def _gtin_lots(self, gtin: str) -> dict[str, int] | None:
        """lot code -> its first batch, of every identity naming `gtin`; None when none does."""
        gtin = normalise_gtin(gtin)
        matches = self._matches(gtin)
        firsts: dict[str, int] = {}
        with self._lock:
            for b in self._by_gtin.get(gtin, set()) | self._by_gtin.get("", set()):
                for row in self._rows[b]:
                    if matches(row):
                        firsts[row[1]] = min(firsts.get(row[1], b), b)
        return firsts or None

    def knows_gtin(self, gtin: str) -> bool:
        return self._gtin_lots(gtin) is not None

    def lots_of(self, gtin: str) -> list[str]:
        firsts = self._gtin_lots(gtin) or {}
        return [lot for lot in sorted(firsts, key=firsts.__getitem__) if lot]

    def identity(self, batch_id: int) -> LotIdentity | None:
        """The batch's current identity, or None when the follower stored none for it."""
        with self._lock:
            rows = self._rows.get(batch_id)
            if not rows:
                return None
            gtin, lot, crop = rows[-1]
        return LotIdentity(gtin or site_gs1.gtin_for_crop(crop, self.company_prefix), lot or None, batch_id)


def lot_index(ctx, head) -> LotIndex | LotDirectory:
    """(GTIN, lot code) -> batches: the site's in-memory copy of the chain index's `lots` table when
    the site reads an index that holds lot identities, else built over every batch of the deployment
    once per chain head."""
    if ctx.index is not None:
        directory = ctx.lots_at(head)
        if directory.has_lots:
            return directory

    def build() -> LotIndex:
        traces = all_traces(ctx)
        prefix = ctx.web.gs1_company_prefix
        identities = []
        for trace in traces:
            ident = lot_identity(traces, trace.batch_id, site_gs1.gtin_for_crop(trace.crop, prefix))
            if ident is not None:
                identities.append(ident)
        return LotIndex.of(identities)

    return ctx.per_head("gs1_lots", head, build)


def identified(ctx, head, history: BatchHistory) -> BatchHistory:
    """The history with its lot identity: GTIN, lot code and the Digital Link its label carries."""
    ident = identity_of(ctx, head, history.batch_id)
    return dataclasses.replace(
        history, gtin=ident.gtin, lot=ident.lot, digital_link=ident.uri(ctx.settings.public_url)
    )


def labelled(ctx, head, label: Label) -> Label:
    """A label with its lot identity: the TLC it prints and the Digital Link its QR code carries."""
    ident = identity_of(ctx, head, label.batch_id)
    return dataclasses.replace(label, gtin=ident.gtin, lot=ident.lot, uri=ident.uri(ctx.settings.public_url))
