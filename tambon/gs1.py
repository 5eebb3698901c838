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
from urllib.parse import quote, unquote, unquote_plus

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


# --- Application Identifiers a Digital Link may carry (GS1 General Specifications §3) ---------

_X = "[!\"%&'()*+,\\-./0-9:;<=>?A-Z_a-z]"  # a character of the AI encodable set 82
_YYMMDD = "[0-9]{2}(?:0[1-9]|1[0-2])(?:[0-2][0-9]|3[01])"


@dataclass(frozen=True, slots=True)
class AiFormat:
    """An AI's value syntax: a regular expression, and how many leading digits a check digit closes."""

    pattern: str
    check_digit_length: int = 0


def _ai_table() -> dict[str, AiFormat]:
    table = {
        "00": AiFormat("[0-9]{18}", 18),  # SSCC
        "01": AiFormat("[0-9]{14}", 14),  # GTIN
        "02": AiFormat("[0-9]{14}", 14),  # GTIN of contained trade items
        "10": AiFormat(f"{_X}{{1,20}}"),  # batch/lot
        "21": AiFormat(f"{_X}{{1,20}}"),  # serial
        "22": AiFormat(f"{_X}{{1,20}}"),  # consumer product variant
        "235": AiFormat(f"{_X}{{1,28}}"),  # third-party controlled serial extension
        "253": AiFormat(f"[0-9]{{13}}{_X}{{0,17}}", 13),  # GDTI
        "254": AiFormat(f"{_X}{{1,20}}"),  # GLN extension
        "30": AiFormat("[0-9]{1,8}"),  # variable count
        "37": AiFormat("[0-9]{1,8}"),  # count of trade items
        "401": AiFormat(f"{_X}{{1,30}}"),  # GINC
        "414": AiFormat("[0-9]{13}", 13),  # GLN of a physical location
        "8004": AiFormat(f"{_X}{{1,30}}"),  # GIAI
        "8018": AiFormat("[0-9]{18}", 18),  # GSRN
        "8019": AiFormat("[0-9]{1,10}"),  # service relation instance
    }
    for ai in ("11", "13", "15", "16", "17"):  # production, packaging, best before, sell by, expiry
        table[ai] = AiFormat(_YYMMDD)
    for prefix in ("310", "311", "312", "313", "314", "315", "316", "320", "330", "356"):
        for d in "012345":
            table[prefix + d] = AiFormat("[0-9]{6}")  # trade measures, d = decimal places
    for d in "0123456789":
        table["392" + d] = AiFormat("[0-9]{1,15}")  # price, d = decimal places
    for company_ai in range(91, 100):
        table[str(company_ai)] = AiFormat(f"{_X}{{1,90}}")  # company internal
    return table


AI_FORMATS = _ai_table()
#: primary keys and their qualifier paths: each qualifier may be left out, the order is fixed
PRIMARY_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "00": (),
    "01": (("22", "10", "21"), ("235",)),
    "253": (),
    "401": (),
    "414": (("254",),),
    "8004": (),
    "8018": (("8019",),),
}
#: AIs whose length is predefined by their first two digits: no FNC1 separator follows them
_PREDEFINED = frozenset(
    ["00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"]
    + ["31", "32", "33", "34", "35", "36", "41"]
)
#: the short names `permit_convenience_alphas` accepts in place of an AI
CONVENIENCE_ALPHAS = {"gtin": "01", "cpv": "22", "lot": "10", "ser": "21", "sscc": "00", "gln": "414"}
_URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")
_URI = re.compile(r"^(http|HTTP|https|HTTPS)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$")
_HOST = re.compile(r"^(?:[A-Za-z0-9\-._~]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$")


def check_ai_value(ai: str, value: str, *, zero_suppressed: bool = False) -> str:
    """The value of an AI after checking its syntax and check digit (a GTIN-8/12/13 is padded to 14
    digits when `zero_suppressed` allows it)."""
    fmt = AI_FORMATS.get(ai)
    if fmt is None:
        raise InvalidDigitalLink(f"AI ({ai}) is not an Application Identifier this resolver knows")
    if ai in ("01", "02") and zero_suppressed and len(value) in (8, 12, 13) and value.isdigit():
        value = value.zfill(14)
    if not re.fullmatch(fmt.pattern, value):
        raise InvalidDigitalLink(f"AI ({ai}) value {value[:40]!r} does not follow its GS1 syntax")
    if fmt.check_digit_length:
        key = value[: fmt.check_digit_length]
        if check_digit(key[:-1]) != int(key[-1]):
            raise InvalidDigitalLink(f"AI ({ai}) value {value} has a wrong check digit")
    return value


