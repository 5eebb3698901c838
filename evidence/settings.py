"""Evidence-store settings (`TAMBON_EVIDENCE_*`); the node's URLs come from `tambon.settings`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from evidence.importer import PROFILES
from tambon.settings import get_settings


class EvidenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAMBON_EVIDENCE_", env_file=".env", extra="ignore")

    #: where the embedded node keeps blocks and pins (default: <TAMBON_DATA_DIR>/evidence)
    store_dir: Path | None = None
    #: local = embedded store in process; rpc = a Kubo-RPC node over HTTP (our `serve` or Kubo);
    #: kubo = a real Kubo node through ipfshttpclient. rpc/kubo use TAMBON_EVIDENCE_API_URL.
    backend: Literal["local", "rpc", "kubo"] = "local"
    profile: str = "kubo-v1"
    #: largest upload the HTTP node accepts (bytes); larger requests get 413
    max_upload_bytes: int = 512 * 1024 * 1024
    #: fsync every block before it is published (durable across power loss, slower adds)
    fsync: bool = False
    #: seconds the HTTP clients wait for a remote node
    timeout: float = 60.0
    #: bearer token the node's RPC requires (and our clients send); needed to serve it beyond loopback
    api_token: SecretStr | None = None
    #: web origins allowed to call the RPC from a browser (JSON list); none by default, as a web page
    #: has no business adding or unpinning evidence
    allowed_origins: list[str] = []

    @property
    def token(self) -> str | None:
        return self.api_token.get_secret_value() if self.api_token else None

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown profile {value!r} (known: {', '.join(PROFILES)})")
        return value

    @field_validator("max_upload_bytes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("max_upload_bytes must be positive")
        return value

    @property
    def resolved_store_dir(self) -> Path:
        return self.store_dir or (get_settings().data_dir / "evidence")


@lru_cache
def get_evidence_settings() -> EvidenceSettings:
    return EvidenceSettings()
