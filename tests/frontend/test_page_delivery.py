"""How pages reach a phone (what Lighthouse checks of delivery): responsive evidence photos
(server-made thumbnails in a srcset), brotli/gzip compression, a favicon and a description on every
page; against the real evidence node and chain."""

from __future__ import annotations

import html
import io
import re

import pytest
from PIL import Image


def _srcsets(page: str) -> list[tuple[str, str]]:
    """(srcset, the rest of the tag) of every evidence tile on a page."""
    tiles = re.finditer(r'<img src="[^"]*" srcset="([^"]+)"[^>]*>', page)  # the cover banner has a class
    return [(m.group(1), m.group(0)) for m in tiles]


def test_verify_page__evidence_photos__srcset_of_thumbnails_that_decode_at_their_widths(client, world):
    page = client.get(f"/batch/{world.sold_box}", headers={"Accept-Language": "en"}).text
    tiles = _srcsets(page)
    assert tiles, "no responsive evidence photos on the verify page"
    cultivation = f"/thumb/{world.evidence['cultivation']}/photo.png"
    assert any(cultivation in srcset for srcset, _ in tiles)
    for srcset, tag in tiles:
        # sized up front (no layout shift) and chosen by the browser from three widths
        assert 'width="96"' in tag and 'height="96"' in tag and 'sizes="96px"' in tag
        candidates = [c.strip().split(" ") for c in srcset.split(",")]
        assert [w for _, w in candidates] == ["96w", "192w", "384w"]
        for url, stated in candidates:
            r = client.get(url.replace("&amp;", "&"))
            assert r.status_code == 200, (url, r.text)
            assert r.headers["content-type"] == "image/webp"
            assert "immutable" in r.headers["cache-control"]
            with Image.open(io.BytesIO(r.content)) as image:
                image.load()
                assert image.format == "WEBP" and image.size == (int(stated[:-1]),) * 2
    # the tile still links the full photo on the evidence gateway
    assert f"{world.gateway_url}/ipfs/{world.evidence['cultivation']}/photo.png" in page


def test_verify_page__cover_banner__srcset_of_banners_that_decode_at_their_widths(client, world):
    page = client.get(f"/batch/{world.sold_box}", headers={"Accept-Language": "en"}).text
    cover = re.search(r'<img class="cover" [^>]*srcset="([^"]+)"[^>]*>', page)
    assert cover, "the lot's cover image has no srcset"
    assert 'width="960"' in cover.group(0) and 'height="220"' in cover.group(0)
    candidates = [c.strip().split(" ") for c in html.unescape(cover.group(1)).split(",")]
    assert [w for _, w in candidates] == ["480w", "960w", "1920w"]
    for url, stated in candidates:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/webp", (url, r.text)
        with Image.open(io.BytesIO(r.content)) as image:
            width = int(stated[:-1])
            assert image.size == (width, round(width * 220 / 960))


def test_thumbnail__content_matches_the_photo(client, world):
    """A 240x180 photo of one colour gives a tile of that colour: the bytes are the photo's."""
    original = world.store.cat(world.evidence["cultivation"], "photo.png")
    with Image.open(io.BytesIO(original)) as photo:
        colour = photo.convert("RGB").getpixel((120, 90))
    r = client.get(f"/thumb/{world.evidence['cultivation']}/photo.png", params={"w": 192})
    with Image.open(io.BytesIO(r.content)) as tile:
        got = tile.convert("RGB").getpixel((96, 96))
    assert all(abs(a - b) <= 6 for a, b in zip(got, colour, strict=True)), (got, colour)


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("{cid}/photo.png?w=500", 400, "square thumbnail width must be one of 96, 192, 384"),
        ("{cid}/record.json", 400, "is not an image name"),
        ("{cid}/nothing.png", 404, "holds no 'nothing.png'"),
        ("not-a-cid/photo.png", 400, "not a valid CID"),
        ("{cid}/photo.png?shape=circle", 400, "thumbnail shape must be square or cover"),
        ("{cid}/photo.png?shape=cover&w=96", 400, "cover thumbnail width must be one of 480, 960, 1920"),
    ],
)
def test_thumbnail__bad_requests__clear_4xx(client, world, path, status, message):
    r = client.get(
        "/thumb/" + path.format(cid=world.evidence["cultivation"]), headers={"Accept": "application/json"}
    )
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_thumbnail__corrupted_block__refused_not_resized(client, world):
    r = client.get(f"/thumb/{world.corrupted_cid}/photo.png", headers={"Accept": "application/json"})
    assert r.status_code == 502
    assert world.corrupted_cid in r.json()["detail"]


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [("br", "br"), ("gzip, deflate, br", "br"), ("gzip", "gzip"), ("identity", None)],
)
def test_compression__brotli_when_accepted_gzip_otherwise(client, world, accept, encoding):
    r = client.get(f"/batch/{world.sold_box}", headers={"Accept-Encoding": accept, "Accept-Language": "en"})
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == encoding
    if encoding:  # a cache keeps the encodings apart
        assert "Accept-Encoding" in r.headers["vary"]
    assert "Verified origin and history" in r.text  # decoded by the client as a browser would


def test_compression__brotli_body_is_smaller_and_decodes(client, world):
    import brotli

    url = f"/batch/{world.sold_box}"
    with client.stream("GET", url, headers={"Accept-Encoding": "br", "Accept-Language": "en"}) as r:
        raw = b"".join(r.iter_raw())
    plain = client.get(url, headers={"Accept-Encoding": "identity", "Accept-Language": "en"}).content
    assert brotli.decompress(raw) == plain and len(raw) < len(plain) / 3


def test_favicon__served_as_an_icon(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in r.headers["cache-control"]


@pytest.mark.parametrize(
    "path", ["/", "/grants", "/capture/", "/wallet/submit", "/wallet/council", "/batch/{box}"]
)
@pytest.mark.parametrize("lang", ["en", "th"])
def test_every_page__meta_description_icon_and_capture_link(client, world, path, lang):
    page = client.get(path.format(box=world.sold_box), headers={"Accept-Language": lang}).text
    found = re.search(r'<meta name="description" content="([^"]{40,})">', page)
    assert found, path
    assert '<link rel="icon" href="/favicon.ico"' in page
    capture = "บันทึกในแปลง" if lang == "th" else "Field capture"
    assert re.search(rf'<a href="/capture/"[^>]*>{capture}</a>', page), (
        path
    )  # a farmer finds capture anywhere


def test_compression__compressed_formats_sent_as_they_are(client, world):
    """WebP thumbnails, PNGs and spreadsheets are not compressed twice (CPU for nothing)."""
    br = {"Accept-Encoding": "br, gzip"}
    for url in (f"/thumb/{world.evidence['cultivation']}/photo.png?w=384", f"/qr/{world.sold_box}.png",
                f"/batch/{world.sold_box}/fsma204.xlsx"):  # fmt: skip
        r = client.get(url, headers=br)
        assert r.status_code == 200 and "content-encoding" not in r.headers, url
    assert client.get(f"/batch/{world.sold_box}/epcis", headers=br).headers["content-encoding"] == "br"
