"""What a real photo's fruit looks like: its outline and skin statistics a classifier can learn from.

Works on a small copy of the photo (long side `SIDE` px) for the outline, and on a copy half that
side for the skin statistics, which is all colour and lesion statistics need and keeps a photo to a
few milliseconds:

1. **Outline** (`find_fruit`): colours of the photo's border ring are clustered in Lab; a border
   colour that also covers the photo's centre belongs to a fruit touching the frame, the others are
   backdrop (white, black, wood, a crate, leaves). Pixels far from every backdrop colour are fruit;
   the largest object near the centre, holes filled, is the outline. Other objects clear of the
   frame as large, compact and colourful as a fruit are counted: other fruits when they lie apart,
   possibly the rest of this one when close (a fruit split in two by a mould cap or a lesion).
2. **Whole fruit?** (`outline_check`): an ellipse fitted to the outline's free edge (the part not on
   the frame) says how much of the fruit lies outside the photo; a fruit cut in half is refused.
   When a refused outline took in the surface the fruit lies on (a beige table under an orange),
   the reason says so (`_fruit_on_a_surface`), so a person knows to change the backdrop.
3. **Skin statistics** (`skin_features`): colour histograms of the fruit (Lab and hue), local
   binary patterns of its texture, and lesion statistics: skin darker than the local skin (so a
   shaded side, darker everywhere, does not count), brown, pale/white (mould) and its blobs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from oracle.geometry import components, quantile

SIDE = 160
#: The skin statistics are taken on a copy of the working copy at this scale (80 px long side): the
#: classifier is as accurate on validation photos as at full working size, for 40 % of the time.
SKIN_SCALE = 0.5
#: The convolutional part of the model reads the fruit as a CROP x CROP colour square.
CROP = 112
#: A fruit whose fitted outline has more than this share of its area outside the photo is partial.
PARTIAL_LIMIT = 0.3
#: An outline smaller than this share of the working copy is no fruit.
NO_FRUIT_SHARE = 0.03
#: Why a photo whose outline took in the surface the fruit lies on goes to a person.
SURFACE_REASON = (
    "the fruit cannot be told apart from the surface it lies on (its outline runs into it); "
    "photograph it on a plain backdrop of another colour"
)
#: A fruit's skin is at least this much more colourful (median chroma) than a table, cloth or wall
#: of its colour family around it; a lesion or blush on a fruit cut by the frame is not.
_SURFACE_CHROMA_RATIO = 1.5
#: An outline with (nearly) all of its fitted area outside the photo: no free edge to fit, the
#: outline runs along the frame (a fruit filling it, or a backdrop read as skin).
_UNTOLD_FROM_FRAME = 0.995
#: Another object clear of the frame is another fruit when it is at least this share of the main
#: fruit's area, fills `_OTHER_FRUIT_FILL` of its bounding box (an ellipse fills 0.79, a curved
#: banana 0.45) and its median chroma is `_OTHER_FRUIT_CHROMA` of the main fruit's or more.
_OTHER_FRUIT_AREA = 0.35
_OTHER_FRUIT_FILL = 0.4
_OTHER_FRUIT_CHROMA = 0.6
#: ... and lies apart from it when this share of the larger one's size (the root of its area) or
#: more separates them; closer, one may be the rest of the same fruit (the outline a fragment of it).
_APART = 0.3
#: Between the outline and its convex hull, skin darker than this share of the fruit's median
#: lightness is a lesion the outline cut off, not backdrop.
_RIM_LESION_RATIO = 0.78

_ELLIPSE5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_HUE_BINS = 18
#: The 256 levels of an 8-bit channel, as the float32 values its pixels take once converted.
_LEVELS = np.arange(256, dtype=np.float32)
_L_BINS = 8
_AB_BINS = 8


@dataclass(slots=True)
class Outline:
    """The fruit's mask on the working copy, its contour, and how much of it the photo shows."""

    mask: np.ndarray
    contour: np.ndarray
    outside_share: float
    frame_contact: float
    fills_frame: bool


