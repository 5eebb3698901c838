"""The council approves and withdraws cold-chain rule sets by signed decision, as it does grading models."""

import hashlib

import ape
import pytest

from oracle.coldchain import load_rules


@pytest.fixture
def registry(project, deployer, escrow):
    return project.attestation_registry.deploy(escrow, sender=deployer)


def _decide(council, primary, sender, **fields):
    deadline = council.deadline()
    message = {**fields, "nonce": council.escrow.council_nonce(), "deadline": deadline}
    signatures = council.sign(primary, message, council.members[:3])
    approve = primary == "ApproveColdChainRules"
    return council.escrow.set_cold_chain_rules(*fields.values(), approve, deadline, signatures, sender=sender)


def test_rules__approved_and_revoked_by_council(council, registry, attacker):
    rules = bytes.fromhex(load_rules().sha256)  # the shipped crop table
    nonce = council.escrow.council_nonce()
    _decide(council, "ApproveColdChainRules", attacker, registry=registry.address, rulesSha256=rules)
    assert registry.is_approved_rules(rules) and council.escrow.council_nonce() == nonce + 1
    _decide(council, "RevokeColdChainRules", attacker, registry=registry.address, rulesSha256=rules)
    assert not registry.is_approved_rules(rules)


def test_rules__too_few_signatures_refused(council, registry, attacker):
    rules = hashlib.sha256(b"crop_rules.json").digest()
    deadline = council.deadline()
    message = {
        "registry": registry.address,
        "rulesSha256": rules,
        "nonce": council.escrow.council_nonce(),
        "deadline": deadline,
    }
    one = council.sign("ApproveColdChainRules", message, council.members[:1])
    with ape.reverts("council: below threshold"):
        council.escrow.set_cold_chain_rules(registry.address, rules, True, deadline, one, sender=attacker)
    assert not registry.is_approved_rules(rules)


def test_rules__a_revoke_signature_cannot_approve(council, registry, attacker):
    rules = hashlib.sha256(b"crop_rules.json v2").digest()
    deadline = council.deadline()
    message = {
        "registry": registry.address,
        "rulesSha256": rules,
        "nonce": council.escrow.council_nonce(),
        "deadline": deadline,
    }
    revoke = council.sign("RevokeColdChainRules", message, council.members[:3])
    with ape.reverts():  # the signatures are over RevokeColdChainRules: they do not recover as approvals
        council.escrow.set_cold_chain_rules(registry.address, rules, True, deadline, revoke, sender=attacker)
    assert not registry.is_approved_rules(rules)
