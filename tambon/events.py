"""The one chain-event reader: chunked `eth_getLogs` that adapts to provider limits, decoded once.

    rpc = JsonRpc(settings.rpc_url)
    reader = LogReader(rpc, EventDecoder.for_deployment(deployment))
    for chunk in reader.chunks(start, end):
        ...  # chunk.events: list[ChainEvent] in chain order

Public providers cap `eth_getLogs` by block range (1,000–10,000 blocks) or result count (10,000
logs), answer 429 under load and time out on wide ranges. The reader starts with a wide range,
halves it when the node refuses the range or its result size (or times out), grows it again after
successes, and retries 429s, 5xx answers and timeouts with exponential backoff (honouring
Retry-After). Every log is decoded once, straight from its topics and data with eth-abi, into a
`ChainEvent`: contract name, event name, plain Python arguments (ints, `bytes` for fixed bytes,
checksummed addresses, str) and where it happened.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
import structlog
from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address

from tambon.chain import Deployment, load_abi
from tambon.errors import TambonError

log = structlog.get_logger("events")

#: contracts whose events the project reads (deployment name -> ABI name)
PROJECT_CONTRACTS = ("GrantEscrow", "BatchProvenance", "AttestationRegistry")


class ChainUnavailable(TambonError):
    """The node kept failing (connection errors, 429s, timeouts) past every retry."""


class RangeRefused(Exception):
    """The node refused a log query for its block range or result size: ask for fewer blocks."""


class RetryableError(Exception):
    """A 429, a 5xx answer, a timeout or a dropped connection: the same request may succeed later."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


