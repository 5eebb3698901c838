"""Wallet flows through the API: evidence upload, submission calldata, council signatures, release."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from web3 import Web3

from tambon.cid import OnchainCid
from tambon.typed_data import SECP256K1_N, sign
from tests.frontend.world import png, sign_in

THB = 10**18


@pytest.fixture
def w3(rpc_url):
    return Web3(Web3.HTTPProvider(rpc_url))


def send(w3: Web3, account, tx: dict) -> dict:
    """Sign and send what the server built, as a wallet does; returns the receipt."""
    assert tx["to"] and tx["data"].startswith("0x") and int(tx["chainId"], 16) == w3.eth.chain_id
    call = {"from": account.address, "to": tx["to"], "data": tx["data"], "value": int(tx["value"], 16)}
    full = {
        **call,
        "gas": w3.eth.estimate_gas(call),
        "nonce": w3.eth.get_transaction_count(account.address),
        "chainId": w3.eth.chain_id,
        "gasPrice": w3.eth.gas_price,
    }
    signed = Account.sign_transaction(full, account.private_key)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt["status"] == 1
    return receipt


def upload(client, files, **form):
    return client.post("/api/evidence", files=[("files", f) for f in files], data=form)


@pytest.fixture
def community(client, world):
    """The site's client signed in as the grants' community."""
    sign_in(client, world.community)
    return client


def test_upload__bundle_in_the_store_with_record(community, world):
    r = upload(
        community,
        [("plot 1.png", png(8, 8, (1, 2, 3)), "image/png"), ("bill.pdf", b"%PDF-1.4 x", "application/pdf")],
        note="ฐานรากเสร็จ <b>",
        submitter=world.community.address,
        grant_id="0",
        milestone_id="2",
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["files"] == ["bill.pdf", "plot-1.png"] and body["codec"] == 0x70
    record = json.loads(world.store.cat(body["cid"], "record.json"))
    assert record["note"] == "ฐานรากเสร็จ <b>" and record["submitter"] == world.community.address
    assert record["grant_id"] == 0 and record["milestone_id"] == 2
    assert world.store.cat(body["cid"], "plot-1.png").startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("files", "form", "status"),
    [
        ([("x.png", b"<svg onload=alert(1)>", "image/png")], {}, 415),
        ([("x.exe", b"MZ\x90\x00", "application/octet-stream")], {}, 415),
        ([(f"p{i}.png", png(2, 2, (i, 0, 0)), "image/png") for i in range(13)], {}, 413),
        ([("x.png", png(2, 2, (0, 0, 0)), "image/png")], {"submitter": "not-an-address"}, 400),
        ([("x.png", png(2, 2, (0, 0, 0)), "image/png")], {"grant_id": None}, 400),
        ([("x.png", png(2, 2, (0, 0, 0)), "image/png")], {"grant_id": "-1"}, 400),
        ([], {"note": "no files"}, 400),
    ],
)
def test_upload__bad_input__clear_4xx(community, files, form, status):
    form = {k: v for k, v in ({"grant_id": "0", "milestone_id": "2"} | form).items() if v is not None}
    r = upload(community, files, **form)
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_upload__over_size_limit__413(world, site_settings):
    from fastapi.testclient import TestClient

    from frontend.app import create_app
    from frontend.settings import WebSettings

    with TestClient(create_app(site_settings, WebSettings(max_upload_bytes=1000))) as small:
        sign_in(small, world.community)
        r = upload(small, [("big.png", png(64, 64, (9, 9, 9)) + bytes(2000), "image/png")], grant_id="0")
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        # refused by its Content-Length before the body is read (nothing is spooled to disk)
        huge = small.post(
            "/api/evidence",
            content=b"x" * 200_000,
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert huge.status_code == 413 and "limit" in huge.json()["detail"]

        def chunks():
            for _ in range(40):
                yield b"x" * 10_000

        chunked = small.post(
            "/api/evidence", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert chunked.status_code == 413 and "limit" in chunked.json()["detail"]


def test_submit__server_built_calldata_submits_the_milestone(community, world, w3):
    client = community
    r = upload(client, [("done.png", png(8, 8, (5, 5, 5)), "image/png")], grant_id=str(world.grant_thb))
    cid = r.json()["cid"]
    path = f"/api/wallet/grants/{world.grant_thb}/milestones/2/submit-tx"
    tx = client.post(path, json={"cid": cid, "sender": world.community.address}).json()
    send(w3, world.community, tx)
    m = world.escrow.milestone(world.grant_thb, 2)
    assert m.status == 2 and m.evidence == OnchainCid.parse(cid).digest and m.codec == 0x70
    assert client.get(f"/api/grants/{world.grant_thb}").json()["milestones"][2]["evidence_cid"] == cid


@pytest.mark.parametrize(
    ("grant", "milestone", "body", "status"),
    [
        ("0", "2", {"cid": "not-a-cid", "sender": None}, 400),
        ("0", "2", {"cid": None, "sender": "0x123"}, 400),
        ("0", "2", {"cid": None, "sender": "packer"}, 409),  # not the grant's community
        ("0", "0", {"cid": None, "sender": None}, 409),  # already paid
        ("0", "9", {"cid": None, "sender": None}, 404),
        ("77", "0", {"cid": None, "sender": None}, 404),
        ("x", "0", {"cid": None, "sender": None}, 400),
    ],
)
def test_submit__bad_input(client, world, grant, milestone, body, status):
    cid = world.evidence["milestone0"]
    sender = {"packer": world.packer.address, None: world.community.address}.get(
        body["sender"], body["sender"]
    )
    payload = {"cid": body["cid"] or cid, "sender": sender}
    r = client.post(f"/api/wallet/grants/{grant}/milestones/{milestone}/submit-tx", json=payload)
    assert r.status_code == status, r.text


def _round(client, world):
    r = client.get(f"/api/wallet/grants/{world.grant_thb}/milestones/1/release")
    assert r.status_code == 200, r.text
    return r.json()


def _post(client, world, signer, signature, deadline):
    return client.post(
        f"/api/wallet/grants/{world.grant_thb}/milestones/1/signatures",
        json={"signer": signer, "signature": "0x" + bytes(signature).hex(), "deadline": deadline},
    )


def test_council__three_of_five_sign_then_anyone_releases(client, world, w3, site_settings):
    before = world.thb.balanceOf(world.community)
    rnd = _round(client, world)
    data = rnd["typed_data"]
    assert data["primaryType"] == "Release" and data["domain"]["name"] == "Tambon GrantEscrow"
    assert int(data["message"]["amount"]) == 100_000 * THB and int(data["message"]["nonce"]) == 1
    assert rnd["signers"] == [] and rnd["threshold"] == 3 and not rnd["ready"]
    assert client.get(f"/api/wallet/grants/{world.grant_thb}/milestones/1/release-tx").status_code == 409
    for i, member in enumerate(world.members[:3]):
        r = _post(
            client, world, member.address, sign(data, member.private_key), int(data["message"]["deadline"])
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["signers"]) == i + 1
    assert r.json()["ready"]
    stored = list((site_settings.data_dir / "web" / "releases").rglob("*.json"))
    assert len(stored) == 1 and len(json.loads(stored[0].read_text())["signatures"]) == 3
    tx = client.get(f"/api/wallet/grants/{world.grant_thb}/milestones/1/release-tx").json()
    send(w3, world.packer, tx)  # anyone relays
    assert world.escrow.milestone(world.grant_thb, 1).status == 3
    assert world.thb.balanceOf(world.community) - before == 100_000 * THB
    assert client.get(f"/api/wallet/grants/{world.grant_thb}/milestones/1/release").status_code == 409


def test_council__signatures_verified_before_stored(client, world, accounts):
    rnd = _round(client, world)
    data, deadline = rnd["typed_data"], int(rnd["typed_data"]["message"]["deadline"])
    member, other = world.members[0], world.members[1]
    good = sign(data, member.private_key)
    # claims to be another member
    r = _post(client, world, other.address, good, deadline)
    assert r.status_code == 400, r.text
    # an outsider's genuine signature
    outsider = accounts[9]
    r = _post(client, world, outsider.address, sign(data, outsider.private_key), deadline)
    assert r.status_code == 409 and "not a council member" in r.json()["detail"]
    # another deadline (another round)
    assert _post(client, world, member.address, good, deadline + 1).status_code == 409
    # a signature over other amounts
    forged = {**data, "message": {**data["message"], "amount": "1"}}
    assert _post(client, world, member.address, sign(forged, member.private_key), deadline).status_code == 400
    # high-s (malleable) form of a good signature
    s = int.from_bytes(good[32:64], "big")
    flipped = good[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - good[64]])
    r = _post(client, world, member.address, flipped, deadline)
    assert r.status_code == 400 and "high s" in r.json()["detail"]
    # malformed
    bad = client.post(
        f"/api/wallet/grants/{world.grant_thb}/milestones/1/signatures",
        json={"signer": member.address, "signature": "0xzz", "deadline": deadline},
    )
    assert bad.status_code == 400
    assert _round(client, world)["signers"] == []
    assert _post(client, world, member.address, good, deadline).status_code == 200
    assert _round(client, world)["signers"] == [member.address]


def test_council__not_under_review__409(client, world):
    assert client.get(f"/api/wallet/grants/{world.grant_thb}/milestones/2/release").status_code == 409
    assert client.get(f"/api/wallet/grants/{world.grant_thb}/milestones/0/release").status_code == 409
    assert client.get(f"/api/wallet/grants/{world.grant_thb}/milestones/99/release").status_code == 404


def test_wallet_pages__list_submittable_and_pending(client, world):
    submit = client.get("/wallet/submit", headers={"Accept-Language": "en"}).text
    assert (
        f'value="{world.grant_thb}:2"' in submit and f'value="{world.grant_eth}:0"' in submit
    )  # pending, rejected
    assert f'value="{world.grant_thb}:0"' not in submit  # paid
    assert '<script src="/static/wallet.js" defer></script>' in submit
    council = client.get("/wallet/council", headers={"Accept-Language": "th"}).text
    assert f'data-grant="{world.grant_thb}" data-milestone="1"' in council and "ลงนามอนุมัติจ่าย" in council
    assert "walls and roof" in council  # the evidence record, read from the verified bundle
    assert f"{world.gateway_url}/ipfs/{world.evidence['milestone1']}/photo.png" in council
    assert 'data-check="evidence" data-status="pass"' in council
    assert client.get("/static/wallet.js").status_code == 200
