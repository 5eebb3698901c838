"""The per-request chain-head query over one keep-alive HTTP/1.1 connection (plain asyncio streams).

Every page view asks the node for the latest block, so this call is on the hot path; a raw
connection costs a fraction of a general HTTP client's per-request work. Used for `http://` node
URLs; `https://` endpoints go through httpx (TLS, proxies).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from frontend.errors import Upstream


class RawJsonRpc:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"raw JSON-RPC needs an http:// URL, got {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self.timeout = timeout
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _request(self, body: bytes) -> bytes:
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def call(self, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # streams and locks belong to one event loop
            self._loop, self._conn, self._lock = loop, None, asyncio.Lock()
        async with self._lock:
            for attempt in (0, 1):  # a kept-alive connection the node closed is retried once
                try:
                    answer = await asyncio.wait_for(self._exchange(self._request(body)), self.timeout)
                    break
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    TimeoutError,
                    ValueError,
                ) as exc:
                    await self.close()
                    if attempt == 1:
                        raise Upstream(f"chain node unreachable: {exc!r}") from exc
        if "error" in answer:
            raise Upstream(f"chain node error: {answer['error']}")
        return answer["result"]

    async def _exchange(self, request: bytes) -> dict[str, Any]:
        if self._conn is None:
            self._conn = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._conn
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        if headers.get("transfer-encoding", "").lower() == "chunked":
            payload = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                payload += chunk[:-2]
        else:
            payload = await reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        if status != 200:
            raise ValueError(f"node answered HTTP {status}")
        return json.loads(payload)

    async def close(self) -> None:
        if self._conn is not None:
            _reader, writer = self._conn
            self._conn = None
            writer.close()
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()
