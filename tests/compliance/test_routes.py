"""Compliance routes and the GS1 Digital Link resolver on the verify site (real chain, real evidence node)."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from fastapi.testclient import TestClient

from compliance import samples
from frontend.services.gs1 import gtin_for_crop
from tests.compliance.conftest import MANGO_CROP, MANGO_LOT

BASE = "http://testserver"


@pytest.fixture
def web():
    from frontend.settings import WebSettings

    return WebSettings(evidence_retry_seconds=0.0)


@pytest.fixture
def client(lots, settings, web):
    from frontend.app import create_app

    site = settings.model_copy(
        update={"evidence_api_url": lots.gateway_url, "gateway_url": lots.gateway_url, "public_url": BASE}
    )
    # errors come back as JSON for API clients and as the site's error page for browsers
    json_first = {"Accept": "application/json"}
    with TestClient(create_app(site, web), follow_redirects=False, headers=json_first) as c:
        yield c


def test_fsma_csv__batch_and_lineage_rows(client, lots):
    r = client.get(f"/batch/{lots.rubber}/fsma204.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert f'filename="batch-{lots.rubber}-fsma204.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [x["Critical Tracking Event"] for x in rows] == [
        "harvesting", "harvesting", "transformation", "shipping", "receiving",
    ]  # fmt: skip
    assert rows[2]["Batch ID"] == str(lots.rubber) and rows[2]["On-chain Event"] == "merge"
    assert all(x["Transaction Hash"].startswith("0x") and x["Evidence CID"].startswith("baf") for x in rows)


def test_fsma_xlsx__mango(client, lots):
    r = client.get(f"/batch/{lots.mango}/fsma204.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in ws["A"]][1:] == [
        "harvesting",
        "cooling",
        "initial_packing",
        "shipping",
        "receiving",
    ]
    assert ws["D4"].value == MANGO_LOT


def test_eudr_json__compliant_and_mixed(client, lots):
    ok = client.get(f"/batch/{lots.rubber}/eudr.json").json()
    assert ok["compliant"] is True and ok["commodities"][0]["hs_code"] == "400122"
    assert ok["batch"]["digital_link"].startswith(f"{BASE}/01/")
    mixed = client.get(f"/batch/{lots.mixed}/eudr.json").json()
    assert mixed["compliant"] is False
    assert [f["batch_id"] for f in mixed["flags"] if f["code"] == "unknown_origin"] == [lots.trader]


@pytest.mark.parametrize("suffix", ["fsma204.csv", "fsma204.xlsx", "eudr.json"])
def test_exports__bad_or_unknown_batch(client, suffix):
    assert client.get(f"/batch/abc/{suffix}").status_code == 400
    r = client.get(f"/batch/999999/{suffix}")
    assert r.status_code == 404 and "does not exist" in r.json()["detail"]


def _mango_gtin(web) -> str:
    return gtin_for_crop(MANGO_CROP, web.gs1_company_prefix)


def test_resolver__plain_scan__307_to_verify_page_in_scanner_language(client, lots, web):
    gtin = _mango_gtin(web)
    r = client.get(f"/01/{gtin}/10/{lots.mango}", headers={"Accept-Language": "th-TH,th;q=0.9,en;q=0.5"})
    assert r.status_code == 307
    assert r.headers["location"] == f"{BASE}/batch/{lots.mango}?lang=th"
    link = r.headers["link"]
    for rel in ("pip", "epcis", "traceability", "sustainabilityInfo", "certificationInfo"):
        assert f'rel="https://gs1.org/voc/{rel}"' in link
    assert f"<{BASE}/batch/{lots.mango}/fsma204.csv>" in link
    en = client.get(f"/01/{gtin}/10/{lots.mango}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert en.headers["location"] == f"{BASE}/batch/{lots.mango}?lang=en"


def test_resolver__traceability_lot_code_and_record_gtin(client, lots):
    r = client.get(f"/01/0{samples.MANGO_GTIN}/10/{MANGO_LOT}")
    assert r.status_code == 307 and r.headers["location"].startswith(f"{BASE}/batch/{lots.mango}?lang=")
    unpadded = client.get(f"/01/{samples.MANGO_GTIN}/10/{MANGO_LOT}")  # a Digital Link GTIN has 14 digits
    assert unpadded.status_code == 400 and "GS1 syntax" in unpadded.json()["detail"]


@pytest.mark.parametrize(
    ("link_type", "suffix"),
    [
        ("epcis", "/epcis"),
        ("gs1:epcis", "/epcis"),
        ("fsma", "/fsma204.csv"),
        ("gs1:traceability", "/fsma204.csv"),
        ("eudr", "/eudr.json"),
        ("https://gs1.org/voc/sustainabilityInfo", "/eudr.json"),
        ("pip", "?lang=en"),
        ("gs1:defaultLink", "?lang=en"),
    ],
)
def test_resolver__link_type__307_to_that_link(client, lots, web, link_type, suffix):
    r = client.get(f"/01/{_mango_gtin(web)}/10/{lots.mango}", params={"linkType": link_type})
    assert r.status_code == 307
    assert r.headers["location"] == f"{BASE}/batch/{lots.mango}{suffix}"


def test_resolver__certificate__verification_json(client, lots, web):
    r = client.get(f"/01/{_mango_gtin(web)}/21/{lots.mango}", params={"linkType": "certificate"})
    assert r.status_code == 307 and r.headers["location"] == f"{BASE}/api/batches/{lots.mango}"


def test_resolver__link_type_all__linkset(client, lots, web):
    gtin = _mango_gtin(web)
    r = client.get(f"/01/{gtin}/10/{lots.mango}", params={"linkType": "all"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/linkset+json")
    [entry] = r.json()["linkset"]
    assert entry["anchor"] == f"{BASE}/01/{gtin}/10/{lots.mango}"
    assert entry["https://gs1.org/voc/defaultLink"][0]["href"].startswith(f"{BASE}/batch/{lots.mango}?lang=")
    assert entry["https://gs1.org/voc/epcis"][0]["href"] == f"{BASE}/batch/{lots.mango}/epcis"
    assert [x["type"] for x in entry["https://gs1.org/voc/traceability"]] == [
        "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ]  # fmt: skip
    assert {x["hreflang"][0] for x in entry["https://gs1.org/voc/pip"]} == {"th", "en"}
    assert "link" in r.headers


def test_resolver__serial_and_lot_with_serial(client, lots, web):
    gtin = _mango_gtin(web)
    assert client.get(f"/01/{gtin}/21/{lots.mango}").status_code == 307
    both = client.get(f"/01/0{samples.MANGO_GTIN}/10/{MANGO_LOT}/21/{lots.mango}")
    assert both.status_code == 307 and f"/batch/{lots.mango}?" in both.headers["location"]
    wrong_lot = client.get(f"/01/0{samples.MANGO_GTIN}/10/TH-OTHER/21/{lots.mango}")
    assert wrong_lot.status_code == 404 and "not in lot 'TH-OTHER'" in wrong_lot.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/01/{bad_gtin}/10/{mango}", {}, 400, "wrong check digit"),
        ("/01/123/10/{mango}", {}, 400, "AI (01) value '123' does not follow its GS1 syntax"),
        ("/01/{gtin}/10/{mango}", {"linkType": "gs1:recipeInfo"}, 400, "unknown linkType 'gs1:recipeInfo'"),
        ("/01/{gtin}/10/{long}", {}, 400, "does not follow its GS1 syntax"),
        ("/01/{gtin}/10/NO-SUCH-LOT", {}, 404, "no batch carries lot 'NO-SUCH-LOT'"),
        ("/01/{gtin}/21/999999", {}, 404, "batch 999999 does not exist"),
        ("/01/{gtin}/21/box-7", {}, 404, "not a batch number"),
        ("/01/{other}/10/{mango}", {}, 404, "is not an item of GTIN"),
    ],
)
def test_resolver__bad_input(client, lots, web, path, params, status, message):
    gtin = _mango_gtin(web)
    bad = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)
    other = gtin_for_crop(MANGO_CROP + 1, web.gs1_company_prefix)
    url = path.format(gtin=gtin, bad_gtin=bad, mango=lots.mango, long="L" * 21, other=other)
    r = client.get(url, params=params)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_resolver__bad_gtin_from_a_browser__html_error_page(client, lots, web):
    gtin = _mango_gtin(web)
    bad = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)
    r = client.get(f"/01/{bad}/10/{lots.mango}", headers={"Accept": "text/html"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert f"AI (01) value {bad} has a wrong check digit" in r.text


def test_well_known_gs1resolver(client):
    r = client.get("/.well-known/gs1resolver")
    assert r.status_code == 200
    doc = r.json()
    assert doc["resolverRoot"] == BASE and doc["supportedPrimaryKeys"] == ["gtin"]
    assert {x["linkType"] for x in doc["supportedLinkType"]} >= {"gs1:epcis", "gs1:traceability", "gs1:pip"}


def _capture(client, batch_id, record, stage="HARVEST", photos=None):
    import json as _json

    files = [("photos", (name, data, "image/png")) for name, data in (photos or {}).items()]
    data = {"batch_id": str(batch_id), "stage": stage, "record": _json.dumps(record)}
    return client.post("/api/capture/steps", data=data, files=files or None)


def test_capture_api__valid_step__bundle_and_add_step_calldata(client, lots):
    from tests.frontend.world import png

    record = samples.mango_lot()[0]
    r = _capture(client, lots.mango, record, photos={"field.png": png(8, 8, (1, 2, 3))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["files"] == ["field.png", "record.json"]
    stored = json.loads(lots.store.cat(body["cid"], "record.json"))
    assert stored["photos"] == ["field.png"] and stored["farm"] == record["farm"]
    assert body["tx"]["data"].startswith("0x") and body["tx"]["to"].lower().startswith("0x")
    assert body["digest"][2:] in body["tx"]["data"]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (lambda r: r.pop("harvester"), 400, "missing required fields: harvester"),
        (lambda r: r["farm"].pop("field_name"), 400, "farm.field_name"),
        (lambda r: r.update(schema_version="7"), 400, "unknown schema_version '7'"),
    ],
)
def test_capture_api__missing_kdes__400_with_list(client, lots, change, status, message):
    record = samples.mango_lot()[0]
    change(record)
    r = _capture(client, lots.mango, record)
    assert r.status_code == status and message in r.json()["detail"]


def test_capture_api__bad_stage_batch_or_json(client, lots):
    record = samples.mango_lot()[0]
    assert "stage must be one of" in _capture(client, lots.mango, record, stage="PACKING").json()["detail"]
    assert _capture(client, 999999, record).status_code == 404
    bad = client.post("/api/capture/steps", data={"batch_id": "1", "stage": "HARVEST", "record": "{nope"})
    assert bad.status_code == 400 and "record is not JSON" in bad.json()["detail"]
    text = client.post(
        "/api/capture/steps",
        data={"batch_id": str(lots.mango), "stage": "HARVEST", "record": json.dumps(record)},
        files=[("photos", ("x.png", b"not an image", "image/png"))],
    )
    assert text.status_code == 415


def test_fsma_selection__lot_and_date_range(client, lots):
    r = client.get("/fsma204.csv", params={"lot": MANGO_LOT})
    assert r.status_code == 200 and "fsma204.csv" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [x["Critical Tracking Event"] for x in rows] == [
        "harvesting", "cooling", "initial_packing", "shipping", "receiving",
    ]  # fmt: skip
    x = client.get("/fsma204.xlsx", params={"from": "2026-05-01", "to": "2026-05-31"})
    ws = openpyxl.load_workbook(io.BytesIO(x.content)).active
    dates = [c.value for c in ws["B"]][1:]
    assert dates and all("2026-05-01" <= d <= "2026-05-31" for d in dates)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "give lot and/or from/to"),
        ({"from": "2026-02-30"}, "--from must be a date"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "the date range is empty"),
    ],
)
def test_fsma_selection__bad_query__400(client, lots, params, message):
    r = client.get("/fsma204.csv", params=params)
    assert r.status_code == 400 and message in r.json()["detail"]


def test_validate_api__good_record_and_bad_geojson(client):
    good = samples.rubber_smallholding("A", "SK-1", samples.PLOT_POLYGON, 6.9, 8, 800)
    r = client.post("/api/capture/validate", json=good)
    assert r.status_code == 200 and r.json() == {"valid": True, "schema_version": "1", "event": "harvesting"}
    bad = samples.rubber_smallholding(
        "A", "SK-1", {"type": "Point", "coordinates": [100.361245, 97.5]}, 6.9, 8, 800
    )
    r = client.post("/api/capture/validate", json=bad)
    assert r.status_code == 400
    assert "latitude 97.5 out of range" in r.json()["detail"]
    open_ring = samples.rubber_smallholding("A", "SK-1", samples.PLOT_POLYGON, 6.9, 8, 800)
    open_ring["eudr"]["plots"][0]["geometry"]["coordinates"][0].pop()
    r = client.post("/api/capture/validate", json=open_ring)
    assert r.status_code == 400 and "ring is not closed" in r.json()["detail"]
    point_too_big = samples.rubber_smallholding("A", "SK-1", samples.PLOT_POINT, 9, 8, 800)
    r = client.post("/api/capture/validate", json=point_too_big)
    assert r.status_code == 400 and "a plot of 9 ha needs a Polygon" in r.json()["detail"]
    assert client.post("/api/capture/validate", json=[1, 2]).status_code == 400


def test_capture_api__out_of_range_coordinates__400(client, lots):
    record = samples.rubber_smallholding(
        "A", "SK-1", {"type": "Point", "coordinates": [181.000001, 7.1234567]}, 2, 8, 8
    )
    r = _capture(client, lots.mango, record)
    assert r.status_code == 400 and "longitude 181.000001 out of range" in r.json()["detail"]
