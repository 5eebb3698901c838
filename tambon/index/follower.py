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
import ctypes
import gc
import json
import multiprocessing
import operator
import os
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from eth_abi import decode as abi_decode
from eth_utils import function_abi_to_4byte_selector, to_checksum_address
from sqlalchemy import Text

from tambon.chain import Deployment, load_abi
from tambon.errors import ConfigError
from tambon.events import (
    PROJECT_CONTRACTS,
    Block,
    ChainEvent,
    ChainUnavailable,
    EventDecoder,
    JsonRpc,
    LogReader,
    NotPlain,
    RawChunk,
    WordReader,
    checksum_address,
    word_reader,
)
from tambon.index import schema
from tambon.index.lots import LotTracker, RecordFetcher
from tambon.index.store import ArgsEncoder, IndexStore, TableRows

log = structlog.get_logger("index")
T = TypeVar("T")

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
CrashHook = Callable[[str], None]


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


#: where every fact happened: the first columns of every fact row
WHERE_COLUMNS = ("block_number", "log_index", "block_hash", "tx_hash")

#: the columns of each fact table that `fact_rows` fills, in the order of its row tuples
FACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "batches": (
        *WHERE_COLUMNS,
        "batch_id",
        "producer",
        "evidence",
        "codec",
        "crop",
        "quantity_grams",
        "harvest_day",
    ),
    "steps": (*WHERE_COLUMNS, "batch_id", "step_index", "stage", "actor", "evidence", "codec", "data"),
    "custody": (*WHERE_COLUMNS, "batch_id", "sender", "receiver"),
    "lineage": (*WHERE_COLUMNS, "child_id", "parent_id", "kind", "actor"),
    "producers": (*WHERE_COLUMNS, "account", "kind", "registration_id", "name"),
    "attestations": (
        *WHERE_COLUMNS,
        "batch_id",
        "signer",
        "evidence",
        "grade",
        "size_code",
        "confidence_bps",
        "model_sha256",
        "graded_at",
    ),
    "coldchain": (*WHERE_COLUMNS, "batch_id", "signer", "log_cid"),
    "keys": (*WHERE_COLUMNS, "key", "kind", "at"),
    "models": (*WHERE_COLUMNS, "model_sha256", "kind", "at"),
    "grants": (
        *WHERE_COLUMNS,
        "grant_id",
        "recipient",
        "token",
        "budget",
        "milestone_count",
        "proposal",
        "proposal_codec",
        "creator",
    ),
    "milestones": (
        *WHERE_COLUMNS,
        "grant_id",
        "milestone_id",
        "kind",
        "amount",
        "deadline",
        "evidence",
        "codec",
        "nonce",
        "submitted_at",
    ),
    "grant_funds": (*WHERE_COLUMNS, "grant_id", "kind", "account", "amount", "total"),
    "council": (*WHERE_COLUMNS, "kind", "member", "threshold", "digest"),
}

FactRow = tuple[str, tuple[Any, ...]]

#: events whose one fact row is their arguments in the table's column order, stored as every fact is
#: (bytes as 0x hex; big integers in text columns as decimal text): the most frequent ones, which
#: `LogRows` makes straight from the logs' words
PROJECTED_FACTS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("BatchProvenance", "StepAdded"): (
        "steps",
        ("batchId", "index", "stage", "actor", "evidence", "codec", "data"),
    ),
    ("BatchProvenance", "BatchRegistered"): (
        "batches",
        ("batchId", "producer", "evidence", "codec", "crop", "quantityGrams", "harvestDay"),
    ),
    ("BatchProvenance", "Transfer"): ("custody", ("tokenId", "sender", "receiver")),
    ("AttestationRegistry", "Attested"): (
        "attestations",
        ("batchId", "signer", "evidence", "grade", "sizeCode", "confidenceBps", "modelSha256", "gradedAt"),
    ),
    ("AttestationRegistry", "ColdChainAttested"): ("coldchain", ("batchId", "signer", "logCid")),
}


def _text_columns(table: str) -> frozenset[str]:
    return frozenset(c.name for c in schema.metadata.tables[table].columns if isinstance(c.type, Text))


