"""Calibration and evaluation helpers used by the training script and the benchmark."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

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


#: Side of the grey thumbnail that confirms a turned or mirrored twin.
_THUMB = 24
#: A turned or mirrored copy is a twin when its thumbnail correlates with the photo's at least this
#: well. Copies made by turning and mirroring (noise added) score 0.96-1.0; other fruits of one shape
#: on one backdrop can score as much, which only makes a group larger (never lets a twin across the
#: split). Without the check, chance matches among eight orientations chain 349 photos into one group.
MIN_TWIN_CORRELATION = 0.95


@dataclass(frozen=True)
class PhotoPrint:
    """What near-duplicate grouping compares: the photo's 64-bit difference hash in each of its eight
    orientations (quarter turns, each also mirrored; as taken first) and a small grey thumbnail,
    zero mean and unit variance, as taken."""

    hashes: tuple[int, ...]
    thumb: np.ndarray


#: A photo's orientations: quarter turns, each as it is and mirrored (orientation 0: as taken).
_ORIENTATIONS = 8


def _orientation(img: np.ndarray, k: int) -> np.ndarray:
    """`img` in orientation `k`: turned k // 2 quarter turns, then mirrored when k is odd."""
    turned = np.rot90(img, k // 2)
    return np.ascontiguousarray(turned[:, ::-1] if k % 2 else turned)


def _dhash(grey: np.ndarray) -> int:
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def photo_print(data: bytes) -> PhotoPrint | None:
    """The print of an encoded image; None when it cannot be decoded."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if img is None:
        return None
    thumb = cv2.resize(img, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
    thumb = (thumb - thumb.mean()) / (thumb.std() + 1e-6)
    return PhotoPrint(tuple(_dhash(_orientation(img, k)) for k in range(_ORIENTATIONS)), thumb)


def photo_print_file(path: str) -> PhotoPrint | None:
    """`photo_print` of a file (a top-level function so process pools can run it)."""
    with open(path, "rb") as f:
        return photo_print(f.read())


def _popcount(words: np.ndarray) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def assign_groups(names: Sequence[str], prints: Sequence[PhotoPrint | None], max_bits: int = 6) -> np.ndarray:
    """Group ids so that near-duplicates never straddle a split.

    Two photos share a group when their file stems share a prefix before a view number
    (`lot12_1.jpg`, `lot12_2.jpg`), when their difference hashes differ in at most `max_bits` bits,
    or when one is the other turned by quarter turns or mirrored (data sets enlarged that way hold
    such copies): its hash in that orientation within `max_bits` and the thumbnails, turned alike,
    correlated at least MIN_TWIN_CORRELATION (eight orientations make chance matches likelier).
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
    valid = [(i, p) for i, p in enumerate(prints) if p is not None]
    if valid:
        idx = np.array([i for i, _ in valid])
        hv = np.array([p.hashes for _, p in valid], dtype=np.uint64)
        thumbs = np.stack([p.thumb.ravel() for _, p in valid])
        for a in range(len(hv)):
            bits = _popcount(np.bitwise_xor(hv[a + 1 :], hv[a, 0]).ravel()).reshape(-1, _ORIENTATIONS)
            for b in np.nonzero(bits[:, 0] <= max_bits)[0]:
                union(int(idx[a]), int(idx[a + 1 + b]))
            for b, k in zip(*np.nonzero(bits[:, 1:] <= max_bits), strict=True):
                turned = _orientation(thumbs[a + 1 + b].reshape(_THUMB, _THUMB), k + 1).ravel()
                if float(thumbs[a] @ turned) / thumbs.shape[1] >= MIN_TWIN_CORRELATION:
                    union(int(idx[a]), int(idx[a + 1 + b]))
    roots = [find(i) for i in range(n)]
    _, groups = np.unique(roots, return_inverse=True)
    return groups
