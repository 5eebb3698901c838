"""EUDR due-diligence data: plots as GeoJSON, origin through merges, flags."""

from __future__ import annotations

import copy
import json

import pytest

from compliance import eudr, samples
from compliance.errors import NotFound
from tambon import geo


def test_rubber_merge__compliant_statement():
    chain, merged = samples.rubber_chain()
    dds = eudr.eudr_statement(chain.traces(), merged, resolver="https://x")
    assert dds["compliant"] is True and dds["flags"] == []
    assert dds["eudr_relevant"] is True
    assert dds["activity_type"] == "IMPORT"
    assert dds["operator"]["name"] == "Hanseatic Rubber Trading GmbH" and dds["operator"]["eori"]
    assert dds["supplier"]["country"] == "TH"
    commodity = dds["commodities"][0]
    assert (commodity["hs_code"], commodity["net_mass_kg"], commodity["countries_of_production"]) == (
        "400122",
        2300.0,
        ["TH"],
    )
    assert commodity["scientific_name"] == "Hevea brasiliensis"
    assert dds["production_period"] == {"start": "2026-05-02", "end": "2026-05-09"}
    features = dds["geolocation"]["features"]
    assert [f["geometry"]["type"] for f in features] == ["Point", "Polygon"]
    point, polygon = (f["properties"] for f in features)
    assert (
        point["Area"] == 2.5 and point["ProducerCountry"] == "TH" and point["ProductionPlace"] == "SK-RP-01"
    )
    assert polygon["Area"] == pytest.approx(geo.area_ha(samples.PLOT_POLYGON), abs=1e-3)
    assert polygon["Area"] > 4  # above 4 ha the plot is a polygon
    assert {o["status"] for o in dds["origins"]} == {"known"}
    assert dds["batch"] == {
        "batch_id": merged,
        "traceability_lot_code": "TH-RB-2605-01",
        "gtin": "0" + samples.RUBBER_GTIN,
        "digital_link": f"https://x/01/08851234000029/10/TH-RB-2605-01/21/{merged}",
    }
    # every event of the lineage is cited with its transaction and CID
    assert len(dds["evidence"]) == 5 and all(e["tx_hash"].startswith("0x") for e in dds["evidence"])
    json.dumps(dds)  # plain JSON


def test_merge_with_unknown_origin__flagged_not_compliant():
    chain, merged = samples.rubber_chain(with_unknown=True)
    traces = chain.traces()
    dds = eudr.eudr_statement(traces, merged)
    assert dds["compliant"] is False
    [flag] = [f for f in dds["flags"] if f["severity"] == "error"]
    trader = next(t.batch_id for t in traces if t.events[0].record["event"] == "receiving" and not t.parents)
    merge_tx = traces[merged].events[0].ref.tx_hash
    assert flag["code"] == "unknown_origin" and flag["batch_id"] == trader
    assert f"batch {trader} has no plot geolocation" in flag["message"]
    assert f"merged into batch {merged} (tx {merge_tx})" in flag["message"]
    assert flag["path"] == [merged, trader]
    assert [o["status"] for o in dds["origins"]] == ["known", "known", "unknown"]
    # the known plots are still listed for the operator's risk assessment
    assert len(dds["geolocation"]["features"]) == 2


def test_unknown_origin_two_merges_deep__path_names_the_merge():
    chain, merged = samples.rubber_chain(with_unknown=True)
    other, _ = samples.rubber_chain(chain)
    top = chain.merge([merged, other], samples.rubber_merge("TH-RB-TOP", 4600, [("a", 2300), ("b", 2300)]))
    dds = eudr.eudr_statement(chain.traces(), top)
    [flag] = [f for f in dds["flags"] if f["code"] == "unknown_origin"]
    assert flag["path"][0] == top and flag["path"][1] == merged
    assert f"merged into batch {merged}" in flag["message"]


def test_registered_batch_without_plots__unknown_origin():
    chain = samples.PretendChain()
    lone = chain.register(samples.rubber_from_trader(3, 100), 100)
    dds = eudr.eudr_statement(chain.traces(), lone)
    assert dds["compliant"] is False
    assert "was registered" in dds["flags"][0]["message"]


def test_missing_parent_and_declarations__flagged():
    chain, merged = samples.rubber_chain()
    traces = chain.traces()
    first = traces[merged].parents[0]
    record = copy.deepcopy(traces[first].events[0].record)
    record["eudr"]["deforestation_free"] = False
    del record["eudr"]["legally_produced"]
    from dataclasses import replace

    traces.batches[first] = replace(traces[first], events=(replace(traces[first].events[0], record=record),))
    del traces.batches[traces[merged].parents[1]]
    codes = {f["code"]: f for f in eudr.eudr_statement(traces, merged)["flags"]}
    assert set(codes) == {"not_deforestation_free", "not_legally_produced", "missing_parent"}
    assert "(declared false)" in codes["not_deforestation_free"]["message"]


def test_invalid_geometry_in_chain_data__flagged():
    chain = samples.PretendChain()
    record = samples.rubber_smallholding(
        "X", "SK-1", {"type": "Point", "coordinates": [100.5, 7.1]}, 2, 8, 10
    )
    batch = chain.register(record, 10)
    dds = eudr.eudr_statement(chain.traces(), batch)
    assert [f["code"] for f in dds["flags"]] == ["invalid_geolocation"]
    assert "fewer than 6 decimal places" in dds["flags"][0]["message"]
    assert dds["geolocation"]["features"] == []


def test_mango__not_in_scope():
    chain, batch = samples.mango_chain()
    dds = eudr.eudr_statement(chain.traces(), batch)
    assert dds["eudr_relevant"] is False and dds["compliant"] is False
    assert dds["flags"][0]["code"] == "not_in_scope"


def test_unknown_batch__not_found():
    chain, _ = samples.mango_chain()
    with pytest.raises(NotFound, match="batch 99 is not known"):
        eudr.eudr_statement(chain.traces(), 99)