# what providers say when a log query is too wide or too large (geth, Infura, Alchemy, QuickNode…)
_RANGE_LIMIT = re.compile(
    r"block range|range (is )?too (large|wide)|exceed(s|ed)? (the )?(maximum|max|limit)|"
    r"more than \d+ results|too many (results|logs|blocks)|response size|limit exceeded|"
    r"query timeout|returned more than",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """A decoded log: which contract, which event, its arguments, and where it happened."""

    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int

    @property
    def position(self) -> tuple[int, int]:
        return self.block_number, self.log_index


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def block_from_json(block: Mapping[str, Any]) -> Block:
    return Block(
        number=_int(block["number"]),
        hash=str(block["hash"]),
        parent_hash=str(block["parentHash"]),
        timestamp=_int(block["timestamp"]),
    )


class JsonRpc:
    """Plain JSON-RPC over HTTP with retries: 429/5xx/timeouts back off exponentially."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int = 8,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
    ) -> None:
        self.url = url
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._timeout = timeout
        self._client = httpx.Client(timeout=timeout)
        self._id = 0

    def close(self) -> None:
        self._client.close()

    def reopen(self) -> None:
        """New connections, for a forked process: the parent's open connections stay the parent's
        (left open here: closing them could end them for the parent too)."""
        self._client = httpx.Client(timeout=self._timeout)

    def _post(self, payload: Any) -> Any:
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"timeout: {exc}") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"connection failed: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            after = response.headers.get("retry-after")
            raise RetryableError(
                f"HTTP {response.status_code}", float(after) if after and after.isdigit() else None
            )
        if response.status_code == 413:
            raise RangeRefused("HTTP 413: response too large")
        if response.status_code != 200:
            raise ChainUnavailable(f"{self.url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise RetryableError(f"unreadable answer: {exc}") from exc

    def _with_retries(self, payload: Any, narrow_on_timeout: bool = False) -> Any:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return self._post(payload)
            except RetryableError as exc:
                if narrow_on_timeout and attempt >= 1 and str(exc).startswith("timeout"):
                    raise RangeRefused(f"timed out twice: {exc}") from exc
                if attempt == self.retries:
                    raise ChainUnavailable(f"{self.url}: {exc} (after {self.retries} retries)") from exc
                wait = exc.retry_after if exc.retry_after is not None else delay * (1 + random.random())
                log.debug("rpc.retry", error=str(exc), wait=round(wait, 3))
                time.sleep(min(wait, self.max_backoff))
                delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    def _next_id(self) -> int:
        self._id += 1
        return self._id

    @staticmethod
    def _result(answer: Any, method: str) -> Any:
        if not isinstance(answer, Mapping):
            raise ChainUnavailable(f"{method}: malformed JSON-RPC answer")
        error = answer.get("error")
        if error:
            message = str(error.get("message", error)) if isinstance(error, Mapping) else str(error)
            code = error.get("code") if isinstance(error, Mapping) else None
            if method == "eth_getLogs" and (code == -32005 or _RANGE_LIMIT.search(message)):
                raise RangeRefused(message)
            if code == 429 or "rate limit" in message.lower() or "too many requests" in message.lower():
                raise RetryableError(message)
            raise ChainUnavailable(f"{method}: {message}")
        return answer.get("result")

    def call(self, method: str, params: Sequence[Any]) -> Any:
        payload = {"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": list(params)}
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                # a log query that keeps timing out is too wide: the reader narrows it
                answer = self._with_retries(payload, narrow_on_timeout=method == "eth_getLogs")
                return self._result(answer, method)
            except RetryableError as exc:  # a rate limit given as a JSON-RPC error
                if attempt == self.retries:
                    raise ChainUnavailable(f"{method}: {exc}") from exc
                time.sleep(min(delay * (1 + random.random()), self.max_backoff))
                delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]], size: int = 50) -> list[Any]:
        """Several calls in JSON-RPC batches of `size`; answers in the order of `calls`."""
        out: list[Any] = []
        for start in range(0, len(calls), size):
            part = calls[start : start + size]
            ids = [self._next_id() for _ in part]
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
                for i, (m, p) in zip(ids, part, strict=True)
            ]
            answers = self._with_retries(payload)
            if not isinstance(answers, list):  # some nodes refuse batches: one by one then
                out += [self.call(m, p) for m, p in part]
                continue
            by_id = {a.get("id"): a for a in answers if isinstance(a, Mapping)}
            for i, (method, params) in zip(ids, part, strict=True):
                answer = by_id.get(i)
                try:
                    out.append(self._result(answer, method))
                except RetryableError:
                    out.append(self.call(method, params))
        return out

    # typed helpers

    def block_number(self) -> int:
        return _int(self.call("eth_blockNumber", []))

    def block(self, number: int | str) -> Block | None:
        tag = hex(number) if isinstance(number, int) else number
        found = self.call("eth_getBlockByNumber", [tag, False])
        return block_from_json(found) if found else None

    def blocks(self, numbers: Iterable[int]) -> dict[int, Block]:
        wanted = sorted(set(numbers))
        found = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in wanted])
        return {n: block_from_json(b) for n, b in zip(wanted, found, strict=True) if b}

    def logs(self, addresses: Sequence[str], start: int, end: int, topics: Sequence[Any] = ()) -> list[dict]:
        query: dict[str, Any] = {"address": list(addresses), "fromBlock": hex(start), "toBlock": hex(end)}
        if topics:
            query["topics"] = list(topics)
        return list(self.call("eth_getLogs", [query]) or [])

    def transactions(self, hashes: Iterable[str]) -> dict[str, dict]:
        wanted = sorted(set(hashes))
        found = self.batch([("eth_getTransactionByHash", [h]) for h in wanted])
        return {h: t for h, t in zip(wanted, found, strict=True) if t}


@lru_cache(maxsize=65536)
def checksum_address(address: str) -> str:
    """The EIP-55 form of an address (remembered: a chain's logs repeat few addresses)."""
    return to_checksum_address(address)


def _plain(value: Any, abi_type: str) -> Any:
    if abi_type == "address":
        return checksum_address(value)
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        return [_plain(v, inner) for v in value]
    return value


def _type_string(param: Mapping[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_type_string(c) for c in param["components"]) + ")" + param["type"][5:]
    return str(param["type"])


class NotPlain(Exception):
    """A word a fast reader will not vouch for (bad padding, out of range): eth-abi decides."""


WordReader = Callable[[bytes], Any]


def word_reader(abi_type: str) -> WordReader | None:
    """How to read one 32-byte word of a static type to the value eth-abi (strict) gives, or raise
    `NotPlain` where eth-abi might disagree; None for types left to eth-abi."""
    if match := re.fullmatch(r"(u?)int(\d*)", abi_type):
        bits = int(match.group(2) or 256)
        signed = not match.group(1)
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)

        def read_int(word: bytes) -> int:
            value = int.from_bytes(word, "big", signed=signed)
            if not low <= value < high:
                raise NotPlain
            return value

        return read_int
    if abi_type == "address":

        def read_address(word: bytes) -> str:
            if any(word[:12]):
                raise NotPlain
            return checksum_address("0x" + word[12:].hex())

        return read_address
    if abi_type == "bool":

        def read_bool(word: bytes) -> bool:
            if any(word[:31]) or word[31] > 1:
                raise NotPlain
            return word[31] == 1

        return read_bool
    if match := re.fullmatch(r"bytes(\d+)", abi_type):
        size = int(match.group(1))

        def read_bytes(word: bytes) -> bytes:
            if any(word[size:]):
                raise NotPlain
            return word[:size]

        return read_bytes
    return None


@dataclass(frozen=True)
class _EventAbi:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    #: one reader per indexed topic (None: a dynamic value, kept as its hash) and per data word when
    #: every data value is static (else None: eth-abi decodes the data)
    topic_readers: tuple[WordReader | None, ...] = ()
    data_readers: tuple[WordReader, ...] | None = None


def _event_abi(contract: str, item: Mapping[str, Any]) -> _EventAbi:
    inputs = item["inputs"]
    indexed = tuple((i["name"], _type_string(i)) for i in inputs if i.get("indexed"))
    data = tuple((i["name"], _type_string(i)) for i in inputs if not i.get("indexed"))
    data_readers = [word_reader(t) for _, t in data]
    return _EventAbi(
        contract=contract,
        name=str(item["name"]),
        indexed=indexed,
        data=data,
        topic_readers=tuple(None if _hashed_in_topic(t) else word_reader(t) for _, t in indexed),
        data_readers=None if None in data_readers else tuple(r for r in data_readers if r is not None),
    )


def _hashed_in_topic(abi_type: str) -> bool:
    """Indexed dynamic values (strings, bytes, arrays, tuples) are only their hash in a topic."""
    return abi_type in ("string", "bytes") or abi_type.endswith("]") or abi_type.startswith("(")


class EventDecoder:
    """topic0 of every event of some contracts -> how to decode it, worked out once: static values
    straight from their 32-byte words (what eth-abi gives, checked as strictly), the rest with eth-abi."""

    def __init__(self, contracts: Mapping[str, tuple[str, Sequence[Mapping[str, Any]]]]) -> None:
        """`contracts`: address -> (contract name, ABI)."""
        self.names = {checksum_address(a): name for a, (name, _) in contracts.items()}
        self._events: dict[tuple[str, str], _EventAbi] = {}
        for address, (name, abi) in contracts.items():
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                topic = "0x" + event_abi_to_log_topic(item).hex()  # type: ignore[arg-type]
                self._events[(checksum_address(address).lower(), topic)] = _event_abi(name, item)

    @classmethod
    def for_deployment(cls, deployment: Deployment, names: Sequence[str] = PROJECT_CONTRACTS) -> EventDecoder:
        return cls({deployment.address(n): (n, load_abi(n)) for n in names})

    @property
    def addresses(self) -> list[str]:
        return sorted(self.names)

    def arg_types(self) -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
        """(contract, event) -> each argument's name and ABI type in the decoded event (an indexed
        dynamic value is its hash: bytes32)."""
        return {
            (spec.contract, spec.name): tuple(
                (name, "bytes32" if _hashed_in_topic(t) else t) for name, t in spec.indexed
            )
            + spec.data
            for spec in self._events.values()
        }

    def layouts(
        self,
    ) -> dict[tuple[str, str], tuple[str, str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]]:
        """(address lowercased, topic0) -> (contract, event, indexed arguments, data arguments), each
        argument's name and ABI type, in the order of the decoded event's arguments."""
        return {key: (s.contract, s.name, s.indexed, s.data) for key, s in self._events.items()}

    def topic(self, contract: str, event: str) -> str:
        for (_, topic), spec in self._events.items():
            if spec.contract == contract and spec.name == event:
                return topic
        raise KeyError(f"{contract}.{event}")

    def decode(self, raw: Mapping[str, Any]) -> ChainEvent | None:
        """One raw JSON-RPC log as a ChainEvent; None for a log this decoder does not know."""
        topics = raw["topics"]
        if not topics:
            return None
        spec = self._events.get((str(raw["address"]).lower(), str(topics[0]).lower()))
        if spec is None or len(topics) != len(spec.indexed) + 1:
            return None
        args: dict[str, Any] = {}
        for (name, abi_type), read, topic in zip(spec.indexed, spec.topic_readers, topics[1:], strict=True):
            word = bytes.fromhex(topic[2:])
            args[name] = self._value(word, abi_type, read) if not _hashed_in_topic(abi_type) else word
        if spec.data:
            data = bytes.fromhex(str(raw["data"])[2:])
            values = self._static_data(spec, data)
            if values is None:
                decoded = abi_decode([t for _, t in spec.data], data)
                values = [_plain(v, t) for v, (_, t) in zip(decoded, spec.data, strict=True)]
            for (name, _), value in zip(spec.data, values, strict=True):
                args[name] = value
        return ChainEvent(
            contract=spec.contract,
            name=spec.name,
            args=args,
            block_number=_int(raw["blockNumber"]),
            block_hash=str(raw["blockHash"]),
            tx_hash=str(raw["transactionHash"]),
            log_index=_int(raw["logIndex"]),
        )

    @staticmethod
    def _static_data(spec: _EventAbi, data: bytes) -> list[Any] | None:
        """Static data values read one 32-byte word each without eth-abi's machinery; None when the
        event has a dynamic value or a word is not plainly valid (eth-abi then decides)."""
        readers = spec.data_readers
        if readers is None or len(data) != 32 * len(readers):
            return None
        try:
            return [read(data[32 * i : 32 * i + 32]) for i, read in enumerate(readers)]
        except NotPlain:
            return None

    @staticmethod
    def _value(word: bytes, abi_type: str, read: WordReader | None) -> Any:
        if read is not None:
            try:
                return read(word)
            except NotPlain:
                pass
        (value,) = abi_decode([abi_type], word)
        return _plain(value, abi_type)

    def decode_all(self, raws: Iterable[Mapping[str, Any]]) -> list[ChainEvent]:
        out = [e for e in map(self.decode, raws) if e is not None]
        out.sort(key=lambda e: (e.block_number, e.log_index))
        return out


@dataclass(frozen=True, slots=True)
class Chunk:
    """The decoded events of one block range [start, end], in chain order."""

    start: int
    end: int
    events: list[ChainEvent]


@dataclass(frozen=True, slots=True)
class RawChunk:
    """The logs of one block range [start, end] as the node gave them."""

    start: int
    end: int
    logs: list[dict]

    def block_numbers(self) -> set[int]:
        """The blocks the logs are in."""
        return {_int(raw["blockNumber"]) for raw in self.logs}


class LogReader:
    """Chunked, adaptive `eth_getLogs` over the decoder's contracts."""

    def __init__(
        self,
        rpc: JsonRpc,
        decoder: EventDecoder,
        *,
        max_range: int = 10_000,
        min_range: int = 1,
        max_results: int | None = None,
    ) -> None:
        self.rpc = rpc
        self.decoder = decoder
        self.max_range = max_range
        self.min_range = min_range
        #: aim for at most this many logs a range (None: as wide as the node allows)
        self.max_results = max_results
        #: the current range width; shrinks on refusals and past `max_results`, grows after
        #: successes, kept across calls
        self.span = max_range if max_results is None else min_range
        self.refusals = 0

    def raw_chunks(
        self, start: int, end: int, topics: Sequence[Any] = (), addresses: Sequence[str] | None = None
    ) -> Iterator[RawChunk]:
        """Raw logs of `addresses` (default: every decoder contract) in [start, end], by range."""
        wanted = list(addresses) if addresses is not None else self.decoder.addresses
        block = start
        streak = 0
        while block <= end:
            stop = min(end, block + self.span - 1)
            try:
                raw = self.rpc.logs(wanted, block, stop, topics)
            except RangeRefused as exc:
                if stop == block:
                    raise ChainUnavailable(f"the node refuses logs of block {block}: {exc}") from exc
                self.refusals += 1
                self.span = max(self.min_range, (stop - block + 1) // 2)
                streak = 0
                log.debug("logs.narrow", start=block, span=self.span, reason=str(exc)[:120])
                continue
            yield RawChunk(block, stop, raw)
            width, block = stop - block + 1, stop + 1
            streak += 1
            sparse = self.max_results is None or 2 * len(raw) <= self.max_results
            if self.max_results is not None and len(raw) > self.max_results:
                # dense blocks: fewer of them a range, so that a range's use overlaps the next read
                self.span = max(self.min_range, width * self.max_results // len(raw))
                streak = 0
            elif self.max_results is not None and sparse and self.refusals == 0 and width == self.span:
                self.span = min(self.max_range, self.span * 2)  # no limit met yet: widen at once
                streak = 0
            elif streak >= 4 and sparse and self.span < self.max_range:
                self.span = min(self.max_range, self.span * 2)  # the limit may have been a moment's load
                streak = 0

    def chunks(
        self, start: int, end: int, topics: Sequence[Any] = (), addresses: Sequence[str] | None = None
    ) -> Iterator[Chunk]:
        """Decoded events of `addresses` (default: every decoder contract) in [start, end], by range."""
        for raw in self.raw_chunks(start, end, topics, addresses):
            yield Chunk(raw.start, raw.end, self.decoder.decode_all(raw.logs))

    def events(
        self, start: int, end: int, topics: Sequence[Any] = (), addresses: Sequence[str] | None = None
    ) -> list[ChainEvent]:
        """Every decoded event in [start, end], in chain order."""
        out: list[ChainEvent] = []
        for chunk in self.chunks(start, end, topics, addresses):
            out += chunk.events
        return out