#: (table, columns stored as text) of each projected event
_PROJECTED_TEXT = {kind: _text_columns(table) for kind, (table, _) in PROJECTED_FACTS.items()}


def fact_rows(e: ChainEvent) -> list[FactRow]:
    """The typed rows one event adds (besides its `events` row): (table, values in the order of
    `FACT_COLUMNS[table]`)."""
    where = (e.block_number, e.log_index, e.block_hash, e.tx_hash)
    a = e.args
    n = e.name
    projected = PROJECTED_FACTS.get((e.contract, n))
    if projected is not None:
        table, names = projected
        text = _PROJECTED_TEXT[(e.contract, n)]
        columns = FACT_COLUMNS[table][len(WHERE_COLUMNS) :]
        return [(table, (*where, *(_stored(a[k], c in text) for k, c in zip(names, columns, strict=True))))]
    if e.contract == "BatchProvenance":
        if n == "Split":
            first, count = a["firstChildId"], a["count"]
            return [
                ("lineage", (*where, c, a["parentId"], "split", a["actor"]))
                for c in range(first, first + count)
            ]
        if n == "Merged":
            return [
                ("lineage", (*where, a["childId"], p, "merge", a["actor"]))
                for p in dict.fromkeys(a["parentIds"])
            ]
        if n == "ProducerRegistered":
            return [("producers", (*where, a["account"], "registered", a["registrationId"], a["name"]))]
        if n == "ProducerRevoked":
            return [("producers", (*where, a["account"], "revoked", None, None))]
    elif e.contract == "AttestationRegistry":
        if n in ("OracleKeyAdded", "OracleKeyRevoked"):
            added = n == "OracleKeyAdded"
            at = a["activatedAt" if added else "revokedAt"]
            return [("keys", (*where, a["key"], "added" if added else "revoked", at))]
        if n in ("ModelApproved", "ModelRevoked"):
            approved = n == "ModelApproved"
            at = a["approvedAt" if approved else "revokedAt"]
            return [("models", (*where, _hex(a["modelSha256"]), "approved" if approved else "revoked", at))]
    elif e.contract == "GrantEscrow":
        return _escrow_rows(n, a, where)
    return []


_MILESTONE_KINDS = {
    "MilestoneScheduled": "scheduled",
    "MilestoneSubmitted": "submitted",
    "MilestoneReleased": "released",
    "MilestoneRejected": "rejected",
    "MilestoneEscalated": "escalated",
}


def _stored(value: Any, text: bool) -> Any:
    """An argument as a fact column stores it."""
    if isinstance(value, bytes):
        return _hex(value)
    return str(value) if text else value


def _escrow_rows(n: str, a: Mapping[str, Any], where: tuple[Any, ...]) -> list[FactRow]:
    if n == "GrantCreated":
        return [
            (
                "grants",
                (
                    *where,
                    a["grant_id"],
                    a["recipient"],
                    a["token"],
                    str(a["budget"]),
                    a["milestone_count"],
                    _hex(a["proposal"]),
                    a["proposal_codec"],
                    a["creator"],
                ),
            )
        ]
    if n in _MILESTONE_KINDS:
        evidence = a.get("evidence", a.get("reason"))
        return [
            (
                "milestones",
                (
                    *where,
                    a["grant_id"],
                    a["milestone_id"],
                    _MILESTONE_KINDS[n],
                    str(a["amount"]) if "amount" in a else None,
                    a.get("deadline"),
                    _hex(evidence) if evidence is not None else None,
                    a.get("codec"),
                    str(a["nonce"]) if "nonce" in a else None,
                    a.get("submitted_at"),
                ),
            )
        ]
    if n == "Funded":
        funds: tuple[Any, ...] = ("funded", a["funder"], str(a["amount"]), str(a["funded_total"]))
    elif n == "GrantCancelled":
        funds = ("cancelled", None, str(a["refund_pool"]), None)
    elif n == "RefundClaimed":
        funds = ("refund", a["funder"], str(a["amount"]), None)
    elif n == "MemberAdded":
        return [("council", (*where, "member_added", a["member"], None, None))]
    elif n == "MemberRemoved":
        return [("council", (*where, "member_removed", a["member"], None, None))]
    elif n == "ThresholdChanged":
        return [("council", (*where, "threshold", None, a["threshold"], None))]
    elif n == "HashApproved":
        return [("council", (*where, "approved", a["member"], None, _hex(a["digest"])))]
    else:
        return []
    return [("grant_funds", (*where, a["grant_id"], *funds))]


