"""The embedded node over HTTP: a Kubo RPC subset and a trustless gateway.

RPC (POST only, as Kubo): /api/v0/add, /cat, /block/get, /pin/add, /pin/ls, /pin/rm, /version.
Errors use Kubo's JSON shape `{"Message", "Code", "Type": "error"}` with a meaningful status
(400 malformed, 404 unknown, 413 too large, 500 corrupt block).

Gateway: GET/HEAD /ipfs/<cid>[/path] with `?format=raw|car` (or the matching Accept header).
Every block is re-hashed before it is sent; file and CAR responses walk (and verify) the whole
DAG before the first byte goes out, so a corrupt block gives a 500 instead of a truncated file.

Safety, as Kubo's API.HTTPHeaders / API.Authorizations: the RPC answers 403 to a request whose
`Origin` (or `Referer`) is not an allowed origin, so a web page cannot drive it from a visitor's
browser, and 401 without the bearer token when one is configured. The gateway serves only raster
images and PDFs inline; every other file is an attachment under `Content-Security-Policy: sandbox`,
so HTML or SVG someone added never runs with the gateway's origin.

Handlers stay thin: parsing here, the work in evidence.importer / evidence.dag / the store.
"""

from __future__ import annotations

import hmac
import html
import json
import mimetypes
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

import structlog
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from evidence import car, dag
from evidence.blockstore import Transaction
from evidence.cids import cid_str, digest_of, parse_cid
from evidence.errors import BadRequest, EvidenceError, UploadTooLarge
from evidence.importer import (
    KIB,
    MIB,
    PROFILES,
    FileImporter,
    Node,
    Profile,
    TreeBuilder,
    get_profile,
    split_path,
)
from evidence.store import LocalStore, split_ipfs_path
from tambon import __version__

log = structlog.get_logger(__name__)

#: what /api/v0/version reports; the "-tambon" suffix marks the embedded node
NODE_VERSION = f"{__version__}-tambon"
FEED_BYTES = 1 * MIB
#: file types the gateway shows inline; anything else could carry script (HTML, SVG, XML) or
#: be sniffed as such, so it is sent as a download in a sandbox
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf"})
SANDBOX = "sandbox; default-src 'none'"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequest(f"not a boolean: {value!r}")


def add_profile(params) -> Profile:
    """The import profile of an add request, from Kubo's parameter names.

    `cid-version` (default 0, as Kubo), `raw-leaves` (default: true for CIDv1), `chunker`
    (`size-<bytes>`), and our `profile` (a named preset, overriding the others' defaults).
    """
    base = get_profile(params["profile"]) if params.get("profile") else None
    try:
        version = int(params.get("cid-version", base.cid_version if base else 0))
    except ValueError:
        raise BadRequest(f"cid-version must be 0 or 1, got {params.get('cid-version')!r}") from None
    raw_leaves = _bool(
        params.get("raw-leaves"), base.raw_leaves if base and version == base.cid_version else version == 1
    )
    chunk = base.chunk_size if base else 256 * KIB
    chunker = params.get("chunker")
    if chunker:
        if not chunker.startswith("size-") or not chunker[5:].isdigit():
            raise BadRequest(f"unsupported chunker {chunker!r} (only size-<bytes>)")
        chunk = int(chunker[5:])
    if _bool(params.get("trickle"), False):
        raise BadRequest("trickle layout is not supported")
    if _bool(params.get("nocopy"), False):
        raise BadRequest("nocopy (filestore) is not supported")
    hash_name = params.get("hash", "sha2-256")
    if hash_name != "sha2-256":
        raise BadRequest(f"unsupported hash {hash_name!r} (only sha2-256)")
    max_links = base.max_links if base else 174
    strategy = base.shard_strategy if base else "links-bytes"
    for preset in PROFILES.values():
        if (version, raw_leaves, chunk, max_links) == (
            preset.cid_version,
            preset.raw_leaves,
            preset.chunk_size,
            preset.max_links,
        ):
            return preset
    return Profile("custom", version, raw_leaves, chunk, max_links, strategy)


