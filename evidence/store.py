"""One interface for every evidence store: the embedded node in process, any Kubo-RPC node over
HTTP (our own node or Kubo), and a real Kubo node through `ipfshttpclient`.

Reads are trustless everywhere: content is assembled from blocks that are each re-hashed
against their CID (`get_block`), so a remote node cannot hand back different bytes.
Adds to a remote node are checked too: the CID the node reports must equal the CID computed
locally with the same profile, or the add fails with `CidMismatch`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from evidence import dag
from evidence.blockstore import BlockStore
from evidence.cids import cid_str, parse_cid
from evidence.errors import BadRequest, MalformedDag
from evidence.importer import FileImporter, Profile, get_profile, import_path, import_tree
from evidence.importer import TreeBuilder as TreeBuilder  # re-export for callers building trees


@runtime_checkable
class EvidenceStore(Protocol):
    """What the oracle, the frontend and the CLI use; CIDs are strings at this boundary."""

    profile: Profile

    def add_bytes(self, data: bytes, name: str = "", *, pin: bool = True) -> str: ...
    def add_stream(self, stream: BinaryIO, name: str = "", *, pin: bool = True) -> str: ...
    def add_path(self, path: str | os.PathLike, *, pin: bool = True, hidden: bool = False) -> str: ...
    def add_tree(self, files: Mapping[str, bytes | str | os.PathLike], *, pin: bool = True) -> str: ...
    def get_block(self, cid: str | bytes) -> bytes: ...
    def cat(self, cid: str, path: str = "") -> bytes: ...
    def iter_cat(self, cid: str, path: str = "") -> Iterator[bytes]: ...
    def ls(self, cid: str, path: str = "") -> list[dag.Entry]: ...
    def stat(self, cid: str, path: str = "") -> dag.Stat: ...
    def get(self, cid: str, out: str | os.PathLike) -> Path: ...
    def pin(self, cid: str) -> None: ...
    def unpin(self, cid: str) -> None: ...
    def pins(self) -> list[str]: ...


def split_ipfs_path(value: str) -> tuple[bytes, str]:
    """`/ipfs/<cid>/a/b`, `ipfs://<cid>/a` or `<cid>/a` -> (binary CID, 'a/b')."""
    text = value.strip()
    for prefix in ("ipfs://", "/ipfs/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    cid_part, _, rest = text.partition("/")
    return parse_cid(cid_part), rest


class ReadMixin:
    """Reading built on `get_block`: every block verified, DAGs walked by evidence.dag."""

    def get_block(self, cid: bytes | str) -> bytes:
        raise NotImplementedError  # each store reads and verifies its own blocks

    def _getter(self):
        return lambda cid: self.get_block(cid)

    def _target(self, cid: str | bytes, path: str = "") -> bytes:
        if isinstance(cid, bytes):
            root, extra = cid, ""
        else:
            root, extra = split_ipfs_path(cid)
        full = "/".join(p for p in (extra, path) if p)
        return dag.resolve(self._getter(), root, full)

    def iter_cat(self, cid: str, path: str = "") -> Iterator[bytes]:
        return dag.iter_file(self._getter(), self._target(cid, path))

    def cat(self, cid: str, path: str = "") -> bytes:
        return b"".join(self.iter_cat(cid, path))

    def ls(self, cid: str, path: str = "") -> list[dag.Entry]:
        return dag.ls(self._getter(), self._target(cid, path))

    def stat(self, cid: str, path: str = "") -> dag.Stat:
        return dag.stat(self._getter(), self._target(cid, path))

    def get(self, cid: str, out: str | os.PathLike) -> Path:
        """Write a file or a directory tree to `out` (which must not exist yet); returns `out`."""
        target = Path(out)
        if target.exists():
            raise BadRequest(f"{target} already exists")
        getter = self._getter()
        root = self._target(cid)
        tmp = target.with_name(f".{target.name}.partial")
        if tmp.exists():
            raise BadRequest(f"{tmp} already exists (left by an interrupted get?)")
        try:
            self._write_node(getter, root, tmp, 0)
            os.replace(tmp, target)
        except BaseException:
            _remove(tmp)
            raise
        return target

    def _write_node(self, getter, cid: bytes, dest: Path, depth: int) -> None:
        if depth > dag.MAX_DEPTH:
            raise MalformedDag("directory tree too deep")
        kind = dag.stat(getter, cid).kind
        if kind == "file":
            with open(dest, "xb") as f:
                for chunk in dag.iter_file(getter, cid):
                    f.write(chunk)
        elif kind == "directory":
            dest.mkdir()
            for entry in dag.ls(getter, cid):
                dag.split_content_path(entry.name)  # refuses '..', separators, NUL
                self._write_node(getter, parse_cid(entry.cid), dest / entry.name, depth + 1)
        elif kind == "symlink":
            raise BadRequest(f"{cid_str(cid)} is a symlink; evidence bundles hold only files and directories")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


class LocalStore(ReadMixin):
    """The embedded node's store used in process (also what `tambon evidence serve` serves)."""

    def __init__(self, root: str | os.PathLike, profile: str | Profile | None = None, *, fsync: bool = False):
        self.blocks = BlockStore(root, fsync=fsync)
        self.profile = get_profile(profile)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.blocks.root)!r}, profile={self.profile.name!r})"

    def get_block(self, cid: str | bytes) -> bytes:
        return self.blocks.get(cid)

    def has(self, cid: str | bytes) -> bool:
        return self.blocks.has(cid)

    def _finish(self, node_cid: bytes, pin: bool) -> str:
        if pin:
            self.blocks.pin(node_cid)
        return cid_str(node_cid)

    def add_bytes(self, data: bytes, name: str = "", *, pin: bool = True) -> str:
        with self.blocks.transaction() as tx:
            imp = FileImporter(self.profile, tx)
            imp.write(data)
            node = imp.close()
        return self._finish(node.cid, pin)

    def add_many(self, files: Iterable[bytes], *, pin: bool = True) -> list[str]:
        """Several files in one block transaction (one staging directory, not one per file: on a
        slow filesystem creating and removing it costs more than a small file's blocks)."""
        with self.blocks.transaction() as tx:
            nodes = []
            for data in files:
                imp = FileImporter(self.profile, tx)
                imp.write(data)
                nodes.append(imp.close())
        return [self._finish(node.cid, pin) for node in nodes]

    def add_stream(
        self, stream: BinaryIO, name: str = "", *, pin: bool = True, limit: int | None = None
    ) -> str:
        with self.blocks.transaction() as tx:
            node = FileImporter(self.profile, tx).read_from(stream, limit=limit)
        return self._finish(node.cid, pin)

    def add_path(self, path: str | os.PathLike, *, pin: bool = True, hidden: bool = False) -> str:
        with self.blocks.transaction() as tx:
            node = import_path(path, self.profile, tx, hidden=hidden)
        return self._finish(node.cid, pin)

    def add_tree(self, files: Mapping[str, bytes | str | os.PathLike], *, pin: bool = True) -> str:
        with self.blocks.transaction() as tx:
            node = import_tree(files, self.profile, tx)
        return self._finish(node.cid, pin)

    def pin(self, cid: str) -> None:
        raw, path = split_ipfs_path(cid)
        target = dag.resolve(self._getter(), raw, path)
        for _ in dag.walk_blocks(self._getter(), target):  # the whole DAG must be present and intact
            pass
        self.blocks.pin(target)

    def unpin(self, cid: str) -> None:
        raw, _ = split_ipfs_path(cid)
        if not self.blocks.unpin(raw):
            raise BadRequest(f"{cid_str(raw)} is not pinned")

    def pins(self) -> list[str]:
        return self.blocks.pins()
