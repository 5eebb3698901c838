"""Verify-site settings (`TAMBON_WEB_*`); chain, evidence and public URLs come from `tambon.settings`."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAMBON_WEB_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    #: uvicorn worker processes (one per core is right for the verify page: it is CPU-bound on cache hits)
    workers: int = 1
    #: name of the อปท. whose escrow this site shows, "ไทย (English)": each page shows the part in its language
    org_name: str = "อบต. ตัวอย่าง (Example SAO)"
    #: GS1 company prefix used to build GTIN-14s for crops (a demo prefix in Thailand's 885 range)
    gs1_company_prefix: str = "8850000"
    #: largest single evidence upload, all files together (bytes)
    max_upload_bytes: int = 20 * 1024 * 1024
    #: largest body of any other request (JSON of the wallet routes, record validation), bytes
    max_body_bytes: int = 1024 * 1024
    #: a wallet session after Sign-In with Ethereum (seconds)
    session_seconds: int = 12 * 3600
    #: how long a sign-in message (and its nonce) may be used (seconds)
    sign_in_seconds: int = 600
    #: uploads one account may make (limits notation: N/second|minute|hour|day)
    uploads_per_account: str = "30/minute"
    #: uploads from one client IP, whatever the account
    uploads_per_ip: str = "60/minute"
    #: every other write under /api/ from one client IP (sign-in, council signatures, record checks)
    writes_per_ip: str = "120/minute"
    #: bytes one account may upload per UTC day
    upload_bytes_per_day: int = 500 * 1024 * 1024
    #: most files in one evidence upload
    max_upload_files: int = 12
    #: largest evidence DAG the site fetches and verifies for a page (bytes)
    max_evidence_bytes: int = 64 * 1024 * 1024
    #: how long a council signing round stays open (seconds; the Release deadline)
    release_window_seconds: int = 7 * 86_400
    #: seconds a failed evidence fetch (unreachable, not found) is remembered before retrying
    evidence_retry_seconds: float = 30.0
    #: seconds a proven evidence CID is trusted before it is fetched and proven again
    evidence_recheck_seconds: float = 20.0
    #: batch histories kept per worker (keyed by the facts they show, so never stale)
    page_cache_size: int = 512
    #: bytes of rendered pages kept per worker (~20 KiB a verify page: 256 MiB hold 10,000 lots in
    #: both languages)
    page_cache_bytes: int = 256 * 1024 * 1024
    #: on a server database (PostgreSQL), how often a worker reads the index's head (seconds); on
    #: SQLite it is read again exactly when the index database changed
    index_poll_seconds: float = Field(default=0.1, ge=0)
    #: read batches from the chain index (`tambon index run`) when one has been started
    read_index: bool = True
    #: FastAPI's native OpenTelemetry instrumentation (traces, metrics, logs to the providers set up in
    #: the process); off by default, as its per-request check of those providers costs ~20 us, an
    #: eighth of a cached verify page
    opentelemetry: bool = False

    @field_validator("uploads_per_account", "uploads_per_ip", "writes_per_ip")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"not a rate like '30/minute': {value!r}") from exc
        return value

    @field_validator("gs1_company_prefix")
    @classmethod
    def _prefix_digits(cls, value: str) -> str:
        if not value.isdigit() or not 6 <= len(value) <= 12:
            raise ValueError("gs1_company_prefix must be 6 to 12 digits")
        return value

    @field_validator(
        "workers",
        "max_upload_bytes",
        "max_body_bytes",
        "max_upload_files",
        "max_evidence_bytes",
        "page_cache_size",
        "page_cache_bytes",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value


@lru_cache
def get_web_settings() -> WebSettings:
    return WebSettings()
