"""The local stack: anvil, the evidence node, the oracle and the web site as supervised processes.

Each service runs in its own process group with its log in `<data_dir>/logs/` and its pid in
`<data_dir>/run/`. A service that already answers on its address is reused, not started twice, and
state lives on disk (anvil's `--state` file, the evidence block store, the oracle cursor), so a
second `make demo` picks up where the first stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx

from tambon.accounts import DEMO_MNEMONIC
from tambon.errors import ConfigError
from tambon.settings import REPO_ROOT, Settings

#: Demo account the oracle signs with on the local chain (the others are people in the demo).
ORACLE_DEMO_ACCOUNT = 10
DEMO_ORG_NAME = "อบต.หนองสนิท"
STOP_GRACE_SECONDS = 10


def _host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80


def _rpc_ok(url: str) -> str:
    response = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}, timeout=2
    )
    return f"block {int(response.json()['result'], 16)}"


def _evidence_ok(url: str) -> str:
    response = httpx.post(f"{url}/api/v0/version", timeout=2)
    response.raise_for_status()
    return f"IPFS API {response.json().get('Version', '?')}"


def _web_ok(url: str) -> str:
    response = httpx.get(f"{url}/api/grants", timeout=5)
    response.raise_for_status()
    return f"{len(response.json().get('grants', []))} grants"


def _web_env() -> dict[str, str]:
    """Web settings the caller set explicitly win over the demo's."""
    return {k: v for k, v in os.environ.items() if k.startswith("TAMBON_WEB_")}


@dataclass
class Service:
    name: str
    command: list[str]
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
                [
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
                    DEMO_MNEMONIC,
                    "--block-time",
                    "1",
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
                "evidence", [*tambon, "evidence", "serve"], lambda: _evidence_ok(s.evidence_api_url), env=env
            ),
            "oracle": Service(
                "oracle",
                [*tambon, "oracle", "run", "--dev-account", str(ORACLE_DEMO_ACCOUNT)],
                lambda: "watching",
                daemon=True,
                env=env,
            ),
            "web": Service(
                "web",
                [*tambon, "web", "serve", "--host", web_host, "--port", str(web_port), "--workers", "2"],
                lambda: _web_ok(s.public_url),
                env={"TAMBON_WEB_ORG_NAME": DEMO_ORG_NAME, **env, **_web_env()},
            ),
        }

    # state

    def pid(self, name: str) -> int | None:
        child = self._children.get(name)
        if child is not None:
            return child.pid if child.poll() is None else None
        path = self.run_dir / f"{name}.pid"
        try:
            pid = int(path.read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid

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
            service.command,
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

    def stop(self, name: str) -> bool:
        """Stop a service this stack started (SIGTERM to its group, then SIGKILL). True if it was running."""
        pid = self.pid(name)
        if pid is None:
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            while time.monotonic() < deadline and self.pid(name) is not None:
                time.sleep(0.1)
            if self.pid(name) is not None:
                os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        self._children.pop(name, None)
        return True

    def stop_all(self) -> list[str]:
        # Reverse start order: the chain last, so the others can finish their writes.
        return [name for name in reversed(list(self.services)) if self.stop(name)]

    def status(self) -> dict[str, tuple[bool, str]]:
        report = {}
        for name in self.services:
            detail = self.check(name)
            pid = self.pid(name)
            where = f"pid {pid}" if pid else "not started by this stack"
            report[name] = (detail is not None, f"{detail} ({where})" if detail else f"down ({where})")
        return report
