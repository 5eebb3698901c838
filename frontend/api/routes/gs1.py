"""GS1 Digital Link resolver (GS1 Digital Link 1.4 / GS1-Conformant Resolver 1.1).

- `/01/{gtin}/10/{lot}`, `/01/{gtin}/21/{serial}`, `/01/{gtin}/10/{lot}/21/{serial}`: a plain scan
  answers 307 to the batch's verify page in the scanner's language (`Accept-Language`, `?lang=`);
  `?linkType=` picks another link (epcis, fsma, eudr, certificate, or their gs1: names);
  `linkType=all` answers the linkset (RFC 9264). Every answer lists all links in a `Link` header.
- `/.well-known/gs1resolver` describes the resolver.

Identity of a batch (compliance.gs1): GTIN = the crop's GTIN of this site (what the QR label
prints) or the `commodity.gtin` of its records; lot (AI 10) = the batch id (label) or its FSMA
traceability lot code (the batch that assigned it); serial (AI 21) = the batch id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from compliance.errors import ComplianceError
from compliance.model import batch_gtin, batch_lot
from compliance.source import record_behind
from frontend.api.routes.compliance import INPUT_ERRORS, as_http, compliance_traces, open_proven
from frontend.deps import ChainHead, Ctx
from frontend.errors import NotFound
from tambon import gs1
from tambon.cid import cid_string

router = APIRouter(tags=["gs1"])
LINKSET_MEDIA = "application/linkset+json"
LANGS = ("th", "en")


def links_for(base: str, batch_id: int, lang: str) -> dict[str, list[dict[str, Any]]]:
    """Every link this resolver offers for one batch, by short link type."""
    b = f"{base}/batch/{batch_id}"
    return {
        "pip": [
            {"href": f"{b}?lang={lang}", "title": "Verify page: producer, steps, grades, checks",
             "type": "text/html", "hreflang": [lang]},
            *(
                {"href": f"{b}?lang={o}", "title": "Verify page", "type": "text/html", "hreflang": [o]}
                for o in LANGS if o != lang
            ),
        ],
        "epcis": [{"href": f"{b}/epcis", "title": "EPCIS 2.0 events", "type": "application/ld+json"}],
        "fsma": [
            {"href": f"{b}/fsma204.csv", "title": "FSMA 204 traceability records (CSV)", "type": "text/csv"},
            {"href": f"{b}/fsma204.xlsx", "title": "FSMA 204 traceability records (XLSX)",
             "type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        ],
        "eudr": [{"href": f"{b}/eudr.json", "title": "EUDR due-diligence data", "type": "application/json"}],
        "certificate": [
            {"href": f"{base}/api/batches/{batch_id}",
             "title": "Verification: producer registration, oracle attestations, evidence CIDs",
             "type": "application/json"}
        ],
    }  # fmt: skip


def link_header(links: Mapping[str, list[dict[str, Any]]], anchor: str) -> str:
    parts = []
    for short, items in links.items():
        for item in items:
            attrs = [
                f'rel="{gs1.link_type_uri(short)}"',
                f'title="{item["title"]}"',
                f'type="{item["type"]}"',
            ]
            if item.get("hreflang"):
                attrs.append(f'hreflang="{item["hreflang"][0]}"')
            parts.append(f"<{item['href']}>; " + "; ".join(attrs))
    parts.append(f'<{anchor}>; rel="owl:sameAs"')
    return ", ".join(parts)


def linkset(links: Mapping[str, list[dict[str, Any]]], anchor: str, default: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"anchor": anchor, gs1.GS1_VOC + "defaultLink": [{"href": default}]}
    for short, items in links.items():
        entry[gs1.link_type_uri(short)] = items
    return {"linkset": [entry]}


def _lot_index(ctx, head) -> dict[str, int]:
    """Traceability lot code -> the batch that assigned it (first in chain order), for this head."""
    cache = getattr(ctx, "_gs1_lots", None)
    if cache is not None and cache[0] == head.hash:
        return cache[1]
    reader = ctx.reader
    p = reader.provenance
    events = reader.logs(head, p, [[reader.topic(p, "BatchRegistered"), reader.topic(p, "StepAdded")]])
    index: dict[str, int] = {}
    for e in events:
        cid = cid_string(bytes(e.args["evidence"]), e.args["codec"])
        if cid is None:
            continue
        try:
            record = record_behind(cid, lambda c: open_proven(ctx, c))
        except ComplianceError:
            continue  # unreadable evidence names no lot
        tlc = record.get("traceability_lot_code")
        if isinstance(tlc, str):
            index.setdefault(tlc, int(e.args["batchId"]))
    ctx._gs1_lots = (head.hash, index)
    return index


def resolve_batch(ctx, head, link: gs1.DigitalLink) -> int:
    """The batch a Digital Link names; 404 when none, or when the GTIN is not that batch's."""
    if link.serial is not None:
        if not link.serial.isdigit():
            raise NotFound(f"serial {link.serial!r} is not a batch number of this site")
        batch_id = int(link.serial)
    elif link.lot is not None and link.lot.isdigit() and ctx.batches.exists(head, int(link.lot)):
        batch_id = int(link.lot)
    elif link.lot is not None:
        found = _lot_index(ctx, head).get(link.lot)
        if found is None:
            raise NotFound(f"no batch carries lot {link.lot!r}")
        batch_id = found
    else:
        raise NotFound("give a lot (AI 10) or a serial (AI 21)")
    if not ctx.batches.exists(head, batch_id):
        raise NotFound(f"batch {batch_id} does not exist")
    crop_gtin = ctx.batches.label(head, batch_id).gtin
    both = link.lot is not None and link.serial is not None
    if link.gtin == crop_gtin and not both:
        return batch_id
    # the records may name the GTIN (commodity.gtin) and the lot (traceability lot code)
    history = ctx.history(head, batch_id)
    traces = compliance_traces(ctx, history)
    recorded = batch_gtin(traces, batch_id)
    if link.gtin not in {crop_gtin, gs1.normalise_gtin(recorded) if recorded else None}:
        raise NotFound(f"batch {batch_id} is not an item of GTIN {link.gtin}")
    if both and link.lot not in {batch_lot(traces, batch_id), *map(str, history.lineage)}:
        raise NotFound(f"batch {batch_id} is not in lot {link.lot!r}")
    return batch_id


