"""Pure functions of the verify site: i18n, GS1, history assembly, checks, uploads, charts, caches."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest

from frontend import i18n
from frontend.errors import BadInput, UnsupportedMedia, UploadRejected
from frontend.services import gs1
from frontend.services.batches import (
    Step,
    group_by_stage,
    key_check,
    metadata_view,
    model_check,
)
from frontend.services.cache import Expiring, Lru
from frontend.services.chain import Event
from frontend.services.charts import budget_chart
from frontend.services.evidence import EvidenceService, check_upload, safe_name, sniff_type
from frontend.services.grants import Point, money_series
from frontend.web.pages import parse_ids
from tambon.tokens import ETH, Token
from tests.frontend.world import png


@pytest.mark.parametrize(
    ("header", "cookie", "query", "expected"),
    [
        ("th-TH,th;q=0.9,en;q=0.8", None, None, "th"),
        ("en-US,en;q=0.9,th;q=0.5", None, None, "en"),
        ("fr-FR,fr;q=0.9", None, None, "en"),
        ("fr;q=1, th;q=0.4", None, None, "th"),
        ("th;q=0, en;q=0.1", None, None, "en"),
        (None, "th", None, "th"),
        ("th", "en", None, "en"),
        ("th", "th", "en", "en"),
        ("th", None, "xx", "th"),
        ("th;q=garbage", None, None, "en"),
    ],
)
def test_negotiate__explicit_choice_then_accept_language(header, cookie, query, expected):
    assert i18n.negotiate(header, cookie, query) == expected


def test_format_date__thai_uses_buddhist_era_and_bangkok_time():
    # 2026-11-26 17:30 UTC is 2026-11-27 00:30 in Bangkok
    ts = 1795714200
    assert i18n.format_date(ts, "th") == "27 พฤศจิกายน 2569"
    assert i18n.format_date(ts, "en", with_time=True) == "27 November 2026 00:30"
    assert i18n.format_date(ts, "th", with_time=True).endswith("00:30 น.")
    assert i18n.format_date(date(2025, 11, 9), "th") == "9 พฤศจิกายน 2568"
    assert i18n.format_date(None, "th") == "—"
    assert i18n.day_to_date(20_400) == date(2025, 11, 8)


def test_format_token__currency_sign_from_the_token_not_its_symbol():
    baht = Token("0x" + "11" * 20, "THB", 18, currency="THB")
    assert i18n.format_token(50_000 * 10**18, baht, "th") == "฿50,000.00"
    assert i18n.format_token(1234_56 * 10**16, baht, "en") == "฿1,234.56"
    assert i18n.format_token(15 * 10**17, ETH, "en") == "1.50 ETH"
    # any ERC-20 may call itself THB: only a stablecoin of the deployment is printed as baht
    look_alike = Token("0x" + "22" * 20, "THB", 6)
    assert i18n.format_token(5 * 10**6, look_alike, "en") == "5.00 THB"


def test_catalogs__every_message_translated_to_thai():
    from babel.messages.pofile import read_po

    with (i18n.LOCALES_DIR / "th" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []
    assert i18n.translations("th").gettext("Harvest") == "การเก็บเกี่ยว"
    assert i18n.translations("en").gettext("Harvest") == "Harvest"


def test_catalogs__every_stage_and_grade_has_a_label_in_thai():
    from frontend.services.catalog import GRADE_LABELS, STAGE_LABELS
    from tambon.attestation import Grade
    from tambon.provenance import Stage

    assert set(GRADE_LABELS) == {grade.name for grade in Grade}
    assert set(STAGE_LABELS) == {stage.name for stage in Stage}
    thai = i18n.translations("th").gettext
    for label in [*GRADE_LABELS.values(), *STAGE_LABELS.values()]:
        assert thai(label) != label, label


def test_compile_catalogs__rebuilds_stale_mo(tmp_path):
    po_dir = tmp_path / "th" / "LC_MESSAGES"
    po_dir.mkdir(parents=True)
    (po_dir / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Sale"\nmsgstr "การจำหน่าย"\n',
        encoding="utf-8",
    )
    assert i18n.compile_catalogs(tmp_path) == [po_dir / "messages.mo"]
    assert i18n.compile_catalogs(tmp_path) == []


def test_gtin__check_digit_and_crop_round_trip():
    assert gs1.check_digit("0950110153000") == 3  # GS1's worked example 09501101530003
    gtin = gs1.gtin_for_crop(201, "8850000")
    assert len(gtin) == 14 and gs1.valid_gtin(gtin)
    assert gs1.crop_of_gtin(gtin, "8850000") == 201
    assert gs1.crop_of_gtin(gtin, "8851111") is None
    assert not gs1.valid_gtin(gtin[:-1] + str((int(gtin[-1]) + 1) % 10))
    assert gs1.digital_link("https://x.th", gtin, 7) == f"https://x.th/01/{gtin}/10/7"
    with pytest.raises(BadInput):
        gs1.gtin_for_crop(10**6, "8850000")
    with pytest.raises(BadInput):
        gs1.parse_lot("07")
    with pytest.raises(BadInput):
        gs1.parse_lot("1;drop")


def _step(stage, ts, batch=1, index=0):
    from frontend.services.batches import Check, EvidenceRef

    return Step(batch, index, stage, "0x1", ts, "0x", 0, EvidenceRef(None, Check("evidence", "unknown", "")))


def test_group_by_stage__table3_order_then_time():
    steps = [
        _step("TRANSPORT", 5),
        _step("HARVEST", 3),
        _step("CULTIVATION", 1),
        _step("HARVEST", 2, index=1),
    ]
    groups = group_by_stage(steps)
    assert [g for g, _ in groups] == ["CULTIVATION", "HARVEST", "TRANSPORT"]
    assert [s.timestamp for s in groups[1][1]] == [2, 3]


@pytest.mark.parametrize(
    ("activated", "revoked", "attested", "status"),
    [
        (10, 0, 20, "pass"),
        (0, 0, 20, "fail"),
        (30, 0, 20, "fail"),
        (10, 25, 20, "fail"),
        (10, 20, 20, "fail"),
        (10, 15, 20, "fail"),
    ],
)
def test_key_check__active_at_the_time_and_never_revoked(activated, revoked, attested, status):
    assert key_check(activated, revoked, attested).status == status


def test_key_check__revoked_after_attestation__says_so():
    assert "after this attestation" in key_check(10, 25, 20).detail
    assert "already revoked" in key_check(10, 15, 20).detail


def test_model_check__approved_then_and_now():
    assert model_check(10, 0, 20).status == "pass"
    assert model_check(30, 0, 20).status == "fail"
    assert model_check(10, 40, 20).status == "fail"


def test_metadata_view__only_ipfs_images_and_bounded_fields():
    service = EvidenceService("http://gw", "http://api")
    cid = "bafkreig2hwduiqdtksdhszdfvaxbj67oxqh3rpxkntujpuwmqxtaanx2a4"
    view = metadata_view(
        {"name": "x" * 500, "image": "javascript:alert(1)", "attributes": [{"value": 1}, "junk"]}, service
    )
    assert view["image"] is None and len(view["name"]) == 200
    assert view["attributes"] == [{"trait_type": "", "value": "1"}]
    assert (
        metadata_view({"image": f"ipfs://{cid}/a b.png"}, service)["image"]
        == f"http://gw/ipfs/{cid}/a%20b.png"
    )
    assert metadata_view({"image": "ipfs://not-a-cid/x.png"}, service)["image"] is None
    assert metadata_view(None, service)["name"] is None
    # an image inside a bundle gets the site's proven banners; a bare file CID or a non-image does not
    assert metadata_view({"image": f"ipfs://{cid}/a b.png"}, service)["banner"] == f"/thumb/{cid}/a%20b.png"
    assert metadata_view({"image": f"ipfs://{cid}"}, service)["banner"] is None
    assert metadata_view({"image": f"ipfs://{cid}/notes.txt"}, service)["banner"] is None
    assert view["banner"] is None


def test_sniff_type__by_leading_bytes_not_name():
    assert sniff_type(png(2, 2, (1, 2, 3))) == "image/png"
    assert sniff_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_type(b"%PDF-1.7") == "application/pdf"
    assert sniff_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_type(b"RIFF\x00\x00\x00\x00WAVE") is None
    assert sniff_type(b"<svg onload=alert(1)>") is None


def test_check_upload__limits_and_safe_names():
    photo = png(2, 2, (1, 2, 3))
    named = check_upload(
        [("../../etc/passwd.png", photo), ("รูป แปลง.PNG", photo), ("record.json", photo)],
        max_bytes=10_000,
        max_files=5,
    )
    assert set(named) == {"passwd.png", "รูป-แปลง.png", "record.png"}
    with pytest.raises(UploadRejected):
        check_upload([("a.png", photo)] * 6, max_bytes=10_000, max_files=5)
    with pytest.raises(UploadRejected):
        check_upload([("a.png", photo + bytes(10_000))], max_bytes=10_000, max_files=5)
    with pytest.raises(UnsupportedMedia):
        check_upload([("a.png", b"<html>")], max_bytes=10_000, max_files=5)
    with pytest.raises(BadInput):
        check_upload([], max_bytes=10_000, max_files=5)
    taken = {"photo.png"}
    assert safe_name("photo.png", "image/png", taken) == "photo-2.png"


def test_parse_ids__ranges_and_limits():
    assert parse_ids("1-3, 7") == [1, 2, 3, 7]
    for bad in ("", "a", "3-1", "1-500", "-1", "1--2"):
        with pytest.raises(BadInput):
            parse_ids(bad)


def test_money_series__cumulative_per_token():
    def ev(name, gid, amount, block):
        return Event("GrantEscrow", name, {"grant_id": gid, "amount": amount}, block, f"0x{block}", "0x", 0)

    events = [ev("Funded", 0, 100, 1), ev("Funded", 1, 5, 2), ev("MilestoneReleased", 0, 40, 3)]
    # two tokens with one symbol stay apart: series are per token address
    series = money_series(events, {"0x1": 10, "0x2": 20, "0x3": 30}, {0: "0xaa", 1: "0xbb"})
    assert series["0xaa"] == [Point(10, 100, 0), Point(30, 100, 40)]
    assert series["0xbb"] == [Point(20, 5, 0)]


def test_budget_chart__inline_svg_with_escaped_labels():
    svg = budget_chart(
        1000,
        [Point(10, 600, 0), Point(20, 1000, 400)],
        0,
        40,
        money=str,
        date=str,
        labels={"budget": "<b>", "funded": "F", "released": "R"},
        title="T&C",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;b&gt;" in svg and "T&amp;C" in svg and "<b>" not in svg
    assert svg.count("<path") == 2


def test_caches__lru_bound_and_expiry():
    lru: Lru[int] = Lru(2)
    lru.put("a", 1), lru.put("b", 2), lru.get("a"), lru.put("c", 3)
    assert lru.get("b") is None and lru.get("a") == 1 and len(lru) == 2
    now = [0.0]
    exp: Expiring[str] = Expiring(5, clock=lambda: now[0])
    exp.put("k", "v")
    now[0] = 4
    assert exp.get("k") == "v"
    now[0] = 6
    assert exp.get("k") is None


def test_caches__lru_bounded_by_weight():
    pages: Lru[bytes] = Lru(10, weigh=len)
    pages.put("a", b"1234"), pages.put("b", b"12345"), pages.get("a"), pages.put("c", b"12")
    assert pages.get("b") is None and pages.get("a") == b"1234" and pages.weight == 6
    pages.put("a", b"123456789")  # replaced: its old weight is given back
    assert pages.weight == 9 and pages.get("c") is None
    pages.put("big", b"x" * 50)  # larger than the bound: kept alone
    assert len(pages) == 1 and pages.weight == 50


def test_shared_renders__old_pages_swept_once_per_tenth_of_their_age(tmp_path):
    import os

    from frontend.services.cache import SharedRenders

    now = [0.0]
    shared = SharedRenders(tmp_path, max_age=100.0, clock=lambda: now[0])
    shared.get_or_make(("batch", 1, "v1", "en"), lambda: b"old")
    old = next(tmp_path.glob("*.html"))
    os.utime(old, (0, 0))  # written long ago
    now[0] = 9.0  # before the first sweep is due: the old page stays
    shared.get_or_make(("batch", 2, "v1", "en"), lambda: b"new")
    assert old.exists()
    now[0] = 10.0  # due: the render that finds it due sweeps, once
    shared.get_or_make(("batch", 3, "v1", "en"), lambda: b"newer")
    assert not old.exists() and shared.find(("batch", 3, "v1", "en")) == b"newer"
    assert shared.find(("batch", 2, "v1", "en")) == b"new"


def test_coldchain_signature_check__batch__every_item_against_the_call_s_one_tree():
    """Each lot of an attestColdChainMany call is checked against the call's Merkle tree, built once:
    every verdict recovers the signer, a verdict outside the call fails, and a call signed by another
    key fails."""
    from dataclasses import replace

    from eth_account import Account

    from frontend.services.coldchain import _signature_check
    from tambon.coldchain import ColdChainAttestation, Verdict, sign_coldchain_batch
    from tambon.verify import FAIL, PASS, batch_tree

    registry = "0x" + "5A" * 20
    key, other = Account.from_key("0x" + "11" * 32), Account.from_key("0x" + "22" * 32)
    items = [
        ColdChainAttestation(
            batch_id=i + 1,
            log_cid=bytes([i + 1]) * 32,
            verdict=Verdict.OK,
            minutes_out_of_range=0,
            mkt_centi_c=1_254,
            shelf_life_days=9,
            rules_sha256=b"\x07" * 32,
            analysed_at=1_767_000_000,
        )
        for i in range(5)
    ]
    _, signature = sign_coldchain_batch(items, key.key, 31337, registry)
    call = ("attestColdChainMany", {"items": [i.as_tuple() for i in items], "signature": signature})
    batch_tree.cache_clear()
    for item in items:
        assert _signature_check(item, key.address, call, 31337, registry).status == PASS
    assert batch_tree.cache_info().misses == 1
    assert _signature_check(replace(items[0], batch_id=99), key.address, call, 31337, registry).status == FAIL
    _, forged = sign_coldchain_batch(items, other.key, 31337, registry)
    call = ("attestColdChainMany", {"items": [i.as_tuple() for i in items], "signature": forged})
    assert _signature_check(items[2], key.address, call, 31337, registry).status == FAIL


class _DroppingProxy:
    """A TCP proxy to `target` that reads the request of each connection numbered in `drop` (from 1)
    and closes it unanswered (a connection reset under load), forwarding the others."""

    def __init__(self, target_port: int, drop: set[int]) -> None:
        import socket
        import threading

        self.target_port, self.drop, self.connections = target_port, drop, 0
        self.forwarded: list = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def close_forwarded(self) -> None:
        """Close every forwarded connection, as a store closes its idle kept-alive ones."""
        for s in self.forwarded:
            with contextlib.suppress(OSError):
                s.shutdown(2)

    def _serve(self) -> None:
        import socket
        import threading

        while True:
            client, _ = self.listener.accept()
            self.connections += 1
            if self.connections in self.drop:
                client.recv(65536)
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.forwarded += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(2)


def test_evidence_proof__a_dropped_connection_is_fetched_again_before_the_outcome_changes(tmp_path):
    """A proven CID whose re-check meets one transport failure (a connection closed unanswered) is
    fetched again at once on a new connection: the proof still passes and the evidence tag of the pages
    showing it stays where it was. A store that drops the retry too still gives the transfer failure."""
    import time

    from tests.frontend.world import evidence_node

    store, node = evidence_node(tmp_path / "node")
    try:
        cid = store.add_bytes(b"a receiving record", "r.json")
        flaky = _DroppingProxy(node.port, drop={2})
        service = EvidenceService(flaky.url, flaky.url, recheck_seconds=0.0)
        assert service.prove(cid).status == "pass" and flaky.connections == 1
        tag = service.current_tag([cid])
        flaky.close_forwarded()
        time.sleep(0.2)  # the client sees its kept-alive connection closed and opens a new one
        assert service.prove(cid).status == "pass" and flaky.connections == 3
        assert service.current_tag([cid]) == tag

        down = _DroppingProxy(node.port, drop={1, 2})
        failed = EvidenceService(down.url, down.url).prove(cid)
        assert failed.status != "pass" and "transfer failed" in failed.detail and down.connections == 2
    finally:
        node.stop()
