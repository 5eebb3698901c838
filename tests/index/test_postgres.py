"""PostgreSQL mode against a real server: same schema and migrations, and two web processes on one
index serve identical pages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from tambon.chain import Deployment
from tambon.events import JsonRpc
from tambon.index.follower import Follower
from tambon.index.store import IndexStore
from tests.frontend.world import free_port
from tests.index.helpers import catch_up, direct_scan, stored_events, without_proof_times
from tests.index.postgres import PostgresServer

ASOF = re.compile(rb"<!--asof-->.*?<!--/asof-->", re.S)


@pytest.fixture
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


def _site(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "frontend.app:create_app", "--factory", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the site did not start")


def test_postgres__index_equals_the_chain__two_sites_serve_identical_pages(world, w3, settings, postgres):
    pg_settings = settings.model_copy(
        update={
            "index_url": postgres.dsn(),
            "evidence_api_url": world.node.url,
            "gateway_url": world.node.url,
            "public_url": "http://testserver",
        }
    )
    store = IndexStore.open(pg_settings)
    assert store.dialect == "postgresql"
    store.migrate()
    assert store.schema_is_current()
    follower = Follower(store, JsonRpc(pg_settings.rpc_url), Deployment.load(pg_settings.deployment_file))
    catch_up(follower)
    assert stored_events(store) == direct_scan(w3, follower.deployment, store.cursor().block_number)

    env = {**os.environ, **pg_settings.as_env()}
    sites = [_site(env), _site(env)]
    try:
        lots = [world.lot, *world.boxes, world.tampered, world.merged]
        for lot in lots:
            pages = [
                httpx.get(f"{url}/batch/{lot}", headers={"Accept-Language": "en"}, timeout=60)
                for _, url in sites
            ]
            assert [p.status_code for p in pages] == [200, 200]
            bodies = [ASOF.sub(b"", p.content) for p in pages]
            assert bodies[0] == bodies[1], lot
            assert f"Read from block {store.cursor().block_number} of the chain" in pages[0].text
            apis = [httpx.get(f"{url}/api/batches/{lot}", timeout=60).json() for _, url in sites]
            assert without_proof_times(apis[0]) == without_proof_times(apis[1])
    finally:
        for proc, _ in sites:
            proc.terminate()
            proc.wait(timeout=30)
