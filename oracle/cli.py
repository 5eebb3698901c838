"""`tambon oracle ...`: grade photos, print the grading mat, run the chain service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from oracle.errors import ImageError, OracleError
from oracle.marker import DEFAULT_MARKER_ID, DEFAULT_MARKER_MM

app = typer.Typer(
    help="AI grading oracle: grade produce photos and attest grades on-chain.", no_args_is_help=True
)


@app.command()
def grade(
    images: Annotated[list[Path], typer.Argument(help="Photos to grade (JPEG, PNG, WebP, BMP, TIFF).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image, one per line.")] = False,
    marker_mm: Annotated[
        float, typer.Option(help="Width of the marker's black square in mm.")
    ] = DEFAULT_MARKER_MM,
    marker_id: Annotated[
        int, typer.Option(help="ArUco id of the reference marker (DICT_4X4_50).")
    ] = DEFAULT_MARKER_ID,
    weight_g: Annotated[float | None, typer.Option(help="Fruit weight from the batch record (g).")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes measuring photos (default: cores).")] = None,
) -> None:
    """Grade local photos without the chain. Bad files print `error: ...` and exit non-zero."""
    from oracle.grader import Grader

    if not 10 <= marker_mm <= 150:
        raise OracleError(f"--marker-mm must be between 10 and 150, got {marker_mm}")
    grader = Grader(marker_mm=marker_mm, marker_id=marker_id)
    failed = 0
    for result in grader.grade_files(images, workers=workers, weight_g=weight_g):
        if isinstance(result, ImageError):
            typer.echo(f"error: {result}", err=True)
            failed += 1
            continue
        if as_json:
            typer.echo(json.dumps(result.as_json(), ensure_ascii=False))
        else:
            size = (
                f"{result.length_mm:.0f} x {result.width_mm:.0f} mm"
                if result.length_mm is not None
                else "size unknown (no marker)"
            )
            stage = {0: "green", 1: "breaking", 2: "ripe", None: "-"}[result.colour_stage]
            defects = "-" if result.defect_fraction is None else f"{result.defect_fraction:.1%}"
            line = (
                f"{result.file}: {result.grade} ({result.confidence:.0%}) {size}, colour {stage}, "
                f"defects {defects}"
            )
            if result.reason:
                line += f" - {result.reason}"
            typer.echo(line)
    if failed:
        raise typer.Exit(2)


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
