"""Lot identity as the site sees it: a batch's `LotIdentity` from its proven records, and the lot index
the resolver looks (GTIN, lot) up in. Records are read through the evidence service (every block
hashed against the on-chain CID) and follow a metadata document to its bundle."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from compliance.errors import ComplianceError
from compliance.model import Traces, lot_history, lot_identity
from compliance.source import index_traces, read_traces, traces_from_chain_events
from evidence.bundle import record_behind
from frontend.services import gs1 as site_gs1
from frontend.services.batches import BatchHistory, Label
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
    record names one. On the index it is the batch's newest `lots` row (one indexed query); a batch the
    follower read no records for is identified from its history, as without an index."""
    if ctx.index is not None:
        found = IndexedLots(ctx.index, ctx.web.gs1_company_prefix).identity(batch_id)
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


@dataclass(frozen=True)
class IndexedLots:
    """The resolver's lookup answered by the chain index's `lots` table: a few indexed queries."""

    index: IndexReader
    company_prefix: str

    def _key(self, gtin: str) -> tuple[str, int | None]:
        gtin = normalise_gtin(gtin)
        return gtin, site_gs1.crop_of_gtin(gtin, self.company_prefix)

    def batches(self, gtin: str, lot: str) -> list[int]:
        gtin, crop = self._key(gtin)
        return self.index.lot_batches(gtin, lot, crop)

    def knows_gtin(self, gtin: str) -> bool:
        return self.index.gtin_lots(*self._key(gtin)) is not None

    def lots_of(self, gtin: str) -> list[str]:
        return [lot for lot, _ in self.index.gtin_lots(*self._key(gtin)) or []]

    def identity(self, batch_id: int) -> LotIdentity | None:
        """The batch's current identity, or None when the follower stored none for it."""
        found = self.index.store.lot_identities([batch_id]).get(batch_id)
        if found is None:
            return None
        gtin, lot, crop = found
        return LotIdentity(gtin or site_gs1.gtin_for_crop(crop, self.company_prefix), lot or None, batch_id)


def lot_index(ctx, head) -> LotIndex | IndexedLots:
    """(GTIN, lot code) -> batches: the chain index's `lots` table when the site reads an index that
    holds lot identities, else built over every batch of the deployment once per chain head."""
    if ctx.index is not None and ctx.index.has_lots():
        return IndexedLots(ctx.index, ctx.web.gs1_company_prefix)

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
