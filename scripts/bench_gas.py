"""Gas used per transaction on anvil, ours beside a real Safe v1.4.1 doing the same transfers.

Writes bench/results/gas.json: a flat JSON object {figure: gas}. Run with `make bench-gas`.

Fairness rules for the anchors: the Safe and the escrow pay the same recipient kind (an account
that already holds a balance, so no new-account surcharge), with the same token, each after a
warm-up transaction so no nonce or balance slot goes from zero to non-zero in the measured one.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ape import accounts, networks, project
from ape.contracts import ContractContainer
from eth_account import Account
from ethpm_types import ContractType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VVM_BINARY_PATH", str(REPO / ".venv" / "vvm"))

from tambon.build import drop_stale_build  # noqa: E402
from tambon.typed_data import (  # noqa: E402
    ESCROW_DOMAIN_NAME,
    CouncilApproval,
    domain,
    pack_signatures,
    sign,
    typed_data,
)

SAFE_ARTIFACTS = (
    REPO / "node_modules" / "@safe-global" / "safe-contracts" / "build" / "artifacts" / "contracts"
)
RESULTS = REPO / "bench" / "results" / "gas.json"
ZERO = "0x0000000000000000000000000000000000000000"
DAY = 86_400
UNIT = 10**18
RAW = 0x55


def _hardhat_container(relative: str, name: str) -> ContractContainer:
    artifact = json.loads((SAFE_ARTIFACTS / relative).read_text())
    contract_type = ContractType.model_validate(
        {
            "contractName": name,
            "abi": artifact["abi"],
            "deploymentBytecode": {"bytecode": artifact["bytecode"]},
            "runtimeBytecode": {"bytecode": artifact["deployedBytecode"]},
        }
    )
    return ContractContainer(contract_type)


def _deadline(chain) -> int:
    return chain.pending_timestamp + DAY


def deploy_safe(owners, threshold: int, deployer, chain, fallback_handler: str = ZERO):
    """A Safe v1.4.1 as deployed in production: a proxy made by the factory over the singleton.

    Give `fallback_handler` (a CompatibilityFallbackHandler) for a Safe that answers EIP-1271.
    """
    singleton = _hardhat_container("Safe.sol/Safe.json", "Safe").deploy(sender=deployer)
    factory = _hardhat_container(
        "proxies/SafeProxyFactory.sol/SafeProxyFactory.json", "SafeProxyFactory"
    ).deploy(sender=deployer)
    setup_data = singleton.setup.encode_input(
        sorted(o.address for o in owners), threshold, ZERO, b"", fallback_handler, ZERO, 0, ZERO
    )
    receipt = factory.createProxyWithNonce(singleton, setup_data, 0, sender=deployer)
    proxy_address = receipt.events.filter(factory.ProxyCreation)[0].proxy
    return chain.contracts.instance_at(proxy_address, contract_type=singleton.contract_type)


def compatibility_fallback_handler(deployer):
    return _hardhat_container(
        "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
        "CompatibilityFallbackHandler",
    ).deploy(sender=deployer)


def measure_safe(owners, deployer, recipient, token, chain) -> dict[str, int]:
    """A 3-of-5 Safe v1.4.1 (proxy + singleton, as deployed in production) sending ETH and tokens."""
    safe = deploy_safe(owners, 3, deployer, chain)

    deployer.transfer(safe, 10 * UNIT)
    token.mint(safe, 10 * UNIT, sender=deployer)

    def execute(to, value, data) -> int:
        nonce = safe.call_view_method("nonce")  # `safe.nonce` is the account nonce in ape
        tx_hash = safe.getTransactionHash(to, value, data, 0, 0, 0, 0, ZERO, ZERO, nonce)
        ordered = sorted(owners[:3], key=lambda o: int(o.address, 16))
        signatures = b"".join(
            bytes(Account.unsafe_sign_hash(bytes(tx_hash), o.private_key).signature) for o in ordered
        )
        tx = safe.execTransaction(to, value, data, 0, 0, 0, 0, ZERO, ZERO, signatures, sender=deployer)
        return tx.gas_used

    transfer_data = token.transfer.encode_input(recipient, UNIT)
    execute(recipient.address, UNIT, b"")  # warm-up: nonce 0 -> 1
    eth = execute(recipient.address, UNIT, b"")
    execute(token.address, 0, transfer_data)
    erc20 = execute(token.address, 0, transfer_data)
    return {"anchor_safe_3of5_eth": eth, "anchor_safe_3of5_erc20": erc20}


def measure_escrow(members, deployer, community, funder, token, chain) -> dict[str, int]:
    escrow = project.grant_escrow.deploy([m.address for m in members], 3, 7 * DAY, sender=deployer)
    escrow_domain = domain(ESCROW_DOMAIN_NAME, chain.chain_id, escrow.address)

    def release(grant_id: int, milestone_id: int) -> int:
        deadline = _deadline(chain)
        milestone = escrow.milestone(grant_id, milestone_id)
        message = {
            "grantId": grant_id,
            "milestoneId": milestone_id,
            "evidence": milestone.evidence,
            "amount": milestone.amount,
            "nonce": milestone.nonce,
            "deadline": deadline,
        }
        data = typed_data("Release", message, escrow_domain)
        signatures = pack_signatures(
            [CouncilApproval(m.address, sign(data, m.private_key)) for m in members[:3]]
        )
        return escrow.release(grant_id, milestone_id, deadline, signatures, sender=deployer).gas_used

    def open_grant(token_address: str) -> int:
        deadlines = [chain.pending_timestamp + 30 * DAY] * 3
        receipt = escrow.create_grant(
            community, token_address, 3 * UNIT, [UNIT] * 3, deadlines, os.urandom(32), RAW, sender=members[0]
        )
        return receipt.return_value

    eth_grant = open_grant(ZERO)
    escrow.fund(eth_grant, 3 * UNIT, value=3 * UNIT, sender=funder)
    submits = [escrow.submit(eth_grant, i, os.urandom(32), RAW, sender=community).gas_used for i in range(3)]
    release(eth_grant, 0)  # warm-up, mirrors the Safe's
    eth = release(eth_grant, 1)

    token_grant = open_grant(token.address)
    token.mint(funder, 3 * UNIT, sender=deployer)
    token.approve(escrow, 3 * UNIT, sender=funder)
    escrow.fund(token_grant, 3 * UNIT, sender=funder)
    for i in range(2):
        escrow.submit(token_grant, i, os.urandom(32), RAW, sender=community)
    release(token_grant, 0)
    erc20 = release(token_grant, 1)
    return {
        "grant_release_3of5_eth": eth,
        "grant_release_3of5_erc20": erc20,
        "milestone_submit": max(submits),
    }


def main() -> None:
    drop_stale_build()
    results: dict[str, int] = {}
    with networks.parse_network_choice("ethereum:local:foundry"):
        from ape import chain

        test_accounts = accounts.test_accounts
        deployer = test_accounts[0]
        members = [test_accounts[i] for i in range(1, 6)]
        community, funder = test_accounts[6], test_accounts[7]
        token = project.thb_token.deploy(sender=deployer)
        # The community already holds ETH and tokens, like the Safe's recipient below.
        token.mint(community, UNIT, sender=deployer)

        results |= measure_escrow(members, deployer, community, funder, token, chain)
        results |= measure_safe(members, deployer, community, token, chain)

        gas_provenance = REPO / "scripts" / "gas_provenance.py"
        if gas_provenance.exists():
            sys.path.insert(0, str(gas_provenance.parent))
            import gas_provenance as provenance_bench

            results |= provenance_bench.measure(project, test_accounts)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps(previous | results, indent=2, sort_keys=True) + "\n")
    for name, gas in sorted(results.items()):
        print(f"{name:40s} {gas:>10,}")


if __name__ == "__main__":
    main()
