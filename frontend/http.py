"""The site's HTTP protocol: uvicorn's httptools protocol reading at most `READ_BYTES` at a time.

The body guard (`frontend.guard`) refuses an over-limit upload at the first body message that passes
the limit, but that message holds whatever the server already took from the socket: asyncio reads up
to 256 KiB per `recv` (uvloop too, with a buffer size it does not let anyone change), and uvicorn only
pauses reading once 64 KiB wait unread. So a 1 GiB upload cost up to the limit + 256 KiB of reads.

Here each connection's transport reads `READ_BYTES` per `recv` (asyncio's selector transport takes
its `max_size` from the instance), and reading pauses as soon as `READ_BYTES` of body wait for the
application: the body message that crosses a limit is then under 2 x READ_BYTES, so the server reads
at most the limit + 64 KiB from the socket before its 413, and closes the connection with it.
uvloop has no per-read size, so the site runs on asyncio's loop (`tambon web serve` does).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Literal

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: bytes read from a socket at once, and body bytes held for the application before reading pauses
READ_BYTES = 32 * 1024
#: uvicorn settings that make the site read this way (`http=`, `loop=`), and as command-line options
HTTP_PROTOCOL = "frontend.http:MeteredHttpProtocol"
LOOP: Literal["asyncio"] = "asyncio"
UVICORN_ARGS = ["--http", HTTP_PROTOCOL, "--loop", LOOP]


class MeteredHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if hasattr(transport, "max_size"):  # asyncio's selector transport (not TLS, not uvloop)
            transport.max_size = READ_BYTES
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and uvicorn's
            # listening socket has proto 0: without it, Nagle's algorithm holds a response's second
            # write until the client's delayed ACK (~40 ms a keep-alive request).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if len(self.cycle.body) >= READ_BYTES:
            self.flow.pause_reading()
