"""EUDR due-diligence data for a batch (Regulation (EU) 2023/1115, Art. 9 and Annex II).

    statement = eudr_statement(traces, batch_id)

The statement carries what an operator enters in its due-diligence statement: HS code and
description, net mass, countries of production, the geolocation of every plot as one GeoJSON
FeatureCollection (the EU information system's file format: properties ProducerName,
ProducerCountry, ProductionPlace, Area), the production (harvest) date range, supplier and
buyer, and the evidence each fact comes from on-chain.

Origin is traced through split/merge lineage down to the batches with no parents. A batch
whose lineage holds an origin batch without plot geolocation (e.g. a trader's lot merged into
a compliant one) gets an `unknown_origin` flag and `compliant: false`: that lot must not be
placed on the EU market on the strength of this data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compliance.errors import NotFound
from compliance.model import BatchTrace, Traces, TrackingEvent, batch_lot, lot_identity
from tambon import geo
from tambon.lots import GS1_ID
from tambon.records import EUDR_HS_PREFIXES

FORMAT = "tambon.eudr-dds/1"
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
_KG = {"kg": 1.0, "g": 0.001, "t": 1000.0, "lb": 0.45359237}


def _flag(
    code: str, severity: str, message: str, batch_id: int | None = None, **extra: Any
) -> dict[str, Any]:
    return {"code": code, "severity": severity, "batch_id": batch_id, "message": message, **extra}


def _eudr_blocks(trace: BatchTrace) -> list[tuple[TrackingEvent, Mapping[str, Any]]]:
    return [
        (e, e.record["eudr"]) for e in trace.events if e.record and isinstance(e.record.get("eudr"), Mapping)
    ]


def _merge_path(traces: Traces, root: int, leaf: int) -> list[int]:
    """Batch ids from `root` down to `leaf` through parents (for the flag message)."""
    stack = [(root, [root])]
    seen = set()
    while stack:
        current, path = stack.pop()
        if current == leaf:
            return path
        if current in seen or current not in traces:
            continue
        seen.add(current)
        stack.extend((p, [*path, p]) for p in traces[current].parents)
    return [root, leaf]


def _entered_by(traces: Traces, path: list[int]) -> tuple[int, TrackingEvent | None]:
    """The batch (and its minting event) where `path[-1]` was merged in: the child just above it."""
    child = path[-2] if len(path) >= 2 else path[-1]
    trace = traces.batches.get(child)
    event = next((e for e in trace.events if e.ref.kind in ("merge", "split")), None) if trace else None
    return child, event


def _net_mass_kg(traces: Traces, batch_id: int) -> float | None:
    trace = traces[batch_id]
    for event in reversed(trace.events):
        qty = (event.record or {}).get("quantity")
        if isinstance(qty, Mapping) and qty.get("unit") in _KG:
            return round(float(qty["value"]) * _KG[qty["unit"]], 3)
    return trace.quantity_grams / 1000 if trace.quantity_grams else None


def _latest(trace: BatchTrace, key: str) -> Any:
    for event in reversed(trace.events):
        if event.record and event.record.get(key):
            return event.record[key]
    return None


def _party_from_location(place: Any) -> dict[str, Any] | None:
    if not isinstance(place, Mapping):
        return None
    out = {"name": place.get("name"), "country": (place.get("address") or {}).get("country")}
    if place.get("gln"):
        out["gln"] = place["gln"]
    if place.get("address"):
        out["address"] = place["address"]
    return out


def geojson(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The statement's plots as a standalone FeatureCollection, every feature carrying the lot's
    identity (GTIN, traceability lot code, Digital Link) beside the EU information system's fields."""
    lot = statement["batch"]
    identity = {
        "GTIN": lot["gtin"],
        "TraceabilityLotCode": lot["traceability_lot_code"],
        "DigitalLink": lot["digital_link"],
    }
    features = [
        {**feature, "properties": {**feature["properties"], **identity}}
        for feature in statement["geolocation"]["features"]
    ]
    return {"type": "FeatureCollection", "features": features}


