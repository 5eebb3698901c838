"""/api/evidence: upload milestone evidence (photos / PDFs + a note) as a bundle; returns its CID."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from frontend.api.models import UploadOut
from frontend.auth import NotAllowed
from frontend.deps import Ctx
from frontend.errors import BadInput
from frontend.services.evidence import check_upload, read_uploads
from frontend.services.wallet import parse_address
from frontend.writegate import utc_day

router = APIRouter(prefix="/api/evidence", tags=["evidence"])
MAX_NOTE = 2000


@router.post("", summary="Store an evidence bundle")
async def upload(
    request: Request,
    ctx: Ctx,
    files: Annotated[list[UploadFile], File(description="JPEG, PNG, WebP or PDF")],
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
    submitter: Annotated[str, Form(max_length=64)] = "",
    grant_id: Annotated[int | None, Form(ge=0, lt=2**64)] = None,
    milestone_id: Annotated[int | None, Form(ge=0, lt=256)] = None,
) -> UploadOut:
    """Needs a wallet session: the grant's community (or a council member, for any grant or none).
    Files are checked by their bytes (not the declared type) and size; the bundle's record.json holds
    the note, the signed-in submitter and the milestone it is for."""
    account = request.state.account  # set by the write gate, which refuses anonymous uploads
    if submitter and parse_address(submitter, "submitter") != account:
        raise NotAllowed(f"submitter must be the signed-in account {account}")
    if milestone_id is not None and grant_id is None:
        raise BadInput("milestone_id needs grant_id")
    head = await ctx.head()
    await run_in_threadpool(ctx.writers.check_grant_upload, head, account, grant_id)
    limit = ctx.web.max_upload_bytes
    items = await read_uploads(files, limit)
    named = check_upload(items, max_bytes=limit, max_files=ctx.web.max_upload_files)
    record: dict[str, Any] = {
        "kind": "milestone-evidence",
        "version": 1,
        "note": note,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": sorted(named),
    }
    record["submitter"] = account
    if grant_id is not None:
        record["grant_id"] = grant_id
    if milestone_id is not None:
        record["milestone_id"] = milestone_id
    cid, onchain = await run_in_threadpool(ctx.evidence.upload_bundle, record, named)
    await run_in_threadpool(ctx.auth.add_upload, account, utc_day(), sum(map(len, named.values())))
    return UploadOut(
        cid=cid,
        digest=onchain.digest_hex,
        codec=onchain.codec,
        files=sorted(named),
        url=ctx.evidence.url(cid),
    )
