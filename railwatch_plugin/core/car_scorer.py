"""Score car hypotheses with a small convolutional network, in numpy.

Hand-made cues (contrast, edges, rails showing through) could not tell a car
from its own shadow, an empty track or a car cut in the wrong place: those
differ in how things look together, which a network trained on the patch
(``patches.py``) learns. The network is small enough to run in numpy (three
3x3 convolutions, one hidden layer), so the core still needs only numpy and
OpenCV. String-level cues (how the string was split, whether the track runs
on past it) join the image features before the hidden layer.

Weights live in ``car_scorer.npz`` beside this file, made by
``scripts/train_car_scorer.py`` (PyTorch, for training only).

The convolutions run in OpenCV's dnn module (``conv_net.py``): 0.2 ms of CPU
per patch against 0.84 ms for the numpy im2col below, which stays as the
reference and the fallback.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import numpy as np

from .conv_net import build_conv_net, matches_reference
from .hypothesis_cues import CUE_NAMES

WEIGHTS_PATH = os.path.join(os.path.dirname(__file__), "car_scorer.npz")
# Members of the ensemble that scores hypotheses: the same network trained
# twice, on hypotheses collected before (car_scorer.npz) and after
# (car_scorer_2.npz) ridge pieces were chained into strings. Averaged, their
# mistakes partly cancel: 16 validation yards at 0.5 m, threshold 0.5, F1
# 0.898 and 0.897 alone, 0.908 together (bench/diagnose.py).
ENSEMBLE_PATHS = (WEIGHTS_PATH, os.path.join(os.path.dirname(__file__), "car_scorer_2.npz"))
# The network that names each kept car's kind: the same architecture with a
# kind head, trained on 240 other yards (seeds 120-359). It is not a scoring
# member: in its place, the benchmark's F1 and count error stayed within
# noise (0.902 / 8.7 % against 0.900 / 9.0 %) while easy yards gained false
# cars on empty track. Run on the kept cars only, it costs little.
KIND_PATH = os.path.join(os.path.dirname(__file__), "car_scorer_kind.npz")
CONV_LAYERS = 3
BATCH = 256  # patches per matrix product: bounded memory


def _conv3x3_relu_pool(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, h, w, c) -> (n, h/2, w/2, o): 3x3 convolution (zero padding), ReLU,
    2x2 max pool. Channels last, so the nine shifted copies are block copies
    and one matrix product does the rest. ``w`` is (o, c, 3, 3) as trained."""
    n, h, wd, c = x.shape
    cols = np.zeros((n, h, wd, 9, c), np.float32)  # zero where a shifted copy falls off the edge
    for k, (dy, dx) in enumerate((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
        rows_out = slice(max(0, -dy), h - max(0, dy))
        cols_out = slice(max(0, -dx), wd - max(0, dx))
        cols[:, rows_out, cols_out, k] = x[:, max(0, dy) : h + min(0, dy), max(0, dx) : wd + min(0, dx)]
    y = (cols.reshape(n * h * wd, 9 * c) @ w.transpose(2, 3, 1, 0).reshape(9 * c, -1)).reshape(n, h, wd, -1)
    # Pool first: bias and ReLU commute with the max, and act on a quarter of the values.
    y = np.maximum(np.maximum(y[:, 0::2, 0::2], y[:, 0::2, 1::2]), np.maximum(y[:, 1::2, 0::2], y[:, 1::2, 1::2]))
    return np.maximum(y + b, 0.0)


class CarScorer:
    def __init__(self, weights: dict, cue_names: Sequence[str], use_dnn: bool = True,
                 kind_names: Sequence[str] = ()):
        self.w = {k: np.asarray(v, np.float32) for k, v in weights.items()}
        self.cue_names = list(cue_names)
        # The kinds its kind head tells apart, in output order; none for a network without one.
        self.kind_names = tuple(kind_names) if "kind_w" in self.w else ()
        self.use_dnn = use_dnn
        self._per_thread = threading.local()  # a cv2.dnn.Net must not run on two threads at once

    def conv_features(self, patches: np.ndarray) -> np.ndarray:
        """(n, channels, rows, cols) patches -> (n, features) after the
        convolutions, flattened channel-first as trained."""
        net = self._conv_net(patches.shape[1:]) if self.use_dnn else None
        if net is None:
            return self.numpy_conv_features(patches)
        net.setInput(np.ascontiguousarray(patches, np.float32))
        return net.forward().reshape(len(patches), -1)

    def numpy_conv_features(self, patches: np.ndarray) -> np.ndarray:
        """What ``conv_features`` computes, in numpy: the reference."""
        x = patches.astype(np.float32).transpose(0, 2, 3, 1)
        for i in range(CONV_LAYERS):
            x = _conv3x3_relu_pool(x, self.w[f"conv{i}_w"], self.w[f"conv{i}_b"])
        return x.transpose(0, 3, 1, 2).reshape(len(x), -1)

    def _conv_net(self, patch_shape):
        """This thread's network, built and checked against numpy once; None if it cannot be used."""
        if not hasattr(self._per_thread, "net"):
            convs = [(self.w[f"conv{i}_w"], self.w[f"conv{i}_b"]) for i in range(CONV_LAYERS)]
            net = build_conv_net(convs)
            if net is not None and not matches_reference(net, self.numpy_conv_features, tuple(patch_shape)):
                net = None
            self._per_thread.net = net
        return self._per_thread.net

    def forward(self, patches: np.ndarray, cues: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """(car logit (n,), kind logits (n, len(kind_names)) or None): both
        heads read the same hidden layer, so the kind costs one small product."""
        out = np.empty(len(patches), np.float32)
        kinds = np.empty((len(patches), len(self.kind_names)), np.float32) if self.kind_names else None
        for k in range(0, len(patches), BATCH):
            flat = self.conv_features(patches[k : k + BATCH])
            c = (cues[k : k + BATCH] - self.w["cue_mean"]) / self.w["cue_std"]
            h = np.concatenate([flat, c.astype(np.float32)], axis=1)
            h = np.maximum(h @ self.w["fc0_w"].T + self.w["fc0_b"], 0.0)
            out[k : k + BATCH] = (h @ self.w["fc1_w"].T + self.w["fc1_b"]).ravel() + self.w["shift"]
            if kinds is not None:
                kinds[k : k + BATCH] = h @ self.w["kind_w"].T + self.w["kind_b"]
        return out, kinds

    def logit(self, patches: np.ndarray, cues: np.ndarray) -> np.ndarray:
        return self.forward(patches, cues)[0]

    def probability(self, patches: np.ndarray, cues: np.ndarray) -> np.ndarray:
        return sigmoid(self.logit(patches, cues))


def sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))


@lru_cache(maxsize=1)
def load_scorer(path: str = WEIGHTS_PATH) -> Optional[CarScorer]:
    if not os.path.exists(path):
        return None
    with np.load(path) as z:
        names = [str(n) for n in z["cue_names"]]
        if names != list(CUE_NAMES):
            raise ValueError("car_scorer.npz was trained on other cues; retrain it (scripts/train_car_scorer.py)")
        kind_names = [str(n) for n in z["kind_names"]] if "kind_names" in z.files else ()
        return CarScorer({k: z[k] for k in z.files if k not in ("cue_names", "kind_names")}, names,
                         kind_names=kind_names)


class ScorerEnsemble:
    """Several scorers as one: the mean of their logits; and, when given, the
    network whose kind head names the kept cars' kinds."""

    def __init__(self, members: Sequence[CarScorer], kind_member: Optional[CarScorer] = None):
        self.members = list(members)
        self.kind_member = kind_member if kind_member is not None and kind_member.kind_names else None
        self.kind_names = self.kind_member.kind_names if self.kind_member else ()

    def logit(self, patches: np.ndarray, cues: np.ndarray) -> np.ndarray:
        return np.mean([m.logit(patches, cues) for m in self.members], axis=0)

    def probability(self, patches: np.ndarray, cues: np.ndarray) -> np.ndarray:
        return sigmoid(self.logit(patches, cues))

    def kind_logits(self, patches: np.ndarray, cues: np.ndarray) -> Optional[np.ndarray]:
        """(n, len(kind_names)) logits, or None without a kind network."""
        return self.kind_member.forward(patches, cues)[1] if self.kind_member else None


@lru_cache(maxsize=1)
def load_ensemble(paths: Sequence[str] = ENSEMBLE_PATHS, kind_path: Optional[str] = KIND_PATH) -> Optional[ScorerEnsemble]:
    """The detector's scorer: every member whose weights file exists (None if
    none does), with the kind network if its file exists."""
    members = [load_scorer.__wrapped__(p) for p in paths]
    members = [m for m in members if m is not None]
    if not members:
        return None
    return ScorerEnsemble(members, load_scorer.__wrapped__(kind_path) if kind_path else None)