_HEX_DATA = re.compile(r"0x(?:[0-9a-f]{64})*")
_HEX_WORD = re.compile(r"0x[0-9a-f]{64}")
HexReader = Callable[[str], Any]


def _hex_word_reader(abi_type: str) -> HexReader | None:
    """How to read one 64-digit hex word of an unsigned integer, an address or fixed bytes into the
    value a fact column stores (raising `NotPlain` where eth-abi would refuse it); None for others."""
    if match := re.fullmatch(r"uint(\d*)", abi_type):
        limit = 1 << int(match.group(1) or 256)

        def read_uint(word: str) -> int:
            value = int(word, 16)
            if value >= limit:
                raise NotPlain
            return value

        return read_uint
    if abi_type == "address":

        def read_address(word: str) -> str:
            if word[:24] != "0" * 24:
                raise NotPlain
            return checksum_address("0x" + word[24:])

        return read_address
    if match := re.fullmatch(r"bytes(\d+)", abi_type):
        size = 2 * int(match.group(1))
        padding = "0" * (64 - size)

        def read_bytes(word: str) -> str:
            if word[size:] != padding:
                raise NotPlain
            return "0x" + word[:size]

        return read_bytes
    return None


@dataclass(frozen=True)
class _Projected:
    """How to make the rows of one projected event (`PROJECTED_FACTS`) from its log."""

    contract: str
    name: str
    table: str
    topics: int  # how many topics its logs have
    data_digits: int  # the length of their data in hex, with "0x"
    readers: tuple[HexReader, ...]  # one per argument: the indexed ones' topics, then the data words
    args_json: str  # the `events.args` text as a %-template of the arguments in name order
    #: of a log's where + arguments (`LogRows.expand`): the arguments in name order, and the one of
    #: each fact column
    json_args: Callable[[Sequence[Any]], tuple[Any, ...]]
    fact_args: Callable[[Sequence[Any]], tuple[Any, ...]]
    text: tuple[int, ...]  # arguments stored as decimal text (unsigned integers: JSON numbers alike)
    touched: tuple[int, ...]  # the arguments that are batches whose pages it changes

    def values(self, raw: Mapping[str, Any]) -> list[Any] | None:
        """The arguments in stored form; None when the log is not plainly this event's."""
        topics = raw["topics"]
        data = raw["data"]
        if len(topics) != self.topics or len(data) != self.data_digits or not _HEX_DATA.fullmatch(data):
            return None
        words = [t[2:] for t in topics[1:] if _HEX_WORD.fullmatch(t)]
        if len(words) != self.topics - 1:
            return None
        words += [data[i : i + 64] for i in range(2, self.data_digits, 64)]
        try:
            return [read(word) for read, word in zip(self.readers, words, strict=True)]
        except NotPlain:
            return None


