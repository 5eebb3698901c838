"""Grade photos: measurements (`oracle.measure`) + the ONNX classifier (`oracle.model`) -> a grade.

The grade is ABSTAIN ("needs human review") whenever the photo is not a gradable fruit (the
measurements say so), the features lie outside what the model was trained on, or the calibrated
confidence is below the model's threshold. It never guesses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from oracle.errors import ImageError, OracleError
from oracle.marker import DEFAULT_MARKER_ID, DEFAULT_MARKER_MM
from oracle.measure import FEATURES, decode_image, measure
from oracle.model import LoadedModel, get_model

# Workers start fresh: forking a process that runs threads (ONNX Runtime, a web3 client) can deadlock.
_SPAWN = get_context("spawn")

ABSTAIN = "ABSTAIN"
GRADES = ("EXTRA", "CLASS_I", "CLASS_II", "REJECT", ABSTAIN)
#: Mango size codes by fruit weight (Codex STAN 184 / มกษ. 1-2546): A 200-350 g, B 351-550 g, C 551-800 g.
SIZE_CODES = ((200, 350, 1, "A"), (351, 550, 2, "B"), (551, 800, 3, "C"))
BATCH = 64


def size_code(weight_g: float | None) -> int:
    """0 unknown or out of range, 1 A, 2 B, 3 C (see SIZE_CODES)."""
    if weight_g is None:
        return 0
    for low, high, code, _ in SIZE_CODES:
        if low <= round(weight_g) <= high:
            return code
    return 0


@dataclass(slots=True)
class GradeResult:
    file: str
    grade: str
    confidence: float
    length_mm: float | None
    width_mm: float | None
    colour_stage: int | None
    defect_fraction: float | None
    model_sha256: str
    reason: str | None = None
    weight_g: float | None = None
    size_code: int = 0

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class _Measured:
    """What a worker sends back: small, picklable, no image."""

    name: str
    error: str | None
    features: np.ndarray | None
    ood_reason: str | None
    length_mm: float | None
    width_mm: float | None
    colour_stage: int | None
    defect_fraction: float | None


def _measure_bytes(name: str, data: bytes, marker_mm: float, marker_id: int | None) -> _Measured:
    try:
        img = decode_image(data, name)
    except ImageError as exc:
        return _Measured(name, str(exc), None, None, None, None, None, None)
    m = measure(img, marker_mm, marker_id)
    return _Measured(
        name, None, m.features, m.ood_reason, m.length_mm, m.width_mm, m.colour_stage, m.defect_fraction
    )


def _measure_file(args: tuple[str, float, int | None]) -> _Measured:
    path, marker_mm, marker_id = args
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return _Measured(
            path, f"{path}: cannot read file ({exc.strerror})", None, None, None, None, None, None
        )
    return _measure_bytes(path, data, marker_mm, marker_id)


def _init_worker() -> None:
    cv2.setNumThreads(1)


class Grader:
    """Grades photos with one verified model; safe to keep for the life of a process."""

    def __init__(
        self,
        model: LoadedModel | None = None,
        marker_mm: float = DEFAULT_MARKER_MM,
        marker_id: int | None = DEFAULT_MARKER_ID,
        threshold: float | None = None,
    ):
        self.model = model or get_model()
        if tuple(self.model.features) != FEATURES:
            raise OracleError("model was trained on other features than this grader measures; retrain it")
        self.marker_mm = marker_mm
        self.marker_id = marker_id
        self.threshold = self.model.threshold if threshold is None else threshold

    # -------------------------------------------------------------------------------- public

    def grade_bytes(self, data: bytes, name: str = "image", weight_g: float | None = None) -> GradeResult:
        """Grade one photo held in memory. Raises ImageError on a corrupt/unsupported file."""
        m = _measure_bytes(name, data, self.marker_mm, self.marker_id)
        if m.error:
            raise ImageError(m.error)
        return self._decide([m], weight_g)[0]

    def grade_files(
        self, paths: Sequence[str | Path], workers: int | None = None, weight_g: float | None = None
    ) -> Iterator[GradeResult | ImageError]:
        """Grade files in order; a bad file yields an ImageError in its place instead of a result."""
        jobs = [(str(p), self.marker_mm, self.marker_id) for p in paths]
        workers = min(workers or os.cpu_count() or 1, max(1, len(jobs) // 8))
        if workers <= 1:
            yield from self._decide_stream(map(_measure_file, jobs), weight_g)
            return
        with ProcessPoolExecutor(workers, mp_context=_SPAWN, initializer=_init_worker) as pool:
            yield from self._decide_stream(pool.map(_measure_file, jobs, chunksize=8), weight_g)

    def grade_many_bytes(
        self,
        items: Sequence[tuple[str, bytes]],
        pool: ProcessPoolExecutor | None = None,
        weight_g: float | None = None,
    ) -> list[GradeResult | ImageError]:
        """Grade in-memory photos, measuring on `pool` when given; one batched model call."""
        args = [(name, data, self.marker_mm, self.marker_id) for name, data in items]
        if pool is None:
            measured = [_measure_bytes(*a) for a in args]
        else:
            measured = list(pool.map(_measure_star, args, chunksize=max(1, len(args) // 16)))
        return list(self._decide_stream(iter(measured), weight_g))

    # ------------------------------------------------------------------------------ decision

    def _decide_stream(self, measured: Iterable[_Measured], weight_g: float | None):
        batch: list[_Measured] = []
        for m in measured:
            batch.append(m)
            if len(batch) >= BATCH:
                yield from self._decide_or_error(batch, weight_g)
                batch = []
        if batch:
            yield from self._decide_or_error(batch, weight_g)

    def _decide_or_error(self, batch: list[_Measured], weight_g: float | None):
        ok = [m for m in batch if m.error is None]
        results = iter(self._decide(ok, weight_g)) if ok else iter(())
        for m in batch:
            yield ImageError(m.error) if m.error else next(results)

    def _decide(self, batch: list[_Measured], weight_g: float | None) -> list[GradeResult]:
        model = self.model
        x = np.stack([m.features for m in batch]).astype(np.float32)
        probs = model.probabilities(x)
        dist = model.ood_distance(x)
        out = []
        for m, p, d in zip(batch, probs, dist, strict=True):
            top = int(np.argmax(p))
            conf = float(p[top])
            reason = None
            if m.ood_reason:
                reason, conf = m.ood_reason, 0.0
            elif d > model.ood_limit:
                reason = f"measurements unlike any training photo (distance {d:.1f} > {model.ood_limit:.1f})"
            elif conf < self.threshold:
                reason = f"confidence {conf:.2f} below threshold {self.threshold:.2f}"
            grade = ABSTAIN if reason else model.classes[top]
            gradable = m.ood_reason is None
            out.append(
                GradeResult(
                    file=m.name,
                    grade=grade,
                    confidence=round(conf, 4),
                    length_mm=m.length_mm if gradable else None,
                    width_mm=m.width_mm if gradable else None,
                    colour_stage=m.colour_stage if gradable else None,
                    defect_fraction=m.defect_fraction if gradable else None,
                    model_sha256=model.sha256,
                    reason=f"needs human review: {reason}" if reason else None,
                    weight_g=weight_g,
                    size_code=size_code(weight_g),
                )
            )
        return out


def _measure_star(args: tuple[str, bytes, float, int | None]) -> _Measured:
    return _measure_bytes(*args)


def new_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool for measuring photos (one OpenCV thread per worker)."""
    return ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=_SPAWN, initializer=_init_worker)
