"""Offline field capture (PWA): the page, and its service worker served from the page's own scope."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from frontend.deps import Ctx, Lang
from frontend.services.catalog import crop_label
from frontend.web.pages import chain_info
from oracle.coldchain import load_rules
from tambon.provenance import FIELD_CAPTURE_EVENTS, Stage, event_label
from tambon.records import current_version, load_schema

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static" / "capture"


#: the document a farmer keeps for each field activity, in the page's language: recorded as the step's
#: reference document type when none is typed
USUAL_DOCUMENTS = {
    "en": {"harvesting": "harvest log", "cultivation": "farm diary", "shipping": "delivery note"},
    "th": {"harvesting": "บันทึกการเก็บเกี่ยว", "cultivation": "สมุดบันทึกแปลง", "shipping": "ใบส่งของ"},
}


@router.get("/capture")
async def capture_redirect() -> RedirectResponse:
    return RedirectResponse("/capture/", status_code=308)


@router.get("/capture/", response_class=HTMLResponse)
async def capture_page(request: Request, ctx: Ctx, lang: Lang) -> Response:
    # the record schema travels with the (offline-cached) page: steps are checked on the device with
    # the same rules as the server before they are queued
    return ctx.templates[lang].TemplateResponse(
        request,
        "capture.html",
        {
            "page": "capture",
            "record_schema": load_schema(current_version()),
            "chain": chain_info(ctx),
            # each choice names the stage its step is added under, so the page never guesses it
            "events": [(event, event_label(event), Stage.for_event(event)) for event in FIELD_CAPTURE_EVENTS],
            "usual_documents": USUAL_DOCUMENTS.get(lang, USUAL_DOCUMENTS["en"]),
            # the band a transport log is previewed against, by the lot's crop label (the oracle's rules)
            "crop_bands": {
                crop_label(code): [rule.low_c, rule.high_c]
                for rule in load_rules().crops.values()
                for code in rule.codes
            },
        },
    )


@router.get("/capture/sw.js")
async def service_worker() -> FileResponse:
    # served under /capture/ so that its scope covers the page; never cached by HTTP (updates apply)
    return FileResponse(
        STATIC / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/capture/"},
    )
