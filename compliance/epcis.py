"""A lot's history as an EPCIS 2.0 JSON-LD document an importer's system ingests (GS1 EPCIS/CBV 2.0).

    document = epcis_document(traces, batch_id)      # the batch and its lineage

- Lots are named as the core decides (`tambon.lots`): the LGTIN class `https://id.gs1.org/01/{gtin}/10/{lot}`
  in quantity lists, the batch token as the SGTIN `…/01/{gtin}/21/{batch id}`.
- Business steps are CBV 2.0 terms chosen by the record's event: harvesting = commissioning, cooling =
  storing, initial packing = packing, shipping = shipping, receiving = receiving, transformation
  (a merge) and split = TransformationEvents whose input and output quantities add up.
- `readPoint`/`bizLocation` are the record's places as GLN-based URIs (`…/414/{gln}`); a place without a
  GLN gets `urn:tambon:location:{cc}:{digest}` (country code + the first 16 hex digits of the SHA-256
  of its name and address), the same place always giving the same URI. Source and destination lists
  name the owning and possessing parties (`…/417/{gln}` or `urn:tambon:party:…`) and the locations.
- `eventTime` is the record's `datetime` (its own offset) or its `date` at local midnight, else the
  block time; `eventTimeZoneOffset` is the place's zone (Thailand +07:00, Los Angeles -07:00 in April).
- The first event naming a lot carries `ilmd` (lot master data: lot code, country of origin, harvest
  dates, farm). `eventID` is the CBV 2.0 event hash (`compliance.event_hash`); the anchoring
  transaction, log and evidence CID are `tambon:` extension fields, as is `tambon:dateOrder`, which
  says when an event's record is dated out of order against its lot's other records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from compliance.event_hash import event_hash
from compliance.model import BatchTrace, Traces, TrackingEvent, date_order, lot_identity
from tambon import gs1
from tambon.lots import GS1_ID, LotIdentity
from tambon.provenance import Stage, decode_transport

EPCIS_CONTEXT = [
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
    {"tambon": "https://tambon.trust/epcis/"},
]
#: record event -> (action of an ObjectEvent, CBV business step, CBV disposition)
EVENT_STEPS: dict[str, tuple[str, str, str]] = {
    "cultivation": ("OBSERVE", "other", "active"),
    "harvesting": ("ADD", "commissioning", "active"),
    "cooling": ("OBSERVE", "storing", "in_progress"),
    "initial_packing": ("OBSERVE", "packing", "in_progress"),
    "shipping": ("OBSERVE", "shipping", "in_transit"),
    "receiving": ("OBSERVE", "receiving", "in_progress"),
    "sale": ("OBSERVE", "retail_selling", "retail_sold"),
}


def stage_step(stage: Stage) -> tuple[str, str, str]:
    """How a step whose record could not be read is reported: as its on-chain stage's first record
    event, observed (the token already exists, so never an ADD)."""
    _action, step, disposition = EVENT_STEPS.get(stage.events[0], ("OBSERVE", "other", "active"))
    return "OBSERVE", step, disposition


#: record quantity units -> UN/ECE Recommendation 20 codes
UOM = {"kg": "KGM", "g": "GRM", "t": "TNE", "lb": "LBR", "case": "CS", "each": "H87", "box": "BX"}
#: reference document types -> CBV business transaction types (others: `urn:tambon:btt:{type}`)
DOC_TYPES = {
    "bill of lading": "bol",
    "invoice": "inv",
    "purchase order": "po",
    "purchase receipt": "recadv",
    "receiving advice": "recadv",
    "despatch advice": "desadv",
    "production log": "prodorder",
    "certificate": "cert",
}
#: country (or "US-<state>") -> the IANA zone its local time is read in
ZONES = {
    "TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh", "MY": "Asia/Kuala_Lumpur", "CN": "Asia/Shanghai",
    "JP": "Asia/Tokyo", "SG": "Asia/Singapore", "DE": "Europe/Berlin", "NL": "Europe/Amsterdam",
    "FR": "Europe/Paris", "GB": "Europe/London", "US-CA": "America/Los_Angeles", "US-WA": "America/Los_Angeles",
    "US-NY": "America/New_York", "US-NJ": "America/New_York", "US-FL": "America/New_York",
    "US-TX": "America/Chicago", "US-IL": "America/Chicago", "US": "America/New_York",
}  # fmt: skip


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _address(place: Mapping[str, Any]) -> Mapping[str, Any]:
    return _obj(place.get("address"))


def _digest(place: Mapping[str, Any]) -> str:
    address = _address(place)
    parts = [str(place.get("name") or place.get("business_name") or "")]
    parts += [str(address.get(k, "")) for k in ("street", "district", "city", "province", "postal_code")]
    return hashlib.sha256("|".join(p.strip().lower() for p in parts).encode()).hexdigest()[:16]


def location_uri(place: Mapping[str, Any]) -> str:
    """A place as an EPCIS location: its GLN (`…/414/{gln}`), else the documented fallback URN."""
    gln = place.get("gln")
    if isinstance(gln, str) and gln:
        return f"{GS1_ID}/414/{gs1.check_gln(gln)}"
    country = str(_address(place).get("country") or place.get("country") or "xx").lower()
    return f"urn:tambon:location:{country}:{_digest(place)}"


def party_uri(place: Mapping[str, Any]) -> str:
    """The party at a place: its party GLN (`…/417/{gln}`), else `urn:tambon:party:{cc}:{digest}`."""
    gln = place.get("gln")
    if isinstance(gln, str) and gln:
        return f"{GS1_ID}/417/{gs1.check_gln(gln)}"
    country = str(_address(place).get("country") or place.get("country") or "xx").lower()
    return f"urn:tambon:party:{country}:{_digest(place)}"


def zone_of(place: Mapping[str, Any] | None) -> ZoneInfo:
    address = _address(place or {})
    country = str(address.get("country") or (place or {}).get("country") or "TH").upper()
    state = str(address.get("province") or "").upper()
    return ZoneInfo(ZONES.get(f"{country}-{state}") or ZONES.get(country) or "UTC")


def _offset(moment: datetime) -> str:
    text = moment.strftime("%z") or "+0000"
    return f"{text[:3]}:{text[3:]}"


def _where(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The place an event happened at: where the goods were when the record was made."""
    event = record.get("event")
    keys = {
        "harvesting": ("farm",),
        "cultivation": ("farm",),
        "shipping": ("ship_from", "location"),
        "receiving": ("ship_to", "location"),
    }.get(str(event), ("location", "farm"))
    for key in keys:
        if isinstance(record.get(key), Mapping):
            return record[key]
    return None


