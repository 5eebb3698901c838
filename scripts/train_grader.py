"""Train the grading model on real fruit photos and ship it: ONNX + sha256 + model card.

    python scripts/train_grader.py                      # ../shared/datasets/real_fruit (index.tsv)
    python scripts/train_grader.py --data PHOTOS_DIR    # PHOTOS_DIR/<fruit>/<condition>/*.jpg

A cooperative retrains on its own photos with the second form: one folder per fruit (mango, apple,
banana, orange, or a new one such as durian) and inside it one folder per skin condition (healthy,
aged, alternaria, anthracnose, black_mould_rot, stem_end_rot, rot).

Steps: describe every photo (oracle.appearance, in parallel) -> group near-duplicates by difference
hash (union-find) -> split by group, stratified by fruit and condition (60 % train, 20 % validation,
20 % test) -> fit a gradient-boosted tree classifier on (fruit, condition) -> fit a temperature on the
validation split -> choose the operating threshold on the validation split so no defective fruit
there could be graded EXTRA or CLASS_I -> measure on the test split -> export ONNX with the metadata
the grader needs -> write sha256, metrics.json and MODEL_CARD.md.

The same inputs give the same ONNX bytes (fixed seeds, deterministic feature extraction).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oracle.appearance import FEATURES, describe_file  # noqa: E402
from oracle.calibration import (  # noqa: E402
    apply_temperature,
    dhash_file,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
)
from oracle.grader import _init_worker  # noqa: E402
from oracle.real_data import (  # noqa: E402
    CONDITIONS,
    DEFECTIVE,
    REAL_FRUIT,
    RealPhoto,
    group_ids,
    load_index,
    split_masks,
)

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
SEED = 20261202
#: Least calibrated probability of the top condition for a grade (else ABSTAIN).
MIN_CONFIDENCE = 0.5
#: Margin below the least defect probability of any defective validation photo.
SAFETY_MARGIN = 0.8


def list_folder(data: Path) -> list[RealPhoto]:
    """A cooperative's photos: DATA/<fruit>/<condition>/*.jpg."""
    photos = []
    for fruit_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        for cond_dir in sorted(p for p in fruit_dir.iterdir() if p.is_dir()):
            if cond_dir.name not in CONDITIONS:
                raise SystemExit(
                    f"error: {cond_dir} is not a known condition (one of {', '.join(CONDITIONS)})"
                )
            for p in sorted(cond_dir.iterdir()):
                if p.suffix.lower() in IMAGE_EXT:
                    photos.append(RealPhoto(p, fruit_dir.name, cond_dir.name, None))
    return photos


def load_photos(data: Path, per_class: int | None) -> list[RealPhoto]:
    if (data / "index.tsv").exists():
        photos = load_index(data)
    elif data.is_dir():
        photos = list_folder(data)
    else:
        raise SystemExit(f"error: photo folder {data} not found")
    if not photos:
        raise SystemExit(f"error: no photos under {data} (expected <fruit>/<condition>/*.jpg or index.tsv)")
    if not any(p.condition == "healthy" for p in photos):
        raise SystemExit(f"error: no healthy photos under {data}: the model needs them to tell defects")
    if per_class:
        taken: dict[tuple[str, str], int] = {}
        kept = []
        for p in photos:
            key = (p.fruit, p.condition)
            if taken.get(key, 0) < per_class:
                kept.append(p)
                taken[key] = taken.get(key, 0) + 1
        photos = kept
    return photos


def describe_all(photos: list[RealPhoto], workers: int):
    paths = [str(p.path) for p in photos]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
        described = list(pool.map(describe_file, paths, chunksize=16))
        hashes = list(pool.map(dhash_file, paths, chunksize=32))
    return described, hashes


