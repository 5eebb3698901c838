"""Compliance routes and the GS1 Digital Link resolver on the verify site (real chain, real evidence node)."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import openpyxl
import pytest
from fastapi.testclient import TestClient

from compliance import fsma, samples
from frontend.services.gs1 import gtin_for_crop
from tests.compliance.conftest import MANGO_CROP, MANGO_LOT
from tests.compliance.references import load_json

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
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb["Initial Packing"]["A1"].value == "Commodity of the food received"  # 21 CFR 1.1330(a)(1)
    ws = wb[f"All events batch {lots.mango}"]
    assert [c.value for c in ws["A"]][1:] == [
        "harvesting",
        "cooling",
        "initial_packing",
        "shipping",
        "receiving",
    ]
    assert ws["D4"].value == MANGO_LOT


def test_fsma_zip__one_csv_per_cte(client, lots):
    r = client.get(f"/batch/{lots.rubber}/fsma204.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    files = zipfile.ZipFile(io.BytesIO(r.content))
    assert files.namelist() == [*fsma.TEMPLATE_FILES, "all-events.csv"]
    rows = list(csv.DictReader(io.StringIO(files.read("transformation.csv").decode("utf-8-sig"))))
    assert [r["Traceability lot code for the food used in transformation"] for r in rows] == [
        "SK-RP-01",
        "SK-RP-02",
    ]
    picked = client.get("/fsma204.zip", params={"lot": MANGO_LOT})
    assert picked.status_code == 200
    packing = zipfile.ZipFile(io.BytesIO(picked.content)).read("initial_packing.csv").decode("utf-8-sig")
    assert MANGO_LOT in packing
    assert client.get("/fsma204.zip").status_code == 400


def test_eudr_json__compliant_and_mixed(client, lots):
    ok = client.get(f"/batch/{lots.rubber}/eudr.json").json()
    assert ok["compliant"] is True and ok["commodities"][0]["hs_code"] == "400122"
    assert ok["batch"]["digital_link"].startswith(f"{BASE}/01/")
    mixed = client.get(f"/batch/{lots.mixed}/eudr.json").json()
    assert mixed["compliant"] is False
    assert [f["batch_id"] for f in mixed["flags"] if f["code"] == "unknown_origin"] == [lots.trader]


def test_walk__one_gtin_and_lot_from_label_to_resolver_epcis_fsma_and_eudr(client, lots):
    """The rubber lot followed the way an importer would: every format names the same GTIN + lot."""
    gtin, lot = "0" + samples.RUBBER_GTIN, "TH-RB-2605-01"
    label = client.get(f"/labels?ids={lots.rubber}").text
    assert f"(01){gtin}(10){lot}(21){lots.rubber}" in label
    link = f"{BASE}/01/{gtin}/10/{lot}/21/{lots.rubber}"
    assert f"<title>{link}</title>" in client.get(f"/qr/{lots.rubber}.svg").text  # what the QR code carries
    scan = client.get(link.removeprefix(BASE))
    assert scan.status_code == 307 and scan.headers["location"].startswith(f"{BASE}/batch/{lots.rubber}?")
    via = client.get(link.removeprefix(BASE), params={"linkType": "gs1:epcis"}).headers["location"]
    events = client.get(via.removeprefix(BASE)).json()["epcisBody"]["eventList"]
    own = [e for e in events if e["tambon:batchId"] == lots.rubber]
    lot_class = f"https://id.gs1.org/01/{gtin}/10/{lot}"
    for e in own:
        classes = [q["epcClass"] for k in ("quantityList", "outputQuantityList") for q in e.get(k, [])]
        assert classes == [lot_class]
    fsma_link = client.get(link.removeprefix(BASE), params={"linkType": "gs1:traceability"}).headers[
        "location"
    ]
    rows = list(
        csv.DictReader(io.StringIO(client.get(fsma_link.removeprefix(BASE)).content.decode("utf-8-sig")))
    )
    mine = [r for r in rows if r["Batch ID"] == str(lots.rubber)]
    assert mine and {(r["GTIN"], r["Traceability Lot Code"]) for r in mine} == {(gtin, lot)}
    eudr_link = client.get(link.removeprefix(BASE), params={"linkType": "eudr"}).headers["location"]
    statement = client.get(eudr_link.removeprefix(BASE)).json()
    assert (statement["batch"]["gtin"], statement["batch"]["traceability_lot_code"]) == (gtin, lot)
    assert statement["batch"]["digital_link"] == link
    plots = client.get(f"/batch/{lots.rubber}/eudr.geojson")
    assert plots.headers["content-type"].startswith("application/geo+json")
    features = plots.json()["features"]
    assert len(features) == 2
    assert {(f["properties"]["GTIN"], f["properties"]["TraceabilityLotCode"]) for f in features} == {
        (gtin, lot)
    }


@pytest.mark.parametrize("suffix", ["fsma204.csv", "fsma204.xlsx", "eudr.json", "eudr.geojson"])
def test_exports__bad_or_unknown_batch(client, suffix):
    assert client.get(f"/batch/abc/{suffix}").status_code == 400
    r = client.get(f"/batch/999999/{suffix}")
    assert r.status_code == 404 and "does not exist" in r.json()["detail"]


MANGO = "/01/0" + samples.MANGO_GTIN  # the GTIN the mango records name, as 14 digits
LINKSET = "application/linkset+json"


def _linkset_schema_check(body: dict) -> None:
    from jsonschema import Draft7Validator

    schema = load_json("gs1-linkset", "gs1-linkset-schema.json")
    errors = [e.message for e in Draft7Validator(schema).iter_errors(body)]
    assert errors == []


def test_resolver__gs1_linkset_schema__accepts_gs1_examples_refuses_invalid():
    from jsonschema import Draft7Validator

    schema = load_json("gs1-linkset", "gs1-linkset-schema.json")
    assert Draft7Validator(schema).is_valid(load_json("gs1-linkset", "valid-gs1-example.json"))
    assert not Draft7Validator(schema).is_valid(load_json("gs1-linkset", "invalid-gs1-example.json"))


# One test per "SHALL" of the GS1-Conformant Resolver standard the site claims.


def test_resolver_shall__get__307_to_default_link_in_scanner_language(client, lots):
    r = client.get(f"{MANGO}/10/{MANGO_LOT}", headers={"Accept-Language": "th-TH,th;q=0.9,en;q=0.5"})
    assert r.status_code == 307 and r.headers["location"] == f"{BASE}/batch/{lots.mango}?lang=th"
    for rel in ("pip", "epcis", "traceability", "sustainabilityInfo", "certificationInfo"):
        assert f'rel="https://gs1.org/voc/{rel}"' in r.headers["link"]
    en = client.get(f"{MANGO}/10/{MANGO_LOT}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert en.headers["location"] == f"{BASE}/batch/{lots.mango}?lang=en"


def test_resolver_shall__head__same_status_and_headers_no_body(client, lots):
    get = client.get(f"{MANGO}/10/{MANGO_LOT}")
    head = client.head(f"{MANGO}/10/{MANGO_LOT}")
    assert head.status_code == 307 and head.content == b""
    assert head.headers["location"] == get.headers["location"] and head.headers["link"] == get.headers["link"]


def test_resolver_shall__options__allowed_methods_and_cors(client):
    r = client.options(f"{MANGO}/10/{MANGO_LOT}", headers={"Origin": "https://scanner.example"})
    assert r.status_code == 204
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert r.headers["access-control-allow-origin"] == "*"


def test_resolver_shall__cors_on_every_answer(client, lots):
    for r in (
        client.get(f"{MANGO}/10/{MANGO_LOT}"),
        client.get(f"{MANGO}/10/{MANGO_LOT}", params={"linkType": "all"}),
        client.get("/.well-known/gs1resolver"),
    ):
        assert r.headers["access-control-allow-origin"] == "*"
        assert "Link" in r.headers.get("access-control-expose-headers", "Link")


def test_resolver_shall__accept_linkset_json__linkset_not_redirect(client, lots):
    r = client.get(f"{MANGO}/10/{MANGO_LOT}", headers={"Accept": LINKSET})
    assert r.status_code == 200 and r.headers["content-type"].startswith(LINKSET)
    entry = r.json()["linkset"][0]
    assert entry["anchor"] == f"{BASE}{MANGO}/10/{MANGO_LOT}/21/{lots.mango}"


def test_resolver_shall__query_string_passed_to_target(client, lots):
    r = client.get(f"{MANGO}/10/{MANGO_LOT}", params={"17": "260430", "campaign": "qr-box"})
    assert r.status_code == 307
    assert r.headers["location"] == f"{BASE}/batch/{lots.mango}?lang=en&17=260430&campaign=qr-box"
    epcis = client.get(f"{MANGO}/10/{MANGO_LOT}", params={"linkType": "gs1:epcis", "src": "x"})
    assert epcis.headers["location"] == f"{BASE}/batch/{lots.mango}/epcis?src=x"


@pytest.mark.parametrize(
    ("link_type", "suffix"),
    [
        ("epcis", "/epcis"),
        ("gs1:epcis", "/epcis"),
        ("gs1:traceability", "/fsma204.csv"),
        ("https://gs1.org/voc/sustainabilityInfo", "/eudr.json"),
        ("gs1:defaultLink", "?lang=en"),
    ],
)
def test_resolver_shall__link_type__307_to_that_link(client, lots, link_type, suffix):
    r = client.get(f"{MANGO}/10/{MANGO_LOT}", params={"linkType": link_type})
    assert r.status_code == 307 and r.headers["location"] == f"{BASE}/batch/{lots.mango}{suffix}"


def test_resolver_shall__linkset_valid_against_gs1_schema(client, lots):
    for path in (f"{MANGO}/10/{MANGO_LOT}", MANGO):
        r = client.get(path, params={"linkType": "all"})
        assert r.status_code == 200 and r.headers["content-type"].startswith(LINKSET)
        body = r.json()
        _linkset_schema_check(body)
        entry = body["linkset"][0]
        assert entry["https://gs1.org/voc/defaultLink"][0]["title"]
    lot = client.get(f"{MANGO}/10/{MANGO_LOT}", params={"linkType": "all"}).json()["linkset"][0]
    assert MANGO_LOT in lot["itemDescription"]
    assert lot["https://gs1.org/voc/epcis"][0]["href"] == f"{BASE}/batch/{lots.mango}/epcis"


def test_resolver_shall__redirect_carries_link_to_linkset(client, lots):
    r = client.get(f"{MANGO}/10/{MANGO_LOT}")
    anchor = f"{BASE}{MANGO}/10/{MANGO_LOT}/21/{lots.mango}"
    assert f'<{anchor}?linkType=linkset>; rel="linkset"; type="{LINKSET}"' in r.headers["link"]


def test_resolver_shall__well_known_description(client):
    r = client.get("/.well-known/gs1resolver")
    doc = r.json()
    assert r.status_code == 200 and doc["resolverRoot"] == BASE
    assert doc["supportedPrimaryKeys"] == ["01"]  # AI numbers, as GS1's resolver description asks
    assert doc["jsonLdContextLocation"].startswith("https://")
    assert {x["linkType"] for x in doc["supportedLinkType"]} >= {"gs1:epcis", "gs1:traceability", "gs1:pip"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/01/08851234000013/10/L1", "wrong check digit"),
        ("/01/123/10/L1", "GS1 syntax"),
        ("/01/8851234000012/10/L1", "GS1 syntax"),  # GTIN-13: a Digital Link writes 14 digits
        ("/01/08851234000012/10/" + "L" * 21, "GS1 syntax"),
        ("/01/08851234000012/99/L1", "not a qualifier"),
        ("/01/08851234000012/10/L1?10=L2", "given twice"),
        ("/01/08851234000012?89=X", "not an Application Identifier"),
    ],
)
def test_resolver_shall__malformed_link__400(client, path, message):
    r = client.get(path)
    assert r.status_code == 400 and message in r.json()["detail"]


def test_resolver_shall__link_type_not_offered__404(client, lots):
    r = client.get(f"{MANGO}/10/{MANGO_LOT}", params={"linkType": "gs1:recipeInfo"})
    assert r.status_code == 404 and "unknown linkType 'gs1:recipeInfo'" in r.json()["detail"]


def test_resolver_shall__unknown_gtin__404(client, lots):
    r = client.get("/01/09506000134352/10/L1")
    assert r.status_code == 404 and "not an item of this site" in r.json()["detail"]


def test_resolver_shall__fallback_to_less_specific_identifier(client, lots):
    gtin_only = client.get(MANGO, headers={"Accept": LINKSET})
    assert gtin_only.status_code == 200
    assert gtin_only.json()["linkset"][0]["anchor"] == f"{BASE}{MANGO}"
    unknown_lot = client.get(f"{MANGO}/10/NO-SUCH-LOT", headers={"Accept": LINKSET})
    assert unknown_lot.json()["linkset"][0]["anchor"] == f"{BASE}{MANGO}"  # the GTIN's own links
    unknown_serial = client.get(f"{MANGO}/10/{MANGO_LOT}/21/999999", headers={"Accept": LINKSET})
    assert unknown_serial.json()["linkset"][0]["anchor"] == f"{BASE}{MANGO}/10/{MANGO_LOT}/21/{lots.mango}"


def test_resolver_shall__numeric_lot_is_a_lot_not_a_batch_id(client, lots, web):
    """`/10/{batch id}` names lot "N": no lot has that code, so the answer is the GTIN's level."""
    r = client.get(f"{MANGO}/10/{lots.mango}", headers={"Accept": LINKSET})
    assert r.json()["linkset"][0]["anchor"] == f"{BASE}{MANGO}"
    crop = gtin_for_crop(MANGO_CROP, web.gs1_company_prefix)  # the old label form: never the batch
    old = client.get(f"/01/{crop}/10/{lots.mango}", headers={"Accept": LINKSET})
    # 404 when no batch of the session carries the crop GTIN, else that GTIN's own level
    assert old.status_code == 404 or old.json()["linkset"][0]["anchor"] == f"{BASE}/01/{crop}"


