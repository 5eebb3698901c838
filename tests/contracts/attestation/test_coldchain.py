"""Cold-chain verdicts in the AttestationRegistry: same oracle keys, approved rule sets, one record each."""

from __future__ import annotations

import ape
import pytest

from tambon.attestation import merkle_proof
from tambon.coldchain import (
    ColdChainAttestation,
    Verdict,
    coldchain_typed_data,
    recover_coldchain_batch_item,
    sign_coldchain,
    sign_coldchain_batch,
)
from tambon.typed_data import digest
from tambon.typed_data import sign as sign_typed

from .conftest import high_s, sha


@pytest.fixture(scope="module")
def rules():
    return sha("crop_rules.json v1")


@pytest.fixture(scope="module")
def cc_registry(registry, council, rules):
    registry.approveModel(rules, sender=council)
    return registry


@pytest.fixture
def make_item(rules, cc_registry, chain):
    analysed_at = chain.blocks.head.timestamp

    def make(i: int = 0, **overrides) -> ColdChainAttestation:
        fields = {
            "batch_id": 1 + i,
            "log_cid": sha(f"transport-{i}"),
            "verdict": Verdict.EXCURSION,
            "minutes_out_of_range": 360,
            "mkt_centi_c": 1_254,
            "shelf_life_days": 9,
            "rules_sha256": rules,
            "analysed_at": analysed_at,
        }
        return ColdChainAttestation(**(fields | overrides))

    return make


@pytest.fixture
def sign_cc(cc_registry, chain):
    def sign(item: ColdChainAttestation, key) -> bytes:
        return sign_coldchain(item, key.key, chain.chain_id, cc_registry.address)

    return sign


def test_attest__records_every_field_and_emits(cc_registry, make_item, sign_cc, oracle, relayer, chain):
    item = make_item(mkt_centi_c=-125)  # a frozen load: MKT below zero survives the packing
    tx = cc_registry.attestColdChain(item.as_tuple(), sign_cc(item, oracle), sender=relayer)
    assert cc_registry.is_coldchain_attested(item.batch_id, item.log_cid, oracle.address)
    rec = cc_registry.coldChainRecord(item.batch_id, item.log_cid, oracle.address)
    assert rec.verdict == Verdict.EXCURSION and rec.minutesOutOfRange == 360 and rec.mktCentiC == -125
    assert rec.shelfLifeDays == 9 and rec.rulesSha256 == item.rules_sha256
    assert rec.analysedAt == item.analysed_at and rec.attestedAt == chain.blocks.head.timestamp
    assert rec.keyRevokedAt == 0 and rec.keyActivatedAt > 0
    (ev,) = tx.events.filter(cc_registry.ColdChainAttested)
    assert ev.batchId == item.batch_id and ev.signer == oracle.address and ev.logCid == item.log_cid
    assert ev.mktCentiC == -125 and ev.verdict == Verdict.EXCURSION


def test_digest__matches_python_typed_data(cc_registry, make_item, chain):
    item = make_item(3)
    assert cc_registry.coldChainDigest(item.as_tuple()) == digest(
        coldchain_typed_data(item, chain.chain_id, cc_registry.address)
    )


def test_replay__refused(cc_registry, make_item, sign_cc, oracle, relayer, attacker):
    item = make_item(1)
    signature = sign_cc(item, oracle)
    cc_registry.attestColdChain(item.as_tuple(), signature, sender=relayer)
    with ape.reverts("registry: already attested"):
        cc_registry.attestColdChain(item.as_tuple(), signature, sender=attacker)
    with ape.reverts("ecdsa: invalid signature `s` value"):
        cc_registry.attestColdChain(item.as_tuple(), high_s(signature), sender=attacker)


def test_same_log__another_batch_or_key_is_a_new_record(
    cc_registry, make_item, sign_cc, oracle, second_oracle, relayer
):
    item = make_item(2)
    other_batch = make_item(2, batch_id=99)  # one truck log, two lots
    cc_registry.attestColdChain(item.as_tuple(), sign_cc(item, oracle), sender=relayer)
    cc_registry.attestColdChain(other_batch.as_tuple(), sign_cc(other_batch, oracle), sender=relayer)
    cc_registry.attestColdChain(item.as_tuple(), sign_cc(item, second_oracle), sender=relayer)
    assert cc_registry.is_coldchain_attested(99, item.log_cid, oracle.address)
    assert cc_registry.is_coldchain_attested(item.batch_id, item.log_cid, second_oracle.address)


