"""Chain reads for the site: the head, logs decoded by event, block times and transactions, all cached.

Everything that can change (batch state, custody, attestations, grants) is read at one chain head and
cached under that head's block hash, so a page is never older than the block it names; what cannot
change (a block's time, a transaction's input, a decoded log) is cached by its hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract

from frontend.errors import Upstream
from frontend.services.cache import Lru
from tambon.chain import Chain
from tambon.events import ChainEvent, ChainUnavailable, EventDecoder, JsonRpc, LogReader


@dataclass(frozen=True, slots=True)
class Head:
    """The block every read of one request is pinned to."""

    number: int
    hash: str
    timestamp: int


#: a decoded log (the core's one event type)
Event = ChainEvent


def topic_uint(value: int) -> str:
    return "0x" + int(value).to_bytes(32, "big").hex()


def topic_address(value: str) -> str:
    return "0x" + bytes(12).hex() + value.lower().removeprefix("0x")


def head_from_block(block: dict[str, Any]) -> Head:
    number = block["number"]
    block_hash = block["hash"]
    return Head(
        number=int(number, 16) if isinstance(number, str) else int(number),
        hash=block_hash if isinstance(block_hash, str) else "0x" + bytes(block_hash).hex(),
        timestamp=int(block["timestamp"], 16)
        if isinstance(block["timestamp"], str)
        else int(block["timestamp"]),
    )


class ChainReader:
    """One deployment's contracts with cached, head-pinned reads."""

    def __init__(self, chain: Chain, cache_size: int = 4096) -> None:
        self.chain = chain
        self.w3 = chain.w3
        self.escrow = chain.contract("GrantEscrow")
        self.provenance = chain.contract("BatchProvenance")
        self.registry = chain.contract("AttestationRegistry")
        self.from_block = chain.deployment.block
        self._events = {
            c.address: {
                "0x" + event_abi_to_log_topic(abi).hex(): str(abi["name"])  # type: ignore[arg-type, typeddict-item]
                for abi in c.abi
                if abi.get("type") == "event"
            }
            for c in (self.escrow, self.provenance, self.registry)
        }
        self._contracts = {c.address: c for c in (self.escrow, self.provenance, self.registry)}
        # the core's chunked, limit-adapting reader: one log query never spans more than a provider allows
        self._log_reader = LogReader(
            JsonRpc(chain.settings.rpc_url), EventDecoder.for_deployment(chain.deployment)
        )
        self._block_times: Lru[int] = Lru(cache_size)
        self._txs: Lru[Any] = Lru(cache_size)
        self._calls: Lru[Any] = Lru(cache_size)

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def head(self) -> Head:
        try:
            return head_from_block(dict(self.w3.eth.get_block("latest")))
        except Exception as exc:  # requests' connection errors, node errors
            raise Upstream(f"chain node unreachable: {exc}") from exc

    def topic(self, contract: Contract, name: str) -> str:
        for topic, event in self._events[contract.address].items():
            if event == name:
                return topic
        raise KeyError(name)

    def call(self, head: Head, fn: Any, *, key: tuple | None = None) -> Any:
        """A view call pinned to `head`; cached under (head hash, key) when a key is given."""

        def run() -> Any:
            try:
                return fn.call(block_identifier=head.number)
            except Exception as exc:
                raise Upstream(f"chain call failed: {exc}") from exc

        if key is None:
            return run()
        return self._calls.get_or_make((head.hash, *key), run)

    def logs(self, head: Head, contract: Contract, topics: Sequence[Any]) -> list[Event]:
        """Decoded logs of `contract` matching `topics` from the deployment block up to `head`."""
        try:
            return self._log_reader.events(self.from_block, head.number, topics, [contract.address])
        except ChainUnavailable as exc:
            raise Upstream(f"chain log query failed: {exc}") from exc

    def block_time(self, block_hash: str) -> int:
        def fetch() -> int:
            try:
                return int(self.w3.eth.get_block(HexBytes(block_hash))["timestamp"])
            except Exception as exc:
                raise Upstream(f"chain block query failed: {exc}") from exc

        return self._block_times.get_or_make(block_hash, fetch)

    def block_times(self, events: Iterable[Event]) -> dict[str, int]:
        return {e.block_hash: self.block_time(e.block_hash) for e in events}

    def transaction(self, tx_hash: str) -> Any:
        def fetch() -> Any:
            try:
                return self.w3.eth.get_transaction(HexBytes(tx_hash))
            except Exception as exc:
                raise Upstream(f"chain transaction query failed: {exc}") from exc

        return self._txs.get_or_make(tx_hash, fetch)

    def decode_input(self, contract: Contract, tx_hash: str) -> tuple[str, dict[str, Any]] | None:
        """(function name, arguments) of a transaction sent straight to `contract`, else None."""
        tx = self.transaction(tx_hash)
        if tx.get("to") is None or to_checksum_address(tx["to"]) != contract.address:
            return None
        try:
            fn, args = contract.decode_function_input(tx["input"])
        except ValueError:
            return None
        return fn.fn_name, {k: _plain(v) for k, v in args.items()}


def _plain(value: Any) -> Any:
    """Web3 return values as plain Python (bytes, ints, str, lists, dicts)."""
    if isinstance(value, HexBytes | bytearray):
        return bytes(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
