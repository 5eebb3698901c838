"""Lot identities as the follower fills them: the `lots` table the resolver and the exports read.

A batch's identity (`tambon.lots`) is decided by its records: the latest record naming a
`commodity.gtin` gives the GTIN, the latest naming a `traceability_lot_code` gives the lot, and a
box split from a lot inherits what its own records leave unnamed. The follower reads the record
behind each BatchRegistered and StepAdded event (concurrently, each CID once: records are immutable)
in a second pass behind the facts (`Follower.fill_lots`, in chain order, whole blocks at a time) and
stores one `lots` row whenever a batch's identity changes. A GTIN no record names is
stored as "" with the batch's crop: the site applies its company prefix when it reads.

A record the evidence store does not hold, or that is not a valid record, names nothing (the site
treats it the same way). A store that cannot be reached raises `RecordsUnavailable`: the follower
reads the range again later instead of storing an identity without its records.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tambon.cid import cid_string
from tambon.events import ChainEvent, ChainUnavailable
from tambon.lots import record_gtin, record_lot

#: cid -> the record.json it stands for, or None when it holds no valid record; raises
#: `RecordsUnavailable` when the evidence store cannot be asked
RecordFetcher = Callable[[str], Mapping[str, Any] | None]
#: batch id -> its newest stored (gtin, lot code, crop)
StoredIdentities = Callable[[Iterable[int]], dict[int, tuple[str, str, int]]]
Identity = tuple[str, str, int]


class RecordsUnavailable(ChainUnavailable):
    """The evidence store could not be asked for a record (not: the record is missing)."""


class LotTracker:
    def __init__(self, records: RecordFetcher, stored: StoredIdentities, *, workers: int = 8) -> None:
        self.records = records
        self.stored = stored
        self.workers = workers
        self._cache: OrderedDict[str, Mapping[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()

    def _record(self, cid: str) -> Mapping[str, Any] | None:
        with self._lock:
            if cid in self._cache:
                self._cache.move_to_end(cid)
                return self._cache[cid]
        found = self.records(cid)
        with self._lock:
            self._cache[cid] = found
            while len(self._cache) > 20_000:
                self._cache.popitem(last=False)
        return found

    def _fetch(self, events: list[ChainEvent]) -> dict[tuple[int, int], Mapping[str, Any] | None]:
        """The record behind each registration and step (by position), fetched once per CID."""
        cids: dict[tuple[int, int], str] = {}
        for e in events:
            if e.contract == "BatchProvenance" and e.name in ("BatchRegistered", "StepAdded"):
                cid = cid_string(e.args["evidence"], e.args["codec"])
                if cid is not None:
                    cids[e.position] = cid
        unique = sorted(set(cids.values()))
        if len(unique) > 1 and self.workers > 1:
            with ThreadPoolExecutor(min(self.workers, len(unique))) as pool:
                found = dict(zip(unique, pool.map(self._record, unique), strict=True))
        else:
            found = {c: self._record(c) for c in unique}
        return {p: found[c] for p, c in cids.items()}

    def rows(self, events: list[ChainEvent]) -> list[dict[str, Any]]:
        """The `lots` rows a range's events add, in chain order."""
        records = self._fetch(events)
        registered = {e.args["batchId"] for e in events if e.name == "BatchRegistered"}
        earlier = {int(e.args["batchId"]) for e in events if e.name == "StepAdded"}
        earlier |= {int(e.args["parentId"]) for e in events if e.name == "Split"}
        state: dict[int, Identity] = self.stored(earlier - registered)
        out: list[dict[str, Any]] = []

        def change(e: ChainEvent, batch_id: int, new: Identity) -> None:
            if state.get(batch_id) == new:
                return
            state[batch_id] = new
            out.append(
                {
                    "block_number": e.block_number,
                    "log_index": e.log_index,
                    "block_hash": e.block_hash,
                    "tx_hash": e.tx_hash,
                    "batch_id": batch_id,
                    "gtin": new[0],
                    "lot_code": new[1],
                    "crop": new[2],
                }
            )

        for e in events:
            if e.contract != "BatchProvenance":
                continue
            a = e.args
            if e.name == "BatchRegistered":
                record = records.get(e.position)
                gtin = (record_gtin(record) if record else None) or ""
                lot = (record_lot(record) if record else None) or ""
                change(e, int(a["batchId"]), (gtin, lot, int(a["crop"])))
            elif e.name == "StepAdded":
                record = records.get(e.position)
                batch_id = int(a["batchId"])
                old = state.get(batch_id)
                if record is None or old is None:
                    continue
                named_gtin, named_lot = record_gtin(record), record_lot(record)
                if named_gtin or named_lot:
                    change(e, batch_id, (named_gtin or old[0], named_lot or old[1], old[2]))
            elif e.name == "Split":
                parent = state.get(int(a["parentId"]))
                if parent is None:
                    continue
                for child in range(a["firstChildId"], a["firstChildId"] + a["count"]):
                    own = state.get(child, ("", "", parent[2]))
                    change(e, child, (own[0] or parent[0], own[1] or parent[1], own[2]))
        return out
