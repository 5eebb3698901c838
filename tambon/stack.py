"""The local stack: anvil, the evidence node, the oracle and the web site as supervised processes.

Each service runs in its own process group with its log in `<data_dir>/logs/` and its pid in
`<data_dir>/run/`. A service that already answers on its address is reused, not started twice, and
state lives on disk (anvil's `--state` file, the evidence block store, the oracle cursor), so a
second `make demo` picks up where the first stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from tambon.errors import ConfigError
from tambon.plugins import plugin
from tambon.settings import REPO_ROOT, Settings

#: Demo account the oracle signs with on the local chain (the others are people in the demo).
ORACLE_DEMO_ACCOUNT = 10
DEMO_ORG_NAME = "อบต.หนองสนิท (Nong Sanit SAO)"
#: the local chain makes a block this often, as a real chain does
BLOCK_SECONDS = 1
STOP_GRACE_SECONDS = 5
#: pid file of a running `tambon demo`, so `tambon stop` can end it too
DEMO_PID = "demo.pid"


def group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` is still running (zombies waiting to be reaped do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel about the group as a whole
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its closing paren
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return not Path("/proc").is_dir()
    return state not in ("Z", "X")


def _demo_mnemonic() -> str:
    from tambon.accounts import DEMO_MNEMONIC

    return DEMO_MNEMONIC


def _host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80


def _rpc(url: str, method: str, params: list | None = None):
    response = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=2
    )
    reply = response.json()
    if "error" in reply:
        raise ConfigError(f"{method} failed on {url}: {reply['error'].get('message', reply['error'])}")
    return reply["result"]


def _rpc_ok(url: str) -> str:
    return f"block {int(_rpc(url, 'eth_blockNumber'), 16)}"


def _evidence_ok(url: str) -> str:
    return str(plugin("evidence_health")(url))


def _web_ok(url: str) -> str:
    response = httpx.get(f"{url}/api/grants", timeout=5)
    response.raise_for_status()
    return f"{len(response.json().get('grants', []))} grants"


def _index_ok(settings: Settings) -> str:
    """Up once the follower has started the index (the site reads it from then on)."""
    from tambon.index.store import IndexStore

    store = IndexStore.open(settings)
    try:
        cursor = store.cursor()
    finally:
        store.close()
    if cursor is None:
        raise ConfigError("the chain index has not started")
    return f"indexed to block {cursor.block_number}"


def _web_env() -> dict[str, str]:
    """Web settings the caller set explicitly win over the demo's."""
    return {k: v for k, v in os.environ.items() if k.startswith("TAMBON_WEB_")}