def _time(
    record: Mapping[str, Any], place: Mapping[str, Any] | None, fallback: int | None
) -> tuple[str, str]:
    """(eventTime, eventTimeZoneOffset) of an event in its place's local time."""
    zone = zone_of(place)
    stamp = record.get("datetime")
    if isinstance(stamp, str):
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
    elif isinstance(record.get("date"), str):
        moment = datetime.combine(date.fromisoformat(record["date"]), datetime.min.time(), zone)
    else:
        moment = datetime.fromtimestamp(fallback or 0, UTC).astimezone(zone)
    return moment.isoformat(timespec="milliseconds"), _offset(moment)


def _quantity(ident: LotIdentity, value: Any, unit: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": ident.class_uri()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        element["quantity"] = value
        code = UOM.get(str(unit))
        if code:
            element["uom"] = code
    return element


def _kg(grams: int) -> float:
    return round(grams / 1000, 6)


def _biz_transactions(record: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for doc in record.get("reference_documents") or []:
        if not isinstance(doc, Mapping) or not doc.get("number"):
            continue
        kind = str(doc.get("type", "")).strip()
        entry = {
            "bizTransaction": f"urn:tambon:bt:{quote(kind.lower(), safe='')}:{quote(str(doc['number']), safe='')}"
        }
        entry["type"] = DOC_TYPES.get(kind.lower()) or f"urn:tambon:btt:{quote(kind.lower(), safe='')}"
        out.append(entry)
    return out


def _parties(record: Mapping[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """sourceList and destinationList: who owned and held the goods, and where, on each side."""
    sources, destinations = [], []
    event = record.get("event")
    origin = record.get("ship_from") if event in ("shipping", "receiving") else None
    target = record.get("ship_to") if event in ("shipping", "receiving") else record.get("recipient")
    if isinstance(origin, Mapping):
        for kind in ("owning_party", "possessing_party"):
            sources.append({"type": kind, "source": party_uri(origin)})
        sources.append({"type": "location", "source": location_uri(origin)})
    if isinstance(target, Mapping):
        for kind in ("owning_party", "possessing_party"):
            destinations.append({"type": kind, "destination": party_uri(target)})
        destinations.append({"type": "location", "destination": location_uri(target)})
    return sources, destinations


def _ilmd(ident: LotIdentity, records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Lot master data (CBV master data attributes) from the lot's records."""
    ilmd: dict[str, Any] = {"cbvmda:lotNumber": ident.lot}
    harvest_dates = sorted(
        str(r["date"]) for r in records if r.get("event") == "harvesting" and r.get("date")
    )
    for r in records:
        if r.get("event") == "initial_packing" and isinstance(r.get("harvest_date"), str):
            harvest_dates.append(r["harvest_date"])
    if harvest_dates:
        ilmd["cbvmda:harvestStartDate"] = min(harvest_dates)
        ilmd["cbvmda:harvestEndDate"] = max(harvest_dates)
    country = next(
        (
            c
            for r in records
            for c in [_address(_obj(r.get("farm") or r.get("location"))).get("country")]
            if c
        ),
        None,
    )
    if country:
        ilmd["cbvmda:countryOfOrigin"] = country
    commodity: Mapping[str, Any] = next(
        (r["commodity"] for r in records if isinstance(r.get("commodity"), Mapping)), {}
    )
    if commodity.get("name"):
        ilmd["tambon:commodity"] = commodity["name"]
    return ilmd


def _tambon(event: TrackingEvent) -> dict[str, Any]:
    ref = event.ref
    out: dict[str, Any] = {"tambon:transaction": ref.tx_hash, "tambon:logIndex": ref.log_index,
                           "tambon:batchId": ref.batch_id}  # fmt: skip
    if event.evidence_cid:
        out["tambon:evidence"] = f"ipfs://{event.evidence_cid}"
    if ref.step_index is not None:
        out["tambon:stepIndex"] = ref.step_index
    return out


def _finish(ev: dict[str, Any]) -> dict[str, Any]:
    ev["eventID"] = event_hash(ev)
    return {"type": ev.pop("type"), "eventID": ev.pop("eventID"), **ev}


def batch_events(
    traces: Traces, trace: BatchTrace, ident: LotIdentity, idents: Mapping[int, LotIdentity]
) -> list[dict[str, Any]]:
    """The EPCIS events of one batch, in chain order."""
    events: list[dict[str, Any]] = []
    records = [e.record for e in trace.events if e.record]
    lot_announced = False
    out_of_order = date_order(traces, trace.batch_id)
    for event in trace.events:
        record: Mapping[str, Any] = event.record or {}
        place = _where(record)
        when, offset = _time(record, place, event.ref.timestamp)
        base: dict[str, Any] = {"eventTime": when, "eventTimeZoneOffset": offset}
        if place is not None:
            base["readPoint"] = {"id": location_uri(place)}
            base["bizLocation"] = {"id": location_uri(place)}
        qty = _obj(record.get("quantity"))
        if event.ref.kind in ("split", "merge"):
            parents = [idents[p] for p in trace.parents if p in idents]
            inputs = _merge_inputs(traces, trace, parents) if event.ref.kind == "merge" else [
                {"epcClass": parents[0].class_uri(), "quantity": _kg(trace.quantity_grams), "uom": "KGM"}
            ] if parents else []  # fmt: skip
            ev = {
                "type": "TransformationEvent", **base,
                "inputEPCList": [p.instance_uri() for p in parents],
                "inputQuantityList": inputs,
                "outputEPCList": [ident.instance_uri()],
                "outputQuantityList": [{"epcClass": ident.class_uri(), "quantity": _kg(trace.quantity_grams), "uom": "KGM"}],
                "transformationID": f"urn:tambon:transformation:{event.ref.tx_hash}:{event.ref.log_index}",
                "bizStep": "commissioning" if event.ref.kind == "merge" else "repackaging",
                "disposition": "active",
            }  # fmt: skip
            if ident.lot and not lot_announced:
                ev["ilmd"] = _ilmd(ident, records)
                lot_announced = True
        else:
            cte = str(record.get("event", ""))
            if cte in EVENT_STEPS:
                action, step, disposition = EVENT_STEPS[cte]
            else:
                stage = Stage.parse(event.ref.stage) if event.ref.stage else Stage.HARVEST
                action, step, disposition = (
                    stage_step(stage) if event.ref.kind == "step" else ("ADD", "commissioning", "active")
                )
            if event.ref.kind == "register":
                action = "ADD"  # the token is created here
            ev = {
                "type": "ObjectEvent", **base, "epcList": [ident.instance_uri()],
                "quantityList": [_quantity(ident, qty.get("value"), qty.get("unit"))] if qty else [
                    {"epcClass": ident.class_uri(), "quantity": _kg(trace.quantity_grams), "uom": "KGM"}],
                "action": action, "bizStep": step, "disposition": disposition,
            }  # fmt: skip
            if ident.lot and not lot_announced and record.get("traceability_lot_code") == ident.lot:
                ev["action"] = "ADD"  # the lot code is assigned (commissioned) here
                ev["ilmd"] = _ilmd(ident, records)
                lot_announced = True
            if event.ref.stage == Stage.TRANSPORT.name and event.ref.data is not None:
                low, high = decode_transport(event.ref.data)
                ev["sensorElementList"] = [{
                    "sensorMetadata": {"time": when},
                    "sensorReport": [{"type": "gs1:Temperature", "minValue": low, "maxValue": high, "uom": "CEL"}],
                }]  # fmt: skip
        transactions = _biz_transactions(record)
        if transactions:
            ev["bizTransactionList"] = transactions
        sources, destinations = _parties(record)
        if sources:
            ev["sourceList"] = sources
        if destinations:
            ev["destinationList"] = destinations
        if event.error:
            ev["tambon:recordError"] = event.error
        if event.ref in out_of_order:
            ev["tambon:dateOrder"] = "; ".join(out_of_order[event.ref])
        ev.update(_tambon(event))
        events.append(_finish(ev))
    return events


def _merge_inputs(traces: Traces, trace: BatchTrace, parents: list[LotIdentity]) -> list[dict[str, Any]]:
    """Each merged parent with the quantity that went in (its on-chain quantity)."""
    return [
        {"epcClass": p.class_uri(), "quantity": _kg(traces[p.batch_id].quantity_grams), "uom": "KGM"}
        for p in parents
        if p.batch_id in traces
    ]


def epcis_document(
    traces: Traces, batch_id: int, *, fallback_gtin: str | None = None, created: int | None = None
) -> dict[str, Any]:
    """EPCISDocument of a batch and its lineage (ancestors first, each batch's events in chain order)."""
    traces = Traces.of(traces)
    lineage = [b for b in reversed(traces.lineage(batch_id)) if b in traces]
    idents: dict[int, LotIdentity] = {}
    for b in sorted(lineage):
        found = lot_identity(traces, b, fallback_gtin)
        if found is not None:
            idents[b] = found
    events = []
    for b in lineage:
        if b in idents:
            events += batch_events(traces, traces[b], idents[b], idents)
    events.sort(key=lambda e: _block_order(traces, e))
    stamp = (
        created
        if created is not None
        else max((e.ref.timestamp or 0 for t in traces for e in t.events), default=0)
    )
    return {
        "@context": EPCIS_CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.fromtimestamp(stamp, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "epcisBody": {"eventList": events},
    }


def _block_order(traces: Traces, ev: Mapping[str, Any]) -> tuple[int, int]:
    trace = traces[ev["tambon:batchId"]]
    for e in trace.events:
        if e.ref.tx_hash == ev["tambon:transaction"] and e.ref.log_index == ev["tambon:logIndex"]:
            return e.ref.block_number, e.ref.log_index
    return 0, 0
