"""/api/capture: a field-captured step (record.json + photos) becomes an evidence bundle, validated
against the record schema (every missing FSMA 204 KDE listed), and the addStep call the wallet sends."""

from __future__ import annotations

from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from evidence.bundle import build_bundle, require_kdes
from evidence.errors import BadRequest, EvidenceError
from frontend import i18n
from frontend.api.models import CapturedStepOut, HeldBatchesOut, HeldBatchOut, TxRequestOut, ValidRecordOut
from frontend.deps import ChainHead, Ctx, Lang, parse_id
from frontend.errors import BadInput, Conflict, NotFound, Upstream
from frontend.services.chain import topic_address
from frontend.services.coldchain import accept_temperature_log
from frontend.services.evidence import check_upload, read_uploads
from frontend.services.lots import identity_of, step_order_problems
from frontend.services.wallet import parse_address
from frontend.writegate import utc_day
from tambon.provenance import Stage, encode_transport
from tambon.records import RecordInvalid, loads, validate_record

router = APIRouter(prefix="/api/capture", tags=["capture"])
MAX_RECORD = 256 * 1024


def _store_bundle(ctx, record: dict, files: dict[str, bytes]):
    store = ctx.evidence.rpc_store()
    try:
        return build_bundle(store, record, files, validate=require_kdes)
    except BadRequest as exc:
        raise BadInput(str(exc)) from exc
    except EvidenceError as exc:
        raise Upstream(f"evidence store refused the upload: {exc}") from exc
    finally:
        store.close()


@router.get("/batches", summary="Open batches a wallet holds (what it may add steps to)")
async def held_batches(
    ctx: Ctx, head: ChainHead, lang: Lang, holder: Annotated[str, Query(max_length=64)]
) -> HeldBatchesOut:
    """Every batch `holder` received and still holds that is neither sold (closed) nor split or merged
    away (consumed): the only lots whose addStep the chain accepts from this wallet."""
    address = parse_address(holder, "holder")

    def work() -> list[HeldBatchOut]:
        p = ctx.reader.provenance
        received = ctx.reader.logs(head, p, [ctx.reader.topic(p, "Transfer"), None, topic_address(address)])
        out = []
        for batch_id in sorted({e.args["tokenId"] for e in received}):
            info = _batch_info(ctx, head, batch_id)
            if info["holder"] == address and info["open"]:
                label = ctx.batches.label(head, batch_id)
                crop = i18n.translations(lang).gettext(label.crop_label)
                out.append(
                    HeldBatchOut(
                        batch_id=batch_id,
                        label=f"#{batch_id} · {crop} · {i18n.format_date(label.harvest_day, lang)}",
                        crop=label.crop_label,
                        # a shipping record names the lot by its traceability lot code
                        lot=identity_of(ctx, head, batch_id).lot,
                        harvest_day=label.harvest_day.isoformat(),
                    )
                )
        return out

    return HeldBatchesOut(holder=address, batches=await run_in_threadpool(work))


def _batch_info(ctx, head, batch_id: int) -> dict[str, Any]:
    info = ctx.reader.call(head, ctx.reader.provenance.functions.batch(batch_id), key=("batch", batch_id))
    holder, closed, consumed = info[1], info[8], info[9]
    return {"holder": to_checksum_address(holder), "open": not closed and not consumed}


@router.post("/validate", summary="Check a record.json against its schema")
async def validate(request: Request, record: Annotated[dict[str, Any], Body()]) -> ValidRecordOut:
    """200 with the schema version when valid; 400 listing every missing KDE and bad value otherwise."""
    try:
        record = loads(await request.body())  # read again strictly: NaN/Infinity refused, decimals as written
        validate_record(record)
    except RecordInvalid as exc:
        raise BadInput(str(exc)) from exc
    return ValidRecordOut(valid=True, schema_version=record["schema_version"], event=record["event"])


