"""Who may write: Sign-In with Ethereum, the accounts allowed to upload and what for, rate limits, quotas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from frontend.auth import SESSION_COOKIE, prepare_message
from tests.frontend.world import png, sign_in

PHOTO = ("site.png", png(8, 8, (3, 4, 5)), "image/png")


def _sign(text: str, key) -> str:
    return "0x" + Account.sign_message(encode_defunct(text=text), key).signature.hex()


def _nonce(client, address: str) -> str:
    return client.get("/api/auth/message", params={"address": address}).json()["nonce"]


def _login(client, text: str, key):
    return client.post("/api/auth/login", json={"message": text, "signature": _sign(text, key)})


def _upload(client, **form):
    return client.post("/api/evidence", files=[("files", PHOTO)], data=form)


def test_sign_in__session_cookie_strict_and_http_only(client, world):
    text = client.get("/api/auth/message", params={"address": world.community.address}).json()["message"]
    assert text.startswith("testserver wants you to sign in with your Ethereum account:")
    assert "Chain ID: 31337" in text and "Expiration Time:" in text
    r = _login(client, text, world.community.private_key)
    assert r.status_code == 200 and r.json()["address"] == world.community.address
    assert "community" in r.json()["roles"] and "producer" in r.json()["roles"]
    cookie = r.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # the local demo runs on http://; behind HTTPS the cookie is Secure
    assert client.get("/api/auth/session").json()["address"] == world.community.address
    client.post("/api/auth/logout")
    assert client.get("/api/auth/session").status_code == 401


def test_sign_in__behind_https__secure_cookie(world, site_settings, web_settings):
    from frontend.app import create_app

    https = site_settings.model_copy(update={"public_url": "https://testserver"})
    with TestClient(create_app(https, web_settings), base_url="https://testserver") as c:
        text = c.get("/api/auth/message", params={"address": world.community.address}).json()["message"]
        r = _login(c, text, world.community.private_key)
        assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]


def test_sign_in__replayed_nonce__refused(client, world):
    text = client.get("/api/auth/message", params={"address": world.community.address}).json()["message"]
    assert _login(client, text, world.community.private_key).status_code == 200
    again = _login(client, text, world.community.private_key)
    assert again.status_code == 403 and "already used" in again.json()["detail"]


def test_sign_in__expired_message__refused(client, world):
    address = world.community.address
    past = datetime.now(UTC) - timedelta(hours=1)
    text = prepare_message(
        address,
        public_url="http://testserver",
        chain_id=31337,
        nonce=_nonce(client, address),
        ttl=300,
        now=past,
    )
    r = _login(client, text, world.community.private_key)
    assert r.status_code == 403 and "expired" in r.json()["detail"]


@pytest.mark.parametrize(
    ("public_url", "chain_id", "message"),
    [
        ("http://evil.example", 31337, "not to this site"),
        ("http://testserver", 1, "this site runs on chain 31337"),
    ],
)
def test_sign_in__wrong_domain_or_chain__refused(client, world, public_url, chain_id, message):
    address = world.community.address
    text = prepare_message(
        address, public_url=public_url, chain_id=chain_id, nonce=_nonce(client, address), ttl=300
    )
    r = _login(client, text, world.community.private_key)
    assert r.status_code == 403 and message in r.json()["detail"]


def test_sign_in__non_member_or_someone_elses_signature__refused(client, world):
    stranger = Account.create()
    text = client.get("/api/auth/message", params={"address": stranger.address}).json()["message"]
    r = _login(client, text, stranger.key)
    assert r.status_code == 403 and "is not a council member" in r.json()["detail"]
    victim = client.get("/api/auth/message", params={"address": world.community.address}).json()["message"]
    forged = _login(client, victim, stranger.key)
    assert forged.status_code == 403 and "does not match" in forged.json()["detail"]
    assert client.post("/api/auth/login", json={"message": "hello", "signature": "0x00"}).status_code == 400
    assert client.get("/api/auth/session").status_code == 401


def test_uploads__anonymous__401_reads_stay_public(client, world):
    for path in ("/api/evidence", "/api/capture/steps"):
        r = client.post(path, files=[("files", PHOTO)], data={"grant_id": "0"})
        assert r.status_code == 401 and "sign in" in r.json()["detail"]
    assert client.get(f"/api/batches/{world.sold_box}").status_code == 200
    assert client.get("/api/grants").status_code == 200


def test_uploads__each_account_only_for_what_it_acts_on(client, world):
    sign_in(client, world.community)
    assert _upload(client, grant_id=str(world.grant_thb), milestone_id="2").status_code == 200
    other = _upload(client, grant_id=str(world.grant_eth))  # the packing house's grant
    assert other.status_code == 403 and "only grant" in other.json()["detail"]
    assert _upload(client).status_code == 403  # evidence for no grant: council only
    spoofed = _upload(client, grant_id=str(world.grant_thb), submitter=world.members[0].address)
    assert spoofed.status_code == 403 and "signed-in account" in spoofed.json()["detail"]
    held_by_packer = client.post(
        "/api/capture/steps",
        data={"batch_id": str(world.boxes[1]), "stage": "TRANSPORT", "record": _record()},
    )
    assert held_by_packer.status_code == 403 and "only its holder" in held_by_packer.json()["detail"]
    sign_in(client, world.members[0])
    assert _upload(client).status_code == 200  # a council member's reason for a rejection
    sign_in(client, world.seller)  # holds a box, but no grant: no milestone evidence
    assert _upload(client, grant_id=str(world.grant_thb)).status_code == 403


def _record() -> str:
    import json

    from compliance import samples

    return json.dumps(samples.mango_lot()[3])


def test_rate_limit_and_quota__429_with_retry_after(world, site_settings, tmp_path):
    from frontend.app import create_app
    from frontend.settings import WebSettings

    tight = WebSettings(uploads_per_account="2/minute", writes_per_ip="1000/minute")
    with TestClient(create_app(site_settings, tight)) as c:
        sign_in(c, world.community)
        for _ in range(2):
            assert _upload(c, grant_id=str(world.grant_thb)).status_code == 200
        r = _upload(c, grant_id=str(world.grant_thb))
        assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 60
        assert "rate limit" in r.json()["detail"]
    small = WebSettings(upload_bytes_per_day=100)
    fresh = site_settings.model_copy(update={"data_dir": tmp_path / "quota"})
    with TestClient(create_app(fresh, small)) as c:
        sign_in(c, world.community)
        assert _upload(c, grant_id=str(world.grant_thb)).status_code == 200
        r = _upload(c, grant_id=str(world.grant_thb))
        assert r.status_code == 429 and "quota" in r.json()["detail"]
        assert 0 < int(r.headers["retry-after"]) <= 86_400
    spam = WebSettings(writes_per_ip="3/minute")
    with TestClient(create_app(site_settings, spam)) as c:
        answers = [
            c.post("/api/auth/login", json={"message": "x", "signature": "0x"}).status_code for _ in range(5)
        ]
        assert answers[:3] == [400, 400, 400] and answers[3:] == [429, 429]


def test_council_reason__needs_the_authors_own_session(client, world):
    path = f"/api/wallet/grants/{world.grant_thb}/milestones/1/rejection"
    anonymous = client.post(
        path, json={"reason": "photos are of another site", "author": world.members[0].address}
    )
    assert anonymous.status_code == 401
    sign_in(client, world.members[1])
    other = client.post(
        path, json={"reason": "photos are of another site", "author": world.members[0].address}
    )
    assert other.status_code == 403 and "signed-in account" in other.json()["detail"]
    huge = client.post(path, json={"reason": "x" * 100_000, "author": world.members[1].address})
    assert huge.status_code == 413
