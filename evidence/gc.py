"""Nothing kept that nobody uses: evidence no on-chain CID references is unpinned after a grace window
and its blocks removed; evidence the chain references is pinned for good.

An upload is pinned at once; the uploader then has `window` seconds (default 24 h) to reference it in a
transaction. `collect` then:
1. pins every referenced root the store holds (pinned for good), and keeps pins younger than the
   window; every other pin is removed;
2. marks every block reachable from the remaining pins; a referenced JSON document (a batch's
   ERC-721 metadata) also keeps what it links to with `ipfs://<cid>`;
3. removes unmarked blocks older than the window (a block an add is committing right now is young).
Roots are compared by their sha2-256 digest, as the chain stores them.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from evidence import dag
from evidence.cids import cid_str, digest_of, parse_cid
from evidence.errors import EvidenceError
from evidence.store import LocalStore
from tambon.cid import cid_string

log = structlog.get_logger(__name__)

DEFAULT_WINDOW = 24 * 3600
#: largest referenced file read to look for `ipfs://` links (metadata documents are small)
MAX_LINKING_DOCUMENT = 256 * 1024
_IPFS_LINK = re.compile(r"ipfs://([A-Za-z0-9]+)")


@dataclass
class GcReport:
    pinned_for_good: list[str] = field(default_factory=list)
    kept_young: list[str] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)
    blocks_removed: int = 0
    bytes_freed: int = 0


@dataclass(frozen=True)
class StoreStatus:
    pins: int
    referenced_pins: int
    blocks: int
    bytes_total: int
    bytes_referenced: int  # reachable from referenced roots
    bytes_unreferenced: int  # everything else: young uploads and garbage

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _pin_age(store: LocalStore, digest: bytes, now: float) -> float:
    try:
        return now - (store.blocks.pins_dir / digest.hex()).stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _held_roots(store: LocalStore, referenced: Iterable[bytes]) -> dict[bytes, bytes]:
    """Referenced digests the store holds -> the CID to pin them by (dag-pb if that block is a node)."""
    found: dict[bytes, bytes] = {}
    for digest in referenced:
        path = store.blocks.path_for(digest)
        if not path.exists():
            continue
        for codec in (0x70, 0x55):
            cid = parse_cid(str(cid_string(digest, codec)))
            try:
                dag.stat(store.get_block, cid)
            except EvidenceError:
                continue
            found[digest] = cid
            break
    return found


def _linked_roots(store: LocalStore, root: bytes) -> list[bytes]:
    """CIDs a referenced JSON document links to with ipfs:// (a batch's metadata -> its bundle)."""
    try:
        info = dag.stat(store.get_block, root)
        if info.kind != "file" or info.size > MAX_LINKING_DOCUMENT:
            return []
        document = json.loads(dag.read_file(store.get_block, root, max_bytes=MAX_LINKING_DOCUMENT))
    except (EvidenceError, ValueError):
        return []
    out = []
    for match in _IPFS_LINK.finditer(json.dumps(document)):
        try:
            out.append(parse_cid(match.group(1)))
        except EvidenceError:
            continue
    return out


def _reachable(store: LocalStore, roots: Iterable[bytes]) -> set[bytes]:
    marked: set[bytes] = set()
    for root in roots:
        try:
            for cid, _ in dag.walk_blocks(store.get_block, root):
                marked.add(digest_of(cid))
        except EvidenceError as exc:  # a missing or corrupt block: keep what was reached, say so
            log.warning("evidence.gc.incomplete_dag", root=cid_str(root), error=str(exc))
    return marked


def _protected_roots(store: LocalStore, referenced: set[bytes]) -> list[bytes]:
    """Referenced roots the store holds and everything their documents link to."""
    roots = list(_held_roots(store, referenced).values())
    for root in list(roots):
        roots += [linked for linked in _linked_roots(store, root) if store.has(linked)]
    return roots


def collect(
    store: LocalStore,
    referenced: set[bytes],
    *,
    window: float = DEFAULT_WINDOW,
    now: float | None = None,
    dry_run: bool = False,
) -> GcReport:
    """Unpin and remove evidence older than `window` that `referenced` (digests) does not reach."""
    now = time.time() if now is None else now
    report = GcReport()
    protected = _protected_roots(store, referenced)
    protected_digests = {digest_of(c) for c in protected}
    for cid in protected:
        if not dry_run and not store.blocks.is_pinned(cid):
            store.blocks.pin(cid)
        report.pinned_for_good.append(cid_str(cid))
    kept: list[bytes] = list(protected)
    for pin in store.pins():
        cid = parse_cid(pin)
        digest = digest_of(cid)
        if digest in protected_digests:
            continue
        if _pin_age(store, digest, now) < window:
            report.kept_young.append(pin)
            kept.append(cid)
            continue
        if not dry_run:
            store.blocks.unpin(cid)
        report.unpinned.append(pin)
    marked = _reachable(store, kept)
    for digest in list(store.blocks.iter_digests()):
        if digest in marked:
            continue
        path = store.blocks.path_for(digest)
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        if now - info.st_mtime < window:
            continue
        if not dry_run:
            os.unlink(path)
        report.blocks_removed += 1
        report.bytes_freed += info.st_size
    log.info(
        "evidence.gc",
        pinned_for_good=len(report.pinned_for_good),
        kept_young=len(report.kept_young),
        unpinned=len(report.unpinned),
        blocks_removed=report.blocks_removed,
        bytes_freed=report.bytes_freed,
        dry_run=dry_run,
    )
    return report


def status(store: LocalStore, referenced: set[bytes]) -> StoreStatus:
    """Pins and bytes of the store, split into what the chain references and the rest."""
    protected = _protected_roots(store, referenced)
    referenced_blocks = _reachable(store, protected)
    pins = store.pins()
    protected_digests = {digest_of(c) for c in protected}
    total = ref_bytes = blocks = 0
    for digest in store.blocks.iter_digests():
        try:
            size = store.blocks.path_for(digest).stat().st_size
        except FileNotFoundError:
            continue
        blocks += 1
        total += size
        if digest in referenced_blocks:
            ref_bytes += size
    return StoreStatus(
        pins=len(pins),
        referenced_pins=sum(1 for p in pins if digest_of(parse_cid(p)) in protected_digests),
        blocks=blocks,
        bytes_total=total,
        bytes_referenced=ref_bytes,
        bytes_unreferenced=total - ref_bytes,
    )
