"""Chain access for services: web3 connection, deployed addresses and exported ABIs.

Deployments live in `deployments/<network>.json`:
    {"network": "local", "chain_id": 31337, "block": 12, "contracts": {"GrantEscrow": "0x…", …}}
ABIs live in `interfaces/<ContractName>.json` (written by scripts/export_abis.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from tambon.errors import ConfigError
from tambon.settings import REPO_ROOT, Settings, get_settings

INTERFACES = REPO_ROOT / "interfaces"


def abi_name(stem: str) -> str:
    """`grant_escrow` -> `GrantEscrow`: the contract's name in ABIs and deployment files."""
    return "".join(part.capitalize() for part in stem.split("_"))


@cache
def load_abi(name: str) -> list[dict[str, Any]]:
    path = INTERFACES / f"{name}.json"
    if not path.exists():
        raise ConfigError(f"no ABI for {name} at {path}; run `python scripts/export_abis.py`")
    return json.loads(path.read_text())


@dataclass(frozen=True)
class Deployment:
    network: str
    chain_id: int
    block: int
    contracts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        if not path.exists():
            raise ConfigError(f"no deployment at {path}; run `tambon deploy` (or `make demo`) first")
        data = json.loads(path.read_text())
        return cls(
            network=data["network"],
            chain_id=int(data["chain_id"]),
            block=int(data.get("block", 0)),
            contracts=dict(data["contracts"]),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "network": self.network,
            "chain_id": self.chain_id,
            "block": self.block,
            "contracts": self.contracts,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        tmp.replace(path)

    def address(self, name: str) -> str:
        try:
            return self.contracts[name]
        except KeyError:
            raise ConfigError(f"{name} is not deployed on {self.network}") from None


class Chain:
    """A web3 connection bound to one deployment."""

    def __init__(self, settings: Settings | None = None, deployment: Deployment | None = None):
        self.settings = settings or get_settings()
        self.w3 = Web3(Web3.HTTPProvider(self.settings.rpc_url, request_kwargs={"timeout": 30}))
        self.deployment = deployment or Deployment.load(self.settings.deployment_file)

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    def contract(self, name: str) -> Contract:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(self.deployment.address(name)), abi=load_abi(name)
        )

    def check_connected(self) -> None:
        try:
            chain_id = self.w3.eth.chain_id
        except Exception as exc:  # requests raises a family of connection errors
            raise ConfigError(f"cannot reach the node at {self.settings.rpc_url}: {exc}") from exc
        if chain_id != self.deployment.chain_id:
            raise ConfigError(
                f"node at {self.settings.rpc_url} is chain {chain_id}, deployment {self.deployment.network} "
                f"is chain {self.deployment.chain_id}"
            )
