"""On-chain CIDs: the written-out CIDv1 string is the multiformats library's, for every codec."""

from __future__ import annotations

import os

import pytest

from tambon.cid import DAG_PB, RAW, OnchainCid, cid_string


@pytest.mark.parametrize("codec", [RAW, DAG_PB])
def test_onchain_cid__string__same_as_multiformats_and_parses_back(codec):
    for digest in [bytes(31) + b"\x01", bytes([0xFF]) * 32, *(os.urandom(32) for _ in range(100))]:
        cid = OnchainCid(digest, codec)
        assert str(cid) == str(cid.cid)
        assert OnchainCid.parse(str(cid)) == cid
        assert cid_string(digest, codec) == str(cid)


def test_onchain_cid__parse__v0_and_object_forms():
    from multiformats import CID

    v0 = "QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB"
    decoded = CID.decode(v0)
    assert OnchainCid.parse(v0) == OnchainCid(bytes(decoded.raw_digest), DAG_PB) == OnchainCid.parse(decoded)


def test_evidence_cid_str__every_form__same_as_multiformats():
    from multiformats import CID

    from evidence.cids import PREFIX_V0, PREFIX_V1_DAG_PB, PREFIX_V1_RAW, cid_str

    for prefix in (PREFIX_V0, PREFIX_V1_RAW, PREFIX_V1_DAG_PB):
        for _ in range(50):
            binary = prefix + os.urandom(32)
            decoded = CID.decode(binary)
            expected = str(decoded.set(base="base32") if decoded.version == 1 else decoded)
            assert cid_str(binary) == expected


def test_canonical_cids__read_without_multiformats(monkeypatch):
    import tambon.cid

    def refuse(*_args, **_kwargs):
        raise AssertionError("the canonical form went through multiformats")

    monkeypatch.setattr(tambon.cid, "decode_cid", refuse)
    for codec in (RAW, DAG_PB):
        cid = OnchainCid(os.urandom(32), codec)
        assert tambon.cid.cid_bytes(str(cid)) == bytes((1, codec, 0x12, 0x20)) + cid.digest
        assert OnchainCid.parse(str(cid)) == cid


def test_cid_string__zero_digest__none():
    assert cid_string(bytes(32), RAW) is None


def test_cid_bytes__canonical_form_read_directly__same_as_multiformats():
    import base64

    from tambon.cid import cid_bytes, decode_cid
    from tambon.errors import InvalidCid

    for codec in (RAW, DAG_PB):
        for _ in range(100):
            text = str(OnchainCid(os.urandom(32), codec))
            assert cid_bytes(text) == bytes(decode_cid(text))
    v0 = "QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB"
    assert cid_bytes(v0) == bytes(decode_cid(v0))
    dag_cbor = "b" + base64.b32encode(bytes([1, 0x71, 0x12, 0x20]) + os.urandom(32)).decode().lower().rstrip(
        "="
    )
    for bad, message in [
        (dag_cbor, "has codec dag-cbor"),
        ("b" + "a" * 58, "not a valid CID"),
        ("hello", ""),
    ]:
        with pytest.raises(InvalidCid, match=message):
            cid_bytes(bad)
