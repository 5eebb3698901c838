"""EPCIS 2.0 documents checked by GS1's own artefacts: the EPCIS JSON Schema, the CBV 2.0 ontology's
term lists and the reference event-hash generator (`epcis-event-hash-generator`), on every event
of the sample journeys (mango to Los Angeles, rubber merges to Hamburg, a split into boxes)."""

from __future__ import annotations

import copy
import json
import re

import pytest
from jsonschema import Draft7Validator

from compliance import epcis, samples
from compliance.event_hash import event_hash
from tests.compliance.references import REFERENCES, load_json


def _documents() -> dict[str, dict]:
    mango, m = samples.mango_chain()
    rubber, r = samples.rubber_chain()
    mixed, x = samples.rubber_chain(with_unknown=True)
    boxes, lot = samples.mango_chain(lot="TH-MG-260410-B", day=10)
    box_record = {**samples.mango_lot("TH-MG-260410-B", 10)[3], "quantity": {"value": 5.0, "unit": "kg"}}
    first, second = boxes.split(lot, [box_record, copy.deepcopy(box_record)])
    for box in (first, second):  # the contract records each box's mass
        trace = boxes.batches[box]
        boxes.batches[box] = type(trace)(
            **{**{k: getattr(trace, k) for k in trace.__slots__}, "quantity_grams": 5000}
        )
    return {
        "mango": epcis.epcis_document(mango.traces(), m),
        "rubber": epcis.epcis_document(rubber.traces(), r),
        "mixed": epcis.epcis_document(mixed.traces(), x),
        "box": epcis.epcis_document(boxes.traces(), second),
    }


DOCUMENTS = _documents()
EVENTS = [(name, e) for name, doc in DOCUMENTS.items() for e in doc["epcisBody"]["eventList"]]


def _schema_validator() -> Draft7Validator:
    from referencing import Registry, Resource

    main = load_json("gs1-epcis", "EPCIS-JSON-Schema.json")
    definitions = load_json("gs1-epcis", "definitions-JSON-Schema.json")
    registry = Registry().with_resources(
        [(uri, Resource.from_contents(definitions)) for uri in
         (definitions.get("$id", "definitions-JSON-Schema.json"), "definitions-JSON-Schema.json")]
    )  # fmt: skip
    return Draft7Validator(main, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_epcis__valid_against_gs1_json_schema(name):
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}"
        for e in _schema_validator().iter_errors(DOCUMENTS[name])
    ]
    assert errors == []


def _cbv_terms(kind: str) -> set[str]:
    text = (REFERENCES / "gs1-epcis" / "CBV.ttl").read_text(encoding="utf-8")
    return set(re.findall(rf"^cbv:{kind}-([A-Za-z_]+)\b", text, flags=re.M))


def test_epcis__every_vocabulary_value_is_a_cbv_2_term():
    steps, dispositions = _cbv_terms("BizStep"), _cbv_terms("Disp")
    transactions, parties = _cbv_terms("BTT"), _cbv_terms("SDT")
    assert "commissioning" in steps and "harvesting" not in steps  # the ontology was read
    for _, e in EVENTS:
        assert e["bizStep"] in steps and e["disposition"] in dispositions
        for t in e.get("bizTransactionList", []):
            assert t["type"] in transactions or t["type"].startswith("urn:tambon:btt:")
        for s in e.get("sourceList", []) + e.get("destinationList", []):
            assert s["type"] in parties


