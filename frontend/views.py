"""Thin glue between routes and services: pinned reads, cached renders, JSON shapes."""

from __future__ import annotations

import html
from functools import lru_cache, partial
from typing import Any

from compliance.epcis import epcis_document
from frontend import i18n, verify_view
from frontend.context import AppContext, IndexStatus
from frontend.services.batches import BatchHistory
from frontend.services.chain import Head
from frontend.services.charts import budget_chart
from frontend.services.coldchain import with_coldchain
from frontend.services.lots import compliance_traces, identified
from frontend.services.qr import qr_svg


def epcis_json(ctx: AppContext, history: BatchHistory) -> dict[str, Any]:
    """The batch and its lineage as an EPCIS 2.0 document (`compliance.epcis`), read at the history's head."""
    document = epcis_document(
        compliance_traces(ctx, history),
        history.batch_id,
        fallback_gtin=history.gtin,
        created=history.head.timestamp,
    )
    return with_coldchain(document, history.coldchain)


def render_batch(
    ctx: AppContext, head: Head, batch_id: int, lang: str, key: tuple | None = None
) -> tuple[tuple, bytes]:
    """The verify page for `key` (from `AppContext.lot_page`), rendered once per version of the lot
    (see `AppContext.version`), and the key it is kept under (`AppContext.render_lot_page`)."""
    key = key or ("batch", batch_id, ctx.version(head, batch_id), lang)

    def make(version: str) -> tuple[str, bytes]:
        made, history = ctx.versioned_history(head, batch_id, version)
        history = identified(ctx, head, history)
        template = ctx.templates[lang].get_template("batch.html")
        gettext = i18n.translations(lang).gettext
        return made, template.render(
            h=history,
            qr=qr_svg(history.digital_link, scale=3, inline=True),
            page="batch",
            verdict=verify_view.verdict(history, gettext),
            timeline=verify_view.step_views(history, lang, gettext),
            names=verify_view.party_names(history, lang),
            record_reader=verify_view.RecordReader(lang, gettext),
        ).encode("utf-8")

    return ctx.render_lot_page(key, make)


_ASOF_START, _ASOF_END = b"<!--asof-->", b"<!--/asof-->"


def stamp_asof(body: bytes, head: Head, lang: str, status: IndexStatus | None) -> bytes:
    """Put the index's current block (and how fresh it is) into a cached page: the page's facts are
    unchanged since it was rendered, so they hold at this block too."""
    start = body.find(_ASOF_START)
    end = body.find(_ASOF_END, start)
    if start < 0 or end < 0:
        return body
    lag = None if status is None else (status.lag_blocks, status.lag_s, round(status.confirmed_s))
    return body[:start] + _asof(head.number, head.timestamp, lang, lag) + body[end:]


@lru_cache(maxsize=256)
def _asof(number: int, timestamp: int, lang: str, lag: tuple[int, int, int] | None) -> bytes:
    """The "as of" line (between its markers' start), the same for every page at one block."""
    gettext = i18n.translations(lang).gettext
    block = gettext("Read from block %(n)s of the chain") % {"n": number}
    text = f"{block} ({i18n.format_date(timestamp, lang, with_time=True)})"
    if lag is not None:
        blocks, seconds, confirmed = lag
        text += " · " + gettext("index %(blocks)s blocks (%(s)s s) behind the chain head") % {
            "blocks": blocks,
            "s": seconds,
        }
        text += " · " + gettext("index checked against the chain %(s)s s ago") % {"s": confirmed}
    return _ASOF_START + html.escape(text).encode()


def render_grants(ctx: AppContext, head: Head, lang: str) -> bytes:
    def make() -> bytes:
        board = ctx.grants.dashboard(head)
        charts = {}
        for address, points in board.series.items():
            start = min([p.timestamp for p in points] or [head.timestamp])
            gettext = i18n.translations(lang).gettext
            charts[address] = budget_chart(
                board.totals(address).budget,
                points,
                start,
                head.timestamp,
                money=partial(i18n.format_token, token=board.tokens[address], lang=lang),
                date=partial(_date, lang=lang),
                labels={
                    "budget": gettext("Budget"),
                    "funded": gettext("Funded"),
                    "released": gettext("Released"),
                },
                title=gettext("Budget, funded and released over time") + f" ({board.token_label(address)})",
            )
        reasons = {
            m.rejection_cid: ctx.evidence.prove(m.rejection_cid).text
            for g in board.grants
            for m in g.milestones
            if m.rejection_cid
        }
        template = ctx.templates[lang].get_template("grants.html")
        return template.render(board=board, charts=charts, page="grants", reasons=reasons).encode("utf-8")

    return ctx.page(("grants", head.hash, lang), make)


def _date(ts: int, lang: str) -> str:
    return i18n.format_date(ts, lang)
