"""Pages on the index: the same checks as the node gives, re-rendered only when their lot changes,
no orphaned step after a reorg, and `tambon verify batch` agreeing with the page on every lot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from tambon.chain import Deployment
from tambon.events import JsonRpc
from tambon.index.follower import Follower
from tambon.index.store import IndexStore
from tests.frontend.world import assert_page_shows_report
from tests.index.helpers import catch_up, without_proof_times

EN = {"Accept-Language": "en"}


def _lots(world) -> list[int]:
    return [world.lot, *world.boxes, world.tampered, world.xss, world.merged, *world.merged_from]


@pytest.fixture
def site_settings(index_settings, world):
    return index_settings.model_copy(
        update={
            "evidence_api_url": world.node.url,
            "gateway_url": world.node.url,
            "public_url": "http://testserver",
        }
    )


@pytest.fixture
def follower(site_settings):
    store = IndexStore.open(site_settings)
    store.migrate()
    f = Follower(store, JsonRpc(site_settings.rpc_url), Deployment.load(site_settings.deployment_file))
    catch_up(f)
    return f


def _client(settings, read_index: bool, **web_settings) -> TestClient:
    from frontend.app import create_app
    from frontend.settings import WebSettings

    web = WebSettings(
        org_name="อบต. หนองสนิท", evidence_retry_seconds=0.0, read_index=read_index, **web_settings
    )
    return TestClient(create_app(settings, web))


def test_index_pages__every_lot__same_facts_and_checks_as_the_node(world, follower, site_settings):
    with _client(site_settings, True) as indexed, _client(site_settings, False) as direct:
        assert indexed.app.state.ctx.index is not None and direct.app.state.ctx.index is None
        for lot in _lots(world):
            a, b = indexed.get(f"/api/batches/{lot}"), direct.get(f"/api/batches/{lot}")
            assert a.status_code == b.status_code == 200
            assert without_proof_times(a.json()) == without_proof_times(b.json()), lot
        assert indexed.get("/api/batches/999999").status_code == 404
        tampered = indexed.get(f"/batch/{world.tampered}", headers=EN).text
        assert 'class="verdict fail"' in tampered and "index checked against the chain" in tampered


def test_index_pages__event_on_another_lot__page_not_rendered_again(world, follower, site_settings):
    with _client(site_settings, True) as client:
        ctx = client.app.state.ctx
        box, other = world.boxes[1], world.xss
        client.get(f"/batch/{box}", headers=EN)
        client.get(f"/batch/{other}", headers=EN)
        box_version = ctx.version(None, box)
        other_version = ctx.version(None, other)
        world.provenance.addStep(
            other, 4, bytes([0x77]) * 32, 0x55, 0, sender=world.provenance.ownerOf(other)
        )
        catch_up(follower)
        assert ctx.version(None, box) == box_version  # untouched: the cached page stays
        assert ctx.version(None, other) != other_version
        rendered = len(ctx._pages)
        page = client.get(f"/batch/{box}", headers=EN)
        assert page.status_code == 200 and len(ctx._pages) == rendered
        client.get(f"/batch/{other}", headers=EN)
        assert len(ctx._pages) == rendered + 1  # only the touched lot is rendered again


def test_index_pages__evidence_lost_on_another_lot__page_not_rendered_again(world, follower, site_settings):
    """A proof whose outcome changes moves the version of the lots whose pages show it, no other: the
    rest of the site's cached pages stay served from memory."""
    import time

    from evidence.cids import digest_of, parse_cid

    with _client(site_settings, True, evidence_recheck_seconds=0.0) as client:
        ctx = client.app.state.ctx
        box, other = world.boxes[1], world.lot
        assert client.get(f"/batch/{box}", headers=EN).status_code == 200
        passed_before = _passed(client.get(f"/batch/{other}", headers=EN).text)
        box_version, other_version = ctx.version(None, box), ctx.version(None, other)
        box_cids = set(ctx._lot_cids.get((ctx._facts(None, box), box)))
        other_cids = ctx._lot_cids.get((ctx._facts(None, other), other))
        cid = next(c for c in other_cids if c not in box_cids and ctx.evidence.prove(c).status == "pass")
        block = world.store.blocks.path_for(digest_of(parse_cid(cid)))
        original = block.read_bytes()
        block.write_bytes(b"not the registered bytes")
        try:
            deadline = time.monotonic() + 30
            while ctx.version(None, other) == other_version:  # served: its proofs re-checked
                assert time.monotonic() < deadline, "the lost evidence never moved its lot's version"
                client.get(f"/batch/{other}", headers=EN)
                time.sleep(0.1)
            assert ctx.version(None, box) == box_version
            served_ahead, rendered = ctx.pages_served_ahead_of_routing, len(ctx._pages)
            assert client.get(f"/batch/{box}", headers=EN).status_code == 200
            assert ctx.pages_served_ahead_of_routing == served_ahead + 1 and len(ctx._pages) == rendered
            assert _passed(client.get(f"/batch/{other}", headers=EN).text) < passed_before
            assert len(ctx._pages) == rendered + 1  # only the lot showing the lost evidence is rendered again
        finally:
            block.write_bytes(original)