@dataclass
class Service:
    name: str
    #: built when the service starts (the chain's needs eth-account, slow to import for `tambon stop`)
    command: Callable[[], list[str]]
    health: Callable[[], str]
    #: A long-running worker with no port of its own (the oracle): healthy while its process lives.
    daemon: bool = False
    env: dict[str, str] = field(default_factory=dict)


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.run_dir = settings.data_dir / "run"
        self.log_dir = settings.data_dir / "logs"
        self.services = self._services()
        # Processes this object started: polled (and so reaped) rather than probed, since a dead
        # child that was not waited for still answers `kill(pid, 0)` as a zombie.
        self._children: dict[str, subprocess.Popen] = {}

    def _services(self) -> dict[str, Service]:
        s = self.settings
        rpc_host, rpc_port = _host_port(s.rpc_url)
        web_host, web_port = _host_port(s.public_url)
        anvil = shutil.which("anvil") or str(REPO_ROOT / "node_modules" / ".bin" / "anvil")
        tambon = [sys.executable, "-m", "tambon"]
        # Every service sees the orchestrator's own settings, so they agree on addresses and folders.
        env = s.as_env()
        return {
            "chain": Service(
                "chain",
                lambda: [
                    anvil,
                    "--host",
                    rpc_host,
                    "--port",
                    str(rpc_port),
                    "--chain-id",
                    "31337",
                    "--accounts",
                    "20",
                    "--mnemonic",
                    _demo_mnemonic(),
                    "--block-time",
                    str(BLOCK_SECONDS),
                    "--state",
                    str(s.data_dir / "chain" / "state.json"),
                    "--state-interval",
                    "5",
                    # no CORS: a web page the user visits must not drive the demo's unlocked accounts
                    "--no-cors",
                ],
                lambda: _rpc_ok(s.rpc_url),
            ),
            "evidence": Service(
                "evidence",
                lambda: [*tambon, "evidence", "serve"],
                lambda: _evidence_ok(s.evidence_api_url),
                env=env,
            ),
            "oracle": Service(
                "oracle",
                lambda: [*tambon, "oracle", "run", "--dev-account", str(ORACLE_DEMO_ACCOUNT)],
                lambda: "watching",
                daemon=True,
                env=env,
            ),
            "index": Service(
                "index",
                lambda: [*tambon, "index", "run"],
                lambda: _index_ok(s),
                daemon=True,
                env=env,
            ),
            "web": Service(
                "web",
                lambda: [
                    *tambon,
                    "web",
                    "serve",
                    "--host",
                    web_host,
                    "--port",
                    str(web_port),
                    "--workers",
                    "2",
                ],
                lambda: _web_ok(s.public_url),
                env={"TAMBON_WEB_ORG_NAME": DEMO_ORG_NAME, **env, **_web_env()},
            ),
        }

    # state

    def pid(self, name: str) -> int | None:
        child = self._children.get(name)
        if child is not None:
            return child.pid if child.poll() is None or group_alive(child.pid) else None
        path = self.run_dir / f"{name}.pid"
        try:
            pid = int(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if group_alive(pid) else None

    def check(self, name: str) -> str | None:
        """A one-line health detail, or None when the service does not answer."""
        service = self.services[name]
        if service.daemon and self.pid(name) is None:
            return None
        try:
            return service.health()
        except Exception:  # any failure to answer means "not up"
            return None

    # control

    def start(self, name: str, timeout: float = 60) -> str:
        """Start a service unless it already answers; wait until it does. Returns its health detail."""
        if (detail := self.check(name)) is not None:
            return detail
        service = self.services[name]
        for folder in (self.run_dir, self.log_dir, self.settings.data_dir / "chain"):
            folder.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            service.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            env={**os.environ, **service.env},
            start_new_session=True,  # its own process group: stopped as a whole, spared a terminal's Ctrl-C
        )
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))
        self._children[name] = process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ConfigError(
                    f"{name} exited with code {process.returncode}; see {self.log_dir / (name + '.log')}"
                )
            if (detail := self.check(name)) is not None:
                return detail
            time.sleep(0.25)
        raise ConfigError(
            f"{name} did not come up within {timeout:.0f} s; see {self.log_dir / (name + '.log')}"
        )

    @contextlib.contextmanager
    def blocks_on_demand(self) -> Iterator[None]:
        """Mine each transaction as it arrives, then a block every BLOCK_SECONDS again.

        For the demo's seeding, some sixty transactions one after the other: at a block a second it
        spent a minute waiting for blocks. Only an anvil this stack started is switched; a node the
        user runs is left as it is.
        """
        url = self.settings.rpc_url
        if self.pid("chain") is None or not str(_rpc(url, "web3_clientVersion")).startswith("anvil"):
            yield
            return
        _rpc(url, "evm_setAutomine", [True])
        try:
            yield
        finally:
            _rpc(url, "evm_setIntervalMining", [BLOCK_SECONDS])

    def stop(self, name: str) -> bool:
        """Stop a service this stack started (SIGTERM to its group, then SIGKILL). True if it was running."""
        return bool(self._stop_group([name]))

    def _stop_group(self, names: list[str]) -> list[str]:
        """SIGTERM every named service's process group at once, wait for them together, SIGKILL the rest."""
        running = {name: pid for name in names if (pid := self.pid(name)) is not None}
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and any(self._alive(n, p) for n, p in running.items()):
            time.sleep(0.1)
        for name, pid in running.items():
            if self._alive(name, pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            child = self._children.pop(name, None)
            if child is not None:
                child.wait()  # reap it: no zombie left behind
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        return list(running)

    def _alive(self, name: str, pid: int) -> bool:
        child = self._children.get(name)
        if child is not None:
            child.poll()  # reaps the leader as soon as it exits
        return group_alive(pid)

    def stop_all(self) -> list[str]:
        """Stop every service in seconds: the chain last, so the others can finish their writes."""
        stopped = self._stop_demo()
        names = list(self.services)
        chain = [n for n in names if n == "chain"]
        stopped += self._stop_group([n for n in names if n not in chain])
        stopped += self._stop_group(chain)
        return stopped

    # the `tambon demo` process that started the services

    def claim_demo(self) -> None:
        """Record this process as the running `tambon demo`."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / DEMO_PID).write_text(str(os.getpid()))

    def release_demo(self) -> None:
        path = self.run_dir / DEMO_PID
        with contextlib.suppress(FileNotFoundError, ValueError):
            if int(path.read_text()) == os.getpid():
                path.unlink()

    def _stop_demo(self) -> list[str]:
        """Ask a running `tambon demo` (not this process) to stop its services and exit; wait for it."""
        path = self.run_dir / DEMO_PID
        try:
            pid = int(path.read_text())
        except (FileNotFoundError, ValueError):
            return []
        if pid == os.getpid() or not pid_alive(pid):
            path.unlink(missing_ok=True)
            return []
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3 * STOP_GRACE_SECONDS
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.05)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        path.unlink(missing_ok=True)
        return ["demo"]

    def status(self) -> dict[str, tuple[bool, str]]:
        report = {}
        for name in self.services:
            detail = self.check(name)
            pid = self.pid(name)
            where = f"pid {pid}" if pid else "not started by this stack"
            report[name] = (detail is not None, f"{detail} ({where})" if detail else f"down ({where})")
        return report