@pytest.fixture(scope="module")
def oracle():
    """GS1's reference hash generator, reading the EPCIS context from ../shared/references."""
    from epcis_event_hash_generator import hash_generator, json_to_py
    from pyld import jsonld

    context = load_json("gs1-epcis", "epcis-context.jsonld")

    def loader(url, options=None):
        assert url == epcis.EPCIS_CONTEXT[0], url  # nothing is fetched from the network
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": context,
        }

    jsonld.set_document_loader(loader)

    def hashes(document: dict) -> list[str]:
        events = json_to_py.event_list_from_epcis_document_str(json.dumps(document))
        return hash_generator.epcis_hashes_from_events(events)

    return hashes


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_epcis__event_ids_are_cbv_2_event_hashes(oracle, name):
    document = DOCUMENTS[name]
    ours = [e["eventID"] for e in document["epcisBody"]["eventList"]]
    assert ours == oracle(document)
    assert all(re.fullmatch(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0", h) for h in ours)
    # the transaction hash is kept, as an extension field, and is not the event id
    assert all(
        e["tambon:transaction"].removeprefix("0x") not in e["eventID"]
        for e in document["epcisBody"]["eventList"]
    )


def test_event_hash__changes_with_content_not_with_key_order():
    event = dict(DOCUMENTS["mango"]["epcisBody"]["eventList"][3])
    reordered = dict(reversed(list(event.items())))
    assert event_hash(reordered) == event_hash(event)
    assert event_hash({**event, "bizStep": "receiving"}) != event_hash(event)


def test_epcis__mango_steps_places_time_zones_and_lot_master_data():
    events = DOCUMENTS["mango"]["epcisBody"]["eventList"]
    assert [(e["bizStep"], e["disposition"]) for e in events] == [
        ("commissioning", "active"), ("storing", "in_progress"), ("packing", "in_progress"),
        ("shipping", "in_transit"), ("receiving", "in_progress"),
    ]  # fmt: skip
    lot_class = "https://id.gs1.org/01/08851234000012/10/TH-MG-260402-A"
    assert {q["epcClass"] for e in events for q in e["quantityList"]} == {lot_class}
    packing = events[2]
    assert packing["action"] == "ADD" and packing["ilmd"]["cbvmda:lotNumber"] == "TH-MG-260402-A"
    assert packing["ilmd"]["cbvmda:harvestStartDate"] == "2026-04-02"
    assert packing["bizLocation"] == {"id": "https://id.gs1.org/414/8851234000036"}
    receiving = events[4]
    assert receiving["eventTimeZoneOffset"] == "-07:00"  # a receipt in Los Angeles (PDT)
    assert receiving["eventTime"].endswith("-07:00") and events[0]["eventTimeZoneOffset"] == "+07:00"
    assert receiving["readPoint"] == {"id": "https://id.gs1.org/414/0614141000012"}
    assert {"type": "owning_party", "destination": "https://id.gs1.org/417/0614141000012"} in receiving[
        "destinationList"
    ]
    shipping = events[3]
    assert {t["type"] for t in shipping["bizTransactionList"]} == {"bol", "inv"}
    assert {"type": "possessing_party", "source": "https://id.gs1.org/417/8851234000036"} in shipping[
        "sourceList"
    ]
    farm = events[0]["bizLocation"]["id"]  # the farm has no GLN: the documented fallback URN
    assert re.fullmatch(r"urn:tambon:location:th:[0-9a-f]{16}", farm)


def _sum(items: list[dict]) -> float:
    return round(sum(q["quantity"] for q in items), 6)


def test_epcis__quantities_add_up_through_merge_and_split():
    merge = next(
        e for e in DOCUMENTS["rubber"]["epcisBody"]["eventList"] if e["type"] == "TransformationEvent"
    )
    assert [q["epcClass"].rsplit("/", 1)[1] for q in merge["inputQuantityList"]] == ["SK-RP-01", "SK-RP-02"]
    assert _sum(merge["inputQuantityList"]) == _sum(merge["outputQuantityList"]) == 2300
    split = next(e for e in DOCUMENTS["box"]["epcisBody"]["eventList"] if e["type"] == "TransformationEvent")
    assert split["bizStep"] == "repackaging"
    assert _sum(split["inputQuantityList"]) == _sum(split["outputQuantityList"]) == 5  # not 1,200 kg -> 5 kg
    assert split["outputEPCList"][0].endswith("/21/" + str(split["tambon:batchId"]))


def test_epcis__merge_dated_before_an_input__says_so_on_the_event():
    chain = samples.PretendChain()
    a = chain.register(samples.rubber_smallholding("A", "SK-RP-01", samples.PLOT_POINT, 2.5, 8, 800), 800)
    b = chain.register(
        samples.rubber_smallholding("B", "SK-RP-02", samples.PLOT_POLYGON, 6.9, 14, 1500), 1500
    )
    merged = chain.merge(
        [a, b], samples.rubber_merge("TH-RB-2605-01", 2300, [("SK-RP-01", 800), ("SK-RP-02", 1500)])
    )
    events = epcis.epcis_document(chain.traces(), merged)["epcisBody"]["eventList"]
    flagged = [e for e in events if "tambon:dateOrder" in e]
    assert [e["type"] for e in flagged] == ["TransformationEvent"]
    assert flagged[0]["tambon:dateOrder"] == (
        "date: the transformation on 2026-05-12 is before the harvesting of its input lot SK-RP-02 on "
        "2026-05-14 (a food is transformed after its inputs)"
    )


def test_stage_step__an_unreadable_steps_stage_is_reported_by_its_first_event_observed():
    from tambon.provenance import Stage

    assert epcis.stage_step(Stage.HARVEST) == ("OBSERVE", "commissioning", "active")
    assert epcis.stage_step(Stage.MARKETING) == ("OBSERVE", "receiving", "in_progress")
    for stage in Stage:
        action, step, disposition = epcis.stage_step(stage)
        assert action == "OBSERVE"  # the token exists already: never an ADD
        assert (step, disposition) == epcis.EVENT_STEPS[stage.events[0]][1:]
