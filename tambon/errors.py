"""Every error a user can cause derives from TambonError; the CLI prints its message as one line."""


class TambonError(Exception):
    """Base class for expected, user-facing failures."""

    exit_code = 1


class ConfigError(TambonError):
    """Settings or deployments are missing or unsafe."""


class InvalidCid(TambonError, ValueError):
    """A string or on-chain pair is not a CID this project accepts."""


class ChainError(TambonError):
    """The node refused or reverted a call; the message carries the revert reason."""


class SignatureError(TambonError):
    """A signature does not verify or is malformed."""
