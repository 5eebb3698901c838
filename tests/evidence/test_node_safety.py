"""The evidence node facing the web: RPC origin policy and bearer token, gateway that never runs content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from evidence.node import create_app
from evidence.remote import RpcStore
from tests.evidence.support import MIB

TAMBON = Path(sys.executable).with_name("tambon")


@pytest.fixture
def client(store):
    return TestClient(create_app(store, max_upload_bytes=4 * MIB))


def _add(client, files, headers=None, **params):
    return client.post("/api/v0/add", params=params, files=files, headers=headers or {})


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # sandboxed frame or file:// page
        {"Referer": "http://evil.example/page.html"},  # an older browser sending no Origin
        {"Origin": "http://127.0.0.1:8000"},  # even the site's own origin: it has no business here
    ],
)
def test_rpc__web_page_origin__403_nothing_added_nothing_unpinned(client, store, headers):
    kept = store.add_bytes(b"evidence someone relies on")
    assert store.pins() == [kept]
    refused = _add(client, [("file", ("x.jpg", b"\xff\xd8\xff" + os.urandom(1000)))], headers)
    assert refused.status_code == 403 and "not allowed" in refused.json()["Message"]
    rm = client.post("/api/v0/pin/rm", params={"arg": kept}, headers=headers)
    assert rm.status_code == 403
    assert store.pins() == [kept]
    # the gateway stays public: browsers read evidence from any page
    assert client.get(f"/ipfs/{kept}", headers=headers).status_code == 200


def test_rpc__allowed_origin_and_programs_without_origin__served(store):
    node = TestClient(create_app(store, max_upload_bytes=MIB, allowed_origins=["https://Admin.example/"]))
    ok = _add(node, [("file", ("a.txt", b"a"))], {"Origin": "https://admin.example"})
    assert ok.status_code == 200, ok.text
    assert _add(node, [("file", ("b.txt", b"b"))]).status_code == 200
    assert node.post("/api/v0/version", headers={"Origin": "https://other.example"}).status_code == 403


def test_rpc__token__401_without_it_and_our_client_sends_it(store):
    node = create_app(store, max_upload_bytes=MIB, api_token="s3cret-token")
    http = TestClient(node)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
        r = http.post("/api/v0/version", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert "Bearer" in r.json()["Message"]
    assert http.post("/api/v0/version", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    # the gateway needs no token
    cid = store.add_bytes(b"public")
    assert http.get(f"/ipfs/{cid}").content == b"public"
    client = RpcStore("http://node", token="s3cret-token", transport=http._transport)
    try:
        assert client.add_bytes(b"through the client") in store.pins()
    finally:
        client.close()


def test_gateway__html_and_svg__downloads_in_a_sandbox_images_inline(client):
    files = {
        "evil.html": b"<script>parent.document.title='owned'</script>",
        "x.svg": b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        "record.json": b'{"a": 1}',
        "photo.jpg": b"\xff\xd8\xff\xe0" + bytes(100),
        "bill.pdf": b"%PDF-1.4 x",
    }
    parts = [("file", (name, body)) for name, body in files.items()]
    r = _add(client, parts, **{"cid-version": "1", "wrap-with-directory": "true"})
    cid = json.loads(r.text.splitlines()[-1])["Hash"]
    for name in ("evil.html", "x.svg", "record.json"):
        served = client.get(f"/ipfs/{cid}/{name}")
        assert served.status_code == 200 and served.content == files[name]
        assert served.headers["content-disposition"].startswith("attachment;"), name
        assert served.headers["content-security-policy"].startswith("sandbox"), name
    photo = client.get(f"/ipfs/{cid}/photo.jpg")
    assert "content-disposition" not in photo.headers
    assert photo.headers["content-security-policy"].startswith("sandbox")
    pdf = client.get(f"/ipfs/{cid}/bill.pdf")
    assert "content-disposition" not in pdf.headers and pdf.headers["content-type"] == "application/pdf"
    listing = client.get(f"/ipfs/{cid}")
    assert listing.headers["content-security-policy"].startswith("sandbox")
    bare = client.get(f"/ipfs/{json.loads(r.text.splitlines()[0])['Hash']}")  # a file CID, no name
    assert bare.headers["content-disposition"].startswith("attachment;")


def test_serve__beyond_loopback_without_token__error_line(tmp_path):
    env = {
        **os.environ,
        "TAMBON_DATA_DIR": str(tmp_path),
        "TAMBON_EVIDENCE_API_URL": "http://0.0.0.0:5999",
    }
    env.pop("TAMBON_EVIDENCE_API_TOKEN", None)
    proc = subprocess.run(
        [str(TAMBON), "evidence", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: the RPC would listen on 0.0.0.0") and "Traceback" not in proc.stderr


@pytest.fixture
def guarded_node(store):
    """A real node on a loopback port whose RPC needs a bearer token."""
    from tests.frontend.world import ThreadServer

    server = ThreadServer(create_app(store, max_upload_bytes=MIB, api_token=NODE_TOKEN)).start()
    yield server
    server.stop()


NODE_TOKEN = "node-s3cret"


def _rpc_settings(token: str | None, backend: str = "rpc"):
    from evidence.settings import EvidenceSettings

    return EvidenceSettings(backend=backend, api_token=token, timeout=10)


@pytest.mark.parametrize("backend", ["rpc", "kubo"])
def test_token__every_store_client__refused_without_it_served_with_it(
    guarded_node, store, backend, monkeypatch
):
    """What the oracle and `tambon evidence add|get|ls` use: open_store() with TAMBON_EVIDENCE_API_TOKEN."""
    from evidence.errors import RemoteError
    from evidence.remote import open_store
    from tambon.settings import get_settings

    monkeypatch.setenv("TAMBON_EVIDENCE_API_URL", guarded_node.url)
    get_settings.cache_clear()
    try:
        anonymous = open_store(_rpc_settings(None, backend))
        with pytest.raises(RemoteError, match="401|Bearer"):
            anonymous.add_bytes(b"no token")
        anonymous.close()
        wrong = open_store(_rpc_settings("not-it", backend))
        with pytest.raises(RemoteError, match="401|Bearer"):
            wrong.version()
        wrong.close()
        assert store.pins() == []
        client = open_store(_rpc_settings(NODE_TOKEN, backend))
        cid = client.add_bytes(b"with the token")
        assert cid in store.pins() and client.get_block(cid)
        client.close()
    finally:
        get_settings.cache_clear()


def test_token__site_uploads__refused_without_it_served_with_it(guarded_node, store):
    """The site's evidence service: bundles (photos, capture steps) and council reasons."""
    from frontend.errors import Upstream
    from frontend.services.evidence import EvidenceService

    anonymous = EvidenceService(guarded_node.url, guarded_node.url)
    with pytest.raises(Upstream, match="401"):
        anonymous.upload_text("a reason", "reason.txt")
    with pytest.raises(Upstream, match="401"):
        anonymous.upload_bundle({"event": "TRANSPORT"}, {"log.csv": b"time,temp\n"})
    assert store.pins() == []
    site = EvidenceService(guarded_node.url, guarded_node.url, api_token=NODE_TOKEN)
    reason = site.upload_text("a reason", "reason.txt")
    bundle, _onchain = site.upload_bundle({"event": "TRANSPORT"}, {"log.csv": b"time,temp\n"})
    assert {reason, bundle} <= set(store.pins())


def test_token__cli_and_stack_health__send_it(guarded_node, tmp_path):
    from tambon.stack import _evidence_ok

    source = tmp_path / "note.txt"
    source.write_text("added from the command line")
    env = {
        **os.environ,
        "TAMBON_DATA_DIR": str(tmp_path / "data"),
        "TAMBON_EVIDENCE_BACKEND": "rpc",
        "TAMBON_EVIDENCE_API_URL": guarded_node.url,
    }
    env.pop("TAMBON_EVIDENCE_API_TOKEN", None)
    refused = subprocess.run(
        [str(TAMBON), "evidence", "add", str(source)], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "401" in refused.stderr and "Traceback" not in refused.stderr
    env["TAMBON_EVIDENCE_API_TOKEN"] = NODE_TOKEN
    added = subprocess.run(
        [str(TAMBON), "evidence", "add", str(source)], env=env, capture_output=True, text=True
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().splitlines()[-1].startswith("bafk")
    assert "refuses" in _evidence_ok(guarded_node.url)  # this process has no token
