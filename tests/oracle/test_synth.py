import numpy as np
import pytest

from oracle.synth import CLASSES, DEFECT_LIMITS, OOD_KINDS, label_for, render, render_ood, write_dataset


def test_render__same_seed__same_bytes():
    a, ta = render(5, 3)
    b, tb = render(5, 3)
    assert a == b and ta == tb


def test_render__other_view__same_fruit_other_photo():
    a, ta = render(5, 3, view=0)
    b, tb = render(5, 3, view=1)
    assert a != b
    assert (ta.length_mm, ta.width_mm, ta.kind) == (tb.length_mm, tb.width_mm, tb.kind)


@pytest.mark.parametrize("grade", CLASSES)
def test_render__requested_grade__label_matches_truth(grade):
    _, truth = render(11, 0, grade=grade)
    assert truth.grade == label_for(truth.defect_fraction, truth.deformity)
    assert truth.grade == grade


def test_label_for__defect_limits_and_shape():
    assert label_for(0.0, 0.0) == "EXTRA"
    assert label_for(DEFECT_LIMITS[0] + 1e-3, 0.0) == "CLASS_I"
    assert label_for(DEFECT_LIMITS[1] + 1e-3, 0.0) == "CLASS_II"
    assert label_for(DEFECT_LIMITS[2] + 1e-3, 0.0) == "REJECT"
    assert label_for(0.0, 0.6) == "CLASS_I"
    assert label_for(0.0, 0.9) == "CLASS_II"


@pytest.mark.parametrize("kind", OOD_KINDS)
def test_render_ood__every_kind__decodes(kind):
    import cv2

    data, got = render_ood(1, 0, kind)
    assert got == kind
    assert cv2.imdecode(np.frombuffer(data, np.uint8), 1).shape == (480, 640, 3)


def test_write_dataset__class_folders_and_labels(tmp_path):
    n = write_dataset(tmp_path, n_fruits=3, views=2, seed=9)
    assert n == 6
    lines = (tmp_path / "labels.jsonl").read_text().splitlines()
    assert len(lines) == 6
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*.jpg"))
    assert len(files) == 6 and all(f.split("/")[0] in CLASSES for f in files)
