"""Train the frame network on crops from frame_net_collect.py (PyTorch, training only).

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch==2.13.0 numpy 'opencv-python-headless<4.11'
    /tmp/torch/bin/python scripts/frame_net_fit.py bench/out/frames --minutes 75 --out bench/out/frame_net.npz
    # then scripts/frame_net_calibrate.py writes the weights the detector ships

The network is built from ``frame_net.ARCHITECTURE`` with a batch norm after
every convolution, folded into the convolution's weights when saved, so the
saved ``.npz`` holds exactly the layers the detector runs. Targets, per output
cell (``STRIDE_ROWS`` x ``STRIDE_COLS`` input pixels):

(``frame_net_targets.py``) the heat, trained with CenterNet's focal loss,
and near each centre the centre's offset, the log length, the turn, the
width (L1) and the kind (cross-entropy).
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from railwatch_plugin.core import frame_net as fn  # noqa: E402
from scripts.frame_net_targets import targets  # noqa: E402


class Net(nn.Module):
    def __init__(self, architecture=fn.ARCHITECTURE, folded: bool = False):
        """``folded``: no batch norms, a bias on every convolution: the
        network as the detector runs it, for fine-tuning shipped weights."""
        super().__init__()
        self.architecture = architecture
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        c, saved = fn.IN_CHANNELS, None
        for layer in architecture:
            if layer[0] == "conv":
                kh, kw = layer[2]
                self.convs.append(nn.Conv2d(c, layer[1], (kh, kw), padding=(kh // 2, kw // 2), bias=folded))
                self.norms.append(nn.Identity() if folded else nn.BatchNorm2d(layer[1]))
                c = layer[1]
            elif layer[0] == "head":
                self.convs.append(nn.Conv2d(c, len(fn.HEAD), 1))
                self.norms.append(nn.Identity())
            elif layer[0] == "save":
                saved = c
            elif layer[0] == "concat":
                c += saved
        with torch.no_grad():
            self.convs[-1].bias.zero_()
            self.convs[-1].bias[0] = -4.0  # few cells hold a centre: start the heat low

    def forward(self, x):
        k, saved = 0, None
        for layer in self.architecture:
            kind = layer[0]
            if kind == "conv":
                x = F.relu(self.norms[k](self.convs[k](x)))
                k += 1
            elif kind == "head":
                x = self.convs[k](x)
                k += 1
            elif kind == "pool":
                x = F.max_pool2d(x, layer[1], layer[1])
            elif kind == "save":
                saved = x
            elif kind == "up":
                x = F.interpolate(x, scale_factor=layer[1], mode="nearest")
            elif kind == "concat":
                x = torch.cat([x, saved], dim=1)
        return x

    @classmethod
    def from_folded(cls, path: str) -> "Net":
        """A folded network holding the weights of a detector ``.npz``."""
        net = cls(folded=True)
        with np.load(path) as z, torch.no_grad():
            for k, conv in enumerate(net.convs):
                conv.weight.copy_(torch.from_numpy(z[f"conv{k}_w"]))
                conv.bias.copy_(torch.from_numpy(z[f"conv{k}_b"]))
        return net

    def folded_weights(self) -> dict:
        """Convolution weights with each batch norm folded in: what the detector runs."""
        out = {}
        for k, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            w = conv.weight.detach().double()
            b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
            if isinstance(norm, nn.BatchNorm2d):
                scale = norm.weight.detach().double() / torch.sqrt(norm.running_var.double() + norm.eps)
                b = (b - norm.running_mean.double()) * scale + norm.bias.detach().double()
                w = w * scale[:, None, None, None]
            out[f"conv{k}_w"] = w.float().numpy()
            out[f"conv{k}_b"] = b.float().numpy()
        return out


def load_chunks(folder):
    xs, cars, n = [], [], 0
    for path in sorted(glob.glob(os.path.join(folder, "chunk_*.npz"))):
        with np.load(path) as z:
            c = z["cars"].copy()
            c[:, 0] += n
            xs.append(z["x"])
            cars.append(c)
            n += len(z["x"])
    return np.concatenate(xs), np.concatenate(cars)


def augment(x: np.ndarray, cars: np.ndarray, rng, size_error=None):
    """``size_error``: (low, high) scale range for half the crops (the stated
    pixel size is off), or None: no rescaling, as the shipped weights were made."""
    x = x.astype(np.float32)
    cars = cars.copy()
    _, rows, cols = x.shape
    if rng.random() < 0.5:  # along the track: either way
        x = x[:, :, ::-1]
        cars[:, 0] = cols - cars[:, 0]
        cars[:, 4] = -cars[:, 4]
    if rng.random() < 0.5:  # sun from either side
        x = x[:, ::-1, :]
        cars[:, 1] = rows - cars[:, 1]
        cars[:, 4] = -cars[:, 4]
    x = np.ascontiguousarray(x)
    if size_error is not None and rng.random() < 0.5:
        x, cars = rescaled(x, cars, rng.uniform(*size_error), rng)
    valid = x[3] > 0.5
    x[0] *= rng.uniform(0.75, 1.3)
    x[0] += rng.normal(0, 0.1)
    # Hue: real sensors and archives render colour differently from the
    # generator (swapping red and blue cost a quarter of the recall of a net
    # trained without this), so the colour plane is turned, by a little
    # mostly and by anything sometimes, and its saturation scaled.
    angle = rng.uniform(-np.pi, np.pi) if rng.random() < 0.3 else rng.normal(0, 0.3)
    saturation = rng.uniform(0.6, 1.4)
    cos, sin = np.cos(angle) * saturation, np.sin(angle) * saturation
    x[1], x[2] = cos * x[1] - sin * x[2], sin * x[1] + cos * x[2]
    if rng.random() < 0.1:  # panchromatic images
        x[1:3] = 0.0
    if rng.random() < 0.2:  # softer optics than the generator's
        sigma = rng.uniform(0.5, 1.3)
        for c in range(3):
            x[c] = cv2.GaussianBlur(x[c], (0, 0), sigma)
    if rng.random() < 0.3:
        x[:3] += rng.normal(0, rng.uniform(0.02, 0.15), x[:3].shape).astype(np.float32)
    x[:3] *= valid
    return x, cars


def rescaled(x: np.ndarray, cars: np.ndarray, scale: float, rng):
    """The crop seen ``scale`` times larger (cars too), cut or padded back to its size."""
    channels, rows, cols = x.shape
    size = (max(1, int(round(cols * scale))), max(1, int(round(rows * scale))))
    big = np.stack([cv2.resize(x[c], size, interpolation=cv2.INTER_NEAREST if c == 3 else cv2.INTER_LINEAR)
                    for c in range(channels)])
    off_r = int(rng.integers(0, size[1] - rows + 1)) if size[1] > rows else 0
    off_c = int(rng.integers(0, size[0] - cols + 1)) if size[0] > cols else 0
    out = np.zeros_like(x)
    part = big[:, off_r : off_r + rows, off_c : off_c + cols]
    out[:, : part.shape[1], : part.shape[2]] = part
    cars = cars.copy()
    cars[:, 0] = cars[:, 0] * size[0] / cols - off_c
    cars[:, 1] = cars[:, 1] * size[1] / rows - off_r
    cars[:, 2:4] *= scale
    return out, cars


def batches(x_all, cars_all, index, batch_size, rng, augmenting=True, size_error=None):
    by_crop = np.split(cars_all, np.searchsorted(cars_all[:, 0], np.arange(1, len(x_all))))
    order = rng.permutation(index) if augmenting else np.asarray(index)
    out_rows, out_cols = x_all.shape[2] // fn.STRIDE_ROWS, x_all.shape[3] // fn.STRIDE_COLS
    for k in range(0, len(order) - batch_size + 1, batch_size):
        xs, ts = [], []
        for i in order[k : k + batch_size]:
            x, cars = (augment(x_all[i], by_crop[i][:, 1:], rng, size_error) if augmenting
                       else (x_all[i].astype(np.float32), by_crop[i][:, 1:]))
            xs.append(x)
            ts.append(targets(cars, out_rows, out_cols))
        yield (torch.from_numpy(np.stack(xs)),) + tuple(torch.from_numpy(np.stack(t)) for t in zip(*ts))


def loss_terms(out, heat, weight, reg, reg_w, kind):
    p = torch.sigmoid(out[:, 0]).clamp(1e-4, 1 - 1e-4)
    pos = (heat >= 1.0).float()
    n_pos = pos.sum().clamp(min=1.0)
    focal_pos = -(pos * (1 - p) ** 2 * torch.log(p)).sum()
    focal_neg = -((1 - pos) * weight * (1 - heat) ** 4 * p ** 2 * torch.log(1 - p)).sum()
    heat_loss = (focal_pos + focal_neg) / n_pos
    w = reg_w / reg_w.sum().clamp(min=1.0)
    l1 = (F.smooth_l1_loss(out[:, 1:6], reg, reduction="none", beta=0.2) * w[:, None]).sum(dim=(0, 2, 3))
    kind_loss = (F.cross_entropy(out[:, 6:], kind, reduction="none") * w).sum()
    return heat_loss, l1, kind_loss


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--out", default="bench/out/frame_net.npz")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", help="start from these weights' training checkpoint (.pt)")
    ap.add_argument("--init-npz", help="fine-tune these detector weights (.npz, batch norms folded in)")
    ap.add_argument("--held-out-share", type=float, default=0.05)
    ap.add_argument("--size-error", type=float, nargs=2, metavar=("LOW", "HIGH"),
                    help="rescale half the crops by a factor in this range: a stated pixel size that is off "
                         "(the real yard's cars measured 10 %% long, its coaches 33 m); 0.85 1.25 was tried")
    ap.add_argument("--length-weight", type=float, default=1.0,
                    help="weight of the log-length term against the other regressions (1: as the shipped "
                         "weights were made); a car 10 %% short costs little in it, and a string whose "
                         "cars come out short is split at their gaps")
    a = ap.parse_args(argv)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    x_all, cars_all = load_chunks(a.data)
    n = len(x_all)
    held = np.arange(n) >= int((1 - a.held_out_share) * n)
    print(f"{n} crops, {len(cars_all)} cars; {held.sum()} held out", flush=True)
    net = Net.from_folded(a.init_npz) if a.init_npz else Net()
    if a.init:
        net.load_state_dict(torch.load(a.init))
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    deadline = time.time() + 60 * a.minutes
    start = time.time()
    step = 0
    epoch = 0
    while time.time() < deadline:
        net.train()
        for xb, heat, weight, reg, reg_w, kind in batches(x_all, cars_all, np.nonzero(~held)[0], a.batch, rng, size_error=a.size_error):
            frac = min(1.0, (time.time() - start) / (deadline - start))
            for group in opt.param_groups:
                group["lr"] = a.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
            hl, l1, kl = loss_terms(net(xb), heat, weight, reg, reg_w, kind)
            loss = hl + l1.sum() + (a.length_weight - 1.0) * l1[2] + 0.3 * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 50 == 0:
                print(f"step {step} epoch {epoch} {(time.time() - start) / 60:.1f} min: heat {hl.item():.3f} "
                      f"reg {' '.join(f'{v:.3f}' for v in l1.tolist())} kind {kl.item():.3f}", flush=True)
            if time.time() >= deadline:
                break
        epoch += 1
    net.eval()
    with torch.no_grad():
        sums = np.zeros(3)
        count = 0
        for xb, heat, weight, reg, reg_w, kind in batches(x_all, cars_all, np.nonzero(held)[0], a.batch, rng, False):
            hl, l1, kl = loss_terms(net(xb), heat, weight, reg, reg_w, kind)
            sums += [hl.item(), l1.sum().item(), kl.item()]
            count += 1
        print(f"held out: heat {sums[0] / max(count, 1):.3f} reg {sums[1] / max(count, 1):.3f} kind {sums[2] / max(count, 1):.3f}")
    torch.save(net.state_dict(), os.path.splitext(a.out)[0] + ".pt")
    np.savez(a.out, **net.folded_weights())
    print(f"saved {a.out} after {step} steps, {epoch} epochs")


if __name__ == "__main__":
    main()
