"""UnixFS importer that gives the same CIDs as Kubo and `ipfs-unixfs-importer`.

Only the DAG layout lives here (chunking, balanced tree, directories); CIDs, multihash and
varints come from `multiformats` (see `evidence.cids`), the protobuf bytes from `evidence.pb`.

Speed: the file is read with `readinto` into a small ring of reusable buffers (bounded memory:
`RING` buffers of a few MiB whatever the file size); each full buffer is hashed chunk by chunk
on a worker thread (hashlib releases the GIL), so hashing runs on every core while the main
thread reads ahead and folds finished leaves into the tree.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import BinaryIO, Protocol

from evidence import pb
from evidence.cids import leaf_prefix, node_prefix
from evidence.errors import BadRequest, DirectoryTooLarge, UnsafePath, UploadTooLarge

KIB = 1024
MIB = 1024 * KIB
#: buffers in flight per file import (bounded memory: RING x buffer size)
RING = 6
BUFFER_BYTES = 4 * MIB
#: regular files at least this big are hashed from memory maps instead of read into buffers
MAP_MIN_BYTES = 16 * MIB
_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
DIR_DATA = pb.encode_unixfs(pb.DIRECTORY)


@dataclass(frozen=True, slots=True)
class Profile:
    """Import parameters; the named presets below are the ones Kubo and the JS importer define."""

    name: str
    cid_version: int
    raw_leaves: bool
    chunk_size: int
    max_links: int
    #: how the reference importers estimate a directory's size before switching to a HAMT
    shard_strategy: str = "links-bytes"
    shard_threshold: int = 256 * KIB

    def __post_init__(self) -> None:
        if self.cid_version not in (0, 1):
            raise BadRequest(f"cid version must be 0 or 1, got {self.cid_version}")
        if self.cid_version == 0 and self.raw_leaves:
            raise BadRequest("raw leaves need CIDv1")
        if not 1 <= self.chunk_size <= MIB:
            raise BadRequest(f"chunk size must be 1 B .. 1 MiB, got {self.chunk_size}")
        if self.max_links < 2:
            raise BadRequest("a file node needs at least 2 links")


PROFILES: dict[str, Profile] = {
    # `ipfs add` defaults: CIDv0, dag-pb leaves, 256 KiB chunks, 174 links per node.
    "kubo-v0": Profile("kubo-v0", 0, False, 256 * KIB, 174),
    # `ipfs add --cid-version=1`: raw leaves, 256 KiB chunks, 174 links per node.
    "kubo-v1": Profile("kubo-v1", 1, True, 256 * KIB, 174),
    # IPIP-499 `unixfs-v1-2025`: raw leaves, 1 MiB chunks, 1024 links, block-size HAMT estimate.
    "unixfs-v1-2025": Profile("unixfs-v1-2025", 1, True, MIB, 1024, "block-bytes"),
}
DEFAULT_PROFILE = "kubo-v1"


def get_profile(profile: str | Profile | None) -> Profile:
    if isinstance(profile, Profile):
        return profile
    name = profile or DEFAULT_PROFILE
    try:
        return PROFILES[name]
    except KeyError:
        raise BadRequest(f"unknown profile {name!r} (known: {', '.join(PROFILES)})") from None


@dataclass(frozen=True, slots=True)
class Node:
    """A finished DAG root: binary CID, cumulative block size (dag-pb Tsize), content size."""

    cid: bytes
    tsize: int
    filesize: int
    kind: str = "file"  # file | directory | symlink


class BlockSink(Protocol):
    """Receives every block the importer makes; `parts` concatenated are the block's bytes.

    Called from worker threads, so implementations must be thread-safe.
    """

    def put(self, cid: bytes, parts: tuple[bytes | memoryview, ...]) -> None: ...


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            workers = max(2, min(4, os.cpu_count() or 2))
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="unixfs-hash")
        return _pool


# --------------------------------------------------------------------------- leaf jobs


def _raw_leaves(mv: memoryview, cs: int, prefix: bytes, sink: BlockSink | None) -> list[tuple]:
    out: list[tuple] = []
    append = out.append
    n = len(mv)
    for off in range(0, n, cs):
        piece = mv[off : off + cs]
        cid = prefix + sha256(piece).digest()
        if sink is not None:
            sink.put(cid, (piece,))
        size = len(piece)
        append((cid, size, size))
    return out


def _pb_leaves(mv: memoryview, cs: int, prefix: bytes, sink: BlockSink | None) -> list[tuple]:
    """dag-pb leaves as current Kubo (boxo) and the JS importer make them: UnixFS type File."""
    out = []
    n = len(mv)
    full = pb.leaf_node_parts(pb.FILE, cs)
    for off in range(0, n, cs):
        piece = mv[off : off + cs]
        size = len(piece)
        head, tail = full if size == cs else pb.leaf_node_parts(pb.FILE, size)
        h = sha256(head)
        h.update(piece)
        h.update(tail)
        cid = prefix + h.digest()
        if sink is not None:
            sink.put(cid, (head, piece, tail))
        out.append((cid, len(head) + size + len(tail), size))
    return out


# --------------------------------------------------------------------------- files


class FileImporter:
    """Builds one file's DAG from a stream of bytes (push with `write`, or pull with `read_from`)."""

    def __init__(self, profile: str | Profile | None = None, sink: BlockSink | None = None) -> None:
        self.profile = p = get_profile(profile)
        self.sink = sink
        self._cs = p.chunk_size
        self._buf_size = max(2, BUFFER_BYTES // p.chunk_size) * p.chunk_size
        self._leaf_prefix = leaf_prefix(p.cid_version, p.raw_leaves)
        self._node_prefix = node_prefix(p.cid_version)
        self._ring: list[bytearray] = []
        self._dispatched = 0
        self._inflight: deque[Future | list] = deque()
        self._levels: list[list[tuple]] = []
        self._fill = 0  # bytes in the current push buffer
        self.size = 0
        self._closed = False

    # -- buffers

    def _buffer(self) -> bytearray:
        slot = self._dispatched % RING
        if slot == len(self._ring):
            self._ring.append(bytearray(self._buf_size))
        return self._ring[slot]

    def _dispatch(self, buf: bytearray, n: int, final: bool) -> None:
        first = self._dispatched == 0
        self._dispatched += 1
        self.size += n
        mv = memoryview(buf)[:n]
        if self.profile.raw_leaves:
            job: Callable[[], list] = lambda: _raw_leaves(mv, self._cs, self._leaf_prefix, self.sink)  # noqa: E731
        else:
            job = lambda: _pb_leaves(mv, self._cs, self._leaf_prefix, self.sink)  # noqa: E731
        if first and final:
            self._inflight.append(job())  # whole file in one buffer: no thread hop
        else:
            self._inflight.append(_get_pool().submit(job))
        # keep at most RING-2 buffers in flight, so the next two ring slots are free
        while len(self._inflight) > RING - 2:
            self._consume(self._inflight.popleft())

    def _consume(self, item: Future | list) -> None:
        links = item.result() if isinstance(item, Future) else item
        for link in links:
            self._push(0, link)

    # -- tree

    def _push(self, level: int, link: tuple) -> None:
        levels = self._levels
        if level == len(levels):
            levels.append([])
        row = levels[level]
        row.append(link)
        if len(row) == self.profile.max_links:
            levels[level] = []
            self._push(level + 1, self._pack(row))

    def _pack(self, links: list[tuple]) -> tuple:
        sizes = [link[2] for link in links]
        filesize = sum(sizes)
        data = pb.encode_unixfs(pb.FILE, None, filesize, sizes)
        block = pb.encode_node([(cid, b"", tsize) for cid, tsize, _ in links], data)
        cid = self._node_prefix + sha256(block).digest()
        if self.sink is not None:
            self.sink.put(cid, (block,))
        return (cid, len(block) + sum(link[1] for link in links), filesize)

    def _root(self) -> tuple:
        levels = self._levels
        i = 0
        while i < len(levels):
            row = levels[i]
            top = not any(levels[i + 1 :])
            if top and len(row) == 1:
                return row[0]  # a single chunk is its own root (raw block / one leaf)
            if row:
                levels[i] = []
                self._push(i + 1, self._pack(row))
            i += 1
        raise AssertionError("unreachable: a file always has at least one leaf")

    # -- push API

    def write(self, data: bytes | bytearray | memoryview) -> None:
        src = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        pos, n = 0, len(src)
        while pos < n:
            buf = self._buffer()
            take = min(n - pos, self._buf_size - self._fill)
            buf[self._fill : self._fill + take] = src[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == self._buf_size:
                self._fill = 0
                self._dispatch(buf, self._buf_size, final=False)

    def close(self) -> Node:
        if self._closed:
            raise RuntimeError("importer already closed")
        self._closed = True
        try:
            if self._fill or self._dispatched == 0:
                n, self._fill = self._fill, 0
                self._dispatch(self._buffer(), n, final=True)
            while self._inflight:
                self._consume(self._inflight.popleft())
            if self.size == 0:
                return self._empty()
            cid, tsize, filesize = self._root()
            return Node(cid, tsize, filesize)
        except BaseException:
            self.abort()
            raise
        finally:
            self._ring.clear()

    def abort(self) -> None:
        """Wait for in-flight hashing (its sink writes must finish before a rollback)."""
        self._closed = True
        while self._inflight:
            item = self._inflight.popleft()
            if isinstance(item, Future):
                with contextlib.suppress(Exception):  # the first error is already being raised
                    item.result()
        self._ring.clear()

    def _empty(self) -> Node:
        self._levels.clear()
        empty_leaf = pb.encode_node([], pb.encode_unixfs(pb.FILE, None, 0))
        block = b"" if self.profile.raw_leaves else empty_leaf
        prefix = self._leaf_prefix
        cid = prefix + sha256(block).digest()
        if self.sink is not None:
            self.sink.put(cid, (block,))
        return Node(cid, len(block), 0)

    # -- pull API

    def read_mapped(self, fd: int, size: int) -> Node:
        """Import a regular file of `size` bytes by mapping one window at a time.

        Each worker maps its own window (`RING` windows of a few MiB at most are mapped at
        once), hashes the chunks in place and unmaps it, so memory stays bounded and the
        bytes are never copied. The file must not shrink while it is imported.
        """
        cs, prefix, sink = self._cs, self._leaf_prefix, self.sink
        if self.profile.raw_leaves:
            leaves = lambda view: _raw_leaves(view, cs, prefix, sink)  # noqa: E731
        else:
            leaves = lambda view: _pb_leaves(view, cs, prefix, sink)  # noqa: E731
        pool = _get_pool()
        try:
            for offset in range(0, size, self._buf_size):
                length = min(self._buf_size, size - offset)
                self._dispatched += 1
                self.size += length
                self._inflight.append(pool.submit(_mapped_job, fd, offset, length, leaves))
                while len(self._inflight) > RING - 2:
                    self._consume(self._inflight.popleft())
        except BaseException:
            self.abort()
            raise
        return self.close()

    def read_from(self, stream: BinaryIO, limit: int | None = None) -> Node:
        """Import everything `stream` yields; `limit` caps the size (UploadTooLarge past it)."""
        readinto = getattr(stream, "readinto", None)
        try:
            while True:
                buf = self._buffer()
                n = _fill(stream, buf, readinto)
                if limit is not None and self.size + n > limit:
                    raise UploadTooLarge(f"content exceeds the {limit}-byte limit")
                if n == 0:
                    break
                final = n < self._buf_size
                self._dispatch(buf, n, final)
                if final:
                    break
        except BaseException:
            self.abort()
            raise
        return self.close()


def _mapped_job(fd: int, offset: int, length: int, leaves: Callable[[memoryview], list]) -> list:
    """Hash one window of a file straight from the page cache (no copy into a buffer)."""
    mapping = mmap.mmap(fd, length, flags=_MAP_FLAGS, prot=mmap.PROT_READ, offset=offset)
    try:
        with memoryview(mapping) as view:
            return leaves(view)
    finally:
        mapping.close()


def _fill(stream: BinaryIO, buf: bytearray, readinto) -> int:
    view = memoryview(buf)
    size = len(buf)
    got = 0
    while got < size:
        if readinto is not None:
            n = readinto(view[got:])
        else:
            chunk = stream.read(size - got)
            n = len(chunk) if chunk else 0
            view[got : got + n] = chunk or b""
        if not n:
            break
        got += n
    return got


def import_bytes(data: bytes, profile: str | Profile | None = None, sink: BlockSink | None = None) -> Node:
    imp = FileImporter(profile, sink)
    imp.write(data)
    return imp.close()


def import_file(
    path: str | os.PathLike, profile: str | Profile | None = None, sink: BlockSink | None = None
) -> Node:
    with open(path, "rb", buffering=0) as f:
        imp = FileImporter(profile, sink)
        st = os.fstat(f.fileno())
        if stat.S_ISREG(st.st_mode) and st.st_size >= MAP_MIN_BYTES:
            return imp.read_mapped(f.fileno(), st.st_size)
        return imp.read_from(f)


# --------------------------------------------------------------------------- names


def check_name(name: str) -> bytes:
    """UTF-8 bytes of a directory entry name, refusing names that could escape a directory."""
    if not name or name in (".", ".."):
        raise UnsafePath(f"invalid entry name {name!r}")
    if "/" in name or "\\" in name or "\x00" in name:
        raise UnsafePath(f"entry name {name!r} contains a path separator or NUL")
    try:
        return name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePath(f"entry name {name!r} is not valid UTF-8") from None


def split_path(path: str) -> list[str]:
    """Components of a relative path inside a directory; '..', absolute paths and the like refused."""
    if path.startswith("/") or path.startswith("\\"):
        raise UnsafePath(f"absolute path {path!r} refused")
    parts = [p for p in path.split("/") if p != ""]
    if not parts:
        raise UnsafePath(f"empty path {path!r}")
    for part in parts:
        check_name(part)
    return parts


# --------------------------------------------------------------------------- directories


def _varint_len(x: int) -> int:
    n = 1
    while x >= 0x80:
        x >>= 7
        n += 1
    return n


def _link_block_bytes(name_len: int, cid_len: int, tsize: int) -> int:
    inner = 1 + _varint_len(cid_len) + cid_len + 1 + _varint_len(name_len) + name_len + 1 + _varint_len(tsize)
    return 1 + _varint_len(inner) + inner


def directory_node(
    children: Mapping[str, Node], profile: str | Profile | None = None, sink: BlockSink | None = None
) -> Node:
    """One dag-pb UnixFS directory from its direct children (links sorted by name bytes)."""
    p = get_profile(profile)
    items = sorted((check_name(name), node) for name, node in children.items())
    if p.shard_strategy == "links-bytes":
        estimate = sum(len(name) + len(node.cid) for name, node in items)
    else:
        estimate = len(DIR_DATA) + 2 + sum(_link_block_bytes(len(n), len(c.cid), c.tsize) for n, c in items)
    if estimate > p.shard_threshold:
        raise DirectoryTooLarge(
            f"directory with {len(items)} entries needs HAMT sharding (estimated {estimate} bytes > "
            f"{p.shard_threshold}); split it into subdirectories"
        )
    block = pb.encode_node([(node.cid, name, node.tsize) for name, node in items], DIR_DATA)
    cid = node_prefix(p.cid_version) + sha256(block).digest()
    if sink is not None:
        sink.put(cid, (block,))
    return Node(cid, len(block) + sum(node.tsize for _, node in items), 0, "directory")


def symlink_node(target: str, profile: str | Profile | None = None, sink: BlockSink | None = None) -> Node:
    p = get_profile(profile)
    block = pb.encode_node([], pb.encode_unixfs(pb.SYMLINK, os.fsencode(target)))
    cid = node_prefix(p.cid_version) + sha256(block).digest()
    if sink is not None:
        sink.put(cid, (block,))
    return Node(cid, len(block), 0, "symlink")


class TreeBuilder:
    """Collects files and directories by relative path, then builds the directory nodes bottom-up."""

    def __init__(self, profile: str | Profile | None = None, sink: BlockSink | None = None) -> None:
        self.profile = get_profile(profile)
        self.sink = sink
        self._root: dict[str, Node | dict] = {}

    def _parent(self, parts: list[str]) -> dict:
        current = self._root
        for part in parts:
            child = current.setdefault(part, {})
            if not isinstance(child, dict):
                raise BadRequest(f"{'/'.join(parts)!r}: {part!r} is a file, not a directory")
            current = child
        return current

    def add(self, path: str, node: Node) -> None:
        parts = split_path(path)
        parent = self._parent(parts[:-1])
        if parts[-1] in parent:
            raise BadRequest(f"duplicate entry {path!r}")
        parent[parts[-1]] = node

    def mkdir(self, path: str) -> None:
        parts = split_path(path)
        self._parent(parts)

    def _walk(self, tree: dict, prefix: str, entries: list[tuple[str, Node]]) -> Node:
        children: dict[str, Node] = {}
        for name in sorted(tree):
            value = tree[name]
            path = f"{prefix}{name}"
            if isinstance(value, dict):
                children[name] = self._walk(value, path + "/", entries)
            else:
                children[name] = value
                entries.append((path, value))
        node = directory_node(children, self.profile, self.sink)
        entries.append((prefix.rstrip("/"), node))
        return node

    def build(self) -> tuple[Node, list[tuple[str, Node]]]:
        """Root directory node and every entry (path, node), children first, the root last as ''."""
        entries: list[tuple[str, Node]] = []
        root = self._walk(self._root, "", entries)
        return root, entries

    def build_unwrapped(self) -> tuple[list[tuple[str, Node]], list[tuple[str, Node]]]:
        """Each top-level entry on its own, without a wrapping directory: (tops, all entries)."""
        entries: list[tuple[str, Node]] = []
        tops = []
        for name, value in self._root.items():
            if isinstance(value, dict):
                node = self._walk(value, name + "/", entries)
            else:
                node = value
                entries.append((name, node))
            tops.append((name, node))
        return tops, entries

    @property
    def empty(self) -> bool:
        return not self._root


def import_tree(
    files: Mapping[str, bytes | str | os.PathLike | BinaryIO] | Iterable[tuple[str, bytes]],
    profile: str | Profile | None = None,
    sink: BlockSink | None = None,
) -> Node:
    """A directory from {relative path: bytes | file path | binary stream}; parents are implied."""
    builder = TreeBuilder(profile, sink)
    items = files.items() if isinstance(files, Mapping) else files
    for path, content in items:
        if isinstance(content, bytes | bytearray | memoryview):
            node = import_bytes(bytes(content), builder.profile, sink)
        elif isinstance(content, str | os.PathLike):
            node = import_file(content, builder.profile, sink)
        else:
            node = FileImporter(builder.profile, sink).read_from(content)
        builder.add(path, node)
    return builder.build()[0]


def import_path(
    path: str | os.PathLike,
    profile: str | Profile | None = None,
    sink: BlockSink | None = None,
    *,
    hidden: bool = False,
    on_entry: Callable[[str, Node], None] | None = None,
) -> Node:
    """A file or a directory tree on disk, the way `ipfs add -r` imports it.

    Like Kubo: hidden entries (names starting with '.') are skipped unless `hidden`; symlinks
    inside a directory become UnixFS symlink nodes; the top-level path itself is followed.
    `on_entry(relative path, node)` is called for every entry, children before parents.
    """
    p = get_profile(profile)
    top = Path(path)
    if not top.exists():
        raise BadRequest(f"{path}: no such file or directory")
    if not top.is_dir():
        node = import_file(top, p, sink)
        if on_entry:
            on_entry(top.name, node)
        return node

    def walk(directory: Path, rel: str) -> Node:
        children: dict[str, Node] = {}
        with os.scandir(directory) as it:
            dirents = sorted(it, key=lambda e: os.fsencode(e.name))
        for entry in dirents:
            if not hidden and entry.name.startswith("."):
                continue
            check_name(entry.name)
            child_rel = f"{rel}/{entry.name}"
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                node = symlink_node(os.readlink(entry.path), p, sink)
            elif stat.S_ISDIR(st.st_mode):
                node = walk(Path(entry.path), child_rel)
            elif stat.S_ISREG(st.st_mode):
                node = import_file(entry.path, p, sink)
            else:
                raise BadRequest(f"{entry.path}: not a regular file, directory or symlink")
            if on_entry and node.kind != "directory":
                on_entry(child_rel, node)
            children[entry.name] = node
        node = directory_node(children, p, sink)
        if on_entry:
            on_entry(rel, node)
        return node

    return walk(top, top.resolve().name)
