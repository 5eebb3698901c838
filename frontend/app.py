"""The verify site: `create_app(settings)` builds the FastAPI app (JSON API + server-rendered pages).

uvicorn --factory frontend.app:create_app      # or: tambon web serve
"""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from brotli_asgi import BrotliMiddleware
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import cookie_parser

from frontend import i18n
from frontend.api.routes import ROUTERS as API_ROUTERS
from frontend.api.routes.gs1 import DigitalLinksAhead
from frontend.api.routes.wallet import REASON_BODY_BYTES
from frontend.collector import long_lived_frozen
from frontend.context import AppContext
from frontend.guard import FORM_OVERHEAD, BodyGuard
from frontend.settings import WebSettings, get_web_settings
from frontend.web import ROUTERS as WEB_ROUTERS
from frontend.web.pages import CachedBatchPages
from frontend.writegate import WriteGate
from tambon.errors import TambonError
from tambon.settings import Settings, get_settings

log = structlog.get_logger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
LANG_COOKIE = "lang"
#: headers every response gets from `LanguageAndHeaders` (a route's own value of them replaced)
FIXED_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"vary", b"Accept-Language, Cookie"),
)
REPLACED_HEADERS = frozenset(name for name, _ in FIXED_HEADERS)
#: how long a thread holding the GIL keeps it while another waits (CPython's default is 5 ms). The event
#: loop answers cached pages while renders run in threads: each of its calls that releases the GIL (a
#: socket write, a file read) waited up to 5 ms for a rendering thread to hand it back, so a moving head
#: (renders at every block) held cached answers in a convoy. Measured on the 10,000-lot world with the
#: writer at 5 tx/s (load 6-8): closed loop 385 -> 1,990-2,990 req/s, resolver p99 15.5 -> 5-7 ms.
GIL_SWITCH_SECONDS = 0.001


def _csp(settings: Settings) -> str:
    gateway = settings.gateway_url
    return (
        "default-src 'self'; "
        f"img-src 'self' data: {gateway}; "
        "script-src 'self'; style-src 'self'; "
        "connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


class LanguageAndHeaders:
    """Pure ASGI middleware: picks the language (query, cookie, Accept-Language) for the request and adds
    the security headers (CSP without inline script, nosniff) and the language cookie to the response."""

    def __init__(self, app, csp: str) -> None:
        self.app = app
        self.csp = csp.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # read off the raw scope (no Request, no header objects): every verify page passes here
        accept = cookie = None
        for name, value in scope["headers"]:
            if name == b"accept-language" and accept is None:
                accept = value.decode("latin-1")
            elif name == b"cookie" and cookie is None:
                cookie = value.decode("latin-1")
        chosen = QueryParams(scope["query_string"]).get("lang") if scope.get("query_string") else None
        lang = i18n.negotiate(accept, cookie_parser(cookie).get(LANG_COOKIE) if cookie else None, chosen)
        scope.setdefault("state", {})["lang"] = lang
        added = [*FIXED_HEADERS, (b"content-language", lang.encode())]
        if chosen in i18n.LANGUAGES:
            cookie_value = f"{LANG_COOKIE}={chosen}; Max-Age={365 * 86_400}; Path=/; SameSite=lax; HttpOnly"
            added.append((b"set-cookie", cookie_value.encode()))

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._headers(message.get("headers", ()), added)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self, raw, added: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The response's headers with the site's: those in `REPLACED_HEADERS` set anew, a route's own
        CSP and Content-Language kept."""
        out = []
        has_csp = has_language = False
        for name, value in raw:
            name = name.lower()
            if name in REPLACED_HEADERS:
                continue
            has_csp = has_csp or name == b"content-security-policy"
            has_language = has_language or name == b"content-language"
            out.append((name, value))
        if not has_csp:
            out.append((b"content-security-policy", self.csp))
        out.extend(added if not has_language else [h for h in added if h[0] != b"content-language"])
        return out


def upload_limits(web: WebSettings) -> dict[str, int]:
    """Every route that stores evidence (a whole-path regex) and the largest body it takes: the files
    plus the form around them; a council member's reason for a rejection is a short JSON text."""
    from frontend.api.routes.capture import MAX_RECORD

    return {
        "/api/evidence": web.max_upload_bytes + FORM_OVERHEAD,
        "/api/capture/steps": web.max_upload_bytes + MAX_RECORD + FORM_OVERHEAD,
        r"/api/wallet/grants/[0-9]+/milestones/[0-9]+/rejection": REASON_BODY_BYTES,
    }


#: paths whose bodies are compressed formats already (thumbnails, PNGs, spreadsheets, zips): sent as they are
ALREADY_COMPRESSED = [r"^/thumb/", r"\.(png|webp|jpe?g|xlsx|zip)$"]


def create_app(settings: Settings | None = None, web: WebSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    web = web or get_web_settings()
    i18n.compile_catalogs()
    ctx = AppContext(settings, web)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        await ctx.preload()
        with long_lived_frozen():  # what preload read lives as long as the worker
            yield
        await ctx.close()

    app = FastAPI(
        title="Tambon Trust",
        summary="Verify produce batches and follow community grants of an อปท.",
        version="1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        telemetry=None if web.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    csp = _csp(settings)

    def _wants_json(request: Request) -> bool:
        path = request.url.path
        return (
            path.startswith("/api/")
            or path.endswith("/epcis")
            or "application/json" in request.headers.get("accept", "").split(",")[0]
        )

    def _error(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=status)
        lang = getattr(request.state, "lang", i18n.DEFAULT_LANGUAGE)
        templates = ctx.templates[lang]
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    @app.exception_handler(TambonError)
    async def tambon_error(request: Request, exc: TambonError) -> Response:
        # Every product error carries its own status (tambon.errors.TambonError.http_status).
        if exc.http_status >= 500:
            log.warning("web.error", path=request.url.path, status=exc.http_status, error=str(exc))
        return _error(request, exc.http_status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()[:5]
        ]
        return _error(request, 400, "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "page not found" if exc.status_code == 404 else str(exc.detail)
        return _error(request, exc.status_code, message)

    limits = upload_limits(web)
    app.add_middleware(BodyGuard, upload_limits=limits, default_limit=web.max_body_bytes)
    app.add_middleware(WriteGate, upload_paths=limits, web=web, store=ctx.auth)
    # ahead of routing, inside the language and header middlewares: cached verify pages as bytes, and
    # the resolver's lot links from the in-memory lot directory
    app.add_middleware(CachedBatchPages, ctx=ctx)
    app.add_middleware(DigitalLinksAhead, ctx=ctx)
    app.add_middleware(LanguageAndHeaders, csp=csp)
    for router in API_ROUTERS + WEB_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # outermost, so it adds Accept-Encoding to the Vary header the language middleware sets: brotli
    # for clients that take it, gzip for the others
    app.add_middleware(
        BrotliMiddleware, minimum_size=1024, gzip_fallback=True, excluded_handlers=ALREADY_COMPRESSED
    )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.ico", headers={"Cache-Control": "public, max-age=604800"})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> HTMLResponse:
        return HTMLResponse("ok")

    return app
