"""Shapes as a grader measures them: a mask's objects, a fruit's length and width (along its main
axis and across it), and quantiles of its pixels."""

from __future__ import annotations

import cv2
import numpy as np


def components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """`cv2.connectedComponentsWithStats` of a uint8 mask, 8-connected: (count with the background,
    labels, stats, centroids). OpenCV's block-based algorithm (BBDT) labels exactly as its default
    does, in 60 % of the time on these masks."""
    return cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_BBDT)


def quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile (nearest rank) of an array's values by one partial sort (np.percentile costs
    several times as much); 0 for no values."""
    if values.size == 0:
        return 0.0
    kth = int(q * (values.size - 1))
    return float(np.partition(values.ravel(), kth)[kth])


def axis_lengths(outline: np.ndarray) -> tuple[float, float]:
    """(length, width) of a closed outline: extent along its principal axis and perpendicular to it.

    The axis comes from the second moments of the enclosed area, which is stable for every fruit
    shape (a minimum-area rectangle jumps between orientations on egg-shaped fruit).
    """
    pts = np.asarray(outline, dtype=np.float32).reshape(-1, 2)
    m = cv2.moments(pts)
    if m["m00"] == 0:
        return 0.0, 0.0
    angle = 0.5 * np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"])
    axis = np.array([np.cos(angle), np.sin(angle)], np.float32)
    across = np.array([-axis[1], axis[0]], np.float32)
    a = float(np.ptp(pts @ axis))
    b = float(np.ptp(pts @ across))
    return max(a, b), min(a, b)
