"""Every error a user can cause derives from TambonError; the CLI prints its message as one line."""


class TambonError(Exception):
    """Base class for expected, user-facing failures.

    `exit_code` is what the CLI exits with; `http_status` is what a web server answers with, so
    every server maps errors to responses in one place. A subclass sets the status of its kind.
    """

    exit_code = 1
    http_status = 500


class ConfigError(TambonError):
    """Settings or deployments are missing or unsafe."""


class InvalidCid(TambonError, ValueError):
    """A string or on-chain pair is not a CID this project accepts."""

    http_status = 400


class ChainError(TambonError):
    """The node refused or reverted a call; the message carries the revert reason."""

    http_status = 502


class SignatureError(TambonError):
    """A signature does not verify or is malformed."""

    http_status = 400