def test_revoked_key__refused_and_history_kept(
    project, council, rules, make_item, oracle, second_oracle, relayer, chain
):
    registry = project.attestation_registry.deploy(council, sender=council)
    registry.addOracleKey(oracle.address, sender=council)
    registry.approveModel(rules, sender=council)
    item = make_item(analysed_at=chain.blocks.head.timestamp)
    sign = lambda it, key: sign_coldchain(it, key.key, chain.chain_id, registry.address)  # noqa: E731
    registry.attestColdChain(item.as_tuple(), sign(item, oracle), sender=relayer)
    revoked = registry.revokeOracleKey(oracle.address, sender=council)
    later = make_item(5, analysed_at=chain.blocks.head.timestamp)
    with ape.reverts("registry: key not active"):
        registry.attestColdChain(later.as_tuple(), sign(later, oracle), sender=relayer)
    with ape.reverts("registry: key not active"):  # a key never added
        registry.attestColdChain(later.as_tuple(), sign(later, second_oracle), sender=relayer)
    rec = registry.coldChainRecord(item.batch_id, item.log_cid, oracle.address)
    assert rec.keyRevokedAt == chain.blocks[revoked.block_number].timestamp


def test_unapproved_or_revoked_rules__refused(
    cc_registry, make_item, sign_cc, oracle, relayer, council, attacker
):
    unknown = make_item(6, rules_sha256=sha("edited crop_rules.json"))
    with ape.reverts("registry: rules not approved"):
        cc_registry.attestColdChain(unknown.as_tuple(), sign_cc(unknown, oracle), sender=relayer)
    withdrawn = sha("crop_rules.json v0")
    cc_registry.approveModel(withdrawn, sender=council)
    tx = cc_registry.revokeModel(withdrawn, sender=council)
    assert tx.events.filter(cc_registry.ModelRevoked)[0].modelSha256 == withdrawn
    assert not cc_registry.is_approved_model(withdrawn) and cc_registry.modelStatus(withdrawn)[1] > 0
    old = make_item(7, rules_sha256=withdrawn)
    with ape.reverts("registry: rules not approved"):
        cc_registry.attestColdChain(old.as_tuple(), sign_cc(old, oracle), sender=relayer)
    with ape.reverts("registry: model revoked"):
        cc_registry.approveModel(withdrawn, sender=council)
    with ape.reverts("ownable: caller is not the owner"):
        cc_registry.approveModel(sha("attacker rules"), sender=attacker)


def test_analysed_at_bounds_and_fields(cc_registry, make_item, sign_cc, oracle, relayer, chain):
    now = chain.blocks.head.timestamp
    activated = cc_registry.keyStatus(oracle.address)[0]
    cases = [
        (make_item(8, analysed_at=activated - 1), "registry: analysed before key activation"),
        (make_item(9, analysed_at=now + 3_600), "registry: analysed in the future"),
    ]
    for item, reason in cases:
        with ape.reverts(reason):
            cc_registry.attestColdChain(item.as_tuple(), sign_cc(item, oracle), sender=relayer)
    # Values the Python type refuses: build the tuple and the signed JSON by hand.
    for index, key, value, reason in (
        (2, "verdict", 4, "registry: bad verdict"),
        (0, "batchId", 2**64, "registry: bad batch id"),
    ):
        raw = list(make_item(11).as_tuple())
        raw[index] = value
        data = coldchain_typed_data(make_item(11), chain.chain_id, cc_registry.address)
        data["message"][key] = str(value)
        with ape.reverts(reason):
            cc_registry.attestColdChain(tuple(raw), sign_typed(data, oracle.key), sender=relayer)


def test_attest_many__fifty_lots_one_signature(cc_registry, make_item, oracle, relayer, chain):
    items = [make_item(100 + i, verdict=Verdict.OK, minutes_out_of_range=0) for i in range(50)]
    root, signature = sign_coldchain_batch(items, oracle.key, chain.chain_id, cc_registry.address)
    tx = cc_registry.attestColdChainMany([i.as_tuple() for i in items], signature, sender=relayer)
    assert all(cc_registry.is_coldchain_attested(i.batch_id, i.log_cid, oracle.address) for i in items)
    (root_event,) = tx.events.filter(cc_registry.ColdChainRootAttested)
    assert root_event.root == root and root_event.count == 50
    leaves = [i.struct_hash() for i in items]
    signer = recover_coldchain_batch_item(
        items[17], merkle_proof(leaves, 17), root, 50, signature, chain.chain_id, cc_registry.address
    )
    assert signer == oracle.address


def test_attest_many__changed_item_is_refused(cc_registry, make_item, oracle, relayer, chain):
    items = [make_item(200 + i) for i in range(3)]
    _, signature = sign_coldchain_batch(items, oracle.key, chain.chain_id, cc_registry.address)
    forged = [items[0].as_tuple(), items[1].as_tuple(), make_item(202, verdict=Verdict.OK).as_tuple()]
    with ape.reverts("registry: key not active"):  # another root recovers another, unknown signer
        cc_registry.attestColdChainMany(forged, signature, sender=relayer)
    with ape.reverts("registry: no attestations"):
        cc_registry.attestColdChainMany([], signature, sender=relayer)
