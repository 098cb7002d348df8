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


class _ShiftedMeans:
    """Means over rows [y+lo, y+lo+k) for every row y (rows past the edge
    repeat the edge row), as row-offset *views* of one k-row box mean of the
    image padded once: the side strips of every band width share one blurred
    image and no shifted copies are made, which keeps a tile's peak memory low."""

    def __init__(self, image: np.ndarray, k: int, pad: int):
        self.k, self.pad, self.rows = k, pad, image.shape[0]
        padded = cv2.copyMakeBorder(image, pad, pad, 0, 0, cv2.BORDER_REPLICATE)
        self.mean = cv2.blur(padded, (1, k), borderType=cv2.BORDER_REPLICATE)

    def rows_from(self, lo: int) -> np.ndarray:
        start = self.pad + lo + self.k // 2
        return self.mean[start : start + self.rows]


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
    pad = max(max(-g.above[0], g.below[1]) for g in geometries) + 1  # every strip lies within the padding
    sides: dict = {}  # strip height -> _ShiftedMeans; the side strips of every width have one height
    best = best_idx = best_tone = None
    for i, g in enumerate(geometries):
        k_inner = g.inner[1] - g.inner[0]  # centred on the row: no shift
        inner = cv2.blur(image, (1, k_inner), borderType=cv2.BORDER_REPLICATE)
        for lo, hi in (g.above, g.below):
            if hi - lo not in sides:
                sides[hi - lo] = _ShiftedMeans(image, hi - lo, pad)
        above = sides[g.above[1] - g.above[0]].rows_from(g.above[0])
        below = sides[g.below[1] - g.below[0]].rows_from(g.below[0])
        d_above = _norm(cv2.subtract(inner, above))
        d_below = _norm(cv2.subtract(inner, below))
        inner_energy = cv2.blur(energy, (1, k_inner), borderType=cv2.BORDER_REPLICATE)
        var = cv2.subtract(inner_energy, _sum_channels(cv2.multiply(inner, inner)))
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
        del inner, above, below, d_above, d_below, var, inner_energy
    return best, best_idx, best_tone
