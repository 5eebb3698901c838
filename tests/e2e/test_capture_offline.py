"""Offline field capture in headless chromium: capture a step with no network, close the browser,
reopen it still offline (the queue survives), then switch the network on: the step is uploaded as a
schema-valid evidence bundle and the wallet sends addStep; the chain and the evidence store agree."""

from __future__ import annotations

import pytest

from evidence.bundle import read_bundle_file, read_record
from tambon.cid import cid_string
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PROVIDER_JS, TestWallet, shot
from tests.frontend.world import png

pytestmark = pytest.mark.e2e
GEO = {"latitude": 13.6812034, "longitude": 101.2033418, "accuracy": 9}
PROFILE = {
    "commodity": "mango",
    "variety": "Nam Dok Mai Si Thong",
    "farm_name": "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท",
    "farm_phone": "+66 81 234 5678",
    "farm_district": "Sanom",
    "farm_province": "Surin",
    "field_name": "แปลง 3",
    "harvester_name": "Nong Sanit Mango Community Enterprise",
    "harvester_phone": "+66 81 234 5678",
    "recipient_name": "Nong Sanit Cooperative Packing House",
    "recipient_phone": "+66 44 512 345",
    "recipient_district": "Sanom",
    "recipient_province": "Surin",
}


def test_capture__offline_queue_survives_closed_browser_then_uploads_and_signs(
    browser, site, world, evidence_server, rpc_url, tmp_path
):
    store, _node = evidence_server
    box = world.boxes[1]  # held by the packing house, still open for steps
    steps_before = world.provenance.stepCount(box)
    wallet = TestWallet(world.packer, rpc_url)
    photo = png(40, 30, (240, 190, 40))

    def launch(offline: bool):
        context = browser.browser_type.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            locale="th-TH", geolocation=GEO, permissions=["geolocation"], offline=offline,
            viewport={"width": 420, "height": 1100},
        )  # fmt: skip
        context.expose_function("tambonWallet", wallet.handle)
        context.add_init_script(PROVIDER_JS)
        page = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        return context, page, errors

    # online once: the page installs its service worker and the farm details are saved
    context, page, errors = launch(offline=False)
    page.goto(f"{site}/capture/")
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    assert (
        page.locator('link[rel="manifest"]').get_attribute("href") == "/static/capture/manifest.webmanifest"
    )
    for name, value in PROFILE.items():
        page.fill(f'#profile [name="{name}"]', value)
    page.click("#save-profile")
    page.wait_for_function("() => document.getElementById('status').textContent.length > 0")
    assert "บันทึกข้อมูลแปลงแล้ว" in page.locator("#status").inner_text()
    page.click("#connect")  # the lots this wallet holds are listed (and kept for offline use)
    page.locator(f'#batch option[value="{box}"]').wait_for(state="attached")

    # no signal: the page still opens (from the service worker) and the step is queued on the device
    context.set_offline(True)
    response = page.reload()
    assert response is not None and response.from_service_worker
    # the page's own network is off (navigator.onLine is not reliable under emulation after a reload)
    assert (
        page.evaluate("fetch('/healthz', {cache: 'no-store'}).then(() => 'reached', () => 'failed')")
        == "failed"
    )
    page.locator(f'#batch option[value="{box}"]').wait_for(state="attached")  # from the device's copy
    page.select_option("#batch", str(box))
    page.fill('#step [name="weight_kg"]', "25.5")
    page.fill('#step [name="doc_number"]', "HL-2569-031-07")
    page.set_input_files("#photos", [{"name": "mango.png", "mimeType": "image/png", "buffer": photo}])
    page.click("#save-step")
    queued = page.locator('#queue li[data-state="queued"]')
    queued.wait_for()
    assert "25.5 กก." in queued.inner_text() and "GPS 13.681203, 101.203342" in queued.inner_text()
    assert "การเก็บเกี่ยว" in queued.inner_text() or "เก็บเกี่ยว" in queued.inner_text()  # not "harvesting"
    page.click("#sync")  # trying to send without signal changes nothing
    page.wait_for_timeout(500)
    assert page.locator('#queue li[data-state="queued"]').count() == 1
    assert world.provenance.stepCount(box) == steps_before
    shot(page, "capture-offline-queued")
    assert errors == []
    context.close()  # the browser is closed with the step still queued

    # reopened, still offline: the queue is still there
    context, page, errors = launch(offline=True)
    page.goto(f"{site}/capture/")
    page.locator('#queue li[data-state="queued"]').wait_for()
    assert page.locator("#queue li").count() == 1 and page.locator("#pending").inner_text() == "1"
    assert wallet.sent == []

    # signal again: upload, wallet sends addStep, the receipt confirms it
    context.set_offline(False)
    done = page.locator('#queue li[data-state="done"]')
    done.wait_for(timeout=60_000)
    text = done.inner_text()
    shot(page, "capture-synced")
    assert errors == []
    context.close()

    assert len(wallet.sent) == 1 and "บันทึกบนบล็อกเชนแล้ว" in text
    assert world.provenance.stepCount(box) == steps_before + 1
    receipt = world.provenance.chain_manager.get_receipt(wallet.sent[0])
    [logged] = [log for log in receipt.decode_logs() if log.event_name == "StepAdded"]
    cid = cid_string(bytes(logged.evidence), logged.codec)
    record = read_record(store, cid)
    assert record["schema_version"] == "1" and record["event"] == "harvesting"
    assert record["quantity"] == {"value": 25.5, "unit": "kg"}
    assert record["gps"]["lat"] == 13.681203 and record["gps"]["lon"] == 101.203342
    assert record["farm"]["field_name"] == "แปลง 3" and record["photos"] == ["mango.png"]
    # no document type typed: the activity's usual document, in the page's language
    assert record["reference_documents"] == [{"type": "บันทึกการเก็บเกี่ยว", "number": "HL-2569-031-07"}]
    assert read_bundle_file(store, cid, "mango.png") == photo
    assert logged.batchId == box and logged.stage == 1  # HARVEST
    from tambon.cid import OnchainCid

    assert OnchainCid.parse(cid).digest == bytes(logged.evidence)
