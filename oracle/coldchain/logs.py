"""Temperature logs in the formats loggers export, read into two arrays (unix seconds, °C).

    log = read_log(data, name="trip.csv")        # CSV, EPCIS 2.0 JSON or record.json, by content

- **CSV**: comma, semicolon or tab separated (decimal comma with semicolons), UTF-8 with or
  without BOM, UTF-16 with BOM (spreadsheet exports); metadata lines before the header are skipped.
  The header names a time column (`time`, `timestamp`, `date/time`, `datetime`, or separate `date`
  and `time` columns) and a temperature column (`temperature`, `temp`, `°C`, `celsius`, `value`...).
  °F is read from the header (`°F`, `(F)`, `fahrenheit`, `temp_f`) or a `unit` column.
  Times: ISO 8601 with or without offset/`Z`, `DD/MM/YYYY HH:MM[:SS]` (day first unless a first
  field above 12 is never seen but a second one is), 12-hour clock with AM/PM, unix seconds or
  milliseconds. Times without an offset are in `tz` (default Asia/Bangkok), or UTC when the
  header says `UTC`.
- **EPCIS 2.0 JSON**: an EPCISDocument, a query document, an event list or one event; every
  `sensorReport` of type Temperature with a `value` (or `meanValue`) becomes a reading; its time is
  the report's `time`, else its `sensorMetadata.time`, else the event's `eventTime`. Units CEL,
  FAH, KEL.
- **record.json**: the `temperature_log` array of an evidence record (`{"time", "celsius"}`).

Content problems never raise: a corrupt or truncated file gives a `TemperatureLog` whose
`problems` say what is wrong, and the analysis turns any problem into UNRELIABLE_LOG.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from oracle.errors import OracleError

DEFAULT_TZ = "Asia/Bangkok"
MAX_LOG_BYTES = 64 * 1024 * 1024
MAX_PROBLEMS = 20  # problems listed one by one; more are counted

TIME_HEADERS = (
    "timestamp",
    "datetime",
    "date/time",
    "date time",
    "date_time",
    "time",
    "date",
    "zeit",
    "เวลา",
)
TEMP_HEADERS = ("temperature", "temp", "celsius", "fahrenheit", "°c", "°f", "degc", "degf", "value", "อุณหภูมิ")
FAHRENHEIT_MARKS = ("°f", "(f)", "[f]", "fahrenheit", "degf", "temp_f", "temperature_f", " f)")
TEMPERATURE_TYPES = {"temperature", "gs1:temperature", "https://gs1.org/voc/temperature"}

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_DMY = re.compile(
    r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(AM|PM)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_EPOCH = re.compile(r"\d{10}(\d{3})?")
_NUMBER = re.compile(r"\s*([+-]?\d+(?:[.,]\d+)?)\s*(?:°?\s*[CFcf])?\s*")


class LogError(OracleError):
    """A log file cannot be opened at all (too big, unreadable); content problems are not errors."""


@dataclass
class TemperatureLog:
    """Readings in file order (not sorted: a clock going backwards must stay visible)."""

    times: np.ndarray  # int64 unix seconds
    celsius: np.ndarray  # float64
    source: str  # "csv", "epcis" or "record"
    problems: list[str] = field(default_factory=list)  # why the file itself cannot be trusted

    def __len__(self) -> int:
        return int(self.times.size)

    @classmethod
    def broken(cls, source: str, problem: str) -> TemperatureLog:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float64), source, [problem])


class _Problems:
    """Collects row problems, listing the first few and counting the rest."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.more = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(text)
        else:
            self.more += 1

    def done(self) -> list[str]:
        return self.items + ([f"... and {self.more} more unreadable rows"] if self.more else [])


def _zone(tz: str) -> ZoneInfo | timezone:
    if tz.upper() in ("UTC", "Z"):
        return UTC
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", tz)
    if m:
        minutes = int(m[2]) * 60 + int(m[3])
        return timezone(timedelta(minutes=minutes if m[1] == "+" else -minutes))
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LogError(f"unknown time zone {tz!r} (use an IANA name like Asia/Bangkok or +07:00)") from exc


def _offset(text: str | None) -> timezone | None:
    if not text:
        return None
    if text.upper() in ("Z", "UTC"):
        return UTC
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _epoch(dt: datetime, zone: ZoneInfo | timezone) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return int(dt.timestamp())