def test_index_pages__coldchain_verdict__moves_the_lot_page_and_is_read_from_the_index(
    world, follower, site_settings, chain, accounts
):
    """A cold-chain verdict is a fact of its lot: the page cached before it is rendered again with it,
    and the verdict shown on the index equals the node's, checks included."""
    from tests.frontend.world import attest_trip, warm_trip

    trip = warm_trip(world, chain, accounts, b"\x1a" * 32, seed=23)
    lot = trip.lot
    catch_up(follower)
    verdict = re.compile(r'<article class="coldchain[^"]*"[^>]*data-verdict="([A-Z_]+)"')
    with _client(site_settings, True) as indexed, _client(site_settings, False) as direct:
        assert not verdict.findall(indexed.get(f"/batch/{lot}", headers=EN).text)  # cached without one
        attest_trip(world, chain, accounts, trip)
        catch_up(follower)
        shown = indexed.get(f"/batch/{lot}", headers=EN).text
        assert (
            verdict.findall(shown)
            == ["EXCURSION"]
            == verdict.findall(direct.get(f"/batch/{lot}", headers=EN).text)
        )
        a = without_proof_times(indexed.get(f"/api/batches/{lot}").json())
        b = without_proof_times(direct.get(f"/api/batches/{lot}").json())
        assert a["coldchain"] == b["coldchain"] and a["coldchain"][0]["report"]["verdict"] == "EXCURSION"
        assert {c["status"] for c in a["coldchain"][0]["checks"]} == {"pass"}


def test_index_pages__reorg__orphaned_step_never_shown(world, follower, site_settings, w3):
    lot = world.merged
    holder = world.provenance.ownerOf(lot)
    with _client(site_settings, True) as client:
        before = client.get(f"/api/batches/{lot}").json()["step_count"]
        world.provenance.addStep(lot, 1, bytes([0x66]) * 32, 0x55, 0, sender=holder)
        catch_up(follower)
        assert client.get(f"/api/batches/{lot}").json()["step_count"] == before + 1
        shown = client.get(f"/batch/{lot}", headers=EN).text
        w3.provider.make_request("anvil_mine", [2])
        assert "error" not in w3.provider.make_request("anvil_reorg", [3, []])
        catch_up(follower)
        api = client.get(f"/api/batches/{lot}").json()
        assert api["step_count"] == before
        assert client.get(f"/batch/{lot}", headers=EN).text != shown  # re-rendered without the step


def test_fact_stamps__every_lot_as_the_index_reads_it__moved_along_and_after_a_reorg(
    world, follower, site_settings, w3
):
    """The site's stamps of every lot, held in memory and moved along block by block, equal the
    index's own `lineage_stamp` of the lot's lineage: at first, after a step on a lot that has
    children (their stamps move too) and after a reorg takes it back."""
    from frontend.services.stamps import FactStamps
    from tambon.index.reader import IndexReader
    from tambon.provenance import lineage

    index = IndexReader(IndexStore.open(site_settings))
    stamps = FactStamps(index)

    def agree() -> dict[int, str]:
        head = index.head()
        seen = {}
        for lot in [*_lots(world), 999_999]:
            seen[lot] = stamps.stamp(head.number, head.hash, lot)
            assert seen[lot] == index.lineage_stamp(lineage(lot, index.parents)), lot
        return seen

    before = agree()
    parent = world.merged_from[0]
    assert index.children(parent) and before[parent] != "empty"
    world.provenance.addStep(
        world.merged, 1, bytes([0x65]) * 32, 0x55, 0, sender=world.provenance.ownerOf(world.merged)
    )
    w3.provider.make_request("anvil_mine", [1])
    catch_up(follower)
    moved = agree()
    assert moved[world.merged] != before[world.merged] and moved[world.lot] == before[world.lot]
    w3.provider.make_request("anvil_mine", [1])
    assert "error" not in w3.provider.make_request("anvil_reorg", [3, []])
    catch_up(follower)
    assert agree()[world.merged] == before[world.merged]


