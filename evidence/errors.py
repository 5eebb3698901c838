"""Errors of the evidence store. Every one is a `TambonError`, so the CLI prints it as one line.

Each class carries the HTTP status the embedded node answers with, so the server maps
errors to responses in one place.
"""

from __future__ import annotations

from tambon.errors import InvalidCid, TambonError


class EvidenceError(TambonError):
    """Base class of every evidence-store failure."""

    http_status = 500


class BadRequest(EvidenceError):
    """A request or argument is malformed."""

    http_status = 400


class MalformedCid(BadRequest, InvalidCid):
    """A string is not a CID the store can serve (bad encoding, unsupported hash or codec)."""


class UnsafePath(BadRequest):
    """A file or directory name would escape its directory or is not a plain UTF-8 name."""


class BlockNotFound(EvidenceError):
    """The store does not hold a block (or a path inside a directory does not exist)."""

    http_status = 404


class CorruptBlock(EvidenceError):
    """A stored block does not hash to its CID; it is never served."""

    http_status = 500


class MalformedDag(EvidenceError):
    """A block decodes to something that is not valid dag-pb / UnixFS for the request."""

    http_status = 422


class NoRecord(EvidenceError):
    """An evidence CID leads to no record.json: neither a bundle holding one, a record file, nor
    metadata linking such a bundle."""

    http_status = 422


class UploadTooLarge(EvidenceError):
    """An upload exceeds the configured size limit."""

    http_status = 413


class DirectoryTooLarge(EvidenceError):
    """A directory would need HAMT sharding, which this importer does not build."""

    http_status = 413


class CidMismatch(EvidenceError):
    """Bytes, a CAR or a remote node's answer do not match the expected CID."""

    http_status = 502


class RemoteError(EvidenceError):
    """A remote IPFS node (Kubo or another embedded node) failed or is unreachable."""

    http_status = 502
