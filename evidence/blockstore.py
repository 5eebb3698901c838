"""On-disk block store: one file per block, keyed by its sha2-256 digest, written atomically.

Layout under the store's root:

    blocks/<2 hex>/<64 hex>     block bytes (raw or dag-pb; the codec lives in the CID)
    staging/<pid>-<uuid>/       blocks of an add in progress, moved into blocks/ on commit
    pins/<64 hex>               recursive pin: the file holds the pinned CID string

An add writes into its own staging directory and renames every block into place only after
the whole import succeeded, so a failed or interrupted add leaves nothing behind (a crash
leaves a staging directory that the next start removes). Every read re-hashes the block and
refuses it (`CorruptBlock`) if the bytes no longer match the CID.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from hashlib import sha256
from pathlib import Path

import structlog

from evidence.cids import cid_str, digest_of, parse_cid
from evidence.errors import BlockNotFound, CidMismatch, CorruptBlock

log = structlog.get_logger(__name__)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_all(fd: int, parts: tuple) -> None:
    for part in parts:
        view = memoryview(part).cast("B") if not isinstance(part, bytes) else memoryview(part)
        while view:
            written = os.write(fd, view)
            view = view[written:]


class Transaction:
    """A `BlockSink` that stages blocks and publishes them all at once on `commit()`."""

    def __init__(self, store: BlockStore) -> None:
        self.store = store
        self.dir = store.staging_dir / f"{os.getpid()}-{uuid.uuid4().hex}"
        self.dir.mkdir(parents=True)
        self._staged: dict[bytes, Path | None] = {}  # None: already in the store
        self._lock = threading.Lock()
        self.closed = False

    def put(self, cid: bytes, parts: tuple) -> None:
        digest = digest_of(cid)
        with self._lock:
            if self.closed:
                raise RuntimeError("transaction already closed")
            if digest in self._staged:
                return
            if self.store.path_for(digest).exists():
                self._staged[digest] = None  # already stored; nothing to write
                return
            path = self.dir / digest.hex()
            self._staged[digest] = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _write_all(fd, parts)
            if self.store.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def commit(self) -> None:
        with self._lock:
            self.closed = True
            made: set[Path] = set()
            for digest, staged in self._staged.items():
                if staged is None:
                    continue
                final = self.store.path_for(digest)
                if final.parent not in made:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    made.add(final.parent)
                os.replace(staged, final)
            if self.store.fsync:
                for directory in made:
                    fd = os.open(directory, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
        shutil.rmtree(self.dir, ignore_errors=True)

    def rollback(self) -> None:
        with self._lock:
            self.closed = True
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def block_count(self) -> int:
        return len(self._staged)


class BlockStore:
    def __init__(self, root: str | os.PathLike, *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.blocks_dir = self.root / "blocks"
        self.staging_dir = self.root / "staging"
        self.pins_dir = self.root / "pins"
        self.fsync = fsync
        for directory in (self.blocks_dir, self.staging_dir, self.pins_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_staging()

    def _remove_stale_staging(self) -> None:
        for entry in self.staging_dir.iterdir():
            pid = entry.name.split("-", 1)[0]
            if not pid.isdigit() or not _pid_alive(int(pid)):
                log.info("evidence.staging.removed", path=str(entry))
                shutil.rmtree(entry, ignore_errors=True)

    def path_for(self, digest: bytes) -> Path:
        name = digest.hex()
        return self.blocks_dir / name[:2] / name

    # -- blocks

    def has(self, cid: bytes | str) -> bool:
        raw = parse_cid(cid) if isinstance(cid, str) else cid
        return self.path_for(digest_of(raw)).exists()

    def get(self, cid: bytes | str) -> bytes:
        """The block's bytes after checking they hash to the CID."""
        raw = parse_cid(cid) if isinstance(cid, str) else cid
        digest = digest_of(raw)
        try:
            with open(self.path_for(digest), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise BlockNotFound(f"block {cid_str(raw)} not found in the local store") from None
        if sha256(data).digest() != digest:
            log.error("evidence.block.corrupt", cid=cid_str(raw))
            raise CorruptBlock(f"block {cid_str(raw)} is corrupt (its bytes do not hash to the CID); refused")
        return data

    def put(self, cid: bytes | str, data: bytes) -> None:
        """Store one block after checking it matches the CID (used for blocks from outside)."""
        raw = parse_cid(cid) if isinstance(cid, str) else cid
        if sha256(data).digest() != digest_of(raw):
            raise CidMismatch(f"block bytes do not hash to {cid_str(raw)}")
        with self.transaction() as tx:
            tx.put(raw, (data,))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        tx = Transaction(self)
        try:
            yield tx
        except BaseException:
            tx.rollback()
            raise
        tx.commit()

    def iter_digests(self) -> Iterator[bytes]:
        for shard in sorted(self.blocks_dir.iterdir()):
            for entry in sorted(shard.iterdir()):
                yield bytes.fromhex(entry.name)

    # -- pins (recursive only)

    def pin(self, cid: bytes | str) -> None:
        raw = parse_cid(cid) if isinstance(cid, str) else cid
        target = self.pins_dir / digest_of(raw).hex()
        tmp = target.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(cid_str(raw))
        os.replace(tmp, target)

    def unpin(self, cid: bytes | str) -> bool:
        raw = parse_cid(cid) if isinstance(cid, str) else cid
        try:
            (self.pins_dir / digest_of(raw).hex()).unlink()
        except FileNotFoundError:
            return False
        return True

    def is_pinned(self, cid: bytes | str) -> bool:
        raw = parse_cid(cid) if isinstance(cid, str) else cid
        return (self.pins_dir / digest_of(raw).hex()).exists()

    def pins(self) -> list[str]:
        out = []
        for entry in sorted(self.pins_dir.iterdir()):
            if entry.suffix == ".tmp":
                continue
            try:
                out.append(entry.read_text().strip())
            except FileNotFoundError:  # unpinned concurrently
                continue
        return out
