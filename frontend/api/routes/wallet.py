"""/api/wallet: transactions built for EIP-1193 wallets and council signature collection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from frontend.deps import ChainHead, Ctx, GrantId, MilestoneId
from frontend.serialize import jsonable

router = APIRouter(prefix="/api/wallet", tags=["wallet"])


class SubmitRequest(BaseModel):
    cid: str = Field(max_length=200, description="evidence bundle CID (from POST /api/evidence)")
    sender: str = Field(max_length=64, description="the community wallet that will send the transaction")


class SignatureIn(BaseModel):
    signer: str = Field(max_length=64)
    signature: str = Field(max_length=200, description="0x + 65 bytes from eth_signTypedData_v4")
    deadline: int = Field(ge=0, lt=2**64)


@router.post(
    "/grants/{grant_id}/milestones/{milestone_id}/submit-tx", summary="Calldata to submit a milestone"
)
async def submit_tx(
    grant_id: GrantId, milestone_id: MilestoneId, body: SubmitRequest, ctx: Ctx, head: ChainHead
) -> dict[str, Any]:
    g, m = grant_id, milestone_id
    return jsonable(await run_in_threadpool(ctx.wallet.submit_tx, head, g, m, body.cid, body.sender))


@router.get(
    "/grants/{grant_id}/milestones/{milestone_id}/release", summary="Release typed data and signing status"
)
async def release_round(
    grant_id: GrantId, milestone_id: MilestoneId, ctx: Ctx, head: ChainHead
) -> dict[str, Any]:
    """The exact `eth_signTypedData_v4` JSON members sign, and who has signed so far."""
    g, m = grant_id, milestone_id

    def work() -> dict[str, Any]:
        return {"typed_data": ctx.wallet.release_typed_data(head, g, m), **ctx.wallet.status(head, g, m)}

    return await run_in_threadpool(work)


@router.post(
    "/grants/{grant_id}/milestones/{milestone_id}/signatures", summary="Add a member's Release signature"
)
async def add_signature(
    grant_id: GrantId, milestone_id: MilestoneId, body: SignatureIn, ctx: Ctx, head: ChainHead
) -> dict[str, Any]:
    """Verified before it is stored: recovers to `signer`, `signer` is a member, current nonce and deadline."""
    g, m = grant_id, milestone_id

    def work() -> dict[str, Any]:
        ctx.wallet.add_signature(head, g, m, body.signer, body.signature, body.deadline)
        return ctx.wallet.status(head, g, m)

    return await run_in_threadpool(work)


@router.get("/grants/{grant_id}/milestones/{milestone_id}/release-tx", summary="Calldata of the release")
async def release_tx(
    grant_id: GrantId, milestone_id: MilestoneId, ctx: Ctx, head: ChainHead
) -> dict[str, Any]:
    """Available once `threshold` members signed; anyone may send it."""
    g, m = grant_id, milestone_id
    return jsonable(await run_in_threadpool(ctx.wallet.release_tx, head, g, m))
