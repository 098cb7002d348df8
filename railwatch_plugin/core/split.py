"""Split a string of coupled cars into cars.

Cuts go where the profile along the string shows a coupler gap (the band stops
standing out for a metre or so) or a change of car (the colour changes). A
dynamic programme picks the cuts that make every car a plausible length and
prefer strong boundaries; where no boundary is visible, a long segment is
divided evenly by the typical car length, and those cars are marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .quick_stats import median

CUT_COST = 0.35  # a candidate boundary weaker than this is only used if lengths demand it
LENGTH_SPLIT_COST = 0.25  # per car invented by dividing by the typical length
TOO_SHORT_COST = 4.0
LENGTH_SLACK_M = 1.0  # a car may be this much outside the user's length range (lengths are read to a pixel or two)


@dataclass(frozen=True)
class Segment:
    start: float  # along-string position, px
    end: float
    n_cars: int  # >1 when divided by typical length
    cut_at_start: bool  # True when the start is a chosen boundary (not a string end)
    cut_at_end: bool


def boundary_strength(contrast: np.ndarray, inner: np.ndarray, gsd_m: float) -> np.ndarray:
    """0-1 per sample: how much this looks like a boundary between two cars."""
    n = len(contrast)
    if n == 0:
        return np.zeros(0)
    ref = max(float(median(contrast)), 1.0)
    near = max(1, int(round(0.6 / gsd_m)))
    far = max(near + 1, int(round(3.0 / gsd_m)))
    padded = np.pad(contrast, far, mode="edge")
    # Strongest contrast from ``far`` to ``near`` samples before each sample
    # (left) and from ``near`` to ``far`` after it (right): windows of one
    # length, so one sliding maximum gives both.
    window_max = sliding_window_view(padded, far - near + 1).max(axis=1)
    left = window_max[:n]
    right = window_max[far + near : far + near + n]
    support = np.minimum(np.minimum(left, right), ref * 1.5)
    # np.minimum(np.maximum()) is np.clip without its ~25 us of checks a call (3 calls x 200 strings a tile).
    dip = np.minimum(np.maximum(1.0 - contrast / np.maximum(support, 1e-6), 0.0), 1.0)
    dip *= np.minimum(np.maximum(support / ref, 0.0), 1.0)  # both sides must be car-like
    # Colour change between the two sides (a red car coupled to a black one).
    d = max(1, int(round(1.5 / gsd_m)))
    pin = np.pad(inner, ((d, d), (0, 0)), mode="edge")
    change = np.linalg.norm(pin[2 * d :] - pin[: -2 * d], axis=1) / (ref + 10.0)
    change = np.minimum(np.maximum(change, 0.0), 1.0)
    return np.maximum(dip, 0.7 * change)


def candidate_cuts(strength: np.ndarray, gsd_m: float, minimum: float = 0.15) -> List[Tuple[int, float]]:
    """Local maxima of boundary strength, at least 1.5 m apart."""
    sep = max(1, int(round(1.5 / gsd_m)))
    out = []
    for i in np.argsort(strength)[::-1]:
        s = float(strength[i])
        if s < minimum:
            break
        if all(abs(i - j) > sep for j, _ in out):
            out.append((int(i), s))
    return sorted(out)


def length_bounds_px(car_length_m: Tuple[float, float], gsd_m: float) -> Tuple[float, float]:
    """(shortest, longest) plausible car in px: the user's range widened by LENGTH_SLACK_M."""
    return (car_length_m[0] - LENGTH_SLACK_M) / gsd_m, (car_length_m[1] + LENGTH_SLACK_M) / gsd_m


def cars_by_typical_length(span_px: float, lmax_px: float, typical_px: float) -> int:
    """How many cars (at least two) fill a span too long for one, when no
    boundary shows: the count nearest to typical-length cars, raised until no
    car is longer than ``lmax_px``."""
    k = max(2, int(round(span_px / typical_px)))
    while span_px / k > lmax_px:
        k += 1
    return k


def split_string(
    length_px: float,
    cuts: Sequence[Tuple[float, float]],
    gsd_m: float,
    car_length_m: Tuple[float, float],
    typical_length_m: float,
) -> List[Segment]:
    """Choose cuts (position px from the string start, strength) by dynamic programming."""
    lmin, lmax = length_bounds_px(car_length_m, gsd_m)
    typical = typical_length_m / gsd_m
    pos = [0.0] + [float(p) for p, _ in cuts if 0 < p < length_px] + [float(length_px)]
    gain = [0.0] + [s - CUT_COST for p, s in cuts if 0 < p < length_px] + [0.0]
    n = len(pos)

    def seg_score(a: int, b: int) -> Tuple[float, int]:
        length = pos[b] - pos[a]
        if length < lmin:
            return -TOO_SHORT_COST * (1.0 + (lmin - length) / lmin), 1
        if length <= lmax:
            return 0.0, 1
        k = cars_by_typical_length(length, lmax, typical)
        return -LENGTH_SPLIT_COST * (k - 1), k

    best = [-np.inf] * n
    back = [-1] * n
    cars = [1] * n
    best[0] = 0.0
    for j in range(1, n):
        for i in range(j):
            if best[i] == -np.inf:
                continue
            sc, k = seg_score(i, j)
            total = best[i] + sc + gain[j]
            if total > best[j]:
                best[j], back[j], cars[j] = total, i, k
    segments: List[Segment] = []
    j = n - 1
    while j > 0:
        i = back[j]
        segments.append(Segment(pos[i], pos[j], cars[j], cut_at_start=i > 0, cut_at_end=j < n - 1))
        j = i
    segments.reverse()
    return segments
