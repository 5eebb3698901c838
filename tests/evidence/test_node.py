"""The embedded node over HTTP: Kubo RPC subset, trustless gateway, and every bad input."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from evidence import verify
from evidence.cids import cid_str, digest_of, parse_cid
from evidence.importer import import_bytes, import_tree
from evidence.node import create_app, create_gateway_app
from tests.evidence.support import KIB, MIB, block_files

LIMIT = 4 * MIB


@pytest.fixture
def client(store):
    return TestClient(create_app(store, max_upload_bytes=LIMIT))


def add(client, files, **params):
    response = client.post("/api/v0/add", params=params, files=files)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def test_add__single_file_cid_version_1__kubo_ndjson_line(client, store):
    data = os.urandom(300 * KIB)
    lines = add(client, [("file", ("photo.jpg", data, "image/jpeg"))], **{"cid-version": "1"})
    node = import_bytes(data, "kubo-v1")
    assert lines == [{"Name": "photo.jpg", "Hash": cid_str(node.cid), "Size": str(node.tsize)}]
    assert store.pins() == [cid_str(node.cid)]


def test_add__defaults_like_kubo__cidv0_dag_pb_leaves(client):
    lines = add(client, [("file", ("hello.txt", b"hello", "text/plain"))])
    assert lines[-1]["Hash"] == "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX"


def test_add__profile_unixfs_v1_2025_and_chunker(client):
    data = os.urandom(MIB + 1)
    lines = add(client, [("file", ("a", data))], profile="unixfs-v1-2025")
    assert lines[-1]["Hash"] == cid_str(import_bytes(data, "unixfs-v1-2025").cid)
    lines = add(client, [("file", ("a", data))], **{"cid-version": "1", "chunker": "size-1048576"})
    assert lines[-1]["Hash"] == cid_str(import_bytes(data, "unixfs-v1-2025").cid)


def test_add__directory_parts_with_thai_names__root_last(client, store):
    files = {"ภาพ/มะม่วง.jpg": os.urandom(1000), "record.json": b'{"a":1}'}
    parts = [
        ("file", ("bundle", b"", "application/x-directory")),
        ("file", ("bundle%2F%E0%B8%A0%E0%B8%B2%E0%B8%9E", b"", "application/x-directory")),
        (
            "file",
            (
                "bundle%2F%E0%B8%A0%E0%B8%B2%E0%B8%9E%2F%E0%B8%A1%E0%B8%B0%E0%B8%A1%E0%B9%88%E0%B8%A7%E0%B8%87.jpg",
                files["ภาพ/มะม่วง.jpg"],
                "image/jpeg",
            ),
        ),
        ("file", ("bundle%2Frecord.json", files["record.json"], "application/json")),
    ]
    lines = add(client, parts, **{"cid-version": "1"})
    assert lines[-1] == {
        "Name": "bundle",
        "Hash": cid_str(import_tree(files, "kubo-v1").cid),
        "Size": lines[-1]["Size"],
    }
    names = [line["Name"] for line in lines]
    assert "bundle/ภาพ/มะม่วง.jpg" in names and "bundle/ภาพ" in names
    assert store.pins() == [lines[-1]["Hash"]]


def test_add__wrap_with_directory__root_named_empty(client):
    lines = add(
        client,
        [("file", ("a.txt", b"a")), ("file", ("b.txt", b"b"))],
        **{"cid-version": "1", "wrap-with-directory": "true"},
    )
    assert lines[-1]["Name"] == ""
    assert lines[-1]["Hash"] == cid_str(import_tree({"a.txt": b"a", "b.txt": b"b"}, "kubo-v1").cid)


def test_add__only_hash_and_pin_false__nothing_stored_or_pinned(client, store):
    add(client, [("file", ("x", b"only hash"))], **{"only-hash": "true"})
    assert block_files(store) == [] and store.pins() == []
    lines = add(client, [("file", ("x", b"not pinned"))], pin="false")
    assert store.pins() == [] and store.has(lines[-1]["Hash"])


def test_cat_block_get_pin_roundtrip(client, store):
    data = os.urandom(600 * KIB)
    cid = add(client, [("file", ("f", data))], **{"cid-version": "1"})[-1]["Hash"]
    assert client.post("/api/v0/cat", params={"arg": cid}).content == data
    assert client.post("/api/v0/cat", params={"arg": f"/ipfs/{cid}"}).content == data
    root_block = client.post("/api/v0/block/get", params={"arg": cid}).content
    assert verify.block_matches(cid, root_block)
    assert client.post("/api/v0/pin/ls").json() == {"Keys": {cid: {"Type": "recursive"}}}
    assert client.post("/api/v0/pin/rm", params={"arg": cid}).json() == {"Pins": [cid]}
    assert client.post("/api/v0/pin/ls").json() == {"Keys": {}}
    assert client.post("/api/v0/pin/add", params={"arg": cid}).json() == {"Pins": [cid]}
    assert client.post("/api/v0/pin/ls", params={"arg": cid}).json()["Keys"] == {cid: {"Type": "recursive"}}
    assert client.post("/api/v0/version").json()["Version"].endswith("-tambon")


def test_cat__path_inside_directory(client):
    cid = add(client, [("file", ("d/sub/x.txt", b"inside"))], **{"cid-version": "1"})[-1]["Hash"]
    assert client.post("/api/v0/cat", params={"arg": f"{cid}/sub/x.txt"}).content == b"inside"


def test_gateway__file_raw_car_and_listing(client):
    files = {"photo.jpg": os.urandom(700 * KIB), "record.json": b'{"w":1}'}
    parts = [("file", (name, body)) for name, body in files.items()]
    cid = add(client, parts, **{"cid-version": "1", "wrap-with-directory": "true"})[-1]["Hash"]
    response = client.get(f"/ipfs/{cid}/photo.jpg")
    assert response.status_code == 200 and response.content == files["photo.jpg"]
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"].strip('"') == cid_str(import_bytes(files["photo.jpg"]).cid)
    raw = client.get(f"/ipfs/{cid}?format=raw")
    assert raw.headers["content-type"] == "application/vnd.ipld.raw" and verify.block_matches(
        cid, raw.content
    )
    assert client.get(f"/ipfs/{cid}", headers={"Accept": "application/vnd.ipld.raw"}).content == raw.content
    car = client.get(f"/ipfs/{cid}/photo.jpg?format=car")
    assert car.headers["content-type"].startswith("application/vnd.ipld.car")
    proved = verify.verify_car(cid, car.content, "photo.jpg")
    assert proved.read("photo.jpg") == files["photo.jpg"]
    whole = verify.verify_car(cid, client.get(f"/ipfs/{cid}?format=car").content)
    assert [e.name for e in whole.ls()] == ["photo.jpg", "record.json"]
    listing = client.get(f"/ipfs/{cid}")
    assert listing.status_code == 200 and "record.json" in listing.text
    head = client.head(f"/ipfs/{cid}/record.json")
    assert head.status_code == 200 and head.headers["content-length"] == "7" and head.content == b""


def test_gateway__thai_path_and_percent_names(client):
    files = {"ภาพ/มะม่วง.jpg": b"mango", "100%.txt": b"percent"}
    parts = [("file", (quote(name, safe=""), body)) for name, body in files.items()]
    cid = add(client, parts, **{"cid-version": "1", "wrap-with-directory": "true"})[-1]["Hash"]
    response = client.get(f"/ipfs/{cid}/{quote('ภาพ/มะม่วง.jpg')}")
    assert response.status_code == 200 and response.content == b"mango"
    assert response.headers["x-ipfs-path"] == f"/ipfs/{cid}/{quote('ภาพ/มะม่วง.jpg')}"
    assert client.get(f"/ipfs/{cid}/100%25.txt").content == b"percent"
    listing = client.get(f"/ipfs/{cid}/{quote('ภาพ')}")
    assert listing.status_code == 200 and quote("มะม่วง.jpg") in listing.text


def test_gateway_only_app__has_no_rpc(store):
    gateway = TestClient(create_gateway_app(store))
    assert gateway.post("/api/v0/add").status_code == 404
    cid = store.add_bytes(b"served")
    assert gateway.get(f"/ipfs/{cid}").content == b"served"


# ----------------------------------------------------------------------------- bad input


def test_unknown_cid__404_with_message(client):
    missing = cid_str(import_bytes(b"never added").cid)
    response = client.post("/api/v0/cat", params={"arg": missing})
    assert response.status_code == 404 and missing in response.json()["Message"]
    assert client.post("/api/v0/block/get", params={"arg": missing}).status_code == 404
    gateway = client.get(f"/ipfs/{missing}")
    assert gateway.status_code == 404 and "not found" in gateway.text


def test_unknown_path_in_directory__404(client):
    cid = add(client, [("file", ("d/x.txt", b"x"))], **{"cid-version": "1"})[-1]["Hash"]
    assert client.get(f"/ipfs/{cid}/nope.txt").status_code == 404


@pytest.mark.parametrize("bad", ["notacid", "bafy", "Qm123", "zzzz", "bafkqaaa"])
def test_malformed_cid__400(client, bad):
    response = client.post("/api/v0/cat", params={"arg": bad})
    assert response.status_code == 400 and response.json()["Type"] == "error"
    assert client.get(f"/ipfs/{bad}").status_code == 400


def test_corrupt_block__refused_never_served(client, store):
    data = b"genuine evidence " * 1000
    cid = add(client, [("file", ("e", data))], **{"cid-version": "1"})[-1]["Hash"]
    path = store.blocks.path_for(digest_of(parse_cid(cid)))
    path.write_bytes(b"forged evidence " * 1000)
    for response in (
        client.post("/api/v0/cat", params={"arg": cid}),
        client.post("/api/v0/block/get", params={"arg": cid}),
        client.get(f"/ipfs/{cid}"),
        client.get(f"/ipfs/{cid}?format=raw"),
        client.get(f"/ipfs/{cid}?format=car"),
    ):
        assert response.status_code == 500
        assert b"forged" not in response.content and "corrupt" in response.text


def test_corrupt_leaf_in_big_file__500_before_any_byte(client, store):
    data = os.urandom(3 * 256 * KIB)
    cid = add(client, [("file", ("big", data))], **{"cid-version": "1"})[-1]["Hash"]
    last_leaf = import_bytes(data[2 * 256 * KIB :]).cid
    store.blocks.path_for(digest_of(last_leaf)).write_bytes(b"\0" * (256 * KIB))
    response = client.get(f"/ipfs/{cid}")
    assert response.status_code == 500 and data[:100] not in response.content


def test_upload_over_limit__413_by_content_length(client, store):
    response = client.post("/api/v0/add", files={"file": ("big", b"\0" * (LIMIT + 1))})
    assert response.status_code == 413 and "limit" in response.json()["Message"]
    assert block_files(store) == []


def test_upload_over_limit__413_when_streamed_without_length__nothing_left(client, store):
    boundary = "XyZ"

    def body():
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n'.encode()
        for _ in range(LIMIT // MIB + 2):
            yield os.urandom(MIB)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/api/v0/add",
        params={"cid-version": "1"},
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert block_files(store) == []
    assert list((store.blocks.root / "staging").iterdir()) == []


@pytest.mark.parametrize("name", ["..%2Fescape.txt", "%2Fetc%2Fpasswd", "a%2F..%2F..%2Fb", "..", "x%00y"])
def test_add__path_traversal_names__400_nothing_stored(client, store, name):
    response = client.post(
        "/api/v0/add",
        params={"cid-version": "1"},
        files=[("file", ("ok.txt", b"fine")), ("file", (name, b"evil"))],
    )
    assert response.status_code == 400, response.text
    assert block_files(store) == [] and store.pins() == []


def test_gateway__path_traversal__refused(client):
    cid = add(client, [("file", ("d/x.txt", b"x"))], **{"cid-version": "1"})[-1]["Hash"]
    assert client.get(f"/ipfs/{cid}/%2E%2E/x.txt").status_code in (400, 404)
    assert client.get(f"/ipfs/{cid}/sub%2F..%2Fx.txt").status_code == 400


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cid-version": "2"}, "cid version"),
        ({"cid-version": "x"}, "cid-version"),
        ({"chunker": "rabin"}, "chunker"),
        ({"trickle": "true"}, "trickle"),
        ({"hash": "blake3"}, "hash"),
        ({"pin": "maybe"}, "boolean"),
        ({"cid-version": "0", "raw-leaves": "true"}, "raw leaves"),
    ],
)
def test_add__bad_parameters__400(client, params, message):
    response = client.post("/api/v0/add", params=params, files={"file": ("a", b"a")})
    assert response.status_code == 400 and message in response.json()["Message"].lower()


def test_add__not_multipart__400(client):
    response = client.post("/api/v0/add", content=b"raw", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400


def test_rpc__get_405_unknown_command_404_missing_arg_400(client):
    assert client.get("/api/v0/cat").status_code == 405
    assert client.post("/api/v0/swarm/peers").status_code == 404
    assert client.post("/api/v0/cat").status_code == 400
    assert client.post("/api/v0/pin/rm", params={"arg": cid_str(import_bytes(b"z").cid)}).status_code == 400


def test_gateway__unknown_format__400(client):
    cid = add(client, [("file", ("a", b"a"))], **{"cid-version": "1"})[-1]["Hash"]
    assert client.get(f"/ipfs/{cid}?format=tar").status_code == 400
