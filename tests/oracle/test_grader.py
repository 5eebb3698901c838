import pytest

from oracle.errors import ImageError, ModelIntegrityError
from oracle.grader import ABSTAIN, Grader, decide_condition, size_code
from oracle.synth import OOD_KINDS, render, render_ood


def test_grade__held_out_synthetic_photos__sizes_from_the_marker(grader, held_out):
    results = [grader.grade_bytes(data, f"p{i}.jpg") for i, (data, _) in enumerate(held_out)]
    sized = [(r, t) for r, (_, t) in zip(results, held_out, strict=True) if r.length_mm is not None]
    for r, t in sized:
        assert t.has_marker
        assert r.length_mm == pytest.approx(t.length_mm, rel=0.1)
        assert r.width_mm == pytest.approx(t.width_mm, rel=0.1)
    for r in results:
        assert r.model_sha256 == grader.model.sha256
        assert 0.0 <= r.confidence <= 1.0
        if r.grade == ABSTAIN:
            assert r.reason.startswith("needs human review: ")


@pytest.mark.parametrize("kind", OOD_KINDS)
def test_grade__out_of_distribution__abstains(grader, kind):
    for i in range(4):
        data, _ = render_ood(2024, i, kind)
        r = grader.grade_bytes(data, kind)
        assert r.grade == ABSTAIN, (kind, i, r)
        assert r.reason.startswith("needs human review: ")
        assert r.condition is None and r.condition_probability is None


def test_grade__no_marker__size_null(grader):
    data, _ = render(99, 1, marker=False)
    r = grader.grade_bytes(data)
    assert r.length_mm is None and r.width_mm is None


def _mat_photo_with_a_second_fruit(area_share: float) -> tuple[bytes, bytes]:
    """A synthetic mat photo, and the same photo with a second fruit of its colour drawn in the lower
    right (`area_share` of the first fruit's area), clear of the first."""
    import cv2
    import numpy as np

    from oracle.appearance import describe
    from oracle.measure import decode_image

    data, _ = render(4242, 0, marker=True)
    img = decode_image(data)
    outline = describe(img).outline.mask
    fruit = cv2.resize(outline, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)
    colour = np.median(img[fruit], axis=0).astype(int).tolist()
    half_axes = np.sqrt(area_share * fruit.sum() / np.pi * np.array([1.3, 1 / 1.3])).astype(int)
    cv2.ellipse(img, (500, 355), tuple(half_axes.tolist()), 10, 0, 360, colour, -1, cv2.LINE_AA)
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return data, jpg.tobytes()


def test_grade__several_fruits_on_the_mat__sizes_only_of_the_graded_one(grader):
    """The mat's segmentation measures the largest fruit, the grade is of the large one near the
    centre: sizes are given only when both are the same fruit."""
    from oracle.cli import describe_result

    alone_photo, smaller_beside = _mat_photo_with_a_second_fruit(0.6)
    alone = grader.grade_bytes(alone_photo)
    assert alone.length_mm is not None and alone.other_fruits == 0
    r = grader.grade_bytes(smaller_beside)
    assert r.other_fruits == 1
    assert r.length_mm == pytest.approx(alone.length_mm, rel=0.02)
    assert r.width_mm == pytest.approx(alone.width_mm, rel=0.02)
    _, larger_off_centre = _mat_photo_with_a_second_fruit(1.15)
    r = grader.grade_bytes(larger_off_centre)
    assert r.other_fruits == 1 and r.grade == alone.grade
    assert r.length_mm is None and r.width_mm is None
    assert "size unknown (other fruits on the mat: photograph it alone)" in describe_result(r)


