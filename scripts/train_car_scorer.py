"""Train the network that scores car hypotheses (railwatch_plugin/core/car_scorer.npz).

Two steps, because training needs PyTorch and the plugin must not:

    .venv/bin/python scripts/train_car_scorer.py collect --scenes 160 --out bench/out/hypotheses.npz
    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch==2.13.0 numpy
    /tmp/torch/bin/python scripts/train_car_scorer.py fit bench/out/hypotheses.npz

``collect`` runs the detector on synthetic yards with seeds 0..N-1 (the
accuracy benchmark uses 1000+, calibration 2000+, tests 5000+) and keeps every
car hypothesis of every string with its label (see ``hypothesis_label``);
most wrong hypotheses are dropped at random to keep the file small. ``fit``
trains the network and writes its weights as plain numpy arrays, which
``core/car_scorer.py`` runs without PyTorch.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PARTIAL_LABEL = 0.4
KEEP_WRONG = 0.15  # fraction of clearly wrong hypotheses kept for training
GSD_CHOICES_M = (0.3, 0.4, 0.5, 0.6, 0.7)
# The kinds the synthetic yards draw (every CAR_KINDS entry but "unknown"): the
# network's kind head learns them from right cuts, weighted against the score.
KIND_HEAD_NAMES = ("box", "tank", "hopper/gondola", "flat/container", "covered")
KIND_LOSS_WEIGHT = 0.3


def hypothesis_label(centre_off_m, length_m, true_length_m):
    """1 for a hypothesis that is the car (ends where the car ends), a partial
    0.4 for one that mostly overlaps it but is cut wrong, 0 otherwise: the
    choice among overlapping hypotheses needs the right cut to score highest."""
    length_off = np.abs(length_m - true_length_m)
    right = (centre_off_m <= 0.15 * true_length_m) & (length_off <= 0.2 * true_length_m)
    near = (centre_off_m <= 0.3 * true_length_m) & (length_off <= 0.35 * true_length_m)
    return np.where(right, 1.0, np.where(near, PARTIAL_LABEL, 0.0)).astype(np.float32)


def collect_scene(args):
    seed, gsd_m, difficulty = args
    import railwatch_plugin.core.tile_detector as td
    from railwatch_plugin.core import DetectionParams
    from railwatch_synth import make_yard

    try:
        scene = make_yard(seed, gsd_m=gsd_m, difficulty=difficulty)
    except ValueError as exc:  # a seed whose layout cannot hold its cars
        print(f"seed {seed}: skipped ({exc})")
        return None
    td.load_ensemble = lambda: None  # hypotheses do not depend on the scorer; this is faster
    td.DEBUG_SAMPLES = []
    td.detect_in_tile(scene.image, scene.valid, (gsd_m, gsd_m), DetectionParams(confidence_floor=0.0))
    samples, td.DEBUG_SAMPLES = td.DEBUG_SAMPLES, None
    if not samples:
        return None
    patches = np.concatenate([s[0] for s in samples])
    cues = np.concatenate([s[1] for s in samples])
    centres = np.concatenate([s[2] for s in samples])
    lengths = np.concatenate([s[3] for s in samples])
    y = np.zeros(len(patches), np.float32)
    kind = np.full(len(patches), -1, np.int8)  # index into KIND_HEAD_NAMES (the head's outputs) for right cuts, -1 otherwise
    if scene.cars:
        truth = np.array([[t.col_px, t.row_px, t.length_m] for t in scene.cars])
        d_m = np.hypot(centres[:, None, 0] - truth[None, :, 0], centres[:, None, 1] - truth[None, :, 1]) * gsd_m
        j = d_m.argmin(axis=1)
        y = hypothesis_label(d_m[np.arange(len(j)), j], lengths, truth[j, 2])
        true_kind = np.array([KIND_HEAD_NAMES.index(t.kind) for t in scene.cars], np.int8)
        kind = np.where(y == 1.0, true_kind[j], -1).astype(np.int8)
    rng = np.random.default_rng(seed)
    keep = (y > 0) | (rng.random(len(y)) < KEEP_WRONG)
    return patches[keep].astype(np.float16), cues[keep], y[keep], np.full(keep.sum(), seed, np.int32), kind[keep]


def collect(a):
    rng = np.random.default_rng(12345)
    gsd_of_seed = rng.choice(GSD_CHOICES_M, size=a.first_seed + a.scenes)  # a seed's GSD does not depend on where a run starts
    jobs = [(s, float(gsd_of_seed[s]), "easy" if s % 8 == 0 else "hard")
            for s in range(a.first_seed, a.first_seed + a.scenes)]
    with ProcessPoolExecutor(a.workers) as pool:
        parts = [p for p in pool.map(collect_scene, jobs) if p is not None]
    from railwatch_plugin.core.hypothesis_cues import CUE_NAMES

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    np.savez(a.out, patches=np.concatenate([p[0] for p in parts]), cues=np.concatenate([p[1] for p in parts]),
             y=np.concatenate([p[2] for p in parts]), seed=np.concatenate([p[3] for p in parts]),
             kind=np.concatenate([p[4] for p in parts]), cue_names=np.array(CUE_NAMES))
    y = np.concatenate([p[2] for p in parts])
    print(f"{len(y)} hypotheses kept: {int((y == 1).sum())} right cuts, {int(((y > 0) & (y < 1)).sum())} near misses")


def _load(paths):
    """Concatenate collected files; files from before the kind labels get kind -1 (no kind to learn)."""
    parts = {k: [] for k in ("patches", "cues", "y", "seed", "kind")}
    names = None
    for path in paths:
        with np.load(path) as z:
            if names is not None and list(z["cue_names"]) != list(names):
                raise SystemExit(f"{path} was collected with other cues")
            names = z["cue_names"]
            for k in parts:
                parts[k].append(z[k] if k in z.files else np.full(len(z["y"]), -1, np.int8))
    out = {k: np.concatenate(v) for k, v in parts.items()}
    if len(np.unique(out["seed"])) != sum(len(np.unique(s)) for s in parts["seed"]):
        raise SystemExit("the files share seeds: the same scene would be counted twice")
    return out, names


def fit(a):
    import torch
    from torch import nn

    from railwatch_plugin.core.model import CAR_KINDS

    torch.manual_seed(a.seed)
    data, names = _load(a.data)
    patches, cues, y, seeds, kind = data["patches"], data["cues"], data["y"], data["seed"], data["kind"]
    del data
    n_kinds = len(KIND_HEAD_NAMES)
    patch_shape = patches.shape[1:]
    assert all(k in CAR_KINDS for k in KIND_HEAD_NAMES)
    cue_mean = cues.mean(axis=0)
    cue_std = cues.std(axis=0) + 1e-3
    held_out = seeds >= np.quantile(seeds, 0.85)

    class Net(nn.Module):
        def __init__(self, n_cues):
            super().__init__()
            chans = [patch_shape[0], 16, 32, 32]
            self.convs = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], 3, padding=1) for i in range(3))
            flat = chans[-1] * (patch_shape[1] // 8) * (patch_shape[2] // 8)
            self.fc0 = nn.Linear(flat + n_cues, 64)
            self.fc1 = nn.Linear(64, 1)
            self.kind = nn.Linear(64, n_kinds)

        def forward(self, x, c):
            for conv in self.convs:
                x = nn.functional.max_pool2d(torch.relu(conv(x)), 2)
            h = torch.relu(self.fc0(torch.cat([x.flatten(1), c], dim=1)))
            return self.fc1(h).squeeze(1), self.kind(h)

    x_all = torch.from_numpy(patches)  # float16: half the memory; each batch becomes float32
    del patches
    c_all = torch.from_numpy(((cues - cue_mean) / cue_std).astype(np.float32))
    dropped = [list(names).index(n) for n in a.drop_cues]
    c_all[:, dropped] = 0.0  # the network never sees them; their weights are zeroed below
    y_all = torch.from_numpy(y)
    k_all = torch.from_numpy(kind.astype(np.int64))
    weight = torch.where(y_all > 0.5, 2.0, 1.0)  # right cuts are rarer than wrong ones

    def train(idx, epochs):
        net = Net(cues.shape[1])
        opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * (len(idx) // a.batch + 1))
        for epoch in range(epochs):
            net.train()
            perm = idx[torch.randperm(len(idx))]
            total = 0.0
            for k in range(0, len(perm), a.batch):
                b = perm[k : k + a.batch]
                xb = x_all[b].float()
                if torch.rand(1).item() < 0.5:  # a car looks the same from either end
                    xb = xb.flip(3)
                if a.flip_across and torch.rand(1).item() < 0.5:  # and with the sun on its other side
                    xb = xb.flip(2)
                score, kind_logits = net(xb, c_all[b])
                loss = nn.functional.binary_cross_entropy_with_logits(score, y_all[b], weight=weight[b])
                kb = k_all[b]
                if (kb >= 0).any():
                    loss = loss + KIND_LOSS_WEIGHT * nn.functional.cross_entropy(kind_logits[kb >= 0], kb[kb >= 0])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(b)
            print(f"epoch {epoch + 1}/{epochs}: loss {total / len(perm):.4f}", flush=True)
        return net

    def report(net, idx):
        net.eval()
        with torch.no_grad():
            outs = [net(x_all[idx[k:k + 4096]].float(), c_all[idx[k:k + 4096]]) for k in range(0, len(idx), 4096)]
        p = torch.sigmoid(torch.cat([o[0] for o in outs])).numpy()
        kind_pred = torch.cat([o[1] for o in outs]).argmax(1).numpy()
        yt = y[idx.numpy()] > 0.5
        for thr in (0.3, 0.5, 0.7):
            tp = ((p >= thr) & yt).sum()
            print(f"held-out scenes, threshold {thr}: precision {tp / max((p >= thr).sum(), 1):.3f} "
                  f"recall {tp / max(yt.sum(), 1):.3f}")
        kt = kind[idx.numpy()]
        if (kt >= 0).any():
            print(f"held-out right cuts: kind right for {np.mean(kind_pred[kt >= 0] == kt[kt >= 0]):.3f}")

    idx_train = torch.from_numpy(np.nonzero(~held_out)[0])
    idx_test = torch.from_numpy(np.nonzero(held_out)[0])
    if not a.skip_check:
        report(train(idx_train, a.epochs), idx_test)
    net = train(torch.arange(len(y)), a.epochs)
    w = {"cue_mean": cue_mean, "cue_std": cue_std, "cue_names": names,
         "shift": np.float32(-np.log(a.operating_point / (1.0 - a.operating_point))),
         "kind_names": np.array(KIND_HEAD_NAMES)}
    for i, conv in enumerate(net.convs):
        w[f"conv{i}_w"] = conv.weight.detach().numpy()
        w[f"conv{i}_b"] = conv.bias.detach().numpy()
    for name in ("fc0", "fc1", "kind"):
        w[f"{name}_w"] = getattr(net, name).weight.detach().numpy()
        w[f"{name}_b"] = getattr(net, name).bias.detach().numpy()
    n_conv_features = w["fc0_w"].shape[1] - len(names)
    w["fc0_w"][:, [n_conv_features + i for i in dropped]] = 0.0  # a dropped cue has no effect whatever its value
    out = a.out or os.path.join(ROOT, "railwatch_plugin", "core", "car_scorer.npz")
    np.savez_compressed(out, **w)
    print(f"wrote {out}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="step", required=True)
    c = sub.add_parser("collect", help="run the detector on synthetic yards and keep labelled hypotheses")
    c.add_argument("--scenes", type=int, default=160)
    c.add_argument("--first-seed", type=int, default=0, help="seeds first..first+scenes-1 (keep below 1000: benchmark seeds)")
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "hypotheses.npz"))
    f = sub.add_parser("fit", help="train the network (needs PyTorch) and write car_scorer.npz")
    f.add_argument("data", nargs="+", help="files written by collect (their seeds must not overlap)")
    f.add_argument("--flip-across", action="store_true",
                   help="also mirror patches across the track (the sun on the car's other side)")
    f.add_argument("--epochs", type=int, default=8)
    f.add_argument("--batch", type=int, default=256)
    f.add_argument("--out", help="weights file to write (default: core/car_scorer.npz; core/car_scorer_2.npz "
                                    "is the ensemble's second member, core/car_scorer_kind.npz the kind network)")
    f.add_argument("--drop-cues", nargs="*", default=[], metavar="CUE",
                   help="cues (hypothesis_cues.CUE_NAMES) the network must not use")
    f.add_argument("--seed", type=int, default=0, help="PyTorch's seed: another seed, another ensemble member")
    f.add_argument("--skip-check", action="store_true", help="do not train a first net to report held-out figures")
    f.add_argument("--operating-point", type=float, default=0.5,
                   help="raw probability that maximises F1 on validation seeds 2000+ (bench/diagnose.py); "
                        "the output is shifted so that this becomes confidence 0.5, the default threshold")
    a = ap.parse_args(argv)
    collect(a) if a.step == "collect" else fit(a)


if __name__ == "__main__":
    main()
