"""Evidence bundles: a UnixFS directory of photos plus `record.json`, referenced on-chain by CID.

    result = build_bundle(store, record={...}, photos=["a.jpg", Path("b.jpg")])
    result.cid          # "bafybei..."
    result.onchain      # OnchainCid(digest=<32 bytes>, codec=0x70)

`record.json` is validated by a pluggable callable (the JSON Schema lands separately); by
default it only has to be a JSON object. The JSON is serialised deterministically (sorted
keys, UTF-8, no extra whitespace) so the same record always gives the same CID.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence import dag
from evidence.cids import cid_str, to_onchain
from evidence.errors import BadRequest, MalformedDag, NoRecord
from evidence.importer import check_name, get_profile, import_tree
from evidence.store import EvidenceStore, split_ipfs_path
from tambon.cid import OnchainCid
from tambon.records import RecordInvalid, loads, validate_record

RECORD_NAME = "record.json"
RecordValidator = Callable[[Mapping], None]
#: biggest record.json read back from a bundle (a record is small; a huge one is suspicious)
MAX_RECORD_BYTES = 4 * 1024 * 1024


def require_object(record: Mapping) -> None:
    """Default validator: any JSON object."""
    if not isinstance(record, Mapping):
        raise BadRequest("record.json must be a JSON object")


def require_kdes(record: Mapping) -> None:
    """Strict validator for uploads: record.json per its versioned schema (schemas/record/, tambon.records),
    refused with the list of every missing FSMA 204 KDE."""
    try:
        validate_record(record)
    except RecordInvalid as exc:
        raise BadRequest(str(exc)) from exc


def record_bytes(record: Mapping) -> bytes:
    try:
        return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"record is not JSON-serialisable: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Bundle:
    cid: str
    onchain: OnchainCid
    files: tuple[str, ...]


def bundle_files(
    record: Mapping,
    photos: Iterable[str | os.PathLike] | Mapping[str, bytes | str | os.PathLike] = (),
    *,
    validate: RecordValidator = require_object,
) -> dict[str, bytes | str | os.PathLike]:
    """{name: content} of a bundle; photo names must be unique plain names, not `record.json`."""
    validate(record)
    files: dict[str, bytes | str | os.PathLike] = {RECORD_NAME: record_bytes(record)}
    items = photos.items() if isinstance(photos, Mapping) else ((Path(p).name, p) for p in photos)
    for name, content in items:
        check_name(name)
        if name in files:
            raise BadRequest(f"duplicate bundle entry {name!r}")
        if not isinstance(content, bytes) and not Path(content).is_file():
            raise BadRequest(f"{content}: not a file")
        files[name] = content
    return files


def build_bundle(
    store: EvidenceStore,
    record: Mapping,
    photos: Iterable[str | os.PathLike] | Mapping[str, bytes | str | os.PathLike] = (),
    *,
    validate: RecordValidator = require_object,
    pin: bool = True,
) -> Bundle:
    """Add the bundle to `store`; returns its CID and on-chain form."""
    files = bundle_files(record, photos, validate=validate)
    cid = store.add_tree(files, pin=pin)
    return Bundle(cid, to_onchain(cid), tuple(sorted(files)))


def bundle_cid(
    record: Mapping,
    photos: Iterable[str | os.PathLike] | Mapping[str, bytes | str | os.PathLike] = (),
    *,
    profile: str = "kubo-v1",
    validate: RecordValidator = require_object,
) -> Bundle:
    """The CID a bundle will have, computed without storing anything."""
    files = bundle_files(record, photos, validate=validate)
    node = import_tree(files, get_profile(profile))
    cid = cid_str(node.cid)
    return Bundle(cid, to_onchain(cid), tuple(sorted(files)))


@dataclass(frozen=True)
class OpenedBundle:
    """What an evidence CID holds: a bundle's entries and record.json, or a single file's bytes.

    Read through a verifying block getter (a store, or a CAR already checked against the CID), so
    every byte here hashes up to the CID.
    """

    cid: str
    #: the directory's entries; () for a single file
    entries: tuple[dag.Entry, ...]
    #: record.json of a bundle, or a single file that is a JSON object; None if absent or not one
    record: dict | None
    #: a single file's bytes; None for a directory
    content: bytes | None
    _get: dag.Getter

    @property
    def is_directory(self) -> bool:
        return self.content is None

    def files(self) -> list[dag.Entry]:
        return [e for e in self.entries if e.kind == "file"]

    def photo_names(self, suffixes: tuple[str, ...]) -> list[str]:
        """The photos record.json lists (that the bundle holds), else every file ending in `suffixes`, sorted."""
        names = {e.name for e in self.files()}
        listed = self.record.get("photos") if self.record is not None else None
        if isinstance(listed, list) and listed:
            return [n for n in listed if isinstance(n, str) and n in names]
        return sorted(n for n in names if n.lower().endswith(suffixes))

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """One file of the bundle."""
        return dag.read_file(self._get, dag.resolve(self._get, _root(self.cid), name), max_bytes=max_bytes)


def open_bundle(
    get: dag.Getter | EvidenceStore, cid: str, *, max_file_bytes: int | None = None
) -> OpenedBundle:
    """Open the evidence at `cid`: a directory gives its entries and record.json, a file its bytes
    (at most `max_file_bytes`). Raises the store's EvidenceError for a missing or malformed DAG."""
    getter = _getter(get)
    root = _root(cid)
    if dag.stat(getter, root).kind != "directory":
        content = dag.read_file(getter, root, max_bytes=max_file_bytes)
        return OpenedBundle(cid, (), json_object(content), content, getter)
    entries = tuple(dag.ls(getter, root))
    record = None
    if any(e.name == RECORD_NAME and e.kind == "file" for e in entries):
        raw = dag.read_file(getter, dag.resolve(getter, root, RECORD_NAME), max_bytes=MAX_RECORD_BYTES)
        record = json_object(raw)
    return OpenedBundle(cid, entries, record, None, getter)


