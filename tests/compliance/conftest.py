"""Compliance fixtures on the real chain: the sample mango lot (US) and rubber lots (EU) registered on
the session's deployment with their evidence bundles in a live evidence node."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from compliance import samples
from evidence.bundle import build_bundle, require_kdes
from evidence.store import LocalStore
from tambon.cid import OnchainCid
from tambon.provenance import Stage, encode_transport
from tests.frontend.world import evidence_node, png

MANGO_CROP = 201
RUBBER_CROP = 401
MANGO_LOT = "TH-MG-260402-A"


@dataclass
class Lots:
    store: LocalStore
    gateway_url: str
    mango: int = 0
    rubber: int = 0  # compliant merge of two smallholdings
    mixed: int = 0  # merge with a trader's lot of unknown origin
    trader: int = 0
    open_mango: int = 0  # held by the packing house, no steps yet: the lot a capture can extend
    cids: dict[str, str] = field(default_factory=dict)


def _bundle(store: LocalStore, record: dict, colour=(200, 160, 40)) -> OnchainCid:
    return build_bundle(store, record, {"photo.png": png(32, 24, colour)}, validate=require_kdes).onchain


def _metadata(store: LocalStore, name: str, bundle: OnchainCid) -> OnchainCid:
    doc = {"name": name, "description": name, "properties": {"evidence": f"ipfs://{bundle}"}}
    return OnchainCid.parse(store.add_bytes(json.dumps(doc, ensure_ascii=False).encode(), "metadata.json"))


@pytest.fixture(scope="session")
def compliance_node(tmp_path_factory):
    store, server = evidence_node(tmp_path_factory.mktemp("compliance-store"))
    yield store, server
    server.stop()


@pytest.fixture(scope="session")
def lots(project, accounts, deployment, compliance_node) -> Lots:
    store, server = compliance_node
    provenance = project.batch_provenance.at(deployment.contracts["BatchProvenance"])
    farmer, packer = accounts[6], accounts[7]
    out = Lots(store, server.url)

    # mango: registered with ERC-721 metadata linking the harvest bundle, then four steps
    harvest, *steps = samples.mango_lot(MANGO_LOT, 2)
    h = _bundle(store, harvest)
    meta = _metadata(store, "Mango lot TH-MG-260402-A", h)
    out.mango = provenance.register(
        meta.digest, meta.codec, MANGO_CROP, 1_200_000, 20_545, sender=farmer
    ).return_value
    out.cids["mango-register"] = str(meta)
    out.cids["mango-harvesting"] = str(h)
    provenance.transferFrom(farmer, packer, out.mango, sender=farmer)
    for record in steps:
        b = _bundle(store, record)
        out.cids[f"mango-{record['event']}"] = str(b)
        data = 0
        if samples.stage_for(record) == "TRANSPORT":
            data = encode_transport(3.0, 6.5)
        provenance.addStep(
            out.mango, Stage[samples.stage_for(record)], b.digest, b.codec, data, sender=packer
        )

    def smallholding(name: str, plot: str, geometry: dict, area: float, day: int, kg: float) -> int:
        b = _bundle(store, samples.rubber_smallholding(name, plot, geometry, area, day, kg), (30, 30, 30))
        return provenance.register(
            b.digest, b.codec, RUBBER_CROP, int(kg * 1000), 20_580, sender=packer
        ).return_value

    def merged(parents: list[int], lot: str, inputs: list[tuple[str, float]]) -> int:
        total = sum(q for _, q in inputs)
        b = _bundle(store, samples.rubber_merge(lot, total, inputs))
        child = provenance.merge(sorted(parents), b.digest, b.codec, sender=packer).return_value
        for record in samples.rubber_export(lot, total):
            s = _bundle(store, record)
            provenance.addStep(child, Stage[samples.stage_for(record)], s.digest, s.codec, 0, sender=packer)
        return child

    a = smallholding("Somchai Rubber Smallholding", "SK-RP-01", samples.PLOT_POINT, 2.5, 8, 800)
    b = smallholding("Fatimah Rubber Smallholding", "SK-RP-02", samples.PLOT_POLYGON, 6.9, 9, 1500)
    out.rubber = merged([a, b], "TH-RB-2605-01", [("SK-RP-01", 800), ("SK-RP-02", 1500)])
    c = smallholding("Somchai Rubber Smallholding", "SK-RP-01", samples.PLOT_POINT, 2.5, 10, 600)
    t = _bundle(store, samples.rubber_from_trader(10, 700))
    out.trader = provenance.register(
        t.digest, t.codec, RUBBER_CROP, 700_000, 20_582, sender=packer
    ).return_value
    out.mixed = merged([c, out.trader], "TH-RB-2605-M", [("SK-RP-01", 600), ("TR-10-X", 700)])
    out.open_mango = provenance.register(
        meta.digest, meta.codec, MANGO_CROP, 10_000, 20_545, sender=packer
    ).return_value
    return out
