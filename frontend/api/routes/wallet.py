"""/api/wallet: transactions built for EIP-1193 wallets and council signature collection."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from hexbytes import HexBytes
from pydantic import BaseModel, Field
from web3.exceptions import TransactionNotFound

from frontend.api.models import ReceiptOut, RejectionOut, ReleaseRoundOut, SigningStatusOut, TxRequestOut
from frontend.auth import NotAllowed
from frontend.deps import ChainHead, Ctx, GrantId, MilestoneId
from frontend.errors import BadInput, Conflict
from frontend.serialize import jsonable
from frontend.services.wallet import parse_address
from frontend.writegate import utc_day

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
) -> TxRequestOut:
    g, m = grant_id, milestone_id
    return TxRequestOut.of(await run_in_threadpool(ctx.wallet.submit_tx, head, g, m, body.cid, body.sender))


@router.get(
    "/grants/{grant_id}/milestones/{milestone_id}/release", summary="Release typed data and signing status"
)
async def release_round(
    grant_id: GrantId, milestone_id: MilestoneId, ctx: Ctx, head: ChainHead
) -> ReleaseRoundOut:
    """The exact `eth_signTypedData_v4` JSON members sign, and who has signed so far."""
    g, m = grant_id, milestone_id

    def work() -> ReleaseRoundOut:
        typed = jsonable(ctx.wallet.release_typed_data(head, g, m))
        return ReleaseRoundOut(typed_data=typed, **ctx.wallet.status(head, g, m))

    return await run_in_threadpool(work)


@router.post(
    "/grants/{grant_id}/milestones/{milestone_id}/signatures", summary="Add a member's Release signature"
)
async def add_signature(
    grant_id: GrantId, milestone_id: MilestoneId, body: SignatureIn, ctx: Ctx, head: ChainHead
) -> SigningStatusOut:
    """Verified before it is stored: recovers to `signer`, `signer` is a member, current nonce and deadline."""
    g, m = grant_id, milestone_id

    def work() -> SigningStatusOut:
        ctx.wallet.add_signature(head, g, m, body.signer, body.signature, body.deadline)
        return SigningStatusOut(**ctx.wallet.status(head, g, m))

    return await run_in_threadpool(work)


@router.get("/grants/{grant_id}/milestones/{milestone_id}/release-tx", summary="Calldata of the release")
async def release_tx(grant_id: GrantId, milestone_id: MilestoneId, ctx: Ctx, head: ChainHead) -> TxRequestOut:
    """Available once `threshold` members signed; anyone may send it."""
    g, m = grant_id, milestone_id
    return TxRequestOut.of(await run_in_threadpool(ctx.wallet.release_tx, head, g, m))


#: largest body of a proposed rejection: 2,000 characters of up to 4 UTF-8 bytes, JSON-escaped, and the author
REASON_BODY_BYTES = 16 * 1024


class RejectionIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000, description="why, in words the community reads")
    author: str = Field(max_length=64, description="the council member proposing the rejection")


def _rejection(ctx: Ctx, head, g: int, m: int) -> RejectionOut:
    status = ctx.wallet.rejection_status(head, g, m)
    if status["open"]:
        status["reason"] = ctx.evidence.prove(status["reason_cid"]).text
    return RejectionOut(**jsonable(status))


@router.get("/grants/{grant_id}/milestones/{milestone_id}/rejection", summary="Open rejection round")
async def rejection(grant_id: GrantId, milestone_id: MilestoneId, ctx: Ctx, head: ChainHead) -> RejectionOut:
    """The reason, the exact `Reject` typed data members sign, and who has signed it so far."""
    return await run_in_threadpool(_rejection, ctx, head, grant_id, milestone_id)


@router.post("/grants/{grant_id}/milestones/{milestone_id}/rejection", summary="Propose a rejection")
async def propose_rejection(
    grant_id: GrantId,
    milestone_id: MilestoneId,
    body: RejectionIn,
    request: Request,
    ctx: Ctx,
    head: ChainHead,
) -> RejectionOut:
    """Needs the wallet session of a council member, the author. The reason is stored in the evidence
    store (its CID is what the chain records) and a rejection round opens for it; another reason
    starts a new round."""
    g, m = grant_id, milestone_id
    account = request.state.account  # set by the write gate, which refuses anonymous uploads

    def work() -> RejectionOut:
        author = parse_address(body.author, "author")
        if author != account:
            raise NotAllowed(f"author must be the signed-in account {account}")
        members, _threshold = ctx.wallet.members(head)
        if author not in members:
            raise Conflict(f"{author} is not a council member")
        ctx.wallet.rejection(head, g, m)  # the milestone must be under review before anything is stored
        text = body.reason.strip()
        cid = ctx.evidence.upload_text(text, "reason.txt")
        ctx.auth.add_upload(account, utc_day(), len(text.encode()))
        ctx.wallet.open_rejection(head, g, m, cid)
        return _rejection(ctx, head, g, m)

    return await run_in_threadpool(work)


@router.post(
    "/grants/{grant_id}/milestones/{milestone_id}/rejection/signatures",
    summary="Add a member's Reject signature",
)
async def add_rejection_signature(
    grant_id: GrantId, milestone_id: MilestoneId, body: SignatureIn, ctx: Ctx, head: ChainHead
) -> RejectionOut:
    g, m = grant_id, milestone_id

    def work() -> RejectionOut:
        ctx.wallet.add_rejection_signature(head, g, m, body.signer, body.signature, body.deadline)
        return _rejection(ctx, head, g, m)

    return await run_in_threadpool(work)


@router.get("/grants/{grant_id}/milestones/{milestone_id}/reject-tx", summary="Calldata of the rejection")
async def reject_tx(grant_id: GrantId, milestone_id: MilestoneId, ctx: Ctx, head: ChainHead) -> TxRequestOut:
    """Available once `threshold` members signed the same reason; anyone may send it."""
    return TxRequestOut.of(await run_in_threadpool(ctx.wallet.reject_tx, head, grant_id, milestone_id))


@router.get("/receipts/{tx_hash}", summary="Receipt of a transaction on this site's chain")
async def receipt(tx_hash: str, ctx: Ctx) -> ReceiptOut:
    """`pending` until the site's own node has mined it; then `success` or `reverted` with its block.

    Pages confirm what a wallet reports sending against this, so a wallet on another chain cannot
    make the page claim success.
    """
    if not re.fullmatch(r"0x[0-9a-fA-F]{64}", tx_hash):
        raise BadInput("a transaction hash is 0x and 64 hex digits")

    def work() -> ReceiptOut:
        try:
            found = ctx.reader.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return ReceiptOut(tx_hash=tx_hash, status="pending", chain_id=ctx.reader.chain_id)
        return ReceiptOut(
            tx_hash=tx_hash,
            status="success" if found["status"] == 1 else "reverted",
            block=int(found["blockNumber"]),
            chain_id=ctx.reader.chain_id,
        )

    return await run_in_threadpool(work)
