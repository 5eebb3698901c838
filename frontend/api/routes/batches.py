"""/api/batches: a batch's verified history as JSON, and its EPCIS 2.0 document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from frontend.api.models import BatchOut
from frontend.context import JSON_FORM
from frontend.deps import BatchId, ChainHead, Ctx
from frontend.views import epcis_json, render_batch_json

router = APIRouter(prefix="/api/batches", tags=["batches"])


@router.get("/{batch_id}", summary="Verified history of a batch", response_model=BatchOut)
async def get_batch(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> Response:
    """Producer, custody, timeline by stage, grades and every check with its result, read at the latest block."""
    key, cached = ctx.lot_page(head, batch_id, JSON_FORM)
    if cached is not None:
        return batch_json_response(cached)
    _, body = await run_in_threadpool(render_batch_json, ctx, head, batch_id, key)
    return batch_json_response(body)


def batch_json_response(body: bytes) -> Response:
    """A lot's JSON answer (the route's, and `CachedBatchPages`' ahead of routing)."""
    return Response(body, media_type="application/json")


@router.get("/{batch_id}/epcis", summary="EPCIS 2.0 JSON-LD events of a batch")
async def get_batch_epcis(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> dict[str, Any]:
    bid = batch_id
    history = await run_in_threadpool(ctx.history, head, bid)
    return epcis_json(ctx, history)
