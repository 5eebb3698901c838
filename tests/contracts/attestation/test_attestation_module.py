"""tambon.attestation without a chain: typed-data JSON, field checks, signatures, Merkle proofs."""

import json

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from tambon.attestation import (
    ATTESTATION_BATCH,
    ATTESTATION_TYPE,
    Attestation,
    AttestationError,
    Grade,
    _attestation_signer,
    attestation_typed_data,
    forget_attestation_signers,
    merkle_proof,
    merkle_root,
    recover_attestation,
    recover_batch_item,
    sign_attestation,
    sign_batch,
    verify_proof,
)
from tambon.coldchain import ColdChainAttestation
from tambon.errors import SignatureError, TambonError

from .conftest import high_s, sha

REGISTRY = "0x" + "12" * 20


def _att(**overrides) -> Attestation:
    fields = {
        "batch_id": 5,
        "evidence": sha("e"),
        "grade": Grade.CLASS_I,
        "size_code": 1,
        "confidence_bps": 8_000,
        "model_sha256": sha("m"),
        "graded_at": 1_763_000_000,
    }
    return Attestation(**(fields | overrides))


def test_grades__numbers_match_the_contract():
    assert [(g.name, int(g)) for g in Grade] == [
        ("ABSTAIN", 0),
        ("EXTRA", 1),
        ("CLASS_I", 2),
        ("CLASS_II", 3),
        ("REJECT", 4),
    ]


def test_type_string__exactly_the_contracts():
    assert ATTESTATION_TYPE == (
        "Attestation(uint256 batchId,bytes32 evidence,uint8 grade,uint8 sizeCode,uint16 confidenceBps,"
        "bytes32 modelSha256,uint64 gradedAt)"
    )


def test_typed_data__is_sign_typed_data_v4_json():
    data = attestation_typed_data(_att(), 31337, REGISTRY)
    assert json.loads(json.dumps(data)) == data
    assert data["primaryType"] == "Attestation"
    assert data["domain"] == {
        "name": "Tambon AttestationRegistry",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": "0x1212121212121212121212121212121212121212",
    }
    assert data["message"]["evidence"] == "0x" + sha("e").hex()
    assert int(data["message"]["grade"]) == 2  # integers may be decimal strings (JS precision)


def test_from_message__round_trips():
    att = _att(grade=Grade.ABSTAIN)
    assert Attestation.from_message(attestation_typed_data(att, 1, REGISTRY)["message"]) == att


@pytest.mark.parametrize(
    "overrides",
    [
        {"grade": 5},
        {"confidence_bps": 10_001},
        {"batch_id": 0},
        {"batch_id": 2**64},
        {"size_code": 256},
        {"graded_at": -1},
        {"evidence": b"short"},
        {"model_sha256": "0x1234"},
    ],
)
def test_attestation__out_of_range__raises_tambon_error(overrides):
    with pytest.raises(AttestationError) as excinfo:
        _att(**overrides)
    assert isinstance(excinfo.value, TambonError) and str(excinfo.value)


def test_sign_and_recover__round_trip_and_refuse_high_s():
    key = Account.from_key(sha("k"))
    signature = sign_attestation(_att(), key.key, 31337, REGISTRY)
    assert recover_attestation(_att(), signature, 31337, REGISTRY) == key.address
    assert recover_attestation(_att(grade=Grade.REJECT), signature, 31337, REGISTRY) != key.address
    with pytest.raises(SignatureError, match="high s"):
        recover_attestation(_att(), high_s(signature), 31337, REGISTRY)


def test_batch__item_outside_the_set__refused():
    key = Account.from_key(sha("k"))
    items = [_att(batch_id=i + 1) for i in range(5)]
    root, signature = sign_batch(items, key.key, 31337, REGISTRY)
    leaves = [a.struct_hash() for a in items]
    assert (
        recover_batch_item(items[4], merkle_proof(leaves, 4), root, 5, signature, 31337, REGISTRY)
        == key.address
    )
    with pytest.raises(SignatureError, match="not in the signed Merkle batch"):
        recover_batch_item(_att(batch_id=99), merkle_proof(leaves, 4), root, 5, signature, 31337, REGISTRY)


