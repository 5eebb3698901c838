"""Wallet flows that cannot lie, in Thai on a phone and English on a desktop: a wallet on another
chain is refused before anything is sent, a missing wallet and a non-member are told before any form
or signature, and the council rejects a milestone with a reason the community then reads."""

from __future__ import annotations

import pytest

from tambon.cid import OnchainCid
from tests.e2e.conftest import DESKTOP, PHONE, shot

pytestmark = pytest.mark.e2e
LANGS = [("th-TH", PHONE), ("en-US", DESKTOP)]


@pytest.mark.parametrize(("lang", "viewport"), LANGS)
def test_wallet__on_another_chain_that_will_not_switch__refused_and_nothing_sent(
    open_page, site, world, lang, viewport
):
    page, wallet = open_page(world.community, lang=lang, viewport=viewport)
    wallet.other_chain, wallet.switchable = 1, False
    page.goto(f"{site}/wallet/submit")
    page.click("#connect")
    account = page.locator("#account")
    page.wait_for_function("(el) => el.classList.contains('fail')", arg=account.element_handle())
    text = account.inner_text()
    if lang == "th-TH":
        assert "กระเป๋าเงินอยู่บนเครือข่ายอื่น" in text and "Tambon local chain" in text
        assert not any(word in text for word in ("wallet", "network", "Failed"))  # no English sentence
    else:
        assert "Your wallet is on another network" in text
    assert page.locator("#send-submission").is_disabled()
    assert wallet.sent == [] and wallet.signed == []
    shot(page, f"wallet-wrong-chain-{lang}")


def test_wallet__on_another_chain_that_switches__connects_on_the_site_chain(open_page, site, world):
    page, wallet = open_page(world.community, lang="th-TH", viewport=PHONE)
    wallet.other_chain = 1
    page.goto(f"{site}/wallet/submit")
    page.click("#connect")
    page.wait_for_selector(f"text={world.community.address}")
    assert wallet.other_chain is None  # the page asked the wallet to switch, and checked it did
    assert page.locator("#send-submission").is_enabled()


@pytest.mark.parametrize(("lang", "viewport"), LANGS)
def test_wallet__no_wallet__told_before_the_form(open_page, site, lang, viewport):
    page, _ = open_page(None, lang=lang, viewport=viewport)
    page.goto(f"{site}/wallet/submit")
    told = page.locator("#account").inner_text()
    assert ("ไม่พบกระเป๋าเงิน" if lang == "th-TH" else "No wallet found") in told
    assert page.locator("#connect").is_disabled()
    assert page.locator("#send-submission").is_disabled()


@pytest.mark.parametrize(("lang", "viewport"), LANGS)
def test_council__non_member__told_before_signing(open_page, site, world, lang, viewport):
    page, wallet = open_page(world.seller, lang=lang, viewport=viewport)
    page.goto(f"{site}/wallet/council")
    page.click("#connect")
    card = page.locator("article.pending").first
    page.wait_for_function("(el) => el.textContent.length > 0", arg=card.locator(".status").element_handle())
    told = card.locator(".status").inner_text()
    assert ("ไม่ใช่สมาชิกสภา" if lang == "th-TH" else "not a council member") in told
    assert card.locator("button.sign").is_disabled() and card.locator("button.reject").is_disabled()
    assert wallet.signed == []
    shot(page, f"council-non-member-{lang}")


def test_council__shows_what_the_wallet_will_sign(open_page, site, world):
    page, wallet = open_page(world.members[0], lang="th-TH", viewport=DESKTOP)
    page.goto(f"{site}/wallet/council")
    card = page.locator(f'article.pending[data-grant="{world.grant_thb}"][data-milestone="1"]')
    page.wait_for_function(
        "(el) => el.textContent.length > 0", arg=card.locator('[data-typed="deadline"]').element_handle()
    )
    m = world.escrow.milestone(world.grant_thb, 1)
    assert card.locator('[data-typed="milestoneId"]').inner_text() == "1"
    assert card.locator("h2").inner_text().endswith("งวดที่ 1")  # the on-chain id, as the wallet shows it
    assert card.locator('[data-typed="amount"]').inner_text() == str(100_000 * 10**18)
    assert "฿100,000.00" in card.locator("dl.typed").inner_text()
    assert card.locator('[data-typed="evidence"]').inner_text() == "0x" + bytes(m.evidence).hex()
    assert world.evidence["milestone1"] in card.locator("dl.typed").inner_text()
    assert "ลงนามแล้ว:" in card.locator(".signers").inner_text()
    shot(page, "council-typed-data-th")


def test_council__rejects_with_a_reason_the_community_reads(open_page, site, world):
    grant, milestone = world.grant_eth, 0
    resubmission = world.evidence["milestone0"]
    evidence = OnchainCid.parse(resubmission)
    world.escrow.submit(grant, milestone, evidence.digest, evidence.codec, sender=world.packer)
    card_selector = f'article.pending[data-grant="{grant}"][data-milestone="{milestone}"]'
    reason = "ใบแจ้งหนี้ห้องเย็นไม่มีลายเซ็นผู้ขาย กรุณาแนบฉบับที่ลงนามแล้ว"
    for i, member in enumerate(world.members[:3]):
        page, wallet = open_page(
            member, lang="th-TH" if i % 2 == 0 else "en-US", viewport=PHONE if i else DESKTOP
        )
        page.goto(f"{site}/wallet/council")
        page.click("#connect")
        page.wait_for_selector(f"text={member.address}")
        card = page.locator(card_selector)
        card.locator("details.reject-box summary").click()
        if i == 0:
            card.locator(".reason").fill(reason)
        else:  # the reason the first member wrote is what the others sign
            page.wait_for_function(
                "(el) => el.value.length > 0", arg=card.locator(".reason").element_handle()
            )
            assert card.locator(".reason").input_value() == reason
        card.locator("button.reject").click()
        page.wait_for_function(
            "([sel, n]) => (document.querySelector(sel).dataset.rejectSigners || '').split(',').filter(Boolean).length === n",
            arg=[card_selector, i + 1],
            timeout=30_000,
        )
        assert wallet.signed[-1]["primaryType"] == "Reject"
        if i == 2:
            card.locator("button.send-reject").click()
            page.wait_for_selector(f'{card_selector}[data-rejected="1"]', timeout=30_000)
            assert "ชุมชนจะเห็นเหตุผล" in card.locator(".status").inner_text()
            shot(page, "council-rejected-th")
        page.context.close()
    m = world.escrow.milestone(grant, milestone)
    assert m.status == 4  # REJECTED
    community, _ = open_page(world.packer, lang="en-US", viewport=PHONE)
    community.goto(f"{site}/grants")
    assert reason in community.locator(f"#grant-{grant} .reason").inner_text()
    shot(community, "grants-rejection-reason-phone")
