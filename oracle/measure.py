"""Measurements a grader can explain, from one photo: segmentation, colour stage, size, defects.

Pipeline (all on a working copy whose long side is 320-480 px; JPEGs are decoded reduced by libjpeg
itself, which is most of the speed):

1. **Marker**: the DICT_4X4_50 marker's four corners give a px -> mm similarity transform (`oracle.marker`).
2. **Segmentation**: a background colour model from the photo's border ring (k-means in Lab, marker
   excluded); pixels far from every background colour are fruit; the largest compact blob is the
   fruit, holes filled (dark defects inside stay fruit).
3. **Sanity** (out-of-distribution): no blob, a blob cut by the frame, a ragged or non-convex blob,
   or a colour no fruit has -> the photo is not gradable and the grade will be ABSTAIN.
4. **Size**: the fruit outline mapped to mm through the marker transform, then its extent along and across
   its main axis: length and width in mm (None without a marker).
5. **Colour stage**: share of green pixels (hue >= `GREEN_HUE`) on healthy skin: 0 green, 1 breaking,
   2 ripe (`stage_from_green_fraction`).
6. **Defects**: skin darker than `DEFECT_RATIO` of the local skin brightness (illumination estimated
   by a masked box filter, so shading and light gradients cancel); fraction of the fruit's area.

The classifier's input comes from `oracle.appearance`; these measurements give the sizes in mm, the
colour stage and the defect share reported for photos taken on the grading mat.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from oracle.errors import ImageError
from oracle.geometry import axis_lengths, components, quantile
from oracle.marker import DEFAULT_MARKER_ID, DEFAULT_MARKER_MM, MarkerFit, detect_marker

#: Marker and segmentation run on a working copy of about 320 px; defects and colour on the
#: decoded image (640-1280 px), where small spots are still whole pixels.
WORK_LONG, WORK_MAX = 320, 480
DETAIL_MIN, DETAIL_MAX = 640, 1280
DEFECT_RATIO = 0.78
#: Hue (OpenCV 0-180) at or above which a pixel counts as green for the colour stage.
GREEN_HUE = 33
#: Chroma distance (x2) from every background colour above which a pixel may extend the fruit.
WEAK_DISTANCE = 14

_ELLIPSE3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_ELLIPSE9 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))

#: The marker's white border around its black square, as a share of the square's side.
MARKER_MARGIN = 0.32
#: File names of the formats `decode_image` reads (a folder of photos is read by these).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
_MAGIC = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"BM": "bmp",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
}


@dataclass(slots=True)
class Measurement:
    """Everything measured on one photo. `ood_reason` set means: not a gradable fruit photo."""

    length_mm: float | None = None
    width_mm: float | None = None
    colour_stage: int | None = None
    defect_fraction: float | None = None
    marker_found: bool = False
    ood_reason: str | None = None
    mask: np.ndarray | None = None
    #: the marker with its white border (`MARKER_MARGIN`), in the decoded photo's pixels
    marker_polygon: np.ndarray | None = None


def stage_from_green_fraction(green: float) -> int:
    """Colour stage from the share of green pixels: >= 65 % green 0, <= 20 % ripe 2, else breaking 1."""
    if green >= 0.65:
        return 0
    if green <= 0.20:
        return 2
    return 1


def image_format(data: bytes) -> str | None:
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode JPEG/PNG/WebP/BMP/TIFF bytes to a BGR image whose long side is at most 1280 px
    (libjpeg decodes large JPEGs reduced by 2, 4 or 8 directly, which is most of the speed)."""
    if not data:
        raise ImageError(f"{name}: empty file")
    fmt = image_format(data)
    if fmt is None:
        raise ImageError(f"{name}: unsupported file type (JPEG, PNG, WebP, BMP or TIFF expected)")
    if fmt == "jpeg" and b"\xff\xd9" not in data[-4096:]:
        raise ImageError(f"{name}: corrupt or truncated JPEG (no end-of-image marker)")
    size = _peek_size(data)
    flag = cv2.IMREAD_COLOR
    if size is not None:
        long_side = max(size)
        for factor, reduced in (
            (8, cv2.IMREAD_REDUCED_COLOR_8),
            (4, cv2.IMREAD_REDUCED_COLOR_4),
            (2, cv2.IMREAD_REDUCED_COLOR_2),
        ):
            if long_side // factor >= DETAIL_MIN:
                flag = reduced
                break
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if img is None or img.ndim != 3 or min(img.shape[:2]) < 32:
        raise ImageError(f"{name}: corrupt {fmt} image (cannot be decoded)")
    long_side = max(img.shape[:2])
    if long_side > DETAIL_MAX:
        scale = 960 / long_side
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return img


