"""What a buyer reads on the verify page, in their language: a verdict that agrees with the grade,
names for every party, record fields with human labels and values, and event dates from the records.

Everything here is presentation of a `BatchHistory`; the checks themselves live with the history.
Bilingual names are written "ไทย (English)" in the records and registrations; the page shows the
part in its own language and falls back to the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from frontend import i18n
from frontend.i18n import THAI, local_name
from frontend.services.catalog import GRADE_LABELS, RECORD_LABELS

#: record event -> the record field that names who recorded it (the step's actor)
ACTOR_FIELD = {
    "cultivation": "farm",
    "harvesting": "farm",
    "cooling": "location",
    "initial_packing": "location",
    "transformation": "location",
    "shipping": "carrier",
    "receiving": "ship_to",
    "sale": "location",
}
EVENT_LABELS = {
    "cultivation": "Growing",
    "harvesting": "Harvesting",
    "cooling": "Cooling",
    "initial_packing": "Packing",
    "shipping": "Shipping",
    "receiving": "Receiving",
    "transformation": "Processing",
    "sale": "Sale",
}
#: record fields in reading order, with their labels (English msgids, translated by the page)
FIELD_LABELS = {
    "commodity": "Product",
    "product_description": "Description",
    "quantity": "Quantity",
    "traceability_lot_code": "Traceability lot code",
    "tlc_source": "Lot code assigned by",
    "tlc_source_reference": "Lot code source",
    "farm": "Farm",
    "harvester": "Harvested by",
    "location": "Place",
    "received": "Received",
    "cooling": "Cooled",
    "recipient": "Delivered to",
    "ship_from": "Shipped from",
    "ship_to": "Shipped to",
    "carrier": "Carrier",
    "inputs": "Made from",
    "temperature_log": "Temperature",
    "reference_documents": "Documents",
    "gps": "Recorded at",
    "eudr": "EU deforestation data",
    "captured_by": "Recorded by",
    "notes": "Notes",
}
#: fields shown elsewhere (date heading, photos) or only in the technical details
HIDDEN_FIELDS = frozenset({"schema_version", "event", "date", "datetime", "photos", "stage"})
UNITS = {
    "kg": ("kg", "กก."),
    "g": ("g", "กรัม"),
    "t": ("t", "ตัน"),
    "lb": ("lb", "ปอนด์"),
    "box": ("boxes", "กล่อง"),
    "case": ("cases", "ลัง"),
    "crate": ("crates", "ลัง"),
    "bin": ("bins", "ถัง"),
    "sack": ("sacks", "กระสอบ"),
    "piece": ("pieces", "ชิ้น"),
    "bale": ("bales", "ก้อน"),
    "l": ("L", "ลิตร"),
}
COMMODITIES_TH = {"rice": "ข้าว", "mango": "มะม่วง", "durian": "ทุเรียน", "longan": "ลำไย", "rubber": "ยางพารา"}


def in_lang(text: str, lang: str) -> bool:
    return bool(THAI.search(text)) == (lang == "th")


def party_name(value: Any) -> str | None:
    """The name in a record's party-like field (location, farm, party, harvester)."""
    if isinstance(value, Mapping):
        name = value.get("name") or value.get("business_name")
        return str(name) if name else None
    return value if isinstance(value, str) and value else None


def party_names(history, lang: str) -> dict[str, str]:
    """address -> the name to show: registered producer names, then names records give the step's actor,
    preferring one written in the page's language."""
    candidates: dict[str, list[str]] = {}
    for address, party in history.parties.items():
        if party.name:
            candidates.setdefault(address.lower(), []).append(party.name)
    for step in history.steps:
        record = step.evidence.record or {}
        field_name = ACTOR_FIELD.get(str(record.get("event", "")))
        name = party_name(record.get(field_name)) if field_name else None
        if name:
            candidates.setdefault(step.actor.lower(), []).append(name)
    names = {}
    for address, options in candidates.items():
        local = [local_name(o, lang) for o in options]
        names[address] = next((n for n in local if in_lang(n, lang)), local[0])
    return names


def record_date(record: Mapping | None) -> tuple[date | datetime | None, bool]:
    """(when, has_time) of a record: its `datetime`, else its `date`."""
    if not record:
        return None, False
    raw = record.get("datetime")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw), True
        except ValueError:
            pass
    raw = record.get("date")
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw[:10]), False
        except ValueError:
            pass
    return None, False


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    value: str


