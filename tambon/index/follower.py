"""`tambon index run`: follow the chain into the index, range by range, undoing reorgs.

Each `Follower.step()`:
1. reads the head and checks that the cursor's block is still canonical; if not, finds the fork
   point (the newest stored block whose hash the chain still has) and deletes every fact above it;
2. reads the logs of the next ranges with the adaptive `LogReader`, fetches the headers of the
   range's first and last blocks and of every block with a log, and accepts the range only if the
   first block's parent is the cursor and every log's block hash is the header's (else the chain
   moved under the read: the next step sorts it out);
3. stores the range's facts, blocks and the new cursor in one transaction. The node's side of the
   next ranges (logs, headers, attestation calldata) is read ahead in a thread meanwhile, and ranges
   are kept near `max_results` logs so that there is a next range to read while one is written;
4. once the facts reach the head, fills lot identities behind them (`fill_lots`): reading the records
   behind registrations and steps is the slow part of a sync, so pages, which need only the facts, do
   not wait for it. Each pass covers whole blocks and moves `lots_block` in the same transaction.

A crash (kill -9) at any point loses at most the range being written, which the restart reads again;
nothing is stored twice because the cursor moves in the same transaction as the facts.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from eth_abi import decode as abi_decode
from eth_utils import function_abi_to_4byte_selector, to_checksum_address

from tambon.chain import Deployment, load_abi
from tambon.errors import ConfigError
from tambon.events import (
    PROJECT_CONTRACTS,
    Block,
    ChainEvent,
    ChainUnavailable,
    Chunk,
    EventDecoder,
    JsonRpc,
    LogReader,
    NotPlain,
    RawChunk,
    WordReader,
    word_reader,
)
from tambon.index.lots import LotTracker, RecordFetcher
from tambon.index.store import ArgsEncoder, IndexStore

log = structlog.get_logger("index")
T = TypeVar("T")

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
CrashHook = Callable[[str], None]


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def fact_rows(e: ChainEvent) -> list[tuple[str, dict[str, Any]]]:
    """The typed rows one event adds (besides its `events` row)."""
    base = {
        "block_number": e.block_number,
        "log_index": e.log_index,
        "block_hash": e.block_hash,
        "tx_hash": e.tx_hash,
    }
    a = e.args
    n = e.name
    if e.contract == "BatchProvenance":
        if n == "BatchRegistered":
            return [
                (
                    "batches",
                    base
                    | {
                        "batch_id": a["batchId"],
                        "producer": a["producer"],
                        "evidence": _hex(a["evidence"]),
                        "codec": a["codec"],
                        "crop": a["crop"],
                        "quantity_grams": a["quantityGrams"],
                        "harvest_day": a["harvestDay"],
                    },
                )
            ]
        if n == "StepAdded":
            return [
                (
                    "steps",
                    base
                    | {
                        "batch_id": a["batchId"],
                        "step_index": a["index"],
                        "stage": a["stage"],
                        "actor": a["actor"],
                        "evidence": _hex(a["evidence"]),
                        "codec": a["codec"],
                        "data": str(a["data"]),
                    },
                )
            ]
        if n == "Transfer":
            return [
                (
                    "custody",
                    base | {"batch_id": a["tokenId"], "sender": a["sender"], "receiver": a["receiver"]},
                )
            ]
        if n == "Split":
            first, count = a["firstChildId"], a["count"]
            return [
                (
                    "lineage",
                    base | {"child_id": c, "parent_id": a["parentId"], "kind": "split", "actor": a["actor"]},
                )
                for c in range(first, first + count)
            ]
        if n == "Merged":
            return [
                (
                    "lineage",
                    base | {"child_id": a["childId"], "parent_id": p, "kind": "merge", "actor": a["actor"]},
                )
                for p in dict.fromkeys(a["parentIds"])
            ]
        if n == "ProducerRegistered":
            return [
                (
                    "producers",
                    base
                    | {
                        "account": a["account"],
                        "kind": "registered",
                        "registration_id": a["registrationId"],
                        "name": a["name"],
                    },
                )
            ]
        if n == "ProducerRevoked":
            return [
                (
                    "producers",
                    base
                    | {"account": a["account"], "kind": "revoked", "registration_id": None, "name": None},
                )
            ]
    elif e.contract == "AttestationRegistry":
        if n == "Attested":
            return [
                (
                    "attestations",
                    base
                    | {
                        "batch_id": a["batchId"],
                        "signer": a["signer"],
                        "evidence": _hex(a["evidence"]),
                        "grade": a["grade"],
                        "size_code": a["sizeCode"],
                        "confidence_bps": a["confidenceBps"],
                        "model_sha256": _hex(a["modelSha256"]),
                        "graded_at": a["gradedAt"],
                    },
                )
            ]
        if n == "ColdChainAttested":
            return [
                (
                    "coldchain",
                    base | {"batch_id": a["batchId"], "signer": a["signer"], "log_cid": _hex(a["logCid"])},
                )
            ]
        if n in ("OracleKeyAdded", "OracleKeyRevoked"):
            added = n == "OracleKeyAdded"
            return [
                (
                    "keys",
                    base
                    | {
                        "key": a["key"],
                        "kind": "added" if added else "revoked",
                        "at": a["activatedAt" if added else "revokedAt"],
                    },
                )
            ]
        if n in ("ModelApproved", "ModelRevoked"):
            approved = n == "ModelApproved"
            return [
                (
                    "models",
                    base
                    | {
                        "model_sha256": _hex(a["modelSha256"]),
                        "kind": "approved" if approved else "revoked",
                        "at": a["approvedAt" if approved else "revokedAt"],
                    },
                )
            ]
    elif e.contract == "GrantEscrow":
        return _escrow_rows(n, a, base)
    return []


_MILESTONE_KINDS = {
    "MilestoneScheduled": "scheduled",
    "MilestoneSubmitted": "submitted",
    "MilestoneReleased": "released",
    "MilestoneRejected": "rejected",
    "MilestoneEscalated": "escalated",
}


def _escrow_rows(n: str, a: Mapping[str, Any], base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if n == "GrantCreated":
        return [
            (
                "grants",
                base
                | {
                    "grant_id": a["grant_id"],
                    "recipient": a["recipient"],
                    "token": a["token"],
                    "budget": str(a["budget"]),
                    "milestone_count": a["milestone_count"],
                    "proposal": _hex(a["proposal"]),
                    "proposal_codec": a["proposal_codec"],
                    "creator": a["creator"],
                },
            )
        ]
    if n in _MILESTONE_KINDS:
        evidence = a.get("evidence", a.get("reason"))
        return [
            (
                "milestones",
                base
                | {
                    "grant_id": a["grant_id"],
                    "milestone_id": a["milestone_id"],
                    "kind": _MILESTONE_KINDS[n],
                    "amount": str(a["amount"]) if "amount" in a else None,
                    "deadline": a.get("deadline"),
                    "evidence": _hex(evidence) if evidence is not None else None,
                    "codec": a.get("codec"),
                    "nonce": str(a["nonce"]) if "nonce" in a else None,
                    "submitted_at": a.get("submitted_at"),
                },
            )
        ]
    if n == "Funded":
        row = {
            "kind": "funded",
            "account": a["funder"],
            "amount": str(a["amount"]),
            "total": str(a["funded_total"]),
        }
    elif n == "GrantCancelled":
        row = {"kind": "cancelled", "account": None, "amount": str(a["refund_pool"]), "total": None}
    elif n == "RefundClaimed":
        row = {"kind": "refund", "account": a["funder"], "amount": str(a["amount"]), "total": None}
    elif n == "MemberAdded":
        return [
            (
                "council",
                base | {"kind": "member_added", "member": a["member"], "threshold": None, "digest": None},
            )
        ]
    elif n == "MemberRemoved":
        return [
            (
                "council",
                base | {"kind": "member_removed", "member": a["member"], "threshold": None, "digest": None},
            )
        ]
    elif n == "ThresholdChanged":
        return [
            (
                "council",
                base | {"kind": "threshold", "member": None, "threshold": a["threshold"], "digest": None},
            )
        ]
    elif n == "HashApproved":
        return [
            (
                "council",
                base
                | {"kind": "approved", "member": a["member"], "threshold": None, "digest": _hex(a["digest"])},
            )
        ]
    else:
        return []
    return [("grant_funds", base | {"grant_id": a["grant_id"], **row})]


class CalldataDecoder:
    """The signed attestations in the calldata of `attest` / `attestMany` transactions."""

    def __init__(self, registry: str) -> None:
        self.registry = registry.lower()
        self._functions = {}
        for item in load_abi("AttestationRegistry"):
            if item.get("type") == "function" and item["name"] in ("attest", "attestMany"):
                types = [_abi_type(i) for i in item["inputs"]]
                fields = [word_reader(_abi_type(c)) for c in item["inputs"][0]["components"]]
                self._functions["0x" + function_abi_to_4byte_selector(item).hex()] = (  # type: ignore[arg-type]
                    item["name"],
                    types,
                    None if None in fields else tuple(f for f in fields if f is not None),
                )

    def row(self, tx: Mapping[str, Any], block_number: int) -> dict[str, Any]:
        tx_hash = str(tx["hash"])
        found = self._functions.get(str(tx.get("input", ""))[:10])
        if str(tx.get("to") or "").lower() != self.registry or found is None:
            return {
                "tx_hash": tx_hash,
                "block_number": block_number,
                "function": "relayed",
                "signature": "",
                "items": "[]",
            }
        name, types, fields = found
        body = bytes.fromhex(str(tx["input"])[10:])
        decoded = _static_items(name == "attestMany", fields, body) if fields is not None else None
        if decoded is None:
            args = abi_decode(types, body)
            decoded = ([args[0]] if name == "attest" else list(args[0])), args[1]
        raw_items, signature = decoded
        items = [[_jsonable(v) for v in item] for item in raw_items]
        return {
            "tx_hash": tx_hash,
            "block_number": block_number,
            "function": name,
            "signature": _hex(signature),
            "items": json.dumps(items, separators=(",", ":")),
        }


def _static_items(
    many: bool, fields: tuple[WordReader, ...], body: bytes
) -> tuple[list[list[Any]], bytes] | None:
    """(items, signature) of `attest(item, signature)` or `attestMany(items, signature)` read word by
    word when every item field is a static word and the encoding is the canonical one (what eth-abi
    encodes); None otherwise, and eth-abi decides."""
    width = len(fields)

    def uint(index: int) -> int:
        return int.from_bytes(body[32 * index : 32 * index + 32], "big")

    def item(first: int) -> list[Any]:
        return [read(body[32 * (first + j) : 32 * (first + j) + 32]) for j, read in enumerate(fields)]

    if many:
        if len(body) < 96 or uint(0) != 64:
            return None
        count = uint(2)
        signature_at = 32 * (3 + count * width)
        if uint(1) != signature_at or len(body) < signature_at + 32:
            return None
        first_word = 3
    else:
        count, signature_at, first_word = 1, 32 * (width + 1), 0
        if len(body) < signature_at or uint(width) != signature_at:
            return None
    size = int.from_bytes(body[signature_at : signature_at + 32], "big")
    end = signature_at + 32 + size
    if len(body) != signature_at + 32 + -(-size // 32) * 32 or any(body[end:]):
        return None
    try:
        items = [item(first_word + i * width) for i in range(count)]
    except NotPlain:
        return None
    return items, body[signature_at + 32 : end]


def _abi_type(param: Mapping[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return str(param["type"])


def _jsonable(value: Any) -> Any:
    return _hex(value) if isinstance(value, bytes) else value


@dataclass
class StepReport:
    head: int = 0
    target: int = 0  # the head less the confirmations: where the facts are caught up
    cursor: int = 0
    events: int = 0
    ranges: int = 0
    reorgs: int = 0
    removed: int = 0
    touched: set[int] = field(default_factory=set)
    lots_block: int | None = None  # where lot identities are filled (None: no record reader)

    @property
    def caught_up(self) -> bool:
        """The facts reached the head (less confirmations) and lot identities reached the facts."""
        return self.cursor >= self.target and (self.lots_block is None or self.lots_block >= self.cursor)


class Follower:
    def __init__(
        self,
        store: IndexStore,
        rpc: JsonRpc,
        deployment: Deployment,
        *,
        confirmations: int = 0,
        max_range: int = 10_000,
        max_results: int = 5_000,
        reorg_depth: int = 256,
        records: RecordFetcher | None = None,
        crash_hook: CrashHook | None = None,
    ) -> None:
        self.store = store
        self.rpc = rpc
        self.deployment = deployment
        self.contracts = {n: to_checksum_address(deployment.address(n)) for n in PROJECT_CONTRACTS}
        self.decoder = EventDecoder.for_deployment(deployment)
        self.args = ArgsEncoder(self.decoder.arg_types())
        self.reader = LogReader(rpc, self.decoder, max_range=max_range, max_results=max_results)
        self.calldata = CalldataDecoder(self.contracts["AttestationRegistry"])
        self.confirmations = confirmations
        self.reorg_depth = reorg_depth
        #: lot identities come from the records behind the events: no record reader, no `lots` rows
        self.lots = LotTracker(records, store.lot_identities) if records is not None else None
        self.crash = crash_hook or (lambda point: None)
        self._origin_checked = False  # the index's oldest block checked against the node, once

    # start / checks

    def ensure_started(self) -> None:
        """Start an empty index at the block before the deployment, or check it is this deployment's
        and was built from the chain the node serves."""
        cur = self.store.cursor()
        if cur is None:
            start = max(self.deployment.block - 1, 0)
            block = self.rpc.block(start)
            if block is None:
                raise ConfigError(f"the node has no block {start}: is it the deployment's chain?")
            self.store.start(block, self.deployment.chain_id, self.contracts)
            self._origin_checked = True
            log.info("index.start", block=start, chain_id=self.deployment.chain_id)
            return
        if cur.chain_id != self.deployment.chain_id or cur.contracts != self.contracts:
            raise ConfigError(
                "the index was built for other contracts or another chain; run `tambon index rebuild`"
            )
        if not self._origin_checked:
            self._check_origin()
            self._origin_checked = True

    def _check_origin(self) -> None:
        """Refuse to resume on a chain other than the one the index was built from (a node restarted
        from other state, another chain with the same contract addresses): the block the index
        started from (before the deployment, deeper than any reorg) must still be the node's."""
        origin = self.store.origin_block()
        if origin is None:
            return
        number, stored_hash = origin
        found = self.rpc.block(number)
        if found is None or found.hash != stored_hash:
            on_node = found.hash if found is not None else "missing"
            raise ConfigError(
                f"the index was built from another chain (block {number} is {on_node} on the node, "
                f"{stored_hash} in the index); run `tambon index rebuild`"
            )

    # one pass

    def step(self, limit_ranges: int | None = None) -> StepReport:
        self.ensure_started()
        report = StepReport()
        head = self.rpc.block("latest")
        if head is None:
            raise ChainUnavailable("the node has no latest block")
        report.head = head.number
        cur = self.store.cursor()
        assert cur is not None
        target = report.target = head.number - self.confirmations
        if not self._canonical(cur.block_number, cur.block_hash, head, target):
            report.reorgs += 1
            report.removed += self._rewind()
            cur = self.store.cursor()
            assert cur is not None
        cursor_hash = cur.block_hash
        rewind = False
        ahead = prefetched(self._fetched(cur.block_number + 1, target), depth=2)
        with contextlib.closing(ahead):  # on leaving, the reads ahead stop before anything else asks the node
            for raw, headers, txs in ahead:
                chunk = Chunk(raw.start, raw.end, self.decoder.decode_all(raw.logs))
                if headers is None:
                    break  # blocks vanished under the read (a reorg to a shorter chain): next step
                if headers[chunk.start].parent_hash != cursor_hash:
                    rewind = True
                    break
                if any(headers[e.block_number].hash != e.block_hash for e in chunk.events):
                    break  # the chain changed while we read: read this range again next step
                rows = self._rows(chunk.events, txs)
                self.crash("before_write")
                event_blocks = [headers[n] for n in {e.block_number for e in chunk.events} | {chunk.start}]
                self.store.write_range(rows, event_blocks, headers[chunk.end], cursor_hash, head)
                self.crash("after_write")
                cursor_hash = headers[chunk.end].hash
                report.ranges += 1
                report.events += len(chunk.events)
                report.touched |= touched_batches(chunk.events)
                if limit_ranges is not None and report.ranges >= limit_ranges:
                    break
        if rewind:
            report.reorgs += 1
            report.removed += self._rewind()
        final = self.store.cursor()
        assert final is not None
        report.cursor = final.block_number
        news = final.head_number != head.number or time.time() - final.updated_at >= 1
        if report.ranges == 0 and final.block_hash == cursor_hash and news:
            self.store.confirm(cursor_hash, head)  # nothing new, and the cursor is still canonical
        if self.lots is not None:
            caught_up = report.cursor >= target and (limit_ranges is None or report.ranges < limit_ranges)
            report.lots_block = self.fill_lots() if caught_up else final.lots_block
        return report

    def _canonical(self, number: int, block_hash: str, head: Block, target: int) -> bool:
        """Whether the cursor's block is still the chain's, asking the node only when nothing else
        tells: at the head the head's hash does, and when a range follows, its first block's parent
        hash is checked against the cursor as it is read."""
        if number == head.number:
            return head.hash == block_hash
        if number > head.number:
            return False
        if target > number:
            return True  # checked by the next range's parent hash
        found = self.rpc.block(number)
        return found is not None and found.hash == block_hash

    def fill_lots(self, limit: int = 2_000) -> int:
        """Lot identities of about `limit` more registrations and steps behind the cursor; returns the
        block they are filled to. A reorg meanwhile leaves them for the next pass."""
        assert self.lots is not None
        cur = self.store.cursor()
        assert cur is not None
        after = cur.lots_block if cur.lots_block is not None else cur.block_number
        if after >= cur.block_number:
            return after
        upto, events = self.store.lot_events(after, limit)
        rows = self.lots.rows(events)
        if not self.store.write_lots(rows, after, upto):
            final = self.store.cursor()
            return final.lots_block or 0 if final else 0
        return upto

    def _fetched(
        self, start: int, end: int
    ) -> Iterator[tuple[RawChunk, dict[int, Block] | None, dict[str, dict]]]:
        """What the node gives for each range: its logs, the headers of its first and last blocks and
        of every block with a log (None when some are missing), and the transactions whose calldata
        holds attestations."""
        attested = (
            self.contracts["AttestationRegistry"].lower(),
            self.decoder.topic("AttestationRegistry", "Attested"),
        )
        for chunk in self.reader.raw_chunks(start, end):
            wanted = {chunk.start, chunk.end} | chunk.block_numbers()
            headers = self.rpc.blocks(wanted)
            attest_txs = {
                str(raw["transactionHash"])
                for raw in chunk.logs
                if raw["topics"] and (str(raw["address"]).lower(), str(raw["topics"][0]).lower()) == attested
            }
            txs = self.rpc.transactions(attest_txs) if attest_txs else {}
            missing = attest_txs - set(txs)
            if missing:
                raise ChainUnavailable(f"the node does not return transactions {sorted(missing)[:3]}")
            yield chunk, headers if len(headers) == len(wanted) else None, txs

    def _rows(self, events: list[ChainEvent], txs: Mapping[str, dict]) -> dict[str, list[dict[str, Any]]]:
        rows: dict[str, list[dict[str, Any]]] = {"events": []}
        attest_txs: dict[str, int] = {}
        for e in events:
            rows["events"].append(
                {
                    "block_number": e.block_number,
                    "log_index": e.log_index,
                    "block_hash": e.block_hash,
                    "tx_hash": e.tx_hash,
                    "contract": e.contract,
                    "name": e.name,
                    "args": self.args.encode(e.contract, e.name, e.args),
                }
            )
            for table, row in fact_rows(e):
                rows.setdefault(table, []).append(row)
            if e.name == "Attested":
                attest_txs.setdefault(e.tx_hash, e.block_number)
        if attest_txs:
            rows["signatures"] = [self.calldata.row(txs[h], attest_txs[h]) for h in attest_txs]
        return rows

    def _rewind(self) -> int:
        """Roll the index back to the newest stored block the chain still has."""
        known = self.store.recent_blocks(self.reorg_depth)
        canonical = self.rpc.blocks(n for n, _ in known)
        for number, block_hash in known:
            found = canonical.get(number)
            if found is not None and found.hash == block_hash:
                removed = self.store.rollback((number, block_hash))
                log.warning("index.reorg", fork_block=number, removed=removed)
                return removed
        if len(known) < self.reorg_depth:
            raise ConfigError("the chain no longer has the block the index started from: rebuild the index")
        log.warning("index.reorg.deep", depth=self.reorg_depth)
        removed = sum(self.store.counts().values())
        self.store.clear()
        self.ensure_started()
        return removed

    def run(self, stop: Callable[[], bool] = lambda: False, poll_interval: float = 0.25) -> None:
        """Follow until `stop()`; node failures back off up to 30 s and never stop the loop."""
        delay = poll_interval
        while not stop():
            try:
                report = self.step()
                if report.events or report.reorgs:
                    log.info(
                        "index.step",
                        head=report.head,
                        cursor=report.cursor,
                        events=report.events,
                        reorgs=report.reorgs,
                    )
                delay = poll_interval
                if not report.caught_up:
                    continue  # still catching up: no pause
            except ChainUnavailable as exc:
                delay = min(max(delay * 2, 0.5), 30.0)
                log.warning("index.retry", error=str(exc)[:300], retry_in=delay)
            time.sleep(delay)


