"""A JSON-RPC proxy in front of anvil that behaves like a public provider under load.

It refuses `eth_getLogs` ranges wider than `max_range` blocks and answers with more than
`max_results` logs (the error texts of real providers), answers a share of requests with HTTP 429,
and lets a share of requests time out (holds them past the client's timeout). Counters say how often
each happened, so a test can show the client met every limit.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class LimitedProvider:
    def __init__(
        self,
        upstream: str,
        *,
        max_range: int = 1_000,
        max_results: int = 10_000,
        rate_limited: float = 0.1,
        timeouts: float = 0.03,
        hold_seconds: float = 1.0,
        seed: int = 7,
    ) -> None:
        self.upstream = upstream
        self.max_range = max_range
        self.max_results = max_results
        self.rate_limited = rate_limited
        self.timeouts = timeouts
        self.hold_seconds = hold_seconds
        self.random = random.Random(seed)
        self.counts = {"requests": 0, "range_refused": 0, "results_refused": 0, "429": 0, "timeouts": 0}
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, payload = proxy.handle(json.loads(body))
                if status == "hold":
                    time.sleep(proxy.hold_seconds)
                    status = 200
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LimitedProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self._client.close()

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def handle(self, request):
        self._count("requests")
        with self._lock:
            roll = self.random.random()
        if roll < self.rate_limited:
            self._count("429")
            return 429, {"jsonrpc": "2.0", "id": None, "error": {"code": 429, "message": "Too Many Requests"}}
        hold = roll < self.rate_limited + self.timeouts
        if hold:
            self._count("timeouts")
        if isinstance(request, list):
            return ("hold" if hold else 200), [self._one(r) for r in request]
        return ("hold" if hold else 200), self._one(request)

    def _one(self, request):
        if request.get("method") == "eth_getLogs":
            query = request["params"][0]
            start, end = int(query["fromBlock"], 16), int(query["toBlock"], 16)
            if end - start + 1 > self.max_range:
                self._count("range_refused")
                return _error(request, -32005, f"block range too large: at most {self.max_range} blocks")
        answer = self._client.post(self.upstream, json=request).json()
        if request.get("method") == "eth_getLogs" and len(answer.get("result") or []) > self.max_results:
            self._count("results_refused")
            return _error(request, -32005, f"query returned more than {self.max_results} results")
        return answer


def _error(request, code: int, message: str):
    return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": code, "message": message}}