def make_classifier(seed: int):
    """Standardised features -> multinomial logistic regression: trains in seconds on two cores,
    its probabilities are close to calibrated, and its ONNX graph runs in microseconds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000, random_state=seed))


def export_onnx(clf, meta: dict) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    final = clf.steps[-1][1] if hasattr(clf, "steps") else clf
    onx = to_onnx(
        clf,
        initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
        options={id(final): {"zipmap": False}},
        target_opset=17,
    )
    onx.doc_string = "Tambon Trust produce grader (trained on real photos); see MODEL_CARD.md"
    onx.producer_name = "tambon-trust/scripts/train_grader.py"
    onx.producer_version = "2"
    entry = onx.metadata_props.add()
    entry.key = "tambon_grader"
    entry.value = json.dumps(meta, sort_keys=True)
    return onx.SerializeToString()


def marginals(probs: np.ndarray, classes: list[str]) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(P(fruit), P(condition)) from joint (fruit/condition) probabilities."""
    fruits = sorted({c.split("/")[0] for c in classes})
    conds = [c for c in CONDITIONS if any(k.endswith("/" + c) for k in classes)]
    pf = np.stack(
        [probs[:, [i for i, k in enumerate(classes) if k.startswith(f + "/")]].sum(1) for f in fruits], 1
    )
    pc = np.stack(
        [probs[:, [i for i, k in enumerate(classes) if k.endswith("/" + c)]].sum(1) for c in conds], 1
    )
    return pf, pc, fruits, conds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data", type=Path, default=REAL_FRUIT, help="index.tsv folder or <fruit>/<condition>/ tree"
    )
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=REPO / "oracle" / "model")
    ap.add_argument(
        "--per-class", type=int, default=None, help="use at most N photos per fruit and condition"
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    photos = load_photos(args.data, args.per_class)
    print(f"describing {len(photos)} photos ...", flush=True)
    described, hashes = describe_all(photos, args.workers)
    groups = group_ids(photos, hashes)
    train, val, test = split_masks(photos, groups, args.seed)
    readable = np.array([d[0] is not None for d in described])
    x = np.stack([d[0] if d[0] is not None else np.zeros(len(FEATURES), np.float32) for d in described])
    classes = sorted({f"{p.fruit}/{p.condition}" for p in photos})
    y = np.array([classes.index(f"{p.fruit}/{p.condition}") for p in photos])
    print(
        f"{len(np.unique(groups))} near-duplicate groups: {train.sum()} train, {val.sum()} validation, "
        f"{test.sum()} test photos",
        flush=True,
    )

    fit = train & readable
    clf = make_classifier(args.seed)
    clf.fit(x[fit], y[fit])
    temperature = fit_temperature(clf.predict_proba(x[val & readable]), y[val & readable])

    def calibrated(mask: np.ndarray) -> np.ndarray:
        return apply_temperature(clf.predict_proba(x[mask]), temperature)

    # Operating threshold: below the least defect probability of any defective validation photo, so
    # none of them could have been graded EXTRA or CLASS_I.
    healthy_idx = CONDITIONS.index("healthy")
    _, pc_val, _, conds = marginals(calibrated(val & readable), classes)
    y_cond_val = np.array([conds.index(photos[i].condition) for i in np.nonzero(val & readable)[0]])
    p_defect_val = 1.0 - pc_val[:, conds.index("healthy")]
    defective_val = y_cond_val != conds.index("healthy")
    least = float(p_defect_val[defective_val].min()) if defective_val.any() else 0.5
    safe_threshold = round(min(0.5, least * SAFETY_MARGIN), 6)
    del healthy_idx

    xt = x[fit].astype(np.float64)
    mean = xt.mean(axis=0)
    cov = np.cov(xt, rowvar=False)
    cov += np.eye(xt.shape[1]) * 1e-3 * np.trace(cov) / xt.shape[1]
    precision = np.linalg.inv(cov)
    d_train = np.sqrt(np.einsum("ij,jk,ik->i", xt - mean, precision, xt - mean))
    ood_limit = float(np.quantile(d_train, 0.995) * 1.5)

    meta = {
        "classes": classes,
        "features": list(FEATURES),
        "temperature": round(temperature, 6),
        "threshold": MIN_CONFIDENCE,
        "safe_threshold": safe_threshold,
        "ood_mean": [round(float(v), 8) for v in mean],
        "ood_precision": [[round(float(v), 8) for v in row] for row in precision],
        "ood_limit": round(ood_limit, 4),
        "seed": args.seed,
    }
    model_bytes = export_onnx(clf, meta)
    sha = hashlib.sha256(model_bytes).hexdigest()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grader.onnx").write_bytes(model_bytes)
    (args.out / "grader.onnx.sha256").write_text(f"{sha}  grader.onnx\n")

    metrics = evaluate(
        photos, described, calibrated(test & readable), test & readable, classes, safe_threshold
    )
    metrics.update(
        {
            "photos": len(photos),
            "groups": int(len(np.unique(groups))),
            "train": int(train.sum()),
            "validation": int(val.sum()),
            "test": int(test.sum()),
            "temperature": round(temperature, 4),
            "ece_uncalibrated": round(
                expected_calibration_error(
                    marginals(clf.predict_proba(x[test & readable]), classes)[1],
                    np.array([conds.index(photos[i].condition) for i in np.nonzero(test & readable)[0]]),
                ),
                4,
            ),
            "min_confidence": MIN_CONFIDENCE,
            "safe_threshold": safe_threshold,
            "least_defect_probability_validation": round(least, 4),
            "ood_limit": round(ood_limit, 3),
            "model_bytes": len(model_bytes),
            "sha256": sha,
            "data": "../shared/datasets/real_fruit" if args.data == REAL_FRUIT else str(args.data),
        }
    )
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (args.out / "MODEL_CARD.md").write_text(model_card(metrics, args))
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("reliability", "per_class")}, indent=2))
    print(f"done in {time.perf_counter() - t0:.0f} s: {args.out / 'grader.onnx'} sha256 {sha}")
    return 0


