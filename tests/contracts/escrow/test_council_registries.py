"""The council administers the registries it owns, one readable signed decision at a time."""

import hashlib

import ape
import pytest


@pytest.fixture
def provenance(project, deployer, escrow):
    return project.batch_provenance.deploy(escrow, sender=deployer)


@pytest.fixture
def registry(project, deployer, escrow):
    return project.attestation_registry.deploy(escrow, sender=deployer)


def _decide(council, primary, sender, signers=None, **fields):
    deadline = council.deadline()
    message = {**fields, "nonce": council.escrow.council_nonce(), "deadline": deadline}
    signatures = council.sign(primary, message, signers or council.members[:3])
    method = {
        "RegisterProducer": council.escrow.register_producer,
        "RevokeProducer": council.escrow.revoke_producer,
        "AddOracleKey": council.escrow.add_oracle_key,
        "RevokeOracleKey": council.escrow.revoke_oracle_key,
        "ApproveModel": council.escrow.approve_model,
        "RevokeModel": council.escrow.revoke_model,
    }[primary]
    return method(*fields.values(), deadline, signatures, sender=sender)


def test_register_producer__by_council_decision__marks_enterprise(council, provenance, community, attacker):
    _decide(
        council,
        "RegisterProducer",
        attacker,
        registry=provenance.address,
        producer=community.address,
        registrationId="3-24-01-12/1-0042",
        name="วิสาหกิจชุมชนข้าวหนองสนิท",
    )
    assert provenance.isRegisteredProducer(community)
    assert provenance.producerOf(community).name == "วิสาหกิจชุมชนข้าวหนองสนิท"
    _decide(council, "RevokeProducer", attacker, registry=provenance.address, producer=community.address)
    assert not provenance.isRegisteredProducer(community)


def test_oracle_key_and_model__added_and_revoked_by_council(council, registry, accounts, attacker):
    oracle = accounts[9]
    model = hashlib.sha256(b"grader.onnx").digest()
    _decide(council, "AddOracleKey", attacker, registry=registry.address, key=oracle.address)
    _decide(council, "ApproveModel", attacker, registry=registry.address, modelSha256=model)
    assert registry.is_active_key(oracle) and registry.is_approved_model(model)
    _decide(council, "RevokeOracleKey", attacker, registry=registry.address, key=oracle.address)
    _decide(council, "RevokeModel", attacker, registry=registry.address, modelSha256=model)
    assert not registry.is_active_key(oracle) and not registry.is_approved_model(model)


def test_register_producer__name_differs_from_signed__reverts(council, provenance, community, attacker):
    deadline = council.deadline()
    message = {
        "registry": provenance.address,
        "producer": community.address,
        "registrationId": "42",
        "name": "Real enterprise",
        "nonce": council.escrow.council_nonce(),
        "deadline": deadline,
    }
    signatures = council.sign("RegisterProducer", message, council.members[:3])
    with ape.reverts("council: not a member"):
        council.escrow.register_producer(
            provenance, community, "42", "Forged enterprise", deadline, signatures, sender=attacker
        )


def test_add_oracle_key__below_threshold__reverts(council, registry, attacker):
    with ape.reverts("council: below threshold"):
        _decide(
            council,
            "AddOracleKey",
            attacker,
            signers=council.members[:2],
            registry=registry.address,
            key=attacker.address,
        )


def test_registry_admin__called_directly_by_non_owner__reverts(registry, provenance, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        registry.addOracleKey(attacker, sender=attacker)
    with ape.reverts("ownable: caller is not the owner"):
        provenance.registerProducer(attacker, "1", "x", sender=attacker)
