"""record.json schema: the samples validate; every missing KDE and bad value is listed."""

from __future__ import annotations

import copy
import json

import pytest

from compliance import samples
from evidence import bundle
from evidence.errors import BadRequest
from evidence.store import LocalStore
from tambon import records
from tambon.records import RecordInvalid, check_record, missing_fields, validate_record

ALL_SAMPLES = [
    *samples.mango_lot(),
    samples.rubber_smallholding("A", "SK-RP-01", samples.PLOT_POINT, 2.5, 8, 800),
    samples.rubber_smallholding("B", "SK-RP-02", samples.PLOT_POLYGON, 6.9, 9, 1500),
    samples.rubber_from_trader(10, 700),
    samples.rubber_merge("TH-RB-2605-01", 2300, [("SK-RP-01", 800), ("SK-RP-02", 1500)]),
    *samples.rubber_export("TH-RB-2605-01", 2300),
]


def by_event(event: str) -> dict:
    return copy.deepcopy(next(r for r in ALL_SAMPLES if r["event"] == event))


@pytest.mark.parametrize("record", ALL_SAMPLES, ids=lambda r: r["event"])
def test_samples__valid(record):
    assert check_record(record) == []
    assert validate_record(record) is record


def test_schema_registry__lists_current_version_and_file():
    assert records.current_version() == "1"
    assert records.versions() == ["1"]
    assert records.schema_path().name == "record-v1.schema.json"
    schema = json.loads(records.schema_path().read_text())
    assert schema["properties"]["schema_version"]["const"] == "1"


# the KDEs each Critical Tracking Event requires (21 CFR 1.1325-1.1350)
KDES = {
    "harvesting": ["quantity", "farm", "harvester", "recipient", "reference_documents"],
    "cooling": ["quantity", "location", "farm", "recipient", "reference_documents"],
    "initial_packing": ["quantity", "received", "farm", "harvester", "traceability_lot_code", "tlc_source",
                        "product_description", "location", "reference_documents"],
    "shipping": ["quantity", "traceability_lot_code", "product_description", "ship_from", "ship_to",
                 "reference_documents"],
    "receiving": ["quantity", "traceability_lot_code", "product_description", "ship_from", "ship_to",
                  "reference_documents"],
    "transformation": ["quantity", "inputs", "traceability_lot_code", "tlc_source", "product_description",
                       "location", "reference_documents"],
}  # fmt: skip


@pytest.mark.parametrize("event", sorted(KDES))
def test_record__bare_event__lists_every_missing_kde(event):
    bare = {"schema_version": "1", "event": event, "date": "2026-04-02", "commodity": {"name": "mango"}}
    missing = missing_fields(bare)
    for kde in KDES[event]:
        assert kde in missing
    with pytest.raises(RecordInvalid) as info:
        validate_record(bare)
    assert f"record.json ({event}) is invalid: missing required fields: " in str(info.value)
    for kde in KDES[event]:
        assert kde in str(info.value)


@pytest.mark.parametrize("event", sorted(KDES))
def test_record__each_kde_removed__named(event):
    record = by_event(event)
    for kde in KDES[event]:
        broken = {k: v for k, v in record.items() if k != kde}
        assert missing_fields(broken) == [kde], kde


def test_record__nested_kdes__dotted_paths():
    record = by_event("harvesting")
    del record["harvester"]["phone"]
    del record["farm"]["field_name"]
    del record["commodity"]["variety"]
    del record["recipient"]["address"]["country"]
    assert sorted(missing_fields(record)) == sorted(
        ["harvester.phone", "farm.field_name", "commodity.variety", "recipient.address.country"]
    )


def test_record__shipping_needs_tlc_source_or_reference():
    record = by_event("shipping")
    del record["tlc_source"]
    assert missing_fields(record) == ["tlc_source or tlc_source_reference"]
    record["tlc_source_reference"] = "https://example.org/fda-registration/123"
    assert check_record(record) == []