def test_grade__outline_on_the_marker__described_again_without_it(grader):
    """A white marker on a grey mat can stand out more than the fruit: the description outlined it,
    graded a square of print "unlike any fruit photo" and called the fruit "another fruit"."""
    from oracle.appearance import describe
    from oracle.grader import _outlines_marker
    from oracle.measure import decode_image, measure

    data, truth = render(777_2026, 172)
    img = decode_image(data)
    marker = measure(img, require_marker=True).marker_polygon
    assert marker is not None and _outlines_marker(describe(img), marker, img.shape)
    r = grader.grade_bytes(data)
    assert r.grade != ABSTAIN and r.other_fruits == 0
    assert r.length_mm == pytest.approx(truth.length_mm, rel=0.1)


def test_grade__threshold_above_one__always_abstains():
    from oracle.real_data import load_index

    g = Grader(threshold=1.01)
    for p in load_index()[::400]:
        r = g.grade_bytes(p.path.read_bytes(), p.path.name)
        assert r.grade == ABSTAIN and r.reason.startswith("needs human review: ")


@pytest.mark.parametrize(
    ("conditions", "grade"),
    [
        ({"healthy": 0.99, "rot": 0.01}, "EXTRA"),
        ({"healthy": 0.85, "anthracnose": 0.15}, "CLASS_I"),
        ({"healthy": 0.7, "anthracnose": 0.3}, ABSTAIN),
        ({"healthy": 0.05, "anthracnose": 0.6, "alternaria": 0.35}, "CLASS_II"),
        ({"healthy": 0.05, "anthracnose": 0.2, "stem_end_rot": 0.75}, "REJECT"),
        ({"healthy": 0.3, "aged": 0.35, "rot": 0.35}, ABSTAIN),
    ],
)
def test_decide_condition__grade_families(conditions, grade):
    decision = decide_condition(conditions, 0.5, 0.2, 0.0)
    assert decision.grade == grade
    assert (decision.reason is None) == (grade != ABSTAIN)
    assert decision.condition == max(conditions, key=conditions.get)
    assert decision.alternative is None
    if decision.reason:
        assert "(0%)" not in decision.reason


@pytest.mark.parametrize(
    ("conditions", "grade"),
    [
        ({"healthy": 0.02, "alternaria": 0.5, "black_mould_rot": 0.45, "rot": 0.03}, ABSTAIN),
        ({"healthy": 0.02, "alternaria": 0.7, "black_mould_rot": 0.25, "rot": 0.03}, "CLASS_II"),
        ({"healthy": 0.99, "rot": 0.01}, "EXTRA"),
    ],
)
def test_decide_condition__condition_below_review_threshold__person_decides(conditions, grade):
    decision = decide_condition(conditions, 0.5, 0.2, 0.6)
    assert decision.grade == grade
    assert decision.alternative is None
    if grade == ABSTAIN:
        assert decision.condition == "alternaria"
        assert (
            decision.reason
            == "unsure whether the skin shows alternaria (black spot) or black mould rot (50% against 45%)"
        )
    else:
        assert decision.reason is None


@pytest.mark.parametrize(
    ("conditions", "grade", "alternative"),
    [
        # Two rots: REJECT either way.
        (
            {"healthy": 0.02, "stem_end_rot": 0.5, "black_mould_rot": 0.4, "anthracnose": 0.08},
            "REJECT",
            "black_mould_rot",
        ),
        # Two slight skin defects: CLASS_II either way.
        ({"healthy": 0.02, "anthracnose": 0.45, "alternaria": 0.43, "rot": 0.1}, "CLASS_II", "alternaria"),
        # The top two of one family, but the grade family is the other one's: a person decides.
        (
            {
                "healthy": 0.1,
                "anthracnose": 0.2,
                "alternaria": 0.19,
                "rot": 0.18,
                "stem_end_rot": 0.17,
                "black_mould_rot": 0.16,
            },
            ABSTAIN,
            None,
        ),
    ],
)
def test_decide_condition__two_conditions_of_one_family__graded_naming_both(conditions, grade, alternative):
    decision = decide_condition(conditions, 0.5, 0.2, 0.6)
    assert decision.grade == grade
    assert decision.condition == max(conditions, key=conditions.get)
    assert decision.alternative == alternative
    assert (decision.reason is None) == (grade != ABSTAIN)


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


