"""/api/grants: the transparency dashboard's data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from frontend.deps import ChainHead, Ctx, GrantId
from frontend.serialize import jsonable

router = APIRouter(prefix="/api/grants", tags=["grants"])


@router.get("", summary="All grants, per community, with money over time")
async def list_grants(ctx: Ctx, head: ChainHead) -> dict[str, Any]:
    board = await run_in_threadpool(ctx.grants.dashboard, head)
    symbols = sorted(board.series)
    return {
        "block": head.number,
        "council": {"members": board.members, "threshold": board.threshold},
        "totals": {s: board.totals(s) for s in symbols},
        "grants": jsonable(board.grants),
        "communities": [
            {"address": c.address, "name": c.name, "grants": [g.grant_id for g in c.grants]}
            for c in board.communities
        ],
        "series": {s: {"budget": b, "points": jsonable(p)} for s, (b, p) in board.series.items()},
    }


@router.get("/{grant_id}", summary="One grant and its milestones")
async def get_grant(grant_id: GrantId, ctx: Ctx, head: ChainHead) -> dict[str, Any]:
    gid = grant_id
    return jsonable(await run_in_threadpool(ctx.grants.grant, head, gid))
