"""QR codes for batch labels (segno): the GS1 Digital Link URI of the batch, as SVG or PNG."""

from __future__ import annotations

import io
from functools import lru_cache

import segno

#: modules of white around the symbol, as ISO/IEC 18004 asks; scanners need it at any printed size
QUIET_ZONE = 4
#: symbols kept, by URI and size: a lot's Digital Link does not change when its page does
QR_KEPT = 8192


@lru_cache(maxsize=QR_KEPT)
def qr_svg(uri: str, *, scale: int = 4, inline: bool = False) -> str:
    """SVG of `uri` (error correction M) with a viewBox that includes the quiet zone.

    The viewBox lets CSS size the symbol (28 mm on a label, 120 px on the verify page) without cutting
    modules off; the standalone file (`inline=False`) also carries a pixel size of `scale` px a module.
    Kept for the `QR_KEPT` most recent: encoding one (segno tries all 8 masks) took about a third of
    the CPU of a verify page's render, and at a moving head most renders are a known lot's page again.
    """
    qr = segno.make(uri, error="m", micro=False)
    buf = io.BytesIO()
    qr.save(
        buf, kind="svg", border=QUIET_ZONE, omitsize=True, xmldecl=not inline, svgns=True, nl=False, title=uri
    )
    svg = buf.getvalue().decode("utf-8")
    size = qr.symbol_size(scale=scale, border=QUIET_ZONE)[0]
    attrs = ' role="img" shape-rendering="crispEdges"'
    if not inline:
        attrs += f' width="{size}" height="{size}"'
    return svg.replace("<svg ", f"<svg{attrs} ", 1)


def qr_png(uri: str, *, scale: int = 8) -> bytes:
    qr = segno.make(uri, error="m", micro=False)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=QUIET_ZONE)
    return buf.getvalue()
