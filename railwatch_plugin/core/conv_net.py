"""The car scorer's convolutions as an OpenCV dnn network, built in memory.

The scorer spends most of its time in three 3x3 convolutions. In numpy they
need an im2col copy nine times the size of each layer's input and a thin
matrix product (0.84 ms of CPU per 24 x 48 patch, 2,171 patches on a busy
1024 px yard tile); OpenCV's dnn convolution takes 0.2 ms for the same
numbers to about 1e-5. cv2.dnn reads Darknet's format, a text description and
a flat float32 file, so the network is written from the trained weights
without any new dependency and without a file on disk.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np

DARKNET_VERSION = (0, 2, 0)  # major, minor, revision: from 0.2 on, "images seen" is an int64


def darknet_description(convs: Sequence[Tuple[np.ndarray, np.ndarray]]) -> Tuple[bytes, bytes]:
    """(cfg text, weights) for ``convs``: per layer, weights (out, in, 3, 3)
    and bias (out,) of a zero-padded 3x3 convolution, ReLU, 2x2 max pool."""
    in_channels = convs[0][0].shape[1]
    cfg = [f"[net]\nbatch=1\nchannels={in_channels}\n"]
    blobs = [np.array(DARKNET_VERSION, np.int32).tobytes(), np.zeros(1, np.int64).tobytes()]
    for weights, bias in convs:
        cfg.append(f"[convolutional]\nfilters={weights.shape[0]}\nsize=3\nstride=1\npad=1\nactivation=relu\n")
        cfg.append("[maxpool]\nsize=2\nstride=2\n")
        # Darknet stores a layer's biases before its weights.
        blobs += [np.asarray(bias, np.float32).tobytes(), np.ascontiguousarray(weights, np.float32).tobytes()]
    return "\n".join(cfg).encode(), b"".join(blobs)


def build_conv_net(convs: Sequence[Tuple[np.ndarray, np.ndarray]]):
    """A cv2.dnn.Net taking (n, channels, rows, cols) float32 and giving the
    last layer's (n, out, rows / 8, cols / 8); None where cv2.dnn is missing."""
    try:
        cfg, weights = darknet_description(convs)
        net = cv2.dnn.readNetFromDarknet(np.frombuffer(cfg, np.uint8), np.frombuffer(weights, np.uint8))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        return net
    except (AttributeError, cv2.error):  # an OpenCV without dnn, or one whose importer refuses the net
        return None


def matches_reference(net, reference_fn, shape: Tuple[int, int, int], tolerance: float = 1e-3) -> bool:
    """Whether ``net`` gives what ``reference_fn`` (the numpy convolutions,
    flattened per patch) gives on a few random patches of ``shape`` (channels,
    rows, cols): guards against an OpenCV that reads the Darknet description
    differently (pooling, padding, weight order)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3,) + tuple(shape)).astype(np.float32)
    try:
        net.setInput(x)
        got = net.forward().reshape(len(x), -1)
    except cv2.error:
        return False
    want = reference_fn(x)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=tolerance, atol=tolerance))
