"""Every command's help reads well at any terminal width."""

from __future__ import annotations

import inspect

import typer.main

from tambon.cli import _register_subcommands, app


def _commands(command, path: str):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, f"{path} {name}")


def test_every_command__help_paragraphs_reflow():
    """Rich help keeps a paragraph's line breaks after the first one: a docstring wrapped at the
    source's width prints as ragged lines in a narrower terminal. The help gives each paragraph as
    one line instead (see `tambon oracle grade`)."""
    _register_subcommands(None)
    commands = list(_commands(typer.main.get_command(app), "tambon"))
    assert len(commands) > 40
    ragged = [
        path
        for path, command in commands
        for paragraph in inspect.cleandoc(command.help or "").split("\n\n")[1:]
        if "\n" in paragraph.strip()
    ]
    assert ragged == []
