"""Rate limits, quotas and sessions are shared by every worker and host on one index database."""

from __future__ import annotations

import multiprocessing

import pytest
from fastapi.testclient import TestClient

from frontend.auth import SESSION_COOKIE, AuthStore
from tambon.index.store import IndexStore
from tests.frontend.world import png, sign_in
from tests.index.postgres import PostgresServer, pg_bin

PHOTO = ("site.png", png(8, 8, (3, 4, 5)), "image/png")


def _upload(client, grant_id: int):
    return client.post("/api/evidence", files=[("files", PHOTO)], data={"grant_id": str(grant_id)})


def test_two_sites_on_one_database__share_session_rate_limit_and_quota(world, site_settings):
    from frontend.app import create_app
    from frontend.settings import WebSettings

    # a daily window, so the test never straddles a window's end
    tight = WebSettings(uploads_per_account="3/day", writes_per_ip="1000/minute")
    with (
        TestClient(create_app(site_settings, tight)) as first,
        TestClient(create_app(site_settings, tight)) as second,
    ):
        sign_in(first, world.community)
        second.cookies.set(SESSION_COOKIE, first.cookies[SESSION_COOKIE])  # a session opened on the other
        answers = [
            _upload(site, world.grant_thb).status_code for site in (first, second, first, second, first)
        ]
        assert answers == [200, 200, 200, 429, 429]
        refused = _upload(second, world.grant_thb)
        assert "rate limit" in refused.json()["detail"] and int(refused.headers["retry-after"]) > 0

    small = WebSettings(upload_bytes_per_day=290)
    fresh = site_settings.model_copy(update={"data_dir": site_settings.data_dir / "quota"})
    with TestClient(create_app(fresh, small)) as first, TestClient(create_app(fresh, small)) as second:
        sign_in(first, world.community)
        second.cookies.set(SESSION_COOKIE, first.cookies[SESSION_COOKIE])
        assert _upload(first, world.grant_thb).status_code == 200  # a 147-byte photo: over half the quota
        assert _upload(second, world.grant_thb).status_code == 200
        r = _upload(first, world.grant_thb)
        assert r.status_code == 429 and "quota" in r.json()["detail"]


LIMIT, HITS_EACH = 250, 200


def _hammer(url: str, ready, start, results) -> None:
    store = IndexStore(url)
    auth = AuthStore(store)
    ready.put(True)
    start.wait()
    results.put(sum(auth.hit("upload/test", LIMIT, 86_400) is None for _ in range(HITS_EACH)))
    store.close()


def _count_admitted(url: str) -> list[int]:
    """Two worker processes hit one key 200 times each, from the same moment, under a limit of 250:
    one process alone could never reach the limit, so exactly 250 admitted means they shared it."""
    store = IndexStore(url)
    store.migrate()
    store.close()
    spawn = multiprocessing.get_context("spawn")
    ready, start, results = spawn.Queue(), spawn.Event(), spawn.Queue()
    workers = [spawn.Process(target=_hammer, args=(url, ready, start, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=120)
    start.set()
    admitted = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    return admitted


def test_rate_counter__two_processes_at_once__admit_exactly_the_limit_sqlite(tmp_path):
    admitted = _count_admitted(f"sqlite:///{tmp_path / 'index.sqlite'}")
    assert sum(admitted) == LIMIT, admitted


@pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL is not installed (make install)")
def test_rate_counter__two_processes_at_once__admit_exactly_the_limit_postgres():
    server = PostgresServer().start()
    try:
        admitted = _count_admitted(server.dsn())
    finally:
        server.stop()
    assert sum(admitted) == LIMIT, admitted


def test_rate_counter__window_ends__counts_afresh_and_old_windows_are_cleared(tmp_path):
    store = IndexStore(f"sqlite:///{tmp_path / 'index.sqlite'}")
    store.migrate()
    auth = AuthStore(store)
    assert [auth.hit("k", 2, 60, now=120.0) for _ in range(2)] == [None, None]
    assert auth.hit("k", 2, 60, now=150.0) == 30  # seconds to the next window
    assert auth.hit("k", 2, 60, now=180.0) is None
    from sqlalchemy import func, select

    from tambon.index.schema import web_rate_hits

    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(web_rate_hits)).scalar_one() == 1
    store.close()