def test_record__location_needs_city_district_or_province():
    record = by_event("cooling")
    record["location"] = {**record["location"], "address": {"country": "TH"}}
    assert missing_fields(record) == [
        "location.address.city or location.address.district or location.address.province"
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: r["commodity"].update(gtin="8851234000013"),
            "commodity.gtin: GTIN 8851234000013 has a wrong check digit",
        ),
        (
            lambda r: r["location"].update(gln="8851234000037"),
            "location.gln: GLN 8851234000037 has a wrong check digit",
        ),
        (lambda r: r.update(date="2026-02-30"), "date: '2026-02-30' is not a 'date'"),
        (lambda r: r.update(datetime="2026-04-02T10:00:00"), "is not a 'date-time'"),
        (lambda r: r.update(event="packing"), "event: 'packing' is not one of"),
        (
            lambda r: r["quantity"].update(value=0),
            "quantity.value: 0 is less than or equal to the minimum of 0",
        ),
        (lambda r: r["quantity"].update(unit="bushel"), "quantity.unit: 'bushel' is not one of"),
        (lambda r: r.update(traceability_lot_code="ล็อต 1"), "traceability_lot_code: 'ล็อต 1' does not match"),
        (lambda r: r["location"].update(phone="call me"), "location.phone: 'call me' does not match"),
    ],
    ids=["gtin", "gln", "date", "datetime", "event", "quantity", "unit", "lot", "phone"],
)
def test_record__bad_values__named(mutate, message):
    record = by_event("initial_packing")
    mutate(record)
    problems = check_record(record)
    assert any(message in p for p in problems), problems


def _plot(geometry, area=2.0):
    record = copy.deepcopy(ALL_SAMPLES[5])
    record["eudr"]["plots"][0]["geometry"] = geometry
    record["eudr"]["plots"][0]["area_ha"] = area
    return record


@pytest.mark.parametrize(
    ("geometry", "area", "message"),
    [
        ({"type": "Point", "coordinates": [100.361245, 97.089213]}, 2, "latitude 97.089213 out of range"),
        ({"type": "Point", "coordinates": [190.361245, 7.089213]}, 2, "longitude 190.361245 out of range"),
        ({"type": "Point", "coordinates": [100.36124, 7.089213]}, 2, "100.36124 has fewer than 6 decimal"),
        ({"type": "Point", "coordinates": [100, 7]}, 2, "longitude 100 has fewer than 6 decimal"),
        ({"type": "Point", "coordinates": [100.361245, 7.089213]}, 4.5, "a plot of 4.5 ha needs a Polygon"),
        ({"type": "LineString", "coordinates": [[100.361245, 7.089213]]}, 2, "GeoJSON type must be one of"),
        ({"type": "Polygon", "coordinates": [[[100.370012, 7.095001], [100.372301, 7.095001],
                                              [100.372301, 7.097443], [100.370012, 7.097443]]]}, 6,
         "ring is not closed"),
        ({"type": "Polygon", "coordinates": [[[100.370012, 7.095001], [100.372301, 7.097443],
                                              [100.372301, 7.095001], [100.370012, 7.097443],
                                              [100.370012, 7.095001]]]}, 6, "not a valid polygon (Self-intersection"),
        ({"type": "Polygon", "coordinates": [[[100.370012, 7.095001], [100.372301, 7.095001],
                                              [100.370012, 7.095001]]]}, 6, "at least 4 positions"),
        ({"type": "Point"}, 2, "geometry: missing coordinates"),
    ],
    ids=["lat-range", "lon-range", "decimals", "integers", "point-over-4ha", "linestring", "open-ring",
         "bowtie", "short-ring", "no-coordinates"],
)  # fmt: skip
def test_record__bad_geolocation__named(geometry, area, message):
    problems = check_record(_plot(geometry, area))
    assert any(message in p for p in problems), problems
    assert all(p.startswith("eudr.plots[0]") for p in problems), problems


def test_record__eudr_commodity_harvest_without_plots__refused():
    record = copy.deepcopy(ALL_SAMPLES[5])
    del record["eudr"]
    assert missing_fields(record) == ["eudr (plot geolocation for an EUDR commodity)"]
    mango = by_event("harvesting")  # mango is not an EUDR commodity: no plots needed
    assert "eudr" not in mango and check_record(mango) == []


