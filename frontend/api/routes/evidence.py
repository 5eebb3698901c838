"""/api/evidence: upload milestone evidence (photos / PDFs + a note) as a bundle; returns its CID."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from frontend.deps import Ctx
from frontend.errors import BadInput
from frontend.services.evidence import check_upload, read_uploads
from frontend.services.wallet import parse_address

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
) -> dict[str, Any]:
    """Files are checked by their bytes (not the declared type) and size; the bundle's record.json holds
    the note, the submitter and the milestone it is for."""
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
    if submitter:
        record["submitter"] = parse_address(submitter, "submitter")
    if grant_id is not None:
        record["grant_id"] = grant_id
    if milestone_id is not None:
        if grant_id is None:
            raise BadInput("milestone_id needs grant_id")
        record["milestone_id"] = milestone_id
    cid, onchain = await run_in_threadpool(ctx.evidence.upload_bundle, record, named)
    return {
        "cid": cid,
        "digest": onchain.digest_hex,
        "codec": onchain.codec,
        "files": sorted(named),
        "url": ctx.evidence.url(cid),
    }
