"""The verify page's cold-chain section in a browser, in English on a phone and in Thai on a desktop:
the council approves the crop rules, an oracle attests a mango lot's trip with a 6 h warm spell at the
port, and the page shows the curve (band, excursion, readings), the verdict in plain words and passing
checks. The trip's log is made in code (oracle.coldchain.synth): no licensed real logger traces yet."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot
from tests.frontend.world import attest_trip, warm_trip

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def warm_lot(world, chain, accounts):
    """A mango lot whose TRANSPORT step carries a 30 h reefer log with a warm spell, attested on chain."""
    trip = warm_trip(world, chain, accounts, b"\x19" * 32, seed=19)
    attest_trip(world, chain, accounts, trip)
    return trip.lot


@pytest.mark.parametrize(
    ("lang", "viewport", "words"), [("en", PHONE, "outside 10–13 °C"), ("th", DESKTOP, "อยู่นอกช่วง 10–13 °C")]
)
def test_coldchain_chart__curve_words_and_checks(browser, site, warm_lot, lang, viewport, words):
    context = browser.new_context(
        locale=lang, viewport=viewport, extra_http_headers={"Accept-Language": lang}
    )
    page = context.new_page()
    page.goto(f"{site}/batch/{warm_lot}?lang={lang}")
    section = page.locator("#coldchain article.coldchain")
    assert section.count() == 1
    assert section.get_attribute("data-verdict") == "EXCURSION"
    chart = section.locator("svg.coldchain-chart")
    assert chart.is_visible()
    assert chart.locator("rect.band").count() == 1 and chart.locator("rect.excursion").count() >= 1
    assert chart.locator("polyline.reading").count() == 1
    box = chart.bounding_box()
    assert box is not None and box["width"] <= viewport["width"]  # fits a phone
    text = section.locator(".coldchain-words").inner_text()
    assert words in text
    statuses = section.locator("li.check").evaluate_all("els => els.map(e => e.dataset.status)")
    assert statuses and set(statuses) == {"pass"}, statuses
    shot(page, f"coldchain-{lang}")
    context.close()


def test_coldchain_api__json_and_epcis_carry_the_verdict(site, warm_lot):
    import httpx

    data = httpx.get(f"{site}/api/batches/{warm_lot}", timeout=60).raise_for_status().json()
    (cc,) = data["coldchain"]
    assert cc["verdict"] == "EXCURSION" and cc["minutes_out_of_range"] > 300
    epcis = httpx.get(f"{site}/api/batches/{warm_lot}/epcis", timeout=60).raise_for_status().json()
    reports = [
        r
        for ev in epcis["epcisBody"]["eventList"]
        for el in ev.get("sensorElementList", [])
        for r in el["sensorReport"]
    ]
    assert any(
        r.get("tambon:coldChainVerdict") == "EXCURSION" and r.get("exception") == "ALARM_CONDITION"
        for r in reports
    )
