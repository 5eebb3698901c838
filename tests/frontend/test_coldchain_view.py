"""The verify page's cold-chain section without a chain: curve SVG, plain words, EPCIS sensor fields.

The logs are made in code (oracle.coldchain.synth): no licensed real logger traces yet.
"""

from __future__ import annotations

from xml.etree import ElementTree

from frontend.services.batches import EvidenceRef
from frontend.services.coldchain import (
    ColdChainView,
    coldchain_sensor_fields,
    temperature_svg,
    with_coldchain,
)
from oracle.coldchain import analyse, load_rules
from oracle.coldchain.logs import TemperatureLog
from oracle.coldchain.synth import WarmSpell, reefer_readings
from tambon.verify import PASS, Check

RULES = load_rules()
START = 1_793_000_000  # 2026-10-26, afternoon in Bangkok
EVIDENCE = EvidenceRef(cid="bafkreitest", check=Check("evidence", PASS, "the log matches its CID"))


def view(warm: WarmSpell | None) -> ColdChainView:
    times, temps = reefer_readings(START, 30, 11.5, seed=4, warm=warm)
    report = analyse(TemperatureLog(times, temps, "csv"), RULES.for_crop("mango"), RULES.sha256)
    return ColdChainView(
        batch_id=7,
        log_cid="0x" + "ab" * 32,
        signer="0x" + "11" * 20,
        verdict=report.verdict.name,
        minutes_out_of_range=round(report.minutes_out_of_range),
        mkt_c=round(report.mkt_c or 0, 2),
        shelf_life_days=int(report.shelf_life_days or 0),
        rules_sha256="0x" + RULES.sha256,
        analysed_at=START + 31 * 3600,
        attested_at=START + 31 * 3600 + 2,
        tx_hash="0x" + "cd" * 32,
        evidence=EVIDENCE,
        checks=(Check("signature", PASS, "ok"),),
        report=report,
        _times=times,
        _celsius=temps,
    )


def test_chart__band_excursion_and_curve_in_valid_svg():
    v = view(WarmSpell(after_h=8, hours=6, peak_c=22.0))
    svg = v.chart("en")
    root = ElementTree.fromstring(svg)  # well-formed, inline, no script
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and "script" not in svg and "http://" not in svg.replace(ns[1:-1], "")
    classes = [el.get("class") for el in root.iter()]
    assert classes.count("band") == 1 and classes.count("excursion") == 1 and "reading" in classes
    points = root.find(f"{ns}polyline").get("points").split()
    assert 2 <= len(points) <= 600


def test_words__english_and_thai():
    ok = view(None)
    assert ok.verdict == "OK"
    assert ok.words("en").startswith("Kept cool the whole trip; about ")
    assert "days of storage life left" in ok.words("en")
    assert ok.words("th").startswith("รักษาความเย็นได้ตลอดการขนส่ง")
    warm = view(WarmSpell(after_h=8, hours=6, peak_c=22.0))
    assert warm.verdict == "EXCURSION"
    assert "h outside 10–13 °C, longest from 26/10 " in warm.words("en")
    assert "ชั่วโมง" in warm.words("th") and "อยู่นอกช่วง 10–13 °C" in warm.words("th")
    assert 'aria-label="อุณหภูมิระหว่างการขนส่ง"' in warm.chart("th")


def test_epcis_sensor_fields__alarm_on_excursion():
    warm = view(WarmSpell(after_h=8, hours=6, peak_c=22.0))
    fields = coldchain_sensor_fields(warm)
    assert fields["exception"] == "ALARM_CONDITION" and fields["tambon:coldChainVerdict"] == "EXCURSION"
    assert fields["tambon:meanKineticTemperature"] == warm.mkt_c
    assert "exception" not in coldchain_sensor_fields(view(None))


def test_svg_helper__thins_long_logs_but_keeps_the_spike():
    times, temps = reefer_readings(START, 24 * 30, 11.5, interval_min=1.0, seed=5)
    temps[20_000] = 19.0  # one spike in 43,000 readings
    report = analyse(TemperatureLog(times, temps, "csv"), RULES.for_crop("mango"))
    svg = temperature_svg(times, temps, report, "en")
    assert len(svg) < 40_000
    ys = [
        float(p.split(",")[1])
        for p in ElementTree.fromstring(svg)
        .find("{http://www.w3.org/2000/svg}polyline")
        .get("points")
        .split()
    ]
    assert min(ys) < 40  # the spike is still drawn near the top


def test_epcis_document__transport_event_carries_the_verdict():
    warm = view(WarmSpell(after_h=8, hours=6, peak_c=22.0))
    document = {"epcisBody": {"eventList": [
        {"type": "ObjectEvent", "tambon:batchId": 7, "tambon:evidence": "ipfs://bafkreitest",
         "sensorElementList": [{"sensorMetadata": {"time": "t"}, "sensorReport": [{"type": "gs1:Temperature"}]}]},
        {"type": "ObjectEvent", "tambon:batchId": 8, "tambon:evidence": "ipfs://bafkreitest",
         "sensorElementList": [{"sensorMetadata": {"time": "t"}, "sensorReport": [{"type": "gs1:Temperature"}]}]},
    ]}}  # fmt: skip
    out = with_coldchain(document, [warm])
    first, other = out["epcisBody"]["eventList"]
    report = first["sensorElementList"][0]["sensorReport"][0]
    assert report["tambon:coldChainVerdict"] == "EXCURSION" and report["exception"] == "ALARM_CONDITION"
    assert first["sensorElementList"][0]["sensorMetadata"]["startTime"].endswith("Z")
    assert "tambon:coldChainVerdict" not in other["sensorElementList"][0]["sensorReport"][0]  # another lot


def test_json__the_public_model_carries_the_oracle_report_without_the_readings():
    import json

    from frontend.api.models import ColdChainOut

    data = ColdChainOut.of(view(None)).model_dump(mode="json")
    assert "_times" not in data and data["verdict"] == "OK"
    assert data["report"]["verdict"] == "OK" and "excursions" in data["report"]
    json.dumps(data)  # no numpy arrays left
