"""What a temperature log means for the fruit: integrity, excursions, MKT, shelf life, a verdict.

    report = analyse(log, rules.for_crop("mango"), rules_sha256=rules.sha256, window=(start, end))

Time model: each reading holds until the next one (the last holds for the median interval), so
on an evenly spaced log every reading weighs the same, as in the USP formula.

- **Integrity** (`integrity_faults`): duplicated timestamps, a clock going backwards, gaps, a log
  too coarse to see an excursion, flat-lined (stuck) segments, implausible jumps and values, a log
  that does not cover the transport window. Any fault makes the verdict UNRELIABLE_LOG.
- **Excursions**: maximal runs of readings above the band or below it; total minutes above/below,
  the longest run, degree-hours (°C·h outside the band).
- **MKT** (USP ⟨1079.2⟩, ICH Q1A): T_k = (ΔH/R) / −ln(Σ wᵢ·e^(−ΔH/(R·Tᵢ)) / Σ wᵢ), Tᵢ in kelvin,
  wᵢ each reading's hold time; ΔH = 83.144 kJ/mol unless the crop rule says otherwise.
- **Shelf life** (Q10 model): at temperature T quality is used Q10^((T − T_ref)/10) times as fast
  as at the crop's reference storage temperature, so the trip used E = Σ hold·Q10^(...) "reference
  days"; remaining = L − E, with L the cited storage life. Readings below the band count at the
  band's floor (cold gives no extra life: it risks chilling). The cited ranges of L and Q10 give
  the low/high bounds; the central value uses their midpoints.
- **Verdict**: UNRELIABLE_LOG if any integrity fault; else CHILLING_RISK if the time below the
  crop's chilling limit exceeds its tolerance; else EXCURSION if the time outside the band exceeds
  the allowance (short door-opening blips pass); else OK.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from oracle.coldchain.logs import TemperatureLog
from oracle.coldchain.rules import CropRule
from tambon.coldchain import Verdict

GAS_CONSTANT = 8.3144  # J/(mol·K), as used with ΔH = 83.144 kJ/mol (ΔH/R = 10,000 K)
KELVIN = 273.15
MAX_LISTED_EXCURSIONS = 50


def _when(t: int) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class Excursion:
    """One continuous run of readings outside the band."""

    kind: str  # "above" or "below"
    start: int  # unix seconds of its first reading
    end: int  # when its last reading's hold ends
    minutes: float
    peak_c: float  # warmest (above) or coldest (below) reading
    degree_hours: float

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": _when(self.start),
            "end": _when(self.end),
            "minutes": round(self.minutes, 1),
            "peak_c": round(self.peak_c, 2),
            "degree_hours": round(self.degree_hours, 2),
        }


@dataclass
class Report:
    """The analysis of one log against one crop rule."""

    crop: str
    verdict: Verdict
    reasons: list[str]
    faults: list[str]
    points: int
    start: int | None = None
    end: int | None = None
    min_c: float | None = None
    max_c: float | None = None
    mkt_c: float | None = None
    minutes_above: float = 0.0
    minutes_below: float = 0.0
    minutes_chilling: float = 0.0
    degree_hours_above: float = 0.0
    degree_hours_below: float = 0.0
    excursions: list[Excursion] = field(default_factory=list)
    excursion_count: int = 0
    longest_excursion_min: float = 0.0
    shelf_life_days: float | None = None
    shelf_life_low_days: float | None = None
    shelf_life_high_days: float | None = None
    band_c: tuple[float, float] = (0.0, 0.0)
    chilling_below_c: float | None = None
    rules_sha256: str = ""

    @property
    def minutes_out_of_range(self) -> float:
        return self.minutes_above + self.minutes_below

    def as_json(self) -> dict[str, Any]:
        def r(x: float | None, n: int = 2) -> float | None:
            return None if x is None else round(x, n)

        return {
            "crop": self.crop,
            "verdict": self.verdict.name,
            "reasons": self.reasons,
            "integrity_faults": self.faults,
            "points": self.points,
            "start": None if self.start is None else _when(self.start),
            "end": None if self.end is None else _when(self.end),
            "band_c": list(self.band_c),
            "chilling_below_c": self.chilling_below_c,
            "min_c": r(self.min_c),
            "max_c": r(self.max_c),
            "mkt_c": r(self.mkt_c),
            "minutes_out_of_range": round(self.minutes_out_of_range, 1),
            "minutes_above": round(self.minutes_above, 1),
            "minutes_below": round(self.minutes_below, 1),
            "minutes_chilling": round(self.minutes_chilling, 1),
            "degree_hours_above": round(self.degree_hours_above, 2),
            "degree_hours_below": round(self.degree_hours_below, 2),
            "excursion_count": self.excursion_count,
            "longest_excursion_min": round(self.longest_excursion_min, 1),
            "excursions": [e.as_json() for e in self.excursions],
            "shelf_life_days": r(self.shelf_life_days, 1),
            "shelf_life_range_days": [r(self.shelf_life_low_days, 1), r(self.shelf_life_high_days, 1)],
            "rules_sha256": self.rules_sha256,
        }


# --------------------------------------------------------------------------------- pure metrics


def mean_kinetic_temperature(
    celsius: np.ndarray, weights: np.ndarray | None = None, activation_kj_mol: float = 83.144
) -> float:
    """MKT in °C (USP ⟨1079.2⟩); `weights` are each reading's duration (equal when omitted)."""
    temps = np.asarray(celsius, np.float64)
    if temps.size == 0:
        raise ValueError("MKT needs at least one reading")
    w = np.ones_like(temps) if weights is None else np.asarray(weights, np.float64)
    if w.sum() <= 0:
        w = np.ones_like(temps)
    ratio = activation_kj_mol * 1000.0 / GAS_CONSTANT  # ΔH/R in kelvin
    x = -ratio / (temps + KELVIN)
    top = x.max()  # log-sum-exp: the exponents are around -34
    log_mean = top + math.log(float(np.dot(w, np.exp(x - top))) / float(w.sum()))
    return ratio / -log_mean - KELVIN


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (inclusive) indexes of each run of True."""
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


def hold_seconds(times: np.ndarray, dt: np.ndarray | None = None) -> np.ndarray:
    """How long each reading of a sorted log holds: until the next, the last for the median interval."""
    if times.size < 2:
        return np.zeros(times.size, np.float64)
    step = (np.diff(times) if dt is None else dt).astype(np.float64)
    return np.concatenate((step, [float(np.median(step))]))


@dataclass(frozen=True)
class _Sorted:
    """The readings in time order, computed once for the checks and the metrics."""

    ts: np.ndarray
    cs: np.ndarray
    dt: np.ndarray  # np.diff(ts)
    backwards: np.ndarray  # indexes i (file order) where reading i+1 is older than reading i


def _sorted(log: TemperatureLog) -> _Sorted:
    t, c = log.times, log.celsius
    step = np.diff(t)
    backwards = np.flatnonzero(step < 0)
    if backwards.size:  # most logs are already in order: skip the sort
        order = np.argsort(t, kind="stable")
        t, c = t[order], c[order]
        step = np.diff(t)
    return _Sorted(t, c, step, backwards)


def integrity_faults(
    log: TemperatureLog,
    rule: CropRule,
    window: tuple[int, int] | None = None,
    prepared: _Sorted | None = None,
) -> list[str]:
    """Every reason the log cannot be trusted (empty when sound)."""
    cfg = rule.integrity
    faults = list(log.problems)
    t = log.times
    if t.size < cfg.min_points:
        faults.append(f"only {t.size} readings (at least {cfg.min_points} needed)")
        return faults
    srt = prepared or _sorted(log)
    back = srt.backwards
    if back.size:
        i = int(back[0])
        faults.append(
            f"clock goes backwards {back.size} time(s), first from {_when(t[i])} to {_when(t[i + 1])}"
        )
    ts, cs, dt = srt.ts, srt.cs, srt.dt
    dup = np.flatnonzero(dt == 0)
    if dup.size:
        faults.append(f"{dup.size} duplicated timestamp(s), first at {_when(ts[dup[0]])}")
    positive = dt[dt > 0] if dup.size else dt
    if positive.size == 0:
        faults.append("all readings have the same time")
        return faults
    median_s = float(np.median(positive))
    if median_s > cfg.max_interval_min * 60:
        faults.append(
            f"readings every {median_s / 60:.0f} min: too coarse (at most {cfg.max_interval_min:.0f} min)"
        )
    gap_s = max(cfg.gap_factor * median_s, cfg.gap_floor_min * 60)
    gaps = np.flatnonzero(dt > gap_s)
    if gaps.size:
        longest = int(gaps[np.argmax(dt[gaps])])
        faults.append(
            f"{gaps.size} gap(s) in the log, longest {dt[longest] / 60:.0f} min from {_when(ts[longest])}"
        )
    low, high = cfg.plausible_c
    bad = np.flatnonzero((cs < low) | (cs > high) | ~np.isfinite(cs))
    if bad.size:
        faults.append(
            f"{bad.size} implausible reading(s) (outside {low:g}..{high:g} °C), first {cs[bad[0]]:g} °C "
            f"at {_when(ts[bad[0]])}"
        )
    step_c = np.diff(cs)
    jump = np.abs(step_c)
    minutes = np.maximum(dt, 1) / 60.0
    jumps = np.flatnonzero((jump >= cfg.jump_c) & (jump / minutes > cfg.jump_c_per_min))
    if jumps.size:
        j = int(jumps[0])
        faults.append(
            f"{jumps.size} implausible jump(s), first {cs[j]:g} → {cs[j + 1]:g} °C in "
            f"{dt[j] / 60:.0f} min at {_when(ts[j])}"
        )
    same = np.concatenate(([False], step_c == 0))  # reading equals the one before
    starts, ends = _runs(same)
    if starts.size:
        first = starts - 1  # the run of equal values begins one reading earlier
        span_min = (ts[ends] - ts[first]) / 60.0
        count = ends - first + 1
        flat = np.flatnonzero((span_min >= cfg.flatline_min) & (count >= cfg.flatline_samples))
        if flat.size:
            k = int(flat[0])
            faults.append(
                f"{flat.size} flat-lined segment(s) (stuck probe?), first {cs[first[k]]:g} °C for "
                f"{span_min[k] / 60:.1f} h from {_when(ts[first[k]])}"
            )
    if window is not None:
        begin, finish = window
        if ts[0] > begin + gap_s or ts[-1] < finish - gap_s:
            faults.append(
                f"log covers {_when(ts[0])} to {_when(ts[-1])}, not the transport "
                f"{_when(begin)} to {_when(finish)}"
            )
    return faults


def _excursions(
    kind: str, mask: np.ndarray, ts: np.ndarray, hold: np.ndarray, cs: np.ndarray, excess: np.ndarray
) -> list[Excursion]:
    starts, ends = _runs(mask)
    if starts.size == 0:
        return []
    cum_hold = np.concatenate(([0.0], np.cumsum(hold)))
    cum_dh = np.concatenate(([0.0], np.cumsum(excess * hold)))
    # Outside the run values are masked out, so each reduceat segment (start to next start) sees its run only.
    if kind == "above":
        peaks = np.maximum.reduceat(np.where(mask, cs, -np.inf), starts)
    else:
        peaks = np.minimum.reduceat(np.where(mask, cs, np.inf), starts)
    return [
        Excursion(
            kind=kind,
            start=int(ts[s]),
            end=int(ts[e] + hold[e]),
            minutes=float(cum_hold[e + 1] - cum_hold[s]) / 60.0,
            peak_c=float(p),
            degree_hours=float(cum_dh[e + 1] - cum_dh[s]) / 3600.0,
        )
        for s, e, p in zip(starts, ends, peaks, strict=True)
    ]


def remaining_shelf_life(
    ts_hold: np.ndarray, celsius: np.ndarray, rule: CropRule
) -> tuple[float, float, float]:
    """(central, low, high) days of storage life left at the reference temperature (Q10 model)."""
    floor = rule.low_c if rule.chilling_below_c is None else max(rule.low_c, rule.chilling_below_c)
    exponent = (np.maximum(celsius, floor) - rule.reference_c) / 10.0
    days = ts_hold / 86_400.0
    q_low, q_high = rule.q10
    l_low, l_high = rule.life_days

    def used(q10: float) -> float:  # exp(x·ln q) is several times faster than np.power here
        return float(np.dot(days, np.exp(exponent * math.log(q10))))

    used_by_q = {q: used(q) for q in (q_low, (q_low + q_high) / 2, q_high)}
    central = (l_low + l_high) / 2 - used_by_q[(q_low + q_high) / 2]
    corners = [life - u for life in (l_low, l_high) for u in (used_by_q[q_low], used_by_q[q_high])]
    return max(central, 0.0), max(min(corners), 0.0), max(max(corners), 0.0)


def analyse(
    log: TemperatureLog,
    rule: CropRule,
    rules_sha256: str = "",
    window: tuple[int, int] | None = None,
) -> Report:
    """The full analysis of `log` for `rule`'s crop; `window` is the transport's (start, end) unix time."""
    prepared = _sorted(log)
    faults = integrity_faults(log, rule, window, prepared)
    report = Report(
        crop=rule.name,
        verdict=Verdict.UNRELIABLE_LOG,
        reasons=[],
        faults=faults,
        points=len(log),
        band_c=(rule.low_c, rule.high_c),
        chilling_below_c=rule.chilling_below_c,
        rules_sha256=rules_sha256,
    )
    if len(log) == 0:
        report.reasons = faults
        return report
    ts, cs, dt = prepared.ts, prepared.cs, prepared.dt
    finite = np.isfinite(cs)
    if not finite.all():
        ts, cs, dt = ts[finite], cs[finite], np.diff(ts[finite])
    if cs.size == 0:
        report.reasons = faults
        return report
    hold = hold_seconds(ts, dt)
    if log.problems or ts.size < 2:
        hold = np.ones_like(cs)
    report.start, report.end = int(ts[0]), int(ts[-1] + hold[-1])
    report.min_c, report.max_c = float(cs.min()), float(cs.max())
    report.mkt_c = mean_kinetic_temperature(cs, hold, rule.mkt_activation_kj_mol)
    above, below = cs > rule.high_c, cs < rule.low_c
    report.minutes_above = float(hold[above].sum()) / 60.0
    report.minutes_below = float(hold[below].sum()) / 60.0
    report.degree_hours_above = float(np.dot((cs - rule.high_c)[above], hold[above])) / 3600.0
    report.degree_hours_below = float(np.dot((rule.low_c - cs)[below], hold[below])) / 3600.0
    if rule.chilling_below_c is not None:
        report.minutes_chilling = float(hold[cs < rule.chilling_below_c].sum()) / 60.0
    runs = _excursions("above", above, ts, hold, cs, cs - rule.high_c) + _excursions(
        "below", below, ts, hold, cs, rule.low_c - cs
    )
    runs.sort(key=lambda e: e.start)
    report.excursion_count = len(runs)
    report.longest_excursion_min = max((e.minutes for e in runs), default=0.0)
    report.excursions = sorted(runs, key=lambda e: -e.minutes)[:MAX_LISTED_EXCURSIONS]
    report.excursions.sort(key=lambda e: e.start)
    central, low, high = remaining_shelf_life(hold, cs, rule)
    report.shelf_life_days, report.shelf_life_low_days, report.shelf_life_high_days = central, low, high
    report.verdict, report.reasons = _verdict(report, rule)
    return report


def _verdict(report: Report, rule: CropRule) -> tuple[Verdict, list[str]]:
    if report.faults:
        return Verdict.UNRELIABLE_LOG, list(report.faults)
    if rule.chilling_tolerance_h is not None and report.minutes_chilling > rule.chilling_tolerance_h * 60:
        return Verdict.CHILLING_RISK, [
            f"{report.minutes_chilling / 60:.1f} h below {rule.chilling_below_c:g} °C "
            f"(chilling injury risk for {rule.name}; tolerance {rule.chilling_tolerance_h:g} h)"
        ]
    if report.minutes_out_of_range > rule.excursion_allowance_min:
        longest = max(report.excursions, key=lambda e: e.minutes)
        side = f"above {rule.high_c:g}" if longest.kind == "above" else f"below {rule.low_c:g}"
        return Verdict.EXCURSION, [
            f"{report.minutes_out_of_range:.0f} min outside {rule.low_c:g}–{rule.high_c:g} °C in "
            f"{report.excursion_count} excursion(s); longest {longest.minutes / 60:.1f} h {side} °C "
            f"from {_when(longest.start)}"
        ]
    return Verdict.OK, []
