import cv2
import numpy as np
import pytest

from oracle.calibration import (
    PhotoPrint,
    apply_temperature,
    assign_groups,
    expected_calibration_error,
    fit_temperature,
    photo_print,
)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_fit_temperature__overconfident_model__recovers_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(4000, 4))
    true_p = _softmax(logits)
    y = np.array([rng.choice(4, p=p) for p in true_p])
    overconfident = _softmax(logits * 3)  # reports logits 3x too sharp
    t = fit_temperature(overconfident, y)
    assert t == pytest.approx(3.0, rel=0.15)
    calibrated = apply_temperature(overconfident, t)
    assert expected_calibration_error(calibrated, y) < expected_calibration_error(overconfident, y) / 2


def test_ece__perfect_and_worst():
    p = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(p, np.array([0, 1])) == 0.0
    assert expected_calibration_error(p, np.array([1, 0])) == pytest.approx(1.0)


def _print(hashes: list[int]) -> PhotoPrint:
    return PhotoPrint(tuple(hashes), np.zeros((24, 24), np.float32))


def _far(i: int) -> int:
    """A hash dozens of bits from every other one in these tests."""
    return int.from_bytes(np.random.default_rng(i).bytes(8), "little")


def test_assign_groups__views_and_near_duplicates_share_a_group():
    names = ["EXTRA/f00001_0.jpg", "EXTRA/f00001_1.jpg", "REJECT/lotA.jpg", "REJECT/lotB.jpg", "X/other.jpg"]
    # views of one fruit look different; lotA and lotB differ in one bit; the rest in dozens
    firsts = [0xFFFF0000FFFF0000, 0x0F0F0F0F0F0F0F0F, 0b1010, 0b1011, 0xFFFFFFFF00000000]
    prints = [_print([h] + [_far(10 * i + k) for k in range(7)]) for i, h in enumerate(firsts)]
    g = assign_groups(names, prints)
    assert g[0] == g[1]
    assert g[2] == g[3]
    assert len({g[0], g[2], g[4]}) == 3


def _encoded(img: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", img)
    assert ok
    return data.tobytes()


def _fruit_photo(seed: int) -> np.ndarray:
    """A round fruit with spots of its own on a white backdrop (not square, so turns change it)."""
    rng = np.random.default_rng(seed)
    img = np.full((240, 320, 3), 245, np.uint8)
    cv2.ellipse(img, (160, 120), (110, 90), 0, 0, 360, (40, 160, 220), -1)
    for _ in range(12):
        x, y = int(rng.integers(70, 250)), int(rng.integers(50, 190))
        cv2.circle(img, (x, y), int(rng.integers(4, 14)), (20, 30, 40), -1)
    return img


def test_assign_groups__turned_and_mirrored_copies_share_a_group_other_fruit_do_not():
    photo = _fruit_photo(1)
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 6, photo.shape), 0, 255).astype(np.uint8)
    copies = [photo, np.rot90(photo).copy(), photo[:, ::-1].copy(), np.rot90(noisy, 3)[::-1].copy()]
    # the same silhouette and backdrop with other spots, turned and mirrored: different fruit whose
    # hashes come close in some orientation (the thumbnails tell them apart)
    others = [np.rot90(_fruit_photo(2)).copy(), _fruit_photo(3)[:, ::-1].copy()]
    prints = [photo_print(_encoded(img)) for img in copies + others]
    prints.append(photo_print(b"not an image"))
    assert prints[-1] is None
    g = assign_groups([f"set/photo{i}.jpg" for i in range(len(prints))], prints)
    assert len({g[0], g[1], g[2], g[3]}) == 1
    assert len({g[0], g[4], g[5], g[6]}) == 4