@dataclass(frozen=True, slots=True)
class DigitalLink:
    """A parsed Digital Link: the primary key, its qualifiers (path), data attributes (query AIs) and
    the other query parameters (`linkType`, ...), each in the order written."""

    key: tuple[str, str]
    qualifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    query: dict[str, str] = field(default_factory=dict)

    def _qualifier(self, ai: str) -> str | None:
        return next((v for a, v in self.qualifiers if a == ai), None)

    @property
    def gtin(self) -> str | None:
        return self.key[1] if self.key[0] == "01" else None

    @property
    def lot(self) -> str | None:
        return self._qualifier("10")

    @property
    def serial(self) -> str | None:
        return self._qualifier("21")

    @property
    def path(self) -> str:
        return "".join(f"/{ai}/{escape(v)}" for ai, v in (self.key, *self.qualifiers))

    @property
    def link_type(self) -> str | None:
        return self.query.get("linkType")

    def element_string(self) -> str:
        """The GS1 element string, `^` standing for FNC1 (as GS1's syntax engine prints it)."""
        out = "^"
        elements = (self.key, *self.qualifiers, *self.attributes)
        for i, (ai, value) in enumerate(elements):
            out += ai + value
            if ai[:2] not in _PREDEFINED and i < len(elements) - 1:
                out += "^"
        return out


def escape(value: str) -> str:
    """A Digital Link path or query value: every character outside RFC 3986's unreserved set is
    percent-encoded (GS1 Digital Link 1.4 §6; `! ' ( ) * + , ; = :` included, as GS1's tools ask)."""
    return quote(value, safe="")


def check_link_value(value: str, what: str) -> str:
    """A lot or serial a Digital Link can carry: set 82 without `"`, which GS1's digital-link.js
    refuses even percent-encoded (its syntax engine takes it: the stricter of the two wins)."""
    check_cset82(value, what)
    if '"' in value:
        raise InvalidDigitalLink(f"{what} {value!r} has a double quote, which GS1 Digital Link tools refuse")
    return value


def build_path(gtin: str, *, lot: str | None = None, serial: str | None = None) -> str:
    """`/01/{gtin14}[/10/{lot}][/21/{serial}]`, values percent-encoded as GS1 Digital Link asks."""
    path = f"/01/{normalise_gtin(gtin)}"
    if lot is not None:
        path += "/10/" + escape(check_link_value(lot, "lot (AI 10)"))
    if serial is not None:
        path += "/21/" + escape(check_link_value(serial, "serial (AI 21)"))
    return path


def build_uri(
    base: str, gtin: str, *, lot: str | None = None, serial: str | None = None, **query: str
) -> str:
    uri = base.rstrip("/") + build_path(gtin, lot=lot, serial=serial)
    if query:
        uri += "?" + "&".join(f"{k}={quote(str(v), safe=':')}" for k, v in query.items())
    return uri


def _decode(raw: str, where: str, *, plus_is_space: bool = False) -> str:
    text = unquote_plus(raw) if plus_is_space else unquote(raw)
    if not text:
        raise InvalidDigitalLink(f"{where} has an empty value")
    return text


def _qualifier_path_fits(key: str, qualifiers: list[str]) -> bool:
    """Whether the qualifiers are one of the key's qualifier paths, in its order, none repeated."""
    if not qualifiers:
        return True
    for path in PRIMARY_KEYS[key]:
        positions = [path.index(q) for q in qualifiers if q in path]
        if len(positions) == len(qualifiers) and positions == sorted(set(positions)):
            return True
    return False


