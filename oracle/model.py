"""The grading classifier: an ONNX file checked against its shipped sha256, run with onnxruntime.

The graph reads two inputs per photo: the fruit's skin statistics (`features`, from
`oracle.appearance`) and the fruit cut out as a small colour square (`crop`, BGR, 0-255), which a
convolutional network (EfficientNet-Lite0, fine-tuned) reads; the two models' log-probabilities are
blended inside the graph.
The ONNX file carries everything the grader needs besides the graph, in its metadata (so the one
sha256 covers it all): class names (`fruit/condition`), feature names and the scale of the copy
they are taken on, the crop size, the calibration temperature, the confidence, safe (defect
probability) and review (least probability of a named condition) thresholds and the training feature statistics used to spot out-of-distribution input.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oracle.errors import ModelError, ModelIntegrityError

if TYPE_CHECKING:
    import onnxruntime as ort

MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_FILE = MODEL_DIR / "grader.onnx"
SHA_FILE = MODEL_DIR / "grader.onnx.sha256"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_expected_sha(sha_file: Path) -> str:
    try:
        text = sha_file.read_text().split()
    except OSError as exc:
        raise ModelError(f"model checksum file {sha_file} cannot be read: {exc.strerror}") from exc
    if not text or len(text[0]) != 64:
        raise ModelError(f"model checksum file {sha_file} does not hold a sha256")
    return text[0].lower()


@dataclass(frozen=True)
class LoadedModel:
    """An onnxruntime session plus the metadata the grader relies on."""

    session: ort.InferenceSession
    sha256: str
    classes: tuple[str, ...]
    features: tuple[str, ...]
    #: the scale of the working copy the skin statistics were taken at
    skin_scale: float
    crop: int
    temperature: float
    threshold: float
    safe_threshold: float
    #: a grade naming a condition less probable than this goes to a person (chosen on validation photos)
    review_below: float
    ood_mean: np.ndarray
    ood_precision: np.ndarray
    ood_limit: float
    prob_output: str
    #: where it was loaded from, so another process can load the same verified model
    model_file: Path
    sha_file: Path

    def probabilities(self, x: np.ndarray, crops: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities for a (n, n_features) batch and its (n, crop, crop, 3) crops."""
        (raw,) = self.session.run(
            [self.prob_output], {"features": x.astype(np.float32), "crop": crops.astype(np.float32)}
        )
        p = np.clip(np.asarray(raw, dtype=np.float64), 1e-9, 1.0)
        logits = np.log(p) / self.temperature  # temperature scaling on the model's log-probabilities
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def marginals(self, probs: np.ndarray) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
        """Per row: P(fruit) and P(condition), summed over the joint `fruit/condition` classes."""
        fruits: list[dict[str, float]] = []
        conditions: list[dict[str, float]] = []
        for row in probs:
            pf: dict[str, float] = {}
            pc: dict[str, float] = {}
            for label, p in zip(self.classes, row, strict=True):
                fruit, condition = label.split("/", 1)
                pf[fruit] = pf.get(fruit, 0.0) + float(p)
                pc[condition] = pc.get(condition, 0.0) + float(p)
            fruits.append(pf)
            conditions.append(pc)
        return fruits, conditions

    def ood_distance(self, x: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each feature row from the training distribution."""
        d = x.astype(np.float64) - self.ood_mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self.ood_precision, d), 0.0))


def load_model(
    model_file: Path = MODEL_FILE,
    sha_file: Path = SHA_FILE,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> LoadedModel:
    """Load and verify the model. A file whose sha256 differs from `sha_file` is refused."""
    import onnxruntime as ort

    try:
        data = model_file.read_bytes()
    except OSError as exc:
        raise ModelError(f"model file {model_file} cannot be read: {exc.strerror}") from exc
    expected = read_expected_sha(sha_file)
    actual = sha256_hex(data)
    if actual != expected:
        raise ModelIntegrityError(
            f"model file {model_file.name} has sha256 {actual[:16]}…, expected {expected[:16]}… "
            f"from {sha_file.name}: refusing a modified or replaced model"
        )
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or os.cpu_count() or 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-wait beside OpenCV
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        opts.optimized_model_filepath = str(cache_dir / f"grader-{actual[:12]}.opt.onnx")
    try:
        # Built from the very bytes that were hashed: no window to swap the file in between.
        session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"model file {model_file} is not a loadable ONNX graph: {exc}") from exc
    meta = session.get_modelmeta().custom_metadata_map
    try:
        info = json.loads(meta["tambon_grader"])
    except (KeyError, ValueError) as exc:
        raise ModelError(f"model file {model_file} lacks the tambon_grader metadata") from exc
    outputs = [o.name for o in session.get_outputs()]
    prob_output = next((o for o in outputs if "prob" in o), outputs[-1])
    required = {
        "classes",
        "features",
        "skin_scale",
        "crop",
        "temperature",
        "threshold",
        "safe_threshold",
        "review_below",
        "ood_limit",
    }
    inputs = {i.name for i in session.get_inputs()}
    if required - set(info) or inputs != {"features", "crop"} or not all("/" in c for c in info["classes"]):
        raise ModelError(
            f"model file {model_file} was made by an older trainer (other inputs or metadata than this "
            "grader reads); retrain it"
        )
    return LoadedModel(
        session=session,
        sha256=actual,
        classes=tuple(info["classes"]),
        features=tuple(info["features"]),
        skin_scale=float(info["skin_scale"]),
        crop=int(info["crop"]),
        temperature=float(info["temperature"]),
        threshold=float(info["threshold"]),
        safe_threshold=float(info["safe_threshold"]),
        review_below=float(info["review_below"]),
        ood_mean=np.asarray(info["ood_mean"], dtype=np.float64),
        ood_precision=np.asarray(info["ood_precision"], dtype=np.float64),
        ood_limit=float(info["ood_limit"]),
        prob_output=prob_output,
        model_file=model_file,
        sha_file=sha_file,
    )


_lock = threading.Lock()
_cached: dict[tuple[str, str], LoadedModel] = {}


def get_model(model_file: Path = MODEL_FILE, sha_file: Path = SHA_FILE) -> LoadedModel:
    """The process-wide model: loaded and verified once, then shared."""
    key = (str(model_file), str(sha_file))
    with _lock:
        if key not in _cached:
            from tambon.settings import get_settings

            _cached[key] = load_model(model_file, sha_file, cache_dir=get_settings().data_dir / "ort")
        return _cached[key]
