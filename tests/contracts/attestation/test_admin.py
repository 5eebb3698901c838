"""Owner-managed oracle keys and models: history-preserving add/revoke, owner only, EIP-712 domain."""

import ape
import pytest

from .conftest import sha

ZERO = "0x" + "0" * 40


def test_oracle_key__add_then_revoke_keeps_times(registry, council, chain):
    key = "0x" + "ab" * 20
    receipt = registry.addOracleKey(key, sender=council)
    added = chain.blocks.head.timestamp
    assert receipt.events.filter(registry.OracleKeyAdded)[0].activatedAt == added
    assert registry.keyStatus(key) == (added, 0) and registry.is_active_key(key)
    chain.mine(timestamp=added + 100)
    registry.revokeOracleKey(key, sender=council)
    assert registry.keyStatus(key) == (added, chain.blocks.head.timestamp)
    assert not registry.is_active_key(key)


def test_oracle_key__revoked_cannot_return(registry, council, oracle):
    registry.revokeOracleKey(oracle.address, sender=council)
    with ape.reverts("registry: key revoked"):
        registry.addOracleKey(oracle.address, sender=council)


def test_oracle_key__bad_admin_calls__revert(registry, council, oracle):
    with ape.reverts("registry: key already active"):
        registry.addOracleKey(oracle.address, sender=council)
    with ape.reverts("registry: zero key"):
        registry.addOracleKey(ZERO, sender=council)
    with ape.reverts("registry: key not active"):
        registry.revokeOracleKey("0x" + "cd" * 20, sender=council)


def test_model__approve_revoke_keeps_times(registry, council, chain):
    model = sha("grader-v2.onnx")
    registry.approveModel(model, sender=council)
    approved = chain.blocks.head.timestamp
    assert registry.modelStatus(model) == (approved, 0) and registry.is_approved_model(model)
    receipt = registry.revokeModel(model, sender=council)
    assert receipt.events.filter(registry.ModelRevoked)[0].modelSha256 == model
    assert registry.modelStatus(model)[1] == chain.blocks.head.timestamp
    assert not registry.is_approved_model(model)
    with ape.reverts("registry: model revoked"):
        registry.approveModel(model, sender=council)


def test_model__bad_admin_calls__revert(registry, council, model):
    with ape.reverts("registry: model already approved"):
        registry.approveModel(model, sender=council)
    with ape.reverts("registry: zero model"):
        registry.approveModel(b"\x00" * 32, sender=council)
    with ape.reverts("registry: model not approved"):
        registry.revokeModel(sha("never"), sender=council)


@pytest.mark.parametrize(
    ("method", "arg"),
    [
        ("addOracleKey", "0x" + "11" * 20),
        ("revokeOracleKey", None),
        ("approveModel", sha("x")),
        ("revokeModel", None),
    ],
)
def test_admin__not_owner__reverts(registry, attacker, oracle, model, method, arg):
    if arg is None:
        arg = oracle.address if method == "revokeOracleKey" else model
    with ape.reverts("ownable: caller is not the owner"):
        getattr(registry, method)(arg, sender=attacker)


def test_admin__owner_is_the_constructor_argument(project, council, accounts):
    escrow_stand_in = accounts[8]
    contract = project.attestation_registry.deploy(escrow_stand_in, sender=council)
    assert contract.owner() == escrow_stand_in
    with ape.reverts("ownable: caller is not the owner"):
        contract.addOracleKey(council, sender=council)
    contract.addOracleKey(council, sender=escrow_stand_in)
    with ape.reverts("registry: zero owner"):
        project.attestation_registry.deploy(ZERO, sender=council)


def test_eip712_domain__name_version_chain_contract(registry, chain):
    fields, name, version, chain_id, contract, salt, extensions = registry.eip712Domain()
    assert (name, version, chain_id, contract) == (
        "Tambon AttestationRegistry",
        "1",
        chain.chain_id,
        registry.address,
    )
    assert fields == b"\x0f" and list(extensions) == []
