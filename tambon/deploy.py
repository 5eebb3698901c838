"""Deploy one อปท.'s contracts with web3 from ape's compiled artifacts, and record them.

The GrantEscrow holds the council; BatchProvenance and AttestationRegistry are owned by it, so
every administrative act on them is a council decision. On a local chain a demo THB stablecoin is
deployed too. Used by `tambon deploy`, `make demo`, scripts/deploy.py and the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from tambon.build import drop_stale_build
from tambon.chain import Deployment
from tambon.errors import ConfigError
from tambon.settings import LOCAL_CHAIN_IDS, REPO_ROOT
from tambon.tx import send

ARTIFACTS = REPO_ROOT / ".build" / "__local__.json"
DEFAULT_REVIEW_TIMEOUT = 14 * 86_400


def ensure_compiled(root: Path = REPO_ROOT) -> None:
    """Compile the contracts with ape when the build is missing or older than any source."""
    drop_stale_build(root)
    if ARTIFACTS.exists():
        return
    env = {**os.environ, "VVM_BINARY_PATH": os.environ.get("VVM_BINARY_PATH", str(root / ".venv" / "vvm"))}
    result = subprocess.run(["ape", "compile"], cwd=root, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not ARTIFACTS.exists():
        raise ConfigError(f"contracts did not compile:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def artifact(stem: str) -> tuple[list, str]:
    """(ABI, deployment bytecode) of contracts/<stem>.vy."""
    ensure_compiled()
    contract_type = json.loads(ARTIFACTS.read_text())["contractTypes"][stem]
    return contract_type["abi"], contract_type["deploymentBytecode"]["bytecode"]


def deploy_contract(w3: Web3, account: LocalAccount, stem: str, *args) -> str:
    abi, bytecode = artifact(stem)
    receipt = send(w3, account, w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args))
    address = receipt["contractAddress"]
    if address is None:
        raise ConfigError(f"deploying {stem} created no contract")
    return address


def deploy_all(
    w3: Web3,
    account: LocalAccount,
    members: Sequence[str],
    threshold: int,
    network: str,
    review_timeout: int = DEFAULT_REVIEW_TIMEOUT,
) -> Deployment:
    """Deploy everything on the node `w3` speaks to; the returned deployment is not yet saved."""
    if not members:
        raise ConfigError("a council needs members")
    first_block = w3.eth.block_number + 1
    escrow = deploy_contract(w3, account, "grant_escrow", members, threshold, review_timeout)
    contracts = {
        "GrantEscrow": escrow,
        "BatchProvenance": deploy_contract(w3, account, "batch_provenance", escrow),
        "AttestationRegistry": deploy_contract(w3, account, "attestation_registry", escrow),
    }
    chain_id = w3.eth.chain_id
    if chain_id in LOCAL_CHAIN_IDS:
        contracts["ThbToken"] = deploy_contract(w3, account, "thb_token")
    return Deployment(network=network, chain_id=chain_id, block=first_block, contracts=contracts)


def is_live(w3: Web3, deployment: Deployment) -> bool:
    """True when the node is the deployment's chain and every recorded contract has code there."""
    try:
        if w3.eth.chain_id != deployment.chain_id:
            return False
        return all(
            len(w3.eth.get_code(Web3.to_checksum_address(a))) > 0 for a in deployment.contracts.values()
        )
    except Exception:  # an unreachable node is "not live", not a crash
        return False