def evaluate(photos, described, probs, mask, classes, safe_threshold) -> dict:
    """Test-split figures from calibrated joint probabilities (model only, before the outline check)."""
    from sklearn.metrics import roc_auc_score

    from oracle.grader import decide_condition

    idx = np.nonzero(mask)[0]
    pf, pc, fruits, conds = marginals(probs, classes)
    y_cond = np.array([conds.index(photos[i].condition) for i in idx])
    healthy = conds.index("healthy")
    p_defect = 1.0 - pc[:, healthy]
    # Defective = a skin disease or rot; "aged" (the freshness set's "in between") is neither
    # healthy nor defective in these figures (the safe threshold still counts it as not healthy).
    is_defect = np.array([conds[c] in DEFECTIVE for c in y_cond])
    is_healthy = y_cond == healthy
    judged = is_defect | is_healthy
    auc = (
        float(roc_auc_score(is_defect[judged], p_defect[judged]))
        if 0 < is_defect.sum() < judged.sum()
        else None
    )
    grades = []
    for row in range(len(idx)):
        outline_reason = described[idx[row]][2]
        grade, _, _, _ = decide_condition(
            dict(zip(conds, pc[row], strict=True)), MIN_CONFIDENCE, safe_threshold
        )
        grades.append("ABSTAIN" if outline_reason else grade)
    grades = np.array(grades)
    graded = grades != "ABSTAIN"
    mango = np.array([photos[i].fruit == "mango" for i in idx])
    mango_conds = [
        c for c in conds if c in ("healthy", "alternaria", "anthracnose", "black_mould_rot", "stem_end_rot")
    ]
    mango_cols = [conds.index(c) for c in mango_conds]
    mango_pred = np.array(mango_cols)[pc[:, mango_cols].argmax(1)]
    per_class = {}
    for c in conds:
        sel = y_cond == conds.index(c)
        if sel.any():
            per_class[c] = {
                "photos": int(sel.sum()),
                "recall": round(float((pc[sel].argmax(1) == conds.index(c)).mean()), 4),
                "graded": round(float(graded[sel].mean()), 4),
            }
    top = np.isin(grades, ("EXTRA", "CLASS_I"))
    return {
        "real_defect_auc": round(auc, 4) if auc is not None else None,
        "real_condition_accuracy": round(
            float((mango_pred[mango & graded] == y_cond[mango & graded]).mean()), 4
        )
        if (mango & graded).any()
        else None,
        "real_condition_accuracy_all_mango": round(float((mango_pred[mango] == y_cond[mango]).mean()), 4)
        if mango.any()
        else None,
        "real_bad_as_top_grade": int((top & is_defect).sum()),
        "real_fresh_reject_rate": round(float((grades[is_healthy & graded] == "REJECT").mean()), 4)
        if (is_healthy & graded).any()
        else 0.0,
        "real_aged_as_extra": int((grades[y_cond == conds.index("aged")] == "EXTRA").sum())
        if "aged" in conds
        else 0,
        "real_abstain_rate": round(float((~graded).mean()), 4),
        "real_ece": round(expected_calibration_error(pc, y_cond), 4),
        "real_fruit_accuracy": round(
            float((pf.argmax(1) == [fruits.index(photos[i].fruit) for i in idx]).mean()), 4
        ),
        "reliability": reliability_table(pc, y_cond),
        "per_class": per_class,
    }