class AddSession:
    """One /api/v0/add upload: a streaming multipart parser feeding importers and a transaction.

    Runs on worker threads (the caller hops there per ~1 MiB of body); nothing is published
    until `finish` commits the transaction, and `abort` rolls it back.
    """

    def __init__(self, store: LocalStore, profile: Profile, *, limit: int, only_hash: bool, wrap: bool):
        self.profile = profile
        self.limit = limit
        self.wrap = wrap
        self.tx = None if only_hash else Transaction(store.blocks)
        self.builder = TreeBuilder(profile, self.tx)
        self.received = 0
        self._headers: dict[str, str] = {}
        self._field = ""
        self._value = ""
        self._importer: FileImporter | None = None
        self._name = ""

    # multipart callbacks
    def _on_part_begin(self) -> None:
        self._headers = {}
        self._field = self._value = ""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end].decode("latin-1")

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end].decode("latin-1")

    def _on_header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = ""

    def _on_headers_finished(self) -> None:
        _disp, options = parse_options_header(self._headers.get("content-disposition", ""))
        name = unquote(options.get(b"filename", b"").decode("utf-8", "replace"))
        ctype = self._headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        if ctype == "application/x-directory":
            self.builder.mkdir(name)
            return
        if ctype == "application/symlink":
            raise BadRequest("symlinks are not accepted over HTTP")
        if name:
            split_path(name)  # refuse '..', absolute paths, separators before reading any data
        self._name = name
        self._importer = FileImporter(self.profile, self.tx)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._importer is not None:
            self._importer.write(memoryview(data)[start:end])

    def _on_part_end(self) -> None:
        if self._importer is None:
            return
        node = self._importer.close()
        self._importer = None
        # a part without a file name is named by its CID, as Kubo does
        self.builder.add(self._name or cid_str(node.cid), node)

    def parser(self, boundary: bytes) -> MultipartParser:
        return MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    def feed(self, parser: MultipartParser, data: bytes) -> None:
        self.received += len(data)
        if self.received > self.limit:
            raise UploadTooLarge(f"upload exceeds the {self.limit}-byte limit")
        parser.write(data)

    def finish(self, parser: MultipartParser) -> tuple[list[tuple[str, Node]], list[Node]]:
        """Finalize and commit: (Name/node lines with the root last, nodes to pin)."""
        parser.finalize()
        if self._importer is not None:
            raise BadRequest("multipart body ended inside a file")
        if self.builder.empty:
            raise BadRequest("no file in the request (send multipart/form-data file parts)")
        if self.wrap:
            root, lines = self.builder.build()
            roots = [root]
        else:
            tops, lines = self.builder.build_unwrapped()
            roots = [node for _, node in tops]
        if self.tx is not None:
            self.tx.commit()
        return lines, roots

    def abort(self) -> None:
        if self._importer is not None:
            self._importer.abort()
        if self.tx is not None:
            self.tx.rollback()


def _error(exc: EvidenceError) -> JSONResponse:
    return JSONResponse({"Message": str(exc), "Code": 0, "Type": "error"}, status_code=exc.http_status)


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, as browsers send it in `Origin`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else url.lower()


class RpcGuard:
    """Pure ASGI middleware over /api/v0/: refuses a browser request from an origin it does not allow
    (403, before the body is read) and, when a token is set, a request without `Bearer <token>` (401).

    A request with neither `Origin` nor `Referer` comes from a program (CLI, the site's server), not from
    a web page: browsers send `Origin` on every POST, even with `mode: 'no-cors'`.
    """

    def __init__(self, app, *, allowed_origins: Iterable[str], token: str | None) -> None:
        self.app = app
        self.allowed = frozenset(origin_of(o) for o in allowed_origins)
        self.token = token.encode() if token else None

    def refusal(self, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        source = headers.get(b"origin") or headers.get(b"referer")
        if source is not None:
            origin = origin_of(source.decode("latin-1"))
            if origin not in self.allowed:
                return 403, f"origin {origin[:100]!r} is not allowed to use this node's RPC"
        if self.token is not None:
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, b"Bearer " + self.token):
                return 401, "this node's RPC needs 'Authorization: Bearer <token>'"
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v0/"):
            refused = self.refusal(dict(scope["headers"]))
            if refused is not None:
                status, message = refused
                headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
                if status == 401:
                    headers.append((b"www-authenticate", b'Bearer realm="tambon-evidence"'))
                body = json.dumps({"Message": message, "Code": 0, "Type": "error"}).encode()
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                log.warning("evidence.rpc_refused", status=status, path=scope["path"])
                return
        await self.app(scope, receive, send)


