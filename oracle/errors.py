"""Errors of the oracle package; the CLI prints each as one `error:` line."""

from __future__ import annotations

from tambon.errors import TambonError


class OracleError(TambonError):
    """Base class for every expected oracle failure."""


class ImageError(OracleError):
    """A file is missing, corrupt or not an image format the grader reads."""


class ModelIntegrityError(OracleError):
    """The model file does not match its shipped sha256 (tampered or replaced); refused."""

    exit_code = 3


class ModelError(OracleError):
    """The model file is missing or cannot be loaded."""


class EvidenceError(OracleError):
    """An evidence bundle cannot be fetched or does not match its CID."""


class KeystoreError(OracleError):
    """The oracle key cannot be loaded (missing keystore, wrong password, demo key off the local chain)."""


class ItemRefused(OracleError):
    """A work item this oracle will never attest (e.g. a crop without cold-chain rules); dropped, not retried."""