def model_card(m: dict, args) -> str:
    rel = "\n".join(f"| {lo:.1f}-{hi:.1f} | {acc:.3f} | {n} |" for lo, hi, acc, n in m["reliability"])
    per = "\n".join(
        f"| {c} | {v['photos']} | {v['recall']} | {v['graded']} |" for c, v in m["per_class"].items()
    )
    return f"""# Model card: Tambon Trust produce grader

| | |
|---|---|
| File | `oracle/model/grader.onnx` ({m["model_bytes"]} bytes) |
| sha256 | `{m["sha256"]}` (also in `grader.onnx.sha256`; the grader refuses any other file; the council approves this hash on-chain) |
| Task | skin condition of the main fruit in one photo (healthy, aged, alternaria, anthracnose, black mould rot, stem-end rot, rot) and which fruit it is; the grade follows from the condition |
| Inputs | {len(FEATURES)} statistics of the fruit's pixels from `oracle/appearance.py`: Lab and hue histograms, colour moments, local binary patterns, edge strength, and dark / very dark / brown / pale lesion shares, blob counts and largest blob (lesions are measured against the surrounding skin, so shading does not count) |
| Model | standardised features -> scikit-learn multinomial LogisticRegression on (fruit, condition), exported with skl2onnx |
| Calibration | temperature scaling, T = {m["temperature"]}, fitted on the validation split |
| Grades | healthy -> EXTRA (defect probability below half the safe threshold) or CLASS_I (below the safe threshold {m["safe_threshold"]}); aged, alternaria, anthracnose -> CLASS_II; black mould rot, stem-end rot, rot -> REJECT |
| Abstain | no fruit found; fruit partly outside the photo; photo unlike the training photos; not the batch's crop; healthy but defect probability above the safe threshold; top condition below {m["min_confidence"]} |
| Reproduce | `python scripts/train_grader.py` (same command, same bytes) |

## Data

{m["photos"]} real photos from `{m["data"]}`:
- 741 mangoes from an orchard in Senegal (MangoFruitDDS, Faye et al. 2023): healthy, alternaria,
  anthracnose, black mould rot, stem-end rot; mostly 224 px crops where the fruit fills the frame.
  A few "healthy" photos are stock photos.
- 1,396 apples, bananas and oranges (fresh, in between, rotten), many web and stock photos on white.

Near-duplicates (the same fruit twice, crops of one photo) are merged by difference hash with
union-find into {m["groups"]} groups; the split is by group, stratified by fruit and condition:
{m["train"]} train, {m["validation"]} validation (calibration and threshold), {m["test"]} held-out test.

## Metrics on the held-out test split (real photos)

| metric | value | goal |
|---|---|---|
| defect AUC (healthy vs any defect) | {m["real_defect_auc"]} | >= 0.97 |
| mango condition accuracy, 5 classes, graded photos | {m["real_condition_accuracy"]} | >= 0.90 |
| mango condition accuracy, every mango photo | {m["real_condition_accuracy_all_mango"]} | |
| defective graded EXTRA or CLASS_I | {m["real_bad_as_top_grade"]} | 0 |
| healthy graded REJECT (share of graded healthy) | {m["real_fresh_reject_rate"]} | <= 0.05 |
| abstain rate | {m["real_abstain_rate"]} | <= 0.15 |
| ECE of the condition probability (15 bins) | {m["real_ece"]} (uncalibrated {m["ece_uncalibrated"]}) | <= 0.05 |
| fruit identified | {m["real_fruit_accuracy"]} | |

Per condition (recall = top condition right, every test photo; graded = share not abstained):

| condition | photos | recall | graded |
|---|---|---|---|
{per}

Reliability of the calibrated condition probability (bin, accuracy, photos):

| confidence | accuracy | photos |
|---|---|---|
{rel}

The safe threshold is chosen on the validation split: the least defect
probability of any defective validation photo was {m["least_defect_probability_validation"]}; a
healthy-looking fruit is graded EXTRA or CLASS_I only below {m["safe_threshold"]} (that times
{SAFETY_MARGIN}), and abstains above it.

## What is unknown

- **Thai cultivars.** No Nam Dok Mai, Mahachanok or Khiao Sawoei mango and no Monthong durian is in
  the data. Nam Dok Mai ripens to an even pale yellow with fine lenticels and is often bagged on the
  tree; its sap burn, latex stains and the anthracnose it gets in the rainy season may look unlike
  the Senegal photos. A durian's spiny husk is unlike any skin here: the grader abstains on a batch
  whose crop it has not learned ("not a durian") rather than grading it.
- The mango photos are crops from one orchard, one camera and one season; the apples, bananas and
  oranges are largely stock photos. Lighting, cameras and backdrops in a Thai packing house differ.
- A photo shows one side of the fruit; a lesion on the other side is not seen.
- Sizes need the printed marker (`tambon oracle mat`); these photos have none.

## Retraining on a cooperative's own photos

1. Photograph each fruit whole, one fruit per photo (the mat is needed only for sizes).
2. Sort the photos into `photos/<fruit>/<condition>/` (for example `photos/mango/healthy/`,
   `photos/mango/anthracnose/`, `photos/durian/healthy/`) as an experienced grader labels them;
   a hundred or more per condition is a good start; several photos of one fruit are fine (they
   are kept together by the split).
3. Run `python scripts/train_grader.py --data photos` (the same command): it describes, splits by
   near-duplicate group, calibrates, chooses the safe threshold and writes `oracle/model/grader.onnx`,
   its sha256, `metrics.json` and this card.
4. Have the council approve the new model hash in the AttestationRegistry before the oracle uses it.
"""


if __name__ == "__main__":
    sys.exit(main())
