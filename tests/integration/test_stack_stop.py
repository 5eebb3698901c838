"""Ending `tambon demo`: SIGTERM, SIGHUP (a terminal closing) or `tambon stop` stop every service it
started within seconds, and no process of theirs is left running; progress shows without a terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tambon.settings import Settings
from tambon.stack import Stack, group_alive, pid_alive
from tests.frontend.world import local_stack_settings
from tests.oracle.chain import Anvil

#: the demo's services are up once it reaches this step (chain, evidence node, contracts deployed)
SEEDING = "Seeding grants"


def _start_demo(tmp_path) -> tuple[subprocess.Popen, Settings, list[str]]:
    settings = local_stack_settings(tmp_path)
    env = {**os.environ, **settings.as_env()}
    env.pop("TAMBON_DEPLOYMENTS_DIR")  # the deployment must land under the data directory
    demo = subprocess.Popen(
        [sys.executable, "-m", "tambon", "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert demo.stdout is not None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        if not line:
            break
        lines.append(line)
        if SEEDING in line:  # a progress line although stdout is a pipe
            return demo, Settings(data_dir=settings.data_dir), lines
    demo.kill()
    pytest.fail("tambon demo printed no seeding step:\n" + "".join(lines))


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "tambon stop"])
def test_demo__ends_with_every_service_it_started(tmp_path, how):
    demo, settings, lines = _start_demo(tmp_path)
    assert lines[0].startswith("[1/"), lines
    assert (settings.data_dir / "deployments" / "local.json").exists()
    stack = Stack(settings)
    groups = {name: stack.pid(name) for name in ("chain", "evidence")}
    assert all(groups.values()), groups
    started = time.monotonic()
    if how == "tambon stop":
        env = {**os.environ, "TAMBON_DATA_DIR": str(settings.data_dir)}
        done = subprocess.run(
            [sys.executable, "-m", "tambon", "stop"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert "demo" in done.stdout
    else:
        demo.send_signal(getattr(signal, how))
    demo.wait(timeout=30)
    took = time.monotonic() - started
    assert took < 20, f"stopping took {took:.1f} s"
    assert not pid_alive(demo.pid)
    left = [name for name, pgid in groups.items() if group_alive(pgid)]
    assert left == [], f"still running after {how}: {left}"
    assert not list((settings.data_dir / "run").glob("*.pid"))


def _automine(url: str) -> bool:
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_getAutomine"}, timeout=5).json()[
        "result"
    ]


def test_blocks_on_demand__switches_only_the_stacks_own_chain(tmp_path):
    own = Stack(local_stack_settings(tmp_path / "own"))
    users = Anvil(block_time=1)  # a chain the user runs at the stack's address
    try:
        theirs = Stack(Settings(rpc_url=users.url, data_dir=tmp_path / "theirs"))
        with theirs.blocks_on_demand():
            assert not _automine(users.url)
        own.start("chain")
        url = own.settings.rpc_url
        with own.blocks_on_demand():
            assert _automine(url)
        assert not _automine(url)
        with pytest.raises(RuntimeError), own.blocks_on_demand():
            raise RuntimeError("seeding failed")
        assert not _automine(url)  # back to a block a second on failure too
    finally:
        own.stop_all()
        users.stop()
