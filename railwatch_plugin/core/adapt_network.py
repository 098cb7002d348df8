"""The frame network cut in two for adapting: fixed layers (``Trunk``) and the part that learns (``Tail``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np

from . import frame_net as fn
from .adapt_settings import AdaptError


def split_architecture(architecture=fn.ARCHITECTURE):
    """(fixed layers, index of the last convolution's weights): the tail is that
    3 x 3 convolution and the 1 x 1 head, at the output's resolution."""
    last = max(i for i, layer in enumerate(architecture) if layer[0] == "conv")
    if tuple(layer[0] for layer in architecture[last:]) != ("conv", "head"):
        raise AdaptError("this network does not end in one convolution and a head: it cannot be adapted")
    k = sum(1 for layer in architecture[:last] if layer[0] == "conv")
    return tuple(architecture[:last]), k


class Trunk:
    """The fixed layers, run by OpenCV where it can (numpy otherwise), block by block like the detector."""

    def __init__(self, weights: Dict[str, np.ndarray]):
        self.architecture, self.k = split_architecture()
        self.weights = weights
        self.channels = weights[f"conv{self.k}_w"].shape[1]
        self.dnn = fn.build_dnn(weights, self.architecture)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.dnn is None:
            return fn.forward_numpy(self.weights, x, self.architecture)
        self.dnn.setInput(np.ascontiguousarray(x[None], np.float32))
        return self.dnn.forward()[0]


def patches_at(trunk_map: np.ndarray, rr: np.ndarray, cc: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """(n, channels * kh * kw) float16: the trunk's values under the last convolution's kernel at cells (rr, cc)."""
    ph, pw = kh // 2, kw // 2
    padded = np.pad(trunk_map, ((0, 0), (ph, ph), (pw, pw)))
    out = np.empty((len(rr), trunk_map.shape[0], kh, kw), np.float16)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i, j] = padded[:, rr + i, cc + j].T
    return out.reshape(len(rr), -1)


@dataclass
class Tail:
    """The last convolution (as a matrix over patches) and the head."""

    w1: np.ndarray  # (hidden, channels * kh * kw)
    b1: np.ndarray
    w2: np.ndarray  # (len(HEAD), hidden)
    b2: np.ndarray

    @classmethod
    def of(cls, weights, k):
        w1 = weights[f"conv{k}_w"]
        return cls(w1.reshape(w1.shape[0], -1).astype(np.float32), weights[f"conv{k}_b"].astype(np.float32),
                   weights[f"conv{k + 1}_w"][:, :, 0, 0].astype(np.float32), weights[f"conv{k + 1}_b"].astype(np.float32))

    def into(self, weights, k) -> Dict[str, np.ndarray]:
        out = {key: np.array(v, np.float32, copy=True) for key, v in weights.items()}
        out[f"conv{k}_w"] = self.w1.reshape(out[f"conv{k}_w"].shape).astype(np.float32)
        out[f"conv{k}_b"] = self.b1.astype(np.float32)
        out[f"conv{k + 1}_w"] = self.w2[:, :, None, None].astype(np.float32)
        out[f"conv{k + 1}_b"] = self.b2.astype(np.float32)
        return out

    def params(self):
        return [self.w1, self.b1, self.w2, self.b2]


def tail_out(tail: Tail, patches: np.ndarray) -> np.ndarray:
    return np.maximum(patches.astype(np.float32) @ tail.w1.T + tail.b1, 0.0) @ tail.w2.T + tail.b2
