"""Synthetic grading photos with exact ground truth, for training and for tests.

No labelled produce photos can be downloaded for this project, so the grader is trained and tested
on photos drawn here. Every photo is a top-down shot of one fruit, drawn in millimetres and then
projected to pixels:

- **Fruit**: a mango outline (egg-shaped ellipse, fuller shoulder, small beak near the tip, slight
  kidney bend) or, less often, a round or elongated fruit; 60-150 mm long; optional dents
  (mis-shapen fruit are never EXTRA).
- **Colour** by ripeness stage (0 green, 1 breaking, 2 ripe): a hue field along the fruit's axis
  (green -> yellow transition for breaking fruit, yellow/orange with a red blush for ripe fruit),
  low-frequency mottling, lenticel specks.
- **Lighting**: sphere-like shading from the fruit's distance transform, a specular highlight,
  a cast shadow, a global light gradient, a small colour-temperature shift, sensor noise, blur.
- **Defects**: dark spots (anthracnose), brown bruises and scars, added until a target defect
  area fraction is reached; the exact fraction is measured on the drawn masks.
- **Background**: the paper grading mat, wood, cloth or concrete, each textured.
- **Marker**: the DICT_4X4_50 marker on a white paper patch at the photo's scale, any rotation;
  some photos have none. A mild perspective tilt is applied to the whole scene.

The quality class follows from the drawn fruit (see `label_for`): defect area fraction and shape
defects decide EXTRA / CLASS_I / CLASS_II / REJECT, as a grader applying a defect tolerance would.

Everything is deterministic from `(seed, index)`: the same call returns the same JPEG bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from oracle.geometry import axis_lengths
from oracle.marker import DEFAULT_MARKER_MM, marker_image
from oracle.measure import GREEN_HUE, stage_from_green_fraction

# Workers start fresh: forking a process that runs threads (ONNX Runtime, a web3 client) can deadlock.
_SPAWN = get_context("spawn")

CLASSES = ("EXTRA", "CLASS_I", "CLASS_II", "REJECT")
#: Defect area fraction limits: <= 0.015 EXTRA, <= 0.055 CLASS_I, <= 0.13 CLASS_II, above REJECT.
DEFECT_LIMITS = (0.015, 0.055, 0.13)
#: Target defect fractions drawn for each class: the whole range, so fruit near a limit are common
#: and the classifier has to be uncertain there (the drawn fraction decides the label).
_DEFECT_TARGETS = {0: (0.0, 0.015), 1: (0.015, 0.055), 2: (0.055, 0.13), 3: (0.13, 0.32)}
OOD_KINDS = ("noise", "blank", "blue_object", "document", "checker", "gradient")
WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True, slots=True)
class Truth:
    """What was drawn: the labels a test or the trainer checks against."""

    grade: str
    length_mm: float
    width_mm: float
    defect_fraction: float
    colour_stage: int
    has_marker: bool
    marker_mm: float
    kind: str
    background: str
    deformity: float
    fruit_id: int
    view: int


def label_for(defect_fraction: float, deformity: float) -> str:
    """The class a grader gives: defect tolerance first, then shape (a dented fruit is never EXTRA)."""
    cls = int(np.searchsorted(DEFECT_LIMITS, defect_fraction, side="left"))
    if deformity >= 0.5:
        cls = max(cls, 2 if deformity >= 0.8 else 1)
    return CLASSES[min(cls, 3)]


# ------------------------------------------------------------------------------------------ helpers


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a small random grid resized up bicubically."""
    gh, gw = max(2, cells * h // max(h, w) + 2), max(2, cells * w // max(h, w) + 2)
    grid = rng.uniform(-1, 1, size=(gh, gw)).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), -1, 1)


def _hsv_to_bgr(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    hsv = np.stack([np.clip(h, 0, 179), np.clip(s, 0, 255), np.clip(v, 0, 255)], axis=-1)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)


