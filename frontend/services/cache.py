"""Small caches: a bounded thread-safe LRU for values keyed by chain head, a TTL map for retries,
rendered pages shared by the site's worker processes, and a cheap look at whether the index moved."""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

from sqlalchemy.engine import Engine

V = TypeVar("V")


class Lru(Generic[V]):
    """Bounded least-recently-used map. Keys that include the chain head's hash are never stale.

    Bounded by entry count, or with `weigh` by the entries' total weight (a page's bytes): `size` is
    then that total."""

    def __init__(self, size: int, weigh: Callable[[V], int] | None = None) -> None:
        self.size = size
        self.weigh = weigh
        self.weight = 0
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> V:
        weigh = self.weigh
        with self._lock:
            if weigh is None:
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
                return value
            old = self._data.pop(key, None)
            if old is not None:
                self.weight -= weigh(old)
            self._data[key] = value
            self.weight += weigh(value)
            while self.weight > self.size and len(self._data) > 1:
                self.weight -= weigh(self._data.popitem(last=False)[1])
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        found = self.get(key)
        return found if found is not None else self.put(key, make())

    def __len__(self) -> int:
        return len(self._data)


class Expiring(Generic[V]):
    """Values remembered for `ttl` seconds (failed fetches, so a dead store is not hammered)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._data: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if self.clock() - item[0] > self.ttl:
                del self._data[key]
                return None
            return item[1]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._data[key] = (self.clock(), value)


class SharedRenders:
    """Rendered pages shared by every worker process of a site through files in one directory.

    A page version is rendered once however many workers ask for it at the same time: the first takes
    the version's file lock and renders, the others wait on the lock and then read what it wrote
    (written to a temporary file and renamed, so no reader sees half a page). Keys must name the
    version (a lot's page is keyed by the newest fact touching it), so a stored page never goes stale;
    files untouched for `max_age` seconds are removed now and then.
    """

    def __init__(
        self, root: Path, max_age: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.root = root
        self.max_age = max_age
        self.clock = clock
        # a sweep stats every file (three per page): once per tenth of `max_age` per process, not
        # per so many renders, which on a 10,000-lot site made every hundredth render a sweep
        self._next_prune = clock() + max_age / 10
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: Hashable) -> Path:
        name = hashlib.sha256(repr(key).encode()).hexdigest()
        return self.root / f"{name}.html"

    def find(self, key: Hashable) -> bytes | None:
        """The page stored under `key`, or None."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def get_or_make(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        found = self.find(key)
        if found is not None:
            return found
        with self.exclusive(key):
            found = self.find(key)  # another worker rendered it while this one waited
            if found is not None:
                return found
            body = make()
            self.put(key, body)
        return body

    @contextmanager
    def exclusive(self, key: Hashable) -> Iterator[None]:
        """Hold `key`'s file lock: one worker at a time renders what is stored under it."""
        with open(self._path(key).with_suffix(".lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def put(self, key: Hashable, body: bytes) -> None:
        """Store a page under `key` (written whole, then renamed into place)."""
        path = self._path(key)
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        partial.write_bytes(body)
        os.replace(partial, path)
        if self.clock() >= self._next_prune:
            self._next_prune = self.clock() + self.max_age / 10
            self.prune()

    def put_note(self, key: Hashable, note: list) -> None:
        """Keep a small JSON list beside a page (what other workers need to know about it)."""
        path = self._path(key).with_suffix(".json")
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        partial.write_text(json.dumps(note))
        os.replace(partial, path)

    def note(self, key: Hashable) -> list | None:
        try:
            return list(json.loads(self._path(key).with_suffix(".json").read_text()))
        except (FileNotFoundError, ValueError):
            return None

    def prune(self) -> None:
        """Remove pages and locks nobody has written for `max_age` seconds."""
        cutoff = time.time() - self.max_age
        for item in self.root.iterdir():
            try:
                if item.stat().st_mtime < cutoff:
                    item.unlink()
            except FileNotFoundError:
                pass


class IndexChanges:
    """Whether the chain index may have moved since the last look, without a query per request.

    On SQLite it is exact: `PRAGMA data_version` on a connection of its own changes whenever another
    connection (the follower) commits, and costs microseconds. On a server database (PostgreSQL) it is
    a poll: the index counts as moved every `poll_seconds`.
    """

    def __init__(self, engine: Engine, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._last = -math.inf
        self._seen: int | None = None
        self._lock = threading.Lock()
        self._sqlite: sqlite3.Connection | None = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            self._sqlite = sqlite3.connect(engine.url.database, check_same_thread=False)

    def moved(self) -> bool:
        with self._lock:
            if self._sqlite is not None:
                version = int(self._sqlite.execute("PRAGMA data_version").fetchone()[0])
                moved, self._seen = version != self._seen, version
                return moved
            now = time.monotonic()
            if now - self._last < self.poll_seconds:
                return False
            self._last = now
            return True
