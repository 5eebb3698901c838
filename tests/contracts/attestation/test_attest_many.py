"""attestMany: one signature over a Merkle root, rebuilt on-chain; per-item proofs off-chain."""

import ape
import pytest

from tambon.attestation import batch_root, merkle_proof, recover_batch_item

from .conftest import high_s, sha


def test_attest_many__records_all_and_proofs_verify(
    registry, oracle, relayer, make_attestation, sign_many, chain
):
    items = [make_attestation(i) for i in range(7)]
    root, signature = sign_many(items, oracle)
    receipt = registry.attestMany([a.as_tuple() for a in items], signature, sender=relayer)
    assert receipt.return_value == oracle.address
    [rooted] = receipt.events.filter(registry.RootAttested)
    assert bytes(rooted.root) == root and rooted.count == 7 and rooted.signer == oracle.address
    events = receipt.events.filter(registry.Attested)
    assert [bytes(e.evidence) for e in events] == [a.evidence for a in items]
    leaves = [a.struct_hash() for a in items]
    for index, att in enumerate(items):
        assert registry.is_attested(att.evidence, oracle.address)
        assert registry.attestation(att.evidence, oracle.address).batchId == att.batch_id
        # A verifier checks one item from the logs: its proof, the root and the one signature.
        proof = merkle_proof(leaves, index)
        signer = recover_batch_item(att, proof, root, len(items), signature, chain.chain_id, registry.address)
        assert signer == oracle.address


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 9, 33, 64])
def test_merkle_root__contract_equals_python(registry, make_attestation, size):
    items = [make_attestation(i) for i in range(size)]
    assert bytes(registry.merkleRoot([a.as_tuple() for a in items])) == batch_root(items)


def test_attest_many__subset_of_signed_set__reverts(registry, oracle, relayer, make_attestation, sign_many):
    items = [make_attestation(i) for i in range(4)]
    _, signature = sign_many(items, oracle)
    with ape.reverts("registry: key not active"):
        registry.attestMany([a.as_tuple() for a in items[:3]], signature, sender=relayer)


def test_attest_many__rotated_order__reverts(registry, oracle, relayer, make_attestation, sign_many):
    items = [make_attestation(i) for i in range(4)]
    _, signature = sign_many(items, oracle)
    with ape.reverts("registry: key not active"):
        registry.attestMany([a.as_tuple() for a in items[1:] + items[:1]], signature, sender=relayer)


def test_attest_many__swapped_siblings_are_the_same_signed_set(
    registry, oracle, relayer, make_attestation, sign_many
):
    """Pair hashes are commutative, so swapping two siblings keeps the root: the same signed set."""
    items = [make_attestation(i) for i in range(4)]
    _, signature = sign_many(items, oracle)
    swapped = [items[1], items[0], items[3], items[2]]
    registry.attestMany([a.as_tuple() for a in swapped], signature, sender=relayer)
    assert all(registry.is_attested(a.evidence, oracle.address) for a in items)


def test_attest_many__substituted_item__reverts(registry, oracle, relayer, make_attestation, sign_many):
    items = [make_attestation(i) for i in range(4)]
    _, signature = sign_many(items, oracle)
    forged = items[:3] + [make_attestation(99)]
    with ape.reverts("registry: key not active"):
        registry.attestMany([a.as_tuple() for a in forged], signature, sender=relayer)


def test_attest_many__other_chain_or_high_s__reverts(
    registry, oracle, relayer, make_attestation, sign_many, chain
):
    items = [make_attestation(i) for i in range(3)]
    _, wrong_chain = sign_many(items, oracle, chain_id=chain.chain_id + 7)
    with ape.reverts("registry: key not active"):
        registry.attestMany([a.as_tuple() for a in items], wrong_chain, sender=relayer)
    _, signature = sign_many(items, oracle)
    with ape.reverts("ecdsa: invalid signature `s` value"):
        registry.attestMany([a.as_tuple() for a in items], high_s(signature), sender=relayer)


def test_attest_many__already_attested_item__reverts_all(
    registry, oracle, relayer, make_attestation, sign_for, sign_many
):
    items = [make_attestation(i) for i in range(3)]
    registry.attest(items[1].as_tuple(), sign_for(items[1], oracle), sender=relayer)
    _, signature = sign_many(items, oracle)
    with ape.reverts("registry: already attested"):
        registry.attestMany([a.as_tuple() for a in items], signature, sender=relayer)
    assert not registry.is_attested(items[0].evidence, oracle.address)


def test_attest_many__duplicate_inside_batch__reverts(registry, oracle, relayer, make_attestation, sign_many):
    items = [make_attestation(0), make_attestation(1), make_attestation(0)]
    _, signature = sign_many(items, oracle)
    with ape.reverts("registry: already attested"):
        registry.attestMany([a.as_tuple() for a in items], signature, sender=relayer)


def test_attest_many__unapproved_model_item__reverts(registry, oracle, relayer, make_attestation, sign_many):
    items = [make_attestation(0), make_attestation(1, model_sha256=sha("unknown.onnx"))]
    _, signature = sign_many(items, oracle)
    with ape.reverts("registry: model not approved"):
        registry.attestMany([a.as_tuple() for a in items], signature, sender=relayer)


def test_attest_many__revoked_key__reverts(registry, council, oracle, relayer, make_attestation, sign_many):
    items = [make_attestation(i) for i in range(2)]
    _, signature = sign_many(items, oracle)
    registry.revokeOracleKey(oracle.address, sender=council)
    with ape.reverts("registry: key not active"):
        registry.attestMany([a.as_tuple() for a in items], signature, sender=relayer)


def test_attest_many__empty__reverts(registry, oracle, relayer):
    with ape.reverts("registry: no attestations"):
        registry.attestMany([], b"\x01" * 65, sender=relayer)
