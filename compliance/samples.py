"""Example records (schema v1) for the two export journeys this project serves, used by tests,
benchmarks, docs and demo seeding:

- a mango lot from Chachoengsao exported to the US (FSMA 204: tropical tree fruit);
- natural rubber from Songkhla smallholders merged and exported to the EU (EUDR).

`mango_lot()` / `rubber_lot()` give the records; `traces_from(...)` anchors them on a
pretend chain (deterministic tx hashes and CIDs) for pure-function tests and benchmarks.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from compliance.model import BatchTrace, ChainRef, Traces, TrackingEvent
from tambon.provenance import Stage

MANGO_GTIN = "8851234000012"


def _fresh(value):
    """Records share the place constants below; every builder hands out its own deep copy."""
    return copy.deepcopy(value)


def _copied(builder):
    def build(*args, **kwargs):
        return _fresh(builder(*args, **kwargs))

    build.__name__, build.__doc__ = builder.__name__, builder.__doc__
    return build


RUBBER_GTIN = "8851234000029"
PACKHOUSE_GLN = "8851234000036"
LA_IMPORTER_GLN = "0614141000012"
HAMBURG_IMPORTER_GLN = "4001234000015"

_TH = {"country": "TH"}

MANGO_FARM = {
    "name": "วิสาหกิจชุมชนสวนมะม่วงบางคล้า (Bang Khla Mango Community Enterprise)",
    "phone": "+66 81 234 5678",
    "address": {
        "street": "12 หมู่ 4",
        "district": "Bang Khla",
        "province": "Chachoengsao",
        "postal_code": "24110",
        **_TH,
    },
    "field_name": "แปลง 3 (Plot 3)",
}
MANGO_HARVESTER = {"business_name": "Bang Khla Mango Community Enterprise", "phone": "+66 81 234 5678"}
PACKHOUSE = {
    "name": "Chachoengsao Fruit Packing House Co., Ltd.",
    "phone": "+66 38 512 345",
    "address": {"street": "99 Suwinthawong Rd", "city": "Chachoengsao", "postal_code": "24000", **_TH},
    "gln": PACKHOUSE_GLN,
}
LA_IMPORTER = {
    "name": "Golden Mango Imports LLC",
    "phone": "+1 213 555 0142",
    "address": {
        "street": "1200 S Central Ave",
        "city": "Los Angeles",
        "province": "CA",
        "postal_code": "90021",
        "country": "US",
    },
    "gln": LA_IMPORTER_GLN,
}
MANGO = {
    "name": "mango",
    "variety": "Nam Dok Mai Si Thong",
    "scientific_name": "Mangifera indica",
    "hs_code": "080450",
    "gtin": MANGO_GTIN,
}


def mango_lot(lot: str = "TH-MG-260402-A", day: int = 2, kg: float = 1200.0) -> list[dict[str, Any]]:
    """Records of one mango lot: harvesting, cooling, initial packing, shipping, receiving."""
    d = f"2026-04-{day:02d}"
    base = {"schema_version": "1", "commodity": MANGO}
    packed = f"Mango Nam Dok Mai Si Thong, fresh, 5 kg export carton, lot {lot}"
    return _fresh([
        {
            **base, "event": "harvesting", "date": d, "datetime": f"{d}T06:30:00+07:00",
            "quantity": {"value": kg, "unit": "kg"}, "farm": MANGO_FARM, "harvester": MANGO_HARVESTER,
            "recipient": PACKHOUSE,
            "reference_documents": [{"type": "harvest log", "number": f"HL-{day:02d}04-01"}],
            "gps": {"lat": 13.681203, "lon": 101.203341, "accuracy_m": 8},
        },
        {
            **base, "event": "cooling", "date": d, "quantity": {"value": kg, "unit": "kg"},
            "location": PACKHOUSE, "farm": MANGO_FARM, "recipient": PACKHOUSE,
            "reference_documents": [{"type": "cooling log", "number": f"CL-{day:02d}04-07"}],
            "temperature_log": [{"time": f"{d}T10:00:00+07:00", "celsius": 13.0}],
        },
        {
            **base, "event": "initial_packing", "date": f"2026-04-{day + 1:02d}",
            "received": {"date": d, "quantity": {"value": kg, "unit": "kg"}},
            "cooling": {"date": d, "location": PACKHOUSE},
            "farm": MANGO_FARM, "harvester": MANGO_HARVESTER, "traceability_lot_code": lot,
            "tlc_source": PACKHOUSE, "product_description": packed, "location": PACKHOUSE,
            "quantity": {"value": int(kg // 5), "unit": "case"},
            "reference_documents": [{"type": "production log", "number": f"PK-{lot}"}],
        },
        {
            **base, "event": "shipping", "date": f"2026-04-{day + 2:02d}", "traceability_lot_code": lot,
            "product_description": packed, "quantity": {"value": int(kg // 5), "unit": "case"},
            "ship_from": PACKHOUSE, "ship_to": LA_IMPORTER, "tlc_source": PACKHOUSE,
            "reference_documents": [{"type": "bill of lading", "number": f"BL-LCB-{day:02d}-778"},
                                    {"type": "invoice", "number": f"INV-2026-{day:03d}"}],
        },
        {
            **base, "event": "receiving", "date": f"2026-04-{day + 18:02d}", "traceability_lot_code": lot,
            "product_description": packed, "quantity": {"value": int(kg // 5), "unit": "case"},
            "ship_from": PACKHOUSE, "ship_to": LA_IMPORTER, "tlc_source": PACKHOUSE,
            "reference_documents": [{"type": "bill of lading", "number": f"BL-LCB-{day:02d}-778"}],
        },
    ])  # fmt: skip


RUBBER = {
    "name": "natural rubber",
    "variety": "RRIM 600",
    "scientific_name": "Hevea brasiliensis",
    "hs_code": "400122",
    "gtin": RUBBER_GTIN,
}
SONGKHLA_COOP = {
    "name": "Rattaphum Rubber Cooperative",
    "phone": "+66 74 389 100",
    "address": {"district": "Rattaphum", "province": "Songkhla", "postal_code": "90180", **_TH},
    "gln": "8851234000104",
}
EU_BUYER = {
    "name": "Hanseatic Rubber Trading GmbH",
    "country": "DE",
    "eori": "DE123456789012345",
    "address": {"street": "Am Sandtorkai 50", "city": "Hamburg", "postal_code": "20457", "country": "DE"},
    "gln": HAMBURG_IMPORTER_GLN,
}
HAMBURG = {
    "name": EU_BUYER["name"],
    "phone": "+49 40 5555 0100",
    "address": EU_BUYER["address"],
    "gln": HAMBURG_IMPORTER_GLN,
}

#: a 2.5 ha smallholding (a point is enough) and a 6.9 ha one (needs a polygon)
PLOT_POINT = {"type": "Point", "coordinates": [100.361245, 7.089213]}
PLOT_POLYGON = {
    "type": "Polygon",
    "coordinates": [[
        [100.370012, 7.095001], [100.372301, 7.095001], [100.372301, 7.097443],
        [100.370012, 7.097443], [100.370012, 7.095001],
    ]],
}  # fmt: skip


def rubber_smallholding(name: str, plot_id: str, geometry: dict, area_ha: float, day: int, kg: float) -> dict:
    """Harvesting record of one rubber smallholding with its EUDR plot."""
    farm = {
        "name": name, "phone": "+66 89 765 43" + plot_id[-2:].rjust(2, "0"),
        "address": {"district": "Rattaphum", "province": "Songkhla", **_TH}, "field_name": plot_id,
    }  # fmt: skip
    d = f"2026-05-{day:02d}"
    return _fresh({
        "schema_version": "1", "event": "harvesting", "date": d, "commodity": RUBBER,
        "traceability_lot_code": plot_id,
        "quantity": {"value": kg, "unit": "kg"}, "farm": farm,
        "harvester": {"business_name": name, "phone": farm["phone"]}, "recipient": SONGKHLA_COOP,
        "reference_documents": [{"type": "latex delivery slip", "number": f"LX-{plot_id}-{day:02d}"}],
        "eudr": {
            "country_of_production": "TH", "hs_code": "400122",
            "plots": [{"plot_id": plot_id, "area_ha": area_ha, "geometry": copy.deepcopy(geometry),
                       "producer_name": name}],
            "production_period": {"start": f"2026-05-{max(1, day - 6):02d}", "end": d},
            "deforestation_free": True, "legally_produced": True,
            "supplier": {"name": SONGKHLA_COOP["name"], "country": "TH"}, "buyer": EU_BUYER,
        },
    })  # fmt: skip


@_copied
def rubber_from_trader(day: int, kg: float) -> dict:
    """A lot bought from a middleman with no plot information: origin unknown."""
    return {
        "schema_version": "1", "event": "receiving", "date": f"2026-05-{day:02d}", "commodity": RUBBER,
        "traceability_lot_code": f"TR-{day:02d}-X", "product_description": "Cup lump rubber, mixed origin",
        "quantity": {"value": kg, "unit": "kg"},
        "ship_from": {"name": "Hat Yai Rubber Trader", "phone": "+66 74 000 000",
                      "address": {"city": "Hat Yai", **_TH}},
        "ship_to": SONGKHLA_COOP, "tlc_source_reference": "trader receipt",
        "reference_documents": [{"type": "purchase receipt", "number": f"PR-{day:02d}"}],
    }  # fmt: skip


@_copied
def rubber_merge(lot: str, kg: float, inputs: list[tuple[str, float]], day: int = 12) -> dict:
    """Transformation at the cooperative: inputs processed into STR 20 bales under a new lot code."""
    desc = f"Natural rubber STR 20, 35 kg bales, lot {lot}"
    return {
        "schema_version": "1", "event": "transformation", "date": f"2026-05-{day:02d}", "commodity": RUBBER,
        "inputs": [
            {"traceability_lot_code": tlc, "product_description": "natural rubber field latex / cup lump",
             "quantity": {"value": q, "unit": "kg"}} for tlc, q in inputs
        ],
        "traceability_lot_code": lot, "tlc_source": SONGKHLA_COOP, "location": SONGKHLA_COOP,
        "product_description": desc, "quantity": {"value": kg, "unit": "kg"},
        "reference_documents": [{"type": "production log", "number": f"STR-{lot}"}],
    }  # fmt: skip


@_copied
def rubber_export(lot: str, kg: float, day: int = 15) -> list[dict]:
    desc = f"Natural rubber STR 20, 35 kg bales, lot {lot}"
    common = {
        "schema_version": "1", "commodity": RUBBER, "traceability_lot_code": lot, "product_description": desc,
        "quantity": {"value": kg, "unit": "kg"}, "ship_from": SONGKHLA_COOP, "ship_to": HAMBURG,
        "tlc_source": SONGKHLA_COOP,
    }  # fmt: skip
    return [
        {**common, "event": "shipping", "date": f"2026-05-{day:02d}",
         "reference_documents": [{"type": "bill of lading", "number": f"BL-SGZ-{lot}"}]},
        {**common, "event": "receiving", "date": f"2026-06-{day:02d}",
         "reference_documents": [{"type": "bill of lading", "number": f"BL-SGZ-{lot}"}]},
    ]  # fmt: skip


# --- anchoring records on a pretend chain -------------------------------------------------


def stage_for(record: dict) -> str:
    """The value-chain stage a step with this record is added under."""
    return Stage.for_event(record["event"]).name


def fake_cid(record: Any) -> str:
    """A deterministic CIDv1 (raw, sha2-256) standing in for a bundle CID in pure tests."""
    from tambon.cid import RAW, OnchainCid

    return str(OnchainCid(hashlib.sha256(repr(record).encode()).digest(), RAW))


class PretendChain:
    """Builds BatchTrace objects as the chain would record them (register, steps, split, merge)."""

    def __init__(self, chain_id: int = 31337, contract: str = "0x" + "b7" * 20):
        self.chain_id = chain_id
        self.contract = contract
        self.block = 100
        self.next_id = 1
        self.batches: dict[int, BatchTrace] = {}

    def _ref(
        self, batch_id: int, kind: str, step_index: int | None = None, stage: str | None = None
    ) -> ChainRef:
        self.block += 1
        tx = "0x" + hashlib.sha256(f"{self.block}:{batch_id}:{kind}".encode()).hexdigest()
        return ChainRef(
            batch_id=batch_id, kind=kind, tx_hash=tx, block_number=self.block, log_index=1,
            step_index=step_index, stage=stage, timestamp=1_775_000_000 + self.block * 12,
            actor="0x" + "a1" * 20, chain_id=self.chain_id, contract=self.contract,
        )  # fmt: skip

    def _mint(self, record: dict | None, kind: str, parents: tuple[int, ...] = (), kg: float = 0) -> int:
        batch_id = self.next_id
        self.next_id += 1
        event = TrackingEvent(self._ref(batch_id, kind), fake_cid(record) if record else None, record)
        self.batches[batch_id] = BatchTrace(
            batch_id=batch_id, producer="0x" + "a1" * 20, quantity_grams=int(kg * 1000),
            parents=parents, events=(event,),
        )  # fmt: skip
        return batch_id

    def register(self, record: dict | None, kg: float = 1000) -> int:
        return self._mint(record, "register", kg=kg)

    def add_step(self, batch_id: int, record: dict | None, stage: str | None = None) -> None:
        trace = self.batches[batch_id]
        stage = stage or stage_for(record or {"event": "sale"})
        assert stage in Stage.__members__
        index = sum(1 for e in trace.events if e.ref.kind == "step")
        event = TrackingEvent(
            self._ref(batch_id, "step", index, stage), fake_cid(record) if record else None, record
        )
        self.batches[batch_id] = BatchTrace(**{**_fields(trace), "events": (*trace.events, event)})

    def merge(self, parents: list[int], record: dict, kg: float = 0) -> int:
        return self._mint(record, "merge", tuple(parents), kg)

    def split(self, parent: int, records: list[dict]) -> list[int]:
        return [self._mint(r, "split", (parent,)) for r in records]

    def traces(self) -> Traces:
        return Traces(dict(self.batches))


def _fields(trace: BatchTrace) -> dict:
    return {name: getattr(trace, name) for name in BatchTrace.__slots__}


def mango_chain(
    chain: PretendChain | None = None, lot: str = "TH-MG-260402-A", day: int = 2
) -> tuple[PretendChain, int]:
    """A mango batch registered with its harvest record and walked through every step."""
    chain = chain or PretendChain()
    harvest, *steps = mango_lot(lot, day)
    batch_id = chain.register(harvest, kg=harvest["quantity"]["value"])
    for record in steps:
        chain.add_step(batch_id, record)
    return chain, batch_id


def rubber_chain(chain: PretendChain | None = None, with_unknown: bool = False) -> tuple[PretendChain, int]:
    """Two smallholdings (a 2.5 ha point and a 6.9 ha polygon) merged at the cooperative and shipped
    to Hamburg; `with_unknown` also merges in a trader's lot of unknown origin."""
    chain = chain or PretendChain()
    a = chain.register(
        rubber_smallholding("Somchai Rubber Smallholding", "SK-RP-01", PLOT_POINT, 2.5, 8, 800), 800
    )
    b = chain.register(
        rubber_smallholding("Fatimah Rubber Smallholding", "SK-RP-02", PLOT_POLYGON, 6.9, 9, 1500), 1500
    )
    parents = [a, b]
    inputs = [("SK-RP-01", 800.0), ("SK-RP-02", 1500.0)]
    if with_unknown:
        c = chain.register(rubber_from_trader(10, 700), 700)
        parents.append(c)
        inputs.append(("TR-10-X", 700.0))
    total = sum(q for _, q in inputs)
    lot = "TH-RB-2605-M" if with_unknown else "TH-RB-2605-01"
    merged = chain.merge(parents, rubber_merge(lot, total, inputs), kg=total)
    for record in rubber_export(lot, total):
        chain.add_step(merged, record)
    return chain, merged
