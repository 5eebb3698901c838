"""Keep ape's compiled artifacts in step with the Vyper sources.

ape recompiles a contract when its own file changes, but not when only an imported module under
`contracts/modules/` does; a stale `.build/` would then run old bytecode. Dropping the cache
when any source is newer than it makes the next compile complete.
"""

from pathlib import Path

from tambon.settings import REPO_ROOT


def drop_stale_build(root: Path = REPO_ROOT) -> bool:
    """Delete ape's build cache if any contract source is newer; True when it was dropped."""
    manifest = root / ".build" / "__local__.json"
    if not manifest.exists():
        return False
    built_at = manifest.stat().st_mtime
    sources = (root / "contracts").rglob("*.vy")
    if any(source.stat().st_mtime > built_at for source in sources):
        manifest.unlink()
        return True
    return False
