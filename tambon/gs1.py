"""GS1 identifiers and Digital Link URIs (GS1 Digital Link standard 1.4, GS1 General Specifications).

    gtin = normalise_gtin("9506000134352")          # -> "09506000134352" (check digit verified)
    uri = build_uri("https://verify.example", gtin, lot="TH-MG-0042")
    link = parse_path("/01/09506000134352/10/TH-MG-0042?linkType=gs1:epcis")

A batch's GS1 identity (schemas/record/README.md): GTIN = the `commodity.gtin` of its records (or the
crop's GTIN under the site's company prefix, which labels print); lot (AI 10) = its FSMA traceability
lot code (or the batch id on labels); serial (AI 21) = its batch id, so `/01/{gtin}/21/{batchId}`
always names one token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from tambon.errors import TambonError


class Gs1Error(TambonError, ValueError):
    """A GS1 key, Digital Link or link type is malformed; `http_status` is what a web route answers."""

    http_status = 400


class InvalidGtin(Gs1Error):
    """A GTIN (or GLN) has the wrong length, non-digits or a wrong check digit."""


class InvalidDigitalLink(Gs1Error):
    """A GS1 Digital Link URI or path cannot be parsed."""


class UnknownLinkType(Gs1Error):
    """`?linkType=` names a link this resolver does not offer."""


GS1_VOC = "https://gs1.org/voc/"
#: AI 10 / AI 21 values: GS1 AI encodable character set 82, 1 to 20 characters.
_CSET82 = re.compile(r'^[!"%-?A-Z_a-z]{1,20}$')
#: characters left unescaped in a Digital Link path segment (RFC 3986 unreserved + some sub-delims
#: GS1 lists as safe); everything else in set 82 is percent-encoded.
_SAFE = "-._~!$'()*+,;=:@"

#: Link types this resolver offers: short name (what `?linkType=` may say) -> GS1 vocabulary term.
LINK_TYPES: dict[str, str] = {
    "pip": "gs1:pip",
    "epcis": "gs1:epcis",
    "fsma": "gs1:traceability",
    "eudr": "gs1:sustainabilityInfo",
    "certificate": "gs1:certificationInfo",
}
DEFAULT_LINK_TYPE = "gs1:defaultLink"


def check_digit(body: str) -> int:
    """GS1 mod-10 check digit of the digits before it (weights 3,1,3,... from the right)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def _digits(value: str, what: str) -> str:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidGtin(f"{what} must be digits only, got {value!r}")
    return text


def normalise_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 as the 14-digit form used in Digital Link, after checking its check digit."""
    text = _digits(value, "GTIN")
    if len(text) not in (8, 12, 13, 14):
        raise InvalidGtin(f"GTIN must have 8, 12, 13 or 14 digits, got {len(text)} ({value!r})")
    expected = check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise InvalidGtin(f"GTIN {text} has a wrong check digit: expected {expected}, got {text[-1]}")
    return text.zfill(14)


def is_valid_gtin(value: str) -> bool:
    try:
        normalise_gtin(value)
    except InvalidGtin:
        return False
    return True


def check_gln(value: str) -> str:
    """A 13-digit GLN with a correct check digit (returned unchanged)."""
    text = _digits(value, "GLN")
    if len(text) != 13:
        raise InvalidGtin(f"GLN must have 13 digits, got {len(text)} ({value!r})")
    expected = check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise InvalidGtin(f"GLN {text} has a wrong check digit: expected {expected}, got {text[-1]}")
    return text


def with_check_digit(body: str) -> str:
    """Append the check digit: `with_check_digit("950600013435")` -> "9506000134352"."""
    return body + str(check_digit(_digits(body, "GS1 key")))


def check_cset82(value: str, what: str) -> str:
    if not _CSET82.match(value):
        raise InvalidDigitalLink(
            f"{what} must be 1 to 20 characters of the GS1 AI encodable set 82 "
            f"(letters, digits and !\"%&'()*+,-./:;<=>?_), got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class DigitalLink:
    """A parsed Digital Link: primary key GTIN plus lot (AI 10) or serial (AI 21)."""

    gtin: str
    lot: str | None = None
    serial: str | None = None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return build_path(self.gtin, lot=self.lot, serial=self.serial)

    @property
    def link_type(self) -> str | None:
        return self.query.get("linkType")


def build_path(gtin: str, *, lot: str | None = None, serial: str | None = None) -> str:
    """`/01/{gtin14}[/10/{lot}][/21/{serial}]`, values percent-encoded as GS1 Digital Link asks."""
    path = f"/01/{normalise_gtin(gtin)}"
    if lot is not None:
        path += "/10/" + quote(check_cset82(lot, "lot (AI 10)"), safe=_SAFE)
    if serial is not None:
        path += "/21/" + quote(check_cset82(serial, "serial (AI 21)"), safe=_SAFE)
    return path


def build_uri(
    base: str, gtin: str, *, lot: str | None = None, serial: str | None = None, **query: str
) -> str:
    uri = base.rstrip("/") + build_path(gtin, lot=lot, serial=serial)
    if query:
        uri += "?" + "&".join(f"{k}={quote(str(v), safe=':')}" for k, v in query.items())
    return uri


def parse_path(value: str) -> DigitalLink:
    """Parse a Digital Link URI or path (`https://x/01/…`, `/01/…?linkType=…`)."""
    parts = urlsplit(value)
    segments = [s for s in parts.path.split("/") if s != ""]
    try:
        start = segments.index("01")
    except ValueError:
        raise InvalidDigitalLink(f"no GTIN (AI 01) in {value!r}") from None
    pairs = segments[start:]
    if len(pairs) % 2:
        raise InvalidDigitalLink(f"a Digital Link path is AI/value pairs; {value!r} has an odd segment count")
    gtin = normalise_gtin(unquote(pairs[1]))
    lot = serial = None
    for ai, raw in zip(pairs[2::2], pairs[3::2], strict=True):
        text = unquote(raw)
        if ai == "10" and lot is None and serial is None:
            lot = check_cset82(text, "lot (AI 10)")
        elif ai == "21" and serial is None:
            serial = check_cset82(text, "serial (AI 21)")
        else:
            raise InvalidDigitalLink(
                f"unsupported or misplaced AI {ai!r} in {value!r} (01 then 10 and/or 21)"
            )
    return DigitalLink(gtin, lot, serial, dict(parse_qsl(parts.query)))


def resolve_link_type(value: str | None) -> str:
    """`?linkType=` value -> a key of LINK_TYPES, 'all' or 'default'. Accepts short names, `gs1:` CURIEs
    and full `https://gs1.org/voc/` URIs."""
    if value is None or value == "" or value in ("default", DEFAULT_LINK_TYPE, GS1_VOC + "defaultLink"):
        return "default"
    if value in ("all", "linkset"):
        return "all"
    for short, curie in LINK_TYPES.items():
        if value in (short, curie, GS1_VOC + curie.removeprefix("gs1:")):
            return short
    offered = ", ".join(sorted({*LINK_TYPES, *LINK_TYPES.values(), "all"}))
    raise UnknownLinkType(f"unknown linkType {value!r}; this resolver offers: {offered}")


def link_type_uri(short: str) -> str:
    """Short name -> full GS1 vocabulary URI used in Link headers and linksets."""
    return GS1_VOC + LINK_TYPES[short].removeprefix("gs1:")
