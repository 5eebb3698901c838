"""`tambon oracle run`: BatchProvenance events -> evidence -> grade -> EIP-712 attestation -> registry.

One `Oracle.step()` is idempotent and every decision it takes is first written to a state file
(atomic rename + fsync), so the process may be killed at any instant and restarted:

1. **In-flight transactions** (write-ahead): a transaction is signed, its raw bytes saved, then
   sent. After a restart a saved transaction is looked up by hash; if the node never saw it, the
   same raw bytes (same nonce) are re-broadcast, so a crash between save and send cannot lead to
   a second, different posting.
2. **Reorgs**: the cursor holds the last processed block's number and hash plus recent hashes;
   when the chain's hash at the cursor differs, the cursor rolls back to the newest block still
   canonical and the range is scanned again.
3. **Scan**: `BatchRegistered` logs up to `head - confirmations` become pending work (deduplicated
   by evidence digest), saved together with the new cursor.
4. **Watch**: attestations this oracle posted stay watched for `reorg_window` blocks; if a reorg
   removed one (`is_attested` false again), it goes back to pending and is posted again.
5. **Post**: each pending item is checked on-chain first (`is_attested(evidence, key)`); the rest
   are fetched from the evidence store (every block re-hashed against its CID), graded, signed and
   posted: `attest` for one, `attestMany` (one signed Merkle root) for several. Evidence that
   cannot be fetched is retried with exponential backoff; a node that is down stops the step and
   the loop retries with backoff.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog
from eth_typing import HexStr
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import SQLAlchemyError
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from evidence.bundle import open_bundle
from evidence.errors import EvidenceError as StoreError
from oracle.errors import EvidenceError, ItemRefused, OracleError
from oracle.grader import ABSTAIN, Grader, GradeResult
from oracle.measure import IMAGE_SUFFIXES
from tambon.attestation import Attestation, Grade, sign_attestation, sign_batch
from tambon.chain import load_abi
from tambon.cid import OnchainCid
from tambon.events import ChainEvent, EventDecoder, JsonRpc, LogReader
from tambon.index.reader import IndexReader

log = structlog.get_logger("oracle")

GRADE_ORDER = ("EXTRA", "CLASS_I", "CLASS_II", "REJECT")
MAX_PHOTO_BYTES = 32 * 1024 * 1024
#: The fruit a photo must show for a batch registered with this crop code (the project's crop
#: list, BatchProvenance.register); a photo of another fruit abstains. Codes not listed are not checked.
CROP_FRUITS = {201: "mango", 202: "durian", 203: "mangosteen", 204: "longan"}


class OracleSettings(BaseSettings):
    """`TAMBON_ORACLE_*` settings of the chain service."""

    model_config = SettingsConfigDict(env_prefix="TAMBON_ORACLE_", env_file=".env", extra="ignore")

    #: blocks a registration must be buried under before it is graded
    confirmations: int = 2
    #: seconds between polls of the node
    poll_interval: float = 1.0
    #: blocks an own attestation stays watched for removal by a reorg
    reorg_window: int = 64
    #: most attestations in one `attestMany`
    max_batch: int = 16
    #: most photos graded per evidence bundle
    max_photos: int = 12
    #: widest block range per `eth_getLogs`
    log_range: int = 2000
    #: encrypted keystore of the oracle key (password from TAMBON_KEYSTORE_PASSWORD)
    keystore: Path | None = None
    #: demo account index, accepted on a local chain only
    demo_account: int | None = None
    #: state file (default: <TAMBON_DATA_DIR>/oracle/state-<chain id>.json)
    state_file: Path | None = None

    @field_validator("confirmations", "reorg_window", "max_photos", "log_range")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("max_batch")
    @classmethod
    def _batch(cls, value: int) -> int:
        if not 1 <= value <= 64:
            raise ValueError("max_batch must be 1..64 (the registry's attestMany limit)")
        return value


# ------------------------------------------------------------------------------------------- state


@dataclass
class State:
    """What survives a restart. Keys of `pending`/`watch` are evidence digests (0x hex)."""

    cursor_block: int
    cursor_hash: str | None = None
    recent: list[list] = field(default_factory=list)  # [[block, hash], ...] newest last
    pending: dict[str, dict] = field(default_factory=dict)
    inflight: dict[str, dict] = field(default_factory=dict)  # tx hash -> {raw, nonce, items}
    watch: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, start_block: int) -> State:
        if not path.exists():
            return cls(cursor_block=start_block - 1)
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise OracleError(
                f"oracle state file {path} is unreadable ({exc}); move it away to rescan"
            ) from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(self.__dict__, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# ------------------------------------------------------------------------------- pure decisions


def fetch_bundle(store, onchain: OnchainCid, max_photos: int) -> tuple[list[tuple[str, bytes]], dict | None]:
    """Photos and record.json of an evidence bundle (a single-file CID is the photo itself); every
    block is checked against its CID."""
    cid = str(onchain)
    try:
        bundle = open_bundle(store, cid)
        if not bundle.is_directory:
            return [("evidence", bundle.content or b"")], None
        names = bundle.photo_names(IMAGE_SUFFIXES)[:max_photos]
        return [(name, bundle.read(name)) for name in names], bundle.record
    except StoreError as exc:
        raise EvidenceError(f"evidence {cid}: {exc}") from exc


def fruit_weight(record: dict | None) -> float | None:
    """Mean fruit weight in grams from record.json (`fruit_weight_g`), if the producer gave it."""
    if not record:
        return None
    value = record.get("fruit_weight_g")
    if isinstance(value, int | float) and 0 < value < 10_000:
        return float(value)
    return None


def lot_grade(results: list[GradeResult]) -> tuple[str, float]:
    """A lot's grade: the worst class among its graded photos; ABSTAIN when most photos abstain."""
    graded = [r for r in results if r.grade != ABSTAIN]
    if not results or len(graded) * 2 < len(results):
        conf = max((r.confidence for r in results), default=0.0)
        return ABSTAIN, conf
    worst = max(graded, key=lambda r: GRADE_ORDER.index(r.grade))
    return worst.grade, min(r.confidence for r in graded)