def test_chunk_sizes__shrink_at_the_end__workers_finish_together():
    from oracle.grader import CHUNK, _chunk_sizes

    sizes = list(_chunk_sizes(400, 2))
    assert sum(sizes) == 400 and sizes[:40] == [CHUNK] * 40 and sizes[-4:] == [1] * 4
    assert sizes == sorted(sizes, reverse=True)
    assert list(_chunk_sizes(24, 2)) == [6, 5, 4, 3, 2, 1, 1, 1, 1]
    assert list(_chunk_sizes(3, 8)) == [1, 1, 1] and list(_chunk_sizes(0, 2)) == []
    # Each task to the first free worker, a photo a unit of time: 24 photos on two workers both end
    # at 12 (tasks of 8: at 16 and 8).
    for total, workers in ((24, 2), (40, 2), (100, 4), (13, 3)):
        ends = [0] * workers
        for size in _chunk_sizes(total, workers):
            ends[ends.index(min(ends))] += size
        assert max(ends) - min(ends) <= 1, (total, workers, ends)


def test_pool_workers__read_from_the_pool():
    from concurrent.futures import ThreadPoolExecutor

    from oracle.grader import _pool_workers, new_pool

    with new_pool(3) as pool, ThreadPoolExecutor(2) as threads:
        assert (_pool_workers(pool), _pool_workers(threads)) == (3, 2)


def test_grade_many_bytes__model_replaced_on_disk__pool_refuses_to_grade(tmp_path):
    """The pool's workers load the grader's model from its file: another model found there (its
    checksum file replaced too) is refused, not used."""
    from oracle.grader import new_pool
    from oracle.model import MODEL_FILE, load_model, sha256_hex

    model_file, sha_file = tmp_path / "grader.onnx", tmp_path / "grader.onnx.sha256"
    model_file.write_bytes(MODEL_FILE.read_bytes())
    sha_file.write_text(sha256_hex(model_file.read_bytes()))
    grader = Grader(load_model(model_file, sha_file))
    # A loadable graph with a checksum of its own: the same model with a description appended
    # (ModelProto field 6; protobuf reads a field appended to a message).
    other = MODEL_FILE.read_bytes() + b"\x32\x05other"
    model_file.write_bytes(other)
    sha_file.write_text(sha256_hex(other))
    items = [(f"{i}.jpg", render(55, i)[0]) for i in range(8)]
    with new_pool(1) as pool, pytest.raises(ModelIntegrityError, match="changed while grading"):
        grader.grade_many_bytes(items, pool=pool)


def test_grade_bytes__corrupt__raises(grader):
    with pytest.raises(ImageError):
        grader.grade_bytes(b"GIF89a...", "x.gif")


def _same_measurements(a, b) -> bool:
    import numpy as np

    return all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        for x, y in ((getattr(a, f), getattr(b, f)) for f in a.__slots__)
    )


def test_measure_bytes__marker_beside_the_description__same_measurements():
    from oracle.grader import _measure_bytes, _measuring_thread

    sized = 0
    for i in range(8):
        data = render(56, i)[0]
        alone = _measure_bytes(f"{i}.jpg", data, 40.0, 0)
        beside = _measure_bytes(f"{i}.jpg", data, 40.0, 0, beside=_measuring_thread())
        assert _same_measurements(alone, beside), i
        sized += alone.length_mm is not None
    assert sized >= 4  # the marker path ran, not only the early return


def test_grade_bytes__called_from_several_threads__same_results(grader):
    from concurrent.futures import ThreadPoolExecutor

    photos = [render(57, i)[0] for i in range(8)]
    one_by_one = [grader.grade_bytes(b, f"{i}.jpg").as_json() for i, b in enumerate(photos)]
    with ThreadPoolExecutor(4) as threads:
        together = list(threads.map(lambda ib: grader.grade_bytes(ib[1], f"{ib[0]}.jpg"), enumerate(photos)))
    assert [r.as_json() for r in together] == one_by_one
