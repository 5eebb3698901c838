"""Validation of evidence records (`record.json`) against their versioned JSON Schema.

    record = loads(request_body)          # the one JSON reader: NaN/Infinity refused, numbers as written
    problems = check_record(record)       # [] when valid, else one readable line per problem
    validate_record(record)               # raises RecordInvalid listing every missing KDE
    record = read_record(old_record)      # any registered version, upgraded to the current shape
    problems = order_problems(lot_records, record)   # dates against the records the lot already holds

Schemas live in `schemas/record/` (`index.json` lists every version; a record names its own
in `schema_version`, and every listed version stays readable). On top of the JSON Schema this
module checks what a schema cannot say: GTIN/GLN check digits (and not all zeros), ISO 3166-1
country codes, EUDR geolocation (WGS84, >= 6 decimals as written, valid polygons, a point only up
to 4 ha, declared areas matching their polygons), dates not in the future and in order (received
and cooled before packed, `datetime` on the day of `date`), no blank strings, no NaN or Infinity,
and that a harvest of an EUDR commodity carries its plots.

Across the records of one lot, `order_problems` checks the dates of the Critical Tracking Events:
harvesting <= cooling <= initial packing <= shipping <= receiving, a shipping after a receiving (the
next hop) not before it, and a transformation not before any record of its input lots.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pycountry
from jsonschema import Draft202012Validator

from tambon import geo, gs1
from tambon.errors import TambonError
from tambon.settings import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "schemas" / "record"
#: HS headings (4-digit prefixes) of the EUDR's relevant commodities and products (Annex I),
#: the crops this project meets: rubber, coffee, cocoa, oil palm, soya, wood.
EUDR_HS_PREFIXES = (
    "4001", "4005", "4006", "4007", "4008", "4010", "4011", "4012", "4013", "4015", "4016", "4017",
    "0901", "1801", "1802", "1803", "1804", "1805", "1806",
    "1207", "1511", "1513", "2306", "3823", "1201", "1208", "1507", "2304", "44",
)  # fmt: skip
FSMA_CTES = ("harvesting", "cooling", "initial_packing", "shipping", "receiving", "transformation")
#: the order the CTEs of one lot happen in; a transformation starts a new lot, so within that lot it
#: stands where initial packing does (the lot code is assigned there)
CTE_ORDER = {"harvesting": 0, "cooling": 1, "initial_packing": 2, "transformation": 2, "shipping": 3,
             "receiving": 4}  # fmt: skip
ORDER_RULE = "harvesting ≤ cooling ≤ initial packing ≤ shipping ≤ receiving"


class RecordInvalid(TambonError, ValueError):
    """A record does not follow its schema; `problems` lists each issue, `missing` the missing KDEs."""

    http_status = 422

    def __init__(self, problems: list[str], missing: list[str], event: str | None = None):
        self.problems = problems
        self.missing = missing
        self.event = event
        head = f"record.json ({event})" if event else "record.json"
        parts = []
        if missing:
            parts.append("missing required fields: " + ", ".join(missing))
        others = [p for p in problems if not p.startswith("missing ")]
        parts += others
        super().__init__(f"{head} is invalid: " + "; ".join(parts))


def _no_constant(name: str) -> Any:
    raise RecordInvalid([f"{name} is not a number a record may hold (JSON has no NaN or Infinity)"], [])


def loads(text: str | bytes) -> Any:
    """Parse record JSON: NaN/Infinity refused (RecordInvalid), every non-integer number kept with
    the text it was written as (`geo.JsonNumber`), so decimals are counted as written."""
    try:
        return json.loads(text, parse_float=geo.JsonNumber, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordInvalid([f"record.json is not valid JSON: {exc}"], []) from exc


@cache
def registry() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / "index.json").read_text(encoding="utf-8"))


def versions() -> list[str]:
    return list(registry()["versions"])


def current_version() -> str:
    return registry()["current"]


@cache
def load_schema(version: str) -> dict[str, Any]:
    entry = registry()["versions"].get(version)
    if entry is None:
        raise RecordInvalid([f"unknown schema_version {version!r}; known: {', '.join(versions())}"], [])
    return json.loads((SCHEMA_DIR / entry["schema"]).read_text(encoding="utf-8"))


def schema_path(version: str | None = None) -> Path:
    return SCHEMA_DIR / registry()["versions"][version or current_version()]["schema"]


@cache
def _validator(version: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(version), format_checker=Draft202012Validator.FORMAT_CHECKER)


#: version -> function turning a record of that version into one of the next version.
#: Version 1 is the first published schema; later versions add their upgrader here.
UPGRADERS: dict[str, Callable[[dict], dict]] = {}


def _dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def _anyof_required(schema_value) -> list[str] | None:
    """Names when an anyOf is only `{"required": [x]}` alternatives (one of several fields)."""
    names = []
    for sub in schema_value:
        if set(sub) != {"required"} or len(sub["required"]) != 1:
            return None
        names.append(sub["required"][0])
    return names


def _schema_problems(record: Mapping, version: str) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    missing: list[str] = []
    for error in _validator(version).iter_errors(record):
        where = _dotted(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, Mapping):
            for name in error.validator_value:
                if name not in error.instance:
                    field = _join(where, name)
                    if field not in missing:
                        missing.append(field)
            continue
        if error.validator == "anyOf" and isinstance(error.instance, Mapping):
            names = _anyof_required(error.validator_value)
            if names:
                field = " or ".join(_join(where, n) for n in names)
                if field not in missing:
                    missing.append(field)
                continue
        if error.validator == "oneOf" and where.endswith("geometry"):
            problems += geo.geometry_problems(error.instance, where) or [
                f"{where}: not a valid GeoJSON Point, Polygon or MultiPolygon"
            ]
            continue
        message = error.message if len(error.message) < 200 else error.message[:200] + "…"
        problems.append(f"{where or 'record'}: {message}")
    return problems, missing


def _walk(value: Any, path: str = ""):
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = _join(path, str(key))
            yield child, key, item
            yield from _walk(item, child)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


#: a record may be dated up to a day ahead of UTC (time zones east of Greenwich), never later
FUTURE_SLACK = timedelta(days=1)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _value_problems(path: str, key: Any, value: Any) -> list[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{path}: {value} is not a number a record may hold"]
    if isinstance(value, str) and value and not value.strip():
        return [f"{path}: is blank"]
    if (
        key in ("gtin", "gln")
        and isinstance(value, str)
        and re.fullmatch(r"[0-9]+", value)
        and not int(value)
    ):
        return [f"{path}: a {key.upper()} of all zeros names nothing"]
    country_key = key in ("country", "country_of_production") and isinstance(value, str)
    if country_key and pycountry.countries.get(alpha_2=value) is None:
        return [f"{path}: {value!r} is not an ISO 3166-1 alpha-2 country code"]
    today = datetime.now(UTC).date() + FUTURE_SLACK
    if key in ("date", "start", "end") and (_date(value) or date.min) > today:
        return [f"{path}: {value} is in the future"]
    return []


def _date_order_problems(record: Mapping) -> list[str]:
    problems = []
    day = _date(record.get("date"))
    stamp = record.get("datetime")
    if day and isinstance(stamp, str):
        try:
            if datetime.fromisoformat(stamp).date() != day:
                problems.append(f"datetime: {stamp} is not on the record's date {day}")
        except ValueError:
            pass  # the schema reports a malformed datetime
    for field in ("received", "cooling"):
        earlier = _date(
            (record.get(field) or {}).get("date") if isinstance(record.get(field), Mapping) else None
        )
        if day and earlier and earlier > day:
            problems.append(f"{field}.date: {earlier} is after the {record.get('event')} date {day}")
    return problems


def _extra_problems(record: Mapping) -> list[str]:
    """What JSON Schema cannot express; runs on records that passed (or mostly passed) the schema."""
    problems: list[str] = _date_order_problems(record)
    for path, key, value in _walk(record):
        problems += _value_problems(path, key, value)
        if key == "gtin" and isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
            try:
                gs1.normalise_gtin(value)
            except gs1.InvalidGtin as exc:
                problems.append(f"{path}: {exc}")
        elif key == "gln" and isinstance(value, str) and re.fullmatch(r"[0-9]{13}", value):
            try:
                gs1.check_gln(value)
            except gs1.InvalidGtin as exc:
                problems.append(f"{path}: {exc}")
        elif key == "geo" and isinstance(value, Mapping):
            problems += geo.geometry_problems(value, path)
    eudr = record.get("eudr")
    if isinstance(eudr, Mapping):
        for i, plot in enumerate(eudr.get("plots") or []):
            if isinstance(plot, Mapping) and isinstance(plot.get("geometry"), Mapping):
                problems += [
                    p
                    for p in geo.plot_problems(plot, f"eudr.plots[{i}]")
                    if not p.endswith("not a valid GeoJSON Point, Polygon or MultiPolygon")
                ]
        period = eudr.get("production_period")
        if isinstance(period, Mapping) and str(period.get("start", "")) > str(period.get("end", "~")):
            problems.append("eudr.production_period: start is after end")
    return problems


def _dated(record: Any) -> tuple[str, date] | None:
    """(event, date) of a record whose event has a place in CTE_ORDER and whose date reads."""
    if not isinstance(record, Mapping) or record.get("event") not in CTE_ORDER:
        return None
    day = _date(record.get("date"))
    return (record["event"], day) if day else None


def order_problems(earlier: Iterable[Any], record: Any, inputs: Iterable[tuple[str, Any]] = ()) -> list[str]:
    """Date-order problems of `record` against the records its lot already holds (`earlier`, in chain
    order) and, for a transformation, against the records of its input lots (`inputs`: (lot name,
    record) pairs). Each problem names both events and both dates; [] when in order."""
    this = _dated(record)
    if this is None:
        return []
    event, day = this
    rank = CTE_ORDER[event]
    problems = []
    for other in earlier:
        found = _dated(other)
        if found is None:
            continue
        other_event, other_day = found
        other_rank = CTE_ORDER[other_event]
        next_hop = event == "shipping" and other_event == "receiving"
        if (other_rank < rank or next_hop) and other_day > day:
            why = "a lot ships on after it is received" if next_hop else f"a lot's dates run {ORDER_RULE}"
            problems.append(
                f"date: the {event} on {day} is before the lot's {other_event} on {other_day} ({why})"
            )
        elif other_rank > rank and not next_hop and other_day < day:
            problems.append(
                f"date: the {event} on {day} is after the lot's {other_event} on {other_day} "
                f"(a lot's dates run {ORDER_RULE})"
            )
    if event == "transformation":
        for lot, other in inputs:
            found = _dated(other) if isinstance(other, Mapping) else None
            if found and found[1] > day:
                problems.append(
                    f"date: the transformation on {day} is before the {found[0]} of its input lot {lot} "
                    f"on {found[1]} (a food is transformed after its inputs)"
                )
    return _dedupe(problems)


def sequence_problems(lot: Iterable[Any]) -> list[list[str]]:
    """`order_problems` of each record of one lot (given in chain order) against those before it."""
    records = list(lot)
    return [order_problems(records[:i], record) for i, record in enumerate(records)]


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def is_eudr_commodity(record: Mapping) -> bool:
    hs = ((record.get("commodity") or {}) if isinstance(record.get("commodity"), Mapping) else {}).get(
        "hs_code"
    )
    return isinstance(hs, str) and hs.startswith(EUDR_HS_PREFIXES)


def check_record(record: Any) -> list[str]:
    """Every problem of a record as a readable line (missing fields first); [] when valid."""
    try:
        problems, missing = _collect(record)
    except RecordInvalid as exc:
        return exc.problems
    return [f"missing {m}" for m in missing] + problems


def _collect(record: Any) -> tuple[list[str], list[str]]:
    if not isinstance(record, Mapping):
        raise RecordInvalid(["record.json must be a JSON object"], [])
    version = record.get("schema_version")
    if version is None:
        raise RecordInvalid(
            [f"missing schema_version (current: {current_version()!r})"],
            ["schema_version"],
            record.get("event"),
        )
    if not isinstance(version, str) or version not in registry()["versions"]:
        raise RecordInvalid([f"unknown schema_version {version!r}; known: {', '.join(versions())}"], [])
    problems, missing = _schema_problems(record, version)
    problems = [p for p in problems if not any(p.startswith(m + ":") for m in missing)]
    if (
        is_eudr_commodity(record)
        and record.get("event") in ("harvesting", "cultivation")
        and "eudr" not in record
    ):
        missing.append("eudr (plot geolocation for an EUDR commodity)")
    # geometry problems may be reported by both the schema pass and the extra pass
    problems = _dedupe(problems + _extra_problems(record))
    return problems, _dedupe(missing)


def validate_record(record: Any) -> Mapping:
    """Return the record if it is valid; else raise RecordInvalid listing every problem."""
    problems, missing = _collect(record)
    if problems or missing:
        raise RecordInvalid([f"missing {m}" for m in missing] + problems, missing, record.get("event"))
    return record


def missing_fields(record: Any) -> list[str]:
    """Just the missing required fields (FSMA 204 KDEs and schema basics) of a record."""
    try:
        return _collect(record)[1]
    except RecordInvalid as exc:
        return exc.missing


def read_record(record: Any) -> dict:
    """Validate a record against the schema of ITS version, then upgrade it to the current version."""
    validate_record(record)
    out = dict(record)
    while out["schema_version"] != current_version():
        upgrade = UPGRADERS.get(out["schema_version"])
        if upgrade is None:
            raise RecordInvalid([f"no upgrade path from schema_version {out['schema_version']!r}"], [])
        out = upgrade(out)
    return out