def test_verify_cli__agrees_with_the_page_on_every_lot(world, follower, site_settings, monkeypatch):
    import structlog
    import typer
    from typer.testing import CliRunner

    from frontend.verify_cli import app as verify_app
    from tambon.settings import get_settings

    app = typer.Typer()
    app.add_typer(verify_app, name="verify")

    for name, value in site_settings.as_env().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        with _client(site_settings, True) as client:
            for lot in _lots(world):
                api = client.get(f"/api/batches/{lot}").json()
                run = runner.invoke(app, ["verify", "batch", str(lot), "--json"])
                assert run.exit_code == (3 if api["summary"]["fail"] else 0), run.output
                out = json.loads(run.stdout)
                assert out["source"] == "index"
                assert out["checks"] == api["checks"], lot
                assert out["summary"] == api["summary"]
                # and what the buyer reads on the page: the same verdict, counts and check results
                page = client.get(f"/batch/{lot}", headers=EN).text
                assert_page_shows_report(page, out, lot)
    finally:
        get_settings.cache_clear()
        structlog.reset_defaults()  # the command sends logs to stderr; the other tests keep the default


def test_verify_cli__as_a_command__tampered_lot_fails_and_a_missing_one_is_an_error(
    world, follower, site_settings
):
    env = {**os.environ, **site_settings.as_env()}
    tambon = [sys.executable, "-m", "tambon", "verify", "batch"]
    tampered = subprocess.run([*tambon, str(world.tampered)], env=env, capture_output=True, text=True)
    assert tampered.returncode == 3, tampered.stderr
    assert "FAIL" in tampered.stdout and "failed" in tampered.stdout.splitlines()[-1]
    missing = subprocess.run([*tambon, "999999"], env=env, capture_output=True, text=True)
    assert missing.returncode != 0 and missing.stderr.startswith("error: batch 999999 does not exist")


def test_grants_dashboard__index_answers_as_the_escrow_views(world, follower, site_settings):
    from frontend.services.chain import Head

    with _client(site_settings, True) as indexed, _client(site_settings, False) as direct:
        on_index, on_node = indexed.app.state.ctx, direct.app.state.ctx
        assert on_index.grants.index is not None and on_node.grants.index is None
        at = on_index.index.head()
        head = Head(at.number, at.hash, at.timestamp)  # the node's views read at the index's block
        a = on_index.grants.dashboard(head)
        b = on_node.grants.dashboard(head)
        statuses = {m.status.name for g in a.grants for m in g.milestones}
        assert {"PAID", "SUBMITTED", "REJECTED", "PENDING"} <= statuses
        assert (a.grants, a.communities, a.tokens, a.series, a.members, a.threshold) == (
            b.grants,
            b.communities,
            b.tokens,
            b.series,
            b.members,
            b.threshold,
        )
        assert indexed.get("/grants", headers=EN).status_code == 200


def _render_in_worker(root, counter, out) -> None:
    import time
    from pathlib import Path

    from frontend.services.cache import SharedRenders

    def make() -> bytes:
        with open(counter, "a") as f:
            f.write("rendered\n")
        time.sleep(0.3)  # long enough that every worker asks while the first renders
        return b"<p>lot 7</p>"

    Path(out).write_bytes(SharedRenders(Path(root)).get_or_make(("batch", 7, "v1", "en"), make))


