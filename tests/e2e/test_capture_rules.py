"""Offline capture a farmer can trust, in Thai on a phone and English on a desktop: only open lots the
wallet holds can be chosen, the farm details are checked on the device with the record schema (no
network), a step the site refuses stops and says why without prompting the wallet again, and a queued
step can be edited or removed."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, PROVIDER_JS, TestWallet, shot
from tests.e2e.test_capture_offline import PROFILE

pytestmark = pytest.mark.e2e
LANGS = [("th-TH", PHONE), ("en-US", DESKTOP)]
TEXT = {
    "th-TH": {"profile_bad": "ข้อมูลแปลงยังไม่ครบหรือไม่ถูกต้อง", "farm": "ชื่อฟาร์ม", "saved": "บันทึกข้อมูลแปลงแล้ว",
              "closed": "ล็อตนี้ปิดแล้ว", "refused": "ข้อมูลไม่ครบ"},
    "en-US": {"profile_bad": "Farm details missing or not valid", "farm": "Farm / community enterprise",
              "saved": "Farm details saved.", "closed": "This lot is closed"},
}  # fmt: skip


def open_capture(browser, site, wallet, lang, viewport):
    context = browser.new_context(
        locale=lang, viewport=viewport, extra_http_headers={"Accept-Language": lang}
    )
    context.expose_function("tambonWallet", wallet.handle)
    context.add_init_script(PROVIDER_JS)
    page = context.new_page()
    page.goto(f"{site}/capture/")
    page.click("#connect")
    page.wait_for_function("() => document.getElementById('account').textContent.length > 0")
    return page


@pytest.mark.parametrize(("lang", "viewport"), LANGS)
def test_capture__only_open_held_lots__profile_checked_offline(browser, site, world, rpc_url, lang, viewport):
    wallet = TestWallet(world.packer, rpc_url)
    page = open_capture(browser, site, wallet, lang, viewport)
    options = page.locator("#batch option")
    options.nth(1).wait_for(state="attached")
    listed = {options.nth(i).get_attribute("value") for i in range(options.count())} - {""}
    for b in world.boxes:  # the packing house holds the boxes; the sold one is closed
        held = world.provenance.ownerOf(b) == world.packer.address
        open_ = not world.provenance.batch(b)[8]
        assert (str(b) in listed) == (held and open_), (b, listed)
    assert str(world.sold_box) not in listed and str(world.lot) not in listed

    # farm details checked on the device, with the network off, by the record schema
    page.context.set_offline(True)
    for name, value in PROFILE.items():
        page.fill(f'#profile [name="{name}"]', value)
    page.fill('#profile [name="farm_name"]', "")
    page.fill('#profile [name="farm_phone"]', "call me")
    page.click("#save-profile")
    status = page.locator("#status")
    page.wait_for_function("() => document.getElementById('status').classList.contains('fail')")
    told = status.inner_text()
    assert TEXT[lang]["profile_bad"] in told and TEXT[lang]["farm"] in told, told
    if lang == "th-TH":
        assert "farm.name" not in told and "missing" not in told  # no JSON paths, no English
    shot(page, f"capture-profile-invalid-{lang}")
    page.fill('#profile [name="farm_name"]', PROFILE["farm_name"])
    page.fill('#profile [name="farm_phone"]', PROFILE["farm_phone"])
    page.click("#save-profile")
    page.wait_for_function("() => !document.getElementById('status').classList.contains('fail')")
    assert TEXT[lang]["saved"] in status.inner_text()
    page.context.close()


@pytest.mark.parametrize(("lang", "viewport"), LANGS)
def test_capture__closed_lot_refused_once_without_wallet_prompts__edit_and_remove(
    browser, site, world, rpc_url, lang, viewport
):
    wallet = TestWallet(world.packer, rpc_url)
    page = open_capture(browser, site, wallet, lang, viewport)
    page.locator("#batch option").nth(1).wait_for(state="attached")
    for name, value in PROFILE.items():
        page.fill(f'#profile [name="{name}"]', value)
    page.click("#save-profile")
    page.wait_for_function("() => document.getElementById('status').textContent.length > 0")
    # a list saved before the lot was sold still offers it: the site refuses the step
    page.evaluate(
        "(id) => { const o = document.createElement('option'); o.value = id; o.textContent = '#' + id;"
        " document.getElementById('batch').append(o); }",
        str(world.sold_box),
    )
    page.select_option("#batch", str(world.sold_box))
    page.fill('#step [name="weight_kg"]', "5")
    page.fill('#step [name="doc_number"]', "HL-CLOSED-1")
    page.click("#save-step")
    rejected = page.locator('#queue li[data-state="rejected"]')
    rejected.wait_for(timeout=30_000)
    assert TEXT[lang]["closed"] in rejected.inner_text()
    page.wait_for_timeout(6_000)  # longer than the retry interval: nothing is tried again
    assert page.locator('#queue li[data-state="rejected"]').count() == 1
    assert wallet.sent == [] and wallet.signed == []
    shot(page, f"capture-closed-lot-{lang}")
    rejected.locator("button", has_text="แก้ไข" if lang == "th-TH" else "Edit").click()
    page.wait_for_function("() => document.querySelectorAll('#queue li').length === 0")
    assert page.locator('#step [name="doc_number"]').input_value() == "HL-CLOSED-1"  # back in the form

    # queued offline, then removed before it is sent
    page.context.set_offline(True)
    page.select_option("#batch", str(world.boxes[1]))
    page.click("#save-step")
    queued = page.locator('#queue li[data-state="queued"]')
    queued.wait_for()
    queued.locator("button", has_text="ลบ" if lang == "th-TH" else "Remove").click()
    page.wait_for_function("() => document.querySelectorAll('#queue li').length === 0")
    page.context.set_offline(False)
    page.wait_for_timeout(1_000)
    assert wallet.sent == []
    page.context.close()


@pytest.mark.parametrize(("lang", "viewport"), LANGS)
def test_capture__step_dated_out_of_the_lots_order__refused_naming_both_dates(
    browser, site, world, rpc_url, lang, viewport
):
    """A harvest recorded today on a lot already packed on 3 April 2026 is refused before anything is
    stored or signed, and the farmer reads both dates in the page's language."""
    from compliance import samples
    from evidence.bundle import build_bundle, require_kdes
    from tests.frontend.world import MANGO

    packed = build_bundle(world.store, samples.mango_lot()[2], {}, validate=require_kdes).onchain
    lot = world.provenance.register(
        packed.digest, packed.codec, MANGO, 1_200_000, 20_545, sender=world.packer
    ).return_value
    wallet = TestWallet(world.packer, rpc_url)
    page = open_capture(browser, site, wallet, lang, viewport)
    page.locator(f'#batch option[value="{lot}"]').wait_for(state="attached")
    for name, value in PROFILE.items():
        page.fill(f'#profile [name="{name}"]', value)
    page.click("#save-profile")
    page.wait_for_function("() => document.getElementById('status').textContent.length > 0")
    page.select_option("#batch", str(lot))
    page.fill('#step [name="weight_kg"]', "40")
    page.fill('#step [name="doc_number"]', "HL-LATE-1")
    page.click("#save-step")
    rejected = page.locator('#queue li[data-state="rejected"]')
    rejected.wait_for(timeout=30_000)
    told = rejected.inner_text()
    packed_on = "3 เมษายน 2569" if lang == "th-TH" else "3 April 2026"
    assert packed_on in told, told
    if lang == "th-TH":
        assert "ขัดกับบันทึกของล็อต" in told and "initial_packing" not in told  # said in Thai
    else:
        assert "out of order with the lot's record" in told
    assert wallet.sent == [] and wallet.signed == []
    assert world.provenance.stepCount(lot) == 0
    shot(page, f"capture-date-order-{lang}")
    page.context.close()


