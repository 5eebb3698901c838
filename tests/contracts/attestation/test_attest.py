"""attest: records, relaying, EIP-712 agreement with tambon.attestation, and every refusal."""

import ape
import pytest

from tambon.attestation import Grade, attestation_digest, recover_attestation

from .conftest import high_s, sha


def test_attest__relayed_by_anyone_records_and_emits(
    registry, oracle, relayer, make_attestation, sign_for, chain
):
    att = make_attestation(grade=Grade.EXTRA, size_code=4, confidence_bps=9_999)
    receipt = registry.attest(att.as_tuple(), sign_for(att, oracle), sender=relayer)
    assert receipt.return_value == oracle.address
    [event] = receipt.events.filter(registry.Attested)
    assert (event.batchId, event.signer, bytes(event.evidence)) == (
        att.batch_id,
        oracle.address,
        att.evidence,
    )
    assert (event.grade, event.sizeCode, event.confidenceBps) == (Grade.EXTRA, 4, 9_999)
    assert bytes(event.modelSha256) == att.model_sha256 and event.gradedAt == att.graded_at
    record = registry.attestation(att.evidence, oracle.address)
    assert (record.batchId, record.grade, record.sizeCode, record.confidenceBps) == (
        att.batch_id,
        1,
        4,
        9_999,
    )
    assert bytes(record.modelSha256) == att.model_sha256 and record.gradedAt == att.graded_at
    assert record.attestedAt == chain.blocks.head.timestamp and record.keyRevokedAt == 0
    assert registry.is_attested(att.evidence, oracle.address)


def test_attest__abstain_is_a_valid_grade(registry, oracle, relayer, make_attestation, sign_for):
    att = make_attestation(grade=Grade.ABSTAIN, confidence_bps=4_100)
    registry.attest(att.as_tuple(), sign_for(att, oracle), sender=relayer)
    assert registry.attestation(att.evidence, oracle.address).grade == Grade.ABSTAIN


def test_typed_data__python_digest_equals_contract(registry, oracle, make_attestation, sign_for, chain):
    att = make_attestation(7, grade=Grade.REJECT, graded_at=2**64 - 1, batch_id=2**64 - 1)
    assert bytes(registry.attestationDigest(att.as_tuple())) == attestation_digest(
        att, chain.chain_id, registry.address
    )
    assert recover_attestation(att, sign_for(att, oracle), chain.chain_id, registry.address) == oracle.address


def test_attest__compact_eip2098_signature_accepted(registry, oracle, relayer, make_attestation, sign_for):
    att = make_attestation(3)
    full = sign_for(att, oracle)
    vs = int.from_bytes(full[32:64], "big") | ((full[64] - 27) << 255)
    registry.attest(att.as_tuple(), full[:32] + vs.to_bytes(32, "big"), sender=relayer)
    assert registry.is_attested(att.evidence, oracle.address)


def test_attest__same_evidence_twice_by_same_key__reverts(
    registry, oracle, relayer, make_attestation, sign_for
):
    att = make_attestation()
    registry.attest(att.as_tuple(), sign_for(att, oracle), sender=relayer)
    with ape.reverts("registry: already attested"):
        registry.attest(att.as_tuple(), sign_for(att, oracle), sender=relayer)
    regraded = make_attestation(grade=Grade.CLASS_II, graded_at=att.graded_at + 60)
    with ape.reverts("registry: already attested"):
        registry.attest(regraded.as_tuple(), sign_for(regraded, oracle), sender=relayer)


def test_attest__same_evidence_by_second_key_is_recorded(
    registry, oracle, second_oracle, relayer, make_attestation, sign_for
):
    att = make_attestation()
    registry.attest(att.as_tuple(), sign_for(att, oracle), sender=relayer)
    registry.attest(att.as_tuple(), sign_for(att, second_oracle), sender=relayer)
    assert registry.is_attested(att.evidence, second_oracle.address)


def test_attest__revoked_oracle__reverts_and_history_stays(
    registry, council, oracle, relayer, make_attestation, sign_for, chain
):
    before = make_attestation(1)
    registry.attest(before.as_tuple(), sign_for(before, oracle), sender=relayer)
    attested_at = chain.blocks.head.timestamp
    chain.mine(timestamp=attested_at + 3_600)
    receipt = registry.revokeOracleKey(oracle.address, sender=council)
    revoked_at = chain.blocks.head.timestamp
    assert receipt.events.filter(registry.OracleKeyRevoked)[0].revokedAt == revoked_at
    after = make_attestation(2)
    with ape.reverts("registry: key not active"):
        registry.attest(after.as_tuple(), sign_for(after, oracle), sender=relayer)
    # The earlier attestation is still there, and a verifier sees the key was revoked later.
    record = registry.attestation(before.evidence, oracle.address)
    assert record.attestedAt == attested_at and record.keyRevokedAt == revoked_at > attested_at
    assert registry.is_attested(before.evidence, oracle.address)
    assert not registry.is_active_key(oracle.address)


def test_attest__unknown_key__reverts(registry, attacker, relayer, make_attestation, sign_for):
    from eth_account import Account

    stranger = Account.from_key(sha("not an oracle"))
    att = make_attestation()
    with ape.reverts("registry: key not active"):
        registry.attest(att.as_tuple(), sign_for(att, stranger), sender=attacker)


