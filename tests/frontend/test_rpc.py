"""The raw keep-alive JSON-RPC client of the chain head: framing variants, reconnects, errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from frontend.errors import Upstream
from frontend.services.rpc import RawJsonRpc


async def _serve(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


async def _read_request(reader) -> dict:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")
    )
    return json.loads(await reader.readexactly(length))


def _answer(result, *, chunked=False, close=False, status=200) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}).encode()
    extra = "Connection: close\r\n" if close else ""
    if chunked:
        half = len(body) // 2
        framed = (
            b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (body[:half], body[half:]))
            + b"0\r\n\r\n"
        )
        return f"HTTP/1.1 {status} OK\r\n{extra}Transfer-Encoding: chunked\r\n\r\n".encode() + framed
    return f"HTTP/1.1 {status} OK\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize("mode", ["length", "chunked", "close"])
def test_raw_rpc__framings_and_keep_alive(mode):
    connections = []

    async def handler(reader, writer):
        connections.append(writer)
        try:
            while True:
                request = await _read_request(reader)
                writer.write(_answer(request["method"], chunked=mode == "chunked", close=mode == "close"))
                await writer.drain()
                if mode == "close":
                    writer.close()
                    return
        except asyncio.IncompleteReadError:
            writer.close()

    async def run():
        server, url = await _serve(handler)
        rpc = RawJsonRpc(url)
        answers = [await rpc.call("eth_blockNumber", []) for _ in range(3)]
        await rpc.close()
        server.close()
        return answers

    assert asyncio.run(run()) == ["eth_blockNumber"] * 3
    assert len(connections) == (3 if mode == "close" else 1)


def test_raw_rpc__node_dropped_idle_connection__reconnects_once():
    served = []

    async def handler(reader, writer):
        served.append(1)
        await _read_request(reader)
        writer.write(_answer("ok"))
        await writer.drain()
        writer.close()  # no Connection: close header: the client learns on its next call

    async def run():
        server, url = await _serve(handler)
        rpc = RawJsonRpc(url)
        results = [await rpc.call("x", []), await rpc.call("x", [])]
        server.close()
        return results

    assert asyncio.run(run()) == ["ok", "ok"] and len(served) == 2


def test_raw_rpc__http_error_and_dead_node__upstream():
    async def handler(reader, writer):
        await _read_request(reader)
        writer.write(_answer(None, status=500))
        await writer.drain()

    async def run_500():
        server, url = await _serve(handler)
        try:
            await RawJsonRpc(url, timeout=2).call("x", [])
        finally:
            server.close()

    with pytest.raises(Upstream):
        asyncio.run(run_500())
    with pytest.raises(Upstream, match="unreachable"):
        asyncio.run(RawJsonRpc("http://127.0.0.1:9/", timeout=2).call("x", []))
    with pytest.raises(ValueError):
        RawJsonRpc("https://node.example/")