# --------------------------------------------------------------------------------------- service


CrashHook = Callable[[str], None]


class Postable(Protocol):
    """What a service posts: a signed fact with the registry struct's argument form."""

    @property
    def batch_id(self) -> int: ...

    def as_tuple(self) -> tuple[Any, ...]: ...


class ProvenanceScan:
    """Where the oracle's scans read BatchProvenance events.

    From the chain index when one is given, it reaches the range's end and its cursor block is still
    the chain's block at that height (then every fact at or below it is canonical: the follower
    links each range to the one before by parent hash); else from the node through the core event
    reader (`tambon.events`, chunked `eth_getLogs` within provider limits). An index that lags, was
    left on an orphaned block or cannot be read never holds the oracle back or feeds it stale facts.
    """

    def __init__(self, w3: Web3, provenance_address: str, index: IndexReader | None = None) -> None:
        self.w3 = w3
        self.index = index
        endpoint = getattr(w3.provider, "endpoint_uri", None)
        if not endpoint:
            raise OracleError("the oracle reads the chain over HTTP JSON-RPC (an HTTPProvider)")
        self.rpc = JsonRpc(str(endpoint))
        self.decoder = EventDecoder({provenance_address: ("BatchProvenance", load_abi("BatchProvenance"))})
        self.address = provenance_address
        self.from_index = 0  # ranges read from the index / from the node (logged and tested)
        self.from_node = 0

    def _index_covers(self, end: int) -> bool:
        if self.index is None:
            return False
        try:
            cursor = self.index.cursor()
        except SQLAlchemyError as exc:
            log.warning("oracle.index_unreadable", error=str(exc)[:200])
            return False
        if cursor is None or cursor.block_number < end:
            return False
        block = self.w3.eth.get_block(cursor.block_number)
        return block is not None and block["hash"].to_0x_hex() == cursor.block_hash

    def events(self, name: str, start: int, end: int) -> list[ChainEvent]:
        """`name` events of BatchProvenance in blocks [start, end], in chain order."""
        if self._index_covers(end):
            assert self.index is not None
            self.from_index += 1
            return self.index.events_between(start, end, "BatchProvenance", name)
        self.from_node += 1
        topic = self.decoder.topic("BatchProvenance", name)
        return LogReader(self.rpc, self.decoder).events(start, end, [topic], [self.address])


