"""GS1's published artefacts the tests validate against: `../shared/references/` beside the repository
(CI clones it beside a copy of shared/; a work tree nested one level deeper finds it one level up).
Read in place, never copied into the project."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from tambon.settings import REPO_ROOT


def _find() -> Path:
    for base in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        candidate = base / "shared" / "references"
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared" / "references"


REFERENCES = _find()


@cache
def load_json(*parts: str) -> Any:
    return json.loads((REFERENCES.joinpath(*parts)).read_text(encoding="utf-8"))
