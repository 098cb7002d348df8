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


class RowMeans:
    """Means over row ranges relative to each row, via cumulative sums."""

    def __init__(self, image: np.ndarray, pad: int):
        self.pad = pad
        padded = np.pad(image, ((pad, pad), (0, 0), (0, 0)), mode="edge")
        self.cum = np.zeros((padded.shape[0] + 1,) + padded.shape[1:], np.float32)
        np.cumsum(padded, axis=0, out=self.cum[1:])
        sq = (padded * padded).sum(axis=2, keepdims=True)
        self.cum_sq = np.zeros((sq.shape[0] + 1,) + sq.shape[1:], np.float32)
        np.cumsum(sq, axis=0, out=self.cum_sq[1:])
        self.rows = image.shape[0]

    def _range(self, cum: np.ndarray, lo: int, hi: int) -> np.ndarray:
        a = self.pad + lo
        b = self.pad + hi
        return (cum[b : b + self.rows] - cum[a : a + self.rows]) / float(hi - lo)

    def mean(self, lo: int, hi: int) -> np.ndarray:
        return self._range(self.cum, lo, hi)

    def mean_sq(self, lo: int, hi: int) -> np.ndarray:
        return self._range(self.cum_sq, lo, hi)[:, :, 0]


def band_response(smoothed: np.ndarray, geometries: Sequence[BandGeometry], uniformity_weight: float = 0.6):
    """Best response over widths and the index of the width that gave it.

    Returns (response, width_index, inner_minus_sides_luminance) as (rows, cols)
    arrays; the last is positive for bands brighter than their surroundings.
    """
    pad = max(max(abs(g.above[0]), g.below[1]) for g in geometries) + 1
    means = RowMeans(smoothed, pad)
    best = None
    best_idx = None
    best_tone = None
    for i, g in enumerate(geometries):
        inner = means.mean(*g.inner)
        above = means.mean(*g.above)
        below = means.mean(*g.below)
        d_above = np.sqrt(((inner - above) ** 2).sum(axis=2))
        d_below = np.sqrt(((inner - below) ** 2).sum(axis=2))
        var = np.maximum(means.mean_sq(*g.inner) - (inner * inner).sum(axis=2), 0.0)
        resp = np.minimum(d_above, d_below) - uniformity_weight * np.sqrt(var)
        tone = inner[:, :, 0] - 0.5 * (above[:, :, 0] + below[:, :, 0])
        if best is None:
            best, best_idx, best_tone = resp, np.zeros(resp.shape, np.uint8), tone
        else:
            better = resp > best
            best = np.where(better, resp, best)
            best_idx[better] = i
            best_tone = np.where(better, tone, best_tone)
    return best, best_idx, best_tone
