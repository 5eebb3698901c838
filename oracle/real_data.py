"""The real-photo data set the grader learns from and is measured on: `../shared/datasets/real_fruit`.

`index.tsv` lists every photo with its set and the data set's own label. Labels map to a fruit
(mango, apple, banana, orange) and a skin condition (`CONDITIONS`). Near-duplicate photos (the same
fruit shot twice, crops of one photo) are merged into groups by difference hash, and the split into
train / validation / test is made by group with a fixed seed, so the training script, the benchmark
and the tests all see the same held-out photos and no test photo has a near-twin in training.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oracle.calibration import PhotoPrint, assign_groups, photo_print_file

REPO = Path(__file__).resolve().parent.parent


def _find_real_fruit() -> Path:
    """`../shared/datasets/real_fruit` from the repository (CI clones it beside a copy of shared/);
    a work tree nested one level deeper finds the same folder one level up."""
    for base in (REPO.parent, REPO.parent.parent):
        candidate = base / "shared" / "datasets" / "real_fruit"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "datasets" / "real_fruit"


REAL_FRUIT = _find_real_fruit()

FRUITS = ("mango", "apple", "banana", "orange")
#: Skin conditions the model tells apart. `aged` is the freshness set's "in between" (wrinkled,
#: dull, soft-looking but not rotten); the five mango conditions are MangoFruitDDS's classes; `rot`
#: is any rotten apple, banana or orange (brown, mouldy, shrivelled).
CONDITIONS = ("healthy", "aged", "alternaria", "anthracnose", "black_mould_rot", "stem_end_rot", "rot")
MANGO_CONDITIONS = ("healthy", "alternaria", "anthracnose", "black_mould_rot", "stem_end_rot")
#: Skin diseases and rot: a fruit with one of these is never graded EXTRA or CLASS_I.
DEFECTIVE = ("alternaria", "anthracnose", "black_mould_rot", "stem_end_rot", "rot")

_MANGO_LABELS = {
    "Healthy": "healthy",
    "Alternaria": "alternaria",
    "Anthracnose": "anthracnose",
    "Black Mould Rot": "black_mould_rot",
    "Stem end Rot": "stem_end_rot",
}
_FRESHNESS_STATES = {"fresh": "healthy", "normal": "aged", "rotten": "rot"}
#: Share of groups held out for testing and for validation (calibration, threshold choice).
TEST_SHARE, VAL_SHARE = 0.2, 0.2
SPLIT_SEED = 20261202
#: The 10th percentile of every channel of a white border is at least this.
WHITE = 225


@dataclass(frozen=True, slots=True)
class RealPhoto:
    path: Path
    fruit: str
    condition: str
    #: the fruit's bounding box (x0, y0, x1, y1) in pixels where the data set gives one
    box: tuple[int, int, int, int] | None


def _read_box(path: Path) -> tuple[int, int, int, int] | None:
    box_file = path.with_suffix(".box")
    try:
        x0, y0, x1, y1 = (int(float(v)) for v in box_file.read_text().split()[:4])
    except (OSError, ValueError):
        return None
    return x0, y0, x1, y1


def load_index(root: Path = REAL_FRUIT) -> list[RealPhoto]:
    """Every photo of the data set with its fruit and condition, in index order."""
    index = root / "index.tsv"
    if not index.exists():
        raise FileNotFoundError(
            f"real photo index {index} not found (expected ../shared/datasets/real_fruit)"
        )
    photos = []
    with open(index, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            path = root / row["file"]
            if row["set"] == "mango_diseases":
                fruit, condition = "mango", _MANGO_LABELS[row["class"]]
            else:
                state, fruit = row["class"].split("_", 1)
                condition = _FRESHNESS_STATES[state]
            photos.append(RealPhoto(path, fruit, condition, _read_box(path)))
    return photos


def group_ids(photos: list[RealPhoto], prints: list[PhotoPrint | None] | None = None) -> np.ndarray:
    """Near-duplicate groups (`assign_groups`: difference hashes within 6 bits, turned and mirrored
    copies, union-find) for `photos`."""
    if prints is None:
        prints = [photo_print_file(str(p.path)) for p in photos]
    # File names carry no view numbers in this set (each name is made unique): photos group by
    # their prints alone.
    names = [f"{p.path.parent.name}/{i}" for i, p in enumerate(photos)]
    return assign_groups(names, prints)


def split_masks(
    photos: list[RealPhoto], groups: np.ndarray, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) masks; every group wholly in one, stratified by fruit and condition."""
    rng = np.random.default_rng(seed)
    n = len(photos)
    split = np.zeros(n, np.int8)  # 0 train, 1 validation, 2 test
    strata: dict[tuple[str, str], list[int]] = {}
    for g in np.unique(groups):
        members = np.nonzero(groups == g)[0]
        first = photos[members[0]]
        strata.setdefault((first.fruit, first.condition), []).append(int(g))
    for key in sorted(strata):
        gs = np.array(strata[key])
        rng.shuffle(gs)
        n_test = int(round(TEST_SHARE * len(gs)))
        n_val = int(round(VAL_SHARE * len(gs)))
        for g in gs[:n_test]:
            split[groups == g] = 2
        for g in gs[n_test : n_test + n_val]:
            split[groups == g] = 1
    return split == 0, split == 1, split == 2


def on_white(img: np.ndarray) -> bool:
    """Whether a decoded BGR photo's border is white all round (a stock photo on white): two such
    photos side by side (`side_by_side`) are one photo of two fruits apart on white."""
    h, w = img.shape[:2]
    ring = max(2, int(0.04 * min(h, w)))
    border = np.concatenate(
        [p.reshape(-1, 3) for p in (img[:ring], img[-ring:], img[:, :ring], img[:, -ring:])]
    )
    return bool((np.percentile(border, 10, axis=0) >= WHITE).all())


def side_by_side(
    first: np.ndarray, second: np.ndarray, second_scale: float = 0.8, gap: float = 0.5
) -> np.ndarray:
    """Two photos on white (`on_white`) as one: the second scaled to `second_scale` of the first's
    height (so the first holds the larger, main fruit), `gap` of that height of white between them
    and a tenth of it around."""
    import cv2

    height = first.shape[0]
    small_h = max(8, round(second_scale * height))
    second = cv2.resize(second, (max(8, round(second.shape[1] * small_h / second.shape[0])), small_h))
    top = (height - small_h) // 2
    column = np.full((height, second.shape[1], 3), 255, np.uint8)
    column[top : top + small_h] = second
    strip = np.full((height, round(gap * height), 3), 255, np.uint8)
    margin = max(1, height // 10)
    white = (255, 255, 255)
    return cv2.copyMakeBorder(
        np.hstack([first, strip, column]), margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=white
    )
