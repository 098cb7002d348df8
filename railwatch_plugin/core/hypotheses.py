"""Car hypotheses along one string, and the choice among them.

One fixed split of a string (``split.split_string``) is right only when every
coupler gap was read right; a missed or spurious gap turns two cars into one
or one into two, and no later score can repair that. So the string is instead
offered many overlapping ways to be cut: every stretch between two boundary
candidates (or string ends) that is a plausible car length, plus even
divisions by the typical length where no boundary shows. Each hypothesis is
scored by the network on its own merits, and the best set of
non-overlapping hypotheses is chosen (weighted interval scheduling), so that
the cars found are the cuts the evidence supports best as a whole.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from .model import METHOD_GAP, METHOD_LENGTH, METHOD_SINGLE
from .split import Segment, cars_by_typical_length, length_bounds_px

MAX_BOUNDARIES = 40  # per string; the weakest beyond this are dropped
SAME_HYPOTHESIS_M = 0.5  # two hypotheses whose ends agree this closely are one
ALLOWED_OVERLAP_M = 1.5  # chosen neighbours may share this much (a coupler gap read twice)


@dataclass(frozen=True)
class Hypothesis:
    start: float  # px from the string start
    end: float
    method: str
    start_cut: float  # boundary strength at the start (0 at a string end)
    end_cut: float
    at_string_end: bool


def car_hypotheses(
    length_px: float,
    cuts: Sequence[Tuple[int, float]],
    gsd_m: float,
    car_length_m: Tuple[float, float],
    typical_length_m: float,
    chosen: Sequence[Segment],
) -> List[Hypothesis]:
    """Every plausible car in a string ``length_px`` long with boundary
    candidates ``cuts`` (position px, strength 0-1). ``chosen`` is the single
    best split, whose cars are always offered too."""
    inner = [(float(p), float(s)) for p, s in cuts if 0 < p < length_px]
    if len(inner) > MAX_BOUNDARIES:
        inner = sorted(sorted(inner, key=lambda ps: -ps[1])[:MAX_BOUNDARIES])
    pos = [(0.0, 0.0)] + inner + [(float(length_px), 0.0)]
    last = len(pos) - 1
    lmin, lmax = length_bounds_px(car_length_m, gsd_m)
    typical = typical_length_m / gsd_m
    out: List[Hypothesis] = []

    def add(start, end, method, s0, s1):
        out.append(Hypothesis(start, end, method, s0, s1, start <= 0.0 or end >= length_px))

    for i in range(len(pos)):
        for j in range(i + 1, len(pos)):
            span = pos[j][0] - pos[i][0]
            if span > lmax:
                # No boundary shows inside: divide evenly, once, by the typical length.
                if j == i + 1 or (i == 0 and j == last):
                    _add_even(add, pos[i], pos[j], lmax, typical)
                break
            if span >= lmin:
                method = METHOD_SINGLE if (i == 0 and j == last) else METHOD_GAP
                add(pos[i][0], pos[j][0], method, pos[i][1], pos[j][1])
    for seg in chosen:
        if seg.n_cars > 1:
            _add_even(add, (seg.start, 0.0), (seg.end, 0.0), lmax, typical, seg.n_cars)
    return _unique(out, SAME_HYPOTHESIS_M / gsd_m)


def _add_even(add, a, b, lmax_px, typical_px, k=None) -> None:
    span = b[0] - a[0]
    if k is None:
        k = cars_by_typical_length(span, lmax_px, typical_px)
    step = span / k
    for n in range(k):
        s0 = a[1] if n == 0 else 0.0
        s1 = b[1] if n == k - 1 else 0.0
        add(a[0] + n * step, a[0] + (n + 1) * step, METHOD_LENGTH, s0, s1)


def _unique(hyps: List[Hypothesis], tol_px: float) -> List[Hypothesis]:
    out: List[Hypothesis] = []
    for h in sorted(hyps, key=lambda h: (h.start, h.end, h.method != METHOD_GAP)):
        if any(abs(h.start - o.start) <= tol_px and abs(h.end - o.end) <= tol_px for o in out[-8:]):
            continue
        out.append(h)
    return out


def choose(intervals: Sequence[Tuple[float, float]], weights: Sequence[float], overlap_px: float) -> List[int]:
    """Indices of non-overlapping intervals (neighbours may share ``overlap_px``)
    with the greatest total weight; intervals of weight <= 0 are never chosen."""
    items = sorted((e, s, w, i) for i, ((s, e), w) in enumerate(zip(intervals, weights)) if w > 0)
    ends = [it[0] for it in items]
    best = [0.0] * (len(items) + 1)
    take = [False] * (len(items) + 1)
    prev = [0] * (len(items) + 1)
    for k, (e, s, w, _) in enumerate(items, start=1):
        p = bisect.bisect_right(ends, s + overlap_px, 0, k - 1)  # items ending before this one starts
        prev[k] = p
        with_it = best[p] + w
        if with_it > best[k - 1]:
            best[k], take[k] = with_it, True
        else:
            best[k] = best[k - 1]
    chosen: List[int] = []
    k = len(items)
    while k > 0:
        if take[k]:
            chosen.append(items[k - 1][3])
            k = prev[k]
        else:
            k -= 1
    return sorted(chosen)
