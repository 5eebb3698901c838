"""Read batches for the exports from the chain (BatchProvenance logs) and an evidence reader.

    traces = read_traces(Chain(settings), fetch_record)

`fetch_record(cid) -> dict` returns the `record.json` of an evidence CID, following a batch's
ERC-721 metadata document to its bundle (`evidence.bundle.record_fetcher` over a store). It raises
on failure; the message is kept on the event (the export shows it, nothing is dropped).
The website builds the same dataclasses from its own batch history service.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eth_utils import to_checksum_address

from compliance.model import BatchTrace, ChainRef, Traces, TrackingEvent
from tambon.cid import cid_string
from tambon.errors import TambonError
from tambon.events import ChainEvent
from tambon.provenance import stage_name

RecordFetcher = Callable[[str], Mapping[str, Any]]
EVENTS = ("BatchRegistered", "StepAdded", "Split", "Merged")


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = value.hex() if hasattr(value, "hex") and not isinstance(value, str) else str(value)
    return text if text.startswith("0x") else "0x" + text


def read_traces(chain, fetch_record: RecordFetcher, *, from_block: int | None = None) -> Traces:
    """Every batch of the deployment's BatchProvenance with its events and records, read from the node
    with the core event reader (`tambon.events`: chunked `eth_getLogs` within provider limits). A site
    or a command with a chain index reads `index_traces` instead."""
    from tambon.events import EventDecoder, JsonRpc, LogReader

    rpc = JsonRpc(chain.settings.rpc_url)
    try:
        decoder = EventDecoder.for_deployment(chain.deployment, ("BatchProvenance",))
        start = chain.deployment.block if from_block is None else from_block
        head = rpc.block_number()
        topics = [[decoder.topic("BatchProvenance", name) for name in EVENTS]]
        events = LogReader(rpc, decoder).events(start, head, topics)
        blocks = rpc.blocks({e.block_number for e in events})
    finally:
        rpc.close()
    times = {b.hash: b.timestamp for b in blocks.values()}
    return traces_from_chain_events(
        events,
        times,
        fetch_record,
        chain_id=chain.chain_id,
        contract=to_checksum_address(chain.deployment.address("BatchProvenance")),
    )


def index_traces(
    index,
    fetch_record: RecordFetcher,
    *,
    chain_id: int,
    contract: str,
    batch_ids: Sequence[int] | None = None,
) -> Traces:
    """Batches from a chain index (`tambon.index.reader.IndexReader`): every batch, or the given ones."""
    events = index.history_events(batch_ids)
    times = index.block_times(e.block_hash for e in events)
    return traces_from_chain_events(events, times, fetch_record, chain_id=chain_id, contract=contract)


def traces_from_chain_events(
    events: Sequence[ChainEvent],
    times: Mapping[str, int],
    fetch_record: RecordFetcher,
    *,
    chain_id: int | None,
    contract: str | None,
) -> Traces:
    """Traces from decoded `ChainEvent`s in chain order and their blocks' times (by block hash)."""
    plain = [
        {
            "event": e.name,
            "args": e.args,
            "transactionHash": e.tx_hash,
            "blockNumber": e.block_number,
            "logIndex": e.log_index,
            "timestamp": times.get(e.block_hash),
        }
        for e in events
        if e.name in EVENTS
    ]
    return traces_from_events(plain, fetch_record, chain_id=chain_id, contract=contract)


def traces_from_events(
    events: Sequence[Mapping[str, Any]],
    fetch_record: RecordFetcher,
    *,
    chain_id: int | None,
    contract: str | None,
) -> Traces:
    """Build traces from decoded logs in chain order (web3 `AttributeDict`s or plain dicts with
    `event`, `args`, `transactionHash`, `blockNumber`, `logIndex`)."""
    mints: dict[int, dict[str, Any]] = {}
    steps: dict[int, list[tuple[Mapping, Mapping]]] = {}
    parents: dict[int, tuple[int, ...]] = {}
    kinds: dict[int, str] = {}
    for e in events:
        args = e["args"]
        if e["event"] == "BatchRegistered":
            mints[int(args["batchId"])] = {"event": e, "args": args}
        elif e["event"] == "StepAdded":
            steps.setdefault(int(args["batchId"]), []).append((e, args))
        elif e["event"] == "Merged":
            child = int(args["childId"])
            parents[child] = tuple(int(p) for p in args["parentIds"])
            kinds[child] = "merge"
        elif e["event"] == "Split":
            first, count = int(args["firstChildId"]), int(args["count"])
            for child in range(first, first + count):
                parents[child] = (int(args["parentId"]),)
                kinds[child] = "split"
    cache: dict[str, tuple[Mapping[str, Any] | None, str | None]] = {}

    def load(digest: Any, codec: int) -> tuple[str | None, Mapping | None, str | None]:
        cid = cid_string(bytes(digest), int(codec))
        if cid is None:
            return None, None, "no evidence recorded"
        if cid not in cache:
            try:
                cache[cid] = (fetch_record(cid), None)
            except (TambonError, OSError, ValueError, KeyError) as exc:
                cache[cid] = (None, str(exc) or type(exc).__name__)
        return cid, *cache[cid]

    batches: dict[int, BatchTrace] = {}
    for batch_id, mint in mints.items():
        e, args = mint["event"], mint["args"]
        ref = _ref(
            e, batch_id, kinds.get(batch_id, "register"), None, None, chain_id, contract, args.get("producer")
        )
        cid, record, error = load(args["evidence"], args["codec"])
        tracked = [TrackingEvent(ref, cid, record, error)]
        for se, sargs in steps.get(batch_id, []):
            stage_no = int(sargs["stage"])
            stage = stage_name(stage_no)
            sref = _ref(
                se, batch_id, "step", int(sargs["index"]), stage, chain_id, contract, sargs.get("actor")
            )
            if "data" in sargs:
                sref = dataclasses.replace(sref, data=int(sargs["data"]))
            scid, srecord, serror = load(sargs["evidence"], sargs["codec"])
            tracked.append(TrackingEvent(sref, scid, srecord, serror))
        batches[batch_id] = BatchTrace(
            batch_id=batch_id,
            producer=str(args.get("producer", "")),
            crop=int(args.get("crop", 0)),
            quantity_grams=int(args.get("quantityGrams", 0)),
            harvest_day=int(args.get("harvestDay", 0)),
            parents=parents.get(batch_id, ()),
            events=tuple(tracked),
        )
    return Traces(batches)


def _ref(e, batch_id, kind, index, stage, chain_id, contract, actor) -> ChainRef:
    return ChainRef(
        batch_id=batch_id,
        kind=kind,
        tx_hash=_hex(e["transactionHash"]),
        block_number=int(e["blockNumber"]),
        log_index=int(e["logIndex"]),
        step_index=index,
        stage=stage,
        timestamp=int(e["timestamp"]) if e.get("timestamp") is not None else None,
        actor=str(actor) if actor else None,
        chain_id=chain_id,
        contract=contract,
    )
