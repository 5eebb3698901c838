"""Errors of the verify site. Each carries the HTTP status the app answers with."""

from __future__ import annotations

from tambon.errors import TambonError


class FrontendError(TambonError):
    """Base class of every verify-site failure."""

    http_status = 500


class BadInput(FrontendError):
    """A path parameter, query or body is malformed."""

    http_status = 400


class NotFound(FrontendError):
    """No such batch, grant or milestone on this deployment."""

    http_status = 404


class Conflict(FrontendError):
    """The request does not fit the current on-chain state (e.g. milestone not submitted)."""

    http_status = 409


class UploadRejected(FrontendError):
    """An evidence upload is too large, has too many files or a type the site does not take."""

    http_status = 413


class UnsupportedMedia(UploadRejected):
    http_status = 415


class Upstream(FrontendError):
    """The chain node or the evidence store failed."""

    http_status = 502