#: `open_cid(cid) -> (kind, document)`: kind "directory" with the bundle's record.json, or "file" with
#: the file's JSON object (None when it holds none); raises when the CID cannot be read or proven.
CidOpener = Callable[[str], tuple[str, Mapping[str, Any] | None]]


def open_record(get: dag.Getter | EvidenceStore, cid: str) -> tuple[str, dict | None]:
    """`cid` opened as `record_behind` reads it (a file larger than a record is refused unread)."""
    opened = open_bundle(get, cid, max_file_bytes=MAX_RECORD_BYTES)
    return ("directory" if opened.is_directory else "file"), opened.record


def evidence_link(document: Mapping[str, Any]) -> Any:
    """What an ERC-721 metadata document names as its evidence (`evidence` or `properties.evidence`,
    meant to be an `ipfs://` URI), unchecked."""
    found = document.get("properties")
    props: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return document.get("evidence") or props.get("evidence")


def linked_bundle(document: Mapping[str, Any]) -> str | None:
    """The evidence bundle CID an ERC-721 metadata document links, if any."""
    link = evidence_link(document)
    if isinstance(link, str) and link.startswith("ipfs://"):
        return link.removeprefix("ipfs://").split("/", 1)[0]
    return None


def record_behind(cid: str, open_cid: CidOpener) -> Mapping[str, Any]:
    """The record.json an on-chain evidence CID stands for: a bundle's record, a bare record file,
    or, for a batch's ERC-721 metadata document, the record of the bundle it links (one hop).
    `open_cid` is `open_record` over a store, or a reader's own proven openings of the same."""
    kind, document = open_cid(cid)
    if kind == "directory":
        if document is None:
            raise NoRecord(f"evidence bundle {cid} holds no {RECORD_NAME}")
        return document
    if document is None:
        raise NoRecord(f"{cid} is not a JSON object")
    if "schema_version" in document or "event" in document:
        return document
    linked = linked_bundle(document)
    if linked is None:
        raise NoRecord(f"{cid} is neither an evidence bundle nor metadata linking one")
    kind, record = open_cid(linked)
    if kind != "directory" or record is None:
        raise NoRecord(
            f"{linked}, linked by the metadata {cid}, is not an evidence bundle with a {RECORD_NAME}"
        )
    return record


def record_fetcher(get: dag.Getter | EvidenceStore) -> Callable[[str], Mapping[str, Any]]:
    """record.json of an on-chain CID from an evidence store (a metadata document leads to its bundle)."""
    return lambda cid: record_behind(cid, lambda c: open_record(get, c))


def index_records(store: EvidenceStore | None = None) -> Callable[[str], Mapping[str, Any] | None]:
    """What the chain index reads lot identities from: the valid record behind an on-chain CID, None
    when it names none (missing or not a valid record, as on the site); `RecordsUnavailable` when the
    store (default: the configured one) cannot be asked."""
    from evidence.errors import RemoteError
    from evidence.remote import open_store
    from tambon import records
    from tambon.errors import TambonError
    from tambon.index.lots import RecordsUnavailable

    fetch = record_fetcher(store if store is not None else open_store())

    def record(cid: str) -> Mapping[str, Any] | None:
        try:
            return records.read_record(fetch(cid))  # validated, upgraded to the current version
        except RemoteError as exc:
            raise RecordsUnavailable(f"evidence store: {exc}") from exc
        except (TambonError, RecordInvalid, OSError, ValueError, KeyError):
            return None

    return record


def json_object(raw: bytes) -> dict | None:
    """`raw` as a JSON object read strictly (NaN/Infinity refused, numbers kept as written), else None."""
    try:
        value = loads(raw)
    except RecordInvalid:
        return None
    return value if isinstance(value, dict) else None


def read_bundle_file(
    get: dag.Getter | EvidenceStore, cid: str, path: str, max_bytes: int | None = None
) -> bytes:
    getter = _getter(get)
    return dag.read_file(getter, dag.resolve(getter, _root(cid), path), max_bytes=max_bytes)


def read_record(
    get: dag.Getter | EvidenceStore, cid: str, *, validate: RecordValidator = require_object
) -> dict:
    raw = read_bundle_file(get, cid, RECORD_NAME, max_bytes=MAX_RECORD_BYTES)
    try:
        record = loads(raw)  # NaN/Infinity refused, numbers kept as written
    except RecordInvalid as exc:
        raise MalformedDag(f"{RECORD_NAME} in {cid}: {exc.problems[0]}") from exc
    validate(record)
    return record


def _getter(get: dag.Getter | EvidenceStore) -> dag.Getter:
    return get.get_block if hasattr(get, "get_block") else get


def _root(cid: str) -> bytes:
    root, path = split_ipfs_path(cid)
    if path:
        raise BadRequest("give the bundle's CID, not a path inside it")
    return root
