"""Turn a raw tile into the float image the detector works on.

Cars are told apart from ground by brightness *and* colour (a rust-red boxcar
on brown ballast can have the ground's brightness), so the detector sees a
luminance channel plus two opponent-colour channels. Every tile is resampled
to the frame network's GSD (``frame_net.NET_GSD_M``: finer images averaged
down, coarser ones interpolated up), so the network always sees cars at one
scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

# Opponent colour differences count a little less than brightness differences:
# they are noisier after JPEG chroma subsampling.
COLOUR_WEIGHT = 0.8

# A GSD within this fraction of the working GSD is worked as it is, without
# resampling: a map projection's scale factor makes a 0.5 m product 0.5002 m
# on the ground, and resampling it by 0.04 % would only blur it. A 0.5 %
# error in scale moves a 20 m car's length by 10 cm, well inside what it is
# measured to.
SNAP_TOLERANCE = 0.005


@dataclass
class WorkImage:
    features: np.ndarray  # (rows, cols, 1 or 3) float32: luminance, then two opponent colours (feature_channels)
    valid: np.ndarray  # (rows, cols) bool
    gsd_m: float  # isotropic working GSD
    scale_col: float  # working px per input px along columns
    scale_row: float

    @property
    def lum(self) -> np.ndarray:
        return np.ascontiguousarray(self.features[:, :, 0])


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
    # Clipped well outside 0-255: one stray 3e38 would overflow float32 to
    # infinity, and averaging it down would spread NaN over the tile.
    with np.errstate(over="ignore"):
        return np.clip((img - lo) * (255.0 / (hi - lo)), -255.0, 510.0)


def _scaled_planes(data: np.ndarray, valid: Optional[np.ndarray], n_bands: int):
    """The first ``n_bands`` bands as contiguous float32 planes on the 0-255
    scale: arithmetic on contiguous planes runs at full speed, where the
    interleaved channels of the tile made every operation a strided one."""
    if data.dtype == np.uint8:
        return [data[:, :, i].astype(np.float32) for i in range(n_bands)]
    img = _to_8bit_scale(data, valid)
    return [np.ascontiguousarray(img[:, :, i]) for i in range(n_bands)]


def feature_channels(data: np.ndarray, valid: Optional[np.ndarray]) -> np.ndarray:
    """(rows, cols, 1 or 3) float32: luminance, then red-green and yellow-blue opponents.

    The same float32 operations in the same order as when they ran on the
    interleaved image, so the values are identical: 58 -> 24 ms on a
    1024 px tile."""
    if data.shape[2] >= 3:
        r, g, b = _scaled_planes(data, valid, 3)
        return _with_colours(_luminance(r, g, b), r, g, b)
    return _scaled_planes(data, valid, 1)[0][:, :, None]


def _luminance(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.299 * r + 0.587 * g + 0.114 * b


def _with_colours(lum: np.ndarray, r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    rg = COLOUR_WEIGHT * (r - g)
    yb = COLOUR_WEIGHT * (0.5 * (r + g) - b)
    return cv2.merge([lum, rg, yb])


def working_scale(gsd_m: Tuple[float, float], work_gsd_m: float) -> Tuple[float, float, float]:
    """(working GSD, working px per input px along columns, along rows); the
    scales are exactly 1 when the tile is used as it is, not resampled."""
    fx, fy = gsd_m[0] / work_gsd_m, gsd_m[1] / work_gsd_m
    if abs(fx - 1) <= SNAP_TOLERANCE and abs(fy - 1) <= SNAP_TOLERANCE:
        return work_gsd_m, 1.0, 1.0
    return work_gsd_m, fx, fy


def prepare_tile(data: np.ndarray, valid: Optional[np.ndarray], gsd_m: Tuple[float, float],
                 work_gsd_m: float) -> WorkImage:
    """The tile at ``work_gsd_m`` (``working_scale``); invalid pixels take the
    mean of the valid ones, so that nodata borders do not look like strong
    edges."""
    target, fx, fy = working_scale(gsd_m, work_gsd_m)
    feats = feature_channels(data, valid)
    if valid is None:
        valid = np.ones(data.shape[:2], bool)
    if fx != 1.0 or fy != 1.0:
        rows = max(1, int(round(data.shape[0] * fy)))
        cols = max(1, int(round(data.shape[1] * fx)))
        feats = _resize(feats, cols, rows)
        valid = cv2.resize(valid.astype(np.uint8), (cols, rows), interpolation=cv2.INTER_NEAREST).astype(bool)
        fx, fy = cols / data.shape[1], rows / data.shape[0]
    if not valid.all():
        mean = feats[valid].mean(axis=0) if valid.any() else 0.0
        feats = feats.copy()
        feats[~valid] = mean
    return WorkImage(features=np.ascontiguousarray(feats), valid=valid, gsd_m=target, scale_col=fx, scale_row=fy)


def _resize(image: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """Averaged along an axis that shrinks, interpolated along one that grows
    (INTER_AREA repeats pixels when enlarging; INTER_LINEAR thins without
    averaging when shrinking): one axis at a time when they differ."""
    def one(img, c, r):
        shrink = c <= img.shape[1] and r <= img.shape[0]
        out = cv2.resize(img, (c, r), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return out if out.ndim == 3 else out[:, :, None]

    if (cols <= image.shape[1]) == (rows <= image.shape[0]):
        return one(image, cols, rows)
    return one(one(image, cols, image.shape[0]), cols, rows)


def coarse_look(data: np.ndarray, valid: Optional[np.ndarray], gsd_m: Tuple[float, float],
                target_gsd_m: float) -> Tuple[np.ndarray, np.ndarray, float]:
    """(luminance, valid, GSD) of the tile at ``target_gsd_m`` (never finer
    than the image), straight from its pixels.

    Orientation and the prescreen look at 1 m, and most tiles of a large
    raster are countryside that they turn down: an 8-bit tile is averaged
    down band by band before anything is turned to float (a 1024 px tile at
    0.5 m: 4 times fewer pixels to convert and weigh). Other tiles, and tiles
    with invalid pixels, go through ``prepare_tile`` first."""
    fx, fy = min(1.0, gsd_m[0] / target_gsd_m), min(1.0, gsd_m[1] / target_gsd_m)
    rows, cols = max(1, int(round(data.shape[0] * fy))), max(1, int(round(data.shape[1] * fx)))
    if data.dtype == np.uint8 and (valid is None or valid.all()):
        small = cv2.resize(np.ascontiguousarray(data[:, :, :3]), (cols, rows), interpolation=cv2.INTER_AREA)
        small = small.reshape(rows, cols, -1).astype(np.float32)
        if small.shape[2] >= 3:
            lum = _luminance(small[:, :, 0], small[:, :, 1], small[:, :, 2])
        else:
            lum = small[:, :, 0]
        return np.ascontiguousarray(lum), np.ones((rows, cols), bool), max(gsd_m[0] / fx, gsd_m[1] / fy)
    work = prepare_tile(data, valid, gsd_m, max(target_gsd_m, *gsd_m))
    return work.lum, work.valid, work.gsd_m
