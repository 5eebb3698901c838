import dataclasses
import shutil

import numpy as np
import pytest

from oracle.appearance import _colour_pairs, _level_hist, _level_median, _median
from oracle.errors import ModelError, ModelIntegrityError, OracleError
from oracle.grader import Grader
from oracle.model import MODEL_FILE, SHA_FILE, get_model, load_model, read_expected_sha, sha256_hex


def test_shipped_model__matches_sha256_and_is_small():
    data = MODEL_FILE.read_bytes()
    assert sha256_hex(data) == read_expected_sha(SHA_FILE)
    assert len(data) < 20 * 1024 * 1024


def test_load_model__tampered_file__refused(tmp_path):
    bad = tmp_path / "grader.onnx"
    data = bytearray(MODEL_FILE.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="refusing a modified or replaced model"):
        load_model(bad, SHA_FILE)


def test_load_model__missing_checksum__refused(tmp_path):
    shutil.copy(MODEL_FILE, tmp_path / "grader.onnx")
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(tmp_path / "grader.onnx", tmp_path / "grader.onnx.sha256")


def test_load_model__matching_checksum_of_garbage__not_loadable(tmp_path):
    (tmp_path / "grader.onnx").write_bytes(b"not onnx")
    (tmp_path / "grader.onnx.sha256").write_text(sha256_hex(b"not onnx") + "  grader.onnx\n")
    with pytest.raises(ModelError, match="not a loadable ONNX graph"):
        load_model(tmp_path / "grader.onnx", tmp_path / "grader.onnx.sha256")


def test_load_model__saves_optimized_graph(tmp_path):
    model = load_model(MODEL_FILE, SHA_FILE, cache_dir=tmp_path)
    assert (tmp_path / f"grader-{model.sha256[:12]}.opt.onnx").stat().st_size > 0


def test_get_model__loaded_once_per_process():
    assert get_model() is get_model()


def test_grader__tampered_model__cli_error(tmp_path, monkeypatch):
    bad = tmp_path / "grader.onnx"
    bad.write_bytes(MODEL_FILE.read_bytes() + b"\x00")
    with pytest.raises(ModelIntegrityError):
        Grader(model=load_model(bad, SHA_FILE))


def test_grader__model_of_skin_statistics_at_another_scale__refused():
    """Statistics taken on a copy of another size read differently: such a model is not used."""
    other_scale = dataclasses.replace(get_model(), skin_scale=1.0)
    with pytest.raises(OracleError, match="other features than this grader measures"):
        Grader(model=other_scale)


def test_load_model__features_only_model_of_older_trainer__refused(tmp_path):
    """A model without the fruit-crop input (the earlier trainer's) is refused with a clear message."""
    import json

    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    from oracle.appearance import FEATURES

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, len(FEATURES))).astype(np.float32)
    clf = LogisticRegression().fit(x, np.arange(40) % 2)
    onx = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    entry = onx.metadata_props.add()
    entry.key = "tambon_grader"
    meta = {"classes": ["mango/healthy", "mango/rot"], "features": list(FEATURES), "temperature": 1.0}
    entry.value = json.dumps(meta | {"threshold": 0.5, "safe_threshold": 0.2, "ood_limit": 9.0})
    data = onx.SerializeToString()
    (tmp_path / "grader.onnx").write_bytes(data)
    (tmp_path / "grader.onnx.sha256").write_text(sha256_hex(data) + "  grader.onnx\n")
    with pytest.raises(ModelError, match="older trainer .*retrain it"):
        load_model(tmp_path / "grader.onnx", tmp_path / "grader.onnx.sha256")


def _normalised(h: np.ndarray) -> np.ndarray:
    s = h.sum()
    return (h / s if s > 0 else h).astype(np.float32)


@pytest.mark.parametrize(
    ("dtype", "bins", "lo", "hi"), [("float32", 8, 96, 192), ("float32", 6, 0, 256), ("int64", 10, 0, 10)]
)
def test_level_hist__whole_numbers__same_bits_as_np_histogram(dtype, bins, lo, hi):
    values = np.random.default_rng(7).integers(0, 256 if hi > 10 else 10, 5000).astype(dtype)
    values[:50] = [lo, min(hi, 255)] * 25  # the range's edges (numpy puts `hi` in the last bin)
    expected = _normalised(np.histogram(values, bins=bins, range=(lo, hi))[0])
    assert _level_hist(values, bins, lo, hi).tobytes() == expected.tobytes()


@pytest.mark.parametrize("n", [1, 7, 4800])
def test_level_hist__weighted__same_bits_as_np_histogram(n):
    rng = np.random.default_rng(n)
    hue = rng.integers(0, 180, n).astype(np.float32)
    weights = rng.integers(0, 256, n).astype(np.float32) / 255.0
    expected = _normalised(np.histogram(hue, bins=18, range=(0, 180), weights=weights)[0])
    assert _level_hist(hue, 18, 0, 180, weights=weights).tobytes() == expected.tobytes()


def test_colour_pairs__same_bits_as_np_histogram2d():
    rng = np.random.default_rng(3)
    a, b = (rng.integers(90, 230, 3000).astype(np.float32) for _ in range(2))
    a[:4], b[:4] = [100, 180, 99, 181], [110, 210, 109, 211]  # edges in, just outside out
    h2, _, _ = np.histogram2d(a, b, bins=4, range=[[100, 180], [110, 210]])
    expected = (h2.ravel() / max(1.0, h2.sum())).astype(np.float32)
    assert _colour_pairs(a, b).tobytes() == expected.tobytes()


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 1001])
def test_level_median__same_bits_as_np_median(n):
    levels = np.random.default_rng(n).integers(0, 256, n).astype(np.float32)
    assert _level_median(levels).tobytes() == np.float32(np.median(levels)).tobytes()
    # The weighted lightness find_fruit takes the median of is half the levels.
    half = np.float32(0.5)
    assert (_level_median(levels) * half).tobytes() == np.float32(np.median(levels * half)).tobytes()


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 1001])
def test_median__same_bits_as_np_median(n):
    values = np.random.default_rng(n).random(n).astype(np.float32) * 90
    assert np.float32(_median(values)).tobytes() == np.float32(np.median(values)).tobytes()
