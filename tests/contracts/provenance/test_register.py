"""register / registerMany: ids, stored facts, events, tokenURI and input checks."""

import os

import ape
import pytest

from tambon.cid import OnchainCid

from .conftest import DAG_PB, HARVEST_DAY, MANGO, RAW, RICE, digest


def test_register__mints_to_producer_with_facts(provenance, producer, create_batch):
    batch_id = create_batch("mango-lot-1", grams=1_250_000)
    info = provenance.batch(batch_id)
    assert batch_id == 1
    assert provenance.ownerOf(batch_id) == producer
    assert provenance.balanceOf(producer) == 1
    assert provenance.totalSupply() == 1
    assert info.producer == producer and info.holder == producer
    assert bytes(info.evidence) == digest("mango-lot-1") and info.codec == RAW
    assert (info.crop, info.quantityGrams, info.harvestDay) == (MANGO, 1_250_000, HARVEST_DAY)
    assert info.stepCount == 0 and not info.closed and not info.consumed and not info.hasParents


def test_register__emits_transfer_and_batch_registered(provenance, producer):
    receipt = provenance.register(digest("e"), DAG_PB, RICE, 42, 20_000, sender=producer)
    [transfer] = receipt.events.filter(provenance.Transfer)
    assert transfer.sender == "0x" + "0" * 40 and transfer.receiver == producer and transfer.tokenId == 1
    [registered] = receipt.events.filter(provenance.BatchRegistered)
    assert registered.batchId == 1 and registered.producer == producer
    assert bytes(registered.evidence) == digest("e") and registered.codec == DAG_PB
    assert (registered.crop, registered.quantityGrams, registered.harvestDay) == (RICE, 42, 20_000)


def test_register_many__consecutive_ids_and_records(provenance, producer, create_batch, create_run):
    create_batch("before")
    ids = create_run(7, label="box")
    assert ids == list(range(2, 9))
    assert provenance.balanceOf(producer) == 8
    for i, batch_id in enumerate(ids):
        info = provenance.batch(batch_id)
        assert info.holder == producer and info.producer == producer
        assert bytes(info.evidence) == digest(f"box-{i}")
        assert info.codec == (RAW if i % 2 else DAG_PB)
        assert (info.crop, info.quantityGrams, info.harvestDay) == (RICE, 10_000 + i, HARVEST_DAY + i)
    after = create_batch("after")
    assert after == 9 and provenance.batch(after).crop == MANGO


def test_register_many__runs_across_lane_words_stay_separate(provenance, producer, carrier, create_run):
    first = create_run(13, label="a")  # ids 1..13 straddle lane words 0 and 1
    second = create_run(11, label="b", sender=carrier)  # 14..24
    assert [provenance.ownerOf(i) for i in first] == [producer] * 13
    assert [provenance.ownerOf(i) for i in second] == [carrier] * 11
    assert bytes(provenance.batch(24).evidence) == digest("b-10")
    assert bytes(provenance.batch(13).evidence) == digest("a-12")


def test_register_many__emits_one_transfer_per_batch(provenance, producer):
    lots = [(digest(f"x{i}"), RAW, RICE, 1 + i, HARVEST_DAY) for i in range(4)]
    receipt = provenance.registerMany(lots, sender=producer)
    assert [e.tokenId for e in receipt.events.filter(provenance.Transfer)] == [1, 2, 3, 4]
    assert [e.quantityGrams for e in receipt.events.filter(provenance.BatchRegistered)] == [1, 2, 3, 4]


def test_register_many__64_is_the_limit(provenance, producer):
    lots = [(digest(f"m{i}"), RAW, RICE, 1, HARVEST_DAY) for i in range(64)]
    provenance.registerMany(lots, sender=producer)
    assert provenance.ownerOf(64) == producer and bytes(provenance.batch(64).evidence) == digest("m63")
    with pytest.raises(Exception):  # noqa: B017 - ABI/array bound, refused before execution
        provenance.registerMany(lots + [lots[0]], sender=producer)


def test_register__zero_quantity__reverts(provenance, producer):
    with ape.reverts("provenance: zero quantity"):
        provenance.register(digest("z"), RAW, RICE, 0, HARVEST_DAY, sender=producer)


def test_register__empty_evidence__reverts(provenance, producer):
    with ape.reverts("provenance: empty evidence"):
        provenance.register(b"\x00" * 32, RAW, RICE, 1, HARVEST_DAY, sender=producer)


@pytest.mark.parametrize("codec", [0, 0x71, 0x12])
def test_register__unsupported_codec__reverts(provenance, producer, codec):
    with ape.reverts("provenance: unsupported codec"):
        provenance.register(digest("c"), codec, RICE, 1, HARVEST_DAY, sender=producer)


def test_register_many__empty__reverts(provenance, producer):
    with ape.reverts("provenance: no batches"):
        provenance.registerMany([], sender=producer)


def test_register_many__one_bad_item__reverts_all(provenance, producer):
    lots = [(digest("ok"), RAW, RICE, 1, HARVEST_DAY), (digest("bad"), RAW, RICE, 0, HARVEST_DAY)]
    with ape.reverts("provenance: zero quantity"):
        provenance.registerMany(lots, sender=producer)
    assert provenance.totalSupply() == 0


def test_token_uri__matches_tambon_cid_for_inline_and_run_batches(provenance, create_batch, create_run):
    inline_raw = create_batch("u1", codec=RAW)
    inline_pb = create_batch("u2", codec=DAG_PB)
    run = create_run(3, label="u")
    assert provenance.tokenURI(inline_raw) == "ipfs://" + str(OnchainCid(digest("u1"), RAW))
    assert (
        provenance.tokenURI(inline_pb) == "ipfs://" + str(OnchainCid(digest("u2"), DAG_PB)) + "/metadata.json"
    )
    for i, batch_id in enumerate(run):
        expected = OnchainCid(digest(f"u-{i}"), RAW if i % 2 else DAG_PB)
        suffix = "" if i % 2 else "/metadata.json"
        assert provenance.tokenURI(batch_id) == f"ipfs://{expected}{suffix}"


def test_cid_string__matches_tambon_cid_on_edge_and_random_digests(provenance):
    digests = [b"\x00" * 31 + b"\x01", b"\xff" * 32, bytes(range(32))] + [os.urandom(32) for _ in range(12)]
    for raw in digests:
        for codec in (RAW, DAG_PB):
            uri = provenance.cidString(raw, codec)
            assert uri == f"ipfs://{OnchainCid(raw, codec)}"
            assert OnchainCid.parse(uri.removeprefix("ipfs://")) == OnchainCid(raw, codec)


def test_token_uri__unknown_batch__reverts(provenance, create_batch):
    create_batch()
    for bad in (0, 2, 2**200):
        with ape.reverts("provenance: unknown batch"):
            provenance.tokenURI(bad)
