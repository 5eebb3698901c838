"""Measurements on photos with known geometry: hand-drawn scenes, then the synthetic generator."""

import cv2
import numpy as np
import pytest

from oracle.errors import ImageError
from oracle.geometry import components, quantile
from oracle.marker import marker_image
from oracle.measure import _cell_percentile, _quantile_u8, decode_image, measure
from oracle.synth import OOD_KINDS, render_ood


def scene(
    length_mm=110.0,
    width_mm=70.0,
    px_per_mm=2.5,
    hue=45,
    defect_mm=0.0,
    marker=True,
    background=(215, 220, 225),
    angle=20.0,
):
    """A fruit-coloured ellipse of known size on a plain background, the marker beside it."""
    img = np.zeros((480, 640, 3), np.uint8)
    img[:] = background
    if marker:
        side = round(40 * px_per_mm)
        img[30 : 30 + side + 20, 30 : 30 + side + 20] = 250
        img[40 : 40 + side, 40 : 40 + side] = marker_image(side)[..., None]
    centre = (420, 260)
    axes = (length_mm * px_per_mm / 2, width_mm * px_per_mm / 2)
    hsv = np.uint8([[[hue, 190, 210]]])
    colour = tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
    cv2.ellipse(img, (centre, (2 * axes[0], 2 * axes[1]), angle), colour, -1, cv2.LINE_AA)
    if defect_mm:
        cv2.circle(img, centre, round(defect_mm * px_per_mm), (20, 30, 45), -1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return buf.tobytes()


@pytest.mark.parametrize(("length", "width", "ppm"), [(110, 70, 2.5), (80, 75, 3.0), (140, 60, 1.8)])
def test_measure__drawn_ellipse__size_within_5_percent(length, width, ppm):
    m = measure(decode_image(scene(length, width, ppm)))
    assert m.ood_reason is None
    assert m.length_mm == pytest.approx(length, rel=0.05)
    assert m.width_mm == pytest.approx(width, rel=0.05)


def test_measure__no_marker__size_unknown_colour_and_defects_measured():
    m = measure(decode_image(scene(marker=False, defect_mm=10)))
    assert m.marker_found is False
    assert m.length_mm is None and m.width_mm is None
    assert m.colour_stage == 0
    assert m.defect_fraction == pytest.approx(100 / (55 * 35), abs=0.02)


@pytest.mark.parametrize(("hue", "stage"), [(46, 0), (40, 0), (24, 2), (15, 2)])
def test_measure__skin_hue__colour_stage(hue, stage):
    assert measure(decode_image(scene(hue=hue))).colour_stage == stage


@pytest.mark.parametrize("radius_mm", [0.0, 8.0, 15.0, 22.0])
def test_measure__dark_disc__defect_fraction_within_002(radius_mm):
    truth = radius_mm**2 / (55 * 35)  # disc area over ellipse area
    m = measure(decode_image(scene(defect_mm=radius_mm)))
    assert m.defect_fraction == pytest.approx(truth, abs=0.02)


def test_measure__generated_photos__within_project_tolerances(held_out):
    """Held-out generated photos: sizes within 10 %, defect fractions within 0.05, stage mostly right."""
    stages = []
    for data, truth in held_out:
        m = measure(decode_image(data))
        assert m.ood_reason is None, (truth, m.ood_reason)
        if truth.has_marker:
            assert m.length_mm == pytest.approx(truth.length_mm, rel=0.10), truth
            assert m.width_mm == pytest.approx(truth.width_mm, rel=0.10), truth
        else:
            assert m.length_mm is None
        assert abs(m.defect_fraction - truth.defect_fraction) <= 0.05, truth
        stages.append(m.colour_stage == truth.colour_stage)
    assert np.mean(stages) >= 0.9


@pytest.mark.parametrize("kind", OOD_KINDS)
def test_measure__not_a_fruit__flagged(kind):
    for i in range(3):
        data, _ = render_ood(77, i, kind)
        assert measure(decode_image(data)).ood_reason, (kind, i)


def test_measure__fruit_cut_by_frame__flagged():
    img = np.full((480, 640, 3), 220, np.uint8)
    cv2.ellipse(img, (620, 240), (120, 80), 0, 0, 360, (40, 180, 120), -1)
    assert measure(img).ood_reason  # cut off, or merged into the border colours: never graded


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"hello, not a photo", "unsupported file type"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "truncated JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "corrupt png"),
    ],
)
def test_decode_image__bad_bytes__clear_error(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data, "x")