def eudr_statement(
    traces: Traces | Mapping[int, BatchTrace],
    batch_id: int,
    *,
    resolver: str = GS1_ID,
    fallback_gtin: str | None = None,
    generated_at: str | None = None,
) -> dict[str, Any]:
    """Due-diligence data for one batch, with flags; `compliant` is False when any flag is an error."""
    traces = Traces.of(traces)
    if batch_id not in traces:
        raise NotFound(f"batch {batch_id} is not known")
    trace = traces[batch_id]
    ident = lot_identity(traces, batch_id, fallback_gtin)
    flags: list[dict[str, Any]] = []
    commodity = _latest(trace, "commodity") or {}
    hs_code = commodity.get("hs_code")
    in_scope = isinstance(hs_code, str) and hs_code.startswith(EUDR_HS_PREFIXES)
    if not in_scope:
        flags.append(
            _flag(
                "not_in_scope", "info",
                f"HS code {hs_code or 'unknown'} is not an EUDR relevant commodity; no statement is needed",
                batch_id,
            )
        )  # fmt: skip

    lineage = traces.lineage(batch_id)
    origins: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []
    countries: set[str] = set()
    starts: list[str] = []
    ends: list[str] = []
    supplier = buyer = None
    evidence: list[dict[str, Any]] = []

    for bid in lineage:
        if bid not in traces:
            child = next((t.batch_id for t in traces if bid in t.parents and t.batch_id in lineage), batch_id)
            flags.append(
                _flag(
                    "missing_parent", "error", f"parent batch {bid} of batch {child} could not be read", bid
                )
            )
            continue
        current = traces[bid]
        for event in current.events:
            evidence.append(
                {
                    "batch_id": bid, "kind": event.ref.kind, "step_index": event.ref.step_index,
                    "stage": event.ref.stage, "event": event.cte, "tx_hash": event.ref.tx_hash,
                    "block_number": event.ref.block_number, "evidence_cid": event.evidence_cid,
                }
            )  # fmt: skip
            if event.error:
                flags.append(
                    _flag(
                        "record_unavailable",
                        "warning",
                        f"evidence of batch {bid} unreadable: {event.error}",
                        bid,
                    )
                )
        if current.parents:
            continue
        blocks = _eudr_blocks(current)
        plots_here = [p for _, b in blocks for p in (b.get("plots") or []) if isinstance(p, Mapping)]
        origin: dict[str, Any] = {
            "batch_id": bid,
            "lot": batch_lot(traces, bid),
            "plots": [],
            "status": "known",
        }
        if not plots_here:
            path = _merge_path(traces, batch_id, bid)
            via, merge_event = _entered_by(traces, path)
            how = (
                f"merged into batch {via}" + (f" (tx {merge_event.ref.tx_hash})" if merge_event else "")
                if via != bid
                else "registered"
            )
            flags.append(
                _flag(
                    "unknown_origin", "error",
                    f"batch {bid} has no plot geolocation (origin unknown) and was {how}; "
                    "the lot cannot be shown to be deforestation-free",
                    bid, path=path,
                )
            )  # fmt: skip
            origin["status"] = "unknown"
            origins.append(origin)
            continue
        for event, block in blocks:
            country = block.get("country_of_production")
            if country:
                countries.add(country)
            period = block.get("production_period") or {}
            if period.get("start"):
                starts.append(period["start"])
            if period.get("end"):
                ends.append(period["end"])
            record = event.record or {}
            if record.get("event") == "harvesting" and record.get("date"):
                starts.append(record["date"])
                ends.append(record["date"])
            supplier = supplier or block.get("supplier")
            buyer = buyer or block.get("buyer")
            for name, label in (
                ("deforestation_free", "deforestation-free"),
                ("legally_produced", "legally produced"),
            ):
                if block.get(name) is not True:
                    flags.append(
                        _flag(
                            f"not_{name}", "error",
                            f"batch {bid}: the producer has not declared the plots {label}"
                            + (" (declared false)" if block.get(name) is False else ""),
                            bid,
                        )
                    )  # fmt: skip
            for i, plot in enumerate(block.get("plots") or []):
                problems = geo.plot_problems(plot, f"batch {bid} plot {plot.get('plot_id', i)}")
                if problems:
                    flags.append(_flag("invalid_geolocation", "error", "; ".join(problems), bid))
                    continue
                geometry = plot["geometry"]
                area = plot.get("area_ha") if geometry["type"] == "Point" else round(geo.area_ha(geometry), 4)
                origin["plots"].append(plot.get("plot_id"))
                farm = record.get("farm") or {}
                features.append(
                    {
                        "type": "Feature",
                        "geometry": geometry,
                        "properties": {
                            "ProducerName": plot.get("producer_name") or farm.get("name"),
                            "ProducerCountry": country,
                            "ProductionPlace": plot.get("plot_id"),
                            "Area": area,
                            "DeclaredAreaHa": plot.get("area_ha"),
                            "BatchId": bid,
                            "EvidenceCid": event.evidence_cid,
                        },
                    }
                )
        origins.append(origin)

    shipping = next(
        (
            e.record
            for e in reversed(trace.events)
            if e.record and e.record.get("event") in ("shipping", "receiving")
        ),
        None,
    )
    if supplier is None and shipping:
        supplier = _party_from_location(shipping.get("ship_from"))
    if buyer is None and shipping:
        buyer = _party_from_location(shipping.get("ship_to"))
    buyer_country = (buyer or {}).get("country")
    supplier_country = (supplier or {}).get("country")
    if buyer_country in EU_COUNTRIES and supplier_country not in EU_COUNTRIES:
        activity = "IMPORT"
    elif supplier_country in EU_COUNTRIES and buyer_country not in EU_COUNTRIES:
        activity = "EXPORT"
    else:
        activity = "DOMESTIC" if supplier_country in EU_COUNTRIES else "TRADE"

    compliant = in_scope and not any(f["severity"] == "error" for f in flags)
    return {
        "format": FORMAT,
        "generated_at": generated_at,
        "batch": {
            "batch_id": batch_id,
            "traceability_lot_code": ident.lot if ident else None,
            "gtin": ident.gtin if ident else None,
            "digital_link": ident.uri(resolver) if ident else None,
        },
        "eudr_relevant": in_scope,
        "compliant": compliant,
        "activity_type": activity,
        "operator": buyer if activity == "IMPORT" else supplier,
        "supplier": supplier,
        "buyer": buyer,
        "commodities": [
            {
                "hs_code": hs_code,
                "description": _latest(trace, "product_description") or commodity.get("name"),
                "scientific_name": commodity.get("scientific_name"),
                "common_name": commodity.get("name"),
                "net_mass_kg": _net_mass_kg(traces, batch_id),
                "countries_of_production": sorted(countries),
            }
        ],
        "production_period": {"start": min(starts), "end": max(ends)} if starts and ends else None,
        "geolocation": {"type": "FeatureCollection", "features": features},
        "origins": origins,
        "flags": flags,
        "evidence": evidence,
    }
