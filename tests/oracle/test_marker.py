import cv2
import numpy as np
import pytest

from oracle.errors import OracleError
from oracle.marker import detect_marker, marker_image, write_mat


@pytest.mark.parametrize("marker_mm", [40.0, 55.0])
def test_write_mat__png__marker_at_true_scale(tmp_path, marker_mm):
    (png,) = write_mat(tmp_path / "mat.png", marker_mm=marker_mm, dpi=200)
    img = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    fit = detect_marker(img, marker_mm)
    assert fit is not None
    assert fit.side_px == pytest.approx(marker_mm * 200 / 25.4, rel=0.01)


def test_write_mat__no_suffix__pdf_and_png(tmp_path):
    files = write_mat(tmp_path / "mat", dpi=100)
    assert [f.suffix for f in files] == [".pdf", ".png"]
    assert files[0].read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("kwargs", [{"marker_mm": 5}, {"marker_id": 50}])
def test_write_mat__bad_arguments__raises(tmp_path, kwargs):
    with pytest.raises(OracleError):
        write_mat(tmp_path / "mat.png", **kwargs)


def test_write_mat__unsupported_suffix__raises(tmp_path):
    with pytest.raises(OracleError, match="pdf or .png"):
        write_mat(tmp_path / "mat.gif")


def test_detect_marker__rotated_and_scaled__mm_transform_recovers_scale():
    canvas = np.full((480, 640), 230, np.uint8)
    tile = np.full((120, 120), 255, np.uint8)
    tile[20:100, 20:100] = marker_image(80)
    m = cv2.getRotationMatrix2D((60, 60), 33, 1.0)
    m[:, 2] += [200, 150]
    canvas = cv2.warpAffine(tile, m, (640, 480), borderValue=230)
    fit = detect_marker(canvas, marker_mm=40)
    assert fit is not None and fit.side_px == pytest.approx(80, rel=0.02)
    p = cv2.perspectiveTransform(np.float32([[[0, 0]], [[80, 0]]]), fit.to_mm).reshape(2, 2)
    assert np.linalg.norm(p[1] - p[0]) == pytest.approx(40, rel=0.02)


def test_detect_marker__other_id__ignored():
    canvas = np.full((300, 300), 255, np.uint8)
    canvas[100:180, 100:180] = marker_image(80, marker_id=7)
    assert detect_marker(canvas, marker_id=0) is None
    assert detect_marker(canvas, marker_id=7).marker_id == 7
    assert detect_marker(canvas, marker_id=None).marker_id == 7


@pytest.mark.parametrize("side", [36, 80])
def test_detect_marker__located_on_quarter_size_copy__corners_read_at_full_detail(side):
    """Located on a quarter-size copy, the corners come from a window of the full image: the same
    as detecting on the full image (the copy's own corners, scaled up, are 3-4 px off)."""
    canvas = np.full((480, 640), 230, np.uint8)
    tile = np.full((side + 40, side + 40), 255, np.uint8)
    tile[20 : 20 + side, 20 : 20 + side] = marker_image(side)
    m = cv2.getRotationMatrix2D(((side + 40) / 2, (side + 40) / 2), 21, 1.0)
    m[:, 2] += [300, 200]
    canvas = cv2.warpAffine(tile, m, (640, 480), borderValue=230)
    full = detect_marker(canvas)
    small = cv2.resize(canvas, (160, 120), interpolation=cv2.INTER_AREA)
    located = detect_marker(small, detail=canvas, coord_scale=4.0)
    assert full is not None and located is not None
    assert np.abs(located.corners - full.corners).max() < 0.05