def _background(rng: np.random.Generator, kind: str, h: int, w: int, px_per_mm: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "mat":
        base = rng.uniform(222, 248)
        tint = rng.uniform(-4, 4, size=3)
        img = np.empty((h, w, 3), np.float32)
        img[:] = base + tint
        img += _smooth_noise(rng, h, w, 6)[..., None] * 4 + rng.normal(0, 2.0, (h, w, 1))
        step = 10 * px_per_mm  # the mat's printed 10 mm grid
        off = rng.uniform(0, step, size=2)
        lines = (np.abs(((xx + off[0]) % step) - step / 2) > step / 2 - 0.7) | (
            np.abs(((yy + off[1]) % step) - step / 2) > step / 2 - 0.7
        )
        img[lines] -= rng.uniform(15, 30)
        return img
    if kind == "wood":
        hue = rng.uniform(9, 17)
        sat = rng.uniform(80, 140)
        val = rng.uniform(95, 160)
        angle = rng.uniform(-0.25, 0.25)
        warp = _smooth_noise(rng, h, w, 5) * rng.uniform(6, 18)
        coord = yy * np.cos(angle) + xx * np.sin(angle) + warp
        grain = np.sin(coord / rng.uniform(3, 7)) * 0.5 + np.sin(coord / rng.uniform(13, 25)) * 0.5
        v = val * (1 + 0.13 * grain + 0.05 * _smooth_noise(rng, h, w, 12))
        return _hsv_to_bgr(np.full((h, w), hue), np.full((h, w), sat) * (1 + 0.1 * grain), v)
    if kind == "cloth":
        hue = rng.choice([rng.uniform(100, 125), rng.uniform(0, 179)])
        sat = rng.uniform(20, 120) if 95 < hue < 130 else rng.uniform(5, 45)
        val = rng.uniform(50, 140)
        period = rng.uniform(2.5, 5)
        weave = np.sin(xx * 2 * np.pi / period) * np.sin(yy * 2 * np.pi / period)
        v = val * (1 + 0.08 * weave + 0.06 * _smooth_noise(rng, h, w, 8))
        return _hsv_to_bgr(np.full((h, w), hue), np.full((h, w), sat), v) + rng.normal(0, 3, (h, w, 1))
    # concrete
    val = rng.uniform(110, 185)
    noise = _smooth_noise(rng, h, w, 20) * 10 + _smooth_noise(rng, h, w, 60) * 6
    img = np.empty((h, w, 3), np.float32)
    img[:] = val + rng.uniform(-3, 3, size=3)
    return img + noise[..., None] + rng.normal(0, 5, (h, w, 1))


def _fruit_outline(
    rng: np.random.Generator, kind: str, length: float, width: float, deformity: float
) -> np.ndarray:
    """Outline points (mm, fruit frame: x along the length) before scaling to the exact size."""
    t = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    x = np.cos(t)
    y = np.sin(t)
    if kind == "mango":
        y = y * (1 + rng.uniform(0.06, 0.16) * x)  # fuller at the stem end (egg shape)
        y = y + np.where(y > 0, rng.uniform(0.0, 0.12), 0) * np.sin(t) ** 2  # fuller shoulder
        beak_at = rng.uniform(-2.5, -2.0)
        y = y - rng.uniform(0.04, 0.10) * np.exp(
            -(((t - 2 * np.pi - beak_at) % (2 * np.pi) - np.pi) ** 2) / 0.03
        )
        y = y + rng.uniform(0.0, 0.12) * (x**2 - 0.5)  # kidney bend
    elif kind == "elongated":
        y = y * (1 + rng.uniform(0.0, 0.1) * x)
    r = np.ones_like(t)
    if deformity > 0:
        for _ in range(int(1 + deformity * 3)):
            centre = rng.uniform(0, 2 * np.pi)
            d = np.angle(np.exp(1j * (t - centre)))
            r -= deformity * rng.uniform(0.08, 0.16) * np.exp(-(d**2) / rng.uniform(0.02, 0.08))
    pts = np.stack([x * r, y * r], axis=1)
    pts -= pts.mean(axis=0)
    # Scale so the outline's extents along/across the axis are exactly length x width.
    ext = pts.max(axis=0) - pts.min(axis=0)
    return pts * np.array([length / ext[0], width / ext[1]])


def _fruit_colours(rng: np.random.Generator, stage_target: int, u: np.ndarray, v: np.ndarray):
    """Hue, saturation and value fields over the fruit (u along the axis, v across, both in [-1, 1])."""
    green = rng.uniform(38, 50)
    yellow = rng.uniform(18, 27)
    if stage_target == 0:
        hue = green + rng.uniform(-3, 0) * (u > rng.uniform(0.4, 0.9))
        if rng.random() < 0.3:  # a faint yellowish cheek on an unripe fruit
            hue = hue - 6 * np.clip(1 - ((u - 0.6) ** 2 + v**2) / 0.15, 0, 1)
    elif stage_target == 1:
        p = rng.uniform(-0.45, 0.45)
        s = 1 / (1 + np.exp(np.clip(-(u - p) / rng.uniform(0.06, 0.14), -50, 50)))
        hue = green * (1 - s) + yellow * s
    else:
        hue = yellow + rng.uniform(-5, 3) + 3 * (u < -0.5)
        if rng.random() < 0.5:  # red blush on the shoulder
            cu, cv_ = rng.uniform(-0.6, 0.2), rng.uniform(-0.5, 0.5)
            blush = np.clip(1 - ((u - cu) ** 2 + (v - cv_) ** 2) / rng.uniform(0.05, 0.2), 0, 1)
            hue = hue - (hue - rng.uniform(4, 9)) * blush
    greenness = np.clip((hue - yellow) / max(green - yellow, 1e-3), 0, 1)
    sat = rng.uniform(150, 225) - rng.uniform(20, 60) * greenness + 10 * np.sin(u * 3)
    val = rng.uniform(175, 235) * (1 - rng.uniform(0.1, 0.3) * greenness)
    return hue, sat, val


def _defect_mask(rng: np.random.Generator, fruit: np.ndarray, target: float, scale: float) -> np.ndarray:
    """Draw spots, bruises and scars inside the fruit until `target` of its area is covered."""
    area = float(fruit.sum())
    inner = cv2.erode(fruit.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ys, xs = np.nonzero(inner)
    defects = np.zeros(fruit.shape, np.uint8)
    if target <= 0 or len(ys) == 0:
        return defects.astype(bool)
    covered = 0.0
    for _ in range(400):
        if covered >= target * area:
            break
        i = rng.integers(len(ys))
        centre = (int(xs[i]), int(ys[i]))
        remaining = target * area - covered
        kind = rng.choice(["spot", "bruise", "scar"], p=[0.55, 0.3, 0.15])
        if kind == "spot":
            r = rng.uniform(1.5, 6) * scale
            axes = (max(1, int(r)), max(1, int(r * rng.uniform(0.6, 1))))
        elif kind == "bruise":
            r = min(rng.uniform(5, 16) * scale, np.sqrt(remaining / np.pi) + 2)
            axes = (max(2, int(r)), max(2, int(r * rng.uniform(0.5, 0.9))))
        else:
            r = rng.uniform(5, 14) * scale
            axes = (max(2, int(r)), max(1, int(rng.uniform(0.7, 1.6) * scale)))
        cv2.ellipse(defects, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        defects &= inner.astype(np.uint8)
        covered = float(defects.sum())
    return defects.astype(bool)


def _random_homography(rng: np.random.Generator, w: int, h: int, strength: float) -> np.ndarray:
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dst = src + rng.uniform(-strength, strength, size=(4, 2)).astype(np.float32) * np.array(
        [w, h], dtype=np.float32
    )
    return cv2.getPerspectiveTransform(src, dst)


# ------------------------------------------------------------------------------------------- render


def render(
    seed: int,
    index: int,
    *,
    grade: str | None = None,
    view: int = 0,
    marker: bool | None = None,
    marker_mm: float = DEFAULT_MARKER_MM,
    background: str | None = None,
    quality: int | None = None,
) -> tuple[bytes, Truth]:
    """One JPEG photo (640x480) of fruit `index` and its ground truth.

    The fruit itself (shape, size, colours, defects) depends only on `(seed, index)`; `view` changes
    the shot: placement, rotation, lighting, background, marker pose and JPEG quality. Photos of the
    same fruit share a group so a held-out split never sees another view of a training fruit.
    """
    frng = np.random.default_rng([seed, index, 0])
    cls = CLASSES.index(grade) if grade is not None else int(frng.integers(4))
    kind = str(frng.choice(["mango", "round", "elongated"], p=[0.75, 0.15, 0.10]))
    if kind == "mango":
        length = frng.uniform(85, 150)
        width = length * frng.uniform(0.55, 0.75)
    elif kind == "round":
        length = frng.uniform(60, 100)
        width = length * frng.uniform(0.88, 0.98)
    else:
        length = frng.uniform(90, 140)
        width = length * frng.uniform(0.42, 0.55)
    deformity = 0.0
    if cls >= 1 and frng.random() < 0.35:
        deformity = float(frng.uniform(0.5, 0.79 if cls == 1 else 1.0))
    stage_target = int(frng.integers(3))
    outline_mm = _fruit_outline(frng, kind, length, width, deformity)
    target_defect = float(frng.uniform(*_DEFECT_TARGETS[cls]))
    fruit_seed = int(frng.integers(2**31))

    rng = np.random.default_rng([seed, index, 1 + view])
    bg_kind = background or str(rng.choice(["mat", "wood", "cloth", "concrete"], p=[0.4, 0.25, 0.2, 0.15]))
    has_marker = bool(rng.random() < 0.85) if marker is None else marker
    h, w = HEIGHT, WIDTH
    longest = float(np.max(np.ptp(outline_mm, axis=0)))
    px_per_mm = rng.uniform(0.36, 0.60) * h / longest
    img = _background(rng, bg_kind, h, w, px_per_mm)

    # Placement: fruit somewhere central, marker in free space next to it.
    angle = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pts = outline_mm @ rot.T * px_per_mm
    half = np.abs(pts).max(axis=0)
    margin = 0.04 * w  # the camera tilt below moves the frame edges by up to 1.5 %
    cx = rng.uniform(half[0] + margin, w - half[0] - margin) if w - 2 * half[0] > 2 * margin else w / 2
    cy = rng.uniform(half[1] + margin, h - half[1] - margin) if h - 2 * half[1] > 2 * margin else h / 2
    pts = pts + np.array([cx, cy])
    fruit_radius = float(np.linalg.norm(pts - [cx, cy], axis=1).max())

    marker_side = marker_mm * px_per_mm
    marker_pose = None
    if has_marker:
        pad = marker_side * (0.5 + 0.25) * np.sqrt(2)
        for _ in range(200):
            mx, my = rng.uniform(pad + 4, w - pad - 4), rng.uniform(pad + 4, h - pad - 4)
            if np.hypot(mx - cx, my - cy) > fruit_radius + pad + 6:
                marker_pose = (mx, my, rng.uniform(0, 360))
                break
        has_marker = marker_pose is not None

    # Fruit mask and colour field.
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    fruit = mask.astype(bool)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    du, dv = rot[:, 0], rot[:, 1]
    u = ((xx - cx) * du[0] + (yy - cy) * du[1]) / (0.5 * length * px_per_mm)
    v = ((xx - cx) * dv[0] + (yy - cy) * dv[1]) / (0.5 * width * px_per_mm)
    crng = np.random.default_rng(fruit_seed)
    hue, sat, val = _fruit_colours(crng, stage_target, u, v)
    mottling = _smooth_noise(rng, h, w, 24)
    hue = hue + 1.5 * mottling
    val = val * (1 + 0.05 * mottling)
    true_hue = np.clip(hue, 0, 179)
    green_fraction = float((true_hue[fruit] >= GREEN_HUE).mean())
    colour_stage = stage_from_green_fraction(green_fraction)

    # Defects, drawn in the fruit's own frame of randomness so every view shows the same fraction.
    defects = _defect_mask(np.random.default_rng(fruit_seed + 1), fruit, target_defect, px_per_mm / 2.5)
    soft = cv2.GaussianBlur(defects.astype(np.float32), (0, 0), 0.8)
    dark = np.where(rng.random() < 0.5, rng.uniform(0.18, 0.35), rng.uniform(0.3, 0.48))
    spot_hue = rng.uniform(8, 18)
    hue = hue * (1 - soft) + spot_hue * soft
    sat = sat * (1 - 0.35 * soft)
    val = val * (1 - (1 - dark) * soft)

    # Lenticel specks: tiny light dots, part of a healthy skin.
    specks = (rng.random((h, w)) < 0.004) & fruit & ~defects
    val = np.where(specks, val * 1.12, val)
    sat = np.where(specks, sat * 0.8, sat)

    colour = _hsv_to_bgr(hue, sat, np.clip(val, 0, 255))

    # Shading, highlight, shadow.
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    rim = 0.5 * width * px_per_mm
    shade = 0.66 + 0.34 * np.sqrt(np.clip(dist / rim, 0, 1))
    light = rng.uniform(0, 2 * np.pi)
    lx, ly = np.cos(light), np.sin(light)
    hx, hy = cx + lx * rim * 0.4, cy + ly * rim * 0.4
    spec = rng.uniform(0.15, 0.45) * np.exp(
        -((xx - hx) ** 2 + (yy - hy) ** 2) / (2 * (rim * rng.uniform(0.12, 0.25)) ** 2)
    )
    colour = colour * shade[..., None]
    colour = colour + (255 - colour) * (spec * fruit)[..., None]

    shadow = np.zeros((h, w), np.float32)
    offset = rim * rng.uniform(0.05, 0.15)
    cv2.fillPoly(shadow, [np.round(pts - [lx * offset, ly * offset]).astype(np.int32)], 1.0)
    shadow = cv2.GaussianBlur(shadow, (0, 0), rim * 0.12 + 1)
    img = img * (1 - rng.uniform(0.2, 0.4) * shadow)[..., None]

    if marker_pose is not None:
        mx, my, ma = marker_pose
        side = int(round(marker_side))
        quiet = max(4, int(round(side * 0.25)))
        tile = np.full((side + 2 * quiet, side + 2 * quiet), 255, np.uint8)
        hi = 8  # draw the marker oversampled, then resample: anti-aliased edges like a real photo
        big = marker_image(side * hi)
        tile_big = cv2.resize(tile, None, fx=hi, fy=hi, interpolation=cv2.INTER_NEAREST)
        tile_big[quiet * hi : quiet * hi + side * hi, quiet * hi : quiet * hi + side * hi] = big
        tsz = tile_big.shape[0]
        scale = marker_side / side / hi
        m = cv2.getRotationMatrix2D((tsz / 2, tsz / 2), ma, scale)
        m[:, 2] += [mx - tsz / 2, my - tsz / 2]
        paper = cv2.warpAffine(np.full_like(tile_big, 255), m, (w, h), flags=cv2.INTER_AREA)
        ink = cv2.warpAffine(tile_big, m, (w, h), flags=cv2.INTER_AREA, borderValue=255)
        paper_level = rng.uniform(225, 250)
        alpha = (paper.astype(np.float32) / 255)[..., None]
        marker_px = (ink.astype(np.float32)[..., None] / 255) * (paper_level - 25) + 25
        img = img * (1 - alpha) + marker_px * alpha * (1 - 0.3 * shadow[..., None])

    fruit_alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.6)[..., None]
    img = img * (1 - fruit_alpha) + colour * fruit_alpha

    # Global light: gradient, colour temperature, noise, blur; then a mild camera tilt.
    gx, gy = rng.uniform(-1, 1, size=2)
    grad = 1 + rng.uniform(0.0, 0.18) * ((xx / w - 0.5) * gx + (yy / h - 0.5) * gy)
    img = img * grad[..., None] * rng.uniform(0.85, 1.1)
    img = img * (1 + rng.uniform(-0.03, 0.03, size=3))
    img = img + rng.normal(0, rng.uniform(1.5, 4.5), img.shape)
    if rng.random() < 0.4:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.0))
    homography = _random_homography(rng, w, h, 0.015)
    img = cv2.warpPerspective(
        np.clip(img, 0, 255).astype(np.uint8),
        homography,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    fruit_w = cv2.warpPerspective(mask * 255, homography, (w, h), flags=cv2.INTER_LINEAR) > 127
    defect_w = (
        cv2.warpPerspective(defects.astype(np.uint8) * 255, homography, (w, h), flags=cv2.INTER_LINEAR) > 127
    )
    defect_fraction = float((defect_w & fruit_w).sum() / max(1, fruit_w.sum()))

    length_mm, width_mm = axis_lengths(outline_mm)
    q = quality if quality is not None else int(rng.integers(78, 96))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    truth = Truth(
        grade=label_for(defect_fraction, deformity),
        length_mm=round(length_mm, 2),
        width_mm=round(width_mm, 2),
        defect_fraction=round(defect_fraction, 4),
        colour_stage=colour_stage,
        has_marker=has_marker,
        marker_mm=marker_mm,
        kind=kind,
        background=bg_kind,
        deformity=round(deformity, 3),
        fruit_id=index,
        view=view,
    )
    return buf.tobytes(), truth


def render_ood(seed: int, index: int, kind: str | None = None) -> tuple[bytes, str]:
    """A photo that is not a gradable fruit: noise, a blank shot, a blue object, a page of text..."""
    rng = np.random.default_rng([seed, index, 999])
    kind = kind or str(rng.choice(OOD_KINDS))
    h, w = HEIGHT, WIDTH
    if kind == "noise":
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    elif kind == "blank":
        img = np.full((h, w, 3), rng.integers(0, 256, size=3), np.uint8)
        img = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    elif kind == "blue_object":
        img = _background(rng, "mat", h, w, 3.0).clip(0, 255).astype(np.uint8)
        cv2.ellipse(
            img,
            (w // 2, h // 2),
            (150, 100),
            float(rng.uniform(0, 180)),
            0,
            360,
            (int(rng.uniform(150, 220)), int(rng.uniform(60, 110)), int(rng.uniform(10, 50))),
            -1,
        )
    elif kind == "document":
        img = np.full((h, w, 3), 240, np.uint8)
        for row in range(30, h - 20, 22):
            cv2.putText(
                img,
                "".join(rng.choice(list("abcdefghij klmnop")) for _ in range(40)),
                (20, row),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.55,
                (20, 20, 20),
                1,
            )
    elif kind == "checker":
        cell = int(rng.integers(12, 48))
        yy, xx = np.mgrid[0:h, 0:w]
        board = (((yy // cell) + (xx // cell)) % 2).astype(np.uint8)
        colours = rng.integers(0, 256, size=(2, 3))
        img = colours[board].astype(np.uint8)
    else:  # gradient
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.stack([xx / w * 255, yy / h * 255, np.full((h, w), rng.uniform(0, 255))], -1).astype(
            np.uint8
        )
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes(), kind


# ------------------------------------------------------------------------------------------ dataset


def _render_job(args: tuple[int, int, int]) -> tuple[bytes, Truth]:
    seed, index, view = args
    return render(seed, index, view=view)


def iter_dataset(n_fruits: int, views: int, seed: int, workers: int = 1) -> Iterator[tuple[bytes, Truth]]:
    """Photos of `n_fruits` fruit, `views` shots each, in a fixed order (deterministic in `seed`)."""
    jobs = [(seed, i, v) for i in range(n_fruits) for v in range(views)]
    if workers <= 1:
        yield from map(_render_job, jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=_SPAWN) as pool:
        yield from pool.map(_render_job, jobs, chunksize=16)


def write_dataset(out_dir: Path, n_fruits: int, views: int, seed: int, workers: int = 1) -> int:
    """Write `<out_dir>/<CLASS>/f<fruit>_<view>.jpg` plus `labels.jsonl` (one Truth per photo)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for cls in CLASSES:
        (out_dir / cls).mkdir(exist_ok=True)
    count = 0
    with open(out_dir / "labels.jsonl", "w") as labels:
        for data, truth in iter_dataset(n_fruits, views, seed, workers):
            name = f"{truth.grade}/f{truth.fruit_id:05d}_{truth.view}.jpg"
            (out_dir / name).write_bytes(data)
            labels.write(json.dumps({"file": name, **asdict(truth)}) + "\n")
            count += 1
    return count