def test_decode_image__large_photo__reduced_working_copy():
    img = np.full((3000, 4000, 3), 128, np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    work = decode_image(buf.tobytes())
    assert 640 <= max(work.shape[:2]) <= 1280


def test_decode_image__png__accepted():
    ok, buf = cv2.imencode(".png", np.full((240, 320, 3), 90, np.uint8))
    assert decode_image(buf.tobytes()).shape == (240, 320, 3)


def test_measure__small_marker_in_large_photo__read_at_full_detail():
    """A 4000x3000 photo at 8 px/mm with a 20 mm marker: 13 px on the 320 px working copy."""
    img = np.full((3000, 4000, 3), 220, np.uint8)
    side = 160  # 20 mm at 8 px/mm
    img[100 : 100 + side + 80, 100 : 100 + side + 80] = 250
    img[140 : 140 + side, 140 : 140 + side] = marker_image(side)[..., None]
    hsv = np.uint8([[[45, 190, 210]]])
    colour = tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
    cv2.ellipse(img, ((2200, 1600), (8 * 120, 8 * 80), 10), colour, -1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    m = measure(decode_image(buf.tobytes()), marker_mm=20)
    assert m.marker_found
    assert m.length_mm == pytest.approx(120, rel=0.05)
    assert m.width_mm == pytest.approx(80, rel=0.05)


@pytest.mark.parametrize("q", [0.0, 0.5, 0.6, 0.99, 1.0])
def test_quantile_u8__as_quantile_of_the_pixels(q):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (37, 53)).astype(np.uint8)
    mask = (rng.random(img.shape) < 0.4).astype(np.uint8)
    assert _quantile_u8(img, mask, q) == quantile(img[mask > 0], q)
    assert _quantile_u8(img, np.zeros_like(mask), q) == 0.0


def _cell_percentile_cell_by_cell(val, where, cell, q):
    """The smooth percentile map computed one cell at a time with np.percentile's nearest rank."""
    h, w = val.shape
    rows, cols = max(1, round(h / cell)), max(1, round(w / cell))

    def nearest_rank(values):
        return float(np.sort(values)[int(q / 100 * (values.size - 1))])

    grid = np.full((rows, cols), nearest_rank(val[where > 0]), np.float32)
    ys, xs = np.linspace(0, h, rows + 1).astype(int), np.linspace(0, w, cols + 1).astype(int)
    for r in range(rows):
        for c in range(cols):
            inside = val[ys[r] : ys[r + 1], xs[c] : xs[c + 1]][
                where[ys[r] : ys[r + 1], xs[c] : xs[c + 1]] > 0
            ]
            if inside.size >= 0.1 * cell * cell:
                grid[r, c] = nearest_rank(inside)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize(
    ("shape", "cell"), [((97, 131), 23), ((40, 40), 9), ((250, 180), 61), ((12, 300), 9)]
)
def test_cell_percentile__same_map_as_cell_by_cell(shape, cell):
    rng = np.random.default_rng(cell)
    val = rng.integers(0, 256, shape).astype(np.uint8)
    where = np.zeros(shape, np.uint8)
    cv2.ellipse(where, (shape[1] // 2, shape[0] // 2), (shape[1] // 2, shape[0] // 3), 20, 0, 360, 1, -1)
    expected = _cell_percentile_cell_by_cell(val, where, cell, 60)
    assert _cell_percentile(val, where, cell, 60).tobytes() == expected.tobytes()


def test_components__labels_as_opencv_default():
    mask = (np.random.default_rng(5).random((120, 160)) < 0.3).astype(np.uint8)
    cv2.circle(mask, (80, 60), 30, 1, -1)
    ours = components(mask)
    default = cv2.connectedComponentsWithStats(mask, connectivity=8)
    assert ours[0] == default[0] > 50
    for a, b in zip(ours[1:], default[1:], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("size", [1, 2, 7, 1000])
@pytest.mark.parametrize("q", [0.0, 0.5, 0.9, 0.99, 1.0])
def test_quantile__nearest_rank_below(size, q):
    values = np.random.default_rng(size).random(size).astype(np.float32)
    assert quantile(values, q) == float(np.quantile(values, q, method="lower"))


def test_quantile__no_values__zero():
    assert quantile(np.zeros(0, np.float32), 0.5) == 0.0