def test_attest__unapproved_model__reverts(registry, oracle, relayer, make_attestation, sign_for):
    att = make_attestation(model_sha256=sha("home-made.onnx"))
    with ape.reverts("registry: model not approved"):
        registry.attest(att.as_tuple(), sign_for(att, oracle), sender=relayer)


def test_attest__revoked_model__reverts(
    registry, council, oracle, relayer, make_attestation, sign_for, model
):
    registry.revokeModel(model, sender=council)
    att = make_attestation()
    with ape.reverts("registry: model not approved"):
        registry.attest(att.as_tuple(), sign_for(att, oracle), sender=relayer)


def test_attest__signed_for_another_chain__reverts(
    registry, oracle, relayer, make_attestation, sign_for, chain
):
    att = make_attestation()
    with ape.reverts("registry: key not active"):
        registry.attest(att.as_tuple(), sign_for(att, oracle, chain_id=chain.chain_id + 1), sender=relayer)


def test_attest__signed_for_another_contract__reverts(
    registry, project, council, oracle, relayer, make_attestation, sign_for
):
    other = project.attestation_registry.deploy(council, sender=council)
    att = make_attestation()
    with ape.reverts("registry: key not active"):
        registry.attest(att.as_tuple(), sign_for(att, oracle, contract=other.address), sender=relayer)


def test_attest__high_s_signature__reverts(registry, oracle, relayer, make_attestation, sign_for):
    att = make_attestation()
    with ape.reverts("ecdsa: invalid signature `s` value"):
        registry.attest(att.as_tuple(), high_s(sign_for(att, oracle)), sender=relayer)


def test_attest__tampered_field__reverts(registry, oracle, relayer, make_attestation, sign_for):
    att = make_attestation(grade=Grade.CLASS_II)
    forged = make_attestation(grade=Grade.EXTRA)
    with ape.reverts("registry: key not active"):
        registry.attest(forged.as_tuple(), sign_for(att, oracle), sender=relayer)


def test_attest__malformed_signature__reverts(registry, oracle, relayer, make_attestation, sign_for):
    att = make_attestation()
    with ape.reverts("registry: key not active"):
        registry.attest(att.as_tuple(), sign_for(att, oracle)[:63], sender=relayer)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("grade", 5, "registry: bad grade"),
        ("confidenceBps", 10_001, "registry: bad confidence"),
        ("batchId", 0, "registry: bad batch id"),
        ("batchId", 2**64, "registry: bad batch id"),
    ],
)
def test_attest__out_of_range_field__reverts(
    registry, oracle, relayer, make_attestation, chain, field, value, reason
):
    from tambon.attestation import ATTESTATION_TYPES, REGISTRY_DOMAIN_NAME
    from tambon.typed_data import domain, sign, typed_data

    message = make_attestation().message() | {field: value}
    data = typed_data(
        "Attestation",
        message,
        domain(REGISTRY_DOMAIN_NAME, chain.chain_id, registry.address),
        ATTESTATION_TYPES,
    )
    signature = sign(data, oracle.key)
    args = tuple(message[f["name"]] for f in ATTESTATION_TYPES["Attestation"])
    with ape.reverts(reason):
        registry.attest(args, signature, sender=relayer)


def test_attest__graded_before_key_activation__reverts(registry, oracle, relayer, make_attestation, sign_for):
    activated_at, _ = registry.keyStatus(oracle.address)
    early = make_attestation(graded_at=activated_at - 1)
    with ape.reverts("registry: graded before key activation"):
        registry.attest(early.as_tuple(), sign_for(early, oracle), sender=relayer)
    on_time = make_attestation(1, graded_at=activated_at)
    registry.attest(on_time.as_tuple(), sign_for(on_time, oracle), sender=relayer)
    assert registry.attestation(on_time.evidence, oracle.address).gradedAt == activated_at


def test_attest__graded_in_the_future__reverts_beyond_300_s_skew(
    registry, oracle, relayer, make_attestation, sign_for, chain
):
    at = chain.blocks.head.timestamp + 100
    future = make_attestation(graded_at=at + 301)
    chain.pending_timestamp = at
    with ape.reverts("registry: graded in the future"):
        registry.attest(future.as_tuple(), sign_for(future, oracle), sender=relayer)
    skewed = make_attestation(1, graded_at=at + 300)
    chain.pending_timestamp = at
    registry.attest(skewed.as_tuple(), sign_for(skewed, oracle), sender=relayer)
    assert registry.attestation(skewed.evidence, oracle.address).gradedAt == at + 300


def test_attest_many__one_item_out_of_range__reverts_the_batch(
    registry, oracle, relayer, make_attestation, sign_many
):
    activated_at, _ = registry.keyStatus(oracle.address)
    items = [make_attestation(i) for i in range(3)] + [make_attestation(3, graded_at=activated_at - 3_600)]
    _, signature = sign_many(items, oracle)
    with ape.reverts("registry: graded before key activation"):
        registry.attestMany([a.as_tuple() for a in items], signature, sender=relayer)
    assert not registry.is_attested(items[0].evidence, oracle.address)
