"""Every lot's facts stamp in memory: what the version of a lot's page is made of on the chain index."""

from __future__ import annotations

import threading

from tambon.index.reader import IndexReader
from tambon.provenance import lineage

#: a fact's position: (block number, log index, block hash)
Position = tuple[int, int, str]


class FactStamps:
    """Each lot's facts stamp as `IndexReader.lineage_stamp` gives it for the lot's lineage (the newest
    fact touching the lot, its ancestors or the registries a page reads), for every lot at once: read
    whole once, then moved along the index by reading only the facts of its new blocks (all of them
    again when the index went back, a reorg). A stamp costs a few dict reads and no query, for any lot,
    one this worker never served included."""

    def __init__(self, index: IndexReader) -> None:
        self.index = index
        self._lock = threading.Lock()
        self._at: tuple[int, str] | None = None  # the index block (number, hash) the stamps are true at
        #: earlier heads of the branch the stamps were moved along (cleared on a reorg): a request that
        #: read one of them before another moved the stamps on gets facts at least as new as its block
        self._passed: set[str] = set()
        self._newest: dict[int, Position] = {}  # lot -> its newest own fact (a lineage link counts)
        self._parents: dict[int, list[int]] = {}
        self._registries: Position | None = None

    def stamp(self, number: int, block_hash: str, batch_id: int) -> str:
        """The lot's facts stamp at the index block (`number`, `block_hash`), or at a later block of
        the same branch."""
        with self._lock:
            self._move_to(number, block_hash)
            newest = self._registries
            for lot in lineage(batch_id, lambda b: self._parents.get(b, ())):
                fact = self._newest.get(lot)
                if fact is not None and (newest is None or fact[:2] > newest[:2]):
                    newest = fact
        return "empty" if newest is None else f"{newest[0]}.{newest[1]}.{newest[2]}"

    def move_to(self, number: int, block_hash: str) -> None:
        """Bring every stamp to the index block (`number`, `block_hash`)."""
        with self._lock:
            self._move_to(number, block_hash)

    def _move_to(self, number: int, block_hash: str) -> None:
        seen = self._at
        if seen is not None and (seen[1] == block_hash or block_hash in self._passed):
            return
        if seen is None or number <= seen[0] or self.index.block_hash(seen[0]) != seen[1]:
            self._read(None, number)  # first use, or the index went back (a reorg)
            self._passed.clear()
        else:
            self._read(seen[0], number)
            if len(self._passed) >= 256:
                self._passed.clear()
            self._passed.add(seen[1])
        self._at = (number, block_hash)

    def _read(self, after: int | None, upto: int) -> None:
        facts, links, registries = self.index.stamp_facts(after, upto)
        if after is None:
            self._newest, self._parents, self._registries = {}, {}, None
        newest = self._newest
        for lot, number, log_index, block_hash in facts:
            known = newest.get(lot)
            if known is None or (number, log_index) > known[:2]:
                newest[lot] = (number, log_index, block_hash)
        for parent, child in links:
            parents = self._parents.setdefault(child, [])
            if parent not in parents:
                parents.append(parent)
                parents.sort()  # the order `IndexReader.parents` gives, which bounds a long lineage
        if registries is not None and (self._registries is None or registries[:2] > self._registries[:2]):
            self._registries = registries
