"""Grade photos: the fruit's outline and skin (`oracle.appearance`) + the ONNX classifier
(`oracle.model`) -> a skin condition with its probability -> a grade; sizes from the marker
(`oracle.measure`) when the photo shows it.

The grade is ABSTAIN ("needs human review: <reason>") whenever the photo cannot be judged: no
fruit, only part of the fruit in the photo, a photo unlike any the model learned from, a fruit that
is not the batch's crop, a healthy-looking fruit whose defect probability is above the safe
threshold, no grade family with enough probability, or a skin condition the model cannot tell
apart from another of a different grade family (its probability below the model's review
threshold: a person decides, the grader does not guess). Two conditions of one family (two rots,
two slight skin defects) give the same grade either way: the fruit is graded and the result names
both (`condition_alternative`). A defective fruit is never graded above
CLASS_II: healthy -> EXTRA / CLASS_I, aged or skin disease -> CLASS_II, rot -> REJECT.

A photo of several fruits is graded by its main one (large and near the centre, the one the
overlay outlines) and says how many others lie apart from it. A fruit-sized object touching the
outline may be the rest of the same fruit that the outline left out (a mould cap, a lesion's far
side): the fruit is then never certified EXTRA or CLASS_I.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from oracle.appearance import CROP, FEATURES, SKIN_SCALE, Appearance, describe
from oracle.errors import ImageError, ModelIntegrityError, OracleError
from oracle.marker import DEFAULT_MARKER_ID, DEFAULT_MARKER_MM
from oracle.measure import Measurement, decode_image, measure, stage_from_green_fraction
from oracle.model import LoadedModel, get_model, load_model

# Workers start fresh: forking a process that runs threads (ONNX Runtime, a web3 client) can deadlock.
_SPAWN = get_context("spawn")

ABSTAIN = "ABSTAIN"
GRADES = ("EXTRA", "CLASS_I", "CLASS_II", "REJECT", ABSTAIN)
#: Mango size codes by fruit weight (Codex STAN 184 / มกษ. 1-2546): A 200-350 g, B 351-550 g, C 551-800 g.
SIZE_CODES = ((200, 350, 1, "A"), (351, 550, 2, "B"), (551, 800, 3, "C"))
BATCH = 64
#: Most photos a process-pool worker takes at a time (measured, then through the network together):
#: enough that the pipe's round trips and the network's per-call cost stay small. Towards the end of a
#: run the tasks shrink (`_chunk_sizes`), so that no core waits long for the others.
CHUNK = 8
#: Any rot makes a fruit REJECT; the other defects (aged skin, alternaria, anthracnose) are the slight
#: skin defects a CLASS_II fruit may have (Codex STAN 184).
ROTS = ("black_mould_rot", "stem_end_rot", "rot")
TOP_GRADES = ("EXTRA", "CLASS_I")
#: Two outlines of one photo (its description's and the mat's) are of one fruit when this share of the
#: smaller one at least lies inside the other (a fragment of the fruit lies inside the whole);
#: two fruits side by side overlap by none.
SAME_FRUIT_OVERLAP = 0.5
#: A description whose outline lies this share or more on the marker took the marker for the fruit.
ON_MARKER = 0.5
#: Why a fruit that would be certified a top grade goes to a person when an object touches it.
JOINED_REASON = (
    "a second fruit-sized object touches the outlined fruit: another fruit, or part of this one "
    "(mould, a lesion's far side) that the outline left out; photograph one fruit at a time"
)
CONDITION_LABELS = {
    "healthy": "healthy skin",
    "aged": "aged skin (wrinkled or dull)",
    "alternaria": "alternaria (black spot)",
    "anthracnose": "anthracnose",
    "black_mould_rot": "black mould rot",
    "stem_end_rot": "stem-end rot",
    "rot": "rot",
}


def size_code(weight_g: float | None) -> int:
    """0 unknown or out of range, 1 A, 2 B, 3 C (see SIZE_CODES)."""
    if weight_g is None:
        return 0
    for low, high, code, _ in SIZE_CODES:
        if low <= round(weight_g) <= high:
            return code
    return 0


class Decision(NamedTuple):
    """A grade from a photo's condition probabilities (`decide_condition`); `reason` when ABSTAIN."""

    grade: str
    confidence: float
    #: the most probable condition
    condition: str
    reason: str | None
    #: the second most probable condition, when the first is below the review threshold and both
    #: lead to this grade
    alternative: str | None = None


