"""Per-crop storage rules, read from `crop_rules.json` (data with its references, next to this file).

`load_rules()` returns the whole rule set with the sha256 of the file's exact bytes: that hash is what
the oracle attests and the council approves, so the table a verdict used is always identifiable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from oracle.errors import OracleError

RULES_FILE = Path(__file__).with_name("crop_rules.json")


class RuleError(OracleError):
    """The rule file is malformed or has no rule for a crop."""


@dataclass(frozen=True)
class Integrity:
    """Thresholds of the logger-integrity checks (see `integrity_notes` in the rule file)."""

    gap_factor: float
    gap_floor_min: float
    max_interval_min: float
    flatline_min: float
    flatline_samples: int
    jump_c: float
    jump_c_per_min: float
    plausible_c: tuple[float, float]
    min_points: int


@dataclass(frozen=True)
class CropRule:
    """Storage rule of one crop."""

    name: str
    codes: tuple[int, ...]
    label: dict[str, str]
    low_c: float
    high_c: float
    chilling_below_c: float | None
    chilling_tolerance_h: float | None
    reference_c: float
    life_days: tuple[float, float]
    q10: tuple[float, float]
    excursion_allowance_min: float
    mkt_activation_kj_mol: float
    integrity: Integrity
    sources: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    """Every crop's rule and the sha256 of the file they came from."""

    sha256: str
    version: str
    crops: dict[str, CropRule]

    def for_crop(self, crop: str | int) -> CropRule:
        """Rule by crop name (`mango`) or project crop code (201)."""
        key = str(crop).strip().lower()
        if key in self.crops:
            return self.crops[key]
        if key.isdigit():
            for rule in self.crops.values():
                if int(key) in rule.codes:
                    return rule
        known = ", ".join(f"{n} ({'/'.join(map(str, r.codes))})" for n, r in self.crops.items())
        raise RuleError(f"no cold-chain rule for crop {crop!r}; known: {known}")


def _pair(value: Any, what: str) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
        raise RuleError(f"{what} must be a [low, high] pair of numbers")
    low, high = float(value[0]), float(value[1])
    if low > high:
        raise RuleError(f"{what}: low {low} is above high {high}")
    return low, high


def parse_rules(raw: bytes) -> RuleSet:
    """A RuleSet from the bytes of a rule file; RuleError names the first problem."""
    try:
        doc = json.loads(raw)
        defaults = doc["defaults"]
        integrity_raw = dict(defaults["integrity"])
        integrity_raw["plausible_c"] = _pair(integrity_raw["plausible_c"], "integrity.plausible_c")
        integrity = Integrity(**integrity_raw)
        crops: dict[str, CropRule] = {}
        for name, c in doc["crops"].items():
            low, high = _pair(c["band_c"], f"{name}.band_c")
            life = c["shelf_life"]
            crops[name] = CropRule(
                name=name,
                codes=tuple(int(x) for x in c["codes"]),
                label=dict(c["label"]),
                low_c=low,
                high_c=high,
                chilling_below_c=c["chilling_below_c"],
                chilling_tolerance_h=c["chilling_tolerance_h"],
                reference_c=float(life["reference_c"]),
                life_days=_pair(life["days"], f"{name}.shelf_life.days"),
                q10=_pair(life["q10"], f"{name}.shelf_life.q10"),
                excursion_allowance_min=float(
                    c.get("excursion_allowance_min", defaults["excursion_allowance_min"])
                ),
                mkt_activation_kj_mol=float(
                    c.get("mkt_activation_kj_mol", defaults["mkt_activation_kj_mol"])
                ),
                integrity=integrity,
                sources=tuple(c["sources"]),
            )
            if (crops[name].chilling_below_c is None) != (crops[name].chilling_tolerance_h is None):
                raise RuleError(f"{name}: chilling_below_c and chilling_tolerance_h go together")
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleError(f"cold-chain rule file is malformed: {exc!r}") from exc
    return RuleSet(sha256=hashlib.sha256(raw).hexdigest(), version=str(doc.get("version", "")), crops=crops)


@cache
def load_rules(path: Path = RULES_FILE) -> RuleSet:
    """The shipped rule set (or another rule file)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleError(f"cannot read cold-chain rules {path}: {exc.strerror}") from exc
    return parse_rules(raw)
