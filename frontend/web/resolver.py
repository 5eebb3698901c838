"""GS1 Digital Link entry point: `/01/<GTIN>/10/<lot>` (what the QR code encodes) -> the verify page.

A minimal resolver: the GTIN must be valid and be this site's GTIN for the lot's crop. Link types
(`?linkType=...`) and linksets are left to the full resolver (frontend/api/routes/gs1.py).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from frontend.deps import ChainHead, Ctx
from frontend.errors import BadInput, NotFound
from frontend.services import gs1

router = APIRouter(tags=["gs1"])


@router.get("/01/{gtin}/10/{lot}", summary="Resolve a GS1 Digital Link to the batch's verify page")
async def resolve(gtin: str, lot: str, ctx: Ctx, head: ChainHead) -> RedirectResponse:
    if not gs1.valid_gtin(gtin):
        raise BadInput(f"{gtin[:20]!r} is not a valid GTIN-14")
    batch_id = gs1.parse_lot(lot)
    from fastapi.concurrency import run_in_threadpool

    label = await run_in_threadpool(ctx.batches.label, head, batch_id)
    if label.gtin != gtin:
        raise NotFound(f"lot {batch_id} is not a lot of GTIN {gtin}")
    return RedirectResponse(f"/batch/{batch_id}", status_code=307)
