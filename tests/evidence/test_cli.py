"""`tambon evidence ...` as a user runs it (the installed console script, a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.frontend.world import free_ports

TAMBON = Path(sys.executable).with_name("tambon")


@pytest.fixture
def env(tmp_path):
    return {
        **os.environ,
        "TAMBON_DATA_DIR": str(tmp_path / "data"),
        "TAMBON_EVIDENCE_BACKEND": "local",
    }


def run(env, *args, check=True):
    proc = subprocess.run(
        [str(TAMBON), "evidence", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_cid__last_line_is_cid_for_both_profiles(env, corpus, js_reference):
    path = corpus["node-174-plus1.bin"]
    assert run(env, "cid", str(path)).stdout.splitlines()[-1] == js_reference["kubo-v1"][str(path)]
    out = run(env, "cid", "--profile", "unixfs-v1-2025", "-v", str(corpus["bundle-tree"])).stdout.splitlines()
    assert out[-1] == js_reference["unixfs-v1-2025"][str(corpus["bundle-tree"])]
    assert any(line.startswith("added ") and "มะม่วง.jpg" in line for line in out[:-1])


def test_add_then_get__roundtrip_through_local_store(env, corpus, tmp_path):
    tree = corpus["bundle-tree"]
    cid = run(env, "add", str(tree)).stdout.splitlines()[-1]
    assert cid == run(env, "cid", str(tree)).stdout.splitlines()[-1]
    out = tmp_path / "fetched"
    run(env, "get", cid, str(out))
    assert (out / "ภาพถ่าย" / "มะม่วง.jpg").read_bytes() == (tree / "ภาพถ่าย" / "มะม่วง.jpg").read_bytes()
    listing = run(env, "ls", cid).stdout
    assert "record.json" in listing and "ว่าง" in listing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cid", "/no/such/path"), "no such file"),
        (("cid", "--profile", "kubo-v9", "."), "unknown profile"),
        (("get", "not-a-cid", "out"), "not a valid CID"),
        (("get", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "out"), "not found"),
    ],
)
def test_errors__one_line_no_traceback(env, args, message, tmp_path):
    proc = subprocess.run(
        [str(TAMBON), "evidence", *args], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve__api_and_gateway_ports_from_settings(env, tmp_path):
    api, gw = free_ports(2)
    env = {
        **env,
        "TAMBON_EVIDENCE_API_URL": f"http://127.0.0.1:{api}",
        "TAMBON_GATEWAY_URL": f"http://127.0.0.1:{gw}",
    }
    proc = subprocess.Popen(
        [str(TAMBON), "evidence", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.time() + 20
        while True:
            try:
                httpx.post(f"http://127.0.0.1:{api}/api/v0/version", timeout=1)
                httpx.get(f"http://127.0.0.1:{gw}/ipfs/x", timeout=1)
                break
            except httpx.TransportError as exc:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError(
                        proc.stderr.read() if proc.poll() is not None else "serve did not start"
                    ) from exc
                time.sleep(0.1)
        added = httpx.post(
            f"http://127.0.0.1:{api}/api/v0/add",
            params={"cid-version": "1"},
            files={"file": ("a.txt", b"served")},
        ).json()
        for port in (api, gw):
            assert httpx.get(f"http://127.0.0.1:{port}/ipfs/{added['Hash']}").content == b"served"
        assert httpx.post(f"http://127.0.0.1:{gw}/api/v0/version").status_code == 404  # no RPC on the gateway
    finally:
        proc.terminate()
        proc.wait(10)
