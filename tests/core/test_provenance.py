"""The value-chain stages and step codecs every consumer derives from (tambon.provenance)."""

import pytest

from tambon.provenance import (
    FIELD_CAPTURE_EVENTS,
    Stage,
    StageError,
    decode_transport,
    encode_transport,
    event_label,
    lineage,
    lineage_origins,
    lineage_roots,
    stage_name,
)


def test_stage__numbers_are_the_contracts_and_in_table3_order():
    assert [s.name for s in Stage] == ["CULTIVATION", "HARVEST", "PROCESSING", "TRANSPORT", "MARKETING"]
    assert [int(s) for s in Stage] == [0, 1, 2, 3, 4]


def test_stage__every_stage_has_a_label_and_capture_events():
    for stage in Stage:
        assert stage.label and stage.events


@pytest.mark.parametrize(
    ("value", "stage"), [("harvest", Stage.HARVEST), (" TRANSPORT ", Stage.TRANSPORT), (4, Stage.MARKETING)]
)
def test_stage_parse__names_and_numbers(value, stage):
    assert Stage.parse(value) is stage


@pytest.mark.parametrize("value", ["ripening", "", 5, -1, True, None])
def test_stage_parse__unknown__clear_error(value):
    with pytest.raises(StageError, match="stage"):
        Stage.parse(value)


def test_stage_for_event__record_events_map_to_stages():
    assert Stage.for_event("cooling") is Stage.HARVEST
    assert Stage.for_event("receiving") is Stage.MARKETING
    with pytest.raises(StageError, match="record event must be one of"):
        Stage.for_event("teleport")


def test_stage_name__unknown_number_is_shown_not_hidden():
    assert stage_name(2) == "PROCESSING"
    assert stage_name(9) == "STAGE_9"


def test_transport__signed_centidegrees_round_trip():
    data = ((-150) & 0xFFFF) | (640 << 16)
    assert decode_transport(data) == (-1.5, 6.4)
    assert encode_transport(-1.5, 6.4) == data
    assert decode_transport(encode_transport(-327.68, 327.67)) == (-327.68, 327.67)


@pytest.mark.parametrize(("low", "high"), [(5, 4), (-400, 0), (0, 400)])
def test_transport__out_of_range_or_reversed__refused(low, high):
    with pytest.raises(StageError, match="transport temperatures"):
        encode_transport(low, high)


def test_lineage__breadth_first_unique_and_bounded():
    parents = {5: [3, 4], 3: [1], 4: [1, 2], 1: [], 2: []}
    assert lineage(5, parents.__getitem__) == [5, 3, 4, 1, 2]
    assert lineage(5, parents.__getitem__, limit=3) == [5, 3, 4]
    assert lineage(1, parents.__getitem__) == [1]
    assert lineage_roots(5, parents.__getitem__) == [1, 2]
    assert lineage_roots(1, parents.__getitem__) == [1]


def test_lineage_origins__a_merged_lot_names_every_producer_once():
    # lot 5 merges lot 3 (from lot 1, enterprise A) and lot 4 (from lots 1 and 2, grower B)
    parents = {5: [3, 4], 3: [1], 4: [1, 2], 1: [], 2: []}
    registered_by = {1: "0xA", 2: "0xB", 3: "0xA", 4: "0xA", 5: "0xA"}
    roots = lineage_roots(5, parents.__getitem__)
    assert lineage_origins(roots, registered_by) == ["0xA", "0xB"]
    assert lineage_origins([1], registered_by) == ["0xA"]
    assert lineage_origins([9], registered_by) == []  # no registration seen (outside the read range)


def test_field_capture_events__each_is_a_record_event_of_its_stage():
    assert [Stage.for_event(e) for e in FIELD_CAPTURE_EVENTS] == [
        Stage.HARVEST,
        Stage.CULTIVATION,
        Stage.TRANSPORT,
    ]
    assert all(e in Stage.for_event(e).events for e in FIELD_CAPTURE_EVENTS)
    assert [event_label(e) for e in ("harvesting", "initial_packing")] == ["Harvesting", "Initial packing"]