class _TimeReader:
    """Parses one time cell to unix seconds; the day/month order is fixed from the whole column."""

    def __init__(self, zone: ZoneInfo | timezone, day_first: bool = True):
        self.zone = zone
        self.day_first = day_first

    @staticmethod
    def guess_day_first(cells: list[str]) -> bool:
        first_big = second_big = False
        for cell in cells[:5000]:
            m = _DMY.fullmatch(cell.strip())
            if m:
                first_big |= int(m[1]) > 12
                second_big |= int(m[2]) > 12
        return not (second_big and not first_big)

    def __call__(self, cell: str) -> int:
        text = cell.strip().strip('"')
        m = _ISO.fullmatch(text)
        if m:
            y, mo, d, h, mi = (int(m[i]) for i in range(1, 6))
            s, frac, tz = int(m[6] or 0), m[7], m[8]
            dt = datetime(y, mo, d, h, mi, s, tzinfo=_offset(tz))
            return _epoch(dt, self.zone) + (1 if frac and frac[0] >= "5" else 0)
        m = _DMY.fullmatch(text)
        if m:
            a, b, y, h, mi = (int(m[i]) for i in range(1, 6))
            d, mo = (a, b) if self.day_first else (b, a)
            ampm = (m[8] or "").upper()
            if ampm:
                if not 1 <= h <= 12:
                    raise ValueError(f"hour {h} with {ampm}")
                h = h % 12 + (12 if ampm == "PM" else 0)
            dt = datetime(y, mo, d, h, mi, int(m[6] or 0), tzinfo=_offset(m[9]))
            return _epoch(dt, self.zone)
        if _EPOCH.fullmatch(text):
            value = int(text)
            return value // 1000 if len(text) == 13 else value
        raise ValueError(f"unreadable time {text[:40]!r}")


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def read_log(data: bytes, name: str = "", tz: str = DEFAULT_TZ) -> TemperatureLog:
    """Read a CSV, EPCIS 2.0 JSON or record.json temperature log (format told by content)."""
    zone = _zone(tz)
    if len(data) > MAX_LOG_BYTES:
        raise LogError(f"{name or 'log'} is {len(data)} bytes; the limit is {MAX_LOG_BYTES}")
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        return TemperatureLog.broken("unknown", f"not a text log (bytes at {exc.start} are not UTF-8/UTF-16)")
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            return TemperatureLog.broken("json", f"JSON log is truncated or corrupt: {exc}")
        return read_json(doc, zone)
    return read_csv(text, zone)


# ------------------------------------------------------------------------------------------ CSV


def _split(line: str, delimiter: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in line.split(delimiter)]


def _find_header(lines: list[str]) -> tuple[int, str, list[str]] | None:
    for i, line in enumerate(lines[:40]):
        low = line.lower()
        if not any(h in low for h in TIME_HEADERS) or not any(h in low for h in TEMP_HEADERS):
            continue
        delimiter = max((";", ",", "\t"), key=lambda d: len(line.split(d)))
        cells = [c.lower() for c in _split(line, delimiter)]
        if len(cells) >= 2:
            return i, delimiter, cells
    return None


def _column(cells: list[str], names: tuple[str, ...], exclude: set[int]) -> int | None:
    for name in names:
        for i, cell in enumerate(cells):
            if i not in exclude and name in cell:
                return i
    return None


def read_csv(text: str, zone: ZoneInfo | timezone) -> TemperatureLog:
    """Read a logger CSV export (see the module doc for the variants)."""
    lines = text.splitlines()
    found = _find_header(lines)
    if found is None:
        return TemperatureLog.broken("csv", "no header line with a time and a temperature column")
    start, delimiter, cells = found
    temp_col = _column(cells, TEMP_HEADERS, set())
    assert temp_col is not None  # _find_header saw a temperature name
    date_col = next((i for i, c in enumerate(cells) if c == "date" and i != temp_col), None)
    clock_col = next((i for i, c in enumerate(cells) if c == "time" and i != temp_col), None)
    split_time = date_col is not None and clock_col is not None
    time_col = None if split_time else _column(cells, TIME_HEADERS, {temp_col})
    if not split_time and time_col is None:
        return TemperatureLog.broken("csv", "header has no time column")
    unit_col = next((i for i, c in enumerate(cells) if c in ("unit", "units", "uom")), None)
    fahrenheit = any(mark in cells[temp_col] for mark in FAHRENHEIT_MARKS)
    if any("utc" in c for c in cells if c != cells[temp_col]) and not re.search(
        r"utc\s*[+-]", " ".join(cells)
    ):
        zone = UTC
    rows = [
        (n, _split(line, delimiter)) for n, line in enumerate(lines[start + 1 :], start + 2) if line.strip()
    ]
    width = len(cells)
    time_cells = [
        f"{r[date_col]} {r[clock_col]}" if split_time else r[time_col]  # type: ignore[index]
        for _, r in rows
        if len(r) >= width
    ]
    reader = _TimeReader(zone, _TimeReader.guess_day_first(time_cells))
    problems = _Problems()
    times: list[int] = []
    temps: list[float] = []
    for n, r in rows:
        if len(r) < width:
            problems.add(f"line {n} is truncated ({len(r)} of {width} fields)")
            continue
        try:
            t = reader(f"{r[date_col]} {r[clock_col]}" if split_time else r[time_col])  # type: ignore[index]
        except ValueError as exc:
            problems.add(f"line {n}: {exc}")
            continue
        raw = r[temp_col]
        if raw == "" or raw.lower() in ("nan", "---", "--", "n/a", "na", "null"):
            continue  # no reading at this time: a hole the gap check judges
        m = _NUMBER.fullmatch(raw)
        if not m:
            problems.add(f"line {n}: unreadable temperature {raw[:20]!r}")
            continue
        value = float(m[1].replace(",", "."))
        unit = r[unit_col].lower() if unit_col is not None else ""
        if fahrenheit or unit in ("f", "°f", "degf", "fah") or raw.rstrip().upper().endswith("F"):
            value = (value - 32.0) * 5.0 / 9.0
        times.append(t)
        temps.append(value)
    if not times and not problems.items:
        problems.add("no readings after the header")
    return TemperatureLog(np.array(times, np.int64), np.array(temps, np.float64), "csv", problems.done())


