"""Thai and English: gettext catalogs (Babel), language negotiation, Thai Buddhist-era dates, token amounts.

Catalogs live in `frontend/locales/<lang>/LC_MESSAGES/messages.po`; the `.mo` files are committed and
recompiled at start-up when a `.po` is newer (`compile_catalogs`). Extract new strings with
`pybabel extract -F frontend/babel.cfg -o frontend/locales/messages.pot frontend` and update with
`pybabel update -i frontend/locales/messages.pot -d frontend/locales`.
"""

from __future__ import annotations

import gettext
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import get_month_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from tambon.tokens import Token

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("th", "en")
DEFAULT_LANGUAGE = "en"
BUDDHIST_ERA_OFFSET = 543
BANGKOK_OFFSET_SECONDS = 7 * 3600


def compile_catalogs(root: Path = LOCALES_DIR) -> list[Path]:
    """Compile every `.po` whose `.mo` is missing or older; returns the `.mo` files written."""
    written = []
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)
        written.append(mo)
    return written


THAI = re.compile(r"[\u0E00-\u0E7F]")
_PAIR = re.compile(r"^(?P<first>.+?)\s*\((?P<second>[^()]+)\)\s*$")


def local_name(text: Any, lang: str) -> str:
    """The part of a "ไทย (English)" name in `lang`, else the other part; plain names unchanged."""
    if not isinstance(text, str):
        return ""
    text = text.strip()
    match = _PAIR.match(text)
    if match:
        first, second = match["first"], match["second"]
        first_th, second_th = bool(THAI.search(first)), bool(THAI.search(second))
        if first_th != second_th:  # one part in each script
            thai, english = (first, second) if first_th else (second, first)
            return thai if lang == "th" else english
    return text


@cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    try:
        return gettext.translation("messages", localedir=LOCALES_DIR, languages=[lang])
    except FileNotFoundError:
        return gettext.NullTranslations()


def negotiate(accept_language: str | None, cookie: str | None = None, query: str | None = None) -> str:
    """Language from an explicit choice (query, then cookie), else the best `Accept-Language` match."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # earlier entries win ties, as browsers list preferences in order
        score = q - position * 1e-6
        if q > 0 and score > best_q:
            best, best_q = primary, score
    return best


def to_local(ts: int | float | datetime) -> datetime:
    """Unix time (or aware datetime) in Thailand time (UTC+7, no daylight saving)."""
    seconds = ts.timestamp() if isinstance(ts, datetime) else float(ts)
    return datetime.fromtimestamp(seconds + BANGKOK_OFFSET_SECONDS, UTC).replace(tzinfo=None)


def format_date(
    value: int | float | date | datetime | None, lang: str, *, with_time: bool = False, own_zone: bool = False
) -> str:
    """`26 พฤศจิกายน 2569` (Buddhist era) in Thai, `26 November 2026` in English; times in Thailand time,
    or, with `own_zone`, an aware datetime (a record's) at its own offset, named when it is not Thailand's:
    a receipt in Los Angeles keeps the day and hour its record gives."""
    if value is None:
        return "—"
    is_moment = isinstance(value, int | float | datetime)
    keep_zone = own_zone and isinstance(value, datetime) and value.utcoffset() is not None
    if isinstance(value, datetime) and keep_zone:
        moment = value
    elif isinstance(value, int | float | datetime):
        moment = to_local(value)
    else:
        moment = datetime(value.year, value.month, value.day)
    months = get_month_names("wide", locale="th" if lang == "th" else "en")
    year = moment.year + BUDDHIST_ERA_OFFSET if lang == "th" else moment.year
    text = f"{moment.day} {months[moment.month]} {year}"
    if with_time and is_moment:
        text += f" {moment:%H:%M}" + (" น." if lang == "th" else "")
        offset = moment.utcoffset()
        if keep_zone and offset is not None and offset.total_seconds() != BANGKOK_OFFSET_SECONDS:
            zone = f"{moment:%z}"  # -0800
            text += f" (UTC{zone[:3]}:{zone[3:]})"
    return text


def day_to_date(days_since_epoch: int) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(days_since_epoch))


def format_amount(units: int, decimals: int, lang: str, places: int = 2) -> str:
    value = Decimal(int(units)).scaleb(-decimals)
    return format_decimal(value, format=f"#,##0.{'0' * places}", locale="th_TH" if lang == "th" else "en_US")


def format_token(units: int, token: Token, lang: str) -> str:
    """`฿50,000.00` for a stablecoin of the baht in both languages (as Thai receipts print it), from the
    token's currency sign; `1.50 ETH` for a token without one."""
    number = format_amount(units, token.decimals, lang)
    if token.sign:
        return f"{token.sign}{number}"
    return f"{number} {token.symbol}"
