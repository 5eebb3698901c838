"""What the verify page's timeline says, from a batch history: steps dated by their records (the
chain time a detail), in the order of those dates, and every party named in the page's language."""

from __future__ import annotations

from types import SimpleNamespace

from frontend import i18n, verify_view

FARM = "0x976ea74026e726554db657fa54763abd0c3a0aa9"
CARRIER = "0x14dc79964da2c08b23698b3d3cc7ca32193d9955"
BUYER = "0x23618e81e3f5cdf7f54c3d65f7fbc0abf5b21e8f"
#: the chain recorded every step on 2 December 2026, a month after the harvest
CHAIN_TIME = 1_796_200_000


def _step(index: int, actor: str, record: dict, stage: str) -> SimpleNamespace:
    evidence = SimpleNamespace(record=record)
    return SimpleNamespace(
        index=index, actor=actor, evidence=evidence, timestamp=CHAIN_TIME + index, stage=stage
    )


def _history() -> SimpleNamespace:
    harvest = {
        "event": "harvesting", "date": "2026-11-02",
        "farm": {"name": "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท (Ban Nong Sanit Mango Community Enterprise)"},
    }  # fmt: skip
    cultivation = {
        "event": "cultivation",
        "date": "2026-08-15",
        "farm": {"name": "ignored: the registry names it"},
    }
    shipping = {
        "event": "shipping",
        "date": "2026-11-05",
        "carrier": {"name": "สยามห้องเย็นขนส่ง (Siam Reefer Transport)"},
    }
    receiving = {
        "event": "receiving",
        "datetime": "2026-11-21T09:30:00-08:00",
        "ship_to": {"name": "Thai Fresh Market"},
    }
    # the chain order puts the harvest before the cultivation: the records' dates put it right
    steps = [
        _step(0, FARM, harvest, "HARVEST"),
        _step(1, FARM, cultivation, "HARVEST"),
        _step(2, CARRIER, shipping, "TRANSPORT"),
        _step(3, BUYER, receiving, "MARKETING"),
    ]
    parties = {FARM: SimpleNamespace(name="วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท"), CARRIER: SimpleNamespace(name=None),
               BUYER: SimpleNamespace(name=None)}  # fmt: skip
    stages = [("HARVEST", steps[:2]), ("TRANSPORT", steps[2:3]), ("MARKETING", steps[3:])]
    return SimpleNamespace(steps=steps, parties=parties, stages=lambda: stages)


def _timeline(lang: str) -> dict[str, list]:
    return dict(verify_view.step_views(_history(), lang, lambda text: text))


def test_steps__dated_by_their_records__chain_time_a_detail():
    harvest_stage = _timeline("en")["HARVEST"]
    assert [v.title for v in harvest_stage] == ["Growing", "Harvesting"]  # by record date, not chain order
    assert [v.when for v in harvest_stage] == ["15 August 2026", "2 November 2026"]
    assert all(
        v.recorded == i18n.format_date(CHAIN_TIME + v.step.index, "en", with_time=True) for v in harvest_stage
    )
    assert "December 2026" in harvest_stage[0].recorded
    (receipt,) = _timeline("en")["MARKETING"]
    assert receipt.when == "21 November 2026 09:30 (UTC-08:00)"  # where it was received, not in Bangkok time
    thai = _timeline("th")["HARVEST"]
    assert [v.when for v in thai] == ["15 สิงหาคม 2569", "2 พฤศจิกายน 2569"]  # Buddhist era on the Thai page


def test_parties__named_in_the_page_language_with_the_other_as_fallback():
    en = verify_view.party_names(_history(), "en")
    th = verify_view.party_names(_history(), "th")
    # the registered name is Thai only; the harvest record gives the English one
    assert en[FARM] == "Ban Nong Sanit Mango Community Enterprise"
    assert th[FARM] == "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท"
    assert (en[CARRIER], th[CARRIER]) == ("Siam Reefer Transport", "สยามห้องเย็นขนส่ง")
    assert en[BUYER] == th[BUYER] == "Thai Fresh Market"  # one language only: shown on both pages
    assert [v.actor for v in _timeline("en")["TRANSPORT"]] == ["Siam Reefer Transport"]
