"""The frame network: where the railcars are in a frame rotated along the track.

A fully convolutional network looks at a whole frame (``frame.py``: a tile
turned so that one track direction runs along the columns, at ``NET_GSD_M``)
and answers, for every cell of a grid ``STRIDE_ROWS`` x ``STRIDE_COLS``
pixels: how likely a car's centre lies there, and if so where exactly, how
long and wide the car is, how it is turned and what kind it is. It sees
some 85 m along the track and 19 m across, so it judges a car by its
neighbours, its shadow and the track it stands on, and it tells coupled cars
apart without any hand-made rule for gaps, strings or lengths.

The layers are described once, in ``ARCHITECTURE``: the training script
(``scripts/frame_net_fit.py``, PyTorch) builds the same network from it, and
here it becomes an ONNX graph for OpenCV's dnn module (``onnx_graph.py``),
with a plain numpy version as the reference and the fallback. Weights live
in ``frame_net.npz`` beside this file.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from . import onnx_graph as ox

WEIGHTS_PATH = os.path.join(os.path.dirname(__file__), "frame_net.npz")
NET_GSD_M = 0.5  # every frame is worked at this GSD, whatever the image's
IN_CHANNELS = 4  # luminance, two opponent colours, valid
# Layers, input to output. ("conv", out channels, (k rows, k cols)) is a
# zero-padded convolution followed by ReLU; ("pool", (rows, cols)) a max pool
# of that size and stride; "save" keeps the current map for the "concat"
# after the ("up", (rows, cols)) nearest-neighbour upsampling; "head" is the
# last convolution, 1 x 1 and without ReLU.
ARCHITECTURE: Tuple[tuple, ...] = (
    ("conv", 12, (3, 3)), ("conv", 12, (3, 3)), ("pool", (2, 2)),
    ("conv", 24, (3, 3)), ("conv", 24, (3, 3)), ("pool", (1, 2)),
    ("conv", 32, (3, 3)), ("conv", 32, (3, 3)), ("save",), ("pool", (1, 2)),
    ("conv", 48, (3, 3)), ("conv", 48, (3, 3)), ("pool", (1, 2)),
    ("conv", 48, (3, 3)), ("conv", 48, (1, 5)),
    ("up", (1, 4)), ("concat",),
    ("conv", 48, (3, 3)),
    ("head",),
)
# Output channels of the head, in order.
HEAD = ("heat", "dx", "dy", "log_length", "turn", "width", "box", "tank", "hopper/gondola", "flat/container", "covered")
KIND_NAMES = HEAD[6:]
STRIDE_ROWS, STRIDE_COLS = 2, 4  # input pixels per output cell (1 m x 2 m at NET_GSD_M)
MULTIPLE_ROWS, MULTIPLE_COLS = 2, 16  # input sizes must be multiples of these (the poolings)
LENGTH_REF_M = 15.0  # log_length is log(length / LENGTH_REF_M)
WIDTH_REF_M = 3.0  # width is in metres from WIDTH_REF_M
TURN_SCALE_RAD = 0.2  # turn is the car's angle to the frame's rows, in units of 0.2 rad


def conv_layers(architecture: Sequence[tuple] = ARCHITECTURE) -> List[Tuple[int, Tuple[int, int], bool]]:
    """(out channels, kernel, relu) of every convolution, in order; the head has len(HEAD) outputs."""
    out = []
    for layer in architecture:
        if layer[0] == "conv":
            out.append((layer[1], layer[2], True))
        elif layer[0] == "head":
            out.append((len(HEAD), (1, 1), False))
    return out


def field_of_view_px(architecture: Sequence[tuple] = ARCHITECTURE) -> Tuple[int, int]:
    """How far (rows, cols) beyond its own pixels an output cell can see, at most.

    Each convolution adds half its kernel times the current stride; a pooling
    adds up to its size less one (its windows are not centred); upsampling
    only changes the stride; a concatenation sees as far as its wider input,
    which is the current one."""
    reach, stride = [0.0, 0.0], [1.0, 1.0]
    for layer in architecture:
        if layer[0] == "conv":
            for axis in (0, 1):
                reach[axis] += (layer[2][axis] // 2) * stride[axis]
        elif layer[0] == "pool":
            for axis in (0, 1):
                reach[axis] += (layer[1][axis] - 1) * stride[axis]
                stride[axis] *= layer[1][axis]
        elif layer[0] == "up":
            for axis in (0, 1):
                stride[axis] /= layer[1][axis]
    return int(np.ceil(reach[0])), int(np.ceil(reach[1]))


def onnx_model(weights: Dict[str, np.ndarray], architecture: Sequence[tuple] = ARCHITECTURE) -> bytes:
    """The network as a serialised ONNX model taking (1, IN_CHANNELS, rows, cols)."""
    nodes, inits = [], []
    current, saved, k = "input", None, 0
    for i, layer in enumerate(architecture):
        kind = layer[0]
        out = f"t{i}"
        if kind in ("conv", "head"):
            w, b = weights[f"conv{k}_w"], weights[f"conv{k}_b"]
            kh, kw = w.shape[2:]
            inits += [ox.tensor(f"w{k}", w), ox.tensor(f"b{k}", b)]
            attrs = [ox.attr_ints("kernel_shape", (kh, kw)), ox.attr_ints("pads", (kh // 2, kw // 2, kh // 2, kw // 2))]
            conv_out = out + "c" if kind == "conv" else out
            nodes.append(ox.node("Conv", [current, f"w{k}", f"b{k}"], [conv_out], attrs))
            if kind == "conv":
                nodes.append(ox.node("Relu", [conv_out], [out]))
            k += 1
        elif kind == "pool":
            size = layer[1]
            nodes.append(ox.node("MaxPool", [current], [out], [ox.attr_ints("kernel_shape", size), ox.attr_ints("strides", size)]))
        elif kind == "save":
            saved = current
            continue
        elif kind == "up":
            inits += [ox.tensor(f"roi{i}", np.zeros(0)), ox.tensor(f"scales{i}", np.array((1, 1) + tuple(layer[1]), np.float32))]
            nodes.append(ox.node("Resize", [current, f"roi{i}", f"scales{i}"], [out], [
                ox.attr_string("mode", "nearest"), ox.attr_string("coordinate_transformation_mode", "asymmetric"),
                ox.attr_string("nearest_mode", "floor")]))  # each value repeated, as np.repeat does
        elif kind == "concat":
            nodes.append(ox.node("Concat", [current, saved], [out], [ox.attr_int("axis", 1)]))
        else:
            raise ValueError(f"unknown layer {layer!r}")
        current = out
    return ox.model(nodes, inits, [ox.value_info("input", [1, IN_CHANNELS, "rows", "cols"])],
                    [ox.value_info(current, [1, len(HEAD), "out_rows", "out_cols"])])


def _conv_numpy(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(c, h, w) -> (o, h, w): zero-padded 'same' convolution, one matrix product per kernel tap."""
    _, h, wd = x.shape
    kh, kw = w.shape[2:]
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros((w.shape[0], h * wd), np.float32)
    for i in range(kh):
        for j in range(kw):
            out += w[:, :, i, j] @ padded[:, i : i + h, j : j + wd].reshape(x.shape[0], -1)
    return out.reshape(-1, h, wd) + b[:, None, None]


