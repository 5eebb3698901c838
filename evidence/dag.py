"""Reading UnixFS DAGs block by block from any verified block source.

Everything here takes `get`, a callable returning a block's bytes for a binary CID and
raising `BlockNotFound`/`CorruptBlock`; the stores, the HTTP clients and a verified CAR all
provide one, so the gateway, the clients and the verify site share this code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from evidence import pb
from evidence.cids import RAW, cid_str, codec_of, parse_cid
from evidence.errors import BlockNotFound, MalformedDag, UnsafePath
from evidence.importer import check_name

Getter = Callable[[bytes], bytes]

#: deeper than any balanced tree of a file that fits on a disk; stops crafted link loops
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    cid: str
    size: int  # Tsize of the link: cumulative bytes of the child's blocks
    kind: str  # file | directory | symlink | unknown


@dataclass(frozen=True, slots=True)
class Stat:
    cid: str
    kind: str
    size: int  # content bytes for a file / symlink target length; 0 for a directory


def _as_cid(cid: bytes | str) -> bytes:
    return cid if isinstance(cid, bytes) else parse_cid(cid)


def decode(get: Getter, cid: bytes) -> tuple[str, pb.PBNode | None, pb.UnixFSData | None, bytes]:
    """(kind, node, unixfs, block) of one block."""
    block = get(cid)
    if codec_of(cid) == RAW:
        return "file", None, None, block
    node = pb.decode_node(block)
    unixfs = pb.decode_unixfs(node.data)
    if unixfs.type in (pb.FILE, pb.RAW):
        kind = "file"
    elif unixfs.type == pb.DIRECTORY:
        kind = "directory"
    elif unixfs.type == pb.SYMLINK:
        kind = "symlink"
    elif unixfs.type == pb.HAMT_SHARD:
        kind = "hamt"
    else:
        raise MalformedDag(f"{cid_str(cid)}: unsupported UnixFS type {unixfs.type_name}")
    return kind, node, unixfs, block


def stat(get: Getter, cid: bytes | str) -> Stat:
    raw = _as_cid(cid)
    kind, _node, unixfs, block = decode(get, raw)
    if unixfs is None:
        return Stat(cid_str(raw), "file", len(block))
    if kind == "file":
        size = unixfs.filesize if unixfs.filesize is not None else len(unixfs.data or b"")
        return Stat(cid_str(raw), kind, size)
    if kind == "symlink":
        return Stat(cid_str(raw), kind, len(unixfs.data or b""))
    return Stat(cid_str(raw), "directory", 0)


def iter_file(get: Getter, cid: bytes | str) -> Iterator[bytes]:
    """A file's bytes, block by block, each block verified by `get` before it is yielded."""
    raw = _as_cid(cid)
    stack: list[tuple[bytes, int]] = [(raw, 0)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedDag(f"{cid_str(raw)}: file DAG deeper than {MAX_DEPTH} levels")
        kind, node, unixfs, block = decode(get, current)
        if node is None:
            if block:
                yield block
            continue
        if kind != "file" or unixfs is None:
            raise MalformedDag(f"{cid_str(current)} is a {kind}, not a file")
        if unixfs.data:
            yield unixfs.data
        if node.links:
            if len(unixfs.blocksizes) != len(node.links):
                raise MalformedDag(f"{cid_str(current)}: blocksizes do not match the links")
            stack.extend((link.hash, depth + 1) for link in reversed(node.links))


def read_file(get: Getter, cid: bytes | str, max_bytes: int | None = None) -> bytes:
    out = bytearray()
    for chunk in iter_file(get, cid):
        out += chunk
        if max_bytes is not None and len(out) > max_bytes:
            raise MalformedDag(f"{cid_str(_as_cid(cid))} is larger than {max_bytes} bytes")
    return bytes(out)


def _directory_links(get: Getter, cid: bytes) -> list[pb.PBLink]:
    kind, node, _unixfs, _block = decode(get, cid)
    if kind == "hamt":
        raise MalformedDag(f"{cid_str(cid)} is a HAMT-sharded directory, which this store does not read")
    if kind != "directory" or node is None:
        raise MalformedDag(f"{cid_str(cid)} is a {kind}, not a directory")
    return node.links


def ls(get: Getter, cid: bytes | str) -> list[Entry]:
    """Entries of a directory in link order (sorted by name bytes), with each child's kind."""
    raw = _as_cid(cid)
    out = []
    for link in _directory_links(get, raw):
        if codec_of(link.hash) == RAW:
            kind = "file"
        else:
            try:
                kind = decode(get, link.hash)[0]
            except BlockNotFound:
                kind = "unknown"
        out.append(Entry(link.name, cid_str(link.hash), link.tsize, kind))
    return out


def split_content_path(path: str) -> list[str]:
    """Path segments inside a DAG (`a/b/c.jpg`); '.', '..' and empty names refused."""
    segments = [s for s in path.split("/") if s != ""]
    for segment in segments:
        if segment in (".", ".."):
            raise UnsafePath(f"path {path!r} contains {segment!r}")
        check_name(segment)
    return segments


def resolve(get: Getter, cid: bytes | str, path: str | list[str] = "") -> bytes:
    """CID of the node at `path` below `cid` (each directory block verified on the way)."""
    current = _as_cid(cid)
    segments = split_content_path(path) if isinstance(path, str) else path
    for i, segment in enumerate(segments):
        for link in _directory_links(get, current):
            if link.name == segment:
                current = link.hash
                break
        else:
            where = "/".join(segments[: i + 1])
            raise BlockNotFound(f"no entry {where!r} in {cid_str(_as_cid(cid))}")
    return current


def path_blocks(get: Getter, cid: bytes | str, path: str | list[str] = "") -> Iterator[tuple[bytes, bytes]]:
    """The (cid, block) pairs a verifier needs to follow `path`, ending before the target."""
    current = _as_cid(cid)
    segments = split_content_path(path) if isinstance(path, str) else path
    for segment in segments:
        block = get(current)
        yield current, block
        current = resolve(get, current, [segment])


def walk_blocks(get: Getter, cid: bytes | str) -> Iterator[tuple[bytes, bytes]]:
    """Every block of the DAG under `cid` in depth-first pre-order, each once."""
    raw = _as_cid(cid)
    seen: set[bytes] = set()
    stack: list[tuple[bytes, int]] = [(raw, 0)]
    while stack:
        current, depth = stack.pop()
        if current in seen:
            continue
        if depth > MAX_DEPTH:
            raise MalformedDag(f"{cid_str(raw)}: DAG deeper than {MAX_DEPTH} levels")
        seen.add(current)
        block = get(current)
        yield current, block
        if codec_of(current) != RAW:
            node = pb.decode_node(block)
            stack.extend((link.hash, depth + 1) for link in reversed(node.links))