class RecordReader:
    """Turns record.json values into short sentences in the page's language."""

    def __init__(self, lang: str, gettext: Callable[[str], str]) -> None:
        self.lang = lang
        self._ = gettext

    def number(self, value: float, places: int = 0) -> str:
        return i18n.format_amount(round(value * 10**places), places, self.lang, places=places)

    def day(self, value: Any) -> str:
        when, _ = record_date({"date": value}) if isinstance(value, str) else (None, False)
        return i18n.format_date(when, self.lang) if when else str(value)

    def quantity(self, q: Any) -> str:
        if not isinstance(q, Mapping) or not isinstance(q.get("value"), int | float):
            return ""
        value = float(q["value"])
        unit = UNITS.get(str(q.get("unit")), (str(q.get("unit", "")),) * 2)
        places = 0 if value == int(value) else 1
        return f"{self.number(value, places)} {unit[1] if self.lang == 'th' else unit[0]}"

    def name(self, value: Any) -> str:
        return local_name(party_name(value) or "", self.lang)

    def fields(self, record: Mapping | None) -> list[Field]:
        if not record:
            return []
        keys = [k for k in FIELD_LABELS if k in record]
        keys += sorted(k for k in record if k not in FIELD_LABELS and k not in HIDDEN_FIELDS)
        out = []
        for key in keys:
            text = self.value(key, record[key])
            if text:
                label = FIELD_LABELS.get(key) or RECORD_LABELS.get(key) or key.replace("_", " ").capitalize()
                out.append(Field(key, self._(label), text[:300]))
        return out

    def value(self, key: str, v: Any) -> str:  # noqa: C901 - one branch per record field
        _ = self._
        if key == "commodity" and isinstance(v, Mapping):
            name = str(v.get("name", ""))
            shown = COMMODITIES_TH.get(name.lower(), name) if self.lang == "th" else name.capitalize()
            return " · ".join(p for p in (shown, str(v.get("variety") or "")) if p)
        if key == "quantity":
            return self.quantity(v)
        if key == "farm" and isinstance(v, Mapping):
            field_name = local_name(v.get("field_name"), self.lang)
            return self.name(v) + (f" · {_('field')} {field_name}" if field_name else "")
        if key in ("received", "cooling") and isinstance(v, Mapping):
            parts = [self.day(v["date"]) if v.get("date") else "", self.quantity(v.get("quantity"))]
            parts.append(self.name(v.get("location")))
            return " · ".join(p for p in parts if p)
        if key == "temperature_log" and isinstance(v, list):
            temps = [float(t["celsius"]) for t in v if isinstance(t, Mapping) and "celsius" in t]
            if not temps:
                return ""
            span = f"{self.number(min(temps), 1)}–{self.number(max(temps), 1)} °C"
            return f"{span} ({_('%(n)s readings') % {'n': len(temps)}})"
        if key == "reference_documents" and isinstance(v, list):
            docs = [f"{d.get('type', '')} {d.get('number', '')}".strip() for d in v if isinstance(d, Mapping)]
            return ", ".join(docs)
        if key == "gps" and isinstance(v, Mapping) and "lat" in v and "lon" in v:
            text = f"{float(v['lat']):.5f}, {float(v['lon']):.5f}"
            if isinstance(v.get("accuracy_m"), int | float):
                text += f" (± {self.number(float(v['accuracy_m']))} {_('m')})"
            return text
        if key == "inputs" and isinstance(v, list):
            return ", ".join(str(i.get("traceability_lot_code", "")) for i in v if isinstance(i, Mapping))
        if key == "eudr":
            return _("provided")
        if isinstance(v, Mapping):
            return self.name(v)
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            return local_name(str(v), self.lang)
        if isinstance(v, list) and v and all(isinstance(i, str | int | float) for i in v):
            return ", ".join(str(i) for i in v[:24])
        return ""


@dataclass(frozen=True, slots=True)
class StepView:
    step: Any
    title: str
    when: str
    recorded: str
    actor: str
    fields: list[Field]
    sort_key: tuple


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str  # pass | fail | unknown
    headline: str
    counts: str


def verdict(history, gettext: Callable[[str], str]) -> Verdict:
    """One sentence for origin and history and one for quality, which never contradict each other."""
    _ = gettext
    s = history.summary
    total = s["pass"] + s["fail"] + s["unknown"]
    if s["fail"]:
        status = "fail"
        origin = _("Origin or history could NOT be verified")
    elif s["unknown"]:
        status = "unknown"
        origin = _("Origin and history partly verified")
    else:
        status = "pass"
        origin = _("Verified origin and history")
    trusted = [a for a in history.attestations if a.ok]
    latest = max(trusted, key=lambda a: a.attested_at, default=None)
    if latest is None and history.attestations:
        quality = _("quality grade NOT verified")
    elif latest is None:
        quality = _("quality not graded yet")
    elif latest.grade == "ABSTAIN":
        quality = _("quality awaiting human review")
    elif latest.grade == "REJECT":
        quality = _("quality rejected by the grader")
    else:
        quality = _("quality graded %(grade)s") % {"grade": _(GRADE_LABELS.get(latest.grade, latest.grade))}
    counts = _("%(ok)s of %(n)s checks passed") % {"ok": s["pass"], "n": total}
    if s["fail"]:
        counts += " · " + _("%(n)s FAILED") % {"n": s["fail"]}
    elif s["unknown"]:
        counts += " · " + _("%(n)s could not be checked now") % {"n": s["unknown"]}
    return Verdict(status, f"{origin}; {quality}", counts)


def step_views(history, lang: str, gettext: Callable[[str], str]) -> list[tuple[str, list[StepView]]]:
    """The timeline by stage, each step dated by its record (the chain time is a detail)."""
    reader = RecordReader(lang, gettext)
    names = party_names(history, lang)
    out = []
    for stage, steps in history.stages():
        views = []
        for st in steps:
            record = st.evidence.record
            when, has_time = record_date(record)
            event = str((record or {}).get("event", ""))
            views.append(
                StepView(
                    step=st,
                    title=gettext(EVENT_LABELS[event]) if event in EVENT_LABELS else "",
                    when=i18n.format_date(when, lang, with_time=has_time, own_zone=True) if when else "",
                    recorded=i18n.format_date(st.timestamp, lang, with_time=True),
                    actor=names.get(st.actor.lower(), ""),
                    fields=reader.fields(record),
                    sort_key=(
                        (when.date() if isinstance(when, datetime) else when) or date.max,
                        st.timestamp,
                        st.index,
                    ),
                )
            )
        out.append((stage, sorted(views, key=lambda v: v.sort_key)))
    return out