async def _answer(request: Request, ctx, head, path: str) -> Response:
    try:
        link = gs1.parse_path(path + (f"?{request.url.query}" if request.url.query else ""))
        wanted = gs1.resolve_link_type(request.query_params.get("linkType"))
    except INPUT_ERRORS as exc:
        raise as_http(exc) from exc
    batch_id = await run_in_threadpool(resolve_batch, ctx, head, link)
    base = ctx.settings.public_url
    lang = request.state.lang
    links = links_for(base, batch_id, lang)
    anchor = base + link.path
    header = link_header(links, anchor)
    default = links["pip"][0]["href"]
    if wanted == "all":
        return JSONResponse(
            linkset(links, anchor, default), media_type=LINKSET_MEDIA, headers={"Link": header}
        )
    target = default if wanted == "default" else links[wanted][0]["href"]
    return RedirectResponse(target, status_code=307, headers={"Link": header, "Vary": "Accept-Language"})


@router.get("/01/{gtin}/10/{lot}", summary="GS1 Digital Link: GTIN + lot")
async def resolve_lot(gtin: str, lot: str, request: Request, ctx: Ctx, head: ChainHead) -> Response:
    return await _answer(request, ctx, head, f"/01/{gtin}/10/{lot}")


@router.get("/01/{gtin}/21/{serial}", summary="GS1 Digital Link: GTIN + serial (the batch id)")
async def resolve_serial(gtin: str, serial: str, request: Request, ctx: Ctx, head: ChainHead) -> Response:
    return await _answer(request, ctx, head, f"/01/{gtin}/21/{serial}")


@router.get("/01/{gtin}/10/{lot}/21/{serial}", summary="GS1 Digital Link: GTIN + lot + serial")
async def resolve_lot_serial(
    gtin: str, lot: str, serial: str, request: Request, ctx: Ctx, head: ChainHead
) -> Response:
    return await _answer(request, ctx, head, f"/01/{gtin}/10/{lot}/21/{serial}")


@router.get("/.well-known/gs1resolver", summary="GS1 resolver description")
async def resolver_description(ctx: Ctx) -> JSONResponse:
    base = ctx.settings.public_url
    return JSONResponse(
        {
            "name": "Tambon Trust verify site",
            "resolverRoot": base,
            "supportedPrimaryKeys": ["gtin"],
            "supportedQualifiers": {"gtin": ["10", "21"]},
            "supportedLinkType": [
                {"namespace": gs1.GS1_VOC, "prefix": "gs1:", "linkType": gs1.LINK_TYPES[k], "shortName": k}
                for k in gs1.LINK_TYPES
            ],
            "linkTypeDefaultCanBeLinkset": False,
            "linksetMediaType": LINKSET_MEDIA,
            "defaultLinkType": "gs1:pip",
            "languages": list(LANGS),
            "identity": {
                "gtin": "the crop's GTIN under the site's GS1 company prefix, or the records' commodity.gtin",
                "lot": "the batch id printed on the label, or the batch's FSMA 204 traceability lot code",
                "serial": "the batch id (one ERC-721 token per batch)",
            },
        }
    )