def forward_numpy(weights: Dict[str, np.ndarray], x: np.ndarray, architecture: Sequence[tuple] = ARCHITECTURE) -> np.ndarray:
    """What the ONNX graph computes, in numpy: (IN_CHANNELS, rows, cols) -> (len(HEAD), rows/2, cols/4)."""
    current, saved, k = x.astype(np.float32), None, 0
    for layer in architecture:
        kind = layer[0]
        if kind in ("conv", "head"):
            current = _conv_numpy(current, weights[f"conv{k}_w"], weights[f"conv{k}_b"])
            if kind == "conv":
                current = np.maximum(current, 0.0)
            k += 1
        elif kind == "pool":
            ph, pw = layer[1]
            c, h, w = current.shape
            current = current[:, : h // ph * ph, : w // pw * pw].reshape(c, h // ph, ph, w // pw, pw).max(axis=(2, 4))
        elif kind == "save":
            saved = current
        elif kind == "up":
            current = np.repeat(np.repeat(current, layer[1][0], axis=1), layer[1][1], axis=2)
        elif kind == "concat":
            current = np.concatenate([current, saved], axis=0)
    return current


class FrameNet:
    """The trained network; ``predict`` gives the head's maps for one frame input."""

    def __init__(self, weights: Dict[str, np.ndarray], use_dnn: bool = True):
        self.weights = {k: np.asarray(v, np.float32) for k, v in weights.items()}
        self.use_dnn = use_dnn
        self._per_thread = threading.local()  # a cv2.dnn.Net must not run on two threads at once

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(IN_CHANNELS, rows, cols) with rows, cols multiples of MULTIPLE_ROWS, MULTIPLE_COLS ->
        (len(HEAD), rows / STRIDE_ROWS, cols / STRIDE_COLS)."""
        if x.shape[1] % MULTIPLE_ROWS or x.shape[2] % MULTIPLE_COLS:
            raise ValueError(f"frame input {x.shape[1:]} is not a multiple of {(MULTIPLE_ROWS, MULTIPLE_COLS)}")
        net = self._dnn() if self.use_dnn else None
        if net is None:
            return forward_numpy(self.weights, x)
        net.setInput(np.ascontiguousarray(x[None], np.float32))
        return net.forward()[0]

    @property
    def runs_in_opencv(self) -> bool:
        """False when this OpenCV cannot run the network and numpy does, some 60 times slower."""
        return self.use_dnn and self._dnn() is not None

    def _dnn(self):
        """This thread's cv2.dnn network, built and checked against numpy once; None if unusable."""
        if not hasattr(self._per_thread, "net"):
            self._per_thread.net = build_dnn(self.weights)
        return self._per_thread.net


def build_dnn(weights: Dict[str, np.ndarray], architecture: Sequence[tuple] = ARCHITECTURE):
    """A cv2.dnn.Net for ``weights``, or None when this OpenCV cannot read or
    run it as numpy does (checked on a small random input). ``architecture``
    may be a leading part of ARCHITECTURE (the adaptation runs the layers
    it keeps fixed)."""
    try:
        net = cv2.dnn.readNetFromONNX(np.frombuffer(onnx_model(weights, architecture), np.uint8))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        x = np.random.default_rng(0).normal(size=(1, IN_CHANNELS, 2 * MULTIPLE_ROWS * 4, 3 * MULTIPLE_COLS)).astype(np.float32)
        net.setInput(x)
        got = net.forward()[0]
    except Exception:  # noqa: BLE001 - an OpenCV without dnn, or one that reads or runs the graph differently
        return None
    want = forward_numpy(weights, x[0], architecture)
    scale = max(1.0, float(np.abs(want).max()))
    return net if got.shape == want.shape and np.abs(got - want).max() <= 1e-3 * scale else None


@lru_cache(maxsize=1)
def load_frame_net(path: str = WEIGHTS_PATH) -> Optional[FrameNet]:
    """The shipped network, or None when its weights file is missing."""
    if not os.path.exists(path):
        return None
    with np.load(path) as z:
        return FrameNet({k: z[k] for k in z.files})
