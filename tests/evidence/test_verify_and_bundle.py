"""Pure verification helpers (for the verify site) and evidence bundles."""

from __future__ import annotations

import json
import os

import pytest

from evidence import bundle, car, dag, verify
from evidence.cids import DAG_PB, cid_str, parse_cid
from evidence.errors import BadRequest, CidMismatch, MalformedDag, NoRecord
from evidence.importer import import_bytes, import_tree
from evidence.store import LocalStore
from tambon.cid import OnchainCid
from tests.evidence.support import KIB, js_cids

RECORD = {
    "version": "1",
    "event": "harvesting",
    "lot": "TH-CM-2026-0042",
    "producer": "วิสาหกิจชุมชนบ้านแม่แตง",
    "weight_kg": 120.5,
}


@pytest.mark.parametrize("profile", ["kubo-v0", "kubo-v1", "unixfs-v1-2025"])
def test_verify_bytes__finds_the_profile(profile):
    data = os.urandom(1200 * KIB)
    cid = import_bytes(data, profile).cid
    assert verify.verify_bytes(cid_str(cid), data).cid_version == (0 if profile == "kubo-v0" else 1)
    assert verify.verify_bytes(cid, data, [profile]).name == profile


def test_verify_bytes__tampered__mismatch():
    data = os.urandom(700 * KIB)
    cid = cid_str(import_bytes(data).cid)
    with pytest.raises(CidMismatch):
        # Flip the last byte's bits so the tampered copy always differs.
        verify.verify_bytes(cid, data[:-1] + bytes([data[-1] ^ 0xFF]))
    small = b"raw leaf"
    with pytest.raises(CidMismatch):
        verify.verify_bytes(cid_str(import_bytes(small).cid), b"raw lead")


def test_verify_files_and_directory_listing():
    files = {"record.json": b"{}", "photos/a.jpg": os.urandom(3000)}
    cid = import_tree(files, "kubo-v1").cid
    assert verify.verify_files(cid_str(cid), files).name == "kubo-v1"
    with pytest.raises(CidMismatch):
        verify.verify_files(cid, {**files, "record.json": b"{ }"})
    store_blocks = {}

    class Sink:
        def put(self, c, parts):
            store_blocks[c] = b"".join(bytes(p) for p in parts)

    import_tree(files, "kubo-v1", Sink())
    entries = dag.ls(lambda c: store_blocks[c] if c in store_blocks else _raise(c), cid)
    listing = [(e.name, e.cid, e.size) for e in entries]
    verify.verify_directory(cid, listing)
    with pytest.raises(CidMismatch):
        verify.verify_directory(cid, [(n, c, s + 1) for n, c, s in listing])
    with pytest.raises(CidMismatch):
        verify.verify_directory(cid, listing[:1])


def _raise(c):
    from evidence.errors import BlockNotFound

    raise BlockNotFound(cid_str(c))


def test_verify_car__tampered_or_incomplete__refused(tmp_path):
    store = LocalStore(tmp_path / "s")
    data = os.urandom(600 * KIB)
    cid = store.add_tree({"a.bin": data, "b.txt": b"b"})
    blocks = list(dag.walk_blocks(store.get_block, parse_cid(cid)))
    good = b"".join(car.write([parse_cid(cid)], blocks))
    assert verify.verify_car(cid, good).read("a.bin") == data
    tampered = good.replace(data[1000:1032], b"\0" * 32)
    with pytest.raises(CidMismatch, match="does not hash"):
        verify.verify_car(cid, tampered)
    incomplete = b"".join(car.write([parse_cid(cid)], blocks[:-1]))
    with pytest.raises(CidMismatch, match="incomplete"):
        verify.verify_car(cid, incomplete)
    other_root = b"".join(car.write([import_bytes(b"x").cid], blocks))
    with pytest.raises(CidMismatch, match="roots"):
        verify.verify_car(cid, other_root)
    with pytest.raises(MalformedDag):
        verify.verify_car(cid, b"\x05garbage")


def test_build_bundle__cid_onchain_form_and_reading_back(tmp_path, corpus):
    store = LocalStore(tmp_path / "s")
    photo = corpus["ภาพถ่าย"] if "ภาพถ่าย" in corpus else corpus["bundle-tree"] / "ภาพถ่าย" / "มะม่วง.jpg"
    result = bundle.build_bundle(store, RECORD, [photo])
    assert result.files == ("record.json", "มะม่วง.jpg")
    assert result.onchain == OnchainCid.parse(result.cid) and result.onchain.codec == DAG_PB
    assert str(result.onchain) == result.cid
    assert bundle.bundle_cid(RECORD, [photo]).cid == result.cid
    assert bundle.read_record(store, result.cid) == RECORD
    assert bundle.read_bundle_file(store, result.cid, "มะม่วง.jpg") == photo.read_bytes()
    opened = bundle.open_bundle(store, result.cid)
    assert opened.is_directory and [e.name for e in opened.entries] == ["record.json", "มะม่วง.jpg"]
    assert opened.record == RECORD and opened.photo_names((".jpg",)) == ["มะม่วง.jpg"]
    assert opened.read("มะม่วง.jpg") == photo.read_bytes()
    assert store.pins() == [result.cid]

    # the same directory on disk gives the same CID in the reference importer
    on_disk = tmp_path / "bundle"
    on_disk.mkdir()
    (on_disk / "record.json").write_bytes(bundle.record_bytes(RECORD))
    (on_disk / "มะม่วง.jpg").write_bytes(photo.read_bytes())
    assert js_cids([on_disk])[str(on_disk)] == result.cid


