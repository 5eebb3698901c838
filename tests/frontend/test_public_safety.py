"""What the public site shows about its own safety: the demo-chain warning, evidence links that never run."""

from __future__ import annotations

import html
import re

import httpx

from tambon.stack import Stack


def test_demo_chain__banner_warns_the_keys_are_public(client, site_settings):
    assert site_settings.network == "local"
    page = client.get("/", headers={"Accept-Language": "en"}).text
    assert "public test keys" in page
    thai = client.get("/", headers={"Accept-Language": "th"}).text
    assert "กุญแจทดสอบที่เปิดเผยต่อสาธารณะ" in thai


def test_testnet__no_demo_banner(world, site_settings, web_settings):
    from fastapi.testclient import TestClient

    from frontend.app import create_app

    with TestClient(create_app(site_settings.model_copy(update={"network": "sepolia"}), web_settings)) as c:
        assert "public test keys" not in c.get("/").text


def test_demo_stack__anvil_without_cors(settings):
    command = Stack(settings).services["chain"].command()
    assert "--no-cors" in command and "--allow-origin" not in command


def test_verify_page__every_evidence_link_is_inert(client, world, site_settings):
    """Each gateway URL the verify page links is an image or PDF shown inline, or a sandboxed download."""
    page = client.get(f"/batch/{world.sold_box}").text
    gateway = re.escape(site_settings.gateway_url)
    urls = {html.unescape(u) for u in re.findall(rf'(?:href|src)="({gateway}/ipfs/[^"]+)"', page)}
    assert len(urls) > 3
    for url in urls:
        served = httpx.get(url, timeout=10)
        media = served.headers["content-type"].split(";")[0]
        if media.startswith("image/") and media != "image/svg+xml" or media == "application/pdf":
            continue
        assert served.headers["content-security-policy"].startswith("sandbox"), url
        if not served.headers["etag"].startswith('"DirIndex-'):  # a bundle's own escaped listing
            assert served.headers["content-disposition"].startswith("attachment"), url
