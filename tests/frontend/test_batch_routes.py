"""/batch, /api/batches, EPCIS, QR, labels and the GS1 resolver against the real node, chain and store."""

from __future__ import annotations

import html
import re

import pytest

from frontend.services import gs1
from tambon.attestation import ATTESTATION_FIELDS, Grade

GTIN = gs1.gtin_for_crop(201, "8850000")


def checks(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<li class="check (\w+)" data-check="(\w+)"', page)


def test_verify_page__sold_box__shows_grower_chain_and_all_checks_pass(client, world):
    r = client.get(f"/batch/{world.sold_box}", headers={"Accept-Language": "en"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "Verified origin and history; quality graded Extra class" in page
    assert "17 of 17 checks passed" in page
    assert all(status == "pass" for status, _ in checks(page))
    assert "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท" in page  # grower of the parent lot
    assert "Community enterprise registered by อบต. หนองสนิท" in page and "3-24-01-12/1-0042" in page
    assert "Packed into this lot by" in page and "โรงคัดบรรจุสหกรณ์หนองสนิท" in page
    for stage in ("CULTIVATION", "HARVEST", "PROCESSING", "TRANSPORT", "MARKETING"):
        assert f'data-stage="{stage}"' in page
    assert page.index('data-stage="CULTIVATION"') < page.index('data-stage="MARKETING"')
    assert "Cold chain: 3.1 °C to 6.4 °C" in page
    assert "แปลง 3 บ้านหนองสนิท จ.สุรินทร์" in page  # place from the cultivation record.json
    assert '<dt>Temperature log (°C)</dt><dd data-field="temperature_log_c">3.1, 4.0, 5.2, 6.4</dd>' in page
    assert 'data-grade="EXTRA"' in page and "96.3%" in page
    assert 'data-grade="CLASS_I"' in page  # the parent lot's grade, shown with its lot
    assert f"{world.gateway_url}/ipfs/{world.evidence['cultivation']}/photo.png" in page
    assert f"/01/{GTIN}/21/{world.sold_box}" in page  # its records assign no lot code: GTIN + serial
    assert "<svg" in page  # the QR code inline


def test_verify_page__thai__buddhist_era_dates_and_thai_labels(client, world):
    page = client.get(f"/batch/{world.sold_box}", headers={"Accept-Language": "th-TH,th;q=0.9"}).text
    assert '<html lang="th">' in page
    assert "ผ่านการตรวจสอบ 17 จาก 17 รายการ" in page and "การเก็บเกี่ยว" in page and "ชั้นพิเศษ" in page
    assert re.search(r"\d{1,2} [ก-๙]+ 25\d\d", page)  # e.g. 26 พฤศจิกายน 2569
    assert "8 พฤศจิกายน 2568" in page  # harvest day 2025-11-08 in the Buddhist era
    assert "<dt>สถานที่</dt>" in page


def test_verify_page__abstain_grade__awaiting_human_review(client, world):
    page = client.get(f"/batch/{world.boxes[1]}", headers={"Accept-Language": "en"}).text
    assert 'data-grade="ABSTAIN"' in page and "Awaiting human review" in page


def test_verify_page__tampered_lot__failures_are_red_not_hidden(client, world):
    page = client.get(f"/batch/{world.tampered}", headers={"Accept-Language": "en"}).text
    found = checks(page)
    assert ("fail", "key") in found  # grade signed by a key the council revoked afterwards
    assert ("fail", "evidence") in found  # corrupted evidence block
    assert ("fail", "graded_evidence") in found  # grade of evidence from another lot
    assert "Origin or history could NOT be verified" in page and 'class="verdict fail"' in page
    assert "Oracle key revoked or not active at that time" in page
    assert "Evidence does NOT match its on-chain fingerprint (CID)" in page
    assert "after this attestation" in page


def test_verify_page__xss_payloads_in_chain_and_ipfs_strings__escaped(client, world):
    page = client.get(f"/batch/{world.xss}", headers={"Accept-Language": "en"}).text
    assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page
    assert "javascript:" not in page
    assert html.escape('<script>alert("xss")</script>', quote=True) in page or "&lt;script&gt;" in page
    api = client.get(f"/api/batches/{world.xss}").json()
    assert api["metadata"]["name"].startswith("<script>")  # JSON carries the raw string, typed as JSON
    assert api["metadata"]["image"] is None


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "0x10", "1e3", "99999999999999999999999", "%20", "๑๒"])
def test_verify_page__malformed_id__400(client, bad):
    r = client.get(f"/batch/{bad}")
    assert r.status_code == 400
    assert "whole number" in r.text
    assert client.get(f"/api/batches/{bad}").status_code == 400


def test_verify_page__unknown_batch__friendly_404(client):
    r = client.get("/batch/999999", headers={"Accept-Language": "th"})
    assert r.status_code == 404
    assert "ไม่พบสิ่งที่คุณค้นหา" in r.text and "batch 999999 does not exist" in r.text
    r = client.get("/api/batches/999999")
    assert r.status_code == 404 and r.json() == {"detail": "batch 999999 does not exist"}
    assert client.get("/no/such/page").status_code == 404


def test_capture_page__activities_carry_the_stage_their_step_is_added_under(client):
    page = client.get("/capture/", headers={"Accept-Language": "en"}).text
    assert (
        '<option value="harvesting" data-stage="HARVEST" data-doc="harvest log">Harvesting</option>' in page
    )
    assert (
        '<option value="cultivation" data-stage="CULTIVATION" data-doc="farm diary">Cultivation</option>'
        in page
    )
    # each activity's usual document in the page's language: what a step records when none is typed
    th = client.get("/capture/", headers={"Accept-Language": "th"}).text
    assert 'value="harvesting" data-stage="HARVEST" data-doc="บันทึกการเก็บเกี่ยว"' in th
    assert 'data-doc="harvest log"' not in th


def test_batch_lookup_form__redirects_or_400(client):
    r = client.get("/batch?id=%207", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/batch/7"
    assert client.get("/batch?id=seven").status_code == 400


def test_api_batch__json_with_checks_and_stages(client, world):
    data = client.get(f"/api/batches/{world.sold_box}").json()
    assert data["batch_id"] == world.sold_box and data["parents"] == [world.lot]
    assert data["summary"] == {"pass": 17, "fail": 0, "unknown": 0}
    assert [s["stage"] for s in data["stages"]] == [
        "CULTIVATION",
        "HARVEST",
        "PROCESSING",
        "TRANSPORT",
        "MARKETING",
    ]
    assert data["grower"]["name"] == "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท"
    assert data["holder"]["address"] == world.seller.address
    assert {a["grade"] for a in data["attestations"]} == {"EXTRA", "CLASS_I"}


def test_verify_page__etag_is_the_chain_head(client, world):
    first = client.get(f"/batch/{world.sold_box}")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = client.get(f"/batch/{world.sold_box}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other_lang = client.get(f"/batch/{world.sold_box}?lang=th", headers={"If-None-Match": etag})
    assert other_lang.status_code == 200
    world.provenance.transferFrom(world.packer, world.community, world.boxes[1], sender=world.packer)
    moved_on = client.get(f"/batch/{world.sold_box}", headers={"If-None-Match": etag})
    assert moved_on.status_code == 200 and moved_on.headers["etag"] != etag


def test_verify_page__custody_change__visible_at_once(client, world):
    """Cached by chain head: a transfer in the next block is on the next page load."""
    before = client.get(f"/api/batches/{world.boxes[1]}").json()
    assert before["holder"]["address"] == world.packer.address
    client.get(f"/batch/{world.boxes[1]}")
    world.provenance.transferFrom(world.packer, world.community, world.boxes[1], sender=world.packer)
    after = client.get(f"/api/batches/{world.boxes[1]}").json()
    assert after["holder"]["address"] == world.community.address
    assert after["transfers"][-1]["receiver"] == world.community.address
    page = client.get(f"/batch/{world.boxes[1]}").text
    assert "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท" in page.split('id="holder"')[1][:400]


def test_epcis__json_ld_events_with_transformation(client, world):
    r = client.get(f"/batch/{world.sold_box}/epcis")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    doc = r.json()
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert doc["@context"][0] == "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
    events = doc["epcisBody"]["eventList"]
    kinds = [e["type"] for e in events]
    assert kinds.count("TransformationEvent") == 1
    split = next(e for e in events if e["type"] == "TransformationEvent")
    gtin_class = f"https://id.gs1.org/01/{GTIN}"  # the world's records assign no lot code
    # the box's share of the field lot, in and out: quantities add up
    assert split["inputQuantityList"] == [{"epcClass": gtin_class, "quantity": 5.0, "uom": "KGM"}]
    assert split["outputQuantityList"] == [{"epcClass": gtin_class, "quantity": 5.0, "uom": "KGM"}]
    assert split["inputEPCList"] == [f"{gtin_class}/21/{world.lot}"]
    assert split["outputEPCList"] == [f"{gtin_class}/21/{world.sold_box}"]
    steps = {e["bizStep"] for e in events if e["type"] == "ObjectEvent"}
    assert "harvesting" not in steps and "commissioning" in steps  # CBV 2.0: harvest is commissioning
    shipping = next(e for e in events if "sensorElementList" in e)
    assert shipping["sensorElementList"][0]["sensorReport"][0] == {
        "type": "gs1:Temperature",
        "minValue": 3.1,
        "maxValue": 6.4,
        "uom": "CEL",
    }
    assert all(e["eventTimeZoneOffset"] == e["eventTime"][-6:] for e in events)
    assert all(e["eventID"].startswith("ni:///sha-256;") for e in events)
    assert client.get("/batch/999999/epcis").status_code == 404
    assert client.get("/batch/x/epcis").status_code == 400
    assert client.get(f"/api/batches/{world.sold_box}/epcis").json() == doc


def test_merged_lot__links_parents_and_epcis_transformation(client, world):
    page = client.get(f"/batch/{world.merged}", headers={"Accept-Language": "en"}).text
    assert "Made from lots" in page
    for parent in world.merged_from:
        assert f'<a href="/batch/{parent}">#{parent}</a>' in page
    parent_page = client.get(f"/batch/{world.merged_from[0]}", headers={"Accept-Language": "en"}).text
    assert "Split or merged into other lots" in parent_page
    events = client.get(f"/batch/{world.merged}/epcis").json()["epcisBody"]["eventList"]
    merge = next(e for e in events if e["type"] == "TransformationEvent")
    gtin_class = f"https://id.gs1.org/01/{GTIN}"
    assert merge["inputEPCList"] == [f"{gtin_class}/21/{p}" for p in world.merged_from]
    assert merge["outputQuantityList"] == [{"epcClass": gtin_class, "quantity": 40.001, "uom": "KGM"}]
    assert round(sum(q["quantity"] for q in merge["inputQuantityList"]), 6) == 40.001


def test_qr__svg_and_png_encode_the_digital_link(client, world):
    r = client.get(f"/qr/{world.sold_box}.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert f"<title>http://testserver/01/{GTIN}/21/{world.sold_box}</title>" in r.text
    r = client.get(f"/qr/{world.sold_box}.png")
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert client.get("/qr/999999.png").status_code == 404
    assert client.get("/qr/abc.svg").status_code == 400
    assert client.get(f"/qr/{world.sold_box}.gif").status_code == 404


def test_qr_uri__resolves_to_the_verify_page(client, world):
    """The URI a label encodes leads a scanner to the batch's verify page."""
    r = client.get(f"/01/{GTIN}/21/{world.sold_box}", follow_redirects=False)
    assert r.status_code == 307 and f"/batch/{world.sold_box}" in r.headers["location"]
    page = client.get(f"/01/{GTIN}/21/{world.sold_box}")
    assert page.status_code == 200 and "17 of 17 checks passed" in page.text


def test_labels__printable_sheet(client, world):
    r = client.get(f"/labels?ids={world.boxes[0]}-{world.boxes[1]}")
    assert r.status_code == 200
    assert r.text.count('class="label"') == 2
    assert f"(01){GTIN}(21){world.boxes[1]}" in r.text  # no lot code assigned: no (10)
    assert (
        f'href="?ids={world.boxes[0]}-{world.boxes[1]}&amp;lang=th"' in r.text
    )  # the switch keeps the sheet
    assert client.get("/labels?ids=1-500").status_code == 400
    assert client.get("/labels").status_code == 400
    assert client.get("/labels?ids=999999").status_code == 404


def test_security_headers__csp_without_inline_script(client, world):
    r = client.get(f"/batch/{world.sold_box}")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text and "onclick" not in r.text


def test_no_secrets_in_pages(client, world, accounts):
    pages = [
        client.get(p).text
        for p in (f"/batch/{world.sold_box}", "/grants", "/wallet/council", "/wallet/submit")
    ]
    for account in accounts:
        key = account.private_key.removeprefix("0x").lower()
        assert all(key not in p.lower() for p in pages)
    assert all("rpc" not in p.lower() or "8545" not in p for p in pages)


def test_evidence_proofs__verified_cid_never_fetched_again(world, site_settings):
    from frontend.services.evidence import EvidenceService

    service = EvidenceService(site_settings.gateway_url, site_settings.evidence_api_url)
    cid = world.store.add_bytes(b"ephemeral evidence", "e.txt")
    assert service.prove(cid).status == "pass"
    world.store.unpin(cid)
    from evidence.cids import digest_of, parse_cid

    world.store.blocks.path_for(digest_of(parse_cid(cid))).unlink()
    assert service.prove(cid).status == "pass"  # cached proof, no refetch
    fresh = EvidenceService(site_settings.gateway_url, site_settings.evidence_api_url)
    assert fresh.prove(cid).status == "unknown"  # now the store does not hold it


def test_evidence_refresh__re_proves_off_the_request_path__the_tag_moves_only_on_change(world, site_settings):
    """A cached page's stale proofs are re-checked in the background; only a changed outcome
    (pass -> unavailable -> pass) moves the evidence tag that the pages showing the CID are kept under."""
    import time

    from evidence.cids import digest_of, parse_cid
    from frontend.services.evidence import EvidenceService, outcomes_tag

    service = EvidenceService(
        site_settings.gateway_url, site_settings.evidence_api_url, recheck_seconds=0.2, retry_seconds=0.0
    )
    cid = world.store.add_bytes(b"evidence that will be corrupted", "c.txt")
    with service.collecting() as cids:
        assert service.prove(cid).status == "pass"
    assert cids == {cid: "pass"}
    rendered = outcomes_tag(cids)  # what a page rendered from this proof is kept under
    assert service.current_tag(cids) == rendered

    def refreshed_until(done) -> None:
        deadline = time.monotonic() + 10
        while not done(service.current_tag(cids)):
            assert time.monotonic() < deadline, "the re-check did not change the outcome"
            time.sleep(0.25)
            service.refresh(cids)

    def proven_at() -> float:  # when the proof this service keeps was made (reading it proves nothing)
        kept = service._proved.get(cid)
        assert kept is not None
        return kept.checked_at

    first_proof = proven_at()
    time.sleep(0.3)  # older than recheck_seconds: the next refresh proves it again
    service.refresh(cids)  # still served intact: re-proven, same outcome, same tag
    deadline = time.monotonic() + 10
    while proven_at() == first_proof:
        assert time.monotonic() < deadline, "the background re-check did not run"
        time.sleep(0.05)
    assert service.current_tag(cids) == rendered
    block = world.store.blocks.path_for(digest_of(parse_cid(cid)))
    original = block.read_bytes()
    block.write_bytes(b"not the registered bytes")
    try:
        refreshed_until(lambda tag: tag != rendered)
        assert service.current_tag(cids) == outcomes_tag({cid: "unknown"})
        assert service.prove(cid).status == "unknown"
        assert "unavailable since" in service.prove(cid).detail
    finally:
        block.write_bytes(original)
    refreshed_until(lambda tag: tag == rendered)
    assert service.prove(cid).status == "pass"


def test_evidence_first_passing__a_page_depends_on_the_reading_it_shows(world, site_settings):
    """A digest without a codec is tried as a bundle, then as a raw file: the page shows the first that
    passes and depends on that proof only (the failed reading is not re-checked on every serve); when
    none passes it shows the first and depends on every attempt."""
    from frontend.services.evidence import EvidenceService
    from tambon.cid import DAG_PB, RAW, OnchainCid, cid_string

    service = EvidenceService(site_settings.gateway_url, site_settings.evidence_api_url)
    digest = OnchainCid.parse(world.store.add_bytes(b"a photo graded by the oracle", "p.jpg")).digest
    as_bundle, as_file = cid_string(digest, DAG_PB), cid_string(digest, RAW)
    with service.collecting() as cids:
        proof = service.prove_first_passing([as_bundle, as_file])
    assert (proof.cid, proof.status) == (as_file, "pass")
    assert cids == {as_file: "pass"}

    missing = bytes(range(32))
    absent_bundle, absent_file = cid_string(missing, DAG_PB), cid_string(missing, RAW)
    with service.collecting() as cids:
        proof = service.prove_first_passing([absent_bundle, absent_file])
    assert (proof.cid, proof.status) == (absent_bundle, "unknown")
    assert cids == {absent_bundle: "unknown", absent_file: "unknown"}


def test_evidence_outcomes__bounded__a_forgotten_outcome_matches_no_page(world, site_settings):
    """Outcomes are kept for the most recently proven CIDs only; a page showing a forgotten one no
    longer matches its tag (it is rendered and proven again), and a CID proven again is kept. Outcomes
    adopted from another worker's page fill in what this service does not know, never what it does."""
    from evidence.cids import digest_of, parse_cid
    from frontend.services.evidence import EvidenceService, outcomes_tag

    service = EvidenceService(
        site_settings.gateway_url,
        site_settings.evidence_api_url,
        recheck_seconds=0.0,
        retry_seconds=0.0,
        max_outcomes=4,
    )
    cids = [world.store.add_bytes(f"bounded outcome {i}".encode(), f"{i}.txt") for i in range(5)]
    for cid in cids[:4]:
        assert service.prove(cid).status == "pass"
    shown = {cid: "pass" for cid in cids[:2]}
    assert service.current_tag(shown) == outcomes_tag(shown)
    service.prove(cids[0])  # proven again: now the most recent
    service.prove(cids[4])  # a fifth CID: the least recently proven one (cids[1]) is forgotten
    assert len(service._outcomes) == 4 and cids[1] not in service._outcomes
    assert service.current_tag(shown) != outcomes_tag(shown)
    assert service.current_tag([cids[0], cids[4]]) == outcomes_tag({cids[0]: "pass", cids[4]: "pass"})
    block = world.store.blocks.path_for(digest_of(parse_cid(cids[0])))
    original = block.read_bytes()
    block.write_bytes(b"not the registered bytes")
    try:
        assert service.prove(cids[0]).status == "unknown"
    finally:
        block.write_bytes(original)
    # a page another worker rendered, showing cids[0] passing (proven unknown here since) and a CID
    # this service never proved: the unknown one is taken, the known outcome stands
    fresh = world.store.add_bytes(b"proven by another worker", "w.txt")
    service.adopt({cids[0]: "pass", fresh: "pass"})
    assert service.current_tag([fresh]) == outcomes_tag({fresh: "pass"})
    assert service.current_tag([cids[0]]) == outcomes_tag({cids[0]: "unknown"})


def test_evidence_recheck__proof_forgotten__not_due_before_its_time(world, site_settings):
    """A proof that left the proof cache (bounded; a site shows more CIDs than it keeps proofs of) is
    still known as proven when it was: serving a page that shows it does not prove it again before
    `recheck_seconds`."""
    from frontend.services.cache import Lru
    from frontend.services.evidence import EvidenceService

    service = EvidenceService(
        site_settings.gateway_url, site_settings.evidence_api_url, recheck_seconds=3600.0, _proved=Lru(1)
    )
    cids = [world.store.add_bytes(f"kept proof time {i}".encode(), f"{i}.txt") for i in range(2)]
    for cid in cids:
        assert service.prove(cid).status == "pass"
    assert service._proved.get(cids[0]) is None  # its proof made room for the second one
    assert service.checked_at(cids[0]) > 0
    service.refresh(cids)
    service._refresher.shutdown(wait=True)  # every re-check it started has finished
    # none was due: a re-check of the first would have put its proof back in place of the second's
    assert service._proved.get(cids[0]) is None and service._proved.get(cids[1]) is not None


def test_openapi__lists_the_json_api(client):
    schema = client.get("/api/openapi.json").json()
    for path in (
        "/api/batches/{batch_id}",
        "/api/grants",
        "/api/evidence",
        "/batch/{batch_id}/epcis",
        "/api/wallet/grants/{grant_id}/milestones/{milestone_id}/signatures",
    ):
        assert path in schema["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text


def _response_schema(schema: dict, path: str, media: str = "application/json") -> str:
    answer = schema["paths"][path]["get"]["responses"]["200"]["content"][media]["schema"]
    return answer["$ref"].rsplit("/", 1)[-1]


def test_openapi__batch_and_resolver_answers_are_typed_public_models(client):
    schema = client.get("/api/openapi.json").json()
    models = schema["components"]["schemas"]
    assert _response_schema(schema, "/api/batches/{batch_id}") == "BatchOut"
    assert _response_schema(schema, "/01/{rest}", "application/linkset+json") == "LinksetOut"
    assert _response_schema(schema, "/.well-known/gs1resolver") == "ResolverDescriptionOut"
    attestation = models["AttestationOut"]["properties"]
    assert attestation["message"]["$ref"].endswith("/AttestationMessageOut")
    # the signed message's properties are the contract's field names, derived from the core's list
    signed = models["AttestationMessageOut"]["properties"]
    assert list(signed) == [key for _, key, _ in ATTESTATION_FIELDS]
    entry = models["LinksetEntryOut"]["properties"]
    assert {
        "anchor",
        "itemDescription",
        "https://gs1.org/voc/defaultLink",
        "https://gs1.org/voc/epcis",
    } <= set(entry)


def test_api_batch__answer_is_exactly_its_public_model(client, world):
    from frontend.api.models import BatchOut

    for lot in (world.sold_box, world.tampered):
        data = client.get(f"/api/batches/{lot}").json()
        assert BatchOut.model_validate(data).model_dump(mode="json", by_alias=True) == data
        assert data["attestations"]
        for attestation in data["attestations"]:
            assert Grade[attestation["grade"]] == attestation["message"]["grade"]


def test_chain_node_down__friendly_502_and_ids_still_checked(world, site_settings, web_settings):
    from fastapi.testclient import TestClient

    from frontend.app import create_app
    from tests.frontend.world import free_port

    dead = site_settings.model_copy(update={"rpc_url": f"http://127.0.0.1:{free_port()}"})
    with TestClient(create_app(dead, web_settings)) as c:
        r = c.get(f"/batch/{world.sold_box}", headers={"Accept-Language": "en"})
        assert r.status_code == 502 and "Something is not answering" in r.text
        assert c.get("/batch/abc").status_code == 400
        assert c.get(f"/api/batches/{world.sold_box}").json()["detail"].startswith("chain node unreachable")


def test_evidence_store_down__page_renders_checks_unknown_not_passed(world, site_settings, web_settings):
    from fastapi.testclient import TestClient

    from frontend.app import create_app
    from tests.frontend.world import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    offline = site_settings.model_copy(update={"gateway_url": dead, "evidence_api_url": dead})
    with TestClient(create_app(offline, web_settings)) as c:
        data = c.get(f"/api/batches/{world.sold_box}").json()
        assert data["summary"]["unknown"] > 0 and data["summary"]["fail"] == 0
        evidence = [x for x in data["checks"] if x["name"] == "evidence"]
        assert evidence and all(x["status"] == "unknown" for x in evidence)
        page = c.get(f"/batch/{world.sold_box}", headers={"Accept-Language": "en"}).text
        assert "could not be checked now" in page and "Evidence could not be checked" in page