def _family(condition: str) -> str:
    """The grade a fruit with this skin condition gets at most (healthy: a top grade)."""
    if condition == "healthy":
        return "healthy"
    return "REJECT" if condition in ROTS else "CLASS_II"


def decide_condition(
    conditions: dict[str, float], min_confidence: float, safe_threshold: float, review_below: float
) -> Decision:
    """The grade, its confidence, the top condition and why a person must decide, from calibrated
    condition probabilities.

    A grade whose condition has a probability below `review_below` goes to a person when the two
    most likely conditions, too close to tell apart, would grade the fruit differently; when both
    give this grade (two rots: REJECT; two slight skin defects: CLASS_II), the grade stands and
    names both."""
    decision = _grade_family(conditions, min_confidence, safe_threshold)
    if decision.reason is None and conditions[decision.condition] < review_below:
        first, second = sorted(conditions, key=lambda c: conditions[c], reverse=True)[:2]
        if _family(first) == _family(second) == decision.grade:
            return decision._replace(alternative=second)
        reason = (
            f"unsure whether the skin shows {CONDITION_LABELS.get(first, first)} or "
            f"{CONDITION_LABELS.get(second, second)} ({conditions[first]:.0%} against {conditions[second]:.0%})"
        )
        return decision._replace(grade=ABSTAIN, reason=reason)
    return decision


def _grade_family(conditions: dict[str, float], min_confidence: float, safe_threshold: float) -> Decision:
    """The grade family of the top condition, or ABSTAIN with its reason (see the module docstring)."""
    condition = max(conditions, key=lambda c: conditions[c])
    healthy = conditions.get("healthy", 0.0)
    p_defect = 1.0 - healthy
    p_rot = sum(conditions.get(c, 0.0) for c in ROTS)
    p_minor = p_defect - p_rot
    if condition == "healthy":
        if healthy < min_confidence:
            return Decision(ABSTAIN, healthy, condition, f"looks healthy, but only {healthy:.0%} sure")
        if p_defect <= safe_threshold / 2:
            return Decision("EXTRA", healthy, condition, None)
        if p_defect <= safe_threshold:
            return Decision("CLASS_I", healthy, condition, None)
        return Decision(
            ABSTAIN,
            healthy,
            condition,
            f"looks healthy, but the chance of a skin defect ({p_defect:.0%}) is too high to certify",
        )
    family, confidence = ("REJECT", p_rot) if p_rot >= p_minor else ("CLASS_II", p_minor)
    if max(confidence, healthy) < min_confidence:
        return Decision(
            ABSTAIN,
            confidence,
            condition,
            f"unsure between healthy skin ({healthy:.0%}), a skin defect ({p_minor:.0%}) and rot ({p_rot:.0%})",
        )
    return Decision(family, confidence, condition, None)


def _article(fruit: str) -> str:
    """The fruit's name after its indefinite article ("an apple", "a mango")."""
    return f"{'an' if fruit[:1].lower() in 'aeiou' else 'a'} {fruit}"


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
    condition: str | None = None
    condition_probability: float | None = None
    fruit: str | None = None
    #: whole fruits in the photo apart from the graded one (not graded)
    other_fruits: int = 0
    #: why length_mm and width_mm are None on a graded photo
    size_unknown: str | None = None
    #: a second condition as likely as `condition` that gives the same grade (see `decide_condition`)
    condition_alternative: str | None = None
    condition_alternative_probability: float | None = None

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class _Measured:
    """What a worker sends back: small, picklable, no image."""

    name: str
    error: str | None
    features: np.ndarray | None = None
    crop: np.ndarray | None = None
    reason: str | None = None
    length_mm: float | None = None
    width_mm: float | None = None
    colour_stage: int | None = None
    defect_fraction: float | None = None
    other_fruits: int = 0
    joined: int = 0
    size_unknown: str | None = None
    #: calibrated class probabilities, when a pool worker ran the network (its crop then stays there)
    probabilities: np.ndarray | None = None