def working_copy(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    scale = SIDE / max(h, w)
    return cv2.resize(img, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)


def _chroma(lab: np.ndarray) -> np.ndarray:
    """Per-pixel chroma (distance from grey in the a, b plane) of a Lab image."""
    return np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)


@functools.lru_cache(maxsize=8)
def _centre_ellipse(h: int, w: int) -> np.ndarray:
    """Where the photo's central ellipse (half its width and height) lies, as flat pixel indices in
    row order, read-only: shared between photos."""
    yy, xx = np.mgrid[0:h, 0:w]
    centre = np.flatnonzero(((xx - w / 2) / (0.25 * w)) ** 2 + ((yy - h / 2) / (0.25 * h)) ** 2 <= 1.0)
    centre.flags.writeable = False
    return centre


@dataclass(slots=True)
class Found:
    """The main fruit's uint8 0/1 mask on the working copy, and the objects beside it that look like
    whole fruits (see `_fruits_beside`): apart from it (other fruits: the grade is the main one's and
    says so), or close to it (`joined`: another fruit touching it, or the rest of this one in
    another colour, a mould cap or a lesion's far side, which the outline left out)."""

    mask: np.ndarray
    other_fruits: int = 0
    joined: int = 0


def fruit_mask(
    small: np.ndarray, lab: np.ndarray, *, border_colours_are_backdrop: bool = False
) -> np.ndarray:
    """uint8 0/1 mask of the main fruit on the working copy (see `find_fruit`)."""
    return find_fruit(small, lab, border_colours_are_backdrop=border_colours_are_backdrop).mask


def find_fruit(small: np.ndarray, lab: np.ndarray, *, border_colours_are_backdrop: bool = False) -> Found:
    """The main fruit on the working copy (see the module docstring) and the other fruits beside it.

    With `border_colours_are_backdrop`, no border colour is taken for a fruit touching the frame:
    what remains is an object lying wholly inside the photo, if there is one."""
    h, w = small.shape[:2]
    ring = max(2, int(0.04 * min(h, w)))
    border = np.ones((h, w), bool)
    border[ring:-ring, ring:-ring] = False
    weights = np.array([0.5, 1.0, 1.0], np.float32)
    samples = np.ascontiguousarray(lab[border][::2] * weights, dtype=np.float32)
    k = 5
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    cv2.setRNGSeed(12345)  # k-means init is random; fixed so a photo always measures the same
    _, labels, centres = cv2.kmeans(samples, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=k) / len(samples)
    centre = _centre_ellipse(h, w)
    best = np.full((h, w), np.inf, np.float32)
    # Per-channel arithmetic on contiguous planes: several times faster than reducing the colour axis.
    # (OpenCV's min and max here and below: NumPy's float loops, which look for NaN, take 2-3x as long.)
    light, a_ch, b_ch = cv2.split(lab)
    light_w = light * weights[0]
    # Lab's planes hold whole levels; the weighted lightness, halves of them: median of the levels.
    centre_lab = lab.reshape(-1, 3)[centre]
    centre_colour = np.array([_level_median(centre_lab[:, ch]) for ch in range(3)]) * weights
    for c, share in zip(centres, counts, strict=True):
        if share < 0.04:
            continue
        d = np.sqrt((light_w - c[0]) ** 2 + (a_ch - c[1]) ** 2 + (b_ch - c[2]) ** 2)
        grey = np.hypot(c[1] - 128, c[2] - 128) < 12  # white, grey, black: a backdrop, never skin
        if not grey and not border_colours_are_backdrop:
            # A skin colour that is also in the centre belongs to a fruit touching the frame.
            skin = np.linalg.norm(c - centre_colour) < 20 or (d.reshape(-1)[centre] < 16).mean() > 0.05
            if skin:
                continue
        best = cv2.min(best, d)
    if not np.isfinite(best).any():
        return Found(np.ones((h, w), np.uint8))  # no backdrop colour on the border: the fruit fills the photo
    best = np.where(np.isfinite(best), best, 255.0)
    d8 = cv2.min(best * 2, 255).astype(np.uint8)  # distances are never negative
    otsu, _ = cv2.threshold(d8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    fg = (d8 > max(otsu, 24.0)).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, _ELLIPSE5)
    n, labels_cc, stats, centroids = components(fg)
    if n <= 1:
        return Found(np.zeros((h, w), np.uint8))
    # The main fruit: large and near the centre.
    dist = np.hypot(centroids[1:, 0] / w - 0.5, centroids[1:, 1] / h - 0.5)
    score = stats[1:, cv2.CC_STAT_AREA] / (h * w) * (1.2 - dist)
    idx = 1 + int(np.argmax(score))
    blob = (labels_cc == idx).astype(np.uint8)
    blob = cv2.morphologyEx(blob, cv2.MORPH_CLOSE, _ELLIPSE5)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    mask = np.zeros((h, w), np.uint8)
    cv2.drawContours(mask, [contour], -1, 1, thickness=-1)
    return Found(_give_back_rim_lesions(mask, contour, lab), *_fruits_beside(stats, labels_cc, idx, lab))


