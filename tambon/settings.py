"""Settings shared by every service, read from `TAMBON_*` environment variables (or `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_CHAIN_IDS = frozenset({31337, 1337})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAMBON_", env_file=".env", extra="ignore")

    #: Name of the deployment file under `deployments/` (ape network name, e.g. `local`, `sepolia`).
    network: str = "local"
    rpc_url: str = "http://127.0.0.1:8545"
    #: Deployment files; `<data_dir>/deployments` when only the data directory is set.
    deployments_dir: Path = REPO_ROOT / "deployments"
    #: Where services keep state (oracle cursor, evidence blocks, collected signatures).
    data_dir: Path = REPO_ROOT / ".tambon"
    #: Kubo-compatible RPC of the evidence store (embedded node by default).
    evidence_api_url: str = "http://127.0.0.1:5001"
    #: Trustless gateway that serves evidence to browsers.
    gateway_url: str = "http://127.0.0.1:8080"
    #: Public base URL of the verify site, used in QR labels and links.
    public_url: str = "http://127.0.0.1:8000"
    #: Chain index store: `postgresql://…` to share one between hosts; default SQLite in the data dir.
    index_url: str | None = None

    @field_validator("rpc_url", "evidence_api_url", "gateway_url", "public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _deployments_follow_data_dir(self) -> Settings:
        # a stack given its own data directory keeps everything there, its deployments included
        if "data_dir" in self.model_fields_set and "deployments_dir" not in self.model_fields_set:
            self.deployments_dir = self.data_dir / "deployments"
        return self

    def as_env(self) -> dict[str, str]:
        """These settings as `TAMBON_*` variables, for child processes that must agree with this one."""
        return {
            f"TAMBON_{name.upper()}": str(value)
            for name, value in self.model_dump().items()
            if value is not None
        }

    @property
    def deployment_file(self) -> Path:
        return self.deployments_dir / f"{self.network}.json"


@lru_cache
def get_settings() -> Settings:
    return Settings()