@router.post("/steps", summary="Upload a captured step; returns its CID and the addStep transaction")
async def capture_step(
    request: Request,
    ctx: Ctx,
    head: ChainHead,
    batch_id: Annotated[str, Form(max_length=24)],
    stage: Annotated[str, Form(max_length=16)],
    record: Annotated[str, Form(max_length=MAX_RECORD)],
    sender: Annotated[
        str | None, Form(max_length=64, description="the wallet that will send addStep")
    ] = None,
    photos: Annotated[list[UploadFile] | None, File(description="JPEG, PNG or WebP photos")] = None,
    temperature_log: Annotated[
        UploadFile | None,
        File(description="a TRANSPORT step's logger export: CSV or EPCIS 2.0 sensor JSON"),
    ] = None,
) -> CapturedStepOut:
    """Needs a wallet session of the lot's holder (or an account it approved), as addStep does.

    A TRANSPORT step may carry its temperature log: it goes into the bundle for the oracle's
    cold-chain analysis, and its lowest and highest readings become the step's data word."""
    account = request.state.account  # set by the write gate, which refuses anonymous uploads
    bid = parse_id(batch_id, "batch id")
    step_stage = Stage.parse(stage)  # StageError answers 400
    try:
        document = loads(record)  # NaN/Infinity refused, numbers kept as written
    except RecordInvalid as exc:
        raise BadInput(str(exc)) from exc
    if not isinstance(document, dict):
        raise BadInput("record.json must be a JSON object")
    try:
        validate_record(document)
    except RecordInvalid as exc:
        raise BadInput(str(exc)) from exc
    if Stage.for_event(document["event"]) is not step_stage:
        raise BadInput(
            f"a {document['event']} record is added under stage {Stage.for_event(document['event']).name}, "
            f"not {step_stage.name}"
        )
    if not await run_in_threadpool(ctx.batches.exists, head, bid):
        raise NotFound(f"batch {bid} does not exist")
    await run_in_threadpool(ctx.writers.check_step_upload, head, account, bid)
    out_of_order = await run_in_threadpool(step_order_problems, ctx, head, bid, document)
    if out_of_order:
        raise BadInput(f"record.json ({document['event']}) is out of date order: " + "; ".join(out_of_order))
    if temperature_log is not None and step_stage is not Stage.TRANSPORT:
        raise BadInput(f"a temperature log belongs to a TRANSPORT step, not to {step_stage.name}")
    limit = ctx.web.max_upload_bytes
    items = await read_uploads(photos or [], limit)
    files = check_upload(items, max_bytes=limit, max_files=ctx.web.max_upload_files) if items else {}
    document["photos"] = sorted(files)
    step_data = 0
    if temperature_log is not None:
        [(log_name, log_bytes)] = await read_uploads([temperature_log], limit - sum(map(len, files.values())))
        log = await run_in_threadpool(accept_temperature_log, log_name, log_bytes)
        files[log.name] = log_bytes
        step_data = encode_transport(log.min_c, log.max_c)
    if not await run_in_threadpool(ctx.batches.exists, head, bid):
        raise NotFound(f"batch {bid} does not exist")
    # refused before anything is stored: the chain would revert addStep on a closed lot or another's
    state = await run_in_threadpool(_batch_info, ctx, head, bid)
    if not state["open"]:
        raise Conflict(f"batch {bid} is closed (sold, split or merged); no more steps can be added")
    if sender is not None and parse_address(sender, "sender") != state["holder"]:
        raise Conflict(f"batch {bid} is held by {state['holder']}, not by {sender}")
    bundle = await run_in_threadpool(_store_bundle, ctx, document, files)
    size = sum(map(len, files.values())) + len(record)
    await run_in_threadpool(ctx.auth.add_upload, account, utc_day(), size)
    provenance = ctx.reader.provenance
    data = provenance.encode_abi(
        "addStep", args=[bid, int(step_stage), bundle.onchain.digest, bundle.onchain.codec, step_data]
    )
    return CapturedStepOut(
        cid=bundle.cid,
        digest=bundle.onchain.digest_hex,
        codec=bundle.onchain.codec,
        files=list(bundle.files),
        url=ctx.evidence.url(bundle.cid),
        tx=TxRequestOut(to=provenance.address, data=data, value="0x0", chainId=hex(ctx.reader.chain_id)),
    )
