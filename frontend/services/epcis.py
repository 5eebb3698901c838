"""A batch's history as an EPCIS 2.0 JSON-LD document (GS1 EPCIS/CBV 2.0).

Lots are identified at class level (LGTIN: GTIN + lot) as Digital Link URIs in `quantityList`;
registration is an ObjectEvent ADD (commissioning), each step an ObjectEvent OBSERVE with the CBV
business step of its stage, custody changes ObjectEvents with source/destination owning parties, and
split/merge TransformationEvents linking input lots to output lots. Every event carries the
transaction hash as its eventID and the evidence CID as a certification/extension field.
Compliance exports (FSMA 204, EUDR) reuse `epcis_document` and add their own fields.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from frontend.services.batches import BatchHistory
from frontend.services.catalog import STAGE_BIZSTEPS, STAGES
from frontend.services.chain import Event
from tambon.cid import cid_string
from tambon.provenance import decode_transport

EPCIS_CONTEXT = [
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
    {"tambon": "https://tambon.trust/epcis/"},
]
KGM = "KGM"


def _time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _party(address: str) -> str:
    return f"urn:tambon:party:{address.lower()}"


def epcis_document(
    history: BatchHistory, lot_uri: Callable[[int], str], quantities: Callable[[int], int | None]
) -> dict[str, Any]:
    """EPCISDocument for `history` (and its ancestors); `lot_uri(id)` names a lot, `quantities(id)` its grams."""

    def qty(batch_id: int) -> dict[str, Any]:
        grams = quantities(batch_id)
        if grams is None:  # a lot outside this history (e.g. a sibling box): named, not measured
            return {"epcClass": lot_uri(batch_id)}
        return {"epcClass": lot_uri(batch_id), "quantity": grams / 1000, "uom": KGM}

    def base(e: Event, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "eventID": f"ni:///sha-256;{e.tx_hash.removeprefix('0x')}?ver=CBV2.0&log={e.log_index}",
            "eventTime": _time(history.times[e.block_hash]),
            "eventTimeZoneOffset": "+07:00",
            "tambon:transaction": e.tx_hash,
        }

    events: list[dict[str, Any]] = []
    for e in history.events:
        a = e.args
        if e.name == "BatchRegistered":
            ev = base(e, "ObjectEvent")
            ev.update(
                action="ADD",
                bizStep="cbv:BizStep-commissioning",
                disposition="cbv:Disp-active",
                quantityList=[qty(a["batchId"])],
                readPoint={"id": _party(a["producer"])},
                sourceList=[{"type": "cbv:SDT-owning_party", "source": _party(a["producer"])}],
                **{"tambon:evidence": cid_string(a["evidence"], a["codec"])},
            )
            events.append(ev)
        elif e.name == "StepAdded":
            stage = STAGES[a["stage"]] if a["stage"] < len(STAGES) else None
            ev = base(e, "ObjectEvent")
            ev.update(
                action="OBSERVE",
                bizStep=STAGE_BIZSTEPS.get(stage or "", "cbv:BizStep-inspecting"),
                disposition="cbv:Disp-in_transit" if stage == "TRANSPORT" else "cbv:Disp-active",
                quantityList=[qty(a["batchId"])],
                readPoint={"id": _party(a["actor"])},
                **{"tambon:evidence": cid_string(a["evidence"], a["codec"]), "tambon:stepIndex": a["index"]},
            )
            if stage == "TRANSPORT":
                tmin, tmax = _temps(a["data"])
                ev["sensorElementList"] = [
                    {
                        "sensorMetadata": {"time": ev["eventTime"]},
                        "sensorReport": [
                            {"type": "gs1:Temperature", "minValue": tmin, "maxValue": tmax, "uom": "CEL"}
                        ],
                    }
                ]
            if stage == "MARKETING":
                ev["disposition"] = "cbv:Disp-retail_sold"
            events.append(ev)
        elif e.name == "Transfer" and a["sender"] != "0x0000000000000000000000000000000000000000":
            ev = base(e, "ObjectEvent")
            ev.update(
                action="OBSERVE",
                bizStep="cbv:BizStep-shipping",
                quantityList=[qty(a["tokenId"])],
                sourceList=[{"type": "cbv:SDT-owning_party", "source": _party(a["sender"])}],
                destinationList=[{"type": "cbv:SDT-owning_party", "destination": _party(a["receiver"])}],
            )
            events.append(ev)
        elif e.name == "Split":
            first, count = a["firstChildId"], a["count"]
            ev = base(e, "TransformationEvent")
            ev.update(
                bizStep="cbv:BizStep-packing",
                inputQuantityList=[qty(a["parentId"])],
                outputQuantityList=[qty(c) for c in range(first, first + count) if c in _known(history)],
                transformationID=f"urn:tambon:split:{a['parentId']}",
                readPoint={"id": _party(a["actor"])},
            )
            ev["outputQuantityList"] = ev["outputQuantityList"] or [qty(history.batch_id)]
            events.append(ev)
        elif e.name == "Merged":
            ev = base(e, "TransformationEvent")
            ev.update(
                bizStep="cbv:BizStep-commissioning",
                inputQuantityList=[qty(p) for p in a["parentIds"]],
                outputQuantityList=[qty(a["childId"])],
                transformationID=f"urn:tambon:merge:{a['childId']}",
                readPoint={"id": _party(a["actor"])},
            )
            events.append(ev)
    return {
        "@context": EPCIS_CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(history.head.timestamp),
        "epcisBody": {"eventList": events},
    }


def _known(history: BatchHistory) -> set[int]:
    return set(history.lineage) | set(history.children)


def _temps(data: int) -> tuple[float, float]:
    return decode_transport(data)
