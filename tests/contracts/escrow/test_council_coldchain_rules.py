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
    method = {
        "ApproveColdChainRules": council.escrow.approve_cold_chain_rules,
        "RevokeColdChainRules": council.escrow.revoke_cold_chain_rules,
    }[primary]
    return method(*fields.values(), deadline, signatures, sender=sender)


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
        council.escrow.approve_cold_chain_rules(registry.address, rules, deadline, one, sender=attacker)
    assert not registry.is_approved_rules(rules)