def test_shared_renders__one_render_across_worker_processes(tmp_path):
    import multiprocessing

    fork = multiprocessing.get_context("fork")
    counter = tmp_path / "renders.txt"
    workers = [
        fork.Process(target=_render_in_worker, args=(tmp_path / "pages", counter, tmp_path / f"out{i}"))
        for i in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert [w.exitcode for w in workers] == [0] * 4
    assert counter.read_text().splitlines() == ["rendered"]
    assert {(tmp_path / f"out{i}").read_bytes() for i in range(4)} == {b"<p>lot 7</p>"}


def test_index_pages__two_sites_on_one_index_render_a_lot_once(world, follower, site_settings):
    with _client(site_settings, True) as first, _client(site_settings, True) as second:
        lot = world.lot
        a = first.get(f"/batch/{lot}", headers=EN).text
        pages = site_settings.data_dir / "web" / "pages"
        rendered = sorted(pages.rglob("*.html"))
        b = second.get(f"/batch/{lot}", headers=EN).text
        assert sorted(pages.rglob("*.html")) == rendered and len(rendered) == 1  # read, not rendered again
        asof = re.compile(r"<!--asof-->.*?<!--/asof-->", re.S)  # how fresh the index is: per request
        assert asof.sub("", a) == asof.sub("", b)
        # the second site knows which proofs the page was rendered from: it re-checks them too
        one, two = first.app.state.ctx, second.app.state.ctx
        facts = one._facts(None, lot)
        rendered_from = one._lot_cids.get((facts, lot))
        assert rendered_from and two._lot_cids.get((facts, lot)) == rendered_from
        assert two.version(None, lot) == one.version(None, lot)
        # ... as they come due after the first site proved them, not all at once when first served
        assert [two.evidence.checked_at(cid) for cid in rendered_from] == [
            one.evidence.checked_at(cid) for cid in rendered_from
        ]
        assert all(one.evidence.checked_at(cid) > 0 for cid in rendered_from)


def _passed(page: str) -> int:
    found = re.search(r"(\d+) of \d+ checks passed", page)
    assert found, "no check counts on the page"
    return int(found.group(1))


def _passed_on_page(response) -> int:
    return _passed(response.text)


def _passed_in_api(response) -> int:
    return response.json()["summary"]["pass"]


@pytest.mark.parametrize(
    ("path", "passed"),
    [("/batch/{}", _passed_on_page), ("/api/batches/{}", _passed_in_api)],
    ids=["page", "api"],
)
def test_index_pages__evidence_lost_after_another_site_rendered__the_serving_site_moves_on(
    world, follower, site_settings, path, passed
):
    """A site serving a page (or the API's JSON of a lot) another site rendered takes the outcomes it
    shows as its own: when one of them changes, the lot's version there moves although that site never
    made the proof itself."""
    import time

    from evidence.cids import digest_of, parse_cid

    lot = world.lot
    url = path.format(lot)
    # every proof due at once: the serving site re-checks on its first serve (else when the first
    # site's proofs come due, `evidence_recheck_seconds` after it made them)
    due = {"evidence_recheck_seconds": 0.0}
    with _client(site_settings, True, **due) as first, _client(site_settings, True, **due) as second:
        rendered = first.get(url, headers=EN)
        one, two = first.app.state.ctx, second.app.state.ctx
        shown = one._lot_cids.get((one._facts(None, lot), lot))
        cid = next(c for c in shown if one.evidence.prove(c).status == "pass")
        start = one.version(None, lot)  # what the page was rendered at, and the second site adopts
        block = world.store.blocks.path_for(digest_of(parse_cid(cid)))
        original = block.read_bytes()
        block.write_bytes(b"not the registered bytes")
        try:
            served = second.get(url, headers=EN)  # the first site's render
            assert passed(served) == passed(rendered)
            deadline = time.monotonic() + 30
            while two.version(None, lot) == start:  # its background re-check of the page's proofs
                assert time.monotonic() < deadline, "the serving site never saw the evidence change"
                time.sleep(0.1)
            assert passed(second.get(url, headers=EN)) < passed(rendered)
        finally:
            block.write_bytes(original)


def test_index_pages__as_of_block_and_lag(world, site_settings):
    store = IndexStore.open(site_settings)
    store.migrate()
    behind = Follower(
        store,
        JsonRpc(site_settings.rpc_url),
        Deployment.load(site_settings.deployment_file),
        confirmations=2,
    )
    catch_up(behind)
    with _client(site_settings, True) as client:
        head = store.cursor()
        page = client.get(f"/batch/{world.lot}", headers=EN).text
        assert f"Read from block {head.block_number} of the chain" in page
        assert "index 2 blocks (" in page and "s) behind the chain head" in page


def _route_and_cached(client, path: str, headers: dict[str, str]):
    """The same request answered by the route (a GET that declares a body, even an empty one, is left
    to the application) and then by the cached-page path; no cookies carried between them."""
    ctx = client.app.state.ctx
    client.cookies.clear()
    routed = client.get(path, headers={**headers, "Content-Length": "0"})
    served = ctx.pages_served_ahead_of_routing
    client.cookies.clear()
    cached = client.get(path, headers=headers)
    assert ctx.pages_served_ahead_of_routing == served + 1, "not answered from cache"
    return routed, cached


def _comparable(response) -> tuple:
    """Status, every header but the date, the body: the "as of" line says how many seconds ago the
    index was checked, so it may read one second more on the later response."""
    asof = re.compile(rb"<!--asof-->.*?<!--/asof-->", re.S)
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in ("date", "content-length")]
    return response.status_code, headers, asof.sub(b"", response.content)


