"""`tambon verify batch ID [--json]`: the buyer's checks of a lot, without the website.

It reads the same facts the verify page reads (the chain index when one has been started, else the
node), proves every evidence CID against the bytes the store serves, and runs the core's checks
(`tambon.verify`). Exit status: 0 when no check failed, 3 when one did.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

app = typer.Typer(
    help="Verify a lot as a buyer would: signatures, keys, models, producer, evidence.", no_args_is_help=True
)

EXIT_CHECK_FAILED = 3


@app.command()
def batch(
    batch_id: Annotated[int, typer.Argument(min=1, help="The lot's batch id (the serial on its label).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print every check of the lot and its result (pass / fail / unknown)."""
    import structlog

    from frontend.context import AppContext
    from frontend.services.chain import Head
    from frontend.settings import WebSettings
    from tambon.settings import get_settings

    # diagnostics go to stderr: stdout carries only the report (and stays valid JSON with --json)
    structlog.configure(logger_factory=lambda *_: structlog.PrintLogger(sys.stderr))
    ctx = AppContext(get_settings(), WebSettings())
    if ctx.index is not None:
        found = ctx.index.head()
        assert found is not None  # an index without a cursor is not used
        head = Head(found.number, found.hash, found.timestamp)
        source = "index"
    else:
        head = ctx.reader.head()
        source = "node"
    history = ctx.batches.history(head, batch_id)
    checks = history.checks
    summary = history.summary
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "batch_id": batch_id,
                    "block": head.number,
                    "block_hash": head.hash,
                    "source": source,
                    "summary": summary,
                    "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in checks],
                },
                indent=2,
            )
        )
    else:
        typer.echo(f"batch {batch_id} as of block {head.number} ({source})")
        for c in checks:
            typer.echo(f"  {c.status.upper():<8} {c.name:<16} {c.detail}")
        typer.echo(f"{summary['pass']} passed, {summary['fail']} failed, {summary['unknown']} unknown")
    if summary["fail"]:
        raise typer.Exit(EXIT_CHECK_FAILED)
