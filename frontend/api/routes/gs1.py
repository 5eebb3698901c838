"""GS1 Digital Link resolver (GS1 Digital Link 1.4 / GS1-Conformant Resolver 1.1).

- `/01/{gtin}[/10/{lot}][/21/{serial}]` (GET, HEAD, OPTIONS; CORS open): a plain scan answers 307 to
  the lot's verify page in the scanner's language (`Accept-Language`, `?lang=`), the request's other
  query parameters passed on; `?linkType=` picks another link (epcis, fsma, eudr, certificate, or
  their gs1: names; 404 when not offered); `linkType=all` or `Accept: application/linkset+json`
  answers the linkset (RFC 9264). Every answer lists all links in a `Link` header, with
  `rel="linkset"` pointing at the linkset.
- Identity (`tambon.lots`): GTIN + traceability lot code, found in the lot index; the serial is the
  batch id. An unknown serial or lot falls back to the less specific level (the lot, then the
  GTIN's own links); a GTIN this site never issued is 404; a malformed link is 400.
- `/.well-known/gs1resolver` describes the resolver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from frontend.api.models import LinksetOut, ResolverDescriptionOut, SupportedLinkTypeOut
from frontend.api.routes.compliance import INPUT_ERRORS, as_http
from frontend.deps import ChainHead, Ctx
from frontend.errors import NotFound
from frontend.services.lots import identity_of, lot_index
from tambon import gs1
from tambon.errors import TambonError
from tambon.lots import LotIdentity

router = APIRouter(tags=["gs1"])
LINKSET_MEDIA = "application/linkset+json"
LANGS = ("th", "en")
METHODS = "GET, HEAD, OPTIONS"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": METHODS,
    "Access-Control-Allow-Headers": "Accept, Accept-Language",
    "Access-Control-Expose-Headers": "Link, Location, Content-Type",
}
JSONLD_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"


def links_for(base: str, batch_id: int, lang: str) -> dict[str, list[dict[str, Any]]]:
    """Every link this resolver offers for one lot (its batch), by short link type."""
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
            {"href": f"{b}/fsma204.zip", "title": "FSMA 204 traceability records (one CSV per CTE, zip)",
             "type": "application/zip"},
        ],
        "eudr": [{"href": f"{b}/eudr.json", "title": "EUDR due-diligence data", "type": "application/json"}],
        "certificate": [
            {"href": f"{base}/api/batches/{batch_id}",
             "title": "Verification: producer registration, oracle attestations, evidence CIDs",
             "type": "application/json"}
        ],
    }  # fmt: skip


def gtin_links_for(base: str, gtin: str, lots: list[tuple[str, int]], lang: str) -> dict[str, list[dict]]:
    """The GTIN's own links (the fallback level): the verify page of each of its lots."""
    pip = [
        {"href": f"{base}/batch/{batch_id}?lang={lang}", "title": f"Lot {lot}: verify page",
         "type": "text/html", "hreflang": [lang]}
        for lot, batch_id in lots
    ]  # fmt: skip
    return {"pip": pip or [{"href": f"{base}/?lang={lang}", "title": f"GTIN {gtin}", "type": "text/html"}]}


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
    parts.append(f'<{anchor}?linkType=linkset>; rel="linkset"; type="{LINKSET_MEDIA}"')
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a Digital Link resolved to: a lot (its batch) or, at the fallback level, a GTIN."""

    gtin: str
    ident: LotIdentity | None  # None at GTIN level
    lots: tuple[tuple[str, int], ...] = ()  # the GTIN's lots (GTIN level)


def resolve(ctx, head, link: gs1.DigitalLink) -> Resolved:
    """The most specific level a Digital Link names that this site knows: serial, then lot, then GTIN."""
    gtin = link.gtin or ""
    index = lot_index(ctx, head)
    if link.serial is not None and link.serial.isdigit() and ctx.batches.exists(head, int(link.serial)):
        ident = identity_of(ctx, head, int(link.serial))
        if ident.gtin == gtin and (link.lot is None or link.lot == ident.lot):
            return Resolved(gtin, ident)
    if link.lot is not None:
        found = index.batches(gtin, link.lot)
        if found:
            return Resolved(gtin, identity_of(ctx, head, found[0]))
    if index.knows_gtin(gtin):
        lots = tuple((lot, index.batches(gtin, lot)[0]) for lot in index.lots_of(gtin))
        return Resolved(gtin, None, lots)
    raise NotFound(f"GTIN {gtin} is not an item of this site")


def _passed_on(request: Request) -> str:
    """The request's query parameters a target receives (all but the resolver's own)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("linkType", "lang")]
    return urlencode(kept)


def _with_query(href: str, query: str) -> str:
    return href if not query else href + ("&" if "?" in href else "?") + query


def _parsed(request: Request, path: str) -> tuple[gs1.DigitalLink, str]:
    """The link a request names and the link type it wants: a malformed link is a 400, a link type
    this resolver never offers a 404."""
    try:
        link = gs1.parse_path(path + (f"?{request.url.query}" if request.url.query else ""))
    except INPUT_ERRORS as exc:
        raise as_http(exc) from exc
    try:
        wanted = gs1.resolve_link_type(request.query_params.get("linkType"))
    except gs1.UnknownLinkType as exc:
        raise NotFound(str(exc)) from exc  # a well-formed request for a link this item lacks
    return link, wanted


