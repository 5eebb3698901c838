"""The `tambon oracle` commands, run as a user runs them (subprocess through the entry point)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.real_data import REAL_FRUIT
from oracle.synth import render, render_ood

TAMBON = str(Path(sys.executable).parent / "tambon")
KEYS = {
    "file",
    "grade",
    "confidence",
    "length_mm",
    "width_mm",
    "colour_stage",
    "defect_fraction",
    "model_sha256",
    "condition",
    "condition_probability",
    "condition_alternative",
    "condition_alternative_probability",
    "other_fruits",
    "size_unknown",
}


def run(*args, cwd=None):
    return subprocess.run([TAMBON, "oracle", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two photos with the marker, one without, one noise image."""
    d = tmp_path_factory.mktemp("photos")
    paths = []
    for want_marker in (True, True, False):
        index = 0
        while True:
            data, truth = render(31337 + len(paths), index, marker=want_marker)
            if truth.has_marker == want_marker:
                break
            index += 1
        p = d / f"fruit{len(paths)}.jpg"
        p.write_bytes(data)
        paths.append(p)
    noise = d / "noise.jpg"
    noise.write_bytes(render_ood(1, 1, "noise")[0])
    return paths, noise


def test_grade_json__one_object_per_line(photos):
    paths, noise = photos
    proc = run("grade", "--json", *map(str, paths), str(noise))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 4
    for row, path in zip(rows, [*paths, noise], strict=True):
        assert row.keys() >= KEYS
        assert row["file"] == str(path)
        assert row["grade"] in {"EXTRA", "CLASS_I", "CLASS_II", "REJECT", "ABSTAIN"}
        assert 0 <= row["confidence"] <= 1
        assert len(row["model_sha256"]) == 64
    assert rows[2]["length_mm"] is None and rows[2]["width_mm"] is None
    assert rows[2]["size_unknown"] == "no marker mat in the photo"
    assert rows[0]["size_unknown"] is None
    assert rows[2]["colour_stage"] in (0, 1, 2)
    assert rows[0]["length_mm"] > 0
    assert rows[3]["grade"] == "ABSTAIN"
    assert [row["other_fruits"] for row in rows] == [0, 0, 0, 0]  # one fruit a photo


def test_grade_text__human_readable(photos):
    paths, _ = photos
    proc = run("grade", str(paths[0]))
    assert proc.returncode == 0
    assert str(paths[0]) in proc.stdout and " mm" in proc.stdout
    # A measurement of the outlined skin, not a diagnosis: an EXTRA fruit may show highlights.
    assert "dark or pale patches " in proc.stdout and "% of the skin" in proc.stdout
    real = REAL_FRUIT / "freshness" / "rotten_banana" / "1013.jpg"  # graded REJECT, no mat
    without_mat = run("grade", str(real)).stdout
    assert "size unknown (no marker mat in the photo)" in without_mat, without_mat


def test_grade__corrupt_or_unsupported__error_lines_nonzero_exit(tmp_path, photos):
    bad = {
        "truncated.jpg": (b"\xff\xd8\xff\xe0garbage", "truncated JPEG"),
        "notes.jpg": (b"plain text", "unsupported file type"),
        "empty.png": (b"", "empty file"),
    }
    for name, (content, _) in bad.items():
        (tmp_path / name).write_bytes(content)
    proc = run("grade", "--json", str(photos[0][0]), *(str(tmp_path / n) for n in bad))
    assert proc.returncode != 0
    assert len(proc.stdout.splitlines()) == 1  # the good photo is still graded
    err = proc.stderr.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    for line, (name, (_, message)) in zip(err, bad.items(), strict=True):
        assert name in line and message in line
    assert "Traceback" not in proc.stderr


def test_grade__missing_file__error_line(tmp_path):
    proc = run("grade", str(tmp_path / "nope.jpg"))
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_grade__folder__grades_its_photos_by_name(photos, tmp_path):
    """`tambon oracle grade photos/` as the README shows it: the folder's photos, in name order;
    other files and subfolders are left alone."""
    folder = photos[0][0].parent
    (folder / "notes.txt").write_text("not a photo")
    (folder / "older").mkdir(exist_ok=True)
    proc = run("grade", "--json", str(folder))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [Path(r["file"]).name for r in rows] == ["fruit0.jpg", "fruit1.jpg", "fruit2.jpg", "noise.jpg"]


def test_grade__empty_folder__error_line(tmp_path):
    (tmp_path / "notes.txt").write_text("not a photo")
    proc = run("grade", str(tmp_path))
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.startswith(f"error: folder {tmp_path} holds no photos (.jpg")
    assert "Traceback" not in proc.stderr


def test_grade__bad_marker_size__error_line(photos):
    proc = run("grade", "--marker-mm", "0", str(photos[0][0]))
    assert proc.returncode != 0 and proc.stderr.startswith("error: ")


def test_mat__writes_pdf_and_png(tmp_path):
    proc = run("mat", str(tmp_path / "mat"), "--dpi", "100")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "mat.pdf").exists() and (tmp_path / "mat.png").exists()