def _measure_bytes(
    name: str, data: bytes, marker_mm: float, marker_id: int | None, beside: Executor | None = None
) -> _Measured:
    """Decode, describe and measure one photo; with `beside`, the marker measurements run there
    while this thread describes the fruit (OpenCV and NumPy release the GIL for most of both)."""
    try:
        img = decode_image(data, name)
    except ImageError as exc:
        return _Measured(name, str(exc))
    if beside is None:
        look = describe(img)
        sized = measure(img, marker_mm, marker_id, require_marker=True)
    else:
        sizing = beside.submit(measure, img, marker_mm, marker_id, require_marker=True)
        look = describe(img)
        sized = sizing.result()
    if sized.marker_polygon is not None and _outlines_marker(look, sized.marker_polygon, img.shape):
        # The description took the marker (a white square on the mat) for the fruit: describe the
        # photo again with the marker painted over in the mat's colour.
        look = describe(_marker_painted_over(img, sized.marker_polygon))
    out = _Measured(
        name,
        None,
        look.features,
        look.crop,
        look.reason,
        colour_stage=stage_from_green_fraction(look.green_share),
        defect_fraction=round(look.lesion_share, 4),
        other_fruits=look.other_fruits,
        joined=look.joined,
    )
    out.size_unknown = _size_unknown(look, sized)
    if out.size_unknown is None:
        # On the grading mat the marker photo's own segmentation gives sizes in mm.
        out.length_mm, out.width_mm = sized.length_mm, sized.width_mm
        out.colour_stage, out.defect_fraction = sized.colour_stage, sized.defect_fraction
    return out


def _size_unknown(look: Appearance, sized: Measurement) -> str | None:
    """Why the photo gives no sizes in mm, in words for the person who took it; None when it does."""
    if not sized.marker_found:
        return "no marker mat in the photo"
    if sized.ood_reason is not None:
        return f"measuring on the mat failed: {sized.ood_reason}"
    if (look.other_fruits or look.joined) and not _same_fruit(look, sized):
        return "other fruits on the mat: photograph it alone"
    return None