def _arg(request: Request) -> str:
    value = request.query_params.get("arg")
    if not value:
        raise BadRequest("argument 'arg' is required")
    return value


class NodeApp:
    """Routes bound to one LocalStore; `app()` gives the full node, `gateway_app()` the gateway only."""

    def __init__(
        self,
        store: LocalStore,
        *,
        max_upload_bytes: int,
        allowed_origins: Iterable[str] = (),
        api_token: str | None = None,
    ) -> None:
        self.store = store
        self.max_upload_bytes = max_upload_bytes
        self.allowed_origins = tuple(allowed_origins)
        self.api_token = api_token

    # ---------------------------------------------------------------- RPC

    async def add(self, request: Request) -> Response:
        params = request.query_params
        profile = add_profile(params)
        pin = _bool(params.get("pin"), True)
        only_hash = _bool(params.get("only-hash"), False)
        wrap = _bool(params.get("wrap-with-directory"), False)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_upload_bytes:
            raise UploadTooLarge(f"upload of {length} bytes exceeds the {self.max_upload_bytes}-byte limit")
        ctype, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if ctype not in (b"multipart/form-data", b"multipart/mixed") or not boundary:
            raise BadRequest("add expects a multipart/form-data body with a boundary")
        session = await run_in_threadpool(
            AddSession, self.store, profile, limit=self.max_upload_bytes, only_hash=only_hash, wrap=wrap
        )
        parser = session.parser(boundary)
        try:
            pending = bytearray()
            async for chunk in request.stream():
                pending += chunk
                if len(pending) >= FEED_BYTES:
                    data, pending = bytes(pending), bytearray()
                    await run_in_threadpool(session.feed, parser, data)
            if pending:
                await run_in_threadpool(session.feed, parser, bytes(pending))
            lines, roots = await run_in_threadpool(session.finish, parser)
        except BaseException:
            await run_in_threadpool(session.abort)
            raise
        if pin and not only_hash:
            for node in roots:
                self.store.blocks.pin(node.cid)
        body = "".join(
            json.dumps({"Name": name, "Hash": cid_str(node.cid), "Size": str(node.tsize)}) + "\n"
            for name, node in lines
        )
        log.info("evidence.add", root=cid_str(lines[-1][1].cid), bytes=session.received, profile=profile.name)
        return Response(body, media_type="application/json", headers={"X-Chunked-Output": "1"})

    async def cat(self, request: Request) -> Response:
        root, path = split_ipfs_path(_arg(request))
        getter = self.store.get_block
        target = await run_in_threadpool(dag.resolve, getter, root, path)
        info = await run_in_threadpool(dag.stat, getter, target)
        if info.kind != "file":
            raise BadRequest(f"{info.cid} is a {info.kind}, not a file")
        await run_in_threadpool(_verify_all, getter, target)
        return StreamingResponse(
            dag.iter_file(getter, target),
            media_type="application/octet-stream",
            headers={"Content-Length": str(info.size), "X-Content-Length": str(info.size)},
        )

    async def block_get(self, request: Request) -> Response:
        root, path = split_ipfs_path(_arg(request))
        if path:
            raise BadRequest("block/get takes a CID, not a path")
        block = await run_in_threadpool(self.store.get_block, root)
        return Response(block, media_type="application/octet-stream")

    async def pin_add(self, request: Request) -> Response:
        arg = _arg(request)
        await run_in_threadpool(self.store.pin, arg)
        root, path = split_ipfs_path(arg)
        target = await run_in_threadpool(dag.resolve, self.store.get_block, root, path)
        return JSONResponse({"Pins": [cid_str(target)]})

    async def pin_rm(self, request: Request) -> Response:
        arg = _arg(request)
        root, _ = split_ipfs_path(arg)
        await run_in_threadpool(self.store.unpin, arg)
        return JSONResponse({"Pins": [cid_str(root)]})

    async def pin_ls(self, request: Request) -> Response:
        pin_type = request.query_params.get("type", "all")
        if pin_type not in ("all", "recursive", "direct", "indirect"):
            raise BadRequest(f"invalid pin type {pin_type!r}")
        arg = request.query_params.get("arg")
        pins = await run_in_threadpool(self.store.pins)
        if arg:
            root, _ = split_ipfs_path(arg)
            pins = [p for p in pins if digest_of(split_ipfs_path(p)[0]) == digest_of(root)]
            if not pins:
                raise BadRequest(f"path '{arg}' is not pinned")
        if pin_type in ("direct", "indirect"):
            pins = []
        return JSONResponse({"Keys": {p: {"Type": "recursive"} for p in pins}})

    async def version(self, request: Request) -> Response:
        return JSONResponse(
            {
                "Version": NODE_VERSION,
                "Commit": "",
                "Repo": "tambon-blockstore-1",
                "System": "embedded",
                "Golang": "",
            }
        )

    # ---------------------------------------------------------------- gateway

    async def gateway(self, request: Request) -> Response:
        raw_path = request.path_params.get("rest", "")
        cid_part, _, path = raw_path.partition("/")
        root = parse_cid(cid_part)
        fmt = request.query_params.get("format", "")
        accept = request.headers.get("accept", "")
        if not fmt:
            if "application/vnd.ipld.raw" in accept:
                fmt = "raw"
            elif "application/vnd.ipld.car" in accept:
                fmt = "car"
        if fmt not in ("", "raw", "car"):
            raise BadRequest(f"unsupported format {fmt!r} (raw or car)")
        getter = self.store.get_block
        segments = dag.split_content_path(path)  # Starlette already percent-decoded it
        target = await run_in_threadpool(dag.resolve, getter, root, segments)
        etag_base = cid_str(target)
        common = {
            "X-Ipfs-Path": quote(f"/ipfs/{cid_part}/{path}".rstrip("/"), safe="/"),
            "X-Ipfs-Roots": cid_str(root),
            "Cache-Control": "public, max-age=29030400, immutable",
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Allow-Origin": "*",
            "Content-Security-Policy": SANDBOX,
        }
        head = request.method == "HEAD"
        if fmt == "raw":
            block = await run_in_threadpool(getter, target)
            headers = common | {
                "Etag": f'"{etag_base}.raw"',
                "Content-Disposition": f'attachment; filename="{etag_base}.bin"',
            }
            return Response(b"" if head else block, media_type="application/vnd.ipld.raw", headers=headers)
        if fmt == "car":
            cids = await run_in_threadpool(_car_plan, getter, root, segments, target)
            headers = common | {
                "Etag": f'"{etag_base}.car"',
                "Content-Disposition": f'attachment; filename="{etag_base}.car"',
            }
            body = car.write([root], ((c, getter(c)) for c in cids))
            if head:
                return Response(b"", media_type=car.CONTENT_TYPE, headers=headers)
            return StreamingResponse(body, media_type=car.CONTENT_TYPE, headers=headers)
        info = await run_in_threadpool(dag.stat, getter, target)
        if info.kind == "directory":
            entries = await run_in_threadpool(dag.ls, getter, target)
            listing = _listing_html(f"/ipfs/{cid_part}/{path}".rstrip("/"), entries)
            # our own escaped listing; sandboxed anyway, with its links still followable
            return Response(
                b"" if head else listing,
                media_type="text/html; charset=utf-8",
                headers=common | {"Etag": f'"DirIndex-{etag_base}"'},
            )
        if info.kind != "file":
            raise BadRequest(f"{info.cid} is a {info.kind}")
        await run_in_threadpool(_verify_all, getter, target)
        name = segments[-1] if segments else ""
        media = (mimetypes.guess_type(name)[0] if name else None) or "application/octet-stream"
        headers = common | {"Etag": f'"{etag_base}"', "Content-Length": str(info.size)}
        if media in INLINE_TYPES:
            if media == "application/pdf":  # browsers refuse to show a PDF in a sandboxed document
                del headers["Content-Security-Policy"]
        else:
            filename = quote(name or etag_base, safe="")
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
        if head:
            return Response(b"", media_type=media, headers=headers)
        return StreamingResponse(dag.iter_file(getter, target), media_type=media, headers=headers)

    # ---------------------------------------------------------------- wiring

    def _routes(self, rpc: bool) -> list[Route]:
        routes = [Route("/ipfs/{rest:path}", _wrap(self.gateway), methods=["GET", "HEAD"])]
        if rpc:
            for path, handler in (
                ("/api/v0/add", self.add),
                ("/api/v0/cat", self.cat),
                ("/api/v0/block/get", self.block_get),
                ("/api/v0/pin/add", self.pin_add),
                ("/api/v0/pin/rm", self.pin_rm),
                ("/api/v0/pin/ls", self.pin_ls),
                ("/api/v0/version", self.version),
            ):
                routes.append(
                    Route(path, _wrap(handler, post_only=True), methods=["GET", "POST", "PUT", "DELETE"])
                )
            routes.append(
                Route("/api/v0/{rest:path}", _unknown_command, methods=["GET", "POST", "PUT", "DELETE"])
            )
        return routes

    def app(self) -> Starlette:
        app = Starlette(routes=self._routes(rpc=True))
        app.add_middleware(RpcGuard, allowed_origins=self.allowed_origins, token=self.api_token)
        return app

    def gateway_app(self) -> Starlette:
        return Starlette(routes=self._routes(rpc=False))


