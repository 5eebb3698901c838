"""Pure checks the verify site runs server-side: do these bytes / this CAR / this listing match a CID?

Nothing here touches the network or a store; each function takes what was fetched (from our
gateway, a public gateway or a Kubo node) and either returns what it proved or raises
`CidMismatch` (or `MalformedDag` for input that is not even well-formed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256

from evidence import car, dag, pb
from evidence.cids import RAW, cid_str, codec_of, digest_of, node_prefix, parse_cid, version_of
from evidence.errors import BlockNotFound, CidMismatch, MalformedDag
from evidence.importer import PROFILES, Profile, check_name, import_bytes, import_tree


def _raw(cid: bytes | str) -> bytes:
    return parse_cid(cid) if isinstance(cid, str) else cid


def block_matches(cid: bytes | str, block: bytes) -> bool:
    return sha256(block).digest() == digest_of(_raw(cid))


def candidate_profiles(cid: bytes | str, profiles: Iterable[str | Profile] | None = None) -> list[Profile]:
    raw = _raw(cid)
    chosen = [PROFILES[p] if isinstance(p, str) else p for p in (profiles or PROFILES.values())]
    return [p for p in chosen if p.cid_version == version_of(raw)]


def verify_bytes(cid: bytes | str, data: bytes, profiles: Iterable[str | Profile] | None = None) -> Profile:
    """The profile under which `data` imports to `cid` (a raw CID is checked by its hash alone).

    Raises `CidMismatch` when no known profile gives the CID.
    """
    raw = _raw(cid)
    candidates = candidate_profiles(raw, profiles)
    if codec_of(raw) == RAW:
        if sha256(data).digest() != digest_of(raw):
            raise CidMismatch(f"bytes do not hash to {cid_str(raw)}")
        for p in candidates:
            if len(data) <= p.chunk_size:
                return p
        raise CidMismatch(f"{len(data)} bytes cannot be a single raw block of any known profile")
    for p in candidates:
        if import_bytes(data, p).cid == raw:
            return p
    raise CidMismatch(f"bytes do not import to {cid_str(raw)} under any known profile")


def verify_files(
    cid: bytes | str, files: Mapping[str, bytes], profiles: Iterable[str | Profile] | None = None
) -> Profile:
    """The profile under which the directory {relative path: bytes} imports to `cid`."""
    raw = _raw(cid)
    for p in candidate_profiles(raw, profiles):
        if import_tree(files, p).cid == raw:
            return p
    raise CidMismatch(f"files do not form the directory {cid_str(raw)} under any known profile")


def verify_directory(cid: bytes | str, entries: Iterable[tuple[str, bytes | str, int]]) -> None:
    """Check a flat listing [(name, child CID, Tsize)] is exactly the directory block of `cid`.

    The listing (e.g. from a gateway or `ls`) can then be trusted entry by entry: each child
    CID is bound to the directory CID, so each child's bytes can be verified on their own.
    """
    raw = _raw(cid)
    links = sorted((check_name(name), _raw(child), int(size)) for name, child, size in entries)
    block = pb.encode_node(
        [(child, name, size) for name, child, size in links], pb.encode_unixfs(pb.DIRECTORY)
    )
    if node_prefix(version_of(raw)) + sha256(block).digest() != raw:
        raise CidMismatch(f"listing does not match directory {cid_str(raw)}")


@dataclass
class VerifiedCar:
    """Blocks of a CAR whose every block hashes to its CID and whose DAG under `root` is complete."""

    root: bytes
    blocks: dict[bytes, bytes]

    def get(self, cid: bytes) -> bytes:
        try:
            return self.blocks[digest_of(cid)]
        except KeyError:
            raise BlockNotFound(f"block {cid_str(cid)} is not in the CAR") from None

    def read(self, path: str = "") -> bytes:
        return dag.read_file(self.get, dag.resolve(self.get, self.root, path))

    def ls(self, path: str = "") -> list[dag.Entry]:
        return dag.ls(self.get, dag.resolve(self.get, self.root, path))


def verify_car(cid: bytes | str, data: bytes, path: str = "") -> VerifiedCar:
    """Check a CAR proves `cid` (and, if given, the DAG at `path` below it) block by block.

    Every block must hash to its CID, the CAR's root must be `cid`, and every block needed to
    follow `path` and read the whole target must be present.
    """
    raw = _raw(cid)
    roots, sections = car.read(data)
    if [digest_of(r) for r in roots] != [digest_of(raw)]:
        raise CidMismatch(f"CAR roots {[cid_str(r) for r in roots]} are not [{cid_str(raw)}]")
    blocks: dict[bytes, bytes] = {}
    for block_cid, block in sections:
        if sha256(block).digest() != digest_of(block_cid):
            raise CidMismatch(f"CAR block {cid_str(block_cid)} does not hash to its CID")
        blocks[digest_of(block_cid)] = block
    verified = VerifiedCar(raw, blocks)
    try:
        target = dag.resolve(verified.get, raw, path)
        for _ in dag.walk_blocks(verified.get, target):
            pass
    except BlockNotFound as exc:
        raise CidMismatch(f"CAR is incomplete: {exc}") from exc
    except MalformedDag:
        raise
    return verified
