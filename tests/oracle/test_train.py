"""scripts/train_grader.py on real photos: deterministic output, model card, clear errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from oracle.model import SHA_FILE, load_model

REPO = Path(__file__).resolve().parents[2]


def _train_module():
    spec = importlib.util.spec_from_file_location("train_grader", REPO / "scripts" / "train_grader.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train__small_real_sample__same_bytes_twice_and_loadable(tmp_path):
    pytest.importorskip("torch", reason="training needs torch: make train-grader installs it")
    train = _train_module()
    args = ["--per-class", "10", "--workers", "2", "--epochs", "2"]
    assert train.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert train.main([*args, "--out", str(tmp_path / "b")]) == 0
    a, b = (tmp_path / "a" / "grader.onnx").read_bytes(), (tmp_path / "b" / "grader.onnx").read_bytes()
    assert a == b
    model = load_model(tmp_path / "a" / "grader.onnx", tmp_path / "a" / "grader.onnx.sha256")
    assert "mango/healthy" in model.classes and "orange/rot" in model.classes
    assert 0 < model.safe_threshold <= 0.5
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert "Senegal" in card and "Nam Dok Mai" in card
    assert "Retraining on a cooperative's own photos" in card
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["test"] > 0 and 0 <= metrics["real_ece"] <= 1
    # What the validation photos can promise is counted from them, by near-duplicate group.
    groups = metrics["defective_validation_groups"]
    assert 0 < groups <= metrics["defective_validation_photos"]
    assert f"1 in {groups + 1} (it is as likely" in card


def test_train__cooperative_folder_layout__trains(tmp_path):
    """photos/<fruit>/<condition>/*.jpg, as the model card tells a cooperative to sort them."""
    from oracle.real_data import load_index

    pytest.importorskip("torch", reason="training needs torch: make train-grader installs it")
    train = _train_module()
    data = tmp_path / "photos"
    taken: dict[tuple[str, str], int] = {}
    for p in load_index():
        if p.fruit not in ("mango", "banana") or taken.get((p.fruit, p.condition), 0) >= 8:
            continue
        taken[(p.fruit, p.condition)] = taken.get((p.fruit, p.condition), 0) + 1
        target = data / p.fruit / p.condition / p.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(p.path.read_bytes())
    assert (
        train.main(["--data", str(data), "--out", str(tmp_path / "m"), "--workers", "2", "--epochs", "2"])
        == 0
    )
    model = load_model(tmp_path / "m" / "grader.onnx", tmp_path / "m" / "grader.onnx.sha256")
    assert {c.split("/")[0] for c in model.classes} == {"mango", "banana"}


def test_train__unknown_condition_folder__clear_error(tmp_path):
    train = _train_module()
    (tmp_path / "mango" / "spotty").mkdir(parents=True)
    with pytest.raises(SystemExit, match="not a known condition"):
        train.main(["--data", str(tmp_path), "--out", str(tmp_path / "out")])


def test_train__missing_folder__clear_error(tmp_path):
    train = _train_module()
    with pytest.raises(SystemExit, match="not found"):
        train.main(["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])


@pytest.mark.slow
def test_train__shipped_command__reproduces_shipped_figures(tmp_path):
    """The model card's command on every real photo, on the CPU kernels the shipped model was trained
    on: the same figures (the bytes may differ in a threshold's last decimals, as the card says)."""
    torch = pytest.importorskip("torch", reason="training needs torch: make train-grader installs it")
    shipped = json.loads((SHA_FILE.parent / "metrics.json").read_text())
    if torch.backends.cpu.get_cpu_capability() != shipped["cpu_kernels"]:
        pytest.skip(f"trained on {shipped['cpu_kernels']} kernels: other kernels train another model")
    train = _train_module()
    out = tmp_path / "model"
    assert train.main(["--out", str(out)]) == 0
    again = json.loads((out / "metrics.json").read_text())
    figures = [k for k in shipped if k.startswith("real_") or k.startswith("validation_")]
    assert {k: again[k] for k in figures} == {k: shipped[k] for k in figures}
    for threshold in ("safe_threshold", "review_below", "temperature"):
        assert again[threshold] == pytest.approx(shipped[threshold], abs=1e-3)