def test_recovered_signers_are_kept__each_for_exactly_what_was_signed():
    """Signers are kept once recovered (pages check them on every render): a kept one must never
    answer for another message, domain or signature."""
    key = Account.from_key(sha("k"))
    signature = sign_attestation(_att(), key.key, 31337, REGISTRY)
    for _ in range(2):
        assert recover_attestation(_att(), signature, 31337, REGISTRY) == key.address
        assert recover_attestation(_att(), bytearray(signature), 31337, REGISTRY) == key.address
        assert recover_attestation(_att(), "0x" + signature.hex(), 31337, REGISTRY) == key.address
        assert recover_attestation(_att(), signature, 1, REGISTRY) != key.address
        assert recover_attestation(_att(confidence_bps=9_000), signature, 31337, REGISTRY) != key.address
        with pytest.raises(SignatureError, match="high s"):
            recover_attestation(_att(), high_s(signature), 31337, REGISTRY)
    items = [_att(batch_id=i + 1) for i in range(5)]
    root, batch_signature = sign_batch(items, key.key, 31337, REGISTRY)
    leaves = [a.struct_hash() for a in items]
    for index in (0, 3, 0):
        proof = merkle_proof(leaves, index)
        assert (
            recover_batch_item(items[index], proof, root, 5, batch_signature, 31337, REGISTRY) == key.address
        )
        assert (
            recover_batch_item(items[index], proof, root, 6, batch_signature, 31337, REGISTRY) != key.address
        )
        assert recover_batch_item(items[index], proof, root, 5, batch_signature, 5, REGISTRY) != key.address
    forget_attestation_signers()  # what a cold render starts from: nothing kept, the same answers
    assert (
        _attestation_signer.cache_info().currsize
        == ATTESTATION_BATCH._root_signers.cache_info().currsize
        == 0
    )
    assert recover_attestation(_att(), signature, 31337, REGISTRY) == key.address
    proof = merkle_proof(leaves, 2)
    assert recover_batch_item(items[2], proof, root, 5, batch_signature, 31337, REGISTRY) == key.address


def _any_value(kind: str) -> st.SearchStrategy:
    """Every value of a static ABI type, its bounds included."""
    if kind == "bytes32":
        return st.binary(min_size=32, max_size=32)
    if kind.startswith("int"):
        bits = int(kind[3:])
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return st.integers(0, (1 << int(kind[4:])) - 1)


def _unchecked(cls, values):
    """A struct holding `values` as they are (its constructor's range checks skipped)."""
    item = object.__new__(cls)
    for (attr, _, _), value in zip(cls.FIELDS, values, strict=True):
        object.__setattr__(item, attr, value)
    return item


@pytest.mark.parametrize("cls", [Attestation, ColdChainAttestation])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_struct_hash__keccak_of_eth_abi_s_encoding_of_every_field(cls, data):
    """Leaves are hashed word by word: the bytes eth-abi encodes for the type hash and the fields, at
    every value of each field's type; a value outside its type is refused, as eth-abi refuses it."""
    kinds = [kind for _, _, kind in cls.FIELDS]
    values = [data.draw(_any_value(kind)) for kind in kinds]
    assert _unchecked(cls, values).struct_hash() == keccak(
        abi_encode(["bytes32", *kinds], [cls.TYPEHASH, *values])
    )
    index = data.draw(st.sampled_from([i for i, kind in enumerate(kinds) if kind != "bytes32"]))
    kind = kinds[index]
    bits = int(kind.removeprefix("u").removeprefix("int"))
    outside = (
        -(1 << (bits - 1)) - 1 if kind.startswith("int") else data.draw(st.sampled_from([-1, 1 << bits]))
    )
    values[index] = outside
    with pytest.raises(AttestationError, match=f"must fit {kind}"):
        _unchecked(cls, values).struct_hash()


def test_merkle__empty_and_bad_index__raise():
    with pytest.raises(AttestationError):
        merkle_root([])
    with pytest.raises(AttestationError):
        merkle_proof([sha("a")], 1)


@settings(max_examples=60, deadline=None)
@given(leaves=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70), data=st.data())
def test_merkle__every_proof_verifies_and_tampering_fails(leaves, data):
    root = merkle_root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle_proof(leaves, index)
    assert verify_proof(leaves[index], proof, root)
    assert len(proof) <= max(1, (len(leaves) - 1).bit_length())
    forged = bytes([leaves[index][0] ^ 1]) + leaves[index][1:]
    if forged not in leaves:
        assert not verify_proof(forged, proof, root)


def test_signature_check__attest_many__every_item_against_the_call_s_one_tree():
    """Each lot of an attestMany call is checked against the call's Merkle tree, built once: every item
    recovers the signer, an item outside the call fails, and a call signed by another key fails."""
    from tambon.verify import FAIL, PASS, batch_tree, signature_check

    key, other = Account.from_key(sha("k")), Account.from_key(sha("other"))
    items = [_att(batch_id=i + 1) for i in range(5)]
    _, signature = sign_batch(items, key.key, 31337, REGISTRY)
    call = ("attestMany", {"attestations": [a.as_tuple() for a in items], "signature": signature})
    batch_tree.cache_clear()
    for item in items:
        assert signature_check(item, key.address, call, 31337, REGISTRY).status == PASS
    assert batch_tree.cache_info().misses == 1
    assert signature_check(_att(batch_id=99), key.address, call, 31337, REGISTRY).status == FAIL
    _, forged = sign_batch(items, other.key, 31337, REGISTRY)
    call = ("attestMany", {"attestations": [a.as_tuple() for a in items], "signature": forged})
    assert signature_check(items[2], key.address, call, 31337, REGISTRY).status == FAIL