def _fruits_beside(stats: np.ndarray, labels: np.ndarray, main: int, lab: np.ndarray) -> tuple[int, int]:
    """(apart, joined): objects (`components` rows) besides the main one that look
    like whole fruits: clear of the frame like it, nearly as large (`_OTHER_FRUIT_AREA`), compact
    (`_OTHER_FRUIT_FILL` of their box) and about as colourful (`_OTHER_FRUIT_CHROMA`); joined when
    closer to it than `_APART` of the larger one's size. A close-up whose fruit runs off the frame
    has none: the pieces a lesion splits it into are the same fruit. Grey mould, shadows, a table's
    corner, leaves and labels are left out by colour, shape or size."""
    h, w = labels.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    clear = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    if not clear[main]:
        return 0, 0
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    candidates = np.arange(len(stats)) > 0
    candidates[main] = False
    candidates &= clear & (area >= _OTHER_FRUIT_AREA * area[main]) & (area >= _OTHER_FRUIT_FILL * bw * bh)
    if not candidates.any():
        return 0, 0
    chroma = _chroma(lab)
    main_chroma = _median(chroma[labels == main])
    distance = cv2.distanceTransform((labels != main).astype(np.uint8), cv2.DIST_L2, 5)
    apart = joined = 0
    for i in np.nonzero(candidates)[0]:
        if _median(chroma[labels == i]) < _OTHER_FRUIT_CHROMA * main_chroma:
            continue
        if distance[labels == i].min() >= _APART * np.sqrt(max(area[main], area[i])):
            apart += 1
        else:
            joined += 1
    return apart, joined


