"""/grants dashboard and /api/grants."""

from __future__ import annotations

THB = 10**18


def test_grants_page__budget_funded_released_pending_per_community(client, world):
    r = client.get("/grants", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    page = r.text
    assert "Community grants of อบต. หนองสนิท" in page
    assert "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท" in page and "โรงคัดบรรจุสหกรณ์หนองสนิท" in page
    assert "฿200,000.00" in page and "฿50,000.00" in page  # budget and released
    assert "฿100,000.00" in page  # the submitted milestone awaiting the council
    assert 'class="ms paid"' in page and 'class="ms submitted"' in page and 'class="ms rejected"' in page
    assert f"{world.gateway_url}/ipfs/{world.evidence['milestone0']}" in page
    assert page.count('<svg class="chart"') == 2  # THB and ETH
    assert "<script" not in page


def test_grants_page__thai(client, world):
    page = client.get("/grants", headers={"Accept-Language": "th"}).text
    assert "เงินอุดหนุนชุมชนของ" in page and "จ่ายแล้ว" in page and "ส่งแล้ว รอสภาพิจารณา" in page


def test_api_grants__totals_and_series(client, world):
    data = client.get("/api/grants").json()
    assert data["council"]["threshold"] == 3 and len(data["council"]["members"]) == 5
    money = {m["token"]["symbol"]: m for m in data["money"]}
    assert money["THB"]["token"]["sign"] == "฿" and money["ETH"]["token"]["sign"] is None
    assert money["THB"]["totals"] == {
        "budget": 200_000 * THB,
        "funded": 200_000 * THB,
        "released": 50_000 * THB,
        "pending": 100_000 * THB,
    }
    assert money["ETH"]["totals"]["released"] == 0
    thb = next(g for g in data["grants"] if g["grant_id"] == world.grant_thb)
    assert thb["token"]["address"] == money["THB"]["token"]["address"]
    assert [m["status"] for m in thb["milestones"]] == ["PAID", "SUBMITTED", "PENDING"]
    assert (
        thb["milestones"][0]["evidence_url"]
        == f"{world.gateway_url}/ipfs/{thb['milestones'][0]['evidence_cid']}"
    )
    eth = next(g for g in data["grants"] if g["grant_id"] == world.grant_eth)
    assert eth["milestones"][0]["status"] == "REJECTED" and eth["milestones"][0]["rejection_cid"]
    points = money["THB"]["series"]
    assert [p["released"] for p in points][-1] == 50_000 * THB
    assert [p["funded"] for p in points] == sorted(p["funded"] for p in points)


def test_openapi__grant_and_wallet_responses_are_typed(client):
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert set(schemas["GrantsOut"]["properties"]) == {"block", "council", "money", "grants", "communities"}
    milestone = schemas["MilestoneOut"]["properties"]
    assert milestone["status"]["enum"] == ["PENDING", "SUBMITTED", "PAID", "REJECTED", "ESCALATED"]
    typed = (
        "GrantOut", "TxRequestOut", "ReleaseRoundOut", "RejectionOut", "ReceiptOut", "UploadOut",
        "CapturedStepOut", "HeldBatchesOut", "ValidRecordOut", "SignInMessageOut", "SignedInOut", "SessionOut",
    )  # fmt: skip
    assert set(typed) <= set(schemas)


def test_api_grant__one_grant_and_bad_ids(client, world):
    r = client.get(f"/api/grants/{world.grant_thb}")
    assert r.status_code == 200 and r.json()["token"]["symbol"] == "THB"
    assert client.get("/api/grants/4242").status_code == 404
    assert client.get("/api/grants/one").status_code == 400
