import numpy as np
import pytest

from oracle.errors import ImageError
from oracle.grader import ABSTAIN, Grader, size_code
from oracle.synth import OOD_KINDS, render, render_ood


def test_grade__held_out_photos__accurate_and_measured(grader, held_out):
    results = [grader.grade_bytes(data, f"p{i}.jpg") for i, (data, _) in enumerate(held_out)]
    graded = [(r, t) for r, (_, t) in zip(results, held_out, strict=True) if r.grade != ABSTAIN]
    assert len(graded) >= 0.85 * len(held_out)
    assert np.mean([r.grade == t.grade for r, t in graded]) >= 0.85
    for r, t in graded:
        assert r.model_sha256 == grader.model.sha256
        assert 0.0 <= r.confidence <= 1.0
        assert r.confidence >= grader.threshold
        assert abs(r.defect_fraction - t.defect_fraction) <= 0.05
        if t.has_marker:
            assert r.length_mm == pytest.approx(t.length_mm, rel=0.1)


@pytest.mark.parametrize("kind", OOD_KINDS)
def test_grade__out_of_distribution__abstains(grader, kind):
    for i in range(4):
        data, _ = render_ood(2024, i, kind)
        r = grader.grade_bytes(data, kind)
        assert r.grade == ABSTAIN, (kind, i, r)
        assert r.reason.startswith("needs human review")


def test_grade__no_marker__size_null_colour_and_defects_given(grader):
    data, truth = render(99, 1, marker=False)
    r = grader.grade_bytes(data)
    assert r.length_mm is None and r.width_mm is None
    assert r.colour_stage in (0, 1, 2)
    assert r.defect_fraction == pytest.approx(truth.defect_fraction, abs=0.05)


def test_grade__threshold_above_one__always_abstains():
    g = Grader(threshold=1.01)
    data, _ = render(99, 2)
    r = g.grade_bytes(data)
    assert r.grade == ABSTAIN and "below threshold" in r.reason


def test_grade__weight__size_code():
    assert [size_code(w) for w in (None, 150, 200, 350.4, 351, 550, 700, 801)] == [0, 0, 1, 1, 2, 2, 3, 0]
    data, _ = render(99, 3)
    r = Grader().grade_bytes(data, weight_g=420)
    assert r.weight_g == 420 and r.size_code == 2


def test_grade_files__bad_file_in_the_middle__error_in_place(grader, tmp_path):
    good = tmp_path / "a.jpg"
    good.write_bytes(render(99, 4)[0])
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    out = list(grader.grade_files([good, bad, good, tmp_path / "missing.jpg"], workers=1))
    assert [type(o).__name__ for o in out] == ["GradeResult", "ImageError", "GradeResult", "ImageError"]
    assert "cannot read file" in str(out[3])


def test_grade_many_bytes__pool_and_serial__same_results(grader):
    from oracle.grader import new_pool

    items = [(f"{i}.jpg", render(55, i)[0]) for i in range(12)]
    serial = grader.grade_many_bytes(items)
    with new_pool(2) as pool:
        pooled = grader.grade_many_bytes(items, pool=pool)
    assert [r.as_json() for r in serial] == [r.as_json() for r in pooled]


def test_grade_bytes__corrupt__raises(grader):
    with pytest.raises(ImageError):
        grader.grade_bytes(b"GIF89a...", "x.gif")