class LogRows:
    """The rows of the most frequent events (`PROJECTED_FACTS`) made straight from their logs' hex
    words: the same `events` and fact rows as decoding them into events and `fact_rows`, without the
    events (a cold sync's rows cost about half). A log that is not plainly one of them (another
    event, a word eth-abi would refuse, hex not in lower case) gets None: the decoder takes it.

    The reading side keeps each log as its where + arguments (`Projected.values`), the compact form
    that crosses to the writing process; `expand` makes the rows there."""

    def __init__(self, decoder: EventDecoder) -> None:
        self._kinds: dict[tuple[str, str], _Projected] = {}
        self._by_name: dict[tuple[str, str], _Projected] = {}
        for key, (contract, name, indexed, data) in decoder.layouts().items():
            projected = PROJECTED_FACTS.get((contract, name))
            arguments = (*indexed, *data)
            readers = [_hex_word_reader(t) for _, t in arguments]
            if projected is None or None in readers or len(arguments) < 2:
                continue
            table, fact_args = projected
            names = [n for n, _ in arguments]
            text = _PROJECTED_TEXT[(contract, name)]
            columns = FACT_COLUMNS[table][len(WHERE_COLUMNS) :]
            pieces = [f'"{n}":%s' if t.startswith("uint") else f'"{n}":"%s"' for n, t in sorted(arguments)]
            self._kinds[key] = _Projected(
                contract=contract,
                name=name,
                table=table,
                topics=1 + len(indexed),
                data_digits=2 + 64 * len(data),
                readers=tuple(r for r in readers if r is not None),
                args_json="{" + ",".join(pieces) + "}",
                json_args=operator.itemgetter(*(WHERE + names.index(n) for n in sorted(names))),
                fact_args=operator.itemgetter(*(WHERE + names.index(n) for n in fact_args)),
                text=tuple(names.index(n) for n, c in zip(fact_args, columns, strict=True) if c in text),
                touched=tuple(names.index(n) for n in _touching(contract, names)),
            )

            self._by_name[(contract, name)] = self._kinds[key]

    def kind(self, raw: Mapping[str, Any]) -> _Projected | None:
        topics = raw["topics"]
        return self._kinds.get((str(raw["address"]).lower(), str(topics[0]).lower())) if topics else None

    def expand(self, compact: Compact, rows: Mapping[str, TableRows]) -> dict[str, TableRows]:
        """`rows` and the `events` and fact rows of the projected logs in `compact`."""
        tables = {name: list(table_rows) for name, (_, table_rows) in rows.items()}
        for (contract, name), logs in compact.items():
            kind = self._by_name[(contract, name)]
            template, json_args, fact_args = kind.args_json, kind.json_args, kind.fact_args
            events = tables.setdefault("events", [])
            events += [log[:WHERE] + (contract, name, template % json_args(log)) for log in logs]
            tables.setdefault(kind.table, []).extend([log[:WHERE] + fact_args(log) for log in logs])
        return {name: (_COLUMNS[name], table_rows) for name, table_rows in tables.items()}


#: where + arguments of each projected log, by (contract, event)
Compact = dict[tuple[str, str], list[tuple[Any, ...]]]
WHERE = len(WHERE_COLUMNS)


def _touching(contract: str, names: Sequence[str]) -> list[str]:
    """The arguments of an event with no list arguments that `touched_batches` reads."""
    keys = ("batchId", "tokenId", "parentId", "childId") if contract == "BatchProvenance" else ("batchId",)
    return [k for k in keys if k in names] if contract in ("BatchProvenance", "AttestationRegistry") else []


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

    def row(self, tx: Mapping[str, Any], block_number: int) -> tuple[str, int, str, str, str]:
        """The transaction's `signatures` row, in the order of `SIGNATURE_COLUMNS`."""
        tx_hash = str(tx["hash"])
        found = self._functions.get(str(tx.get("input", ""))[:10])
        if str(tx.get("to") or "").lower() != self.registry or found is None:
            return tx_hash, block_number, "relayed", "", "[]"
        name, types, fields = found
        body = bytes.fromhex(str(tx["input"])[10:])
        decoded = _static_items(name == "attestMany", fields, body) if fields is not None else None
        if decoded is None:
            args = abi_decode(types, body)
            decoded = ([args[0]] if name == "attest" else list(args[0])), args[1]
        raw_items, signature = decoded
        items = [[_jsonable(v) for v in item] for item in raw_items]
        return tx_hash, block_number, name, _hex(signature), json.dumps(items, separators=(",", ":"))


SIGNATURE_COLUMNS = ("tx_hash", "block_number", "function", "signature", "items")
EVENT_COLUMNS = (*WHERE_COLUMNS, "contract", "name", "args")
_COLUMNS = {"events": EVENT_COLUMNS, "signatures": SIGNATURE_COLUMNS, **FACT_COLUMNS}


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


