"""The deploy script wires one อปท.'s contracts together, and services can reach them by name."""

import json

from tambon.chain import Chain, load_abi


def test_deploy__registries_are_owned_by_the_council_escrow(settings):
    chain = Chain(settings)
    chain.check_connected()
    escrow = chain.contract("GrantEscrow")
    assert chain.contract("BatchProvenance").functions.owner().call() == escrow.address
    assert chain.contract("AttestationRegistry").functions.owner().call() == escrow.address
    assert escrow.functions.threshold().call() == 3
    assert len(escrow.functions.members().call()) == 5


def test_exported_abis__match_the_compiled_contracts(project):
    for name, stem in [
        ("GrantEscrow", "grant_escrow"),
        ("BatchProvenance", "batch_provenance"),
        ("AttestationRegistry", "attestation_registry"),
        ("ThbToken", "thb_token"),
    ]:
        compiled = [
            e.model_dump(mode="json", by_alias=True, exclude_none=True)
            for e in project.get_contract(stem).contract_type.abi
        ]
        assert json.loads(json.dumps(compiled)) == load_abi(name), f"{name}: run scripts/export_abis.py"
