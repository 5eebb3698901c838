"""Load the verify page of a fully populated batch on loopback -> bench/results/web.json.

    python scripts/bench_web.py [--duration 10] [--connections 16] [--workers 2]

Stands up the whole local stack: anvil (through ape), the contracts as scripts/deploy.py deploys
them, the embedded evidence node, and a populated อปท. (tests/frontend/world.py: a mango lot with
five stages, custody changes, a split, grades by attest and attestMany, evidence bundles). The site
runs under uvicorn with one worker per core in its own processes; `wrk` (Debian) drives it, or, when
wrk is missing, an async httpx client in a separate process. Each request does the real work a
page view needs at a new chain head: one `eth_getBlockByNumber` to pin the head, then the rendered
page from the cache keyed by that head (a new block re-reads the history; verified CIDs are never
re-verified). Anchor measured in the same run: `/healthz` (the framework's floor on this host).
Targets (issue 7): rps >= 200 sustained, p99 <= 50 ms, 0 errors. Write path, on a second site of its own:
a 1 GiB upload to every upload route is refused having parsed, and taken from the socket, <= the limit
+ 64 KiB (the site runs with `tambon web serve`'s uvicorn options, frontend.http); no anonymous write is
accepted; the verify page keeps p99 <= 50 ms at 200 req/s while 8 signed-in clients upload at their limits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VVM_BINARY_PATH", str(REPO / ".venv" / "vvm"))
os.environ["PATH"] = f"{REPO / 'node_modules' / '.bin'}:{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"
RESULTS = REPO / "bench" / "results" / "web.json"

from frontend.http import UVICORN_ARGS  # noqa: E402  (the site runs as `tambon web serve` runs it)

PACED = r"""
# Open-loop load at a fixed arrival rate over keep-alive HTTP/1.1 connections (raw asyncio streams,
# uvloop): request i is due at t0 + i/rate and its latency counts from that due time, so a stall
# shows up in the percentiles instead of silently lowering the request rate (no coordinated omission).
# A path "@file" names a file of paths: each request asks for a random one of them.
import asyncio, json, random, sys, time
import uvloop

async def main(host, port, path, rate, duration, connections):
    paths = open(path[1:]).read().split() if path.startswith("@") else [path]
    requests = [f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Language: en\r\n\r\n".encode() for p in paths]
    pool = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    latencies, errors = [], 0

    async def one(due):
        nonlocal errors
        reader, writer = await pool.get()
        try:
            writer.write(random.choice(requests))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            if status != 200:
                errors += 1
            pool.put_nowait((reader, writer))
        except Exception:
            errors += 1
            pool.put_nowait(await asyncio.open_connection(host, port))
        latencies.append(time.perf_counter() - due)

    total = int(rate * duration)
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(json.dumps({"requests": total, "seconds": elapsed, "rps": total / elapsed, "p50_ms": p(0.50),
                      "p99_ms": p(0.99), "max_ms": latencies[-1] * 1000, "errors": errors}))

uvloop.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])))
"""


STATIC_SERVER = r"""
# The floor of any HTTP server here: `workers` forked processes (uvloop) on one listening socket, each
# answering every request on a keep-alive connection with the same ready-made 20 KB page, no framework.
import asyncio, os, socket, sys
import uvloop

port, workers = int(sys.argv[1]), int(sys.argv[2])
body = b"<!doctype html>" + b"x" * 20_000
answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: %d\r\n\r\n" % len(body) + body

class Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.seen = transport, b""
    def data_received(self, data):
        self.seen += data
        while b"\r\n\r\n" in self.seen:
            _, self.seen = self.seen.split(b"\r\n\r\n", 1)
            self.transport.write(answer)

listening = socket.create_server(("127.0.0.1", port), backlog=1024)
for _ in range(workers - 1):
    if os.fork() == 0:
        break

async def serve():
    server = await asyncio.get_running_loop().create_server(Answer, sock=listening)
    await server.serve_forever()

uvloop.run(serve())
"""


def static_floor(rate: float, duration: int, connections: int, workers: int) -> dict:
    """Open-loop latency of `STATIC_SERVER` (a ready-made page, no framework) on this host, now."""
    from tests.frontend.world import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", STATIC_SERVER, str(port), str(workers)], start_new_session=True
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", server, "the static anchor server")
        return run_paced(f"http://127.0.0.1:{port}/", rate, duration, connections)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def cpu_pressure() -> float | None:
    """Share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), in percent."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return float(line.split("avg10=")[1].split()[0])


def cpu_ticks() -> tuple[int, int]:
    """All CPU time since boot and the part the hypervisor gave to other guests (steal), in ticks."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[7]


def steal_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of the CPU time between two `cpu_ticks()` readings that this host did not get, in percent."""
    total = after[0] - before[0]
    return round(100 * (after[1] - before[1]) / total, 1) if total else 0.0


