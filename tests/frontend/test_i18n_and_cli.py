"""Language choice on every page, and the `tambon web` CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "path", ["/", "/grants", "/wallet/submit", "/wallet/council", "/batch/999999", "/api/docs"]
)
def test_every_page__thai_and_english(client, world, path):
    th = client.get(path, headers={"Accept-Language": "th-TH,th;q=0.9,en;q=0.5"})
    en = client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="th">' in th.text and '<html lang="en">' in en.text
    assert "ข้อมูลทุกอย่างบนเว็บไซต์นี้อ่านจากบล็อกเชน" in th.text
    assert "Every fact on this site is read from the blockchain" in en.text
    assert th.headers["content-language"] == "th"


def test_org_name__thai_and_english_name__each_page_shows_its_language(world, site_settings):
    from fastapi.testclient import TestClient

    from frontend.app import create_app
    from frontend.settings import WebSettings

    web = WebSettings(org_name="อบต. หนองสนิท (Nong Sanit SAO)", evidence_retry_seconds=0.0)
    with TestClient(create_app(site_settings, web)) as client:
        for path in ("/", "/grants", f"/batch/{world.sold_box}"):
            en = client.get(path, headers={"Accept-Language": "en"}).text
            th = client.get(path, headers={"Accept-Language": "th"}).text
            assert "Nong Sanit SAO" in en and "อบต. หนองสนิท" not in en, path
            assert "อบต. หนองสนิท" in th and "Nong Sanit SAO" not in th, path


def test_language_switch__query_sets_cookie_that_wins_over_header(client, world):
    r = client.get("/grants?lang=th", headers={"Accept-Language": "en"})
    assert '<html lang="th">' in r.text and r.cookies.get("lang") == "th"
    again = client.get("/grants", headers={"Accept-Language": "en"})
    assert '<html lang="th">' in again.text
    back = client.get("/grants?lang=en")
    assert '<html lang="en">' in back.text


def _tambon(*args, env=None):
    return subprocess.run(
        [sys.executable, "-c", "from tambon.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli__web_serve_help():
    out = _tambon("web", "serve", "--help")
    assert out.returncode == 0 and "--workers" in out.stdout


def test_cli__web_serve_without_deployment__one_error_line(tmp_path):
    import os

    env = {**os.environ, "TAMBON_DEPLOYMENTS_DIR": str(tmp_path), "TAMBON_NETWORK": "nowhere"}
    out = _tambon("web", "serve", env=env)
    assert out.returncode == 1
    assert out.stderr.startswith("error: no deployment at") and "Traceback" not in out.stderr


def test_cli__web_serve__serves_the_verify_page(world, site_settings):
    import os
    import signal
    import time

    import httpx

    from tests.frontend.world import free_port

    port = free_port()
    s = site_settings
    env = {
        **os.environ,
        "TAMBON_NETWORK": s.network,
        "TAMBON_RPC_URL": s.rpc_url,
        "TAMBON_DEPLOYMENTS_DIR": str(s.deployments_dir),
        "TAMBON_DATA_DIR": str(s.data_dir),
        "TAMBON_EVIDENCE_API_URL": s.evidence_api_url,
        "TAMBON_GATEWAY_URL": s.gateway_url,
        "TAMBON_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tambon.cli import main; main()",
            "web",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stderr.read() if proc.poll() else "timeout"
            )
            time.sleep(0.1)
        page = httpx.get(f"http://127.0.0.1:{port}/batch/{world.sold_box}", headers={"Accept-Language": "th"})
        assert page.status_code == 200 and "ผ่านการตรวจสอบ 17 จาก 17 รายการ" in page.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.mark.parametrize(
    "path", ["/", "/batch/999999", "/api/batches/999999", "/healthz", "/static/missing.css"]
)
def test_every_response__the_site_headers_once(client, path):
    r = client.get(path, headers={"Accept-Language": "th"})
    for name, value in (("x-content-type-options", "nosniff"), ("referrer-policy", "same-origin")):
        assert r.headers.get_list(name) == [value], (path, name)
    assert len(r.headers.get_list("content-security-policy")) == 1
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers.get_list("content-language") == ["th"]
    assert "Accept-Language, Cookie" in r.headers["vary"]
