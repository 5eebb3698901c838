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

from evidence import dag
from evidence.cids import cid_str, to_onchain
from evidence.errors import BadRequest, MalformedDag
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
