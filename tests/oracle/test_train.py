"""scripts/train_grader.py: deterministic output, model card, and the shipped model reproduced."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from oracle.model import SHA_FILE, load_model, read_expected_sha

REPO = Path(__file__).resolve().parents[2]


def _train_module():
    spec = importlib.util.spec_from_file_location("train_grader", REPO / "scripts" / "train_grader.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train__small_synthetic_set__same_bytes_twice_and_loadable(tmp_path):
    train = _train_module()
    data = tmp_path / "photos"
    args = ["--synthetic", "48", "--views", "2", "--seed", "5", "--data", str(data), "--workers", "2"]
    assert train.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert train.main([*args, "--out", str(tmp_path / "b")]) == 0  # reuses the drawn photos
    a, b = (tmp_path / "a" / "grader.onnx").read_bytes(), (tmp_path / "b" / "grader.onnx").read_bytes()
    assert a == b
    model = load_model(tmp_path / "a" / "grader.onnx", tmp_path / "a" / "grader.onnx.sha256")
    assert model.classes == ("EXTRA", "CLASS_I", "CLASS_II", "REJECT")
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert "All training and test photos are synthetic" in card
    assert "Retraining on a cooperative's own photos" in card
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["test"] > 0 and 0 <= metrics["ece"] <= 1


def test_train__missing_class_folder__clear_error(tmp_path):
    train = _train_module()
    (tmp_path / "EXTRA").mkdir()
    (tmp_path / "EXTRA" / "a.jpg").write_bytes(b"x")
    with pytest.raises(SystemExit, match="no photos for class"):
        train.main(["--data", str(tmp_path), "--out", str(tmp_path / "out")])


@pytest.mark.slow
def test_train__shipped_command__reproduces_shipped_model(tmp_path):
    """The model card's command, from scratch (draws 3000 photos): the shipped sha256 again."""
    train = _train_module()
    out = tmp_path / "model"
    args = ["--synthetic", "1500", "--views", "2", "--data", str(tmp_path / "photos"), "--out", str(out)]
    assert train.main(args) == 0
    assert read_expected_sha(out / "grader.onnx.sha256") == read_expected_sha(SHA_FILE)
