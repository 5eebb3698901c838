"""A running site does not keep vouching for evidence that stopped being served: after an evidence
block is corrupted on the node, the verify page turns amber ("evidence unavailable since …") without a
restart, in English on a phone and in Thai on a desktop, and turns green again once the block is back."""

from __future__ import annotations

import time

import pytest

from evidence.cids import digest_of, parse_cid
from tests.e2e.conftest import serve_site, shot

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: short so the test is quick; the site's default (20 s) bounds staleness to well under a minute
RECHECK_SECONDS = 2.0


@pytest.fixture(scope="module")
def site(world, deployment, rpc_url, evidence_server, tmp_path_factory):
    _store, node = evidence_server
    server = serve_site(
        deployment,
        rpc_url,
        node,
        tmp_path_factory.mktemp("site"),
        evidence_recheck_seconds=RECHECK_SECONDS,
        evidence_retry_seconds=1.0,
    )
    yield server.url
    server.stop()


def visit(browser, url: str, lang: str, viewport: dict):
    context = browser.new_context(
        locale=lang, viewport=viewport, extra_http_headers={"Accept-Language": lang}
    )
    page = context.new_page()
    page.goto(url)
    return page


def reload_until(page, selector: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while page.locator(selector).count() == 0:
        assert time.monotonic() < deadline, f"{selector} did not appear within {timeout} s"
        page.wait_for_timeout(500)
        page.reload()


def test_verify__evidence_block_corrupted_on_running_site__turns_amber_then_green(browser, site, world):
    store, _node = world.store, world.node
    cultivation = world.evidence["cultivation"]
    photo = next(e.cid for e in store.ls(cultivation) if e.name == "photo.png")
    block = store.blocks.path_for(digest_of(parse_cid(photo)))
    original = block.read_bytes()
    url = f"{site}/batch/{world.sold_box}"
    unavailable = 'li.check[data-check="evidence"][data-status="unknown"]'

    phone = visit(browser, url, "en-US", PHONE)
    assert phone.locator(unavailable).count() == 0
    assert phone.locator("#verdict").inner_text().startswith("Verified origin and history")
    try:
        block.write_bytes(b"these are not the bytes that were registered")
        started = time.monotonic()
        reload_until(phone, unavailable)
        assert time.monotonic() - started < 30
        assert "Evidence unavailable since" in phone.locator(unavailable).first.inner_text()
        assert phone.locator("#verdict").get_attribute("class") == "verdict unknown"
        assert phone.locator("#verdict").inner_text().startswith("Origin and history partly verified")
        color = phone.evaluate(
            "(el) => getComputedStyle(el).color", phone.locator(f"{unavailable} .mark").first.element_handle()
        )
        assert color == "rgb(138, 97, 0)"  # amber, not green, not red
        shot(phone, "verify-evidence-unavailable-en-phone")

        desktop = visit(browser, url, "th-TH", DESKTOP)
        assert "เรียกดูหลักฐานไม่ได้ตั้งแต่" in desktop.locator(unavailable).first.inner_text()
        shot(desktop, "verify-evidence-unavailable-th-desktop")
        desktop.context.close()
    finally:
        block.write_bytes(original)
    reload_until(phone, "#verdict.pass")
    assert phone.locator(unavailable).count() == 0
    phone.context.close()