def test_record__production_period_reversed__refused():
    record = copy.deepcopy(ALL_SAMPLES[5])
    record["eudr"]["production_period"] = {"start": "2026-05-09", "end": "2026-05-01"}
    assert check_record(record) == ["eudr.production_period: start is after end"]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (["not", "an", "object"], "record.json must be a JSON object"),
        ({"event": "harvesting"}, "missing required fields: schema_version"),
        ({"schema_version": "9", "event": "harvesting"}, "unknown schema_version '9'; known: 1"),
        ({"schema_version": 1, "event": "harvesting"}, "unknown schema_version 1"),
    ],
)
def test_record__no_or_unknown_version__refused(record, message):
    with pytest.raises(RecordInvalid, match=message):
        validate_record(record)


def test_read_record__older_version_validated_by_its_own_schema_then_upgraded(tmp_path, monkeypatch):
    """Keeps older versions readable: a record of version "0" validates against schema v0 and is
    upgraded by its registered upgrader to the current shape."""
    v0 = {
        "type": "object",
        "required": ["schema_version", "lot"],
        "properties": {"schema_version": {"const": "0"}},
    }
    (tmp_path / "record-v0.schema.json").write_text(json.dumps(v0))
    current = json.loads((records.SCHEMA_DIR / "index.json").read_text())
    current["versions"]["0"] = {"schema": "record-v0.schema.json", "status": "superseded"}
    (tmp_path / "index.json").write_text(json.dumps(current))
    (tmp_path / "record-v1.schema.json").write_text(
        (records.SCHEMA_DIR / "record-v1.schema.json").read_text()
    )
    monkeypatch.setattr(records, "SCHEMA_DIR", tmp_path)
    for fn in (records.registry, records.load_schema, records._validator):
        fn.cache_clear()
    shipping = by_event("shipping")

    def upgrade(old):
        return {**shipping, "traceability_lot_code": old["lot"]}

    monkeypatch.setitem(records.UPGRADERS, "0", upgrade)
    try:
        with pytest.raises(RecordInvalid, match="missing required fields: lot"):
            records.read_record({"schema_version": "0"})
        upgraded = records.read_record({"schema_version": "0", "lot": "OLD-7"})
        assert upgraded["schema_version"] == "1" and upgraded["traceability_lot_code"] == "OLD-7"
        assert records.read_record(shipping) == shipping
    finally:
        for fn in (records.registry, records.load_schema, records._validator):
            fn.cache_clear()


def test_bundle__kde_validator__refuses_before_storing(tmp_path):
    store = LocalStore(tmp_path / "s")
    record = by_event("harvesting")
    del record["harvester"]
    with pytest.raises(BadRequest, match="missing required fields: harvester"):
        bundle.build_bundle(store, record, {"a.jpg": b"\xff\xd8\xff photo"}, validate=bundle.require_kdes)
    assert store.pins() == []
    ok = bundle.build_bundle(
        store, by_event("harvesting"), {"a.jpg": b"\xff\xd8\xff"}, validate=bundle.require_kdes
    )
    assert bundle.read_record(store, ok.cid, validate=bundle.require_kdes) == by_event("harvesting")


def _mango_packing() -> dict:
    return samples.mango_lot()[2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["commodity"].update(gtin="00000000000000"), "GTIN of all zeros"),
        (lambda r: r.update(date="2099-04-03"), "2099-04-03 is in the future"),
        (
            lambda r: r["received"].update(date="2026-04-09"),
            "received.date: 2026-04-09 is after the initial_packing date",
        ),
        (lambda r: r.update(datetime="2026-04-05T08:00:00+07:00"), "is not on the record's date 2026-04-03"),
        (lambda r: r.update(tlc_source_reference="   "), "tlc_source_reference: is blank"),
        (
            lambda r: r["location"]["address"].update(country="UK"),
            "'UK' is not an ISO 3166-1 alpha-2 country code",
        ),
    ],
    ids=["zero-gtin", "future", "received-after-packing", "datetime-other-day", "blank", "country"],
)
def test_record__values_a_schema_cannot_judge__refused(change, message):
    record = _mango_packing()
    assert check_record(record) == []
    change(record)
    assert any(message in p for p in check_record(record)), check_record(record)