# ----------------------------------------------------------------------------------------- JSON


def _to_celsius(value: float, uom: str) -> float:
    uom = uom.upper()
    if uom in ("CEL", "C", "°C", ""):
        return value
    if uom in ("FAH", "F", "°F"):
        return (value - 32.0) * 5.0 / 9.0
    if uom in ("KEL", "K"):
        return value - 273.15
    raise ValueError(f"unknown temperature unit {uom!r}")


def _events(doc: Any) -> list[dict] | None:
    if isinstance(doc, dict):
        body = doc.get("epcisBody")
        if isinstance(body, dict):
            if isinstance(body.get("eventList"), list):
                return body["eventList"]
            results = body.get("queryResults", {}).get("resultsBody", {})
            if isinstance(results.get("eventList"), list):
                return results["eventList"]
        if "sensorElementList" in doc:
            return [doc]
        return None
    if isinstance(doc, list) and doc and all(isinstance(e, dict) and "sensorElementList" in e for e in doc):
        return doc
    return None


def read_json(doc: Any, zone: ZoneInfo | timezone) -> TemperatureLog:
    """Read an EPCIS 2.0 document/event list, or an evidence record's `temperature_log`."""
    reader = _TimeReader(zone)
    problems = _Problems()
    times: list[int] = []
    temps: list[float] = []
    events = _events(doc)
    if events is None:
        readings = doc.get("temperature_log") if isinstance(doc, dict) else doc
        if not isinstance(readings, list):
            return TemperatureLog.broken("json", "JSON has neither EPCIS sensor data nor a temperature_log")
        for i, item in enumerate(readings):
            try:
                t, celsius = reader(str(item["time"])), float(item["celsius"])
            except (KeyError, TypeError, ValueError) as exc:
                problems.add(f"temperature_log[{i}]: {exc!s}")
                continue
            times.append(t)
            temps.append(celsius)
        source = "record"
    else:
        source = "epcis"
        for e_index, event in enumerate(events):
            if not isinstance(event, dict):
                problems.add(f"event {e_index} is not an object")
                continue
            offset = event.get("eventTimeZoneOffset")
            event_reader = _TimeReader(_zone(offset)) if isinstance(offset, str) else reader
            for element in event.get("sensorElementList") or []:
                meta = element.get("sensorMetadata") or {} if isinstance(element, dict) else {}
                for report in element.get("sensorReport") or [] if isinstance(element, dict) else []:
                    if str(report.get("type", "")).lower() not in TEMPERATURE_TYPES:
                        continue
                    value = report.get("value", report.get("meanValue"))
                    if value is None:
                        continue  # a min/max summary is not a reading
                    when = report.get("time") or meta.get("time") or event.get("eventTime")
                    try:
                        t = event_reader(str(when))
                        celsius = _to_celsius(float(value), str(report.get("uom", "CEL")))
                    except (TypeError, ValueError) as exc:
                        problems.add(f"event {e_index}: {exc}")
                        continue
                    times.append(t)
                    temps.append(celsius)
    if not times and not problems.items:
        problems.add("no temperature readings in the document")
    return TemperatureLog(np.array(times, np.int64), np.array(temps, np.float64), source, problems.done())
