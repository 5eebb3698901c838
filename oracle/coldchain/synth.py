"""Transport temperature logs made in code, for the demo, the benchmarks and the tests.

No real logger traces are licensed for this repository yet (../shared/datasets/coldchain/README.md),
so these stand in for them and say so: a reefer's air temperature around its set point (thermostat
cycling of a few tenths of a degree, probe noise at 0.1 °C resolution), optionally with a warm
spell on a dock (door open, pallet waiting in the sun), written as a logger's CSV export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

BANGKOK = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class WarmSpell:
    """A stretch the load sat warm: starts `after_h` hours into the trip, lasts `hours`, peaks at `peak_c`."""

    after_h: float
    hours: float
    peak_c: float


def reefer_readings(
    start: int,
    hours: float,
    set_point_c: float,
    interval_min: float = 5.0,
    seed: int = 0,
    warm: WarmSpell | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(unix seconds, °C) of a trip: thermostat cycling around the set point, optional warm spell."""
    rng = np.random.default_rng(seed)
    n = int(hours * 60 / interval_min) + 1
    minutes = np.arange(n) * interval_min
    cycle = 0.35 * np.sin(2 * np.pi * minutes / 47.0 + rng.uniform(0, 6.3))  # compressor on/off
    temps = set_point_c + cycle + rng.normal(0.0, 0.12, n)
    if warm is not None:
        t = minutes / 60.0 - warm.after_h
        inside = (t >= 0) & (t <= warm.hours)
        # Warms towards the peak with a one-hour time constant, cools back after the spell.
        rise = (warm.peak_c - set_point_c) * (1 - np.exp(-np.clip(t, 0, None)))
        after = t > warm.hours
        fall = (
            (warm.peak_c - set_point_c)
            * (1 - np.exp(-warm.hours))
            * np.exp(-np.clip(t - warm.hours, 0, None) * 2)
        )
        temps = temps + np.where(inside, rise, 0.0) + np.where(after, fall, 0.0)
    times = start + np.round(minutes * 60).astype(np.int64)
    return times, np.round(temps, 1)


def logger_csv(times: np.ndarray, celsius: np.ndarray, serial: str = "TL-0001") -> bytes:
    """A logger's CSV export: a metadata line, then local Bangkok time (no offset) and °C."""
    rows = [f"Logger serial: {serial}", "Date/Time,Temperature (°C)"]
    rows += [
        f"{datetime.fromtimestamp(int(t), UTC).astimezone(BANGKOK):%Y-%m-%d %H:%M:%S},{c:.1f}"
        for t, c in zip(times, celsius, strict=True)
    ]
    return ("\n".join(rows) + "\n").encode()
