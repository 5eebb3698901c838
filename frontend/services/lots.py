"""Lot identity as the site sees it: a batch's `LotIdentity` from its proven records, and the lot index
the resolver looks (GTIN, lot) up in. Records are read through the evidence service (every block
hashed against the on-chain CID) and follow a metadata document to its bundle."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from compliance.errors import ComplianceError
from compliance.model import Traces, lot_history, lot_identity
from compliance.source import read_traces, record_behind, traces_from_events
from frontend.services import gs1 as site_gs1
from frontend.services.batches import BatchHistory, Label
from tambon.lots import LotIdentity, LotIndex
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
    events = [
        {
            "event": e.name,
            "args": e.args,
            "transactionHash": e.tx_hash,
            "blockNumber": e.block_number,
            "logIndex": e.log_index,
            "timestamp": history.times.get(e.block_hash),
        }
        for e in history.events
        if e.name in ("BatchRegistered", "StepAdded", "Split", "Merged")
    ]
    reader = ctx.reader
    return traces_from_events(
        events,
        lambda cid: record_of(ctx, cid),
        chain_id=reader.chain_id,
        contract=reader.provenance.address,
    )


def identity_of(ctx, head, batch_id: int) -> LotIdentity:
    """The batch's public identity (GTIN + lot code, batch id as serial); the crop's GTIN when no
    record names one."""
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
    """Every batch of the deployment (what `tambon export` reads), records proven by the site."""
    return read_traces(ctx.reader.chain, lambda cid: record_of(ctx, cid))


def lot_index(ctx, head) -> LotIndex:
    """(GTIN, lot code) -> batches, over every batch of the deployment, built once per chain head.
    The one place the resolver's lookup is built: a chain index can answer it instead."""

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