class Oracle:
    """The chain service; `step()` does one pass, `run()` loops with backoff."""

    def __init__(
        self,
        w3: Web3,
        provenance,
        registry,
        account,
        store,
        grader: Grader | None,
        state_file: Path,
        start_block: int = 0,
        settings: OracleSettings | None = None,
        crash_hook: CrashHook | None = None,
        scan: ProvenanceScan | None = None,
    ):
        self.w3 = w3
        self.scan = scan or ProvenanceScan(w3, provenance.address)
        self.provenance = provenance
        self.registry = registry
        self.account = account
        self.store = store
        self.grader = grader
        self.settings = settings or OracleSettings()
        self.state_file = state_file
        self.state = State.load(state_file, start_block)
        self.crash = crash_hook or (lambda point: None)
        self.chain_id = w3.eth.chain_id
        # The cold-chain service (oracle.coldchain.service) grades nothing: it has no grader.
        self.model_sha = bytes.fromhex(grader.model.sha256) if grader is not None else b""
        self._backoff: dict[str, tuple[int, float]] = {}

    # ----------------------------------------------------------------------------- checks

    def preflight(self) -> None:
        """Refuse to start with a key, model or rule set the registry would reject."""
        if not self.registry.functions.is_active_key(self.account.address).call():
            raise OracleError(f"oracle key {self.account.address} is not active in the AttestationRegistry")
        sha256, refusal = self.approval()
        if not self.registry.functions.is_approved_model(sha256).call():
            raise OracleError(refusal)

    def approval(self) -> tuple[bytes, str]:
        """The hash the registry must have approved for this service's attestations, and the refusal if not."""
        return self.model_sha, (
            f"model sha256 {self.model_sha.hex()} is not approved in the AttestationRegistry; "
            "the council approves it with `approveModel`"
        )

    # Hooks: what this service watches and posts (grading: registered batches; see ColdChainOracle).

    def item_key(self, item: dict) -> str:
        """The state key of a work item: the evidence digest (0x hex)."""
        return item["evidence"]

    def new_items(self, start: int, end: int) -> list[dict]:
        """Work items (evidence, codec, batch_id, block) found in blocks start..end."""
        return [
            {
                "evidence": "0x" + bytes(ev.args["evidence"]).hex(),
                "codec": int(ev.args["codec"]),
                "batch_id": int(ev.args["batchId"]),
                "crop": int(ev.args["crop"]),
                "block": ev.block_number,
            }
            for ev in self.scan.events("BatchRegistered", start, end)
        ]

    def is_attested(self, item: dict) -> bool:
        return bool(self.registry.functions.is_attested(item["evidence"], self.account.address).call())

    def _save(self) -> None:
        self.state.save(self.state_file)

    # ------------------------------------------------------------------------------- step

    def step(self) -> dict[str, int]:
        """One idempotent pass. Returns counters (scanned events, posted attestations...)."""
        report = {"found": 0, "posted": 0, "restored": 0, "skipped": 0, "reorgs": 0}
        self._resolve_inflight()
        head = self.w3.eth.block_number
        report["reorgs"] = self._check_reorg(head)
        report["found"] = self._scan(head)
        report["restored"] = self._check_watch(head)
        posted, skipped = self._post_pending()
        report["posted"], report["skipped"] = posted, skipped
        return report

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        run_services([self], stop)

    # ---------------------------------------------------------------------- in-flight txs

    def _resolve_inflight(self) -> None:
        for tx_hash, entry in list(self.state.inflight.items()):
            try:
                receipt = self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                receipt = None
            if receipt is None:
                known = True
                try:
                    self.w3.eth.get_transaction(HexStr(tx_hash))
                except TransactionNotFound:
                    known = False
                if known:
                    continue  # still in the mempool
                if self.w3.eth.get_transaction_count(self.account.address) <= entry["nonce"]:
                    log.info("oracle.rebroadcast", tx=tx_hash)
                    try:
                        self.w3.eth.send_raw_transaction(entry["raw"])
                    except ValueError as exc:  # e.g. "already known"
                        log.info("oracle.rebroadcast.refused", tx=tx_hash, error=str(exc)[:200])
                    continue
                # The nonce went to another transaction: this one can never be mined.
                self._requeue(entry["items"])
            elif receipt["status"] == 1:
                for item in entry["items"]:
                    self.state.watch[self.item_key(item)] = {**item, "block": receipt["blockNumber"]}
                    self.state.pending.pop(self.item_key(item), None)
            else:
                self._requeue(entry["items"])
            del self.state.inflight[tx_hash]
            self._save()

    def _requeue(self, items: list[dict]) -> None:
        for item in items:
            self.state.pending[self.item_key(item)] = {
                k: item[k] for k in ("evidence", "codec", "batch_id", "crop") if k in item
            }

    # ----------------------------------------------------------------------------- reorgs

    def _check_reorg(self, head: int) -> int:
        st = self.state
        if st.cursor_hash is None or st.cursor_block > head:
            if st.cursor_hash is not None and st.cursor_block > head:
                return self._rollback(head)
            return 0
        if self._hash_at(st.cursor_block) == st.cursor_hash:
            return 0
        return self._rollback(head)

    def _hash_at(self, number: int) -> str | None:
        block = self.w3.eth.get_block(number)
        return block["hash"].to_0x_hex() if block else None

    def _rollback(self, head: int) -> int:
        st = self.state
        for number, block_hash in reversed(st.recent):
            if number <= head and self._hash_at(number) == block_hash:
                log.warning("oracle.reorg", from_block=st.cursor_block, to_block=number)
                st.cursor_block, st.cursor_hash = number, block_hash
                st.recent = [r for r in st.recent if r[0] <= number]
                self._forget_after(number)
                self._save()
                return 1
        log.warning("oracle.reorg.deep", from_block=st.cursor_block)
        st.cursor_block = max(min(r[0] for r in st.recent) - 1, 0) if st.recent else 0
        st.cursor_hash = None
        st.recent = []
        self._forget_after(st.cursor_block)
        self._save()
        return 1

    def _forget_after(self, number: int) -> None:
        """Registrations seen after `number` may be gone with the reorg; the rescan finds them again."""
        for evidence, item in list(self.state.pending.items()):
            if item.get("block", 0) > number:
                del self.state.pending[evidence]

    # ------------------------------------------------------------------------------- scan

    def _scan(self, head: int) -> int:
        st = self.state
        safe = head - self.settings.confirmations
        found = 0
        while st.cursor_block < safe:
            start = st.cursor_block + 1
            end = min(safe, start + self.settings.log_range - 1)
            end_hash = self._hash_at(end)
            items = self.new_items(start, end)
            if self._hash_at(end) != end_hash:  # reorg while reading: read the range again next step
                break
            for item in items:
                key = self.item_key(item)
                if key not in st.pending and key not in st.watch:
                    st.pending[key] = item
                    found += 1
            st.cursor_block, st.cursor_hash = end, end_hash
            st.recent = (st.recent + [[end, st.cursor_hash]])[-128:]
            self._save()
            self.crash("after_scan")
        return found

    # ------------------------------------------------------------------------------ watch

    def _check_watch(self, head: int) -> int:
        restored = 0
        for key, item in list(self.state.watch.items()):
            if not self.is_attested(item):
                log.warning("oracle.attestation_removed", evidence=item["evidence"], batch=item["batch_id"])
                self._requeue([item])
                del self.state.watch[key]
                restored += 1
            elif item["block"] < head - self.settings.reorg_window:
                del self.state.watch[key]
        if restored:
            self._save()
        return restored

    # ------------------------------------------------------------------------------- post

    def _post_pending(self) -> tuple[int, int]:
        now = time.monotonic()
        ready: list[tuple[dict, Any]] = []
        skipped = 0
        busy = {self.item_key(i) for e in self.state.inflight.values() for i in e["items"]}
        for key, item in list(self.state.pending.items()):
            if key in busy:
                continue
            tries, not_before = self._backoff.get(key, (0, 0.0))
            if now < not_before:
                continue
            if self.is_attested(item):
                del self.state.pending[key]
                skipped += 1
                continue
            try:
                att = self.grade_item(item)
            except ItemRefused as exc:  # never attestable by this oracle (e.g. a crop without rules)
                log.warning(
                    "oracle.item_refused", evidence=item["evidence"], batch=item["batch_id"], error=str(exc)
                )
                del self.state.pending[key]
                skipped += 1
                continue
            except EvidenceError as exc:
                wait = backoff_delay(tries)
                self._backoff[key] = (tries + 1, now + wait)
                log.warning(
                    "oracle.evidence_unavailable",
                    evidence=item["evidence"],
                    error=str(exc)[:200],
                    retry_in=wait,
                )
                continue
            self._backoff.pop(key, None)
            ready.append((item, att))
            if len(ready) >= self.settings.max_batch:
                break
        if skipped:
            self._save()
        if not ready:
            return 0, skipped
        self._post(ready)
        return len(ready), skipped

    def grade_item(self, item: dict) -> Postable:
        onchain = OnchainCid.from_chain(item["evidence"], item["codec"])
        if self.grader is None:
            raise OracleError("this service has no grader")
        grader = self.grader
        photos, record = fetch_bundle(self.store, onchain, self.settings.max_photos)
        weight = fruit_weight(record)
        crop = CROP_FRUITS.get(int(item.get("crop", 0)))
        results = []
        for name, data in photos:
            if len(data) > MAX_PHOTO_BYTES:
                continue
            try:
                results.append(grader.grade_bytes(data, name, weight_g=weight, crop=crop))
            except OracleError as exc:  # a corrupt photo in the bundle counts as not gradable
                log.info("oracle.photo_unreadable", evidence=item["evidence"], photo=name, error=str(exc))
        grade, confidence = lot_grade(results)
        size = results[0].size_code if results else 0
        self._explain(item["evidence"], photos, results)
        att = Attestation(
            batch_id=item["batch_id"],
            evidence=bytes.fromhex(item["evidence"][2:]),
            grade=Grade[grade],
            size_code=size,
            confidence_bps=int(round(max(0.0, min(1.0, confidence)) * 10_000)),
            model_sha256=self.model_sha,
            # The registry refuses a grading dated before its key's activation: a local chain that
            # mines faster than one block a second runs ahead of the wall clock.
            graded_at=max(int(time.time()), self.w3.eth.get_block("latest")["timestamp"]),
        )
        log.info(
            "oracle.graded",
            batch=item["batch_id"],
            grade=grade,
            confidence=round(confidence, 3),
            photos=len(photos),
        )
        return att

    def _explain(self, evidence: str, photos: list[tuple[str, bytes]], results: list[GradeResult]) -> None:
        """Store the overlays and grading.json beside the evidence; a store failure costs the
        explanation, not the attestation."""
        from evidence.errors import EvidenceError as StoreError
        from oracle import explanations

        try:
            cid = explanations.store_explanation(self.store, evidence, self.model_sha.hex(), photos, results)
            explanations.record(self.state_file.parent / explanations.INDEX_NAME, evidence, cid)
        except (StoreError, OracleError, OSError) as exc:
            log.warning("oracle.explanation_not_stored", evidence=evidence, error=str(exc)[:200])
            return
        log.info("oracle.explained", evidence=evidence, cid=cid)

    def post_call(self, atts: list[Any]):
        """The registry call posting `atts` (signed): `attest` for one, `attestMany` for several."""
        registry_address = self.registry.address
        if len(atts) == 1:
            sig = sign_attestation(atts[0], self.account.key, self.chain_id, registry_address)
            return self.registry.functions.attest(atts[0].as_tuple(), sig)
        _, sig = sign_batch(atts, self.account.key, self.chain_id, registry_address)
        return self.registry.functions.attestMany([a.as_tuple() for a in atts], sig)

    def _post(self, ready: list[tuple[dict, Any]]) -> None:
        call = self.post_call([a for _, a in ready])
        sender = self.account.address
        try:
            gas = call.estimate_gas({"from": sender})
        except ContractLogicError as exc:
            # Someone attested meanwhile (or a key/model was revoked): re-check next step.
            log.warning("oracle.post.would_revert", error=str(exc)[:200])
            return
        nonce = self.w3.eth.get_transaction_count(sender, "pending")
        tx = call.build_transaction(
            {"from": sender, "nonce": nonce, "gas": gas + gas // 4, "chainId": self.chain_id}
        )
        signed = self.account.sign_transaction(tx)
        tx_hash = signed.hash.to_0x_hex()
        items = [{k: it[k] for k in ("evidence", "codec", "batch_id", "crop") if k in it} for it, _ in ready]
        self.state.inflight[tx_hash] = {
            "raw": signed.raw_transaction.to_0x_hex(),
            "nonce": nonce,
            "items": items,
        }
        self._save()  # write-ahead: from here a restart re-broadcasts these exact bytes
        self.crash("after_inflight_saved")
        self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.crash("after_send")
        receipt = self.w3.eth.wait_for_transaction_receipt(signed.hash, timeout=120, poll_latency=0.05)
        log.info(
            "oracle.posted", tx=tx_hash, count=len(items), status=receipt["status"], gas=receipt["gasUsed"]
        )
        self._resolve_inflight()


def run_services(services: list[Oracle], stop: Callable[[], bool] = lambda: False) -> None:
    """Step each service in turn until `stop()`; node errors back off, OracleError ends the loop."""
    poll = min(s.settings.poll_interval for s in services)
    delay = poll
    while not stop():
        try:
            for service in services:
                report = service.step()
                if report["posted"] or report["found"] or report["restored"] or report["reorgs"]:
                    log.info("oracle.step", service=type(service).__name__, **report)
            delay = poll
        except OracleError:
            raise
        except Exception as exc:  # node down, timeouts: keep going with backoff
            delay = min(max(delay * 2, 0.5), 30.0)
            log.warning("oracle.retry", error=str(exc)[:300], retry_in=delay)
        time.sleep(delay)


def backoff_delay(tries: int) -> float:
    """Exponential backoff used for unavailable evidence, capped at a minute."""
    return min(math.pow(2.0, tries), 60.0)
