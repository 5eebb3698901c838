"""The CBV 2.0 event hash (CBV 2.0 §8.9): a content-derived `eventID` for the EPCIS events we emit.

The pre-hash string is `eventType=…` followed by the event's fields in the standard's order, each
`name=value` with values canonicalised (times in UTC to the millisecond, CBV short names as their
`https://ref.gs1.org/cbv/` URIs, numbers without trailing zeros), the entries of a list sorted,
then the remaining fields sorted: business transaction, source and destination lists (as the
reference orders them) and the extension fields (`ilmd`, `tambon:*`, namespaced as `{namespace}name`). The hash is the
SHA-256 of that string as `ni:///sha-256;{hex}?ver=CBV2.0`.
The PyPI `epcis-event-hash-generator` (GS1's reference) is the oracle the tests compare against.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

CBV = "https://ref.gs1.org/cbv/"
#: JSON-LD prefixes of our extension fields and what they expand to
NAMESPACES = {"tambon": "https://tambon.trust/epcis/"}
#: bare CBV terms in these fields stand for `https://ref.gs1.org/cbv/{prefix}-{term}`
CBV_PREFIXES = {"bizStep": "BizStep", "disposition": "Disp"}
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_EPC_LISTS = ("epcList", "inputEPCList", "childEPCs", "outputEPCList")
_SENSOR_METADATA = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
                    "dataProcessingMethod", "bizRules")  # fmt: skip
_SENSOR_REPORT = ("type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
                  "time", "microorganism", "chemicalSubstance", "value", "component", "stringValue",
                  "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue",
                  "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem")  # fmt: skip
ORDER = ("eventTime", "eventTimeZoneOffset", "certificationInfo", "parentID", "epcList", "inputEPCList",
         "childEPCs", "quantityList", "childQuantityList", "inputQuantityList", "outputEPCList",
         "outputQuantityList", "action", "transformationID", "bizStep", "disposition",
         "persistentDisposition", "readPoint", "bizLocation", "sensorElementList")  # fmt: skip
#: typed lists the reference sorts with the extension fields (entries sorted, each entry's fields
#: in document order) and the CBV vocabulary their `type` values expand in
TYPED_LISTS = {"bizTransactionList": "BTT", "sourceList": "SDT", "destinationList": "SDT"}
IGNORED = ("type", "eventID", "recordTime", "errorDeclaration", "@context")


def _utc(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(float(value))
    return str(value).strip()


def _gs1(term: str) -> str:
    """`gs1:Temperature` -> `https://gs1.org/voc/Temperature`."""
    return "https://gs1.org/voc/" + term.removeprefix("gs1:") if term.startswith("gs1:") else term


def _cbv(prefix: str, term: str) -> str:
    return term if ":" in term else f"{CBV}{prefix}-{term}"


def _name(key: str) -> str:
    prefix, sep, local = key.partition(":")
    return f"{{{NAMESPACES[prefix]}}}{local}" if sep and prefix in NAMESPACES else key


def _pair(name: str, value: Any) -> str:
    return f"{name}={_value(value)}"


def _quantity(element: Mapping[str, Any]) -> str:
    return "quantityElement" + "".join(
        _pair(k, element[k]) for k in ("epcClass", "quantity", "uom") if k in element
    )


def _sensor(element: Mapping[str, Any]) -> str:
    out = "sensorElement"
    meta = element.get("sensorMetadata") or {}
    if meta:
        out += "sensorMetadata" + "".join(
            _pair(k, _utc(meta[k]) if "time" in k.lower() else meta[k]) for k in _SENSOR_METADATA if k in meta
        )
    reports = sorted(
        "sensorReport" + "".join(
            _pair(k, _gs1(str(r[k])) if k == "type" else (_utc(r[k]) if k == "time" else r[k]))
            for k in _SENSOR_REPORT if k in r
        )
        for r in element.get("sensorReport") or []
    )  # fmt: skip
    return out + "".join(reports)


def _typed_list(name: str, items: Sequence[Mapping[str, Any]]) -> str:
    entries = sorted(
        "".join(_pair(k, _cbv(TYPED_LISTS[name], str(v)) if k == "type" else v) for k, v in item.items())
        for item in items
    )
    return name + "".join(entries)


def _field(name: str, value: Any) -> str:
    if name in ("eventTime",):
        return _pair(name, _utc(value))
    if name in _EPC_LISTS:
        return name + "".join(sorted(_pair("epc", v) for v in value))
    if name in _QUANTITY_LISTS:
        return name + "".join(sorted(_quantity(q) for q in value))
    if name in ("readPoint", "bizLocation"):
        return name + _pair("id", value["id"])
    if name == "sensorElementList":
        return name + "".join(sorted(_sensor(e) for e in value))
    if name in CBV_PREFIXES:
        return _pair(name, _cbv(CBV_PREFIXES[name], str(value)))
    return _pair(name, value)


def _extension(name: str, value: Any) -> str:
    if name in TYPED_LISTS:
        return _typed_list(name, value)
    if isinstance(value, Mapping):
        return _name(name) + "".join(sorted(_extension(k, v) for k, v in value.items()))
    if isinstance(value, list):
        return "".join(sorted(_extension(name, v) for v in value))
    return _pair(_name(name), value)


def prehash(event: Mapping[str, Any]) -> str:
    """The canonical pre-hash string of one EPCIS event."""
    out = "eventType=" + str(event["type"])
    for name in ORDER:
        if name in event and event[name] not in (None, [], {}):
            out += _field(name, event[name])
    extensions = sorted(_extension(k, v) for k, v in event.items() if k not in ORDER and k not in IGNORED)
    return out + "".join(extensions)


def event_hash(event: Mapping[str, Any]) -> str:
    """`ni:///sha-256;{hex}?ver=CBV2.0` of an event."""
    return f"ni:///sha-256;{hashlib.sha256(prehash(event).encode('utf-8')).hexdigest()}?ver=CBV2.0"