@pytest.mark.parametrize("read_index", [True, False], ids=["index", "node"])
def test_cached_pages__same_response_as_the_route(world, follower, site_settings, read_index):
    with _client(site_settings, read_index) as client:
        lot = world.lot
        first = client.get(f"/batch/{lot}", headers=EN)
        assert first.status_code == 200 and client.app.state.ctx.pages_served_ahead_of_routing == 0
        th = client.get(f"/batch/{lot}?lang=th")
        variants = [
            (f"/batch/{lot}", EN),
            (f"/batch/{lot}", {**EN, "Accept-Encoding": "br"}),
            (f"/batch/{lot}", {**EN, "Accept-Encoding": "gzip"}),
            (f"/batch/{lot}?lang=th", {"Accept-Encoding": "gzip, deflate, br"}),  # sets the cookie
            (f"/batch/{lot}", {"Cookie": "lang=th"}),
            (f"/batch/{lot}", {**EN, "If-None-Match": first.headers["etag"]}),
            (f"/batch/{lot}?lang=th", {"If-None-Match": th.headers["etag"], "Accept-Encoding": "br"}),
        ]
        for path, headers in variants:
            routed, cached = _route_and_cached(client, path, headers)
            assert _comparable(routed) == _comparable(cached), (path, headers)
        for headers in ({}, {"Accept-Encoding": "br"}, {"Accept-Encoding": "gzip", "Cookie": "lang=th"}):
            client.get(f"/api/batches/{lot}", headers=headers)  # rendered (first time) or cached
            routed, cached = _route_and_cached(client, f"/api/batches/{lot}", headers)
            assert _comparable(routed) == _comparable(cached), headers
            assert cached.headers["content-type"] == "application/json" and cached.json()["batch_id"] == lot
        encoded = _route_and_cached(client, f"/batch/{lot}", {**EN, "Accept-Encoding": "br"})[1]
        assert encoded.headers["content-encoding"] == "br" and "Accept-Encoding" in encoded.headers["vary"]
        assert "content-security-policy" in encoded.headers and encoded.headers["content-language"] == "en"
        assert "lang=th" in _route_and_cached(client, f"/batch/{lot}?lang=th", {})[1].headers["set-cookie"]
        assert (
            _route_and_cached(client, f"/batch/{lot}", {**EN, "If-None-Match": first.headers["etag"]})[
                1
            ].status_code
            == 304
        )


def test_cached_pages__no_query_while_the_index_stands_still(world, follower, site_settings):
    from sqlalchemy import event

    with _client(site_settings, True) as client:
        ctx = client.app.state.ctx
        for lot in _lots(world):
            assert client.get(f"/batch/{lot}", headers=EN).status_code == 200
        block = ctx.index.head().number
        statements: list[str] = []
        event.listen(ctx.index.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        served = ctx.pages_served_ahead_of_routing
        for lot in _lots(world):
            page = client.get(f"/batch/{lot}", headers=EN)
            assert page.status_code == 200 and f"Read from block {block} of the chain" in page.text
        assert ctx.pages_served_ahead_of_routing == served + len(_lots(world))
        assert statements == []
