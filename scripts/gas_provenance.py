"""Gas of BatchProvenance and AttestationRegistry beside their anchors, measured in one anvil run.

`measure(project, accounts)` is called by scripts/bench_gas.py (which writes bench/results/gas.json);
run this file alone to print the figures: `.venv/bin/python scripts/gas_provenance.py`.

Fairness: every measured transaction follows a warm-up one by the same sender, so no nonce, balance,
counter or approval slot goes from zero to non-zero in it, for ours and for the anchors alike (figures
with "_first_" in their name are the cold case). Anchors:
- snekmate 0.1.2 ERC-721 (`contracts/mocks/erc721_anchor_mock.vy`): `safe_mint` with a real `ipfs://` CIDv1
  URI (66 characters, what `tokenURI` returns here);
- Ethereum Attestation Service 1.9.0 (npm `@ethereum-attestation-service/eas-contracts`, published
  artifacts): `attest` and `multiAttest` of 50 with a schema holding the same seven fields as our
  `Attestation`, no resolver, non-expiring, revocable.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VVM_BINARY_PATH", str(REPO / ".venv" / "vvm"))

from eth_abi import encode as abi_encode  # noqa: E402
from eth_account import Account  # noqa: E402

from tambon.attestation import (  # noqa: E402
    ATTESTATION_ABI_TYPES,
    ATTESTATION_SPEC,
    Attestation,
    sample_attestation,
    sign_attestation,
    sign_batch,
)
from tambon.cid import DAG_PB, RAW, OnchainCid  # noqa: E402
from tambon.coldchain import ColdChainAttestation, Verdict, sign_coldchain, sign_coldchain_batch  # noqa: E402

EAS_ARTIFACTS = REPO / "node_modules" / "@ethereum-attestation-service" / "eas-contracts" / "artifacts"
ZERO = "0x0000000000000000000000000000000000000000"
ZERO32 = b"\x00" * 32
MANY = 50
RICE = 101  # crop code used in the figures
HARVEST_DAY = 20_400  # 2025-11-09
EAS_SCHEMA = ATTESTATION_SPEC  # the anchor's schema carries all of our fields


def _digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _hardhat_container(relative: str, name: str):
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    artifact = json.loads((EAS_ARTIFACTS / "contracts" / relative).read_text())
    return ContractContainer(
        ContractType.model_validate(
            {
                "contractName": name,
                "abi": artifact["abi"],
                "deploymentBytecode": {"bytecode": artifact["bytecode"]},
                "runtimeBytecode": {"bytecode": artifact["deployedBytecode"]},
            }
        )
    )


def measure_provenance(project, owner, producer, carrier) -> dict[str, int]:
    batches = project.batch_provenance.deploy(owner, sender=owner)
    figures: dict[str, int] = {}

    def register(label: str, sender) -> int:
        return batches.register(_digest(label), RAW, RICE, 1_250_000, HARVEST_DAY, sender=sender).gas_used

    figures["batch_register_first_for_producer"] = register("first", producer)
    figures["batch_register"] = register("steady", producer)
    lots = [(_digest(f"lot-{i}"), RAW, RICE, 20_000 + i, HARVEST_DAY) for i in range(MANY)]
    receipt = batches.registerMany(lots, sender=producer)
    figures["batch_register_many_50_total"] = receipt.gas_used
    figures["batch_register_per_batch_in_50"] = receipt.gas_used // MANY
    first_in_run = batches.totalSupply() - MANY + 1

    step_evidence = _digest("step")
    # First step of a single-registered batch and of a batch in the middle of a run, then a
    # TRANSPORT step with temperatures, then a step by the next holder after a custody transfer.
    inline_step = batches.addStep(2, 1, step_evidence, RAW, 0, sender=producer).gas_used
    run_step = batches.addStep(first_in_run + 37, 1, step_evidence, DAG_PB, 0, sender=producer).gas_used
    transport_data = (-180 & 0xFFFF) | ((250 & 0xFFFF) << 16)  # min -1.80 degC, max 2.50 degC
    transport_step = batches.addStep(2, 3, step_evidence, RAW, transport_data, sender=producer).gas_used
    moved = first_in_run + 37
    batches.transferFrom(producer, carrier, moved, sender=producer)
    moved_step = batches.addStep(moved, 3, step_evidence, RAW, transport_data, sender=carrier).gas_used
    figures["step_add_inline_batch"] = inline_step
    figures["step_add_run_batch"] = run_step
    figures["step_add_transport"] = transport_step
    figures["step_add_after_transfer"] = moved_step
    figures["step_add"] = max(inline_step, run_step, transport_step, moved_step)

    # Custody transfer of a batch that has moved before (steady state) — information, no goal.
    batches.transferFrom(producer, carrier, 2, sender=producer)
    figures["batch_transfer"] = batches.transferFrom(carrier, producer, 2, sender=carrier).gas_used
    return figures


def measure_snekmate_anchor(project, owner, holder) -> dict[str, int]:
    anchor = project.erc721_anchor_mock.deploy(sender=owner)
    uri = "ipfs://" + str(OnchainCid(_digest("anchor-0"), RAW))
    first = anchor.safe_mint(holder, uri, sender=owner).gas_used
    uri = "ipfs://" + str(OnchainCid(_digest("anchor-1"), RAW))
    steady = anchor.safe_mint(holder, uri, sender=owner).gas_used
    return {
        "anchor_snekmate_erc721_mint_uri_first_for_holder": first,
        "anchor_snekmate_erc721_mint_uri": steady,
    }


def _attestation(i: int, model: bytes, graded_at: int) -> Attestation:
    return sample_attestation(1_000 + i, _digest(f"evidence-{i}"), model, graded_at)


def measure_registry(project, chain, owner, relayer) -> dict[str, int]:
    registry = project.attestation_registry.deploy(owner, sender=owner)
    oracle = Account.from_key(_digest("gas-bench-oracle"))  # fixed key: reproducible signature bytes
    model = _digest("grader.onnx")
    registry.addOracleKey(oracle.address, sender=owner)
    registry.approveModel(model, sender=owner)

    def attest(att: Attestation) -> int:
        signature = sign_attestation(att, oracle.key, chain.chain_id, registry.address)
        return registry.attest(att.as_tuple(), signature, sender=relayer).gas_used

    graded_at = chain.blocks.head.timestamp  # after the key's activation, not in the future
    attest(_attestation(0, model, graded_at))  # warm-up
    figures = {"attest_single": attest(_attestation(1, model, graded_at))}
    items = [_attestation(100 + i, model, graded_at) for i in range(MANY)]
    _, signature = sign_batch(items, oracle.key, chain.chain_id, registry.address)
    receipt = registry.attestMany([a.as_tuple() for a in items], signature, sender=relayer)
    figures["attest_many_50_total"] = receipt.gas_used
    figures["attest_per_item_in_50"] = receipt.gas_used // MANY
    return figures


def _coldchain(i: int, rules: bytes, analysed_at: int) -> ColdChainAttestation:
    return ColdChainAttestation(
        batch_id=1_000 + i,
        log_cid=_digest(f"transport-{i}"),
        verdict=Verdict.EXCURSION,
        minutes_out_of_range=365,
        mkt_centi_c=1_254,
        shelf_life_days=9,
        rules_sha256=rules,
        analysed_at=analysed_at,
    )


def measure_coldchain(project, chain, owner, relayer) -> dict[str, int]:
    """Cold-chain verdicts: one `attestColdChain`, and 50 lots under one signed root."""
    registry = project.attestation_registry.deploy(owner, sender=owner)
    oracle = Account.from_key(_digest("gas-bench-oracle"))
    rules = _digest("crop_rules.json")
    registry.addOracleKey(oracle.address, sender=owner)
    registry.approveModel(rules, sender=owner)

    def attest(item: ColdChainAttestation) -> int:
        signature = sign_coldchain(item, oracle.key, chain.chain_id, registry.address)
        return registry.attestColdChain(item.as_tuple(), signature, sender=relayer).gas_used

    analysed_at = chain.blocks.head.timestamp
    attest(_coldchain(0, rules, analysed_at))  # warm-up
    figures = {"coldchain_attest_single": attest(_coldchain(1, rules, analysed_at))}
    items = [_coldchain(100 + i, rules, analysed_at) for i in range(MANY)]
    _, signature = sign_coldchain_batch(items, oracle.key, chain.chain_id, registry.address)
    receipt = registry.attestColdChainMany([i.as_tuple() for i in items], signature, sender=relayer)
    figures["coldchain_attest_many_50_total"] = receipt.gas_used
    figures["coldchain_attest_per_item_in_50"] = receipt.gas_used // MANY
    return figures


def _eas_data(att: Attestation) -> bytes:
    return abi_encode(list(ATTESTATION_ABI_TYPES), list(att.as_tuple()))


def measure_eas_anchor(chain, owner, relayer) -> dict[str, int]:
    schema_registry = _hardhat_container("SchemaRegistry.sol/SchemaRegistry.json", "SchemaRegistry").deploy(
        sender=owner
    )
    eas = _hardhat_container("EAS.sol/EAS.json", "EAS").deploy(schema_registry, sender=owner)
    schema_registry.register(EAS_SCHEMA, ZERO, True, sender=owner)
    schema_uid = _schema_uid(EAS_SCHEMA, ZERO, True)
    model = _digest("grader.onnx")
    graded_at = chain.blocks.head.timestamp  # the same data our registry records

    def request(i: int) -> tuple[Any, ...]:
        # AttestationRequestData(recipient, expirationTime, revocable, refUID, data, value)
        return (ZERO, 0, True, ZERO32, _eas_data(_attestation(i, model, graded_at)), 0)

    eas.attest((schema_uid, request(0)), sender=relayer)  # warm-up
    single = eas.attest((schema_uid, request(1)), sender=relayer).gas_used
    receipt = eas.multiAttest([(schema_uid, [request(100 + i) for i in range(MANY)])], sender=relayer)
    return {"anchor_eas_attest": single, "anchor_eas_multiattest_per_item_in_50": receipt.gas_used // MANY}


def _schema_uid(schema: str, resolver: str, revocable: bool) -> bytes:
    """EAS SchemaRegistry UID: keccak256(abi.encodePacked(schema, resolver, revocable))."""
    from eth_utils import keccak, to_bytes

    return keccak(schema.encode() + to_bytes(hexstr=resolver) + (b"\x01" if revocable else b"\x00"))


def measure(project, accounts) -> dict[str, int]:
    """All issue-4 figures (gas used per transaction, from receipts) on the connected anvil."""
    from ape import chain

    test_accounts = getattr(accounts, "test_accounts", accounts)
    owner, producer, carrier, relayer = (test_accounts[i] for i in (0, 1, 2, 3))
    figures: dict[str, int] = {}
    figures |= measure_provenance(project, owner, producer, carrier)
    figures |= measure_snekmate_anchor(project, owner, carrier)
    figures |= measure_registry(project, chain, owner, relayer)
    figures |= measure_coldchain(project, chain, owner, relayer)
    figures |= measure_eas_anchor(chain, owner, relayer)
    return figures


if __name__ == "__main__":
    from ape import accounts, networks, project

    with networks.parse_network_choice("ethereum:local:foundry"):
        for name, gas in sorted(measure(project, accounts).items()):
            print(f"{name:48s} {gas:>10,}")
