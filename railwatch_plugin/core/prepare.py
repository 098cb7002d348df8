"""Turn a raw tile into the float image the detector works on.

Cars are told apart from ground by brightness *and* colour (a rust-red boxcar
on brown ballast can have the ground's brightness), so the detector sees a
luminance channel plus two opponent-colour channels. Finer images are resampled
to one isotropic working GSD so that every later step can use fixed sizes in
metres and the cost does not grow with resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

# Opponent colour differences count a little less than brightness differences:
# they are noisier after JPEG chroma subsampling.
COLOUR_WEIGHT = 0.8


@dataclass
class WorkImage:
    features: np.ndarray  # (rows, cols, channels) float32, luminance first, ~0-255 scale
    valid: np.ndarray  # (rows, cols) bool
    gsd_m: float  # isotropic working GSD
    scale_col: float  # working px per input px along columns
    scale_row: float


def _to_8bit_scale(data: np.ndarray, valid: Optional[np.ndarray]) -> np.ndarray:
    """Float32 copy scaled so that typical content spans 0-255 whatever the dtype."""
    img = data.astype(np.float32, copy=False)
    if data.dtype == np.uint8:
        return img
    sample = img[valid] if valid is not None else img.reshape(-1, img.shape[2])
    if sample.size == 0:
        return np.zeros_like(img)
    step = max(1, sample.shape[0] // 200_000)
    lo, hi = np.percentile(sample[::step], [0.5, 99.5])
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros_like(img)
    return (img - lo) * (255.0 / (hi - lo))


def feature_channels(data: np.ndarray, valid: Optional[np.ndarray]) -> np.ndarray:
    """(rows, cols, 1 or 3) float32: luminance, then red-green and yellow-blue opponents."""
    img = _to_8bit_scale(data, valid)
    if img.shape[2] >= 3:
        r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
        lum = 0.299 * r + 0.587 * g + 0.114 * b
        rg = COLOUR_WEIGHT * (r - g)
        yb = COLOUR_WEIGHT * (0.5 * (r + g) - b)
        return np.dstack([lum, rg, yb]).astype(np.float32)
    return img[:, :, :1].astype(np.float32)


def prepare_tile(
    data: np.ndarray, valid: Optional[np.ndarray], gsd_m: Tuple[float, float], work_gsd_m: Optional[float]
) -> WorkImage:
    gx, gy = gsd_m
    target = max(gx, gy, work_gsd_m or 0.0)
    feats = feature_channels(data, valid)
    if valid is None:
        valid = np.ones(data.shape[:2], bool)
    fx, fy = gx / target, gy / target
    if abs(fx - 1) > 1e-3 or abs(fy - 1) > 1e-3:
        rows = max(1, int(round(data.shape[0] * fy)))
        cols = max(1, int(round(data.shape[1] * fx)))
        feats = cv2.resize(feats, (cols, rows), interpolation=cv2.INTER_AREA)
        if feats.ndim == 2:
            feats = feats[:, :, None]
        valid = cv2.resize(valid.astype(np.uint8), (cols, rows), interpolation=cv2.INTER_NEAREST).astype(bool)
        fx, fy = cols / data.shape[1], rows / data.shape[0]
    if not valid.all():
        # Invalid pixels take the mean of the valid ones so that nodata borders
        # do not look like strong edges; detections touching them are dropped.
        mean = feats[valid].mean(axis=0) if valid.any() else 0.0
        feats = feats.copy()
        feats[~valid] = mean
    return WorkImage(features=np.ascontiguousarray(feats), valid=valid, gsd_m=target, scale_col=fx, scale_row=fy)
