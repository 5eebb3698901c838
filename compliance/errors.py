"""Errors of the compliance exports; every one is a `TambonError` the CLI prints as one line."""

from __future__ import annotations

from tambon.errors import TambonError


class ComplianceError(TambonError):
    """Base class of every compliance-export failure; `http_status` is what a web route answers."""

    http_status = 400


class NotFound(ComplianceError, LookupError):
    """No batch, lot or serial matches."""

    http_status = 404
