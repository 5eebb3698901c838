"""Every request body is counted before it is parsed: 413 with a clear message on every upload route,
whether the size is declared or the body is chunked, with the bytes read bounded and no temp file left."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from frontend.auth import SESSION_COOKIE
from frontend.http import LOOP, MeteredHttpProtocol
from tests.frontend.world import ThreadServer, free_port, sign_in

LIMIT = 256 * 1024
UPLOAD_ROUTES = ("/api/evidence", "/api/capture/steps")


class ReadCounter:
    """Outermost ASGI layer: body bytes pulled from the server (`read`) and handed on to the application
    behind the guard (`parsed`), per path."""

    def __init__(self, app) -> None:
        self.app = app
        self.read: dict[str, int] = {}
        self.parsed: dict[str, int] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        self.read[path] = 0

        async def counted():
            message = await receive()
            self.read[path] += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)
        self.parsed[path] = scope.get("state", {}).get("body_bytes", 0)


class Site:
    def __init__(self, server: ThreadServer, counter: ReadCounter, cookie: str) -> None:
        self.url = server.url
        self.counter = counter
        self.cookie = cookie


@pytest.fixture
def server(world, site_settings):
    """The site on a real port, and the session cookie of the grants' community (signed in)."""
    from frontend.app import create_app
    from frontend.settings import WebSettings

    port = free_port()
    configured = site_settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    counter = ReadCounter(create_app(configured, WebSettings(max_upload_bytes=LIMIT)))
    srv = ThreadServer(counter, port=port).start()
    with httpx.Client(base_url=srv.url) as http:
        sign_in(http, world.community)
        cookie = http.cookies[SESSION_COOKIE]
    yield Site(srv, counter, cookie)
    srv.stop()


