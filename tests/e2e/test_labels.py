"""Printed labels scan: every QR on the label sheet, rendered at print size (and on a phone screen),
decodes with OpenCV to the batch's Digital Link URI, and that URI opens the verify page of that lot."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.e2e.conftest import ARTIFACTS, shot

pytestmark = pytest.mark.e2e
#: 300 dpi printing = 300/96 device pixels a CSS pixel; 3 is the nearest whole scale
PRINT_SCALE = 3


def lot_ids(world) -> list[int]:
    return sorted({world.lot, *world.boxes, world.tampered, world.merged, *world.merged_from})


def decode(png: bytes) -> str:
    """What a scanner app reads: OpenCV's detector, then its ArUco-based one, at full and half size
    (as a phone camera tries frame after frame)."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    half = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        for candidate in (image, half):
            text, _points, _ = detector.detectAndDecode(candidate)
            if text:
                return text
    return ""


def labels(browser, site, ids, *, lang, viewport, scale, media):
    context = browser.new_context(
        locale=lang,
        viewport=viewport,
        device_scale_factor=scale,
        extra_http_headers={"Accept-Language": lang},
    )
    page = context.new_page()
    page.emulate_media(media=media)
    page.goto(f"{site}/labels?ids={','.join(map(str, ids))}")
    return page


@pytest.mark.parametrize(
    ("lang", "viewport", "scale", "media"),
    [
        ("en-US", {"width": 794, "height": 1123}, PRINT_SCALE, "print"),  # A4 at 96 CSS px an inch
        ("th-TH", {"width": 390, "height": 844}, 3, "screen"),  # a phone showing the sheet
    ],
)
def test_labels__every_qr_decodes_at_its_size_and_opens_its_lot(
    browser, site, world, lang, viewport, scale, media
):
    ids = lot_ids(world)
    page = labels(browser, site, ids, lang=lang, viewport=viewport, scale=scale, media=media)
    cards = page.locator(".label")
    assert cards.count() == len(ids)
    decoded = []
    for i, batch_id in enumerate(ids):
        card = cards.nth(i)
        qr = card.locator("svg")
        box = qr.bounding_box()
        # 28 mm printed = 105.8 CSS px; the whole symbol (quiet zone included) is inside it
        assert box is not None and abs(box["width"] - 105.8) < 1 and abs(box["height"] - 105.8) < 1
        image = qr.screenshot()
        uri = decode(image)
        if not uri.endswith(f"/21/{batch_id}"):
            (ARTIFACTS / f"label-{batch_id}-{media}.png").write_bytes(image)
        assert uri.endswith(f"/21/{batch_id}"), (batch_id, uri)  # the batch id is the serial, never the lot
        decoded.append(uri)
        # the label's words stay whole: a line holds more than a letter or two
        text_box = card.locator(".label-text").bounding_box()
        assert text_box is not None and text_box["width"] > 120, text_box
    shot(page, f"labels-{media}-{lang}")
    page.context.close()
    visitor = browser.new_context(locale=lang).new_page()
    for batch_id, uri in zip(ids, decoded, strict=True):
        visitor.goto(uri)  # the GS1 resolver redirects to the verify page of that lot
        assert visitor.url.split("?")[0].endswith(f"/batch/{batch_id}"), (uri, visitor.url)
        assert f"#{batch_id} " in visitor.locator(".eyebrow").inner_text() + " "
    visitor.context.close()
