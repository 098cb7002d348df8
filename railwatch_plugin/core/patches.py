"""Car-hypothesis patches: the picture the scorer looks at.

A string is sampled once as a straight strip (its centre line plus
``STRIP_HALF_M`` either side, one sample per working pixel). Every hypothesis
along it is then a window of that strip, from a quarter of its length before
its start to a quarter after its end, resized to a fixed ``PATCH_COLS`` x
``PATCH_ROWS``: whatever its length, the car's ends fall on the same patch
columns, so the scorer sees whether the cut lands on a coupler gap, and what
lies beside the car (a shadow, an empty track, the ground).
"""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

STRIP_HALF_M = 8.0  # across the track: the car, its shadow and the neighbouring tracks
PATCH_ROWS = 24
PATCH_COLS = 48
CONTEXT_FRACTION = 0.25  # of the hypothesis length, shown before and after it
CHANNELS = 3  # luminance and two opponent colours; one-band images get zeros


def sample_strip(image: np.ndarray, row_at, col0: int, col1: int, gsd_m: float) -> np.ndarray:
    """(rows, col1 - col0, CHANNELS) float32 along the string's centre line."""
    cols = np.arange(col0, col1, dtype=np.float32)
    offs = np.arange(-STRIP_HALF_M, STRIP_HALF_M + 1e-6, gsd_m, dtype=np.float32) / gsd_m
    map_x = np.broadcast_to(cols[None, :], (len(offs), len(cols))).astype(np.float32)
    centre = np.asarray(row_at(cols + 0.5), np.float32)
    map_y = (centre[None, :] + offs[:, None]).astype(np.float32)
    strip = cv2.remap(np.ascontiguousarray(image), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if strip.ndim == 2:
        strip = strip[:, :, None]
    if strip.shape[2] < CHANNELS:
        strip = np.concatenate([strip, np.zeros(strip.shape[:2] + (CHANNELS - strip.shape[2],), np.float32)], axis=2)
    return strip[:, :, :CHANNELS]


def hypothesis_patches(strip: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Patches (n, CHANNELS, PATCH_ROWS, PATCH_COLS), each centred on its own
    median and scaled by its own luminance spread, and per patch (spread,
    mean luminance) so that absolute contrast is not lost."""
    n_cols = strip.shape[1]
    pad = n_cols  # windows may reach past the strip: edge values repeat
    padded = cv2.copyMakeBorder(strip, 0, 0, pad, pad, cv2.BORDER_REPLICATE)
    if padded.ndim == 2:
        padded = padded[:, :, None]
    out = np.empty((len(starts), PATCH_ROWS, PATCH_COLS, CHANNELS), np.float32)
    for k, (s, e) in enumerate(zip(starts, ends)):
        ctx = CONTEXT_FRACTION * (e - s)
        a = int(np.floor(s - ctx)) + pad
        b = int(np.ceil(e + ctx)) + pad
        a, b = max(a, 0), min(max(b, a + 2), padded.shape[1])
        patch = cv2.resize(padded[:, a:b], (PATCH_COLS, PATCH_ROWS), interpolation=cv2.INTER_AREA)
        out[k] = patch.reshape(PATCH_ROWS, PATCH_COLS, -1)
    flat = out.reshape(len(out), -1, CHANNELS)
    centre = np.median(flat, axis=1)  # (n, ch)
    spread = flat[:, :, 0].std(axis=1)
    mean_lum = flat[:, :, 0].mean(axis=1)
    scale = spread + 8.0
    out = (out - centre[:, None, None, :]) / scale[:, None, None, None]
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)), np.stack([spread, mean_lum], axis=1)