def parse_uri(
    value: str,
    *,
    permit_zero_suppressed_gtin: bool = False,
    permit_convenience_alphas: bool = False,
    permit_unknown_ais: bool = False,
) -> DigitalLink:
    """Parse a GS1 Digital Link URI as GS1's syntax engine does: `http(s)://host[/stem]/{key}/{value}
    [/{qualifier}/{value}...][?{ai}={value}&...]`, the rightmost primary key starting the key path."""
    if not _URI_CHARS.match(value):
        raise InvalidDigitalLink(f"{value[:80]!r} holds characters a URI may not (or a bad %-escape)")
    match = _URI.match(value)
    if match is None:
        raise InvalidDigitalLink(f"{value[:80]!r} is not an http(s) URI")
    _, host, path, query = match.groups()
    if not _HOST.match(host) or (
        ":" in host.rsplit("]", 1)[-1] and int("0" + host.rsplit(":", 1)[1]) > 65535
    ):
        raise InvalidDigitalLink(f"{host[:80]!r} is not a host name or address")
    segments = path.split("/")[1:] if path else []
    if any(s == "" for s in segments):
        raise InvalidDigitalLink(f"{path[:80]!r} has an empty path segment")

    def ai_of(segment: str) -> str:
        if permit_convenience_alphas and segment in CONVENIENCE_ALPHAS:
            return CONVENIENCE_ALPHAS[segment]
        return segment

    start = next((i for i in range(len(segments) - 2, -1, -2) if ai_of(segments[i]) in PRIMARY_KEYS), None)
    if start is None:
        raise InvalidDigitalLink(f"no GS1 primary key (such as /01/ GTIN) in {path[:80]!r}")
    pairs = [(ai_of(segments[i]), segments[i + 1]) for i in range(start, len(segments), 2)]
    key_ai = pairs[0][0]
    key = (key_ai, check_ai_value(key_ai, _decode(pairs[0][1], f"AI ({key_ai})"),
                                  zero_suppressed=permit_zero_suppressed_gtin))  # fmt: skip
    qualifiers: list[tuple[str, str]] = []
    for ai, raw in pairs[1:]:
        if not _qualifier_path_fits(key_ai, [*(a for a, _ in qualifiers), ai]):
            raise InvalidDigitalLink(f"AI ({ai}) is not a qualifier of ({key_ai}) at that place in the path")
        qualifiers.append((ai, check_ai_value(ai, _decode(raw, f"AI ({ai})"))))
    seen = {key_ai, *(a for a, _ in qualifiers)}
    attributes = []
    params: dict[str, str] = {}
    for item in (query or "").split("&"):
        if not item or "=" not in item:
            continue  # empty or singleton parameters carry no AI
        name, _, raw = item.partition("=")
        ai = CONVENIENCE_ALPHAS.get(name, name) if permit_convenience_alphas else name
        if not ai.isdigit():
            params[name] = unquote_plus(raw)
            continue
        if ai in seen:
            raise InvalidDigitalLink(f"AI ({ai}) is given twice")
        if _qualifier_path_fits(key_ai, [*(a for a, _ in qualifiers), ai]):
            raise InvalidDigitalLink(f"AI ({ai}) qualifies ({key_ai}): it belongs in the path, not the query")
        text = _decode(raw, f"AI ({ai})", plus_is_space=True)
        if ai not in AI_FORMATS:
            if not permit_unknown_ais:
                raise InvalidDigitalLink(f"AI ({ai}) is not an Application Identifier this resolver knows")
            if "\x00" in text:
                raise InvalidDigitalLink(f"AI ({ai}) value holds a NUL character")
        else:
            text = check_ai_value(ai, text, zero_suppressed=permit_zero_suppressed_gtin)
        seen.add(ai)
        attributes.append((ai, text))
    return DigitalLink(key, tuple(qualifiers), tuple(attributes), params)


def parse_path(value: str) -> DigitalLink:
    """Parse a Digital Link URI, or a path as a resolver receives it (`/01/…?linkType=…`), whose key
    must be a GTIN (AI 01), the only key this resolver answers for."""
    link = parse_uri("https://resolver.invalid" + value if value.startswith("/") else value)
    if link.gtin is None:
        raise InvalidDigitalLink(f"this resolver answers GTINs (AI 01), not AI ({link.key[0]})")
    return link


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
