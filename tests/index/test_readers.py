"""Readers moved onto the index: exports, the resolver's lot lookup, the grants dashboard and the oracle's
scans answer as the node does (the sample mango and rubber lots, their records in a live evidence node)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from compliance import fsma, samples
from compliance.model import lot_identity
from compliance.source import index_traces, read_traces
from evidence.bundle import record_fetcher
from frontend.services.chain import Head
from frontend.services.gs1 import gtin_for_crop
from frontend.services.lots import LotDirectory
from tambon.chain import Chain, Deployment
from tambon.events import JsonRpc
from tambon.index.cli import caught_up_reader, evidence_records
from tambon.index.follower import Follower
from tambon.index.reader import IndexReader
from tambon.index.store import IndexStore
from tambon.lots import LotIndex
from tests.compliance.conftest import MANGO_CROP, MANGO_LOT, compliance_node, lots  # noqa: F401
from tests.index.helpers import catch_up

PREFIX = "8850000"
LINKSET = {"Accept": "application/linkset+json"}


@pytest.fixture
def indexed(index_settings, lots):  # noqa: F811
    store = IndexStore.open(index_settings)
    store.migrate()
    follower = Follower(
        store,
        JsonRpc(index_settings.rpc_url),
        Deployment.load(index_settings.deployment_file),
        records=evidence_records(lots.store),
    )
    catch_up(follower)
    yield IndexReader(store)
    store.close()


def _node_traces(settings, lots):  # noqa: F811
    return read_traces(Chain(settings), record_fetcher(lots.store))


def test_exports__index_traces_equal_the_node_scan(index_settings, lots, indexed):  # noqa: F811
    chain = Chain(index_settings)
    fetch = record_fetcher(lots.store)
    contract = chain.contract("BatchProvenance").address
    node = _node_traces(index_settings, lots)
    index = index_traces(indexed, fetch, chain_id=chain.chain_id, contract=contract)
    assert list(index) == list(node) and len(list(node)) >= 6
    lot_rows = fsma.fsma_rows(node, lot=MANGO_LOT)
    assert lot_rows
    # the lot export reads only the lot's batches and their lineage, and gives the same rows
    ids = {b for b in indexed.batches_with_lot(MANGO_LOT)}
    assert ids == {lots.mango}
    only = index_traces(indexed, fetch, chain_id=chain.chain_id, contract=contract, batch_ids=sorted(ids))
    assert fsma.fsma_rows(only, lot=MANGO_LOT) == lot_rows
    rubber = fsma.fsma_rows(node, lot="TH-RB-2605-01")
    parents = sorted({lots.rubber, *indexed.parents(lots.rubber)})
    rubber_only = index_traces(indexed, fetch, chain_id=chain.chain_id, contract=contract, batch_ids=parents)
    assert fsma.fsma_rows(rubber_only, lot="TH-RB-2605-01") == rubber


def test_export_command__reads_a_started_index_and_brings_it_to_the_head(index_settings, lots, indexed):  # noqa: F811
    cursor = indexed.cursor()
    assert cursor is not None
    reader = caught_up_reader(index_settings)
    assert reader is not None and reader.cursor().block_number >= cursor.block_number
    reader.store.close()
    empty = index_settings.model_copy(update={"index_url": None})
    assert caught_up_reader(empty) is None  # no index started in the data dir: the node is read


def test_lots_table__every_identity_as_the_records_give_it(index_settings, lots, indexed):  # noqa: F811
    node = _node_traces(index_settings, lots)
    identities = [
        i for t in node if (i := lot_identity(node, t.batch_id, gtin_for_crop(t.crop, PREFIX))) is not None
    ]
    by_records = LotIndex.of(identities)
    at = indexed.head()
    by_index = LotDirectory(indexed, PREFIX).at(Head(at.number, at.hash, at.timestamp), at.lots_block)
    lotted = [i for i in identities if i.lot]
    assert {i.lot for i in lotted} >= {MANGO_LOT, "TH-RB-2605-01", "TH-RB-2605-M"}
    for ident in lotted:
        assert by_index.batches(ident.gtin, ident.lot) == by_records.batches(ident.gtin, ident.lot), ident
        assert by_index.knows_gtin(ident.gtin)
        assert sorted(by_index.lots_of(ident.gtin)) == sorted(by_records.lots_of(ident.gtin))
    for trace in node:  # every batch's current identity, as the pages and labels print it
        expected = lot_identity(node, trace.batch_id, gtin_for_crop(trace.crop, PREFIX))
        assert by_index.identity(trace.batch_id) == expected, trace.batch_id
    assert by_index.batches("0" + samples.RUBBER_GTIN, "NO-SUCH-LOT") == []
    assert not by_index.knows_gtin("09506000134352")
    # a batch whose records name no GTIN answers to its crop's GTIN under the site's prefix
    crop_gtin = gtin_for_crop(MANGO_CROP, PREFIX)
    assert by_index.knows_gtin(crop_gtin) == by_records.knows_gtin(crop_gtin)


def _site(settings, lots, read_index: bool) -> TestClient:  # noqa: F811
    from frontend.app import create_app
    from frontend.settings import WebSettings

    site = settings.model_copy(
        update={
            "evidence_api_url": lots.gateway_url,
            "gateway_url": lots.gateway_url,
            "public_url": "http://t",
        }
    )
    web = WebSettings(evidence_retry_seconds=0.0, read_index=read_index, gs1_company_prefix=PREFIX)
    return TestClient(create_app(site, web), follow_redirects=False, headers={"Accept": "application/json"})


def test_resolver_and_lot_export__index_answers_as_the_node(index_settings, lots, indexed):  # noqa: F811
    mango = f"/01/0{samples.MANGO_GTIN}"
    rubber = f"/01/0{samples.RUBBER_GTIN}"
    paths = [
        f"{mango}/10/{MANGO_LOT}",
        f"{mango}/10/{MANGO_LOT}/21/{lots.mango}",
        f"{mango}/10/NO-SUCH-LOT",
        f"{mango}/21/{lots.mango}",
        f"{rubber}/10/TH-RB-2605-01",
        f"{rubber}/10/TH-RB-2605-M",
        f"{rubber}/10/TH-RB-2605-01/21/999999",
        "/01/09506000134352/10/L1",
    ]
    with _site(index_settings, lots, True) as on_index, _site(index_settings, lots, False) as on_node:
        assert on_index.app.state.ctx.index is not None and on_node.app.state.ctx.index is None
        for path in paths:
            a, b = on_index.get(path), on_node.get(path)
            assert (a.status_code, a.headers.get("location")) == (b.status_code, b.headers.get("location")), (
                path
            )
            a, b = on_index.get(path, headers=LINKSET), on_node.get(path, headers=LINKSET)
            assert a.status_code == b.status_code and a.content == b.content, path
        for lot in (MANGO_LOT, "TH-RB-2605-01"):
            a = on_index.get("/fsma204.csv", params={"lot": lot})
            b = on_node.get("/fsma204.csv", params={"lot": lot})
            assert a.status_code == b.status_code == 200 and a.content == b.content


def test_oracle_scan__index_when_it_covers_the_range_and_is_canonical_else_the_node(
    index_settings,
    lots,  # noqa: F811
    indexed,
):
    from web3 import Web3

    from oracle.service import ProvenanceScan

    w3 = Web3(Web3.HTTPProvider(index_settings.rpc_url))
    address = Chain(index_settings).contract("BatchProvenance").address
    on_index, on_node = ProvenanceScan(w3, address, indexed), ProvenanceScan(w3, address)
    cursor = indexed.cursor()
    start = Deployment.load(index_settings.deployment_file).block
    for name in ("BatchRegistered", "StepAdded"):
        a = on_index.events(name, start, cursor.block_number)
        b = on_node.events(name, start, cursor.block_number)
        assert a == b and len(a) >= 6
    assert (on_index.from_index, on_index.from_node, on_node.from_node) == (2, 0, 2)
    # a range past the index's block is read from the node
    on_index.events("StepAdded", start, cursor.block_number + 1)
    assert on_index.from_node == 1
    # an index whose block is no longer the chain's is not trusted
    indexed.store.rollback((cursor.block_number, "0x" + "ab" * 32))
    assert on_index.events("BatchRegistered", start, cursor.block_number) == on_node.events(
        "BatchRegistered", start, cursor.block_number
    )
    assert on_index.from_node == 2


def _routed_and_ahead(client, method: str, path: str, headers: dict[str, str]):
    """The same request answered by the resolver's route (a request that declares a body, even an
    empty one, is left to the application) and then as `DigitalLinksAhead` answers it (None when it
    leaves the request to the route); no cookies carried between them."""
    ctx = client.app.state.ctx
    client.cookies.clear()
    routed = client.request(method, path, headers={**headers, "Content-Length": "0"})
    resolved = ctx.links_resolved_ahead_of_routing
    client.cookies.clear()
    again = client.request(method, path, headers=headers)
    return routed, again, ctx.links_resolved_ahead_of_routing == resolved + 1


def _comparable(response) -> tuple:
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in ("date", "content-length")]
    return response.status_code, headers, response.content


def test_resolver__links_answered_ahead_of_routing_exactly_as_the_route(index_settings, lots, indexed):  # noqa: F811
    mango = f"/01/0{samples.MANGO_GTIN}"
    rubber = f"/01/0{samples.RUBBER_GTIN}"
    ahead = [
        (f"{mango}/10/{MANGO_LOT}", {}),  # the label's link: 307 to the verify page
        (f"{mango}/10/{MANGO_LOT}", {"Accept": "text/html", "Accept-Language": "th"}),
        (f"{mango}/10/{MANGO_LOT}?lang=th&campaign=fair", {}),  # sets the cookie, passes the rest on
        (f"{mango}/10/{MANGO_LOT}?linkType=all", {}),  # the linkset
        (f"{mango}/10/{MANGO_LOT}", LINKSET),
        (f"{mango}/10/{MANGO_LOT}?linkType=gs1:epcis", {}),
        (f"{mango}/10/{MANGO_LOT}?linkType=certificate", {"Accept-Encoding": "gzip"}),
        (f"{rubber}/10/TH-RB-2605-01", {}),  # a merged lot
        (f"{rubber}/10/TH-RB-2605-01", LINKSET),
        (f"{rubber}/10/TH-RB-2605-M?linkType=fsma", {}),
        (f"{mango}/10/NO-SUCH-LOT", {}),  # unknown lot: the GTIN's own links
        (f"{mango}/10/NO-SUCH-LOT", {**LINKSET, "Accept-Encoding": "br"}),
    ]
    to_route = [
        (f"{mango}/10/NO-SUCH-LOT?linkType=epcis", {}),  # the GTIN level offers no EPCIS link: 404
        ("/01/09506000134352/10/L1", {}),  # a GTIN this site never issued: 404
        (f"/01/0{samples.MANGO_GTIN[:-1]}{(int(samples.MANGO_GTIN[-1]) + 1) % 10}/10/L1", {}),  # check digit
        (f"{mango}/10/{MANGO_LOT}?linkType=nonsense", {}),
        (f"{mango}/10/{MANGO_LOT}?10=L2", {}),
        (f"{mango}/10/{MANGO_LOT}/21/{lots.mango}", {}),  # a serial: checked in the index, off the loop
    ]
    with _site(index_settings, lots, True) as client:
        for method in ("GET", "HEAD"):
            for path, headers in ahead + to_route:
                routed, again, was_ahead = _routed_and_ahead(client, method, path, headers)
                assert was_ahead == ((path, headers) in ahead), (method, path, headers)
                assert _comparable(routed) == _comparable(again), (method, path, headers)
        statuses = {path: _routed_and_ahead(client, "GET", path, h)[1] for path, h in ahead[:1] + to_route}
    assert statuses[ahead[0][0]].status_code == 307
    assert statuses[ahead[0][0]].headers["location"] == f"http://t/batch/{lots.mango}?lang=en"
    assert [statuses[p].status_code for p, _ in to_route] == [404, 404, 400, 404, 400, 307]
    assert "check digit" in statuses[to_route[2][0]].json()["detail"]
    assert "not an item of this site" in statuses[to_route[1][0]].json()["detail"]


def test_site_start__index_read_before_the_first_request(
    index_settings,
    lots,  # noqa: F811
    indexed,
):
    from sqlalchemy import event

    link = f"/01/0{samples.MANGO_GTIN}/10/{MANGO_LOT}"
    with _site(index_settings, lots, True) as client:
        ctx = client.app.state.ctx
        # every lot's facts stamp and the lot directory were read as the site started
        statements: list[str] = []
        event.listen(ctx.index.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        scan = client.get(link)
        assert scan.status_code == 307 and scan.headers["location"] == f"http://t/batch/{lots.mango}?lang=en"
        assert ctx.links_resolved_ahead_of_routing == 1
        at = indexed.head()
        ctx.version(Head(at.number, at.hash, at.timestamp), lots.mango)  # the lot's facts stamp
        assert statements == []
