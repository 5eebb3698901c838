"""HTML pages: verify page, labels, grants dashboard, wallet flows, API docs."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from frontend.api.routes.batches import batch_json_response
from frontend.context import JSON_FORM, AppContext
from frontend.deps import MAX_ID, BatchId, ChainHead, Ctx, Lang, parse_id
from frontend.errors import BadInput
from frontend.services.batches import evidence_ref
from frontend.services.chain import Head
from frontend.services.lots import labelled
from frontend.services.qr import qr_png, qr_svg
from frontend.views import epcis_json, render_batch, render_grants, stamp_asof
from tambon.cid import decode_cid
from tambon.errors import TambonError

router = APIRouter(include_in_schema=False)
#: non-HTML resources served beside the pages (EPCIS, QR images), listed in the OpenAPI schema
data_router = APIRouter()
MAX_LABELS = 120
EPCIS_MEDIA = "application/ld+json"


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, ctx: Ctx, lang: Lang) -> Response:
    return ctx.templates[lang].TemplateResponse(request, "index.html", {"page": "index"})


@router.get("/batch", response_class=HTMLResponse)
async def batch_lookup(ctx: Ctx, id: str = Query(default="", max_length=40)) -> Response:  # noqa: A002
    batch_id = parse_id(id.strip(), "batch id")
    return Response(status_code=303, headers={"Location": f"/batch/{batch_id}"})


@router.get("/batch/{batch_id}", response_class=HTMLResponse)
async def batch_page(request: Request, batch_id: BatchId, ctx: Ctx, lang: Lang, head: ChainHead) -> Response:
    """The verify page. On the index it is rendered again only when an event touches the lot, its
    lineage or the registries, or when a proof's outcome changes (a page served from cache has its
    stale proofs re-checked in the background); once rendered, `CachedBatchPages` serves it ahead of
    routing."""
    key, cached = ctx.lot_page(head, batch_id, lang)
    if cached is None:
        key, body = await run_in_threadpool(render_batch, ctx, head, batch_id, lang, key)
    else:
        body = cached
    return batch_page_response(ctx, head, key, body, request.headers.get("if-none-match"))


def batch_page_response(
    ctx: AppContext, head: Head, key: tuple, body: bytes, if_none_match: str | None
) -> Response:
    """The verify page's response under its `key` (from `AppContext.lot_page`): on the index, the page
    with the index's current block in it; its ETag is that block and the lot's version, so a reload in
    between is a 304."""
    _, batch_id, version, lang = key
    if ctx.index is not None:
        body = stamp_asof(body, head, lang, ctx.index_status(head))
    tag = hashlib.blake2b(f"{head.hash}/{version}".encode(), digest_size=8).hexdigest()
    etag = f'"{tag}-{batch_id}-{lang}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return HTMLResponse(body, headers=headers)


_LOT_PAGE_PATH = re.compile(r"/(batch|api/batches)/([0-9]{1,20})")


class CachedBatchPages:
    """Pure ASGI middleware ahead of routing (inside the language, security-header and compression
    middlewares): a GET of a lot's verify page or of its JSON (/api/batches/N) whose current version
    is rendered already, in this worker or in the workers' shared pages, is answered with the route's
    own response (`batch_page_response`, `batch_json_response`) without routing, dependencies, a
    thread hop or (on the index) a query; on the node, the version is the chain head's. Everything
    else goes on to the application."""

    def __init__(self, app, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = _LOT_PAGE_PATH.fullmatch(scope["path"])
            if found is not None and int(found[2]) <= MAX_ID:
                response = await self._cached(scope, int(found[2]), found[1] == "batch")
                if response is not None:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _cached(self, scope, batch_id: int, html: bool) -> Response | None:
        headers = dict(scope["headers"])
        if b"content-length" in headers or b"transfer-encoding" in headers:
            return None  # a body on a GET: the body guard's to judge
        ctx = self.ctx
        try:
            head = await ctx.head()
        except TambonError:
            return None  # the route answers with the error page
        lang = scope["state"]["lang"]
        key, body = ctx.lot_page(head, batch_id, lang if html else JSON_FORM)
        if body is None:
            return None
        ctx.pages_served_ahead_of_routing += 1
        if not html:
            return batch_json_response(body)
        etag = headers.get(b"if-none-match")
        return batch_page_response(ctx, head, key, body, etag.decode("latin-1") if etag else None)


@data_router.get(
    "/batch/{batch_id}/epcis",
    include_in_schema=True,
    tags=["batches"],
    summary="EPCIS 2.0 JSON-LD events of a batch",
)
async def batch_epcis(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> Response:
    bid = batch_id
    history = await run_in_threadpool(ctx.history, head, bid)
    return JSONResponse(epcis_json(ctx, history), media_type=EPCIS_MEDIA)


@data_router.get(
    "/qr/{batch_id}.svg", include_in_schema=True, tags=["labels"], summary="QR code (SVG) of a batch"
)
async def qr_svg_route(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> Response:
    label = await run_in_threadpool(lambda: labelled(ctx, head, ctx.batches.label(head, batch_id)))
    return Response(
        qr_svg(label.uri, scale=8),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@data_router.get(
    "/qr/{batch_id}.png", include_in_schema=True, tags=["labels"], summary="QR code (PNG) of a batch"
)
async def qr_png_route(batch_id: BatchId, ctx: Ctx, head: ChainHead) -> Response:
    label = await run_in_threadpool(lambda: labelled(ctx, head, ctx.batches.label(head, batch_id)))
    return Response(
        qr_png(label.uri), media_type="image/png", headers={"Cache-Control": "public, max-age=86400"}
    )


@data_router.get(
    "/thumb/{cid}/{path:path}", include_in_schema=True, tags=["evidence"],
    summary="A square WebP thumbnail of an evidence photo, its blocks proven against the CID",
)  # fmt: skip
async def evidence_thumbnail(
    cid: str,
    path: str,
    ctx: Ctx,
    w: Annotated[int, Query(description="width in pixels")] = 96,
    shape: Annotated[
        str, Query(max_length=8, description="square (a tile) or cover (a lot's banner)")
    ] = "square",
) -> Response:
    """A square tile `w` = 96, 192 or 384 wide (the evidence photos' `srcset`), or a cover banner
    `w` = 480, 960 or 1920 wide at 960:220. 400 for another width or shape or a name that is not an
    image, 404 when the bundle holds no such file, 415 when it does not decode, 502 when the evidence
    store cannot serve it intact."""
    decode_cid(cid)  # a malformed CID is a 400 before any fetch
    data = await run_in_threadpool(ctx.evidence.thumbnail, cid, path, w, shape)
    return Response(
        data, media_type="image/webp", headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )


#: names wallets show for chains this site may run on (others: "chain <id>")
CHAIN_NAMES = {1: "Ethereum", 31337: "Tambon local chain (anvil)", 11155111: "Sepolia", 8453: "Base"}


def chain_info(ctx) -> dict[str, str]:
    """What wallet_switchEthereumChain / wallet_addEthereumChain need to move a wallet to this site's chain."""
    chain_id = ctx.reader.chain_id
    return {
        "id_hex": hex(chain_id),
        "name": CHAIN_NAMES.get(chain_id, f"chain {chain_id}"),
        "rpc_url": ctx.settings.rpc_url,
    }


def parse_ids(spec: str) -> list[int]:
    """`1-4,9` -> [1, 2, 3, 4, 9] (at most MAX_LABELS ids)."""
    ids: list[int] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        first, sep, last = part.partition("-")
        lo = parse_id(first, "batch id")
        hi = parse_id(last, "batch id") if sep else lo
        if hi < lo or hi - lo >= MAX_LABELS or len(ids) + hi - lo + 1 > MAX_LABELS:
            raise BadInput(f"label sheets take 1 to {MAX_LABELS} batches in increasing ranges")
        ids.extend(range(lo, hi + 1))
    if not ids:
        raise BadInput("give batch ids, e.g. ?ids=1-12,20")
    return ids


@router.get("/labels", response_class=HTMLResponse)
async def labels(
    request: Request, ctx: Ctx, lang: Lang, head: ChainHead, ids: str = Query(default="", max_length=400)
) -> Response:
    wanted = parse_ids(ids)

    def work():
        return [
            (label, qr_svg(label.uri, scale=3, inline=True))
            for label in (labelled(ctx, head, ctx.batches.label(head, b)) for b in wanted)
        ]

    items = await run_in_threadpool(work)
    return ctx.templates[lang].TemplateResponse(
        request, "labels.html", {"items": items, "page": "labels", "extra_query": urlencode({"ids": ids})}
    )


@router.get("/grants", response_class=HTMLResponse)
async def grants_page(ctx: Ctx, lang: Lang, head: ChainHead) -> Response:
    return HTMLResponse(await run_in_threadpool(render_grants, ctx, head, lang))


@router.get("/wallet/submit", response_class=HTMLResponse)
async def wallet_submit(request: Request, ctx: Ctx, lang: Lang, head: ChainHead) -> Response:
    board = await run_in_threadpool(ctx.grants.dashboard, head)
    return ctx.templates[lang].TemplateResponse(
        request,
        "wallet_submit.html",
        {
            "board": board,
            "page": "submit",
            "max_upload": ctx.web.max_upload_bytes,
            "max_files": ctx.web.max_upload_files,
            "chain": chain_info(ctx),
        },
    )


@router.get("/wallet/council", response_class=HTMLResponse)
async def wallet_council(request: Request, ctx: Ctx, lang: Lang, head: ChainHead) -> Response:
    def work():
        board = ctx.grants.dashboard(head)
        pending = [
            (g, m, evidence_ref(ctx.evidence.prove(m.evidence) if m.evidence else None))
            for g in board.grants
            if not g.grant.cancelled
            for m in g.milestones
            if m.under_review
        ]
        return board, pending

    board, pending = await run_in_threadpool(work)
    return ctx.templates[lang].TemplateResponse(
        request,
        "wallet_council.html",
        {"board": board, "pending": pending, "page": "council", "chain": chain_info(ctx)},
    )


@router.get("/api/docs", response_class=HTMLResponse)
async def api_docs(request: Request, lang: Lang) -> Response:
    """A readable list of the API operations (served locally; no CDN)."""
    schema = request.app.openapi()
    ops = [
        (method.upper(), path, op.get("summary") or "", op.get("description") or "")
        for path, item in schema["paths"].items()
        for method, op in item.items()
    ]
    return request.app.state.ctx.templates[lang].TemplateResponse(
        request, "api_docs.html", {"ops": ops, "page": "api"}
    )
