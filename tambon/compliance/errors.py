"""Errors of the compliance exports; every one is a `TambonError` the CLI prints as one line."""

from __future__ import annotations

from tambon.errors import TambonError


class ComplianceError(TambonError):
    """Base class of every compliance-export failure; `http_status` is what a web route answers."""

    http_status = 400


class InvalidGtin(ComplianceError, ValueError):
    """A GTIN (or GLN) has the wrong length, non-digits or a wrong check digit."""


class InvalidDigitalLink(ComplianceError, ValueError):
    """A GS1 Digital Link URI or path cannot be parsed."""


class InvalidGeometry(ComplianceError, ValueError):
    """A plot geolocation is not valid GeoJSON (WGS84, enough decimals, closed simple rings)."""


class UnknownLinkType(ComplianceError, ValueError):
    """`?linkType=` names a link this resolver does not offer."""


class NotFound(ComplianceError, LookupError):
    """No batch, lot or serial matches."""

    http_status = 404
