"""GS1 identifiers for batches: a GTIN-14 per crop, the lot = batch id, and Digital Link URIs.

The QR code on a label encodes `<public_url>/01/<GTIN-14>/10/<lot>` (GS1 Digital Link: AI 01 GTIN,
AI 10 batch/lot), which resolves to the batch's verify page. The full resolver (link types, linksets)
and compliance exports build on these functions (frontend/api/routes/gs1.py, compliance.py).
"""

from __future__ import annotations

import re

from frontend.errors import BadInput
from tambon.gs1 import check_digit

_GTIN = re.compile(r"^[0-9]{14}$")
_LOT = re.compile(r"^[1-9][0-9]{0,19}$")


def gtin_for_crop(crop: int, company_prefix: str) -> str:
    """GTIN-14 (indicator 0) whose item reference is the crop code."""
    width = 12 - len(company_prefix)
    if not 0 <= crop < 10**width:
        raise BadInput(f"crop code {crop} does not fit a {width}-digit item reference")
    body = f"0{company_prefix}{crop:0{width}d}"
    return body + str(check_digit(body))


def valid_gtin(gtin: str) -> bool:
    return bool(_GTIN.match(gtin)) and check_digit(gtin[:-1]) == int(gtin[-1])


def crop_of_gtin(gtin: str, company_prefix: str) -> int | None:
    """The crop code a GTIN of this company stands for, or None for another company's GTIN."""
    if not valid_gtin(gtin) or gtin[1 : 1 + len(company_prefix)] != company_prefix or gtin[0] != "0":
        return None
    return int(gtin[1 + len(company_prefix) : -1])


def digital_link(public_url: str, gtin: str, lot: int | str) -> str:
    return f"{public_url}/01/{gtin}/10/{lot}"


def parse_lot(lot: str) -> int:
    if not _LOT.match(lot):
        raise BadInput(f"lot {lot[:40]!r} is not a batch number")
    return int(lot)
