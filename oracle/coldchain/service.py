"""The oracle's cold-chain service: TRANSPORT steps -> temperature log -> verdict -> `attestColdChain`.

It is the grading service (`oracle.service.Oracle`) with other work items, so it inherits the same
guarantees: write-ahead transactions re-broadcast after a crash, a persisted cursor that rolls back
on a reorg, watched attestations re-posted if a reorg removed them, an on-chain check before each
post, evidence retried with backoff. Items are keyed by (batch id, step evidence): one truck log
attached to many lots' TRANSPORT steps gives one verdict per lot.

The log in a step's evidence: a raw CID is the log file itself; a bundle's log is the first `.csv`
or EPCIS `.json` file (not record.json / metadata.json), else record.json's `temperature_log`. A
step without any log is attested UNRELIABLE_LOG ("no temperature log"): buyers should see that.
The transport window, when record.json gives `transport.departed` and `transport.arrived`, must
be covered by the log. The crop comes from the batch (`BatchProvenance.batch(id).crop`).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from web3 import Web3

from evidence.bundle import open_bundle
from evidence.errors import EvidenceError as StoreError
from oracle.coldchain.analysis import Report, analyse
from oracle.coldchain.logs import LogError, TemperatureLog, read_log
from oracle.coldchain.rules import RuleError, RuleSet, load_rules
from oracle.errors import EvidenceError, ItemRefused
from oracle.service import Oracle, OracleSettings, ProvenanceScan
from tambon.cid import OnchainCid
from tambon.coldchain import ColdChainAttestation, Verdict, sign_coldchain, sign_coldchain_batch
from tambon.provenance import Stage

log = structlog.get_logger("oracle.coldchain")

LOG_SUFFIXES = (".csv", ".json", ".txt")
NOT_LOGS = ("record.json", "metadata.json")
MAX_LOG_BYTES = 64 * 1024 * 1024


def find_log(store, onchain: OnchainCid) -> tuple[TemperatureLog | None, dict | None]:
    """The temperature log of a step's evidence and its record.json (None when the bundle has none)."""
    cid = str(onchain)
    try:
        bundle = open_bundle(store, cid)
        if not bundle.is_directory:
            return read_log(bundle.content or b"", "evidence"), None
        for entry in sorted(bundle.files(), key=lambda e: e.name):
            if entry.name.lower().endswith(LOG_SUFFIXES) and entry.name not in NOT_LOGS:
                return read_log(bundle.read(entry.name), entry.name), bundle.record
        record = bundle.record
        if record is not None and isinstance(record.get("temperature_log"), list):
            return read_log(json.dumps(record).encode(), "record.json"), record
        return None, record
    except StoreError as exc:
        raise EvidenceError(f"evidence {cid}: {exc}") from exc
    except LogError as exc:  # too big to read: the log cannot be judged
        return TemperatureLog.broken("unknown", str(exc)), None


def transport_window(record: dict | None) -> tuple[int, int] | None:
    """(departed, arrived) unix seconds from record.json's `transport`, when both are given."""
    transport = record.get("transport") if isinstance(record, dict) else None
    if not isinstance(transport, dict):
        return None
    try:
        start = datetime.fromisoformat(str(transport["departed"]))
        end = datetime.fromisoformat(str(transport["arrived"]))
    except (KeyError, ValueError):
        return None
    if start.tzinfo is None or end.tzinfo is None or start >= end:
        return None
    return int(start.timestamp()), int(end.timestamp())


def attestation_of(
    batch_id: int, log_cid: bytes, report: Report, rules_sha256: str, at: int
) -> ColdChainAttestation:
    """The on-chain fields of a report (MKT in 0.01 °C, whole minutes and days, clamped to their types)."""
    mkt = 0 if report.mkt_c is None else max(-32_768, min(32_767, round(report.mkt_c * 100)))
    days = 0 if report.shelf_life_days is None else max(0, min(65_535, int(report.shelf_life_days)))
    return ColdChainAttestation(
        batch_id=batch_id,
        log_cid=log_cid,
        verdict=report.verdict,
        minutes_out_of_range=max(0, min(2**32 - 1, round(report.minutes_out_of_range))),
        mkt_centi_c=mkt,
        shelf_life_days=days,
        rules_sha256=bytes.fromhex(rules_sha256),
        analysed_at=at,
    )


class ColdChainOracle(Oracle):
    """Watches TRANSPORT steps and attests each step's cold-chain verdict once."""

    def __init__(
        self,
        w3: Web3,
        provenance,
        registry,
        account,
        store,
        state_file: Path,
        start_block: int = 0,
        settings: OracleSettings | None = None,
        crash_hook=None,
        rules: RuleSet | None = None,
        scan: ProvenanceScan | None = None,
    ):
        self.rules = rules or load_rules()
        super().__init__(
            w3,
            provenance,
            registry,
            account,
            store,
            None,
            state_file,
            start_block,
            settings,
            crash_hook,
            scan,
        )

    def approval(self) -> tuple[bytes, str]:
        return bytes.fromhex(self.rules.sha256), (
            f"cold-chain rules sha256 {self.rules.sha256} are not approved in the AttestationRegistry; "
            "the council approves them with an ApproveModel decision (rule sets share the model table)"
        )

    # ------------------------------------------------------------------------------ hooks

    def item_key(self, item: dict) -> str:
        return f"{item['batch_id']}:{item['evidence']}"

    def new_items(self, start: int, end: int) -> list[dict]:
        return [
            {
                "evidence": "0x" + bytes(ev.args["evidence"]).hex(),
                "codec": int(ev.args["codec"]),
                "batch_id": int(ev.args["batchId"]),
                "block": ev.block_number,
            }
            for ev in self.scan.events("StepAdded", start, end)
            if int(ev.args["stage"]) == Stage.TRANSPORT
        ]

    def is_attested(self, item: dict) -> bool:
        return bool(
            self.registry.functions.is_coldchain_attested(
                item["batch_id"], item["evidence"], self.account.address
            ).call()
        )

    def grade_item(self, item: dict) -> ColdChainAttestation:
        crop = int(self.provenance.functions.batch(item["batch_id"]).call()[4])
        try:
            rule = self.rules.for_crop(crop)
        except RuleError as exc:
            raise ItemRefused(str(exc)) from exc
        onchain = OnchainCid.from_chain(item["evidence"], item["codec"])
        found, record = find_log(self.store, onchain)
        temperature_log = found or TemperatureLog.broken("none", "no temperature log in the step's evidence")
        report = analyse(temperature_log, rule, self.rules.sha256, transport_window(record))
        log.info(
            "coldchain.analysed",
            batch=item["batch_id"],
            crop=rule.name,
            verdict=report.verdict.name,
            points=report.points,
            reasons=report.reasons[:2],
        )
        return attestation_of(item["batch_id"], onchain.digest, report, self.rules.sha256, int(time.time()))

    def post_call(self, atts: list[Any]):
        registry_address = self.registry.address
        if len(atts) == 1:
            sig = sign_coldchain(atts[0], self.account.key, self.chain_id, registry_address)
            return self.registry.functions.attestColdChain(atts[0].as_tuple(), sig)
        _, sig = sign_coldchain_batch(atts, self.account.key, self.chain_id, registry_address)
        return self.registry.functions.attestColdChainMany([a.as_tuple() for a in atts], sig)


__all__ = ["ColdChainOracle", "Verdict", "attestation_of", "find_log", "transport_window"]
