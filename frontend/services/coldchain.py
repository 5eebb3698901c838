"""Cold-chain verdicts on the verify page: the checks, the temperature curve and plain words.

For each `ColdChainAttested` log of a batch (or its ancestors) the page shows what the oracle signed
and checks it as it checks grades: the signature recovers from the relaying transaction's calldata,
the key was active, the rule set was approved, and the log it judged is a TRANSPORT step of this
batch's history. The curve is drawn server-side (inline SVG, no script, no CDN) from the log in the
step's evidence, re-read with the same code the oracle used (`oracle.coldchain`), with the crop's
band shaded and each excursion marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from html import escape
from typing import Any

import numpy as np
from eth_utils import to_checksum_address

from frontend.errors import BadInput
from frontend.services.batches import EvidenceRef
from oracle.coldchain import LogError, Report, analyse, load_rules, read_log
from oracle.coldchain.rules import CropRule
from oracle.coldchain.service import find_log
from oracle.errors import OracleError
from tambon.attestation import proof_in
from tambon.cid import OnchainCid
from tambon.coldchain import ColdChainAttestation, Verdict, recover_coldchain, recover_coldchain_batch_item
from tambon.provenance import Stage
from tambon.verify import FAIL, PASS, Check, batch_tree, key_check

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36
MAX_POINTS = 600  # the curve keeps each bucket's min and max, so spikes survive thinning
BANGKOK = timezone(timedelta(hours=7))

WORDS = {
    "en": {
        "ok": "Kept cool the whole trip",
        "excursion": "{hours} outside {lo}–{hi} °C, longest from {when}",
        "chilling": "{hours} below {limit} °C: risk of chilling injury",
        "unreliable": "The temperature log cannot be trusted: {why}",
        "left": "about {days} days of storage life left",
        "mkt": "mean kinetic temperature {mkt} °C",
        "band": "safe range",
        "title": "Temperature during transport",
    },
    "th": {
        "ok": "รักษาความเย็นได้ตลอดการขนส่ง",
        "excursion": "อยู่นอกช่วง {lo}–{hi} °C นาน {hours} ช่วงที่นานที่สุดเริ่ม {when}",
        "chilling": "ต่ำกว่า {limit} °C นาน {hours} เสี่ยงต่ออาการสะท้านหนาว",
        "unreliable": "บันทึกอุณหภูมิเชื่อถือไม่ได้: {why}",
        "left": "เก็บรักษาได้อีกประมาณ {days} วัน",
        "mkt": "อุณหภูมิจลน์เฉลี่ย {mkt} °C",
        "band": "ช่วงที่ปลอดภัย",
        "title": "อุณหภูมิระหว่างการขนส่ง",
    },
}


@dataclass(frozen=True, eq=False)
class ColdChainView:
    batch_id: int
    log_cid: str  # 0x sha2-256 digest of the TRANSPORT step's evidence CID
    signer: str
    verdict: str
    minutes_out_of_range: int
    mkt_c: float
    shelf_life_days: int
    rules_sha256: str
    analysed_at: int
    attested_at: int
    tx_hash: str
    evidence: EvidenceRef
    checks: tuple[Check, ...]
    report: Report | None  # the log re-read for the curve (None when it cannot be fetched)
    # its readings, for the curve (underscored: not part of the page's JSON)
    _times: np.ndarray | None = None
    _celsius: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return all(c.status == PASS for c in self.checks)

    def words(self, lang: str) -> str:
        """The verdict in plain words, e.g. "Kept cool the whole trip; about 9 days of storage life left"."""
        w = WORDS.get(lang, WORDS["en"])
        r = self.report
        if self.verdict == "UNRELIABLE_LOG":
            why = r.reasons[0] if r and r.reasons else "-"
            return w["unreliable"].format(why=why)
        parts = []
        if self.verdict == "OK":
            parts.append(w["ok"])
        elif self.verdict == "CHILLING_RISK" and r is not None:
            parts.append(
                w["chilling"].format(hours=_hours(r.minutes_chilling, lang), limit=f"{r.chilling_below_c:g}")
            )
        elif r is not None and r.excursions:
            longest = max(r.excursions, key=lambda e: e.minutes)
            parts.append(
                w["excursion"].format(
                    hours=_hours(self.minutes_out_of_range, lang),
                    lo=f"{r.band_c[0]:g}",
                    hi=f"{r.band_c[1]:g}",
                    when=_local(longest.start),
                )
            )
        parts.append(w["left"].format(days=self.shelf_life_days))
        parts.append(w["mkt"].format(mkt=f"{self.mkt_c:.1f}"))
        return "; ".join(parts)

    def chart(self, lang: str) -> str:
        """The temperature curve as inline SVG ("" when the log could not be fetched)."""
        if self.report is None or self._times is None or self._celsius is None:
            return ""
        return temperature_svg(self._times, self._celsius, self.report, lang)


def _hours(minutes: float, lang: str) -> str:
    hours = minutes / 60
    if lang == "th":
        return f"{hours:.1f} ชั่วโมง" if hours >= 1 else f"{minutes:.0f} นาที"
    return f"{hours:.1f} h" if hours >= 1 else f"{minutes:.0f} min"


def _local(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).astimezone(BANGKOK).strftime("%d/%m %H:%M")


def temperature_svg(times: np.ndarray, celsius: np.ndarray, report: Report, lang: str) -> str:
    """An inline `<svg>`: the crop's band shaded, the readings as a line, excursions in red."""
    w = WORDS.get(lang, WORDS["en"])
    order = np.argsort(times, kind="stable")
    ts, cs = times[order], celsius[order]
    if ts.size > MAX_POINTS:  # thin to bucket min/max so a short spike stays visible
        buckets = np.array_split(np.arange(ts.size), MAX_POINTS // 2)
        keep = sorted(
            {int(b[np.argmin(cs[b])]) for b in buckets} | {int(b[np.argmax(cs[b])]) for b in buckets}
        )
        ts, cs = ts[keep], cs[keep]
    lo_band, hi_band = report.band_c
    low = min(float(cs.min()), lo_band) - 1.0
    high = max(float(cs.max()), hi_band) + 1.0
    t0, t1 = int(ts[0]), max(int(ts[-1]), int(ts[0]) + 1)

    def x(t: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (t - t0) / (t1 - t0)

    def y(c: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (high - c) / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="coldchain-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(w["title"])}">',
        f"<title>{escape(w['title'])}</title>",
        f'<rect class="band" x="{LEFT}" y="{y(hi_band):.1f}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{y(lo_band) - y(hi_band):.1f}" fill="#d8f0dc"><title>{escape(w["band"])} '
        f"{lo_band:g}–{hi_band:g} °C</title></rect>",
    ]
    for e in report.excursions:
        parts.append(
            f'<rect class="excursion" x="{x(e.start):.1f}" y="{TOP}" width="{max(x(e.end) - x(e.start), 1.5):.1f}" '
            f'height="{HEIGHT - TOP - BOTTOM}" fill="#f7c6c0" opacity="0.7"><title>{_local(e.start)}–{_local(e.end)} '
            f"{e.peak_c:.1f} °C</title></rect>"
        )
    for c in (lo_band, hi_band):
        parts.append(
            f'<text x="{LEFT - 4}" y="{y(c) + 4:.1f}" text-anchor="end" font-size="11">{c:g} °C</text>'
        )
    points = " ".join(f"{x(t):.1f},{y(c):.1f}" for t, c in zip(ts.tolist(), cs.tolist(), strict=True))
    parts.append(
        f'<polyline class="reading" points="{points}" fill="none" stroke="#1f4e79" stroke-width="1.5"/>'
    )
    for t in (t0, t1):
        parts.append(
            f'<text x="{x(t):.1f}" y="{HEIGHT - 12}" text-anchor="{"start" if t == t0 else "end"}" '
            f'font-size="11">{_local(t)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def rules_check(approved_at: int, revoked_at: int, attested_at: int) -> Check:
    if approved_at == 0 or approved_at > attested_at:
        return Check("rules", FAIL, "the cold-chain rule set was not approved at attestation time")
    if revoked_at:
        return Check("rules", FAIL, "the council has since withdrawn this cold-chain rule set")
    return Check("rules", PASS, "the cold-chain rule set is approved by the council")


def _signature_check(
    item: ColdChainAttestation,
    signer: str,
    call: tuple[str, Mapping[str, Any]] | None,
    chain_id: int,
    registry: str,
) -> Check:
    if call is None:
        return Check("coldchain_signature", FAIL, "the relaying transaction could not be read")
    name, args = call
    try:
        if name == "attestColdChain":
            recovered = recover_coldchain(item, args["signature"], chain_id, registry)
        elif name == "attestColdChainMany":
            items = tuple(ColdChainAttestation.from_message(_struct(a)) for a in args["items"])
            levels = batch_tree(items)
            recovered = recover_coldchain_batch_item(
                item,
                proof_in(levels, items.index(item)),
                levels[-1][0],
                len(items),
                args["signature"],
                chain_id,
                registry,
            )
        else:
            return Check(
                "coldchain_signature", FAIL, f"the transaction called {name}, not a cold-chain attestation"
            )
    except Exception as exc:  # a malformed signature or an item missing from the batch
        return Check("coldchain_signature", FAIL, f"the signature does not verify ({str(exc)[:80]})")
    if recovered != signer:
        return Check("coldchain_signature", FAIL, "the signature recovers to another key")
    return Check("coldchain_signature", PASS, "the oracle's EIP-712 signature verifies")


def _struct(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    names = (
        "batchId",
        "logCid",
        "verdict",
        "minutesOutOfRange",
        "mktCentiC",
        "shelfLifeDays",
        "rulesSha256",
        "analysedAt",
    )
    return dict(zip(names, value, strict=True))


def coldchain_views(
    reader,
    head,
    ids: Sequence[int],
    verdicts: Sequence[Any],
    events: Sequence[Any],
    block_times: Mapping[str, int],
    evidence_ref,
    store,
) -> list[ColdChainView]:
    """The cold-chain verdicts (ColdChainAttested events) of `ids`, the batch and its ancestors, with
    their checks and curves; `block_times` holds the verdicts' blocks."""
    r = reader
    transport = {
        (e.args["batchId"], bytes(e.args["evidence"])): e.args["codec"]
        for e in events
        if e.name == "StepAdded" and e.args["stage"] == Stage.TRANSPORT
    }
    crops = {e.args["batchId"]: e.args["crop"] for e in events if e.name == "BatchRegistered"}
    rules = load_rules()
    views = []
    for e in verdicts:
        a = e.args
        batch_id, log_cid, signer = int(a["batchId"]), bytes(a["logCid"]), to_checksum_address(a["signer"])
        rec = r.call(
            head,
            r.registry.functions.coldChainRecord(batch_id, log_cid, signer),
            key=("cc", batch_id, log_cid, signer),
        )
        item = ColdChainAttestation(
            batch_id=batch_id,
            log_cid=log_cid,
            verdict=rec[0],
            minutes_out_of_range=rec[1],
            mkt_centi_c=rec[2],
            shelf_life_days=rec[3],
            rules_sha256=bytes(rec[4]),
            analysed_at=rec[5],
        )
        attested_at = block_times[e.block_hash]
        activated, revoked = r.call(head, r.registry.functions.keyStatus(signer), key=("key", signer))
        approved, rules_revoked = r.call(
            head, r.registry.functions.modelStatus(bytes(rec[4])), key=("rules", bytes(rec[4]))
        )
        codec = transport.get((batch_id, log_cid))
        step = (
            Check("transport_step", PASS, "the judged log is a TRANSPORT step of this batch's history")
            if codec is not None
            else Check(
                "transport_step", FAIL, "the judged log is not a TRANSPORT step of this batch's history"
            )
        )
        ev = evidence_ref(log_cid, codec if codec is not None else 0x70)
        report, readings = None, None
        if codec is not None:
            crop = crops.get(batch_id) or crops.get(ids[-1])
            report, readings = _reread(store, OnchainCid(log_cid, codec), crop, rules)
        checks = (
            _signature_check(
                item, signer, r.decode_input(r.registry, e.tx_hash), r.chain_id, r.registry.address
            ),
            key_check(activated, revoked, attested_at),
            rules_check(approved, rules_revoked, attested_at),
            ev.check,
            step,
        )
        views.append(
            ColdChainView(
                batch_id=batch_id,
                log_cid="0x" + log_cid.hex(),
                signer=signer,
                verdict=Verdict(int(rec[0])).name,
                minutes_out_of_range=int(rec[1]),
                mkt_c=int(rec[2]) / 100,
                shelf_life_days=int(rec[3]),
                rules_sha256="0x" + bytes(rec[4]).hex(),
                analysed_at=int(rec[5]),
                attested_at=attested_at,
                tx_hash=e.tx_hash,
                evidence=ev,
                checks=checks,
                report=report,
                _times=None if readings is None else readings[0],
                _celsius=None if readings is None else readings[1],
            )
        )
    return views


def _reread(
    store, onchain: OnchainCid, crop: int | None, rules
) -> tuple[Report | None, tuple[np.ndarray, np.ndarray] | None]:
    """The log re-read for the curve and the excursion times ((None, None) when it cannot be fetched)."""
    if crop is None:
        return None, None
    try:
        rule: CropRule = rules.for_crop(crop)
        log, _ = find_log(store, onchain)
    except OracleError:  # the evidence node is unreachable or the crop has no rule: no curve
        return None, None
    if log is None or len(log) == 0:
        return None, None
    return analyse(log, rule, rules.sha256), (log.times, log.celsius)


def coldchain_sensor_fields(cc: ColdChainView) -> dict[str, Any]:
    """What the oracle attested about a trip's log, for the TRANSPORT event's temperature report.

    EPCIS 2.0 has no field for a mean kinetic temperature or a verdict, so they are extensions;
    an excursion or chilling risk raises the standard `exception` ALARM_CONDITION, an unreliable
    log ERROR_CONDITION.
    """
    fields: dict[str, Any] = {
        "tambon:coldChainVerdict": cc.verdict,
        "tambon:meanKineticTemperature": cc.mkt_c,
        "tambon:minutesOutOfRange": cc.minutes_out_of_range,
        "tambon:shelfLifeDays": cc.shelf_life_days,
        "tambon:coldChainRules": cc.rules_sha256,
        "tambon:coldChainTransaction": cc.tx_hash,
    }
    if cc.verdict in ("EXCURSION", "CHILLING_RISK"):
        fields["exception"] = "ALARM_CONDITION"
    elif cc.verdict == "UNRELIABLE_LOG":
        fields["exception"] = "ERROR_CONDITION"
    return fields


def with_coldchain(document: dict[str, Any], views: Sequence[ColdChainView]) -> dict[str, Any]:
    """The EPCIS document with each attested trip's values on its TRANSPORT event's sensor report."""
    by_step = {(v.batch_id, f"ipfs://{v.evidence.cid}"): v for v in views if v.evidence.cid}
    for ev in document.get("epcisBody", {}).get("eventList", []):
        view = by_step.get((ev.get("tambon:batchId"), ev.get("tambon:evidence")))
        elements = ev.get("sensorElementList")
        if view is None or not elements:
            continue
        elements[0]["sensorReport"][0].update(coldchain_sensor_fields(view))
        if view.report is not None and view.report.start is not None and view.report.end is not None:
            elements[0]["sensorMetadata"]["startTime"] = _iso(view.report.start)
            elements[0]["sensorMetadata"]["endTime"] = _iso(view.report.end)
    return document


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class UploadedLog:
    """A transport's temperature log as a capture step carries it into its evidence bundle."""

    name: str  # the bundle's file name: the oracle reads the first .csv or EPCIS .json it finds
    readings: int
    min_c: float
    max_c: float


def accept_temperature_log(filename: str, data: bytes) -> UploadedLog:
    """Read an uploaded logger export with the oracle's own reader, or say why it is not one.

    A file the reader finds no readings in is refused (400). A log with gaps, flat lines or a clock
    going backwards is kept: judging it is the oracle's work, and its verdict is UNRELIABLE_LOG.
    """
    try:
        log = read_log(data, filename)
    except LogError as exc:
        raise BadInput(str(exc)) from exc
    if len(log) == 0:
        why = "; ".join(log.problems[:3]) or "no readings"
        raise BadInput(f"{filename!r} is not a temperature log (CSV or EPCIS 2.0 sensor JSON): {why}")
    suffix = "csv" if log.source == "csv" else "json"
    return UploadedLog(
        f"temperature-log.{suffix}", len(log), float(log.celsius.min()), float(log.celsius.max())
    )
