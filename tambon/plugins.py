"""Functions the packages above the core lend it, found by name under the `tambon.plugins` entry-point
group (pyproject.toml), so the core calls them without importing a package above it (as `tambon.cli`
finds their commands)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from tambon.errors import TambonError


def plugin(name: str) -> Any:
    """The object a package registered as `name`; a clear error when no installed package did."""
    found = entry_points(group="tambon.plugins", name=name)
    if not found:
        raise TambonError(f"no installed package provides {name!r} (run `make install`)")
    return next(iter(found)).load()