def test_resolver__serial_names_the_batch_and_must_match_its_lot(client, lots):
    r = client.get(f"{MANGO}/21/{lots.mango}")
    assert r.status_code == 307 and r.headers["location"].startswith(f"{BASE}/batch/{lots.mango}?")
    wrong_lot = client.get(f"{MANGO}/10/TH-OTHER/21/{lots.mango}", headers={"Accept": LINKSET})
    assert wrong_lot.json()["linkset"][0]["anchor"] == f"{BASE}{MANGO}"


def test_resolver__bad_gtin_from_a_browser__html_error_page(client):
    r = client.get("/01/08851234000013/10/L1", headers={"Accept": "text/html"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "AI (01) value 08851234000013 has a wrong check digit" in r.text


@pytest.fixture
def holder(client, accounts):
    """The site's client signed in as the packing house that holds the mango lot."""
    from tests.frontend.world import sign_in

    sign_in(client, accounts[7])
    return client


def _capture(client, batch_id, record, stage="HARVEST", photos=None):
    import json as _json

    files = [("photos", (name, data, "image/png")) for name, data in (photos or {}).items()]
    data = {"batch_id": str(batch_id), "stage": stage, "record": _json.dumps(record)}
    return client.post("/api/capture/steps", data=data, files=files or None)


def test_capture_api__valid_step__bundle_and_add_step_calldata(holder, lots):
    from tests.frontend.world import png

    record = samples.mango_lot()[0]
    r = _capture(holder, lots.open_mango, record, photos={"field.png": png(8, 8, (1, 2, 3))})
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
def test_capture_api__missing_kdes__400_with_list(holder, lots, change, status, message):
    record = samples.mango_lot()[0]
    change(record)
    r = _capture(holder, lots.mango, record)
    assert r.status_code == status and message in r.json()["detail"]


def test_capture_api__step_dated_before_the_lots_harvest__400_naming_both_dates(holder, lots):
    cooling = samples.mango_lot()[1]  # the open mango lot was harvested on 2 April
    cooling["date"] = "2026-04-01"
    r = _capture(holder, lots.open_mango, cooling, stage="HARVEST")
    assert r.status_code == 400
    assert r.json()["detail"] == (
        "record.json (cooling) is out of date order: date: the cooling on 2026-04-01 is before the lot's "
        "harvesting on 2026-04-02 (a lot's dates run harvesting ≤ cooling ≤ initial packing ≤ shipping ≤ "
        "receiving)"
    )
    cooling["date"] = "2026-04-02"
    assert _capture(holder, lots.open_mango, cooling, stage="HARVEST").status_code == 200


def test_capture_api__bad_stage_batch_or_json(holder, lots):
    record = samples.mango_lot()[0]
    assert "stage must be one of" in _capture(holder, lots.mango, record, stage="PACKING").json()["detail"]
    wrong = _capture(holder, lots.mango, record, stage="TRANSPORT")
    assert (
        wrong.status_code == 400
        and "harvesting record is added under stage HARVEST" in wrong.json()["detail"]
    )
    assert _capture(holder, 999999, record).status_code == 404
    bad = holder.post("/api/capture/steps", data={"batch_id": "1", "stage": "HARVEST", "record": "{nope"})
    assert bad.status_code == 400 and "record.json is not valid JSON" in bad.json()["detail"]
    nan = json.dumps(record).replace('"value": 1200.0', '"value": NaN')
    assert "NaN" in nan
    r = holder.post(
        "/api/capture/steps", data={"batch_id": str(lots.mango), "stage": "HARVEST", "record": nan}
    )
    assert r.status_code == 400 and "NaN is not a number a record may hold" in r.json()["detail"]
    r = holder.post("/api/capture/validate", content=nan, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "NaN is not a number a record may hold" in r.json()["detail"]
    text = holder.post(
        "/api/capture/steps",
        data={"batch_id": str(lots.mango), "stage": "HARVEST", "record": json.dumps(record)},
        files=[("photos", ("x.png", b"not an image", "image/png"))],
    )
    assert text.status_code == 415


def _trip_log(start_iso: str) -> tuple[bytes, float, float]:
    """A reefer logger's CSV export of a 6-hour trip (made in code: no real logger data here yet)."""
    from datetime import datetime

    from oracle.coldchain.synth import logger_csv, reefer_readings

    times, celsius = reefer_readings(int(datetime.fromisoformat(start_iso).timestamp()), 6, 12.0, seed=3)
    return logger_csv(times, celsius), float(celsius.min()), float(celsius.max())


def test_capture_api__transport_step_with_a_logger_export__in_the_bundle_for_the_oracle(holder, lots):
    from oracle.coldchain.service import find_log
    from tambon.cid import OnchainCid
    from tambon.provenance import decode_transport
    from tests.oracle.test_coldchain import epcis_document

    shipping = samples.mango_lot()[3]
    log, low, high = _trip_log(shipping["date"] + "T06:00:00+07:00")
    r = holder.post(
        "/api/capture/steps",
        data={"batch_id": str(lots.open_mango), "stage": "TRANSPORT", "record": json.dumps(shipping)},
        files=[("temperature_log", ("TL-0001 export.csv", log, "text/csv"))],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["files"] == ["record.json", "temperature-log.csv"]
    assert lots.store.cat(body["cid"], "temperature-log.csv") == log
    found, record = find_log(lots.store, OnchainCid.parse(body["cid"]))
    assert found is not None and len(found) == 73 and record["event"] == "shipping"
    # the step's data word: the trip's lowest and highest readings, as addStep stores them
    word = int(body["tx"]["data"][-64:], 16)
    assert decode_transport(word) == (round(low, 2), round(high, 2))

    sensor = json.dumps(epcis_document([("2026-11-04T08:00:00.000+07:00", [
        {"type": "Temperature", "value": 12.5, "uom": "CEL", "time": "2026-11-04T08:00:00.000+07:00"},
        {"type": "Temperature", "value": 12.9, "uom": "CEL", "time": "2026-11-04T08:05:00.000+07:00"},
    ])])).encode()  # fmt: skip
    r = holder.post(
        "/api/capture/steps",
        data={"batch_id": str(lots.open_mango), "stage": "TRANSPORT", "record": json.dumps(shipping)},
        files=[("temperature_log", ("sensors.json", sensor, "application/json"))],
    )
    assert r.status_code == 200, r.text
    assert "temperature-log.json" in r.json()["files"]
    assert decode_transport(int(r.json()["tx"]["data"][-64:], 16)) == (12.5, 12.9)


def test_capture_api__held_lots__name_their_lot_code_when_a_record_assigns_one(holder, lots, accounts):
    """What the capture page pre-fills a shipping record's lot code with: none yet for a lot whose
    records assign no code (the farmer types it)."""
    r = holder.get("/api/capture/batches", params={"holder": accounts[7].address})
    assert r.status_code == 200, r.text
    [mango] = [b for b in r.json()["batches"] if b["batch_id"] == lots.open_mango]
    assert "lot" in mango and mango["lot"] is None and mango["crop"].startswith("Mango")


def test_capture_api__temperature_log__refused_when_not_a_log_or_not_a_transport(holder, lots):
    shipping = samples.mango_lot()[3]
    data = {"batch_id": str(lots.open_mango), "stage": "TRANSPORT", "record": json.dumps(shipping)}
    r = holder.post(
        "/api/capture/steps", data=data, files=[("temperature_log", ("a.csv", b"hello\nworld\n"))]
    )
    assert r.status_code == 400 and "'a.csv' is not a temperature log" in r.json()["detail"]
    truncated = holder.post(
        "/api/capture/steps", data=data, files=[("temperature_log", ("b.json", b'{"epcisBody": {"eventL'))]
    )
    assert truncated.status_code == 400 and "truncated or corrupt" in truncated.json()["detail"]
    log, _low, _high = _trip_log("2026-04-02T06:00:00+07:00")
    harvest = holder.post(
        "/api/capture/steps",
        data={
            "batch_id": str(lots.open_mango),
            "stage": "HARVEST",
            "record": json.dumps(samples.mango_lot()[0]),
        },
        files=[("temperature_log", ("trip.csv", log, "text/csv"))],
    )
    assert harvest.status_code == 400
    assert harvest.json()["detail"] == "a temperature log belongs to a TRANSPORT step, not to HARVEST"


def test_fsma_selection__lot_and_date_range(client, lots):
    r = client.get("/fsma204.csv", params={"lot": MANGO_LOT})
    assert r.status_code == 200 and "fsma204.csv" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [x["Critical Tracking Event"] for x in rows] == [
        "harvesting", "cooling", "initial_packing", "shipping", "receiving",
    ]  # fmt: skip
    x = client.get("/fsma204.xlsx", params={"from": "2026-05-01", "to": "2026-05-31"})
    ws = openpyxl.load_workbook(io.BytesIO(x.content))["All events"]
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


def test_capture_api__out_of_range_coordinates__400(holder, lots):
    record = samples.rubber_smallholding(
        "A", "SK-1", {"type": "Point", "coordinates": [181.000001, 7.1234567]}, 2, 8, 8
    )
    r = _capture(holder, lots.mango, record)
    assert r.status_code == 400 and "longitude 181.000001 out of range" in r.json()["detail"]
