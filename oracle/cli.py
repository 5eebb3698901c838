"""`tambon oracle ...`: grade photos, print the grading mat, judge a cold-chain log, run the chain service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from oracle.errors import ImageError, OracleError
from oracle.marker import DEFAULT_MARKER_ID, DEFAULT_MARKER_MM

app = typer.Typer(
    help="AI oracle: grade produce photos, judge cold-chain logs, attest both on-chain.", no_args_is_help=True
)


@app.command(
    # One string per paragraph: the help reflows them to the terminal's width.
    help=(
        "Grade local photos without the chain. Bad files print `error: ...` and exit non-zero.\n\n"
        "A photo the grader cannot judge prints `needs human review: <reason>` instead of a grade: no whole "
        "fruit in it, not the lot's fruit, or a skin condition it cannot tell apart from another (for "
        "example alternaria or black mould rot): when unsure, a person decides, never a guess. A photo of "
        "several fruits is graded by its main one, which --explain outlines."
    )
)
def grade(
    images: Annotated[
        list[Path], typer.Argument(help="Photos to grade (JPEG, PNG, WebP, BMP, TIFF), or folders of them.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image, one per line.")] = False,
    marker_mm: Annotated[
        float, typer.Option(help="Width of the marker's black square in mm.")
    ] = DEFAULT_MARKER_MM,
    marker_id: Annotated[
        int, typer.Option(help="ArUco id of the reference marker (DICT_4X4_50).")
    ] = DEFAULT_MARKER_ID,
    weight_g: Annotated[float | None, typer.Option(help="Fruit weight from the batch record (g).")] = None,
    crop: Annotated[
        str | None,
        typer.Option(help="The lot's fruit (mango, durian...): a photo of another fruit abstains."),
    ] = None,
    explain: Annotated[
        Path | None,
        typer.Option(help="Write <photo>.overlay.png per photo here: outline and defect regions drawn."),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Processes measuring photos (default: cores).")] = None,
) -> None:
    """Grade local photos without the chain (see the command's help)."""
    from oracle.grader import Grader

    if not 10 <= marker_mm <= 150:
        raise OracleError(f"--marker-mm must be between 10 and 150, got {marker_mm}")
    if explain is not None:
        try:
            explain.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OracleError(f"--explain folder {explain} cannot be created: {exc.strerror}") from exc
    photos = _photos(images)
    grader = Grader(marker_mm=marker_mm, marker_id=marker_id)
    failed = 0
    for result in grader.grade_files(photos, workers=workers, weight_g=weight_g, crop=crop):
        if isinstance(result, ImageError):
            typer.echo(f"error: {result}", err=True)
            failed += 1
            continue
        row = result.as_json()
        if explain is not None:
            row["overlay"] = str(_write_overlay(Path(result.file), explain))
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            typer.echo(describe_result(result) + (f" (overlay {row['overlay']})" if explain else ""))
    if failed:
        raise typer.Exit(2)


def _photos(paths: list[Path]) -> list[Path]:
    """The files named, a folder giving its photos (by name, not its subfolders); anything else is
    passed on, so that a missing or unreadable file gets its own error line."""
    from oracle.measure import IMAGE_SUFFIXES

    photos: list[Path] = []
    for path in paths:
        if not path.is_dir():
            photos.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise OracleError(f"folder {path} holds no photos ({', '.join(IMAGE_SUFFIXES)})")
        photos += found
    return photos


def _write_overlay(photo: Path, folder: Path) -> Path:
    from oracle.explain import overlay_png

    target = folder / f"{photo.stem}.overlay.png"
    target.write_bytes(overlay_png(photo.read_bytes(), str(photo)))
    return target


def describe_result(result) -> str:
    """One readable line: the grade and why, or what a person has to look at."""
    from oracle.grader import ABSTAIN, CONDITION_LABELS

    if result.grade == ABSTAIN:
        return f"{result.file}: {result.reason}"
    parts = [f"{result.file}: {result.grade} ({result.confidence:.0%})"]
    if result.condition is not None:
        condition = (
            f"{CONDITION_LABELS.get(result.condition, result.condition)} {result.condition_probability:.0%}"
        )
        if result.condition_alternative is not None:
            alternative = CONDITION_LABELS.get(result.condition_alternative, result.condition_alternative)
            condition += f" or {alternative} {result.condition_alternative_probability:.0%}"
        parts.append(condition)
    if result.length_mm is not None:
        parts.append(f"{result.length_mm:.0f} x {result.width_mm:.0f} mm")
    else:
        parts.append(f"size unknown ({result.size_unknown})")
    stage = {0: "green", 1: "breaking", 2: "ripe"}.get(result.colour_stage)
    if stage:
        parts.append(f"colour {stage}")
    if result.defect_fraction is not None:
        parts.append(f"dark or pale patches {result.defect_fraction:.1%} of the skin")
    if result.other_fruits:
        others = "another fruit" if result.other_fruits == 1 else f"{result.other_fruits} other fruits"
        parts.append(f"{others} in the photo not graded (the outlined one is)")
    return ", ".join(parts)


@app.command()
def mat(
    out: Annotated[Path, typer.Argument(help="Output file: .pdf, .png, or no suffix for both.")] = Path(
        "grading-mat"
    ),
    marker_mm: Annotated[
        float, typer.Option(help="Width of the marker's black square in mm.")
    ] = DEFAULT_MARKER_MM,
    marker_id: Annotated[int, typer.Option(help="ArUco id (DICT_4X4_50, 0-49).")] = DEFAULT_MARKER_ID,
    dpi: Annotated[int, typer.Option(help="Resolution of the PNG/PDF raster.")] = 300,
) -> None:
    """Write the printable A4 grading mat with the reference marker at true scale."""
    from oracle.marker import write_mat

    if not 72 <= dpi <= 1200:
        raise OracleError(f"--dpi must be between 72 and 1200, got {dpi}")
    for path in write_mat(out, marker_mm, marker_id, dpi):
        typer.echo(str(path))


@app.command()
def run(
    keystore: Annotated[
        Path | None, typer.Option(help="Encrypted oracle keystore (password from TAMBON_KEYSTORE_PASSWORD).")
    ] = None,
    dev_account: Annotated[
        int | None, typer.Option(help="Demo account index; refused on any chain but a local one.")
    ] = None,
    confirmations: Annotated[int | None, typer.Option(help="Blocks to wait before grading.")] = None,
    once: Annotated[bool, typer.Option("--once", help="Do one pass and exit.")] = False,
) -> None:
    """Watch BatchProvenance: grade batches' photos, judge TRANSPORT steps' temperature logs, attest both."""
    import structlog

    from evidence.remote import open_store
    from oracle.coldchain.service import ColdChainOracle
    from oracle.grader import Grader
    from oracle.service import Oracle, OracleSettings, ProvenanceScan, run_services
    from tambon.accounts import load_account
    from tambon.chain import Chain
    from tambon.index.reader import IndexReader

    settings = OracleSettings()
    if confirmations is not None:
        if confirmations < 0:
            raise OracleError("--confirmations must not be negative")
        settings.confirmations = confirmations
    chain = Chain()
    chain.check_connected()
    account = load_account(
        chain.chain_id,
        keystore=keystore or settings.keystore,
        demo_index=dev_account if dev_account is not None else settings.demo_account,
    )
    state_file = settings.state_file or chain.settings.data_dir / "oracle" / f"state-{chain.chain_id}.json"
    # the scans read the chain index when one runs (and is canonical up to the range), else the node
    index = IndexReader.started(chain.settings)
    provenance_address = chain.contract("BatchProvenance").address
    oracle = Oracle(
        chain.w3,
        chain.contract("BatchProvenance"),
        chain.contract("AttestationRegistry"),
        account,
        open_store(),
        Grader(),
        state_file,
        start_block=chain.deployment.block,
        settings=settings,
        scan=ProvenanceScan(chain.w3, provenance_address, index),
    )
    oracle.preflight()
    services: list[Oracle] = [oracle]
    coldchain = ColdChainOracle(
        chain.w3,
        chain.contract("BatchProvenance"),
        chain.contract("AttestationRegistry"),
        account,
        oracle.store,
        state_file.with_name(f"coldchain-{state_file.name}"),
        start_block=chain.deployment.block,
        settings=settings,
        scan=ProvenanceScan(chain.w3, provenance_address, index),
    )
    try:
        coldchain.preflight()
        services.append(coldchain)
    except OracleError as exc:  # grading still runs; the council has not approved the crop rules yet
        structlog.get_logger("oracle").warning("oracle.coldchain_off", reason=str(exc))
    structlog.get_logger("oracle").info(
        "oracle.start",
        key=account.address,
        model=oracle.model_sha.hex()[:16],
        coldchain_rules=coldchain.rules.sha256[:16] if coldchain in services else None,
        state=str(state_file),
        reads="index then node" if index is not None else "node",
    )
    if once:
        names = {Oracle: "grading", ColdChainOracle: "coldchain"}
        typer.echo(json.dumps({names[type(s)]: s.step() for s in services}))
        return
    run_services(services)


def _unix_time(text: str | None, option: str) -> int | None:
    from datetime import datetime

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise OracleError(f"{option} must be an ISO 8601 time with offset, got {text!r}") from exc
    if moment.tzinfo is None:
        raise OracleError(f"{option} needs a UTC offset (e.g. 2026-11-04T08:00+07:00), got {text!r}")
    return int(moment.timestamp())


@app.command()
def coldchain(
    log: Annotated[
        Path, typer.Argument(help="Logger export: CSV, EPCIS 2.0 JSON or an evidence record.json.")
    ],
    crop: Annotated[str, typer.Option(help="Crop name (mango, durian, rice...) or project crop code.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole analysis as one JSON object.")
    ] = False,
    tz: Annotated[
        str, typer.Option(help="Time zone of times written without an offset (IANA name or +07:00).")
    ] = "Asia/Bangkok",
    start: Annotated[
        str | None,
        typer.Option("--from", help="Transport start (ISO 8601 with offset): the log must cover it."),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Transport end (ISO 8601 with offset).")] = None,
) -> None:
    """Judge a transport's temperature log for a crop, without the chain (verdict, MKT, shelf life)."""
    from oracle.coldchain import analyse, load_rules, read_log

    rules = load_rules()
    rule = rules.for_crop(crop)
    try:
        data = log.read_bytes()
    except OSError as exc:
        raise OracleError(f"cannot read {log}: {exc.strerror}") from exc
    begin, finish = _unix_time(start, "--from"), _unix_time(end, "--to")
    if (begin is None) != (finish is None):
        raise OracleError("--from and --to go together")
    window = (begin, finish) if begin is not None and finish is not None else None
    if window and window[0] >= window[1]:
        raise OracleError("--from must be before --to")
    report = analyse(read_log(data, log.name, tz), rule, rules.sha256, window)
    if as_json:
        typer.echo(json.dumps({"file": str(log), **report.as_json()}, ensure_ascii=False))
        return
    typer.echo(f"{log}: {report.verdict.name} for {rule.name} ({rule.low_c:g}–{rule.high_c:g} °C)")
    for reason in report.reasons:
        typer.echo(f"  - {reason}")
    if report.mkt_c is not None:
        typer.echo(
            f"  {report.points} readings, {report.min_c:.1f} to {report.max_c:.1f} °C, "
            f"MKT {report.mkt_c:.2f} °C, {report.minutes_out_of_range:.0f} min out of range"
        )
    if report.shelf_life_days is not None:
        typer.echo(
            f"  shelf life left at {rule.reference_c:g} °C: about {report.shelf_life_days:.0f} days "
            f"({report.shelf_life_low_days:.0f}–{report.shelf_life_high_days:.0f})"
        )
    typer.echo(f"  rules sha256 {rules.sha256}")