def test_open_bundle__listed_photos_single_files_and_bad_records(tmp_path):
    store = LocalStore(tmp_path / "s")
    photos = {"b.jpg": b"\xff\xd8b", "a.png": b"\x89PNGa", "log.csv": b"t,c\n"}
    listed = bundle.build_bundle(store, {**RECORD, "photos": ["b.jpg", "gone.jpg"]}, photos)
    assert bundle.open_bundle(store, listed.cid).photo_names((".jpg", ".png")) == ["b.jpg"]
    unlisted = bundle.build_bundle(store, RECORD, photos)
    assert bundle.open_bundle(store, unlisted.cid).photo_names((".jpg", ".png")) == ["a.png", "b.jpg"]

    # a single file: its bytes, and its JSON object when it is one (batch metadata)
    document = store.add_bytes(b'{"evidence": "ipfs://x"}', "metadata.json")
    opened = bundle.open_bundle(store, document)
    assert not opened.is_directory and opened.record == {"evidence": "ipfs://x"}
    assert opened.content == b'{"evidence": "ipfs://x"}'
    # NaN is no JSON: such a record.json reads as none
    broken = store.add_tree({"record.json": b'{"weight_kg": NaN}', "a.jpg": b"\xff\xd8"})
    assert bundle.open_bundle(store, broken).record is None
    with pytest.raises(MalformedDag, match="larger than"):
        bundle.open_bundle(store, store.add_bytes(b"x" * 100, "big.bin"), max_file_bytes=10)


def test_bundle__record_is_deterministic_utf8_json():
    assert bundle.record_bytes({"b": 1, "a": "ไทย"}) == '{"a":"ไทย","b":1}'.encode()
    assert bundle.bundle_cid({"b": 1, "a": 2}).cid == bundle.bundle_cid({"a": 2, "b": 1}).cid


def test_bundle__pluggable_validator_refuses(tmp_path):
    def needs_lot(record):
        if "lot" not in record:
            raise BadRequest("record.json: 'lot' is required")

    store = LocalStore(tmp_path / "s")
    with pytest.raises(BadRequest, match="lot"):
        bundle.build_bundle(store, {"event": "harvesting"}, validate=needs_lot)
    assert store.pins() == []
    assert bundle.build_bundle(store, RECORD, validate=needs_lot).cid


@pytest.mark.parametrize(
    ("photos", "message"),
    [
        ({"record.json": b"x"}, "duplicate"),
        ({"../x.jpg": b"x"}, "invalid entry name|path separator"),
        ({"a/b.jpg": b"x"}, "path separator"),
    ],
)
def test_bundle__bad_photo_names__refused(photos, message):
    with pytest.raises(BadRequest, match=message):
        bundle.bundle_files(RECORD, photos)


def test_bundle__not_json_record__refused():
    with pytest.raises(BadRequest):
        bundle.bundle_files({"when": object()})
    with pytest.raises(BadRequest):
        bundle.bundle_files(["not", "an", "object"])


def test_read_record__not_json__malformed(tmp_path):
    store = LocalStore(tmp_path / "s")
    cid = store.add_tree({"record.json": b"\xff\xfe"})
    with pytest.raises(MalformedDag):
        bundle.read_record(store, cid)
    assert json.loads(store.cat(store.add_tree({"record.json": b"{}"}), "record.json")) == {}


def test_record_fetcher__bundle_record_file_and_metadata_to_its_bundle(tmp_path):
    store = LocalStore(tmp_path / "s")
    fetch = bundle.record_fetcher(store)
    lot = bundle.build_bundle(store, RECORD, {"a.jpg": b"\xff\xd8a"})
    assert fetch(lot.cid) == RECORD
    assert fetch(store.add_bytes(json.dumps(RECORD).encode(), "record.json")) == RECORD  # a bare record
    for link in ({"evidence": f"ipfs://{lot.cid}"}, {"properties": {"evidence": f"ipfs://{lot.cid}/a.jpg"}}):
        metadata = store.add_bytes(json.dumps({"name": "Lot 7", **link}).encode(), "metadata.json")
        assert fetch(metadata) == RECORD  # one hop from the token's metadata to the bundle it links


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ({"a.jpg": b"\xff\xd8"}, "holds no record.json"),
        (b"\xff\xd8 a photo", "is not a JSON object"),
        (
            b'{"name": "Lot 7", "evidence": "https://example.org/x"}',
            "neither an evidence bundle nor metadata",
        ),
        (b"{}" + b" " * bundle.MAX_RECORD_BYTES, "larger than"),  # refused unread: no record is this big
    ],
)
def test_record_fetcher__no_record_behind__says_why(tmp_path, evidence, message):
    store = LocalStore(tmp_path / "s")
    cid = store.add_tree(evidence) if isinstance(evidence, dict) else store.add_bytes(evidence, "x")
    with pytest.raises((NoRecord, MalformedDag), match=message):
        bundle.record_fetcher(store)(cid)


def test_record_fetcher__metadata_linking_a_file__no_record(tmp_path):
    store = LocalStore(tmp_path / "s")
    photo = store.add_bytes(b"\xff\xd8", "a.jpg")
    metadata = store.add_bytes(json.dumps({"evidence": f"ipfs://{photo}"}).encode(), "metadata.json")
    with pytest.raises(NoRecord, match="linked by the metadata"):
        bundle.record_fetcher(store)(metadata)
