"""Deploy one อปท.'s contracts on the network ape is connected to (see tambon/deploy.py).

    ape run deploy --network ethereum:local:foundry     # local: the node's demo accounts as the council
    TAMBON_COUNCIL=0xA,0xB,0xC TAMBON_THRESHOLD=2 TAMBON_DEPLOYER_KEYSTORE=deployer.json \\
        ape run deploy --network ethereum:sepolia:node

`tambon deploy` does the same against TAMBON_RPC_URL without ape.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ape import networks

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tambon.accounts import demo_account, load_account  # noqa: E402
from tambon.deploy import deploy_all  # noqa: E402
from tambon.settings import LOCAL_CHAIN_IDS, REPO_ROOT  # noqa: E402


def main() -> None:
    w3 = networks.provider.web3
    chain_id = w3.eth.chain_id
    keystore = os.environ.get("TAMBON_DEPLOYER_KEYSTORE")
    account = load_account(
        chain_id, keystore=Path(keystore) if keystore else None, demo_index=0 if not keystore else None
    )
    configured = os.environ.get("TAMBON_COUNCIL")
    if configured:
        members = [m.strip() for m in configured.split(",") if m.strip()]
        threshold = int(os.environ.get("TAMBON_THRESHOLD", len(members) // 2 + 1))
    elif chain_id in LOCAL_CHAIN_IDS:
        members, threshold = [demo_account(i).address for i in range(1, 6)], 3
    else:
        raise SystemExit("error: set TAMBON_COUNCIL (comma-separated member addresses) and TAMBON_THRESHOLD")
    deployment = deploy_all(w3, account, members, threshold, networks.provider.network.name)
    target = REPO_ROOT / "deployments" / f"{deployment.network}.json"
    deployment.save(target)
    for name, address in deployment.contracts.items():
        print(f"{name:20s} {address}")
    print(f"written {target.relative_to(REPO_ROOT)}")