def _outlines_marker(look: Appearance, marker: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether the description's outline lies mostly (`ON_MARKER`) on the marker."""
    outline = look.outline.mask
    on_marker = np.zeros_like(outline)
    scale = outline.shape[1] / shape[1]
    cv2.fillPoly(on_marker, [np.round(marker * scale).astype(np.int32)], 1)
    area = np.count_nonzero(outline)
    return bool(area) and np.count_nonzero(np.logical_and(outline, on_marker)) >= ON_MARKER * area


def _marker_painted_over(img: np.ndarray, marker: np.ndarray) -> np.ndarray:
    """A copy of the photo with the marker filled with the median colour of the mat around it."""
    inside = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(inside, [marker], 1)
    reach = max(3, int(0.2 * np.sqrt(inside.sum())))
    around = cv2.dilate(inside, np.ones((reach, reach), np.uint8)) > inside
    painted = img.copy()
    painted[inside > 0] = np.median(img[around], axis=0).astype(np.uint8)
    return painted


def _same_fruit(look: Appearance, sized: Measurement) -> bool:
    """Whether the mat's segmentation measured the fruit that is graded: with several fruits on the
    mat it takes the largest, the description the large one near the centre."""
    if sized.mask is None:
        return False
    graded = look.outline.mask.astype(bool)
    measured = cv2.resize(sized.mask, (graded.shape[1], graded.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    smaller = min(np.count_nonzero(graded), np.count_nonzero(measured))
    return (
        bool(smaller) and np.count_nonzero(np.logical_and(graded, measured)) >= SAME_FRUIT_OVERLAP * smaller
    )


def _measure_file(path: str, marker_mm: float, marker_id: int | None) -> _Measured:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return _Measured(path, f"{path}: cannot read file ({exc.strerror})")
    return _measure_bytes(path, data, marker_mm, marker_id)


def _init_worker() -> None:
    cv2.setNumThreads(1)


@dataclass(frozen=True, slots=True)
class _WorkerJob:
    """What a pool worker needs besides the photos: the marker, and which verified model to run."""

    marker_mm: float
    marker_id: int | None
    model_file: Path
    sha_file: Path
    model_sha256: str


#: A pool worker's models, loaded on first use (a worker runs one task at a time: no lock).
_worker_models: dict[tuple[Path, Path], LoadedModel] = {}


def _worker_model(job: _WorkerJob) -> LoadedModel:
    """The grader's model in a pool worker, on one thread: the pool's processes are the parallelism."""
    key = (job.model_file, job.sha_file)
    if key not in _worker_models:
        _worker_models[key] = load_model(job.model_file, job.sha_file, threads=1)
    model = _worker_models[key]
    if model.sha256 != job.model_sha256:
        raise ModelIntegrityError(
            f"model file {job.model_file.name} changed while grading (sha256 {model.sha256[:16]}…, "
            f"the grader's {job.model_sha256[:16]}…): refusing to grade with another model"
        )
    return model


def _with_probabilities(measured: list[_Measured], job: _WorkerJob) -> list[_Measured]:
    """Run the network on a worker's photos, so the main process only decides (one core alone would
    hold the others up) and the crops, most of what a photo sends back, stay in the worker."""
    ok = [(m, m.features, m.crop) for m in measured if m.features is not None and m.crop is not None]
    if ok:
        features, crops = np.stack([f for _, f, _ in ok]), np.stack([c for _, _, c in ok])
        for (m, _, _), row in zip(ok, _worker_model(job).probabilities(features, crops), strict=True):
            m.probabilities, m.crop = row, None
    return measured


def _grade_file_chunk(args: tuple[list[str], _WorkerJob]) -> list[_Measured]:
    paths, job = args
    return _with_probabilities([_measure_file(p, job.marker_mm, job.marker_id) for p in paths], job)


def _grade_bytes_chunk(args: tuple[list[tuple[str, bytes]], _WorkerJob]) -> list[_Measured]:
    items, job = args
    return _with_probabilities(
        [_measure_bytes(name, data, job.marker_mm, job.marker_id) for name, data in items], job
    )


def _chunk_sizes(total: int, workers: int) -> Iterator[int]:
    """How many photos each pool task takes, in order: a 2 x `workers`-th of what is left, at most
    `CHUNK` (guided scheduling). Equal tasks leave one worker a whole task to finish while the others
    wait (24 photos on two workers: 16 on one, 8 on the other); small last tasks even them out."""
    left = total
    while left > 0:
        size = min(CHUNK, -(-left // (2 * workers)))
        yield size
        left -= size


def _pool_workers(pool: Executor) -> int:
    """The pool's worker count (concurrent.futures keeps it private: there is no public way to ask)."""
    return max(1, int(getattr(pool, "_max_workers", None) or os.cpu_count() or 1))


_beside_lock = threading.Lock()
_beside: list[ThreadPoolExecutor] = []


def _measuring_thread() -> ThreadPoolExecutor:
    """The process's one thread that measures a single photo beside its description (see
    `Grader.grade_bytes`); started on first use."""
    with _beside_lock:
        if not _beside:
            _beside.append(ThreadPoolExecutor(1, thread_name_prefix="oracle-measure"))
        return _beside[0]


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
        if (
            tuple(self.model.features) != FEATURES
            or self.model.skin_scale != SKIN_SCALE
            or self.model.crop != CROP
        ):
            raise OracleError("model was trained on other features than this grader measures; retrain it")
        self.marker_mm = marker_mm
        self.marker_id = marker_id
        self.threshold = self.model.threshold if threshold is None else threshold

    # -------------------------------------------------------------------------------- public

    def grade_bytes(
        self, data: bytes, name: str = "image", weight_g: float | None = None, crop: str | None = None
    ) -> GradeResult:
        """Grade one photo held in memory. Raises ImageError on a corrupt/unsupported file.

        `crop` is the fruit the batch record says the lot is ("mango", "durian"...): a photo of
        another fruit abstains. None skips that check.

        One photo's latency is what counts here: its marker measurements run on a second thread
        while this one describes the fruit, so two cores share the photo."""
        m = _measure_bytes(name, data, self.marker_mm, self.marker_id, beside=_measuring_thread())
        if m.error:
            raise ImageError(m.error)
        return self._decide([m], weight_g, crop)[0]

    def grade_files(
        self,
        paths: Sequence[str | Path],
        workers: int | None = None,
        weight_g: float | None = None,
        crop: str | None = None,
    ) -> Iterator[GradeResult | ImageError]:
        """Grade files in order; a bad file yields an ImageError in its place instead of a result."""
        names = [str(p) for p in paths]
        workers = min(workers or os.cpu_count() or 1, max(1, len(names) // 8))
        if workers <= 1:
            measured = (_measure_file(name, self.marker_mm, self.marker_id) for name in names)
            yield from self._decide_stream(measured, weight_g, crop)
            return
        with ProcessPoolExecutor(workers, mp_context=_SPAWN, initializer=_init_worker) as pool:
            yield from self._decide_stream(self._on_pool(pool, _grade_file_chunk, names), weight_g, crop)

    def grade_many_bytes(
        self,
        items: Sequence[tuple[str, bytes]],
        pool: ProcessPoolExecutor | None = None,
        weight_g: float | None = None,
        crop: str | None = None,
    ) -> list[GradeResult | ImageError]:
        """Grade in-memory photos: on `pool` when given (its workers measure the photos and run the
        network, `CHUNK` photos at a time), else here with one batched model call per `BATCH` photos."""
        if pool is None:
            measured: Iterable[_Measured] = (
                _measure_bytes(name, data, self.marker_mm, self.marker_id) for name, data in items
            )
        else:
            measured = self._on_pool(pool, _grade_bytes_chunk, list(items))
        return list(self._decide_stream(measured, weight_g, crop))

    def _on_pool(
        self, pool: Executor, grade_chunk: Callable[[tuple[list, _WorkerJob]], list[_Measured]], work: list
    ) -> Iterator[_Measured]:
        """The pool's measurements of `work`, in order, `CHUNK` photos a task."""
        job = _WorkerJob(
            self.marker_mm, self.marker_id, self.model.model_file, self.model.sha_file, self.model.sha256
        )
        chunks, start = [], 0
        for size in _chunk_sizes(len(work), _pool_workers(pool)):
            chunks.append((work[start : start + size], job))
            start += size
        for measured in pool.map(grade_chunk, chunks):
            yield from measured

    # ------------------------------------------------------------------------------ decision

    def _decide_stream(self, measured: Iterable[_Measured], weight_g: float | None, crop: str | None):
        batch: list[_Measured] = []
        for m in measured:
            batch.append(m)
            if len(batch) >= BATCH:
                yield from self._decide_or_error(batch, weight_g, crop)
                batch = []
        if batch:
            yield from self._decide_or_error(batch, weight_g, crop)

    def _decide_or_error(self, batch: list[_Measured], weight_g: float | None, crop: str | None):
        ok = [m for m in batch if m.error is None]
        results = iter(self._decide(ok, weight_g, crop)) if ok else iter(())
        for m in batch:
            yield ImageError(m.error) if m.error else next(results)

    def _crop_reason(self, fruits: dict[str, float], crop: str | None) -> str | None:
        if crop is None:
            return None
        seen = max(fruits, key=lambda f: fruits[f])
        if fruits.get(crop, 0.0) >= 0.5:
            return None
        if fruits[seen] >= 0.5:
            return f"not {_article(crop)}: the photo looks like {_article(seen)} ({fruits[seen]:.0%})"
        return f"cannot tell that the photo shows {_article(crop)}"

    def _decide(self, batch: list[_Measured], weight_g: float | None, crop: str | None) -> list[GradeResult]:
        model = self.model
        rows = [m.features for m in batch if m.features is not None]
        computed = [m.probabilities for m in batch if m.probabilities is not None]
        crops = [m.crop for m in batch if m.crop is not None]
        if len(rows) != len(batch) or len(computed) + len(crops) != len(batch) or (computed and crops):
            raise OracleError("a photo reached the classifier without its measurements")
        x = np.stack(rows).astype(np.float32)
        probs = np.stack(computed) if computed else model.probabilities(x, np.stack(crops))
        fruits, conditions = model.marginals(probs)
        dist = model.ood_distance(x)
        out = []
        for m, pf, pc, d in zip(batch, fruits, conditions, dist, strict=True):
            grade, conf, condition, reason, alternative = decide_condition(
                pc, self.threshold, model.safe_threshold, model.review_below
            )
            judged = True
            early = m.reason
            if early is None and d > model.ood_limit:
                early = "the photo looks unlike any fruit photo the grader learned from"
            early = early or self._crop_reason(pf, crop)
            if early is None and m.joined and grade in TOP_GRADES:
                # The outline may hold only part of the fruit: its skin so far says nothing of the rest.
                early = JOINED_REASON
            if early:
                reason, judged = early, False
            fruit = max(pf, key=lambda f: pf[f])
            out.append(
                GradeResult(
                    file=m.name,
                    grade=ABSTAIN if reason else grade,
                    confidence=round(conf, 4) if judged else 0.0,
                    length_mm=m.length_mm if judged else None,
                    width_mm=m.width_mm if judged else None,
                    colour_stage=m.colour_stage if judged else None,
                    defect_fraction=m.defect_fraction if judged else None,
                    model_sha256=model.sha256,
                    reason=f"needs human review: {reason}" if reason else None,
                    weight_g=weight_g,
                    size_code=size_code(weight_g),
                    condition=condition if judged else None,
                    condition_probability=round(pc[condition], 4) if judged else None,
                    fruit=fruit if judged else None,
                    other_fruits=m.other_fruits,
                    size_unknown=m.size_unknown if judged else None,
                    condition_alternative=alternative if judged else None,
                    condition_alternative_probability=round(pc[alternative], 4)
                    if judged and alternative
                    else None,
                )
            )
        return out


def new_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool for grading photos (one OpenCV and one ONNX Runtime thread per worker)."""
    return ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=_SPAWN, initializer=_init_worker)
