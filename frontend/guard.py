"""Request bodies are counted before anything parses them: one ASGI middleware for every route.

An upload route gets its own limit (the files' limit plus the form around them); every other body
(JSON of the wallet routes, record validation) gets a small one, so a route added later is bounded
too. A declared Content-Length over the limit is a 413 before a byte is read; a chunked body is cut
off at the message that would pass the limit, which the application never sees: the 413 goes out at
once, the application's body reader gets an error (Starlette closes the temp files it spooled), and
whatever it answers is dropped. The bytes handed to the application are kept in
`scope["state"]["body_bytes"]` for the benchmark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import structlog
from starlette.formparsers import MultiPartException

log = structlog.get_logger(__name__)

#: multipart framing and the small form fields around the files
FORM_OVERHEAD = 64 * 1024


class UploadRoutes:
    """The routes that store evidence, as whole-path regexes, each with its body limit."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.patterns = [(re.compile(pattern), limit) for pattern, limit in limits.items()]

    def limit(self, path: str) -> int | None:
        path = path.rstrip("/") or "/"
        return next((limit for pattern, limit in self.patterns if pattern.fullmatch(path)), None)


class BodyTooLarge(MultiPartException):
    """Raised into the application's body reader; a MultiPartException so the form parser closes its
    spooled temp files at once instead of leaving them to the garbage collector."""


def _too_large_message(limit: int, upload: bool) -> str:
    what = "upload" if upload else "request body"
    return f"{what} is larger than the {limit}-byte limit of this route"


async def _refuse(send, status: int, message: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps({"detail": message}).encode()})


class BodyGuard:
    """Pure ASGI middleware: `upload_limits` maps an upload route (a path regex, whole-path match) to its
    largest body (bytes); `default_limit` bounds every other request body."""

    def __init__(self, app, *, upload_limits: Mapping[str, int], default_limit: int) -> None:
        self.app = app
        self.routes = UploadRoutes(upload_limits)
        self.default_limit = default_limit

    def limit_for(self, path: str) -> tuple[int, bool]:
        limit = self.routes.limit(path)
        return (limit, True) if limit is not None else (self.default_limit, False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, upload = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "Content-Length must be a whole number of bytes")
                return
            if int(declared) > limit:
                await _refuse(send, 413, _too_large_message(limit, upload))
                return
        seen = 0
        started = refused = False

        state = scope.setdefault("state", {})

        async def counted_receive():
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                if seen + len(message.get("body", b"")) > limit:
                    refused = True
                    log.warning(
                        "web.body_refused",
                        path=scope["path"],
                        limit=limit,
                        bytes_parsed=seen,
                        bytes_received=seen + len(message.get("body", b"")),
                    )
                    if not started:
                        await _refuse(send, 413, _too_large_message(limit, upload))
                    raise BodyTooLarge(_too_large_message(limit, upload))
                seen += len(message.get("body", b""))
                state["body_bytes"] = seen
            return message

        async def guarded_send(message) -> None:
            nonlocal started
            if refused:  # after a refusal the application's own answer is dropped
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            if not refused:
                raise
