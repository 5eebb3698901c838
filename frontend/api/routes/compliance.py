"""Compliance exports of a batch: FSMA 204 sortable spreadsheet (CSV, XLSX) and EUDR due-diligence JSON.

Thin handlers: the batch history service (`ctx.history`) gives the chain events and proven evidence;
`compliance_traces` turns them into `compliance` dataclasses; the pure exporters do the rest.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from compliance import eudr, fsma
from compliance.errors import ComplianceError
from compliance.errors import NotFound as ComplianceNotFound
from compliance.model import Traces
from frontend.deps import ChainHead, Ctx, parse_id
from frontend.errors import BadInput, NotFound
from frontend.services.lots import all_traces, compliance_traces, lot_traces
from tambon.geo import InvalidGeometry
from tambon.gs1 import Gs1Error

router = APIRouter(tags=["compliance"])
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


#: errors of the exports and of the GS1/geo validators they stand on (each carries its HTTP status)
INPUT_ERRORS = (ComplianceError, Gs1Error, InvalidGeometry)


def as_http(exc: Exception) -> Exception:
    """Compliance errors as the site's errors (400 / 404 with the message)."""
    return NotFound(str(exc)) if isinstance(exc, ComplianceNotFound) else BadInput(str(exc))


async def _traces(ctx, head, batch_id: str) -> tuple[int, Traces, Any]:
    bid = parse_id(batch_id, "batch id")
    history = await run_in_threadpool(ctx.history, head, bid)
    traces = await run_in_threadpool(compliance_traces, ctx, history)
    return bid, traces, history


def _rows(traces: Traces, bid: int) -> list[dict[str, Any]]:
    """Every tracking event of the batch and its lineage (the batch's whole traceability record)."""
    return fsma.fsma_rows(Traces({i: traces[i] for i in traces.lineage(bid) if i in traces}))


@router.get("/batch/{batch_id}/fsma204.csv", summary="FSMA 204 sortable spreadsheet of a batch (CSV)")
async def fsma_csv(batch_id: str, ctx: Ctx, head: ChainHead) -> Response:
    """One row per Critical Tracking Event of the batch and its lineage, each linked to its on-chain
    step and evidence CID."""
    bid, traces, _ = await _traces(ctx, head, batch_id)
    body = fsma.to_csv(_rows(traces, bid))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{bid}-fsma204.csv"'},
    )


@router.get("/batch/{batch_id}/fsma204.xlsx", summary="FSMA 204 sortable spreadsheet of a batch (XLSX)")
async def fsma_xlsx(batch_id: str, ctx: Ctx, head: ChainHead) -> Response:
    bid, traces, _ = await _traces(ctx, head, batch_id)
    body = fsma.to_xlsx(_rows(traces, bid), title=f"All events batch {bid}")
    return Response(
        body,
        media_type=XLSX_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="batch-{bid}-fsma204.xlsx"'},
    )


@router.get(
    "/batch/{batch_id}/fsma204.zip", summary="FSMA 204 spreadsheet of a batch as one CSV per CTE (zip)"
)
async def fsma_zip(batch_id: str, ctx: Ctx, head: ChainHead) -> Response:
    """The FDA template's tabs (harvesting.csv ... transformation.csv) and all-events.csv in one zip."""
    bid, traces, _ = await _traces(ctx, head, batch_id)
    body = fsma.to_csv_zip(_rows(traces, bid))
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="batch-{bid}-fsma204.zip"'},
    )


@router.get("/batch/{batch_id}/eudr.json", summary="EUDR due-diligence data of a batch")
async def eudr_json(batch_id: str, ctx: Ctx, head: ChainHead) -> JSONResponse:
    """Plots as GeoJSON (WGS84), production period, HS code, countries, supplier/buyer, and flags
    (`unknown_origin` when a merge mixed in a batch without plot geolocation)."""
    bid, traces, history = await _traces(ctx, head, batch_id)
    try:
        statement = eudr.eudr_statement(
            traces, bid, resolver=ctx.settings.public_url, fallback_gtin=history.gtin
        )
    except INPUT_ERRORS as exc:
        raise as_http(exc) from exc
    return JSONResponse(statement)


@router.get("/batch/{batch_id}/eudr.geojson", summary="EUDR plot geolocation of a batch (GeoJSON)")
async def eudr_geojson(batch_id: str, ctx: Ctx, head: ChainHead) -> Response:
    """The statement's plots as a standalone GeoJSON FeatureCollection (RFC 7946, WGS84), the file
    the EU information system takes; each feature names the lot's GTIN, lot code and Digital Link."""
    bid, traces, history = await _traces(ctx, head, batch_id)
    try:
        statement = eudr.eudr_statement(
            traces, bid, resolver=ctx.settings.public_url, fallback_gtin=history.gtin
        )
    except INPUT_ERRORS as exc:
        raise as_http(exc) from exc
    return JSONResponse(
        eudr.geojson(statement),
        media_type="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="batch-{bid}-eudr.geojson"'},
    )


async def _selection(ctx, lot: str | None, start: str | None, end: str | None) -> list[dict[str, Any]]:
    if not (lot or start or end):
        raise BadInput("give lot and/or from/to (the FDA asks for a lot or a date range)")
    # a lot alone reads only that lot's batches and lineage (from the index's lots table)
    if lot and not (start or end):
        traces = await run_in_threadpool(lot_traces, ctx, lot)
    else:
        traces = await run_in_threadpool(all_traces, ctx)
    try:
        return fsma.fsma_rows(traces, lot=lot, start=start, end=end)
    except INPUT_ERRORS as exc:
        raise as_http(exc) from exc


LotQuery = Query(default=None, max_length=20, description="traceability lot code")
FromQuery = Query(default=None, alias="from", max_length=10, description="first event date, YYYY-MM-DD")
ToQuery = Query(default=None, alias="to", max_length=10, description="last event date, YYYY-MM-DD")


@router.get("/fsma204.csv", summary="FSMA 204 sortable spreadsheet of a lot and/or a date range (CSV)")
async def fsma_selection_csv(ctx: Ctx, lot: str | None = LotQuery, start: str | None = FromQuery,
                             end: str | None = ToQuery) -> Response:  # fmt: skip
    """Every batch carrying the lot (with its lineage) and/or every event in the date range, as
    `tambon export fsma204` gives it."""
    rows = await _selection(ctx, lot, start, end)
    return Response(fsma.to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="fsma204.csv"'})  # fmt: skip


@router.get("/fsma204.xlsx", summary="FSMA 204 sortable spreadsheet of a lot and/or a date range (XLSX)")
async def fsma_selection_xlsx(ctx: Ctx, lot: str | None = LotQuery, start: str | None = FromQuery,
                              end: str | None = ToQuery) -> Response:  # fmt: skip
    rows = await _selection(ctx, lot, start, end)
    return Response(fsma.to_xlsx(rows), media_type=XLSX_MEDIA,
                    headers={"Content-Disposition": 'attachment; filename="fsma204.xlsx"'})  # fmt: skip


@router.get(
    "/fsma204.zip", summary="FSMA 204 spreadsheet of a lot and/or a date range as one CSV per CTE (zip)"
)
async def fsma_selection_zip(ctx: Ctx, lot: str | None = LotQuery, start: str | None = FromQuery,
                             end: str | None = ToQuery) -> Response:  # fmt: skip
    rows = await _selection(ctx, lot, start, end)
    return Response(fsma.to_csv_zip(rows), media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="fsma204.zip"'})  # fmt: skip
