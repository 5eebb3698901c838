"""Deploy one อปท.'s contracts and record them in deployments/<network>.json.

    ape run deploy --network ethereum:local:foundry          # local: test accounts as the council
    TAMBON_COUNCIL=0xA,0xB,0xC TAMBON_THRESHOLD=2 ape run deploy --network ethereum:sepolia:node

The GrantEscrow holds the council; BatchProvenance and AttestationRegistry are owned by it, so
every administrative act on them is a council decision. On a local chain a demo THB stablecoin
is deployed too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ape import accounts, chain, networks, project

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tambon.chain import Deployment  # noqa: E402
from tambon.settings import LOCAL_CHAIN_IDS, REPO_ROOT  # noqa: E402

DEFAULT_REVIEW_TIMEOUT = 14 * 86_400


def deploy(sender, members: list[str], threshold: int, review_timeout: int = DEFAULT_REVIEW_TIMEOUT) -> Deployment:
    """Deploy on the connected network and return the deployment (not yet saved)."""
    first_block = chain.blocks.head.number + 1
    escrow = project.grant_escrow.deploy(members, threshold, review_timeout, sender=sender)
    provenance = project.batch_provenance.deploy(escrow, sender=sender)
    registry = project.attestation_registry.deploy(escrow, sender=sender)
    contracts = {
        "GrantEscrow": escrow.address,
        "BatchProvenance": provenance.address,
        "AttestationRegistry": registry.address,
    }
    if chain.chain_id in LOCAL_CHAIN_IDS:
        contracts["ThbToken"] = project.thb_token.deploy(sender=sender).address
    network = networks.provider.network.name
    return Deployment(network=network, chain_id=chain.chain_id, block=first_block, contracts=contracts)


def _council_from_env(local: bool) -> tuple[list[str], int]:
    configured = os.environ.get("TAMBON_COUNCIL")
    if configured:
        members = [m.strip() for m in configured.split(",") if m.strip()]
        return members, int(os.environ.get("TAMBON_THRESHOLD", (len(members) // 2) + 1))
    if not local:
        raise SystemExit("error: set TAMBON_COUNCIL (comma-separated member addresses) and TAMBON_THRESHOLD")
    return [a.address for a in accounts.test_accounts[1:6]], 3


def main() -> None:
    local = chain.chain_id in LOCAL_CHAIN_IDS
    sender = accounts.test_accounts[0] if local else accounts.load(os.environ["TAMBON_DEPLOYER_ALIAS"])
    members, threshold = _council_from_env(local)
    deployment = deploy(sender, members, threshold)
    target = REPO_ROOT / "deployments" / f"{deployment.network}.json"
    deployment.save(target)
    for name, address in deployment.contracts.items():
        print(f"{name:20s} {address}")
    print(f"written {target.relative_to(REPO_ROOT)}")
