"""Shared request dependencies (`Annotated` aliases) and input parsing."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request

from frontend.context import AppContext
from frontend.errors import BadInput
from frontend.services.chain import Head

_ID = re.compile(r"^[0-9]{1,20}$")  # ASCII digits only: \d also matches Thai digits
MAX_ID = 2**64 - 1


def parse_id(value: str, what: str = "id") -> int:
    """A non-negative decimal id below 2**64; anything else is a 400."""
    if not _ID.match(value or "") or int(value) > MAX_ID:
        raise BadInput(f"{what} must be a whole number, got {value[:40]!r}")
    return int(value)


async def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


async def get_lang(request: Request) -> str:
    return request.state.lang


async def get_head(request: Request) -> Head:
    return await request.app.state.ctx.head()


async def _batch_id(batch_id: str) -> int:
    return parse_id(batch_id, "batch id")


async def _grant_id(grant_id: str) -> int:
    return parse_id(grant_id, "grant id")


async def _milestone_id(milestone_id: str) -> int:
    return parse_id(milestone_id, "milestone id")


# Path ids are parsed before the chain head is read, so a malformed id is a 400 even when the node is down.
# The dependencies are coroutines: FastAPI runs a plain function in the thread pool, a hop per
# dependency per request that costs more than the work.
BatchId = Annotated[int, Depends(_batch_id)]
GrantId = Annotated[int, Depends(_grant_id)]
MilestoneId = Annotated[int, Depends(_milestone_id)]
Ctx = Annotated[AppContext, Depends(get_ctx)]
Lang = Annotated[str, Depends(get_lang)]
ChainHead = Annotated[Head, Depends(get_head)]
