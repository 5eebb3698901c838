"""QR codes for batch labels (segno): the GS1 Digital Link URI of the batch, as SVG or PNG."""

from __future__ import annotations

import io

import segno


def qr_svg(uri: str, *, scale: int = 4, inline: bool = False) -> str:
    """SVG of `uri` (error correction M, quiet zone 4); `inline` drops the XML declaration for HTML."""
    qr = segno.make(uri, error="m", micro=False)
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=scale, xmldecl=not inline, svgns=True, nl=False, title=uri)
    return buf.getvalue().decode("utf-8")


def qr_png(uri: str, *, scale: int = 8) -> bytes:
    qr = segno.make(uri, error="m", micro=False)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale)
    return buf.getvalue()