def _in_memory(ctx, head, link: gs1.DigitalLink) -> bool:
    """Whether the link resolves from the in-memory lot directory (`LotDirectory`) alone: no serial
    (a serial asks the index whether the batch exists), on an index that holds lot identities."""
    return ctx.index is not None and link.serial is None and ctx.lots_at(head).has_lots


def _answer_found(request: Request, ctx, found: Resolved, wanted: str) -> Response:
    base = ctx.settings.public_url
    lang = request.state.lang
    if found.ident is not None:
        links = links_for(base, found.ident.batch_id, lang)
        anchor = base + found.ident.path
        description = f"Lot {found.ident.lot or '(not yet assigned)'} of GTIN {found.gtin}, batch {found.ident.batch_id}"
    else:
        links = gtin_links_for(base, found.gtin, list(found.lots), lang)
        anchor = base + gs1.build_path(found.gtin)
        description = f"GTIN {found.gtin}: {len(found.lots)} lot(s)"
    headers = {**CORS, "Link": link_header(links, anchor), "Vary": "Accept, Accept-Language"}
    accept = request.headers.get("accept", "")
    if wanted == "all" or LINKSET_MEDIA in accept:
        body = LinksetOut.of(links, anchor, description).body()
        return JSONResponse(body, media_type=LINKSET_MEDIA, headers=headers)
    if wanted != "default" and wanted not in links:
        raise NotFound(f"linkType {request.query_params.get('linkType')!r} is not offered for {anchor}")
    target = links["pip"][0]["href"] if wanted == "default" else links[wanted][0]["href"]
    headers["Location"] = _with_query(target, _passed_on(request))
    return Response(status_code=307, headers=headers)


def _for_method(request: Request, response: Response) -> Response:
    """A HEAD request's answer: the GET's status and headers without its body."""
    if request.method == "HEAD":
        return Response(status_code=response.status_code, headers=dict(response.headers))
    return response


def _options() -> Response:
    return Response(status_code=204, headers={**CORS, "Allow": METHODS})


@router.api_route(
    "/01/{rest:path}",
    methods=["GET", "HEAD"],
    summary="GS1 Digital Link: GTIN [+ lot] [+ serial]",
    responses={
        200: {
            "model": LinksetOut,
            "content": {LINKSET_MEDIA: {"schema": {"$ref": "#/components/schemas/LinksetOut"}}},
            "description": "the linkset",
        },
        307: {"description": "to the link asked for (the verify page by default)"},
    },
)
async def resolve_link(rest: str, request: Request, ctx: Ctx, head: ChainHead) -> Response:
    """The resolver's route: what `DigitalLinksAhead` does not answer ahead of routing (a link with a
    serial, a site without lot identities in its index, and every error)."""
    link, wanted = _parsed(request, "/01/" + rest)
    if _in_memory(ctx, head, link):
        found = resolve(ctx, head, link)
    else:
        found = await run_in_threadpool(resolve, ctx, head, link)
    return _for_method(request, _answer_found(request, ctx, found, wanted))


class DigitalLinksAhead:
    """Pure ASGI middleware ahead of routing, beside `CachedBatchPages` (inside the language,
    security-header and compression middlewares): a GET or HEAD of a Digital Link that resolves from
    the in-memory lot directory alone (`_in_memory`) gets the route's own answer, made by the same
    functions, without routing, dependencies or a thread hop. Every other request goes on to the
    application, and so does every link that fails (a malformed link, an unknown GTIN or link type):
    the route answers those with its error page as before."""

    def __init__(self, app, ctx) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith("/01/")
            and self.ctx.index is not None
        ):
            response = await self._resolved(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _resolved(self, scope) -> Response | None:
        if any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"]):
            return None  # a body on a GET: the body guard's to judge
        ctx = self.ctx
        request = Request(scope)
        try:
            head = await ctx.head()
            link, wanted = _parsed(request, scope["path"])
            if not _in_memory(ctx, head, link):
                return None
            response = _answer_found(request, ctx, resolve(ctx, head, link), wanted)
        except TambonError:
            return None  # the route answers with the error page
        ctx.links_resolved_ahead_of_routing += 1
        return _for_method(request, response)


@router.options("/01/{rest:path}", include_in_schema=False)
async def resolve_options(rest: str) -> Response:
    return _options()


@router.api_route(
    "/.well-known/gs1resolver",
    methods=["GET", "HEAD"],
    summary="GS1 resolver description",
    response_model=ResolverDescriptionOut,
)
async def resolver_description(ctx: Ctx) -> JSONResponse:
    base = ctx.settings.public_url
    description = ResolverDescriptionOut(
        name="Tambon Trust verify site",
        resolverRoot=base,
        supportedPrimaryKeys=["01"],
        supportedQualifiers={"01": ["10", "21"]},
        supportedLinkType=[
            SupportedLinkTypeOut(
                namespace=gs1.GS1_VOC, prefix="gs1:", linkType=gs1.LINK_TYPES[k], shortName=k
            )
            for k in gs1.LINK_TYPES
        ],
        linkTypeDefaultCanBeLinkset=False,
        linksetMediaType=LINKSET_MEDIA,
        jsonLdContextLocation=JSONLD_CONTEXT,
        defaultLinkType="gs1:pip",
        languages=list(LANGS),
        identity={
            "gtin": "the records' commodity.gtin, else the crop's GTIN under the site's GS1 company prefix",
            "lot": "the lot's FSMA 204 traceability lot code (never a batch id)",
            "serial": "the batch id (one ERC-721 token per batch)",
        },
    )
    return JSONResponse(description.model_dump(), headers=CORS)
