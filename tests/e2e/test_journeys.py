"""The three journeys of the issue in a real browser: buyer from the QR URI, community, council."""

from __future__ import annotations

import re

import pytest

from frontend.services import gs1
from tests.e2e.conftest import shot
from tests.frontend.world import png

pytestmark = pytest.mark.e2e
GTIN = gs1.gtin_for_crop(201, "8850000")


def test_buyer__scans_qr_uri__sees_verified_history_in_english_and_thai(open_page, site, world):
    page, _ = open_page()
    page.goto(f"{site}/01/{GTIN}/21/{world.sold_box}")
    assert page.url.startswith(f"{site}/batch/{world.sold_box}"), page.url
    verdict = page.locator("#verdict")
    assert verdict.inner_text().startswith("Verified origin and history; quality graded")
    assert page.locator("#verdict-counts").inner_text().startswith("17 of 17 checks passed")
    assert page.locator("#grower").inner_text().strip() == "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท"
    assert page.locator('li.check[data-status="fail"]').count() == 0
    assert page.locator(".stage").count() == 5
    assert "Cold chain: 3.1 °C to 6.4 °C" in page.locator('[data-stage="TRANSPORT"]').inner_text()
    # evidence thumbnails (the site's /thumb route, proven against the CID) load
    first = page.locator("ul.files img").first
    first.scroll_into_view_if_needed()  # thumbnails load lazily
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=first.element_handle())
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "buyer-verify-en", docs=True)
    page.get_by_role("link", name="ไทย").click()
    page.wait_for_load_state()
    assert page.locator("#verdict").inner_text().startswith("ยืนยันแหล่งที่มาและประวัติแล้ว")
    assert "ไม่ได้" not in page.locator("#verdict").inner_text()
    assert re.search(r"25\d\d", page.locator("#producer").inner_text())  # Buddhist-era year
    shot(page, "buyer-verify-th")
    assert page.errors == []


def test_buyer__tampered_lot__red_failures(open_page, site, world):
    page, _ = open_page()
    page.goto(f"{site}/batch/{world.tampered}")
    assert page.locator("#verdict").inner_text() == (
        "Origin or history could NOT be verified; quality grade NOT verified"
    )
    assert "FAILED" in page.locator("#verdict-counts").inner_text()
    failed = page.locator('li.check[data-status="fail"]')
    kinds = {failed.nth(i).get_attribute("data-check") for i in range(failed.count())}
    assert {"key", "evidence", "graded_evidence"} <= kinds
    color = page.evaluate("(el) => getComputedStyle(el).color", failed.first.element_handle())
    assert color == "rgb(179, 38, 30)"  # red
    shot(page, "buyer-tampered", docs=True)


def test_buyer__xss_lot__payloads_inert(open_page, site, world):
    page, _ = open_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{site}/batch/{world.xss}")
    page.wait_for_timeout(300)
    assert dialogs == []
    assert '<script>alert("xss")</script>' in page.locator("#batch-title").inner_text()


def test_community__uploads_evidence_and_submits_through_wallet(open_page, site, world, tmp_path):
    page, wallet = open_page(world.community)
    page.goto(f"{site}/wallet/submit")
    page.click("#connect")
    page.wait_for_selector(f"text={world.community.address}")
    page.select_option("#milestone", f"{world.grant_thb}:2")
    photo = tmp_path / "roof.png"
    photo.write_bytes(png(32, 24, (200, 120, 40)))
    page.set_input_files("#files", str(photo))
    page.fill("#note", "มุงหลังคาเสร็จแล้ว")
    page.click("#send-submission")
    page.wait_for_selector('#status[data-done="1"]', timeout=30_000)
    cid = page.locator("#status").get_attribute("data-cid")
    m = world.escrow.milestone(world.grant_thb, 2)
    assert m.status == 2 and len(wallet.sent) == 1
    from tambon.cid import OnchainCid

    assert m.evidence == OnchainCid.parse(cid).digest
    shot(page, "community-submit", docs=True)
    assert page.errors == []


def test_council__three_of_five_sign_in_wallets_then_anyone_releases(open_page, site, world):
    card_selector = f'article.pending[data-grant="{world.grant_thb}"][data-milestone="1"]'
    before = world.thb.balanceOf(world.community)
    for i, member in enumerate(world.members[:3]):
        page, wallet = open_page(member, lang="th-TH")
        page.goto(f"{site}/wallet/council")
        page.click("#connect")
        page.wait_for_selector(f"text={member.address}")
        card = page.locator(card_selector)
        card.locator("button.sign").click()
        page.wait_for_function(
            "([sel, n]) => document.querySelector(sel).querySelector('.sig-status').textContent.startsWith(n + ' ')",
            arg=[card_selector, str(i + 1)],
            timeout=30_000,
        )
        assert card.locator(".status").inner_text() == "บันทึกลายเซ็นแล้ว"
        data = wallet.signed[0]
        assert data["primaryType"] == "Release" and int(data["message"]["amount"]) == 100_000 * 10**18
        if i == 2:
            assert card.locator("button.release").is_enabled()
            shot(page, "council-signed")
        page.context.close()
    page, wallet = open_page(world.seller)  # not a member: anyone may relay
    page.goto(f"{site}/wallet/council")
    card = page.locator(card_selector)
    page.wait_for_function(
        "(sel) => !document.querySelector(sel).querySelector('button.release').disabled",
        arg=card_selector,
        timeout=30_000,
    )
    card.locator("button.release").click()
    page.wait_for_selector(f'{card_selector}[data-released="1"]', timeout=30_000)
    assert world.escrow.milestone(world.grant_thb, 1).status == 3
    assert world.thb.balanceOf(world.community) - before == 100_000 * 10**18
    shot(page, "council-released", docs=True)
    page.goto(f"{site}/grants")
    shot(page, "grants-dashboard")
    assert page.locator("svg.chart").count() == 2
