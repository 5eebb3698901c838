"""/api/grants: the transparency dashboard's data."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from frontend.api.models import GrantOut, GrantsOut
from frontend.deps import ChainHead, Ctx, GrantId

router = APIRouter(prefix="/api/grants", tags=["grants"])


@router.get("", summary="All grants, per community, with money over time")
async def list_grants(ctx: Ctx, head: ChainHead) -> GrantsOut:
    board = await run_in_threadpool(ctx.grants.dashboard, head)
    return GrantsOut.of(board, ctx.settings.gateway_url)


@router.get("/{grant_id}", summary="One grant and its milestones")
async def get_grant(grant_id: GrantId, ctx: Ctx, head: ChainHead) -> GrantOut:
    return GrantOut.of(await run_in_threadpool(ctx.grants.grant, head, grant_id), ctx.settings.gateway_url)