_END = object()


def prefetched(items: Iterator[T], depth: int) -> Generator[T, None, None]:
    """The items of `items`, up to `depth` of them made ahead in a thread while the caller works on
    the current one (the node reads the next ranges while this one is written). When the caller
    stops early, the item in the making is finished and dropped."""
    made: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                made.put((True, item))
                if stop.is_set():
                    return
            made.put((True, _END))
        except BaseException as exc:  # handed to the caller
            made.put((False, exc))

    thread = threading.Thread(target=produce, name="index-read", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = made.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock its last put
            with contextlib.suppress(queue.Empty):
                made.get(timeout=0.05)
        thread.join()


def touched_batches(events: Iterable[ChainEvent]) -> set[int]:
    """Batch ids whose pages these events change (a new block alone changes none)."""
    out: set[int] = set()
    for e in events:
        a = e.args
        if e.contract == "BatchProvenance":
            for key in ("batchId", "tokenId", "parentId", "childId"):
                if key in a:
                    out.add(int(a[key]))
            if e.name == "Split":
                out |= set(range(a["firstChildId"], a["firstChildId"] + a["count"]))
            if e.name == "Merged":
                out |= {int(p) for p in a["parentIds"]}
        elif e.contract == "AttestationRegistry" and "batchId" in a:
            out.add(int(a["batchId"]))
    return out
