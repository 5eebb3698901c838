"""/api/batches: a batch's verified history as JSON, and its EPCIS 2.0 document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from frontend.api.models import BatchOut
from frontend.context import JSON_FORM
from frontend.deps import BatchId, ChainHead, Ctx
from frontend.services.lots import identified
from frontend.views import epcis_json

router = APIRouter(prefix="/api/batches", tags=["batches"])


@router.get("/{batch_id}", summary="Verified history of a batch", response_model=BatchOut)
async def get_batch(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> Response:
    """Producer, custody, timeline by stage, grades and every check with its result, read at the latest block."""
    # Kept as bytes per version of the lot beside its pages (the lot's page in a third form, shared by
    # the workers and with its proofs re-checked the same way): a client polling a lot costs a lookup,
    # not a model build and a serialisation per request.
    key, cached = ctx.lot_page(head, batch_id, JSON_FORM)
    if cached is not None:
        return batch_json_response(cached)

    def make(version: str) -> tuple[str, bytes]:
        made, history = ctx.versioned_history(head, batch_id, version)
        return made, BatchOut.of(identified(ctx, head, history)).model_dump_json(by_alias=True).encode()

    _, body = await run_in_threadpool(ctx.render_lot_page, key, make)
    return batch_json_response(body)


def batch_json_response(body: bytes) -> Response:
    """A lot's JSON answer (the route's, and `CachedBatchPages`' ahead of routing)."""
    return Response(body, media_type="application/json")


@router.get("/{batch_id}/epcis", summary="EPCIS 2.0 JSON-LD events of a batch")
async def get_batch_epcis(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> dict[str, Any]:
    bid = batch_id
    history = await run_in_threadpool(ctx.history, head, bid)
    return epcis_json(ctx, history)
