"""Band response: how much a horizontal band of car width stands out.

For every pixel and each candidate car width, compare the mean colour inside a
band centred on that row with the mean colour of a strip just above and just
below it (all means taken along a few metres of track, which averages away
sleepers and noise). A car differs from *both* sides; one long edge (a road,
a field border) differs on one side only, so the response is the smaller of the
two differences, less a penalty for a band whose inside is not uniform (two
rails and the ballast between them, or two different objects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import cv2
import numpy as np


@dataclass(frozen=True)
class BandGeometry:
    """Row offsets (relative to the band centre, end exclusive) for one width."""

    width_m: float
    inner: Tuple[int, int]
    above: Tuple[int, int]
    below: Tuple[int, int]


def band_geometry(width_m: float, gsd_m: float) -> BandGeometry:
    half = width_m / 2.0 / gsd_m
    edge = max(1, int(round(0.35 / gsd_m)))  # skip the blurred car edge
    side = max(2, int(round(1.0 / gsd_m)))  # strip of ground beside the car
    inner_half = max(1, int(round(half - edge)))
    outer = int(round(half + edge * 0.5))
    return BandGeometry(
        width_m=width_m,
        inner=(-inner_half, inner_half + 1),
        above=(-outer - side, -outer),
        below=(outer + 1, outer + 1 + side),
    )


def _shifted(mean_k: np.ndarray, k: int, lo: int) -> np.ndarray:
    """Mean over rows [y+lo, y+lo+k) for every y, from a centred k-row box mean
    (edge rows repeat, as a box filter with replicated borders would)."""
    start = lo + k // 2
    rows = mean_k.shape[0]
    idx = np.clip(np.arange(rows) + start, 0, rows - 1)
    if 0 <= start and start + rows <= rows:
        return mean_k[start : start + rows]
    return mean_k[idx]


def _row_mean(image: np.ndarray, lo: int, hi: int, cache: dict) -> np.ndarray:
    k = hi - lo
    if k not in cache:
        cache[k] = cv2.blur(image, (1, k), borderType=cv2.BORDER_REPLICATE)
    return _shifted(cache[k], k, lo)


def _sum_channels(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.transform(image, np.ones((1, image.shape[2]), np.float32))


def _norm(diff: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean norm over channels."""
    return cv2.sqrt(_sum_channels(cv2.multiply(diff, diff)))


def band_response(smoothed: np.ndarray, geometries: Sequence[BandGeometry], uniformity_weight: float = 0.6):
    """Best response over widths and the index of the width that gave it.

    Returns (response, width_index, inner_minus_sides_luminance) as (rows, cols)
    arrays; the last is positive for bands brighter than their surroundings.
    Box means come from OpenCV's separable filters (multithreaded, no large
    cumulative-sum buffers), which keeps time and memory per tile small.
    """
    image = smoothed if smoothed.shape[2] > 1 else smoothed[:, :, 0]
    energy = _sum_channels(cv2.multiply(image, image))
    means: dict = {}
    sq_means: dict = {}
    best = best_idx = best_tone = None
    for i, g in enumerate(geometries):
        inner = _row_mean(image, *g.inner, means)
        above = _row_mean(image, *g.above, means)
        below = _row_mean(image, *g.below, means)
        d_above = _norm(cv2.subtract(inner, above))
        d_below = _norm(cv2.subtract(inner, below))
        var = cv2.subtract(_row_mean(energy, *g.inner, sq_means), _sum_channels(cv2.multiply(inner, inner)))
        resp = cv2.subtract(cv2.min(d_above, d_below), uniformity_weight * cv2.sqrt(cv2.max(var, 0.0)))
        lum = (lambda a: a if a.ndim == 2 else a[:, :, 0])
        tone = lum(inner) - 0.5 * (lum(above) + lum(below))
        if best is None:
            best, best_idx, best_tone = resp, np.zeros(resp.shape, np.uint8), tone
        else:
            better = resp > best
            np.copyto(best, resp, where=better)
            best_idx[better] = i
            np.copyto(best_tone, tone, where=better)
        del inner, above, below, d_above, d_below, var
    return best, best_idx, best_tone
