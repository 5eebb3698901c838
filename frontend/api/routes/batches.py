"""/api/batches: a batch's verified history as JSON, and its EPCIS 2.0 document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from frontend.api.models import BatchOut
from frontend.deps import BatchId, ChainHead, Ctx
from frontend.services.lots import identified
from frontend.views import epcis_json

router = APIRouter(prefix="/api/batches", tags=["batches"])


@router.get("/{batch_id}", summary="Verified history of a batch")
async def get_batch(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> BatchOut:
    """Producer, custody, timeline by stage, grades and every check with its result, read at the latest block."""
    bid = batch_id
    history = await run_in_threadpool(lambda: identified(ctx, head, ctx.history(head, bid)))
    return BatchOut.of(history)


@router.get("/{batch_id}/epcis", summary="EPCIS 2.0 JSON-LD events of a batch")
async def get_batch_epcis(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> dict[str, Any]:
    bid = batch_id
    history = await run_in_threadpool(ctx.history, head, bid)
    return epcis_json(ctx, history)