def _peek_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's SOF or a PNG's IHDR header without decoding; None otherwise."""
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not data.startswith(b"\xff\xd8"):
        return None
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + length
    return None


# ------------------------------------------------------------------------------------- segmentation


def _background_distance(lab: np.ndarray, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel distance to the border's colours: in Lab (lightness down-weighted so shadows stay
    background) and in chroma alone."""
    h, w = lab.shape[:2]
    ring = max(4, int(min(h, w) * 0.05))
    border = np.ones((h, w), bool)
    border[ring:-ring, ring:-ring] = False
    border &= ~exclude
    samples = lab[border]
    if len(samples) > 800:
        samples = samples[:: len(samples) // 800]
    weights = np.array([0.35, 1.0, 1.0], np.float32)
    samples = np.ascontiguousarray(samples * weights, dtype=np.float32)
    k = 6
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    cv2.setRNGSeed(12345)  # k-means init is random; fixed so a photo always measures the same
    _, labels, centres = cv2.kmeans(samples, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=k)
    centres = centres[counts >= max(3, 0.04 * len(samples))]  # a fruit touching the border is not background
    # Per-channel arithmetic: for 3 channels and a few centres this beats a BLAS product by 10x.
    # (OpenCV's min and max here and below: NumPy's float loops, which look for NaN, take 2-3x as long.)
    light, a_ch, b_ch = cv2.split(lab)  # contiguous planes: a third of the strided channels' time
    l_w = light * weights[0]
    best = best_ab = None
    for c in centres:
        ab = (a_ch - c[1]) ** 2 + (b_ch - c[2]) ** 2
        full = ab + (l_w - c[0]) ** 2
        best = full if best is None else cv2.min(best, full)
        best_ab = ab if best_ab is None else cv2.min(best_ab, ab)
    # Six clusters: the largest holds over 4 % of the samples, so at least one centre is kept.
    assert best is not None and best_ab is not None
    return np.sqrt(best), np.sqrt(best_ab)


def segment(
    img: np.ndarray, lab: np.ndarray, marker: MarkerFit | None
) -> tuple[np.ndarray | None, str | None]:
    """The fruit's filled mask (uint8 0/1), or None and why the photo shows no gradable fruit."""
    h, w = img.shape[:2]
    # The marker and its white border are not background colours, nor fruit.
    marker_outline = [] if marker is None else [marker.polygon(MARKER_MARGIN)]
    exclude = np.zeros((h, w), np.uint8)
    cv2.fillPoly(exclude, marker_outline, 1)
    # The colour model only needs a coarse view: half resolution, distance upsampled bilinearly.
    small = cv2.resize(lab, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small_ex = cv2.resize(exclude, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
    dist_small, chroma_small = _background_distance(small, small_ex.astype(bool))
    dist = cv2.resize(dist_small, (w, h), interpolation=cv2.INTER_LINEAR)
    chroma = cv2.resize(chroma_small, (w, h), interpolation=cv2.INTER_LINEAR)
    cv2.fillPoly(dist, marker_outline, 0)
    cv2.fillPoly(chroma, marker_outline, 0)
    d8 = cv2.min(dist * 2, 255).astype(np.uint8)  # distances are never negative
    otsu, _ = cv2.threshold(d8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thr = max(otsu, 24.0)  # i.e. a Lab distance of at least 12 from every background colour
    strong = cv2.morphologyEx((d8 > thr).astype(np.uint8), cv2.MORPH_OPEN, _ELLIPSE3)
    n, labels, stats, _ = components(strong)
    if n <= 1:
        return None, "no fruit found (nothing stands out from the background)"
    if stats[1:, cv2.CC_STAT_AREA].max() < 0.01 * h * w:
        return None, "no fruit found (largest object too small)"
    # Hysteresis: a fruit close in colour to its background (ripe mango on wood) stands out only in
    # part; grow the strongest object through pixels that stand out weakly but are connected to it.
    seed = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    seed_mask = labels == seed
    # Edge pixels blend fruit and background; cut near half-way so the outline is not biased outwards.
    weak_thr = max(0.5 * thr, WEAK_DISTANCE, 0.8 * quantile(chroma[seed_mask], 0.5))
    weak = (chroma * 2 > weak_thr).astype(np.uint8)
    weak = cv2.morphologyEx(weak, cv2.MORPH_OPEN, _ELLIPSE3)
    weak |= seed_mask.astype(np.uint8)
    n, labels, stats, _ = components(weak)
    areas = stats[1:, cv2.CC_STAT_AREA]
    idx = 1 + int(np.argmax(areas))
    # Dark defects can split a fruit into pieces: gather every piece that lies inside the convex hull
    # of the largest one, then close small notches that rim defects leave.
    largest = (labels == idx).astype(np.uint8)
    hull_mask = np.zeros((h, w), np.uint8)
    cs, _ = cv2.findContours(largest, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.fillPoly(hull_mask, [cv2.convexHull(np.vstack(cs))], 1)
    inside = np.bincount(labels[hull_mask.astype(bool)], minlength=n)
    keep = np.zeros(n, bool)
    keep[1:] = inside[1:] >= 0.5 * areas
    keep[idx] = True
    blob = keep.astype(np.uint8)[labels]
    blob = cv2.morphologyEx(blob, cv2.MORPH_CLOSE, _ELLIPSE9)
    if np.count_nonzero(blob) < 0.02 * h * w:
        return None, "no fruit found (largest object too small)"
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    mask = np.zeros((h, w), np.uint8)
    cv2.drawContours(mask, [contour], -1, 1, thickness=-1)
    x, y, bw, bh = cv2.boundingRect(contour)
    if x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1:
        return None, "fruit cut off by the frame or fills the photo"
    return mask, None


def _histogram_u8(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixel counts (256 levels, int64) of a one-channel 8-bit image under a uint8 0/1 mask."""
    return cv2.calcHist([img], [0], mask, [256], [0, 256]).ravel().astype(np.int64)


def _histogram_quantile(hists: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile (nearest rank, as `oracle.geometry.quantile`) of the values each histogram
    counts, levels on the last axis: the first level whose running count passes the rank; 0 for an
    empty histogram."""
    n = hists.sum(axis=-1)
    rank = (q * (n - 1)).astype(np.int64)
    return np.where(n > 0, (np.cumsum(hists, axis=-1) <= rank[..., None]).sum(axis=-1), 0)


def _quantile_u8(img: np.ndarray, mask: np.ndarray, q: float) -> float:
    """`oracle.geometry.quantile` of an 8-bit image's pixels under a mask, from their histogram: no
    copy, no sort."""
    return float(_histogram_quantile(_histogram_u8(img, mask), q))


def _cell_percentile(val: np.ndarray, where: np.ndarray, cell: int, q: float) -> np.ndarray:
    """A smooth map of the q-th percentile of 8-bit `val` over the uint8 mask `where`, computed per
    cell (cells with under a tenth of a cell's pixels under the mask take the whole mask's) and
    upsampled. Every cell's histogram comes from one count of (cell, level) pairs."""
    h, w = val.shape
    rows, cols = max(1, round(h / cell)), max(1, round(w / cell))
    ys = np.linspace(0, h, rows + 1).astype(int)
    xs = np.linspace(0, w, cols + 1).astype(int)
    cell_of = np.repeat(np.arange(rows), np.diff(ys))[:, None] * cols + np.repeat(
        np.arange(cols), np.diff(xs)
    )
    under = where.astype(bool)
    hists = np.bincount(cell_of[under] * 256 + val[under], minlength=rows * cols * 256).reshape(
        rows * cols, 256
    )
    grid = np.full(rows * cols, _histogram_quantile(hists.sum(axis=0), q / 100), np.float32)
    filled = hists.sum(axis=1) >= 0.1 * cell * cell
    grid[filled] = _histogram_quantile(hists[filled], q / 100)
    return cv2.resize(grid.reshape(rows, cols), (w, h), interpolation=cv2.INTER_LINEAR)


# ------------------------------------------------------------------------------------------ measure


def measure(
    img: np.ndarray,
    marker_mm: float = DEFAULT_MARKER_MM,
    marker_id: int | None = DEFAULT_MARKER_ID,
    require_marker: bool = False,
) -> Measurement:
    """Measure one decoded BGR photo (see `decode_image`). With `require_marker`, a photo without
    the marker is not segmented here (its sizes cannot be known): only `marker_found` is set."""
    detail = img
    scale = 1.0
    if max(img.shape[:2]) > WORK_MAX:
        scale = WORK_LONG / max(img.shape[:2])
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    # The marker is located on a half-size copy of the working copy (a quarter of the pixels to
    # search) and its corners are read in a window of the decoded photo.
    search = cv2.resize(gray, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    marker = detect_marker(search, marker_mm, marker_id, detail=detail, coord_scale=w / (w // 2))
    if marker is None and max(detail.shape[:2]) > 2 * max(h, w):
        # A wide shot from a phone: a marker a few pixels wide on the search copy is still a square
        # candidate on the working copy.
        marker = detect_marker(gray, marker_mm, marker_id, detail=detail)
    out = Measurement(marker_found=marker is not None)
    if marker is not None:
        out.marker_polygon = np.round(marker.polygon(MARKER_MARGIN) / scale).astype(np.int32)
    if require_marker and marker is None:
        return out
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB).astype(np.float32)
    mask, reason = segment(img, lab, marker)
    if mask is None:
        out.ood_reason = reason
        return out
    out.mask = mask
    area = float(np.count_nonzero(mask))

    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(contour)
    solidity = float(cv2.contourArea(contour) / max(cv2.contourArea(hull), 1.0))
    width_px = max(axis_lengths(contour)[1], 1.0)
    ellipse_fit = 1.0
    if len(contour) >= 5:
        (_, _), (ea, eb), _ = cv2.fitEllipse(contour)
        ellipse_fit = float(area / max(np.pi * ea * eb / 4, 1.0))

    # Dark defects on the rim against a dark background leave notches in the outline: give back
    # the defect-dark pixels between the outline and its convex hull (the shape checks above keep
    # the raw outline, so real dents still count).
    if solidity < 0.995:
        hull_mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(hull_mask, [hull], 1)
        b_ch, g_ch, r_ch = cv2.split(img)
        v_full = cv2.max(cv2.max(b_ch, g_ch), r_ch)
        skin_v = _quantile_u8(v_full, mask, 0.5)
        notch = (hull_mask > mask) & (v_full < DEFECT_RATIO * skin_v)
        if notch.any():
            mask = mask | notch.astype(np.uint8)
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            contour = max(contours, key=cv2.contourArea)
            mask = np.zeros((h, w), np.uint8)
            cv2.drawContours(mask, [contour], -1, 1, thickness=-1)
            out.mask = mask
            area = float(np.count_nonzero(mask))

    # Everything below works on the fruit's bounding box in the full-detail image.
    contour_d = contour.reshape(-1, 2).astype(np.float64) / scale
    dh, dw = detail.shape[:2]
    bx, by, bw, bh = cv2.boundingRect(np.round(contour_d).astype(np.int32))
    x0, y0, x1, y1 = max(bx - 2, 0), max(by - 2, 0), min(bx + bw + 3, dw), min(by + bh + 3, dh)
    img_c = detail[y0:y1, x0:x1]
    mask = np.zeros(img_c.shape[:2], np.uint8)
    shifted = np.round((contour_d - [x0, y0]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [shifted], 1, lineType=cv2.LINE_8, shift=4)
    area_work = area
    area = float(np.count_nonzero(mask))
    width_d = width_px / scale
    hue, sat, val_u8 = cv2.split(cv2.cvtColor(img_c, cv2.COLOR_BGR2HSV))
    val = val_u8.astype(np.float32)

    if solidity < 0.86 or ellipse_fit < 0.78 or ellipse_fit > 1.15:
        out.ood_reason = "object is not fruit-shaped"
    skin_sat = _quantile_u8(sat, mask, 0.5)
    hues = _histogram_u8(hue, mask)
    if skin_sat < 50 or (hues[:61].sum() + hues[165:].sum()) / hues.sum() < 0.8:
        out.ood_reason = out.ood_reason or "object colour is not a fruit skin colour"
    if area_work > 0.6 * h * w:
        out.ood_reason = out.ood_reason or "object fills the photo"

    # Defects: darker than DEFECT_RATIO of the local skin brightness, rim excluded.
    rim = int(4 / scale) + 1  # the same ~2 working pixels of rim, at full detail
    inner_u8 = cv2.erode(mask, np.ones((rim, rim), np.uint8))
    inner = inner_u8.astype(bool)
    k = max(9, int(width_d / 3) | 1)
    # First guess of the skin: pixels not much darker than their cell's 60th brightness percentile
    # (cells of about k x k), so dense or large defects cannot become their own reference.
    skin_px = inner & (val >= DEFECT_RATIO * _cell_percentile(val_u8, inner_u8, k, 60))
    for _ in range(2):
        # Window sums of whole numbers, from bytes: OpenCV adds 8-bit pixels exactly in integers.
        illum = cv2.boxFilter(
            val_u8 * skin_px, cv2.CV_32F, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT
        )
        norm = cv2.boxFilter(
            skin_px.view(np.uint8), cv2.CV_32F, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT
        )
        # Where a window holds almost no healthy skin (inside a large defect), fall back to the
        # fruit's overall skin brightness rather than to the defect's own.
        global_skin = _quantile_u8(val_u8, skin_px.view(np.uint8) if skin_px.any() else inner_u8, 0.5)
        local = illum / cv2.max(norm, 1e-3)
        np.putmask(local, norm <= 0.1 * k * k, global_skin)
        ratio = val / cv2.max(local, 1.0)
        dark = inner & (ratio < DEFECT_RATIO)
        skin_px = inner & ~dark
    defect_fraction = float(np.count_nonzero(dark) / area)
    healthy = inner & ~dark & ~((val_u8 > 235) & (sat < 90))
    hues = _histogram_u8(hue, healthy.view(np.uint8) if healthy.any() else mask)
    green_fraction = float(hues[GREEN_HUE:91].sum() / hues.sum())

    out.defect_fraction = round(defect_fraction, 4)
    out.colour_stage = stage_from_green_fraction(green_fraction)
    if marker is not None and out.ood_reason is None:
        pts = contour.reshape(-1, 1, 2).astype(np.float32)
        mm = cv2.perspectiveTransform(pts, marker.to_mm).reshape(-1, 2)
        length_mm, width_mm = axis_lengths(mm)
        out.length_mm = round(length_mm, 1)
        out.width_mm = round(width_mm, 1)

    return out
