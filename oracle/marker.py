"""The reference marker: an OpenCV ArUco marker from DICT_4X4_50 printed on the grading mat.

The marker's black square (outer border included) is `marker_mm` wide, 40 mm by default. Its four
detected corners give a similarity transform (rotation + scale) from image pixels to millimetres on
the mat plane; photos are taken from above (a slight tilt costs a few %).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from oracle.errors import OracleError

ARUCO_DICT = cv2.aruco.DICT_4X4_50
DEFAULT_MARKER_MM = 40.0
DEFAULT_MARKER_ID = 0

_DICTIONARY = cv2.aruco.getPredefinedDictionary(ARUCO_DICT)


def _detector() -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    params.cornerRefinementWinSize = 3
    # Two adaptive-threshold window sizes (7 and 23 px) cover markers of 25-150 px on the working
    # image; OpenCV's default tries seven.
    params.adaptiveThreshWinSizeMin = 7
    params.adaptiveThreshWinSizeMax = 23
    params.adaptiveThreshWinSizeStep = 16
    params.minMarkerPerimeterRate = 0.04
    return cv2.aruco.ArucoDetector(_DICTIONARY, params)


_DETECTOR = _detector()


def _window_detector() -> cv2.aruco.ArucoDetector:
    """For a window cut around one located marker: the marker spans most of it, so smaller squares
    (the marker's own bits, texture) are not candidates worth decoding, and one threshold window,
    wider than a 20 px marker's border, outlines it."""
    params = _DETECTOR.getDetectorParameters()
    params.minMarkerPerimeterRate = 0.8
    params.adaptiveThreshWinSizeMin = params.adaptiveThreshWinSizeMax = 23
    return cv2.aruco.ArucoDetector(_DICTIONARY, params)


_WINDOW_DETECTOR = _window_detector()


@dataclass(frozen=True, slots=True)
class MarkerFit:
    """A detected marker: its id, corners (px, clockwise from top-left) and px -> mm similarity transform."""

    marker_id: int
    corners: np.ndarray
    to_mm: np.ndarray

    @property
    def side_px(self) -> float:
        c = self.corners
        return float(np.mean(np.linalg.norm(c - np.roll(c, 1, axis=0), axis=1)))

    def polygon(self, margin: float = 0.0) -> np.ndarray:
        """The marker outline grown by `margin` (fraction of the side) around its centre, as int32 px."""
        centre = self.corners.mean(axis=0)
        return np.round(centre + (self.corners - centre) * (1.0 + 2.0 * margin)).astype(np.int32)


def marker_image(side_px: int, marker_id: int = DEFAULT_MARKER_ID) -> np.ndarray:
    """The marker's black square (border included) as a `side_px` x `side_px` uint8 image."""
    return cv2.aruco.generateImageMarker(_DICTIONARY, marker_id, side_px, borderBits=1)


def _best_quad(corners, ids, marker_id: int | None) -> tuple[int, np.ndarray] | None:
    """(id, corners) of the largest detected marker with `marker_id` (any id when None)."""
    if ids is None or len(ids) == 0:
        return None
    best: tuple[float, int, np.ndarray] | None = None
    for quad, mid in zip(corners, ids.ravel(), strict=True):
        if marker_id is not None and int(mid) != marker_id:
            continue
        pts = quad.reshape(4, 2).astype(np.float64)
        area = float(cv2.contourArea(pts.astype(np.float32)))
        if best is None or area > best[0]:
            best = (area, int(mid), pts)
    return None if best is None else best[1:]


#: Markers and square candidates of the reduced image re-read in `detail` windows, largest first.
_MAX_WINDOWS = 8


def _read_in_detail(
    quads: list[np.ndarray], detail: np.ndarray, to_detail: float, marker_id: int | None
) -> tuple[int, np.ndarray] | None:
    """Read each quad (reduced-image pixels) again in its own small window of `detail`; the first
    marker read, with its corners in reduced-image pixels."""
    h, w = detail.shape[:2]
    for quad in quads[:_MAX_WINDOWS]:
        pts = quad.astype(np.float64) * to_detail
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        pad = 0.25 * max(x1 - x0, y1 - y0) + 8  # room for the white quiet zone around the marker
        left, top = max(int(x0 - pad), 0), max(int(y0 - pad), 0)
        right, bottom = min(int(x1 + pad) + 1, w), min(int(y1 + pad) + 1, h)
        window = detail[top:bottom, left:right]
        if window.ndim == 3:
            window = cv2.cvtColor(window, cv2.COLOR_BGR2GRAY)
        corners, ids, _ = _WINDOW_DETECTOR.detectMarkers(window)
        found = _best_quad(corners, ids, marker_id)
        if found is not None:
            return found[0], (found[1] + [left, top]) / to_detail
    return None


def detect_marker(
    gray: np.ndarray,
    marker_mm: float = DEFAULT_MARKER_MM,
    marker_id: int | None = DEFAULT_MARKER_ID,
    detail: np.ndarray | None = None,
    coord_scale: float = 1.0,
) -> MarkerFit | None:
    """Find the reference marker in a grayscale image; None when there is none.

    With `marker_id=None` any DICT_4X4_50 marker is accepted (the largest one wins). `detail` is the
    same photo at a higher resolution (grayscale or BGR): the marker, or every square candidate when
    `gray` shows none it can decode, is read again in a small window of `detail`, so a reduced `gray`
    only has to locate it (cheap) and the corners come from full detail. Corners are returned in
    `gray`'s pixels times `coord_scale`.
    """
    corners, ids, rejected = _DETECTOR.detectMarkers(gray)
    found = _best_quad(corners, ids, marker_id)
    if detail is not None:
        candidates = sorted((q.reshape(4, 2) for q in rejected), key=lambda q: -cv2.contourArea(q))
        located = ([found[1]] if found is not None else []) + candidates
        found = _read_in_detail(located, detail, detail.shape[1] / gray.shape[1], marker_id) or found
    if found is None:
        return None
    mid, pts = found
    pts = pts * coord_scale
    # A similarity (rotation + one scale) fitted to the four corners. A full homography from a marker
    # this small extrapolates badly: half a pixel of corner noise tilts the whole plane by several %.
    mm = np.array([[0, 0], [marker_mm, 0], [marker_mm, marker_mm], [0, marker_mm]], dtype=np.float32)
    affine, _ = cv2.estimateAffinePartial2D(pts.astype(np.float32), mm, method=cv2.LMEDS)
    if affine is None:
        return None
    to_mm = np.vstack([affine, [0.0, 0.0, 1.0]])
    return MarkerFit(marker_id=mid, corners=pts, to_mm=to_mm)


# ---------------------------------------------------------------------------------------------- mat

A4_MM = (210.0, 297.0)


def render_mat(marker_mm: float = DEFAULT_MARKER_MM, marker_id: int = DEFAULT_MARKER_ID, dpi: int = 300):
    """An A4 grading mat as a PIL image at `dpi`: marker at true scale, 10 mm grid, instructions."""
    from PIL import Image, ImageDraw, ImageFont

    if not 10.0 <= marker_mm <= 150.0:
        raise OracleError(f"marker size must be between 10 and 150 mm, got {marker_mm}")
    if not 0 <= marker_id < 50:
        raise OracleError(f"DICT_4X4_50 has marker ids 0-49, got {marker_id}")
    px_per_mm = dpi / 25.4
    width, height = (round(v * px_per_mm) for v in A4_MM)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    # Light 10 mm grid in the fruit area (below the marker), thin enough not to read as fruit.
    top = round(25 * px_per_mm + marker_mm * px_per_mm)
    for x_mm in range(10, int(A4_MM[0]), 10):
        x = round(x_mm * px_per_mm)
        draw.line([(x, top), (x, height - round(15 * px_per_mm))], fill=215, width=1)
    for y_mm in range(int(top / px_per_mm) + 10, int(A4_MM[1]) - 15, 10):
        y = round(y_mm * px_per_mm)
        draw.line([(round(10 * px_per_mm), y), (width - round(10 * px_per_mm), y)], fill=215, width=1)
    side = round(marker_mm * px_per_mm)
    marker = Image.fromarray(marker_image(side, marker_id))
    x0, y0 = round(15 * px_per_mm), round(15 * px_per_mm)
    img.paste(marker, (x0, y0))
    font = ImageFont.load_default(size=max(10, round(3.2 * px_per_mm)))
    lines = [
        "Tambon Trust grading mat",
        f"ArUco DICT_4X4_50 id {marker_id}, black square {marker_mm:g} mm",
        "Print at 100 % (no fit-to-page);",
        f"check the square is {marker_mm:g} mm with a ruler.",
        "One fruit in the grid, marker visible,",
        "photo from straight above.",
    ]
    tx = x0 + side + round(8 * px_per_mm)
    for i, line in enumerate(lines):
        draw.text((tx, y0 + round(i * 5.5 * px_per_mm)), line, fill=0, font=font)
    return img, dpi


def write_mat(
    out: Path, marker_mm: float = DEFAULT_MARKER_MM, marker_id: int = DEFAULT_MARKER_ID, dpi: int = 300
) -> list[Path]:
    """Write the mat as PDF and/or PNG (by `out`'s suffix; no suffix writes both). Returns the files."""
    img, dpi = render_mat(marker_mm, marker_id, dpi)
    suffix = out.suffix.lower()
    if suffix not in {"", ".pdf", ".png"}:
        raise OracleError(f"grading mat is written as .pdf or .png, not {out.suffix!r}")
    targets = [out.with_suffix(".pdf"), out.with_suffix(".png")] if suffix == "" else [out]
    out.parent.mkdir(parents=True, exist_ok=True)
    for target in targets:
        if target.suffix == ".pdf":
            img.save(target, "PDF", resolution=float(dpi))
        else:
            img.save(target, "PNG", dpi=(dpi, dpi))
    return targets
