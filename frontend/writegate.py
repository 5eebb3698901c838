"""The door every write passes, before its body is read: session, rate limits, daily upload quota.

- An upload route needs a wallet session (`frontend.auth`): 401 without one.
- Rate limits (written in `limits` notation, counted in fixed windows): uploads per account and per
  client IP, and every other write under /api/ (sign-in, council signatures, record checks) per client
  IP. The counters are in the index database with the sessions (`AuthStore.hit`), so two workers or
  two hosts do not each grant the limit.
- A daily quota of uploaded bytes per account, kept there too.
Every refusal is a 429 with `Retry-After` (seconds) and a message saying which limit was hit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from anyio.to_thread import run_sync
from limits import RateLimitItem, parse
from starlette.requests import Request

from frontend.auth import SESSION_COOKIE, AuthStore
from frontend.guard import UploadRoutes
from frontend.settings import WebSettings

DAY = 86_400
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def utc_day(now: float | None = None) -> int:
    return int((now if now is not None else time.time()) // DAY)


async def _answer(send, status: int, message: str, retry_after: int | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, retry_after)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps({"detail": message}).encode()})


class WriteGate:
    """Pure ASGI middleware; `upload_paths` are the routes that store evidence (path regexes)."""

    def __init__(self, app, *, upload_paths: Mapping[str, int], web: WebSettings, store: AuthStore) -> None:
        self.app = app
        self.uploads = UploadRoutes(upload_paths)
        self.store = store
        self.quota = web.upload_bytes_per_day
        self.uploads_per_account = parse(web.uploads_per_account)
        self.uploads_per_ip = parse(web.uploads_per_ip)
        self.writes_per_ip = parse(web.writes_per_ip)

    async def _limited(self, item: RateLimitItem, name: str, who: str) -> int | None:
        """None when the hit is within the limit; otherwise seconds until the window lets one more in."""
        window = item.get_expiry()
        # the limit is part of the key: a changed setting starts counting afresh
        key = f"{name}/{item.amount}per{window}s/{who}"
        return await run_sync(self.store.hit, key, item.amount, window)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/")
        request = Request(scope)
        ip = request.client.host if request.client else "unknown"
        if self.uploads.limit(path) is None:
            if path.startswith("/api/"):
                wait = await self._limited(self.writes_per_ip, "write", ip)
                if wait is not None:
                    await _answer(send, 429, f"too many requests from {ip}; try again in {wait} s", wait)
                    return
            await self.app(scope, receive, send)
            return
        session = await run_sync(self.store.session, request.cookies.get(SESSION_COOKIE))
        if session is None:
            await _answer(
                send, 401, "sign in with your wallet first (Sign-In with Ethereum, /api/auth/message)"
            )
            return
        wait = await self._limited(self.uploads_per_ip, "upload-ip", ip)
        if wait is None:
            wait = await self._limited(self.uploads_per_account, "upload", session.address.lower())
        if wait is not None:
            await _answer(send, 429, f"upload rate limit reached; try again in {wait} s", wait)
            return
        used = await run_sync(self.store.uploaded_today, session.address, utc_day())
        if used >= self.quota:
            wait = (utc_day() + 1) * DAY - int(time.time())
            await _answer(
                send,
                429,
                f"daily upload quota used: {used} of {self.quota} bytes; it resets at 00:00 UTC",
                wait,
            )
            return
        scope.setdefault("state", {})["account"] = session.address
        await self.app(scope, receive, send)
