"""Calibration and evaluation helpers used by the training script and the benchmark."""

from __future__ import annotations

import re
from collections.abc import Sequence

import cv2
import numpy as np


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(probs, 1e-9, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood on a calibration split (grid + refine)."""
    grid = np.exp(np.linspace(np.log(0.02), np.log(50), 240))
    losses = [nll(apply_temperature(probs, t), y) for t in grid]
    best = int(np.argmin(losses))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    fine = np.linspace(lo, hi, 50)
    return float(fine[int(np.argmin([nll(apply_temperature(probs, t), y) for t in fine]))])


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE: |accuracy - confidence| averaged over equal-width confidence bins, weighted by count."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def reliability_table(
    probs: np.ndarray, y: np.ndarray, bins: int = 10
) -> list[tuple[float, float, float, int]]:
    """Rows (bin low, bin high, accuracy, count) for the model card's reliability diagram."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            rows.append((float(lo), float(hi), float(correct[sel].mean()), int(sel.sum())))
    return rows


# --------------------------------------------------------------------------------------- grouping

_VIEW_SUFFIX = re.compile(r"^(?P<group>.+?)[_\-](?:\d{1,3}|v\d+)$")


def dhash(data: bytes) -> int | None:
    """64-bit difference hash of an image (near-duplicate photos differ in only a few bits)."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if img is None:
        return None
    small = cv2.resize(img, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def dhash_file(path: str) -> int | None:
    """`dhash` of a file (a top-level function so process pools can run it)."""
    with open(path, "rb") as f:
        return dhash(f.read())


def assign_groups(names: Sequence[str], hashes: Sequence[int | None], max_bits: int = 6) -> np.ndarray:
    """Group ids so that near-duplicates never straddle a split.

    Two photos share a group when their file stems share a prefix before a view number
    (`lot12_1.jpg`, `lot12_2.jpg`) or their difference hashes differ in at most `max_bits` bits.
    """
    n = len(names)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_prefix: dict[str, int] = {}
    for i, name in enumerate(names):
        stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        m = _VIEW_SUFFIX.match(stem)
        key = m.group("group") if m else stem
        if key in by_prefix:
            union(i, by_prefix[key])
        else:
            by_prefix[key] = i
    valid = [(i, h) for i, h in enumerate(hashes) if h is not None]
    if valid:
        idx = np.array([i for i, _ in valid])
        hv = np.array([h for _, h in valid], dtype=np.uint64)
        for a in range(len(hv)):
            x = np.bitwise_xor(hv[a + 1 :], hv[a])
            # popcount of 64-bit words, vectorised
            bits = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1) if len(x) else []
            for b in np.nonzero(np.asarray(bits) <= max_bits)[0]:
                union(int(idx[a]), int(idx[a + 1 + b]))
    roots = [find(i) for i in range(n)]
    _, groups = np.unique(roots, return_inverse=True)
    return groups
