import numpy as np
import pytest

from oracle.calibration import (
    apply_temperature,
    assign_groups,
    expected_calibration_error,
    fit_temperature,
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


def test_assign_groups__views_and_near_duplicates_share_a_group():
    names = ["EXTRA/f00001_0.jpg", "EXTRA/f00001_1.jpg", "REJECT/lotA.jpg", "REJECT/lotB.jpg", "X/other.jpg"]
    # views of one fruit look different; lotA and lotB differ in one bit; the rest in dozens
    hashes = [0xFFFF0000FFFF0000, 0x0F0F0F0F0F0F0F0F, 0b1010, 0b1011, 0xFFFFFFFF00000000]
    g = assign_groups(names, hashes)
    assert g[0] == g[1]
    assert g[2] == g[3]
    assert len({g[0], g[2], g[4]}) == 3
