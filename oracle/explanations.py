"""The oracle's explanation of a grade, kept in the evidence store beside the graded bundle.

For every attestation the oracle adds a small tree to the evidence store (pinned, content-addressed):
one `<photo>.overlay.png` per graded photo (`oracle.explain`) and `grading.json` (the graded
evidence, the model's sha256 and every photo's grade, condition and reason). The attestation's
evidence digest -> explanation CID link is kept in `explanations.json` beside the oracle's state,
which the verify page reads (`lookup`) to show the overlay beside the photo.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from oracle.errors import OracleError
from oracle.explain import overlay_png
from tambon.settings import get_settings

INDEX_NAME = "explanations.json"


def default_index() -> Path:
    return get_settings().data_dir / "oracle" / INDEX_NAME


def overlay_name(photo: str) -> str:
    return f"{Path(photo).stem}.overlay.png"


def store_explanation(
    store, evidence: str, model_sha256: str, photos: list[tuple[str, bytes]], results
) -> str:
    """Add the overlays and grading.json to `store`; returns the tree's CID."""
    files: dict[str, bytes] = {}
    rows = []
    by_name = {r.file: r for r in results}
    for name, data in photos:
        result = by_name.get(name)
        if result is None:
            continue  # unreadable photo: nothing was graded, nothing to draw
        try:
            files[overlay_name(name)] = overlay_png(data, name)
        except OracleError:
            continue
        rows.append({**result.as_json(), "overlay": overlay_name(name)})
    files["grading.json"] = json.dumps(
        {"evidence": evidence, "model_sha256": model_sha256, "photos": rows}, indent=2, ensure_ascii=False
    ).encode()
    return store.add_tree(files, pin=True)


def _read(index: Path) -> dict[str, str]:
    try:
        data = json.loads(index.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise OracleError(f"explanation index {index} is unreadable ({exc}); move it away") from exc
    return data if isinstance(data, dict) else {}


def record(index: Path, evidence: str, cid: str) -> None:
    """Remember evidence digest (0x hex) -> explanation CID (atomic rename)."""
    entries = _read(index)
    entries[evidence.lower()] = cid
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_name(index.name + ".tmp")
    tmp.write_text(json.dumps(entries, sort_keys=True))
    os.replace(tmp, index)


def lookup(evidence: str, index: Path | None = None) -> str | None:
    """The explanation CID the oracle stored for this evidence digest (0x hex), if any."""
    try:
        return _read(index or default_index()).get(evidence.lower())
    except OracleError:
        return None
