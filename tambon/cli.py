"""The `tambon` command: one entry point for every package.

Packages register their sub-commands under the `tambon.cli` entry-point group (pyproject.toml),
so the core never imports `evidence`, `oracle` or `frontend` itself.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

from tambon import __version__, stack_cli
from tambon.errors import TambonError

app = typer.Typer(
    name="tambon",
    help="Tambon Trust: community grants and verifiable produce provenance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


app.command()(stack_cli.deploy)
app.command()(stack_cli.demo)
app.command()(stack_cli.status)
app.command()(stack_cli.stop)


def _register_subcommands(command: str | None) -> None:
    """The packages' command groups: only the one named when it is one of them (a run of one command
    does not import every package), else all of them (help, or an unknown command's message)."""
    groups = sorted(entry_points(group="tambon.cli"), key=lambda e: e.name)
    named = [entry for entry in groups if entry.name == command]
    for entry in named or groups:
        app.add_typer(entry.load(), name=entry.name)


#: commands of the core itself: they run without loading the other packages' commands
CORE_COMMANDS = frozenset({"version", "deploy", "demo", "status", "stop"})


def main() -> None:
    """Run the CLI; expected failures become one `error:` line and a non-zero exit code.

    Usage errors are click's own (usage line, exit code 2); anything else unexpected is a bug and
    keeps its traceback.
    """
    command = sys.argv[1] if len(sys.argv) > 1 else None
    if command not in CORE_COMMANDS:
        _register_subcommands(command)
    try:
        app()
    except TambonError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("aborted", err=True)
        sys.exit(130)