def raw_post(
    url: str, path: str, *, chunked_total: int = 0, declared: int | None = None, cookie: str = ""
) -> tuple[int, bytes]:
    """POST over a plain socket (the body as the attacker sends it); returns (status, response bytes)."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        + (f"Content-Length: {declared}\r\n" if declared is not None else "Transfer-Encoding: chunked\r\n")
        + (f"Cookie: {SESSION_COOKIE}={cookie}\r\n" if cookie else "")
        + "\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=20) as s:
        s.sendall(head.encode())
        # a well-formed file part whose data never ends, so only the byte count can stop it
        part = b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n\xff\xd8\xff'
        if chunked_total:
            s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        chunk = os.urandom(64 * 1024)
        sent = 0
        try:
            while sent < chunked_total:
                s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what we want
        answer = b""
        try:
            while data := s.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0
    return status, answer


def _route_limit(path: str) -> int:
    from frontend.app import upload_limits
    from frontend.settings import WebSettings

    return upload_limits(WebSettings(max_upload_bytes=LIMIT))[path]


@pytest.mark.parametrize("path", UPLOAD_ROUTES)
def test_anonymous_upload__401_before_any_byte_is_read(server, path):
    status, answer = raw_post(server.url, path, chunked_total=4 * 1024 * 1024)
    assert status == 401 and b"sign in with your wallet" in answer
    assert server.counter.read[path] == 0


@pytest.mark.parametrize("path", UPLOAD_ROUTES)
def test_declared_over_limit__413_before_any_byte_is_read(server, path):
    counter = server.counter
    status, answer = raw_post(server.url, path, declared=1 << 30, cookie=server.cookie)
    assert status == 413 and b"larger than the" in answer and b"limit" in answer
    assert counter.read[path] == 0


@pytest.mark.parametrize("path", UPLOAD_ROUTES)
def test_chunked_over_limit__413_and_reading_stops_at_the_limit(server, path):
    counter = server.counter
    status, answer = raw_post(server.url, path, chunked_total=32 * 1024 * 1024, cookie=server.cookie)
    assert status == 413, answer[:300]
    assert b"larger than the" in answer
    assert counter.parsed[path] <= _route_limit(path)
    # the server reads the socket in asyncio's 256 KiB gulps; one gulp past the limit at most
    assert counter.read[path] <= _route_limit(path) + 256 * 1024


def test_other_bodies__bounded_too(server):
    srv, counter = server, server.counter
    status, answer = raw_post(srv.url, "/api/capture/validate", chunked_total=4 * 1024 * 1024)
    assert status == 413 and b"request body is larger" in answer
    assert counter.parsed["/api/capture/validate"] <= 1024 * 1024
    status, _ = raw_post(srv.url, "/api/wallet/grants/0/milestones/0/signatures", declared=1 << 31)
    assert status == 413


def test_bad_content_length__400(server):
    srv = server
    host, port = srv.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /api/evidence HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
        reply = s.recv(4096)
    assert reply.split(b" ", 2)[1] == b"400"


def _deleted_temp_files() -> list[str]:
    tmp = Path(tempfile.gettempdir()).resolve()
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(tmp)) and target.endswith("(deleted)"):
            found.append(target)
    return found


def test_chunked_over_limit__no_temp_file_left_open(server):
    srv = server
    before = len(_deleted_temp_files())
    for path in UPLOAD_ROUTES:
        # a real multipart file part, big enough to roll the spool over to disk before the cut-off
        host, port = srv.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=20) as s:
            s.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                f"Cookie: {SESSION_COOKIE}={srv.cookie}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n\r\n".encode()
            )
            part = (
                b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n'
                b"Content-Type: image/jpeg\r\n\r\n"
            )
            s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            try:
                for _ in range(40):
                    chunk = b"\xff" * 65536
                    s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert s.recv(4096).split(b" ", 2)[1] == b"413"
    assert len(_deleted_temp_files()) <= before


class SocketCounter(MeteredHttpProtocol):
    """The site's protocol, counting the bytes it takes from each connection's socket."""

    received: ClassVar[dict[str, int]] = {}

    def data_received(self, data: bytes) -> None:
        path = self.cycle.scope["path"] if getattr(self, "cycle", None) else None
        SocketCounter.received[path or "?"] = SocketCounter.received.get(path or "?", 0) + len(data)
        super().data_received(data)


@pytest.mark.parametrize("path", UPLOAD_ROUTES)
def test_chunked_over_limit__site_protocol__reads_at_most_the_limit_plus_64_kib_from_the_socket(
    world, site_settings, path
):
    """As `tambon web serve` runs the site (frontend.http): the socket bytes read before the 413, the
    request head and chunk framing included, stay within the route's limit + 64 KiB."""
    from frontend.app import create_app
    from frontend.settings import WebSettings

    port = free_port()
    configured = site_settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    srv = ThreadServer(
        create_app(configured, WebSettings(max_upload_bytes=LIMIT)),
        port=port,
        http=SocketCounter,
        loop=LOOP,
    ).start()
    try:
        with httpx.Client(base_url=srv.url) as http:
            sign_in(http, world.community)
            cookie = http.cookies[SESSION_COOKIE]
        SocketCounter.received.clear()
        status, answer = raw_post(srv.url, path, chunked_total=32 * 1024 * 1024, cookie=cookie)
        assert status == 413, answer[:300]
        # the first read holds the request head, before the request has a path
        received = SocketCounter.received.get(path, 0) + SocketCounter.received.get("?", 0)
        assert _route_limit(path) < received <= _route_limit(path) + 64 * 1024, received - _route_limit(path)
    finally:
        srv.stop()


class NoDelayProbe(MeteredHttpProtocol):
    """The site's protocol, noting whether each connection's socket has Nagle's algorithm off."""

    nodelay: ClassVar[list[int]] = []

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        NoDelayProbe.nodelay.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_site_protocol__every_connection_has_nagle_off(world, site_settings):
    """`tambon web serve` with workers listens on a socket uvicorn binds itself (proto 0), which asyncio
    leaves with Nagle's algorithm on; then each keep-alive response waits ~40 ms for a delayed ACK
    unless the protocol turns it off."""
    import threading
    import time

    import uvicorn

    from frontend.app import create_app
    from frontend.settings import WebSettings

    port = free_port()
    configured = site_settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    config = uvicorn.Config(
        create_app(configured, WebSettings()),
        host="127.0.0.1",
        port=port,
        http=NoDelayProbe,
        loop=LOOP,
        log_level="warning",
    )
    listener = config.bind_socket()  # as uvicorn's supervisor binds it for its worker processes
    assert listener.proto == 0
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "site did not start"
            time.sleep(0.02)
        NoDelayProbe.nodelay.clear()
        for _ in range(3):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
                assert http.get("/healthz").status_code == 200
        assert len(NoDelayProbe.nodelay) == 3 and all(NoDelayProbe.nodelay), NoDelayProbe.nodelay
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