@dataclass(frozen=True, slots=True)
class ReadRange:
    """One block range as the node gave it, decoded into the rows that store it."""

    start: int
    end: int
    #: its first and last blocks and every block with a log (None: some vanished under the read)
    headers: dict[int, Block] | None
    moved: bool  # blocks vanished, or a log's block hash is not its header's: the chain changed
    rows: dict[str, TableRows]  # but those of the projected logs:
    projected: Compact  # their where + arguments (`LogRows.expand` makes their rows)
    blocks: list[Block]  # the blocks stored with it: its first and every one with a log
    events: int
    touched: set[int]


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
        fork_blocks: int = 32,
    ) -> None:
        self.store = store
        self.rpc = rpc
        self.deployment = deployment
        self.contracts = {n: to_checksum_address(deployment.address(n)) for n in PROJECT_CONTRACTS}
        self.decoder = EventDecoder.for_deployment(deployment)
        self.args = ArgsEncoder(self.decoder.arg_types())
        self.projected = LogRows(self.decoder)
        self.reader = LogReader(rpc, self.decoder, max_range=max_range, max_results=max_results)
        self.calldata = CalldataDecoder(self.contracts["AttestationRegistry"])
        self.confirmations = confirmations
        self.reorg_depth = reorg_depth
        #: a step this many blocks or more behind decodes in a forked process (see `_ranges`)
        self.fork_blocks = fork_blocks
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
        # on leaving, the reads ahead stop before anything else asks the node
        with contextlib.closing(self._ranges(cur.block_number + 1, target)) as ahead:
            for got in ahead:
                if got.headers is None:
                    break  # blocks vanished under the read (a reorg to a shorter chain): next step
                if got.headers[got.start].parent_hash != cursor_hash:
                    rewind = True
                    break
                if got.moved:
                    break  # the chain changed while we read: read this range again next step
                with collector_paused():
                    rows = self.projected.expand(got.projected, got.rows)
                    self.crash("before_write")
                    self.store.write_range(rows, got.blocks, got.headers[got.end], cursor_hash, head)
                    self.crash("after_write")
                    del rows
                cursor_hash = got.headers[got.end].hash
                report.ranges += 1
                report.events += got.events
                report.touched |= got.touched
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

    def _ranges(self, start: int, end: int) -> Generator[ReadRange, None, None]:
        """The ranges of blocks [start, end] read and decoded ahead of the caller, who writes them: the
        node's answers come in a thread; far from the head (a sync), decoding them and making their
        rows happens in a forked process too, so that a second core does it while this one writes."""
        read = self._prepared(prefetched(self._fetched(start, end), depth=2))
        if end - start + 1 >= self.fork_blocks and sys.platform == "linux":
            return forked(read, in_child=self.rpc.reopen)
        return read

    def _prepared(
        self, fetched: Generator[tuple[RawChunk, dict[int, Block] | None, dict[str, dict]], None, None]
    ) -> Generator[ReadRange, None, None]:
        """Each fetched range decoded into its rows; the last one given is the first the caller must
        not store (blocks vanished or moved under the read)."""
        with contextlib.closing(fetched):
            for raw, headers, txs in fetched:
                made = self._rows(raw.logs, headers, txs) if headers is not None else None
                if made is None:
                    yield ReadRange(raw.start, raw.end, headers, True, {}, {}, [], 0, set())
                    return
                assert headers is not None
                rows, projected, numbers, events, touched = made
                stored = [headers[n] for n in numbers | {raw.start}]
                yield ReadRange(raw.start, raw.end, headers, False, rows, projected, stored, events, touched)

    def _rows(
        self, logs: list[dict], headers: Mapping[int, Block], txs: Mapping[str, dict]
    ) -> tuple[dict[str, TableRows], Compact, set[int], int, set[int]] | None:
        """(rows by table but the projected logs', those logs as where + arguments, the blocks with
        events, how many events, the batches they touch) of a range's logs; None when a log's block
        hash is not its header's (the chain moved)."""
        encode = self.args.encode
        event_rows: list[tuple[Any, ...]] = []
        facts: dict[str, list[tuple[Any, ...]]] = {}
        attest_txs: dict[str, int] = {}
        numbers: set[int] = set()
        touched: set[int] = set()
        others: list[ChainEvent] = []
        compact: Compact = {}
        count = 0
        for raw in logs:
            kind = self.projected.kind(raw)
            values = kind.values(raw) if kind is not None else None
            if kind is None or values is None:
                event = self.decoder.decode(raw)
                if event is not None:
                    others.append(event)
                continue
            number = int(raw["blockNumber"], 16)
            block_hash = raw["blockHash"]
            if headers[number].hash != block_hash:
                return None
            numbers.add(number)
            where = (number, int(raw["logIndex"], 16), block_hash, raw["transactionHash"])
            for i in kind.touched:
                touched.add(values[i])
            for i in kind.text:
                values[i] = str(values[i])
            compact.setdefault((kind.contract, kind.name), []).append((*where, *values))
            count += 1
            if kind.name == "Attested":
                attest_txs.setdefault(where[3], number)
        for e in others:
            if headers[e.block_number].hash != e.block_hash:
                return None
            numbers.add(e.block_number)
            event_rows.append(
                (
                    e.block_number,
                    e.log_index,
                    e.block_hash,
                    e.tx_hash,
                    e.contract,
                    e.name,
                    encode(e.contract, e.name, e.args),
                )
            )
            for table, row in fact_rows(e):
                facts.setdefault(table, []).append(row)
            if e.name == "Attested":
                attest_txs.setdefault(e.tx_hash, e.block_number)
        touched |= touched_batches(others)
        rows: dict[str, TableRows] = {"events": (EVENT_COLUMNS, event_rows)}
        rows |= {table: (FACT_COLUMNS[table], table_rows) for table, table_rows in facts.items()}
        if attest_txs:
            signed = [self.calldata.row(txs[h], attest_txs[h]) for h in attest_txs]
            rows["signatures"] = (SIGNATURE_COLUMNS, signed)
        return rows, compact, numbers, count + len(event_rows), touched

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


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection meanwhile, and the young generations collected once at
    the end: receiving, building and writing a range's rows makes hundreds of thousands of tuples and
    lists, none in a cycle, and their count alone would set the collector going over them again and
    again, and over the whole heap."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect(1)
        if enabled:
            gc.enable()


