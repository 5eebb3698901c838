"""The verify page's cold-chain section in a browser, in English on a phone and in Thai on a desktop:
the council approves the crop rules, an oracle attests a mango lot's trip with a 6 h warm spell at the
port, and the page shows the curve (band, excursion, readings), the verdict in plain words and passing
checks. The trip's log is made in code (oracle.coldchain.synth): no licensed real logger traces yet."""

from __future__ import annotations

import pytest

from evidence.bundle import build_bundle
from oracle.coldchain import analyse, load_rules, read_log
from oracle.coldchain.service import attestation_of
from oracle.coldchain.synth import WarmSpell, logger_csv, reefer_readings
from tambon.coldchain import sign_coldchain
from tests.e2e.conftest import shot
from tests.frontend.world import ORACLE_KEY, Decisions

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
MANGO, TRANSPORT = 201, 3


@pytest.fixture(scope="module")
def warm_lot(world, chain, accounts):
    """A mango lot whose TRANSPORT step carries a 30 h reefer log with a warm spell, attested on chain."""
    rules = load_rules()
    deployer = accounts[0]
    registry, provenance, community = world.registry, world.provenance, world.community
    sha = bytes.fromhex(rules.sha256)
    if not registry.is_approved_model(sha):  # rule sets share the model table: one ApproveModel decision
        Decisions(world.escrow, world.members, chain.chain_id, deployer).governance(
            chain, "ApproveModel", world.escrow.approve_model, registry=registry.address, modelSha256=sha
        )
    lot = provenance.register(b"\x19" * 32, 0x55, MANGO, 500_000, 20_400, sender=community).return_value
    start = chain.blocks.head.timestamp - 40 * 3600
    times, temps = reefer_readings(start, 30, 11.5, seed=19, warm=WarmSpell(after_h=20, hours=6, peak_c=24.0))
    csv = logger_csv(times, temps)
    bundle = build_bundle(
        world.store, {"stage": "transport", "vehicle": "reefer 70-1234"}, {"logger.csv": csv}
    )
    onchain = bundle.onchain
    data = (int(temps.min() * 100) & 0xFFFF) | ((int(temps.max() * 100) & 0xFFFF) << 16)
    provenance.addStep(lot, TRANSPORT, onchain.digest, onchain.codec, data, sender=community)
    report = analyse(read_log(csv), rules.for_crop(MANGO), rules.sha256)
    item = attestation_of(lot, onchain.digest, report, rules.sha256, chain.blocks.head.timestamp)
    signature = sign_coldchain(item, ORACLE_KEY, chain.chain_id, registry.address)
    registry.attestColdChain(item.as_tuple(), signature, sender=deployer)
    return lot


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