def _wrap(handler, *, post_only: bool = False):
    async def endpoint(request: Request) -> Response:
        if post_only and request.method != "POST":
            return JSONResponse(
                {
                    "Message": f"{request.method} not allowed on {request.url.path}; the RPC takes POST",
                    "Code": 0,
                    "Type": "error",
                },
                status_code=405,
            )
        try:
            return await handler(request)
        except EvidenceError as exc:
            if request.url.path.startswith("/ipfs/"):
                return PlainTextResponse(str(exc), status_code=exc.http_status)
            return _error(exc)

    return endpoint


async def _unknown_command(request: Request) -> Response:
    return JSONResponse(
        {
            "Message": f"unknown command {request.url.path!r} (this node serves a Kubo RPC subset)",
            "Code": 0,
            "Type": "error",
        },
        status_code=404,
    )


def _verify_all(getter, target: bytes) -> None:
    for _ in dag.walk_blocks(getter, target):
        pass


def _car_plan(getter, root: bytes, segments: list[str], target: bytes) -> list[bytes]:
    """CIDs to put in a CAR: the directory blocks on the path, then the target's whole DAG."""
    cids = [cid for cid, _ in dag.path_blocks(getter, root, segments)]
    cids += [cid for cid, _ in dag.walk_blocks(getter, target)]
    return list(dict.fromkeys(cids))  # first occurrence of each, in order


def _listing_html(path: str, entries: list[dag.Entry]) -> bytes:
    rows = "".join(
        f'<tr><td><a href="{html.escape(quote(f"{path}/{e.name}"))}">{html.escape(e.name)}</a></td>'
        f"<td>{e.kind}</td><td>{e.size}</td><td><code>{e.cid}</code></td></tr>"
        for e in entries
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(path)}</title><h1>{html.escape(path)}</h1>"
        f"<table><tr><th>name</th><th>kind</th><th>size</th><th>CID</th></tr>{rows}</table>"
    ).encode()


def create_app(
    store: LocalStore,
    *,
    max_upload_bytes: int,
    allowed_origins: Iterable[str] = (),
    api_token: str | None = None,
) -> Starlette:
    """The full node. With no `allowed_origins`, no web page may use the RPC (programs still may)."""
    return NodeApp(
        store, max_upload_bytes=max_upload_bytes, allowed_origins=allowed_origins, api_token=api_token
    ).app()


def create_gateway_app(store: LocalStore, *, max_upload_bytes: int = 0) -> Starlette:
    return NodeApp(store, max_upload_bytes=max_upload_bytes).gateway_app()