def iter_with_collector_paused(items: Iterator[T]) -> Iterator[T]:
    """`items`, each made with the collector paused (`collector_paused`)."""
    while True:
        with collector_paused():
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def forked(items: Iterator[T], in_child: Callable[[], None] = lambda: None) -> Generator[T, None, None]:
    """The items of `items`, made in a forked child process while the caller works on the ones before
    (another core decodes the next ranges while this one writes). `in_child` runs first in the child
    (new connections: the parent's stay the parent's). The child only reads: it is killed when the
    caller stops early, and dies with the caller's process."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=_send_items, args=(items, in_child, sending, os.getpid()), name="index-read", daemon=True
    )
    child.start()
    sending.close()
    try:
        while True:
            try:
                with collector_paused():
                    kind, item = receiving.recv()
            except EOFError:
                child.join()
                raise ChainUnavailable(f"the reading process stopped (exit code {child.exitcode})") from None
            if kind == "error":
                raise item
            if kind == "end":
                return
            yield item
    finally:
        receiving.close()
        child.kill()
        child.join()


def _send_items(items: Iterator[Any], in_child: Callable[[], None], pipe: Any, parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a kill -9 of the follower ends its reads too
    if os.getppid() != parent:
        return  # the parent died before the line above
    gc.freeze()  # the collector leaves the parent's objects be: their pages stay shared, not copied
    try:
        in_child()
        for item in iter_with_collector_paused(items):
            pipe.send(("item", item))
        pipe.send(("end", None))
    except BrokenPipeError:
        return  # the caller stopped
    except BaseException as exc:  # handed to the caller
        try:
            pipe.send(("error", exc))
        except Exception:  # not picklable
            pipe.send(("error", ChainUnavailable(f"reading failed: {exc!r}")))


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


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
