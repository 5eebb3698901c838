"""Block store: atomic adds (nothing partial survives), verified reads, pins."""

from __future__ import annotations

import io
import os

import pytest

from evidence.blockstore import BlockStore
from evidence.cids import cid_str, digest_of, parse_cid
from evidence.errors import BlockNotFound, CidMismatch, CorruptBlock, UnsafePath, UploadTooLarge
from evidence.importer import import_bytes
from evidence.store import LocalStore
from tests.evidence.support import KIB, MIB, block_files


class FailingStream(io.RawIOBase):
    """Yields `good` bytes, then fails like a dropped connection or a full disk."""

    def __init__(self, good: int):
        self.left = good

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            raise OSError("connection reset")
        n = min(len(buffer), self.left, 300 * KIB)
        buffer[:n] = os.urandom(n)
        self.left -= n
        return n


def test_add__stream_fails_midway__no_block_no_staging_left(store):
    with pytest.raises(OSError, match="connection reset"):
        store.add_stream(FailingStream(20 * MIB))
    assert block_files(store) == []
    assert list(store.blocks.staging_dir.iterdir()) == []
    assert store.pins() == []


def test_add__over_limit__nothing_left(store):
    with pytest.raises(UploadTooLarge):
        store.add_stream(io.BytesIO(b"\1" * (9 * MIB)), limit=8 * MIB)
    assert block_files(store) == []


def test_add_tree__unsafe_name_after_good_files__nothing_left(store):
    with pytest.raises(UnsafePath):
        store.add_tree({"good.jpg": os.urandom(300 * KIB), "../evil.sh": b"rm -rf"})
    assert block_files(store) == []


def test_add__existing_blocks_survive_failed_add(store):
    data = os.urandom(600 * KIB)
    cid = store.add_bytes(data)
    before = sorted(block_files(store))
    with pytest.raises(OSError):
        store.add_stream(FailingStream(5 * MIB))
    assert sorted(block_files(store)) == before
    assert store.cat(cid) == data


def test_add_many__same_cids_as_one_by_one__pinned_when_asked(store, tmp_path):
    files = [os.urandom(48), b"", os.urandom(600 * KIB), b"same", b"same"]
    cids = store.add_many(files, pin=False)
    one_by_one = LocalStore(tmp_path / "other", store.profile)
    assert cids == [one_by_one.add_bytes(data) for data in files]
    assert [store.cat(cid) for cid in cids] == files
    assert store.pins() == [] and list(store.blocks.staging_dir.iterdir()) == []
    assert sorted(store.add_many(files[:2])) == sorted(store.pins())


def test_stale_staging_from_dead_process__removed_on_open(tmp_path):
    stale = tmp_path / "s" / "staging" / "999999999-deadbeef"
    stale.mkdir(parents=True)
    (stale / "ab").write_bytes(b"partial")
    BlockStore(tmp_path / "s")
    assert not stale.exists()


def test_get__corrupt_block__refused(store):
    cid = store.add_bytes(b"evidence")
    store.blocks.path_for(digest_of(parse_cid(cid))).write_bytes(b"tampered")
    with pytest.raises(CorruptBlock, match="corrupt"):
        store.get_block(cid)
    with pytest.raises(CorruptBlock):
        store.cat(cid)


def test_get__missing_block__not_found(store):
    with pytest.raises(BlockNotFound, match="not found"):
        store.get_block(cid_str(import_bytes(b"absent").cid))


def test_put__wrong_bytes_for_cid__refused(store):
    with pytest.raises(CidMismatch):
        store.blocks.put(cid_str(import_bytes(b"a").cid), b"b")
    assert block_files(store) == []


def test_cidv0_and_cidv1_of_same_block__same_stored_block(store):
    v0 = LocalStore(store.blocks.root, "kubo-v0").add_bytes(b"hello")
    assert v0 == "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX"
    v1 = "bafybeid3weurg3gvyoi7nisadzolomlvoxoppe2sesktnpvdve3256n5tq"  # the same dag-pb block as CIDv1
    assert store.cat(v1) == b"hello"


def test_pin__requires_complete_intact_dag(store):
    data = os.urandom(3 * 256 * KIB)
    cid = store.add_bytes(data, pin=False)
    leaf = import_bytes(data[: 256 * KIB]).cid
    store.blocks.path_for(digest_of(leaf)).unlink()
    with pytest.raises(BlockNotFound):
        store.pin(cid)
    assert store.pins() == []


def test_identical_chunks__stored_once(store):
    store.add_bytes(b"\0" * (1024 * KIB))
    assert len(block_files(store)) == 2  # one zero leaf (x4) + the root