@pytest.mark.parametrize("wallet", [False, True], ids=["no wallet", "wallet"])
@pytest.mark.parametrize(("lang", "viewport"), [*LANGS, ("en-US", PHONE)])
def test_capture__the_page_holds_still_while_it_starts(browser, site, world, rpc_url, lang, viewport, wallet):
    """Nothing a farmer is about to tap moves while the page fills in what its script learns (the
    network state, the wallet and its lots, or that there is no wallet): layout shifts sum to
    nothing, as a browser measures them."""
    context = browser.new_context(
        locale=lang, viewport=viewport, extra_http_headers={"Accept-Language": lang}
    )
    if wallet:
        context.expose_function("tambonWallet", TestWallet(world.packer, rpc_url).handle)
        context.add_init_script(PROVIDER_JS)
    context.add_init_script(
        "window.__shift = 0; new PerformanceObserver((list) => { for (const e of list.getEntries())"
        " if (!e.hadRecentInput) window.__shift += e.value; }).observe({type: 'layout-shift', buffered: true});"
    )
    page = context.new_page()
    page.goto(f"{site}/capture/")
    page.wait_for_function("() => document.getElementById('net').dataset.online === String(navigator.onLine)")
    told = "account" if wallet else "status"
    page.wait_for_function(f"() => document.getElementById('{told}').textContent.length > 0")
    page.wait_for_timeout(300)  # shifts are reported after the frame that made them
    shift = page.evaluate("window.__shift")
    context.close()
    assert shift < 0.01, f"the page moved while starting: layout shift {shift:.3f}"