def run_wrk(url: str, duration: int, connections: int, threads: int, script: Path | None = None) -> dict:
    extra = ["-s", str(script)] if script is not None else []
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "5s",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    seconds = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", out, re.M))

    def pct(key: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", lat[key])
        return _ms(m.group(1), m.group(2))

    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = (sum(map(int, socket.groups())) if socket else 0) + (int(non2xx.group(1)) if non2xx else 0)
    return {
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "errors": errors,
        "raw": out,
    }


def run_paced(url: str, rate: float, duration: int, connections: int, paths: Path | None = None) -> dict:
    """Open-loop load on `url`, or on random paths of the file `paths` on `url`'s host."""
    parts = httpx.URL(url)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            PACED,
            parts.host,
            str(parts.port),
            f"@{paths}" if paths is not None else parts.raw_path.decode(),
            str(rate),
            str(duration),
            str(connections),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


UPLOAD_ROUTES = ("/api/evidence", "/api/capture/steps")
GIB = 1 << 30


def _post_chunked(url: str, path: str, total: int, cookie: str = "") -> int:
    """POST `total` bytes of one never-ending multipart file part, chunked; returns the HTTP status."""
    import socket

    parts = httpx.URL(url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.host}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        + (f"Cookie: tambon_session={cookie}\r\n" if cookie else "")
        + "\r\n"
    ).encode()
    part = b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n\xff\xd8\xff'
    chunk = os.urandom(256 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with socket.create_connection((parts.host, parts.port), timeout=30) as s:
        s.sendall(head + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        sent = 0
        try:
            while sent < total:
                s.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed: the rest of the gigabyte is never sent
        answer = b""
        try:
            while data := s.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0


def sign_in(site: str, account) -> str:
    """A session cookie for `account` (Sign-In with Ethereum through the site, as the pages do)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    with httpx.Client(base_url=site, timeout=30) as http:
        text = http.get("/api/auth/message", params={"address": account.address}).json()["message"]
        signature = Account.sign_message(encode_defunct(text=text), account.private_key).signature.hex()
        http.post("/api/auth/login", json={"message": text, "signature": "0x" + signature}).raise_for_status()
        return http.cookies["tambon_session"]


def upload_overlimit_figures(site: str, cookie: str, log_path: Path) -> dict:
    """A 1 GiB chunked upload to every upload route, signed in: the bytes the site read before its 413
    (from its own `web.body_refused` log line), against the route's limit + 64 KiB."""
    from frontend.app import upload_limits
    from frontend.settings import WebSettings

    limits = upload_limits(WebSettings())
    routes = {}
    for path in UPLOAD_ROUTES:
        status = _post_chunked(site, path, GIB, cookie)
        time.sleep(0.5)  # let the worker write its log line
        lines = [x for x in log_path.read_text(errors="replace").splitlines() if "web.body_refused" in x]
        line = next(x for x in reversed(lines) if f"path={path}" in x)
        parsed = int(re.search(r"bytes_parsed=(\d+)", line).group(1))
        received = int(re.search(r"bytes_received=(\d+)", line).group(1))
        routes[path] = {
            "status": status,
            "limit": limits[path],
            "bytes_parsed": parsed,
            "bytes_received": received,
        }
    worst = max(routes.values(), key=lambda r: r["bytes_parsed"] - r["limit"])
    worst_received = max(routes.values(), key=lambda r: r["bytes_received"] - r["limit"])
    return {
        "upload_reject_overlimit_bytes_read": worst["bytes_parsed"],
        "upload_reject_overlimit_limit_bytes": worst["limit"],
        "upload_reject_overlimit_target_bytes": worst["limit"] + 64 * 1024,
        "upload_reject_overlimit_bytes_received_by_server": worst_received["bytes_received"],
        "upload_reject_overlimit_statuses": sorted({r["status"] for r in routes.values()}),
        "upload_reject_overlimit_routes": routes,
        "upload_reject_overlimit_method": (
            "1 GiB chunked per route; bytes_read = body bytes handed to the site's parsers before the 413; "
            "bytes_received = those plus the body message that crossed the limit (the site's protocol, "
            "frontend.http, reads 32 KiB per recv and pauses at 32 KiB of unread body, so that message is "
            "under 64 KiB; with uvloop or asyncio defaults it was 150-218 KiB, their 256 KiB reads); the "
            "target holds for both"
        ),
        "meets_upload_reject_target": all(
            r["status"] == 413 and r["bytes_received"] <= r["limit"] + 64 * 1024 for r in routes.values()
        ),
    }


def anon_write_figures(site: str, node_url: str, batch_id: int, attempts: int = 20) -> dict:
    """Anonymous writes on every route that stores something: site uploads and the evidence RPC from a
    web page's origin. Counts those accepted (2xx)."""
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(20_000)
    record = json.dumps({"schema_version": "1"})
    accepted = tried = 0
    with httpx.Client(timeout=30) as http:
        for i in range(attempts):
            answers = [
                http.post(f"{site}/api/evidence", files={"files": ("a.jpg", jpeg)}, data={"grant_id": "0"}),
                http.post(
                    f"{site}/api/capture/steps",
                    files={"photos": ("a.jpg", jpeg)},
                    data={"batch_id": str(batch_id), "stage": "HARVEST", "record": record},
                ),
                http.post(
                    f"{node_url}/api/v0/add",
                    files={"file": (f"x{i}.html", b"<script>1</script>")},
                    headers={"Origin": "http://attacker.example"},
                ),
                http.post(
                    f"{node_url}/api/v0/pin/rm",
                    params={"arg": "bafkqaaa"},
                    headers={"Origin": "http://attacker.example"},
                ),
            ]
            tried += len(answers)
            accepted += sum(1 for r in answers if r.status_code < 300)
    return {"anon_write_accepted": accepted, "anon_write_attempts": tried, "target_anon_write_accepted": 0}


def flood_figures(
    site: str, page: str, cookies: list[str], grant_id: int, rate: float, duration: int, connections: int
) -> dict:
    """The verify page at `rate` req/s while every session uploads as fast as its rate limit lets it
    (a 1 MiB photo each time; a 429 makes it wait its Retry-After)."""
    import threading

    stop = threading.Event()
    counts = {"uploads": 0, "refused_429": 0, "resets": 0, "errors": 0}
    photo = b"\xff\xd8\xff\xe0" + os.urandom(1 << 20)

    def uploader(cookie: str) -> None:
        with httpx.Client(base_url=site, timeout=60, cookies={"tambon_session": cookie}) as http:
            while not stop.is_set():
                try:
                    r = http.post(
                        "/api/evidence", files={"files": ("f.jpg", photo)}, data={"grant_id": str(grant_id)}
                    )
                except httpx.TransportError:
                    # a 429 goes out before the body is read and the connection closes with it; the
                    # photo still in flight makes the kernel reset the connection, losing the answer
                    counts["resets"] += 1
                    stop.wait(1.0)
                    continue
                if r.status_code == 200:
                    counts["uploads"] += 1
                elif r.status_code == 429:
                    counts["refused_429"] += 1
                    stop.wait(min(5.0, float(r.headers.get("retry-after", "1"))))
                else:
                    counts["errors"] += 1
                    stop.wait(1.0)

    threads = [threading.Thread(target=uploader, args=(c,), daemon=True) for c in cookies]
    for t in threads:
        t.start()
    time.sleep(2)  # uploads in flight before the measurement starts
    load_before = os.getloadavg()[0]
    paced = run_paced(page, rate, duration, connections)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return {
        "verify_p99_ms_during_upload_flood": round(paced["p99_ms"], 2),
        "verify_p50_ms_during_upload_flood": round(paced["p50_ms"], 2),
        "verify_rps_during_upload_flood": round(paced["rps"], 1),
        "verify_errors_during_upload_flood": paced["errors"],
        "upload_flood_clients": len(cookies),
        "upload_flood_uploads": counts["uploads"],
        "upload_flood_refused_429": counts["refused_429"],
        "upload_flood_connection_resets": counts["resets"],
        "upload_flood_other_errors": counts["errors"],
        "upload_flood_host_load_1min": round(load_before, 2),
        "target_verify_p99_ms_during_upload_flood": 50,
    }


def wait_until_serving(site: str, server: subprocess.Popen, what: str) -> None:
    """Block until the site answers /healthz (at most 60 s); a server that exits or never answers stops the bench."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{site}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit(f"error: {what} did not start")
        time.sleep(0.2)


def safety_figures(
    env: dict, world, node_url: str, workers: int, rate: float, duration: int, connections: int
) -> dict:
    """Write-path figures on a site of their own (its log is read for the bytes it took before a 413)."""
    from tests.frontend.world import free_port

    port = free_port()
    site = f"http://127.0.0.1:{port}"
    log_path = Path(env["TAMBON_DATA_DIR"]) / "safety-web.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "frontend.app:create_app", "--factory", *UVICORN_ARGS, "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
            env={**env, "TAMBON_PUBLIC_URL": site, "TAMBON_DATA_DIR": env["TAMBON_DATA_DIR"] + "-safety"},
            cwd=REPO, start_new_session=True, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until_serving(site, server, "the site for the write-path figures")
            page = f"{site}/batch/{world.sold_box}"
            for _ in range(4 * workers):
                httpx.get(page, timeout=60)
            figures = anon_write_figures(site, node_url, world.boxes[1])
            figures |= upload_overlimit_figures(site, sign_in(site, world.community), log_path)
            # 8 sessions: the 5 council members (any grant), the community (its own) and two second sessions
            uploaders = [*world.members, world.community, world.members[0], world.members[1]]
            cookies = [sign_in(site, a) for a in uploaders]
            figures |= flood_figures(site, page, cookies, world.grant_thb, rate, duration, connections)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return figures


LIGHTHOUSE_CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
LIGHTHOUSE_CHROME_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --no-first-run"
)
LIGHTHOUSE_GOAL = 95


def lighthouse_scores(report: dict) -> dict[str, int]:
    """Category scores (0-100) from a Lighthouse JSON report; a run that failed is an error, not a 0."""
    if report.get("runtimeError", {}).get("code") not in (None, "NO_ERROR"):
        raise ValueError(f"lighthouse: {report['runtimeError'].get('message', report['runtimeError'])}")
    scores = {}
    for name in LIGHTHOUSE_CATEGORIES:
        score = report.get("categories", {}).get(name, {}).get("score")
        if score is None:
            raise ValueError(f"lighthouse: no score for category {name!r}")
        scores[name] = round(score * 100)
    return scores


def lighthouse_failing_audits(report: dict) -> list[str]:
    """Ids of the scored audits below 0.9 in the requested categories (what to fix next)."""
    ids = {ref["id"] for cat in report.get("categories", {}).values() for ref in cat.get("auditRefs", [])
           if ref.get("weight", 0) > 0}  # fmt: skip
    audits = report.get("audits", {})
    return sorted(i for i in ids if audits.get(i, {}).get("score") is not None and audits[i]["score"] < 0.9)


def run_lighthouse(url: str, preset: str) -> dict:
    """One Lighthouse run (npm `lighthouse`, Debian chromium) of `url` with the mobile or desktop preset."""
    command = [
        "lighthouse", url, "--output=json", "--output-path=stdout", "--quiet",
        f"--chrome-flags={LIGHTHOUSE_CHROME_FLAGS}",
        f"--only-categories={','.join(LIGHTHOUSE_CATEGORIES)}",
    ]  # fmt: skip
    if preset == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"error: lighthouse failed on {url}: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def lighthouse_figures(site: str, pages: dict[str, str], presets: list[str]) -> dict:
    """Scores per page, preset and category; the host load beside each run (performance scores fall on
    a loaded host, the other categories do not depend on it)."""
    figures: dict = {}
    for page, path in pages.items():
        for preset in presets:
            load = os.getloadavg()[0]
            report = run_lighthouse(site + path, preset)
            figures.setdefault(page, {})[preset] = {
                **lighthouse_scores(report),
                "failing_audits": lighthouse_failing_audits(report),
                "host_load_1min": round(load, 2),
                "path": path,
            }
    return figures


def lighthouse_bench(workers: int, presets: list[str]) -> None:
    """Stand the stack up as the load bench does, run Lighthouse on the verify page, the grants dashboard
    and the capture page, and write the scores into web.json under `lighthouse` (other figures kept)."""
    if not shutil.which("lighthouse"):
        raise SystemExit("error: npm `lighthouse` is not installed (run `make install`)")
    from ape import accounts, chain, networks, project

    from tambon.accounts import demo_account
    from tambon.deploy import deploy_all
    from tests.frontend.world import evidence_node, free_port, populate

    work = Path(tempfile.mkdtemp(prefix="bench-lighthouse-"))
    with networks.parse_network_choice("ethereum:local:foundry") as provider:
        test_accounts = accounts.test_accounts
        project.load_contracts()
        members = [test_accounts[i].address for i in range(1, 6)]
        deployment = deploy_all(provider.web3, demo_account(0), members, 3, "local")
        deployment.save(work / "deployments" / f"{deployment.network}.json")
        store, node = evidence_node(work / "evidence")
        world = populate(project, chain, test_accounts, deployment, store, node)
        port = free_port()
        site = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "TAMBON_NETWORK": deployment.network,
            "TAMBON_RPC_URL": provider.web3.provider.endpoint_uri,
            "TAMBON_DEPLOYMENTS_DIR": str(work / "deployments"),
            "TAMBON_DATA_DIR": str(work / "data"),
            "TAMBON_EVIDENCE_API_URL": node.url,
            "TAMBON_GATEWAY_URL": node.url,
            "TAMBON_PUBLIC_URL": site,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "frontend.app:create_app", "--factory", *UVICORN_ARGS, "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
            env=env, cwd=REPO, start_new_session=True,
        )  # fmt: skip
        try:
            wait_until_serving(site, server, "the site")
            pages = {"verify": f"/batch/{world.sold_box}", "dashboard": "/grants", "capture": "/capture/"}
            for path in pages.values():  # every worker renders and caches once
                for _ in range(2 * workers):
                    httpx.get(site + path, timeout=60).raise_for_status()
            scores = lighthouse_figures(site, pages, presets)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            node.stop()
    shutil.rmtree(work, ignore_errors=True)
    figures = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figures["lighthouse"] = {
        **scores,
        "goal_each_category": LIGHTHOUSE_GOAL,
        "cpus": os.cpu_count(),
        "host_loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "tool": "npm lighthouse, Debian chromium headless; categories " + ", ".join(LIGHTHOUSE_CATEGORIES),
        "note": "performance is measured with Lighthouse's simulated throttling on a shared 2-core host; "
        "at a high load average its score is pessimistic (CPU-bound main-thread timings)",
    }
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures["lighthouse"], indent=2))


# ------------------------------------------------------------------------------------ moving head

WRK_RANDOM_LOTS = """
-- GET /batch/<random lot> for every request; each wrk thread draws its own sequence
local ids = {%s}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  math.randomseed(os.time() * 100 + seed)
end
request = function()
  return wrk.format("GET", "/batch/" .. ids[math.random(#ids)], {["Accept-Language"] = "en"})
end
"""


def _site_env(world, url: str, index_url: str, node_url: str, site: str, data: Path) -> dict:
    return {
        **os.environ,
        "TAMBON_NETWORK": "local",
        "TAMBON_RPC_URL": url,
        "TAMBON_DEPLOYMENTS_DIR": str(world.deployments),
        "TAMBON_DATA_DIR": str(data),
        "TAMBON_INDEX_URL": index_url,
        "TAMBON_EVIDENCE_API_URL": node_url,
        "TAMBON_GATEWAY_URL": node_url,
        "TAMBON_EVIDENCE_STORE_DIR": str(world.evidence),
        "TAMBON_PUBLIC_URL": site,
        # served pages have their proofs re-checked in the background every 20 s by default: hourly
        # here, so the figures are those of the chain index and invalidation by chain events
        "TAMBON_WEB_EVIDENCE_RECHECK_SECONDS": "3600",
    }


def sync_figures(world, url: str, index_url: str, lots: bool = True, passes: int = 3) -> dict:
    """Cold sync of the whole world into an empty index, against bare chunked eth_getLogs + decode of
    the same blocks, measured alike: `passes` rounds, each an anchor pass then a sync into a fresh
    empty index (the last one `index_url`, which the site reads), the best of each reported (every
    pass beside it); then, unless `lots` is False, the lots pass timed on its own."""
    from evidence.store import LocalStore
    from tambon.chain import Deployment
    from tambon.events import EventDecoder, JsonRpc, LogReader
    from tambon.index.cli import evidence_records, follow_to_head
    from tambon.index.follower import Follower
    from tambon.index.store import IndexStore

    deployment = Deployment.load(world.deployments / "local.json")
    node = JsonRpc(url)
    head = node.block_number()
    scratch = Path(tempfile.mkdtemp(prefix="bench-sync-passes-"))
    anchors, rates, seconds = [], [], []
    try:
        for i in range(passes):
            started = time.perf_counter()
            events = LogReader(node, EventDecoder.for_deployment(deployment)).events(deployment.block, head)
            anchors.append(len(events) / (time.perf_counter() - started))
            last = i == passes - 1
            store = IndexStore(index_url if last else f"sqlite:///{scratch / f'pass-{i}.sqlite'}")
            store.migrate()
            started = time.perf_counter()
            follow_to_head(Follower(store, JsonRpc(url), deployment))  # the facts: what pages read
            seconds.append(time.perf_counter() - started)
            rates.append(store.counts()["events"] / seconds[-1])
            if not last:
                store.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lots_figures = {}
    if lots:
        # the second pass: lot identities from the records behind registrations and steps (the resolver)
        records = evidence_records(LocalStore(world.evidence, "kubo-v1"))
        started = time.perf_counter()
        follow_to_head(Follower(store, JsonRpc(url), deployment, records=records))
        lots_figures = {"index_lots_fill_seconds": round(time.perf_counter() - started, 2)}
    counts = store.counts()
    store.close()
    return lots_figures | {
        "index_sync_events_per_s": round(max(rates), 1),
        "index_sync_anchor_getlogs_decode_events_per_s": round(max(anchors), 1),
        "index_sync_ratio_to_anchor": round(max(rates) / max(anchors), 3),
        "index_sync_passes_events_per_s": [round(r, 1) for r in rates],
        "index_sync_passes_anchor_events_per_s": [round(a, 1) for a in anchors],
        "index_sync_events": counts["events"],
        "index_sync_seconds": round(min(seconds), 2),
        "index_sync_lots_rows": counts["lots"],
        "index_sync_method": (
            f"{passes} rounds, each chunked eth_getLogs + decode of the world's blocks (the anchor) then a "
            "cold sync of the facts (every event into its tables, blocks confirmed by hash) into an empty "
            "SQLite index; the best of each"
            + (
                ", then the lots pass (the records behind registrations and steps) timed on its own"
                if lots
                else ""
            )
        ),
    }


@dataclass
class ColdRenders:
    """Cold renders of the verify page in one world (facts from its index, evidence proven on the way),
    in this process, set up as a site worker is: what it keeps in memory read first, then (while
    rendering) the objects alive frozen for the collector (`frontend.collector`). `lots`: the lots
    to render (default: `samples` at random)."""

    world: Any
    url: str
    index_url: str
    node_url: str
    data: Path
    samples: int = 21
    lots: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        import asyncio

        from frontend.context import AppContext
        from frontend.settings import WebSettings
        from frontend.views import render_batch
        from tambon.settings import Settings

        settings = Settings(
            network="local", rpc_url=self.url, deployments_dir=self.world.deployments, data_dir=self.data,
            index_url=self.index_url, evidence_api_url=self.node_url, gateway_url=self.node_url,
            public_url="http://bench",
        )  # fmt: skip
        self.ctx = AppContext(settings, WebSettings(evidence_retry_seconds=600.0))
        asyncio.run(self.ctx.preload())
        self.head = asyncio.run(self.ctx.head())
        chosen = [b for b, _ in random.Random(3).sample(self.world.lots, len(self.world.lots))]
        warm = next(b for b in chosen if b not in self.lots)
        render_batch(self.ctx, self.head, warm, "en")  # templates, connections and shared proofs warm
        self.lots = self.lots or [b for b in chosen if b != warm][: self.samples]

    def render_next(self) -> None:
        """Render the next lot never rendered here, timed."""
        from frontend.services.qr import qr_svg
        from frontend.views import render_batch
        from tambon.attestation import forget_attestation_signers
        from tambon.verify import batch_tree

        # each sample builds its own lot's attestMany Merkle tree and recovers its root's signer: the
        # 10-lot world's attestations share one call, whose tree and signer kept from an earlier sample
        # would make its renders cheaper than cold; and its own QR symbol: both worlds name their lots
        # BW-00000... under one GTIN
        batch_tree.cache_clear()
        forget_attestation_signers()
        qr_svg.cache_clear()
        batch_id = self.lots[len(self.times)]
        started = time.perf_counter()
        render_batch(self.ctx, self.head, batch_id, "en")
        self.times.append((time.perf_counter() - started) * 1000)

    @property
    def done(self) -> bool:
        return len(self.times) == len(self.lots)


def lot_shapes(index_url: str) -> dict[int, tuple[int, int]]:
    """Each lot's (steps, attestations) in an index: what its page shows, and so what it costs."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(index_url.removeprefix("sqlite:///"))) as db:
        lots = {int(b): [0, 0] for (b,) in db.execute("SELECT batch_id FROM batches")}
        for column, table in enumerate(("steps", "attestations")):
            for b, count in db.execute(f"SELECT batch_id, count(*) FROM {table} GROUP BY batch_id"):
                lots[int(b)][column] = count
    return {b: (steps, attested) for b, (steps, attested) in lots.items()}


def like_lots(small_lots: list[int], small_index: str, big_index: str, samples: int) -> list[int]:
    """`samples` lots of the big world shaped as the small world's lots are (as many steps and
    attestations), in turn: the ratio then compares like pages, and only the world's size differs."""
    small_shapes, big_shapes = lot_shapes(small_index), lot_shapes(big_index)
    by_shape: dict[tuple[int, int], list[int]] = {}
    for b in random.Random(3).sample(sorted(big_shapes), len(big_shapes)):
        by_shape.setdefault(big_shapes[b], []).append(b)
    wanted = [small_shapes[b] for b in small_lots if by_shape.get(small_shapes[b])]
    picked: list[int] = []
    while wanted and len(picked) < samples:
        shape = wanted[len(picked) % len(wanted)]
        picked.append(by_shape[shape].pop())  # each lot once: a second render would not be cold
        wanted = [w for w in wanted if by_shape[w]]
    return picked


def render_cost_figures(small: ColdRenders, big: ColdRenders) -> dict:
    """Median cold render in each world and their ratio, the two worlds' samples taken in turn (the
    small world's between the big world's, spread evenly) so that the host's speed, which drifts over
    minutes, is the same for both."""
    import statistics

    from frontend.collector import long_lived_frozen

    with long_lived_frozen():
        while not big.done:
            big.render_next()
            if not small.done and len(small.times) < len(big.times) * len(small.lots) / len(big.lots):
                small.render_next()
        while not small.done:
            small.render_next()
    big_ms, small_ms = statistics.median(big.times), statistics.median(small.times)
    return {
        "render_cost_ratio_10k_vs_10_lots": round(big_ms / small_ms, 3),
        "cold_render_ms_big_world": round(big_ms, 2),
        "cold_render_ms_10_lots": round(small_ms, 2),
        "cold_render_samples": {"big_world": len(big.times), "10_lots": len(small.times)},
    }


class Writer:
    """Adds a step or an attestation to a random lot at `rate` tx/s on the moving chain, and times how
    long each takes from mined (its receipt first seen, polled every 20 ms) to visible in the lot's
    verify data on the site (polled every 20 ms)."""

    def __init__(self, world, url: str, site: str, rate: float, index_url: str) -> None:
        import threading

        from web3 import Web3

        from tambon.chain import Deployment, load_abi
        from tambon.index.reader import IndexReader
        from tambon.index.store import IndexStore

        deployment = Deployment.load(world.deployments / "local.json")
        w3 = Web3(Web3.HTTPProvider(url))
        self.provenance = w3.eth.contract(
            address=deployment.contracts["BatchProvenance"], abi=load_abi("BatchProvenance")
        )
        self.registry = w3.eth.contract(
            address=deployment.contracts["AttestationRegistry"], abi=load_abi("AttestationRegistry")
        )
        self.chain_id = deployment.chain_id
        self.world, self.url, self.site, self.rate = world, url, site, rate
        self.spare = list(world.spare_evidence)  # stored files no attestation names yet
        self.stop = threading.Event()
        self.index = IndexReader(IndexStore(index_url))
        self.lags: list[float] = []
        self.index_lags: list[float] = []  # mined -> in the index (the follower's share of the lag)
        self.sent = self.failed = self.unseen = 0
        self._watchers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self.stop.set()
        self._thread.join(30)
        for t in self._watchers:
            t.join(30)

    def _tx(self, rng: random.Random, batch_id: int) -> tuple[dict, str]:
        from bench_world import HOLDER, rpc

        from tambon.attestation import sample_attestation, sign_attestation
        from tests.frontend.world import MODEL_SHA, ORACLE_KEY

        if rng.random() < 0.5 or not self.spare:
            step_record = bytes.fromhex(rng.choice(self.world.step_evidence)[2:])
            data = self.provenance.encode_abi("addStep", args=[batch_id, 2, step_record, 0x55, 0])
            return {"from": HOLDER, "to": self.provenance.address, "data": data, "gas": hex(300_000)}, "step"
        now = int(rpc(self.url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        att = sample_attestation(batch_id, bytes.fromhex(self.spare.pop()[2:]), MODEL_SHA, now)
        signature = sign_attestation(att, ORACLE_KEY, self.chain_id, self.registry.address)
        data = self.registry.encode_abi("attest", args=[att.as_tuple(), signature])
        return {"from": HOLDER, "to": self.registry.address, "data": data, "gas": hex(500_000)}, "attestation"

    def _seen(self, client: httpx.Client, batch_id: int) -> tuple[int, int]:
        data = client.get(f"{self.site}/api/batches/{batch_id}").json()
        return data["step_count"], len(data["attestations"])

    def _indexed(self, batch_id: int) -> tuple[int, int]:
        facts = self.index.batch(batch_id)
        return (facts.step_count if facts else 0), len(self.index.attestation_events([batch_id]))

    def _run(self) -> None:
        import threading

        from bench_world import rpc

        rng = random.Random(11)
        client = httpx.Client(timeout=30)
        due = time.monotonic()
        while not self.stop.is_set():
            due += 1 / self.rate
            time.sleep(max(0.0, due - time.monotonic()))
            batch_id = rng.choice(self.world.lots)[0]
            tx, kind = self._tx(rng, batch_id)
            before = self._seen(client, batch_id)
            tx_hash = rpc(self.url, "eth_sendTransaction", [tx])
            self.sent += 1
            watcher = threading.Thread(
                target=self._watch, args=(tx_hash, batch_id, kind, before), daemon=True
            )
            watcher.start()
            self._watchers.append(watcher)

    def _watch(self, tx_hash: str, batch_id: int, kind: str, before: tuple[int, int]) -> None:
        from bench_world import rpc

        deadline = time.monotonic() + 30
        while (receipt := rpc(self.url, "eth_getTransactionReceipt", [tx_hash])) is None:
            if time.monotonic() > deadline:
                self.unseen += 1
                return
            time.sleep(0.02)
        mined = time.monotonic()
        if receipt["status"] != "0x1":
            self.failed += 1
            return

        def arrived(seen: tuple[int, int]) -> bool:
            return seen[0] > before[0] if kind == "step" else seen[1] > before[1]

        indexed = False
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                if not indexed and arrived(self._indexed(batch_id)):
                    indexed = True
                    self.index_lags.append(time.monotonic() - mined)
                if arrived(self._seen(client, batch_id)):
                    self.lags.append(time.monotonic() - mined)
                    return
                time.sleep(0.02)
        self.unseen += 1


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


RESOLVER = r"""
# GTIN + lot lookups, one keep-alive HTTP/1.1 connection, one at a time; argv: site, gtin, lots file
# ("batch code" lines), samples. Prints each lookup's milliseconds and how many answers were wrong.
# Raw socket reads and writes, as the paced load's: a client library's own CPU time per request (about
# a millisecond for httpx here) would be timed as the resolver's, and on a shared host waits for a
# core inside the timed window.
import json, random, socket, sys, time
from urllib.parse import urlsplit

site, gtin, lots, samples = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().splitlines(), int(sys.argv[4])
parts = urlsplit(site)
rng = random.Random(5)
times, wrong = [], 0


def answer(conn, buffered):
    while b"\r\n\r\n" not in buffered:
        chunk = conn.recv(65536)
        if not chunk:
            raise SystemExit("error: the site closed the connection")
        buffered += chunk
    head, _, rest = buffered.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (x.partition(":") for x in lines[1:])}
    size = int(headers.get("content-length", "0"))
    while len(rest) < size:
        rest += conn.recv(65536)
    return int(lines[0].split(" ")[1]), headers, rest[size:]


with socket.create_connection((parts.hostname, parts.port)) as conn:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffered = b""
    for _ in range(samples):
        batch_id, code = rng.choice(lots).split(" ", 1)
        request = f"GET /01/{gtin}/10/{code} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        started = time.perf_counter()
        conn.sendall(request)
        status, headers, buffered = answer(conn, buffered)
        times.append((time.perf_counter() - started) * 1000)
        if status != 307 or f"/batch/{batch_id}?" not in headers.get("location", ""):
            wrong += 1
print(json.dumps({"times": times, "wrong": wrong}))
"""


def resolver_figures(site: str, world, samples: int, work: Path, nice: int = 0) -> dict:
    """GTIN + lot -> 307 to the lot's page, for random lots, one keep-alive connection, one lookup at a
    time (raw HTTP/1.1 on a socket, see RESOLVER). The client runs in a process of its own, as wrk and
    the paced load do: in this one it would share the
    GIL with the evidence node and the writer's watchers, and time their work as the resolver's. With
    `nice` below 0 the client runs ahead of the other processes on the host (root only): what is left
    is the site's own time, without the client's wait for a CPU on a host it shares with the chain,
    the writer and the site."""
    lots = work / "resolver-lots.txt"
    lots.write_text("\n".join(f"{batch_id} {code}" for batch_id, code in world.lots))
    out = subprocess.run(
        [sys.executable, "-c", RESOLVER, site, world.gtin, str(lots), str(samples)],
        capture_output=True, text=True, check=True, preexec_fn=(lambda: os.nice(nice)) if nice else None,
    ).stdout  # fmt: skip
    found = json.loads(out)
    times = found["times"]
    suffix = f"_client_at_nice_{nice}" if nice else ""
    return {
        f"resolver_lookup_p99_ms{suffix}": round(_percentile(times, 0.99), 2),
        f"resolver_lookup_p50_ms{suffix}": round(_percentile(times, 0.50), 2),
        f"resolver_lookups{suffix}": samples,
        f"resolver_wrong_answers{suffix}": found["wrong"],
    }


def _start_site(env: dict, port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "frontend.app:create_app", "--factory", *UVICORN_ARGS, "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=REPO, start_new_session=True,
    )  # fmt: skip
    wait_until_serving(f"http://127.0.0.1:{port}", server, "the moving-head site")
    return server


def _warm(site: str, world, threads: int = 8) -> float:
    """Every lot's page rendered once (workers share renders through the data dir); seconds taken."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    # a connection per page: kept-alive ones, opened while a worker was still starting, all landed on
    # the other, which then rendered every page alone (seen: one worker idle, 547 s instead of 300)
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(timeout=120, limits=fresh) as client, ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(lambda lot: client.get(f"{site}/batch/{lot[0]}").status_code, world.lots))
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"error: {len(bad)} lots' pages failed while warming up")
    return time.perf_counter() - started


def moving_head_bench(args) -> None:
    """The verify page on a moving chain (anvil at 1 s blocks) with a world of `--lots` lots read from the
    chain index, while a writer adds a step or an attestation to a random lot at 5 tx/s; figures into
    web.json (other figures kept)."""
    from bench_world import free_port, load_or_build

    from tests.frontend.world import evidence_node

    if not shutil.which("wrk"):
        raise SystemExit("error: wrk is not installed (run `make install`)")
    big = load_or_build(args.lots, args.steps, args.attestations)
    small = load_or_build(10, 50, 10)
    work = Path(tempfile.mkdtemp(prefix="bench-moving-head-"))
    figures: dict = {"moving_head_world": {"lots": len(big.lots), "steps": big.steps,
                                           "attestations": big.attestations, "events": big.events}}  # fmt: skip
    try:
        with big.chain(block_time=1) as url:
            _store, node = evidence_node(big.evidence)
            index_url = f"sqlite:///{work / 'index.sqlite'}"
            try:
                figures |= sync_figures(big, url, index_url)
                with small.chain() as small_url:
                    _small_store, small_node = evidence_node(small.evidence)
                    try:
                        small_index = f"sqlite:///{work / 'small-index.sqlite'}"
                        sync_figures(small, small_url, small_index)
                        small_renders = ColdRenders(
                            small, small_url, small_index, small_node.url, work / "small-render"
                        )
                        like = like_lots(small_renders.lots, small_index, index_url, samples=21)
                        big_renders = ColdRenders(
                            big, url, index_url, node.url, work / "big-render", lots=like
                        )
                        figures |= render_cost_figures(small_renders, big_renders)
                    finally:
                        small_node.stop()
                port = free_port()
                site = f"http://127.0.0.1:{port}"
                env = _site_env(big, url, index_url, node.url, site, work / "data")
                follower = subprocess.Popen(
                    [sys.executable, "-m", "tambon", "index", "run", "--poll", "0.1"],
                    env=env, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                )  # fmt: skip
                server = _start_site(env, port, args.workers)
                try:
                    figures["moving_head_warmup_s"] = round(_warm(site, big), 1)
                    writer = Writer(big, url, site, args.write_rate, index_url)
                    writer.start()
                    time.sleep(2)  # writes in flight before the measurement
                    script = work / "random-lots.lua"
                    script.write_text(WRK_RANDOM_LOTS % ",".join(str(b) for b, _ in big.lots))
                    load_before, ticks_before = os.getloadavg()[0], cpu_ticks()
                    closed = run_wrk(
                        f"{site}/batch/{big.lots[0][0]}", args.duration, args.connections, 2, script
                    )
                    paths = work / "paths.txt"
                    paths.write_text("\n".join(f"/batch/{b}" for b, _ in big.lots))
                    paced = run_paced(f"{site}/", args.rate, args.duration, args.connections, paths)
                    paced_pressure = cpu_pressure()
                    # anchors on the same moving head: the same open loop on the site's /healthz, and
                    # on a server of ready-made pages (no framework)
                    healthz = run_paced(f"{site}/healthz", args.rate, args.duration, args.connections)
                    static = static_floor(args.rate, args.duration, args.connections, args.workers)
                    figures |= resolver_figures(site, big, args.resolver_samples, work)
                    if os.geteuid() == 0:
                        figures |= resolver_figures(site, big, args.resolver_samples, work, nice=-10)
                    writer.finish()
                    figures["moving_head_cpu_steal_pct"] = steal_pct(ticks_before, cpu_ticks())
                finally:
                    for process in (server, follower):
                        os.killpg(process.pid, signal.SIGTERM)
                        process.wait(timeout=30)
            finally:
                node.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures |= {
        "verify_moving_head_rps": round(closed["rps"], 1),
        "verify_moving_head_closed_p99_ms": round(closed["p99_ms"], 2),
        "verify_moving_head_p99_ms": round(paced["p99_ms"], 2),
        "verify_moving_head_p50_ms": round(paced["p50_ms"], 2),
        "verify_moving_head_paced_rps": round(paced["rps"], 1),
        "healthz_moving_head_p99_ms": round(healthz["p99_ms"], 2),
        "healthz_moving_head_p50_ms": round(healthz["p50_ms"], 2),
        "static_page_moving_head_p99_ms": round(static["p99_ms"], 2),
        "static_page_moving_head_p50_ms": round(static["p50_ms"], 2),
        "moving_head_paced_cpu_pressure_pct": paced_pressure,
        "verify_errors": closed["errors"] + paced["errors"],
        "index_lag_p99_s": round(_percentile(writer.lags, 0.99), 3),
        "index_lag_p50_s": round(_percentile(writer.lags, 0.50), 3),
        "index_lag_samples": len(writer.lags),
        "index_follow_lag_p99_s": round(_percentile(writer.index_lags, 0.99), 3),
        "index_follow_lag_p50_s": round(_percentile(writer.index_lags, 0.50), 3),
        "writer_txs": writer.sent,
        "writer_failed": writer.failed,
        "writer_not_seen_in_30s": writer.unseen,
        "moving_head_host_load_1min": round(load_before, 2),
        "moving_head_method": (
            f"anvil --block-time 1 with --load-state of the cached world; `tambon index run` and uvicorn "
            f"({args.workers} workers, evidence re-checked hourly) on one SQLite index; writer {args.write_rate} tx/s (addStep or attest on "
            f"random lots); closed loop wrk -t2 -c{args.connections} -d{args.duration}s over random lots; open "
            f"loop {args.rate} req/s over random lots, then (anchors) on /healthz and on a server of one ready-made page (uvloop, no framework, as many processes as workers); every lot's page rendered once before the load; lag from "
            "the receipt first seen (20 ms polls) to the change in /api/batches/N (20 ms polls); follow lag: "
            "to the change in the index itself (its share of the lag)"
        ),
    }
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current["moving_head"] = figures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(current, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


def sync_bench(args) -> None:
    """Only the cold sync of the `--lots` world's facts against its anchor, on anvil at 1 s blocks as
    in the moving-head run, printed (web.json is left as it is; the lots pass is not run)."""
    from bench_world import load_or_build

    world = load_or_build(args.lots, args.steps, args.attestations)
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        with world.chain(block_time=1) as url:
            load_before = os.getloadavg()[0]
            figures = sync_figures(world, url, f"sqlite:///{work / 'index.sqlite'}", lots=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["host_load_1min"] = round(max(load_before, os.getloadavg()[0]), 2)
    print(json.dumps(figures, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per run (bounded)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="paced rounds; the median round is reported")
    parser.add_argument(
        "--rate", type=float, default=400.0, help="paced arrival rate (requests/s), 2x the target"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="uvicorn workers (one per core)"
    )
    parser.add_argument(
        "--lighthouse", action="store_true", help="only the Lighthouse scores (other figures kept)"
    )
    parser.add_argument("--presets", default="mobile,desktop", help="Lighthouse presets, comma-separated")
    parser.add_argument(
        "--moving-head",
        action="store_true",
        help="only the moving-head figures: a big world on anvil at 1 s blocks, read from the chain index",
    )
    parser.add_argument(
        "--sync-only",
        action="store_true",
        help="only the cold sync of the moving-head world against its anchor, printed (no web.json)",
    )
    parser.add_argument("--lots", type=int, default=10_000, help="moving head: lots in the world")
    parser.add_argument("--steps", type=int, default=50_000, help="moving head: steps in the world")
    parser.add_argument("--attestations", type=int, default=10_000, help="moving head: attestations")
    parser.add_argument("--write-rate", type=float, default=5.0, help="moving head: writer tx/s")
    parser.add_argument("--resolver-samples", type=int, default=2000, help="moving head: resolver lookups")
    args = parser.parse_args()
    if args.lighthouse:
        lighthouse_bench(args.workers, args.presets.split(","))
        return
    if args.moving_head:
        moving_head_bench(args)
        return
    if args.sync_only:
        sync_bench(args)
        return

    from ape import accounts, chain, networks, project

    from tambon.accounts import demo_account
    from tambon.deploy import deploy_all
    from tests.frontend.world import evidence_node, free_port, populate

    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    with networks.parse_network_choice("ethereum:local:foundry") as provider:
        rpc_url = provider.web3.provider.endpoint_uri
        test_accounts = accounts.test_accounts
        project.load_contracts()  # compiles into .build/, which the deployer reads
        members = [test_accounts[i].address for i in range(1, 6)]
        result = deploy_all(provider.web3, demo_account(0), members, 3, "local")
        result.save(work / "deployments" / f"{result.network}.json")
        store, node = evidence_node(work / "evidence")
        world = populate(project, chain, test_accounts, result, store, node)
        port = free_port()
        site = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "TAMBON_NETWORK": result.network,
            "TAMBON_RPC_URL": rpc_url,
            "TAMBON_DEPLOYMENTS_DIR": str(work / "deployments"),
            "TAMBON_DATA_DIR": str(work / "data"),
            "TAMBON_EVIDENCE_API_URL": node.url,
            "TAMBON_GATEWAY_URL": node.url,
            "TAMBON_PUBLIC_URL": site,
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "frontend.app:create_app",
                "--factory",
                *UVICORN_ARGS,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
        try:
            wait_until_serving(site, server, "the site")
            page = f"{site}/batch/{world.sold_box}"
            first = httpx.get(page, timeout=60)
            assert first.status_code == 200 and "17 of 17 checks passed" in first.text, first.text[:500]
            t0 = time.perf_counter()
            for _ in range(4 * args.workers):  # every worker renders and caches once
                assert httpx.get(page, timeout=60).status_code == 200
            warm_s = time.perf_counter() - t0
            # a cold render at a new chain head (history re-read, proofs already cached)
            world.provenance.transferFrom(world.packer, world.community, world.boxes[1], sender=world.packer)
            t0 = time.perf_counter()
            assert httpx.get(page, timeout=60).status_code == 200
            new_head_ms = (time.perf_counter() - t0) * 1000
            for _ in range(4 * args.workers):
                httpx.get(page, timeout=60)
            rounds = []
            for _ in range(args.rounds):
                load_before = os.getloadavg()[0]
                pressure_before = cpu_pressure()
                result_round = run_paced(page, args.rate, args.duration, args.connections)
                result_round["host_load_1min"] = load_before
                result_round["cpu_pressure_before_pct"] = pressure_before
                rounds.append(result_round)
            # the headline is the median round by p99 (the host is shared; every round is listed)
            paced = sorted(rounds, key=lambda r: r["p99_ms"])[len(rounds) // 2]
            safety = safety_figures(
                env, world, node.url, args.workers, 200.0, args.duration, args.connections
            )
            saturation = anchor = None
            if shutil.which("wrk"):
                saturation = run_wrk(page, args.duration, args.connections, 2)
                anchor = run_wrk(f"{site}/healthz", max(3, args.duration // 2), args.connections, 2)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            node.stop()
    figures = {
        "rps": round(paced["rps"], 1),
        "p50_ms": round(paced["p50_ms"], 2),
        "p99_ms": round(paced["p99_ms"], 2),
        "max_ms": round(paced["max_ms"], 2),
        "errors": paced["errors"],
        "requests": paced["requests"],
        "duration_s": round(paced["seconds"], 2),
        "method": "open loop at a fixed rate (latency from each request's due time), keep-alive HTTP/1.1",
        "offered_rate_rps": args.rate,
        "connections": args.connections,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "host_load_1min": round(paced["host_load_1min"], 2),
        "rounds": [
            {
                "rps": round(r["rps"], 1),
                "p99_ms": round(r["p99_ms"], 2),
                "errors": r["errors"],
                "host_load_1min": round(r["host_load_1min"], 2),
                "cpu_pressure_before_pct": r["cpu_pressure_before_pct"],
            }
            for r in rounds
        ],
        "page_bytes": len(first.content),
        "page_checks": 17,
        "new_head_render_ms": round(new_head_ms, 1),
        "warmup_s": round(warm_s, 2),
        "target_rps": 200,
        "target_p99_ms": 50,
        "target_errors": 0,
        "meets_targets": paced["rps"] >= 200 and paced["p99_ms"] <= 50 and paced["errors"] == 0,
    }
    if saturation is not None:
        figures.update(
            saturation_rps=round(saturation["rps"], 1),
            saturation_p50_ms=round(saturation["p50_ms"], 2),
            saturation_p99_ms=round(saturation["p99_ms"], 2),
            saturation_errors=saturation["errors"],
            saturation_tool=f"wrk -t2 -c{args.connections} -d{args.duration}s (closed loop)",
            anchor_healthz_rps=round(anchor["rps"], 1),
            anchor_healthz_p99_ms=round(anchor["p99_ms"], 2),
        )
    figures.update(safety)
    if RESULTS.exists():  # written by `--lighthouse` and `--moving-head`, separate runs
        previous = json.loads(RESULTS.read_text())
        figures["lighthouse"] = previous.get("lighthouse")
        figures["moving_head"] = previous.get("moving_head")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