def _give_back_rim_lesions(mask: np.ndarray, contour: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """A dark lesion on the fruit's rim against a dark backdrop looks like backdrop and leaves a bite
    in the outline: give back the pixels between the outline and its convex hull that are much
    darker than the fruit's skin (the backdrop around a whole fruit stays outside the hull)."""
    hull = cv2.convexHull(contour)
    hull_mask = np.zeros_like(mask)
    cv2.fillPoly(hull_mask, [hull], 1)
    bite = (hull_mask > mask) & (lab[..., 0] < _RIM_LESION_RATIO * _level_median(lab[..., 0][mask > 0]))
    if not bite.any():
        return mask
    grown = mask | bite.astype(np.uint8)
    contours, _ = cv2.findContours(grown, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros_like(mask)
    cv2.drawContours(out, [max(contours, key=cv2.contourArea)], -1, 1, thickness=-1)
    return out


def _fruit_on_a_surface(small: np.ndarray, lab: np.ndarray, mask: np.ndarray) -> bool:
    """Whether a refused outline took in the surface the fruit lies on: with every border colour as
    backdrop, an object clear of the frame remains, nearly all of it inside the outline and far more
    colourful than the surface around it. It only names the reason: the photo still goes to a person,
    since the grader learned from the outlines `fruit_mask` draws."""
    fruit = fruit_mask(small, lab, border_colours_are_backdrop=True)
    if fruit.mean() < NO_FRUIT_SHARE or outline_check(fruit).frame_contact > 0:
        return False
    if np.count_nonzero(fruit & mask) < 0.9 * np.count_nonzero(fruit):
        return False
    around = cv2.dilate(fruit, _ELLIPSE5, iterations=2) > fruit
    chroma = _chroma(lab)
    return _median(chroma[fruit > 0]) >= _SURFACE_CHROMA_RATIO * _median(chroma[around])


def outline_check(mask: np.ndarray) -> Outline:
    """How much of the fruit the photo shows: the share of a fitted ellipse outside the frame."""
    h, w = mask.shape
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return Outline(mask, np.zeros((0, 1, 2), np.int32), 1.0, 1.0, False)
    contour = max(contours, key=cv2.contourArea)
    pts = contour.reshape(-1, 2)
    on_frame = (pts[:, 0] <= 0) | (pts[:, 1] <= 0) | (pts[:, 0] >= w - 1) | (pts[:, 1] >= h - 1)
    contact = float(on_frame.mean())
    if mask.mean() > 0.97:
        return Outline(mask, contour, 0.0, 1.0, True)
    free = pts[~on_frame]
    if len(free) < 12:
        return Outline(mask, contour, 1.0, contact, False)
    if not on_frame.any():
        return Outline(mask, contour, 0.0, 0.0, False)
    (cx, cy), (ea, eb), angle = cv2.fitEllipse(free.astype(np.float32).reshape(-1, 1, 2))
    if not (np.isfinite([cx, cy, ea, eb]).all() and ea > 1 and eb > 1) or max(ea, eb) > 6 * max(h, w):
        return Outline(mask, contour, 1.0, contact, False)
    # Rasterise the ellipse on a canvas twice the photo's size to count what lies outside.
    pad_x, pad_y = w, h
    canvas = np.zeros((3 * h, 3 * w), np.uint8)
    cv2.ellipse(canvas, ((cx + pad_x, cy + pad_y), (ea, eb), angle), 1, thickness=-1)
    total = float(np.count_nonzero(canvas))
    inside = float(np.count_nonzero(canvas[pad_y : pad_y + h, pad_x : pad_x + w]))
    outside = 1.0 - inside / total if total else 1.0
    return Outline(mask, contour, outside, contact, False)


@functools.lru_cache(maxsize=16)
def _level_bins(bins: int, lo: float, hi: float, dtype: str) -> np.ndarray:
    """The bin np.histogram puts each of the levels 0-255 in (-1 outside the range), read-only."""
    levels = np.arange(256).astype(dtype)
    out = np.array(
        [np.histogram(levels[v : v + 1], bins=bins, range=(lo, hi))[0].argmax() for v in levels.astype(int)]
    )
    inside = (levels >= lo) & (levels <= hi)
    out[~inside] = -1
    out.flags.writeable = False
    return out


def _level_hist(
    values: np.ndarray, bins: int, lo: float, hi: float, weights: np.ndarray | None = None
) -> np.ndarray:
    """The normalised `np.histogram` of whole-number values 0-255 (8-bit channels, texture codes),
    the same bits at a fraction of its cost: the bins come from a table of the 256 levels.
    Unweighted, each level is counted once and the counts added into the bins; weighted, the
    weights are summed per bin as np.histogram sums them (in float64, in the values' order, then
    held in the weights' type)."""
    level_bin = _level_bins(bins, lo, hi, values.dtype.str)
    h: np.ndarray
    if weights is None:
        counts = np.bincount(values.astype(np.intp), minlength=256)
        inside = level_bin >= 0
        h = np.bincount(level_bin[inside], weights=counts[inside], minlength=bins).astype(np.int64)
    else:
        in_bin = level_bin[values.astype(np.intp)]
        kept = in_bin >= 0
        h = np.bincount(in_bin[kept], weights=weights[kept], minlength=bins).astype(weights.dtype)
    s = h.sum()
    return (h / s if s > 0 else h).astype(np.float32)


#: The (a, b) colour pairs' 4 x 4 bins: a over 100-180, b over 110-210.
_PAIR_BINS, _A_RANGE, _B_RANGE = 4, (100, 180), (110, 210)


def _colour_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The normalised, flattened `np.histogram2d` of float32 whole levels of Lab's a and b over
    `_PAIR_BINS` x `_PAIR_BINS` bins, the same bits, from the levels' bin tables."""
    a_bin = _level_bins(_PAIR_BINS, *_A_RANGE, a.dtype.str)[a.astype(np.intp)]
    b_bin = _level_bins(_PAIR_BINS, *_B_RANGE, b.dtype.str)[b.astype(np.intp)]
    paired = (a_bin >= 0) & (b_bin >= 0)
    counts = np.bincount(_PAIR_BINS * a_bin[paired] + b_bin[paired], minlength=_PAIR_BINS**2)
    return (counts / max(1.0, float(counts.sum()))).astype(np.float32)


def _median(values: np.ndarray) -> float:
    """`np.median` of a 1-D float array, the same bits without its checks: the middle value, or
    the mean of the two middle ones."""
    half = values.size // 2
    if values.size % 2:
        return float(np.partition(values, half)[half])
    return float(np.partition(values, (half - 1, half))[half - 1 : half + 1].mean())


def _level_median(values: np.ndarray) -> np.float32:
    """`np.median` of float32 whole levels 0-255, the same bits, from their counts (no sort): the
    middle value, or the float32 mean of the two middle ones."""
    counts = np.cumsum(np.bincount(values.astype(np.intp), minlength=256))
    n = int(counts[-1])
    low, high = (np.searchsorted(counts, k, side="right") for k in ((n - 1) // 2, n // 2))
    return (np.float32(low) + np.float32(high)) / np.float32(2)


_LBP_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
_UNIFORM = np.zeros(256, np.uint8)
for _code in range(256):
    _bits = [(_code >> i) & 1 for i in range(8)]
    _transitions = sum(_bits[i] != _bits[(i + 1) % 8] for i in range(8))
    _UNIFORM[_code] = sum(_bits) if _transitions <= 2 else 9


def _lbp(gray: np.ndarray) -> np.ndarray:
    """Rotation-invariant uniform local binary patterns (10 codes, uint8) of a grayscale image."""
    g = gray.astype(np.int16)
    threshold = g[1:-1, 1:-1] + 2  # a neighbour this much brighter than the centre sets its bit
    code = np.zeros(threshold.shape, np.uint8)
    hh, ww = g.shape
    for bit, (dy, dx) in enumerate(_LBP_OFFSETS):
        neighbour = g[1 + dy : hh - 1 + dy, 1 + dx : ww - 1 + dx]
        code |= (neighbour >= threshold).view(np.uint8) << np.uint8(bit)
    out = np.full(g.shape, 9, np.uint8)
    out[1:-1, 1:-1] = _UNIFORM[code]
    return out


def lesion_maps(small: np.ndarray, lab: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean maps of skin that looks damaged, on the working copy."""
    fruit = mask.astype(bool)
    inner = cv2.erode(mask, _ELLIPSE5).astype(bool)
    if np.count_nonzero(inner) < 50:
        inner = fruit if np.count_nonzero(fruit) >= 50 else np.ones(mask.shape, bool)
    light = lab[..., 0]
    # Local skin brightness from a wide masked mean: a shaded side is darker everywhere, a lesion is
    # darker than the skin around it.
    k = max(9, (min(small.shape[:2]) // 4) | 1)
    num = cv2.boxFilter(light * inner, -1, (k, k), normalize=False)
    den = cv2.boxFilter(inner.astype(np.float32), -1, (k, k), normalize=False)
    local = num / cv2.max(den, 1e-3)
    ratio = light / cv2.max(local, 1.0)
    chroma = _chroma(lab)
    skin_chroma = _median(chroma[inner])
    skin_light = float(_level_median(light[inner]))
    return {
        "dark": inner & (ratio < 0.75),
        "very_dark": inner & (ratio < 0.55),
        "brown": inner & (ratio < 0.9) & (chroma < 0.7 * skin_chroma) & (lab[..., 2] > 128),
        "pale": inner & (chroma < 0.35 * skin_chroma + 4) & (light > 0.9 * skin_light),
    }


def skin_features(small: np.ndarray, lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The classifier's input: colour, texture and lesion statistics of the fruit's pixels."""
    fruit = mask.astype(bool)
    if np.count_nonzero(fruit) < 30:
        fruit = np.ones(mask.shape, bool)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    px_lab = lab[fruit]
    px_hsv = hsv[fruit].astype(np.float32)
    parts = [
        _level_hist(px_lab[:, 0], _L_BINS, 0, 256),
        _level_hist(px_lab[:, 1], _AB_BINS, 96, 192),
        _level_hist(px_lab[:, 2], _AB_BINS, 96, 224),
        _level_hist(px_hsv[:, 0], _HUE_BINS, 0, 180, weights=px_hsv[:, 1] / 255.0),
        _level_hist(px_hsv[:, 1], 6, 0, 256),
    ]
    moments = []
    for ch in range(3):
        v = px_lab[:, ch]
        mu, sd = float(v.mean()), float(v.std())
        # The channel holds whole levels 0-255: each level is cubed once (the same bits as cubing every
        # pixel, where np.power costs some 60 ns a value).
        cubes = ((_LEVELS - mu) ** 3)[v.astype(np.intp)]
        moments += [mu / 255, sd / 64, float(cubes.mean() / max(sd, 1e-3) ** 3) / 4]
    parts.append(np.array(moments, np.float32))
    gray = lab[..., 0].astype(np.uint8)
    lbp = _lbp(gray)
    parts.append(_level_hist(lbp[fruit], 10, 0, 10))
    # Element-wise numpy and a float64 mean: the same bits in every process (cv2.magnitude and a
    # float32 mean moved in the last bits from run to run, so retraining gave other model bytes).
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    grad = np.sqrt(gx * gx + gy * gy)[fruit]
    parts.append(np.array([grad.mean(dtype=np.float64) / 64, quantile(grad, 0.9) / 128], np.float32))
    lesions = lesion_maps(small, lab, mask)
    area = float(np.count_nonzero(fruit))
    stats = []
    for name in ("dark", "very_dark", "brown", "pale"):
        m = lesions[name].astype(np.uint8)
        n, _, st, _ = components(m)
        areas = st[1:, cv2.CC_STAT_AREA] if n > 1 else np.zeros(1)
        stats += [np.count_nonzero(m) / area, float(np.log1p(n - 1)), areas.max() / area]
    parts.append(np.array(stats, np.float32))
    parts.append(_lesion_shape(lab, fruit, lesions["dark"] | lesions["brown"]))
    # Colour pairs (a, b) and a coarser texture scale.
    parts.append(_colour_pairs(px_lab[:, 1], px_lab[:, 2]))
    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    half_fruit = cv2.resize(
        fruit.astype(np.uint8), (half.shape[1], half.shape[0]), interpolation=cv2.INTER_NEAREST
    )
    half_fruit = half_fruit.astype(bool) if np.count_nonzero(half_fruit) >= 10 else np.ones(half.shape, bool)
    parts.append(_level_hist(_lbp(half)[half_fruit], 10, 0, 10))
    light = lab[..., 0]
    mean = cv2.blur(light, (5, 5))
    local_sd = np.sqrt(cv2.max(cv2.blur(light * light, (5, 5)) - mean * mean, 0))[fruit]
    parts.append(
        np.array(
            [local_sd.mean() / 32, quantile(local_sd, 0.9) / 32, quantile(local_sd, 0.99) / 32], np.float32
        )
    )
    return np.concatenate(parts).astype(np.float32)


#: Lesion sizes as shares of the fruit: tiny spots, small, medium, large, one patch.
_LESION_SIZES = np.array([0, 0.002, 0.01, 0.04, 0.15, 1.01])


def _lesion_shape(lab: np.ndarray, fruit: np.ndarray, lesion: np.ndarray) -> np.ndarray:
    """Lesion sizes (tiny spots to one large patch), where they sit along the fruit's axis (stem-end
    rot starts at an end) and their colour against the healthy skin."""
    area = max(float(np.count_nonzero(fruit)), 1.0)
    n, _, st, _ = components(lesion.astype(np.uint8))
    areas = st[1:, cv2.CC_STAT_AREA] / area if n > 1 else np.zeros(0)
    # np.histogram's bins (the last one holds its right edge), counted without its sort.
    size_bin = np.searchsorted(_LESION_SIZES, areas, side="right") - 1
    size_bin[areas == _LESION_SIZES[-1]] -= 1
    counted = (size_bin >= 0) & (size_bin < len(_LESION_SIZES) - 1)
    sizes = np.log1p(np.bincount(size_bin[counted], minlength=len(_LESION_SIZES) - 1)).astype(np.float32)
    ys, xs = np.nonzero(fruit)
    cy, cx = ys.mean(), xs.mean()
    # np.cov's own steps, without its checks and copies (the same bits).
    spread = np.stack([xs - cx, ys - cy])
    spread -= spread.mean(axis=1)[:, None]
    cov = np.dot(spread, spread.T) * (1 / (spread.shape[1] - 1))
    evals, evecs = np.linalg.eigh(cov)
    axis = evecs[:, 1]
    half_length = 2 * np.sqrt(max(evals[1], 0.0)) + 1e-3
    dy, dx = np.nonzero(lesion)
    if len(dx):
        along = ((dx - cx) * axis[0] + (dy - cy) * axis[1]) / half_length
        radial = np.hypot(dx - cx, dy - cy) / half_length
        place = [np.abs(along).mean(), abs(along.mean()), radial.mean(), along.std()]
        spot = lab[lesion]
        healthy = fruit & ~lesion
        skin = lab[healthy] if healthy.any() else lab[fruit]
        colour = [
            (spot[:, 0].mean() - skin[:, 0].mean()) / 64,
            (spot[:, 1].mean() - skin[:, 1].mean()) / 32,
            (spot[:, 2].mean() - skin[:, 2].mean()) / 32,
            spot[:, 0].std() / 64,
        ]
    else:
        place, colour = [0.0] * 4, [0.0] * 4
    return np.concatenate([sizes, np.array(place + colour, np.float32)])


FEATURES = (
    *(f"light_{i}" for i in range(_L_BINS)),
    *(f"a_{i}" for i in range(_AB_BINS)),
    *(f"b_{i}" for i in range(_AB_BINS)),
    *(f"hue_{i}" for i in range(_HUE_BINS)),
    *(f"saturation_{i}" for i in range(6)),
    *(f"{ch}_{m}" for ch in ("light", "a", "b") for m in ("mean", "spread", "skew")),
    *(f"texture_{i}" for i in range(10)),
    "edge_mean",
    "edge_p90",
    *(
        f"{kind}_{m}"
        for kind in ("dark", "very_dark", "brown", "pale")
        for m in ("share", "blobs", "largest")
    ),
    *(f"lesions_{size}" for size in ("tiny", "small", "medium", "large", "patch")),
    "lesion_along_axis",
    "lesion_off_centre",
    "lesion_radius",
    "lesion_axis_spread",
    "lesion_light",
    "lesion_a",
    "lesion_b",
    "lesion_light_spread",
    *(f"ab_{i}" for i in range(16)),
    *(f"texture_coarse_{i}" for i in range(10)),
    "local_contrast_mean",
    "local_contrast_p90",
    "local_contrast_p99",
)


@dataclass(slots=True)
class Appearance:
    """One photo's fruit: features for the classifier, the outline, and why it cannot be judged."""

    features: np.ndarray
    outline: Outline
    lesion_share: float
    green_share: float
    reason: str | None
    crop: np.ndarray
    #: whole fruits apart from the one described, and fruit-sized objects close to it (`Found`)
    other_fruits: int = 0
    joined: int = 0


def fruit_crop(img: np.ndarray, small_shape: tuple[int, ...], mask: np.ndarray) -> np.ndarray:
    """The fruit as a CROP x CROP BGR square cut from the decoded photo: the square around the
    outline's bounding box (a little margin, the photo's edge repeated where the square leaves it).
    It shows every pixel inside the box, so a lesion the outline missed at the fruit's edge is seen."""
    x0, y0, box_w, box_h = cv2.boundingRect(mask)
    x1, y1 = x0 + box_w, y0 + box_h
    if box_w == 0:
        y0, x0, y1, x1 = 0, 0, small_shape[0], small_shape[1]
    to_full = img.shape[1] / small_shape[1]
    side = max(x1 - x0, y1 - y0) * 1.06 * to_full
    cx, cy = (x0 + x1) / 2 * to_full, (y0 + y1) / 2 * to_full
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    size = max(int(round(side)), 1)
    h, w = img.shape[:2]
    square = img[max(top, 0) : top + size, max(left, 0) : left + size]
    # Where the square leaves the photo, the photo's edge is repeated.
    beyond = (max(0, -top), max(0, top + size - h), max(0, -left), max(0, left + size - w))
    if any(beyond):
        square = cv2.copyMakeBorder(square, *beyond, cv2.BORDER_REPLICATE)
    return cv2.resize(square, (CROP, CROP), interpolation=cv2.INTER_AREA)


def describe(img: np.ndarray) -> Appearance:
    """Outline, whole-fruit check and skin features of a decoded BGR photo."""
    small = working_copy(img)
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    found = find_fruit(small, lab)
    mask = found.mask
    outline = outline_check(mask)
    reason = None
    if np.count_nonzero(mask) < NO_FRUIT_SHARE * mask.size:
        reason = "no fruit found in the photo"
    elif outline.outside_share > PARTIAL_LIMIT and _fruit_on_a_surface(small, lab, mask):
        reason = SURFACE_REASON
    elif outline.outside_share >= _UNTOLD_FROM_FRAME:
        # No free edge to fit a fruit's shape to: "100 % of it outside the frame" would say nothing.
        reason = (
            "only part of the fruit is in the photo, or the fruit cannot be told from what is around it "
            "(its outline runs along the frame); photograph the whole fruit clear of the frame, on a "
            "plain backdrop"
        )
    elif outline.outside_share > PARTIAL_LIMIT:
        reason = (
            f"only part of the fruit is in the photo (about {outline.outside_share:.0%} of it is outside "
            "the frame); photograph the whole fruit"
        )
    skin = cv2.resize(small, None, fx=SKIN_SCALE, fy=SKIN_SCALE, interpolation=cv2.INTER_AREA)
    skin_mask = cv2.resize(mask, (skin.shape[1], skin.shape[0]), interpolation=cv2.INTER_NEAREST)
    features = skin_features(skin, cv2.cvtColor(skin, cv2.COLOR_BGR2LAB).astype(np.float32), skin_mask)
    named = dict(zip(FEATURES, features, strict=True))
    lesion = float(named["dark_share"] + named["brown_share"] + named["pale_share"])
    hue = features[_L_BINS + 2 * _AB_BINS : _L_BINS + 2 * _AB_BINS + _HUE_BINS]
    green = float(hue[3:9].sum())  # hue 30-90 (OpenCV scale): yellow-green to green
    crop = fruit_crop(img, small.shape, mask)
    return Appearance(
        features, outline, min(lesion, 1.0), green, reason, crop, found.other_fruits, found.joined
    )


def lesion_overlay_maps(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(working copy, fruit mask, lesion mask) for drawing an explanation."""
    small = working_copy(img)
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    mask = fruit_mask(small, lab)
    maps = lesion_maps(small, lab, mask)
    lesions = maps["dark"] | maps["brown"] | maps["pale"]
    return small, mask, lesions


def describe_file(path: str) -> tuple[np.ndarray | None, float, str | None, np.ndarray | None]:
    """(features, share outside the frame, reason, fruit crop) of a photo file; (None, 1.0, error,
    None) when unreadable. A top-level function so the trainer's process pool can run it."""
    from pathlib import Path

    from oracle.errors import ImageError
    from oracle.measure import decode_image

    try:
        img = decode_image(Path(path).read_bytes(), path)
    except (OSError, ImageError) as exc:
        return None, 1.0, str(exc), None
    a = describe(img)
    return a.features, a.outline.outside_share, a.reason, a.crop
