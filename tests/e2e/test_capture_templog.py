"""A TRANSPORT step on the capture page, in Thai on a phone and English on a desktop: the logger's
temperature export is read on the device and previewed (readings, time range, lowest and highest,
the crop's band and the readings outside it) before the step is queued; an unreadable file is refused
there; the queued step's bundle carries the log and the oracle reads it from the chain's evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evidence.bundle import read_bundle_file, read_record
from oracle.coldchain.service import find_log
from oracle.coldchain.synth import WarmSpell, logger_csv, reefer_readings
from tambon.cid import OnchainCid, cid_string
from tambon.provenance import Stage, decode_transport
from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.test_capture_offline import PROFILE
from tests.e2e.test_capture_rules import open_capture

pytestmark = pytest.mark.e2e
LANGS = [("th-TH", PHONE), ("en-US", DESKTOP)]
TEXT = {
    "th-TH": {"points": "73 จุดข้อมูล", "band": "ช่วงที่เหมาะกับพืชนี้ 10 – 13 °C", "outside": "จุดที่อยู่นอกช่วง",
              "range": "ต่ำสุด–สูงสุด", "unreadable": "อ่านไฟล์บันทึกอุณหภูมินี้ไม่ได้", "log": "บันทึกอุณหภูมิ",
              "done": "บันทึกบนบล็อกเชนแล้ว", "from": "ตั้งแต่", "document": "ใบส่งของ"},
    "en-US": {"points": "73 readings", "band": "band for this crop 10 – 13 °C", "outside": "readings outside the band",
              "range": "lowest–highest", "unreadable": "This temperature log cannot be read", "log": "temperature log",
              "done": "recorded on-chain", "from": "from", "document": "delivery note"},
}  # fmt: skip


def trip_log() -> tuple[bytes, float, float]:
    """A reefer logger's export of a 6-hour mango trip with a warm spell at the port (made in code:
    no real logger data here yet)."""
    start = int(datetime(2026, 11, 4, 1, 0, tzinfo=UTC).timestamp())
    times, celsius = reefer_readings(
        start, 6, 12.0, seed=5, warm=WarmSpell(after_h=2, hours=1.5, peak_c=16.0)
    )
    return logger_csv(times, celsius), float(celsius.min()), float(celsius.max())


@pytest.mark.parametrize(("lang", "viewport"), LANGS)
def test_capture__transport_log__previewed_then_in_the_bundle_for_the_oracle(
    browser, site, world, evidence_server, rpc_url, lang, viewport
):
    from tests.e2e.conftest import TestWallet

    store, _node = evidence_server
    wallet = TestWallet(world.packer, rpc_url)
    page = open_capture(browser, site, wallet, lang, viewport)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for name, value in PROFILE.items():
        page.fill(f'#profile [name="{name}"]', value)
    page.click("#save-profile")
    box = world.boxes[1]  # a mango box the packing house holds, still open for steps
    page.locator(f'#batch option[value="{box}"]').wait_for(state="attached")
    page.select_option("#batch", str(box))
    assert page.locator("#transport").is_hidden()
    page.select_option('#step [name="event"]', "shipping")
    assert page.locator("#transport").is_visible()

    # a file that is no temperature log: said at once, and the step is not queued
    page.set_input_files(
        "#templog", [{"name": "notes.csv", "mimeType": "text/csv", "buffer": b"hello\nworld\n"}]
    )
    page.wait_for_function("() => document.getElementById('log-preview').textContent.length > 0")
    assert TEXT[lang]["unreadable"] in page.locator("#log-preview").inner_text()

    log, low, high = trip_log()
    page.set_input_files("#templog", [{"name": "TL-0001.csv", "mimeType": "text/csv", "buffer": log}])
    page.wait_for_function("() => document.getElementById('log-preview').dataset.points === '73'")
    preview = page.locator("#log-preview").inner_text()
    assert TEXT[lang]["points"] in preview and TEXT[lang]["from"] in preview, preview
    assert TEXT[lang]["range"] in preview and TEXT[lang]["band"] in preview, preview
    warm = sum(1 for line in log.decode().splitlines()[2:] if not 10.0 <= float(line.split(",")[1]) <= 13.0)
    assert warm > 0 and f"{warm} {TEXT[lang]['outside']}" in preview, preview
    shot(page, f"capture-templog-preview-{lang}")

    page.fill('#step [name="tlc"]', "TH-MG-261104-T")
    page.fill('#step [name="weight_kg"]', "480")
    page.fill('#step [name="doc_number"]', "DN-2569-1104")
    page.click("#save-step")
    done = page.locator('#queue li[data-state="done"]')
    done.wait_for(timeout=60_000)
    assert TEXT[lang]["done"] in done.inner_text() and TEXT[lang]["log"] in done.inner_text()
    assert errors == []
    page.context.close()

    receipt = world.provenance.chain_manager.get_receipt(wallet.sent[-1])
    [logged] = [e for e in receipt.decode_logs() if e.event_name == "StepAdded"]
    assert logged.batchId == box and logged.stage == int(Stage.TRANSPORT)
    assert decode_transport(logged.data) == (round(low, 2), round(high, 2))
    cid = cid_string(bytes(logged.evidence), logged.codec)
    record = read_record(store, cid)
    assert record["event"] == "shipping" and record["traceability_lot_code"] == "TH-MG-261104-T"
    assert record["ship_to"]["name"] == PROFILE["recipient_name"]
    assert record["reference_documents"] == [{"type": TEXT[lang]["document"], "number": "DN-2569-1104"}]
    assert read_bundle_file(store, cid, "temperature-log.csv") == log
    found, _record = find_log(store, OnchainCid.parse(cid))
    assert found is not None and len(found) == 73