def test_record__declared_area_must_match_its_polygon():
    record = samples.rubber_smallholding("F", "SK-RP-02", samples.PLOT_POLYGON, 0.5, 9, 1500)
    problems = check_record(record)
    assert any("declared area 0.5 ha differs from its polygon's 6.83 ha" in p for p in problems), problems


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_loads__nan_and_infinity_refused(constant):
    with pytest.raises(RecordInvalid, match="not a number a record may hold"):
        records.loads('{"quantity": {"value": ' + constant + ', "unit": "kg"}}')


# --- date order across a lot's records (harvesting <= cooling <= initial packing <= shipping <= receiving)

LOT_ORDER = ["harvesting", "cooling", "initial_packing", "shipping", "receiving"]
PAIRS = [(a, b) for i, a in enumerate(LOT_ORDER) for b in LOT_ORDER[i + 1 :]]


def _mango(event: str, day: str) -> dict:
    record = copy.deepcopy(next(r for r in samples.mango_lot() if r["event"] == event))
    record["date"] = day
    record.pop("datetime", None)
    return record


@pytest.mark.parametrize(("first", "then"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_order__later_event_dated_before_an_earlier_one__both_dates_named(first, then):
    earlier, later = _mango(first, "2026-04-10"), _mango(then, "2026-04-09")
    problems = records.order_problems([earlier], later)
    assert problems == [
        f"date: the {then} on 2026-04-09 is before the lot's {first} on 2026-04-10 "
        f"(a lot's dates run {records.ORDER_RULE})"
    ]
    # recorded the other way round (the earlier event added last), the same pair is refused; a
    # shipping added after a receiving is the lot's next hop, which may well be dated after it
    reversed_order = records.order_problems([later], earlier)
    assert reversed_order == ([] if (first, then) == ("shipping", "receiving") else [
        f"date: the {first} on 2026-04-10 is after the lot's {then} on 2026-04-09 "
        f"(a lot's dates run {records.ORDER_RULE})"
    ])  # fmt: skip
    assert records.order_problems([_mango(first, "2026-04-09")], later) == []  # same day is in order


def test_order__a_whole_lot_in_order_and_the_next_hop():
    lot = samples.mango_lot()
    assert records.sequence_problems(lot) == [[]] * len(lot)
    onward = {**lot[3], "date": "2026-04-21"}  # the importer ships on after receiving on 20 April
    assert records.order_problems(lot, onward) == []
    too_soon = {**lot[3], "date": "2026-04-19"}
    assert records.order_problems(lot, too_soon) == [
        "date: the shipping on 2026-04-19 is before the lot's receiving on 2026-04-20 "
        "(a lot ships on after it is received)"
    ]


def test_order__transformation_after_its_inputs():
    merge = samples.rubber_merge("TH-RB-2605-01", 2300, [("SK-RP-01", 800), ("SK-RP-02", 1500)], day=12)
    a = samples.rubber_smallholding("A", "SK-RP-01", samples.PLOT_POINT, 2.5, 8, 800)
    b = samples.rubber_smallholding("B", "SK-RP-02", samples.PLOT_POLYGON, 6.9, 9, 1500)
    assert records.order_problems([], merge, [("SK-RP-01", a), ("SK-RP-02", b)]) == []
    late = {**b, "date": "2026-05-13"}
    assert records.order_problems([], merge, [("SK-RP-01", a), ("SK-RP-02", late)]) == [
        "date: the transformation on 2026-05-12 is before the harvesting of its input lot SK-RP-02 on "
        "2026-05-13 (a food is transformed after its inputs)"
    ]
    shipped_before = {**samples.rubber_export("TH-RB-2605-01", 2300)[0], "date": "2026-05-11"}
    assert records.order_problems([merge], shipped_before) == [
        f"date: the shipping on 2026-05-11 is before the lot's transformation on 2026-05-12 "
        f"(a lot's dates run {records.ORDER_RULE})"
    ]


def test_order__records_without_a_cte_date_are_not_compared():
    cultivation = {"schema_version": "1", "event": "cultivation", "date": "2026-05-30"}
    assert (
        records.order_problems([cultivation, {"event": "harvesting"}], _mango("cooling", "2026-04-01")) == []
    )
    assert records.order_problems([_mango("harvesting", "2026-04-02")], cultivation) == []
