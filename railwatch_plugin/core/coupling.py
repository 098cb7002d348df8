"""Strings of coupled cars, among the cars a user is shown.

Cars that stand end to end on one track form a string (a train, or a cut of
cars left on a siding). The strings are formed once, over the whole
raster's final cars at or above the confidence threshold, so that a string
crossing a tile seam keeps one number, and a car whose only neighbour was
dropped as a duplicate or as too unlikely is not called coupled.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from .model import METHOD_GAP, METHOD_SINGLE, Railcar

COUPLER_GAP_M = 2.0  # the widest gap between the bodies of two coupled cars
# Found lengths and centres err by a share of the car's length (p90 about 1 m
# on 14 m, 1-2 m on 24 m cars), so the gap between two found cars may look
# wider than it is by that much: two long cars with a fixed 3 m allowance
# came out uncoupled at 3.4-4.3 m while no separate cut stood closer than 6 m.
LENGTH_SLACK = 0.1  # of the two cars' mean length, on top of COUPLER_GAP_M
SAME_LINE_M = 1.5  # across-track offset of two cars on one track, at most (tracks are 4 m apart or more)
SAME_HEADING_DEG = 5.0
NOT_COUNTED = -1  # the string id of a car below the confidence threshold
_CELL_M = 40.0  # neighbours are looked for in this grid: longer than two cars and a gap


def with_strings(cars: List[Railcar], gsd_m: Tuple[float, float], min_confidence: float) -> List[Railcar]:
    """``cars`` (in raster pixels of ``gsd_m``), each with its string: ``string_id``
    0, 1, 2, ... in the order the cars come, ``method`` single or gap. Cars
    below ``min_confidence`` get NOT_COUNTED and single."""
    shown = [i for i, c in enumerate(cars) if c.confidence >= min_confidence]
    parent = {i: i for i in shown}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in coupled_pairs(cars, gsd_m, shown):
        parent[root(i)] = root(j)
    numbers: Dict[int, int] = {}
    sizes: Dict[int, int] = defaultdict(int)
    for i in shown:
        sizes[root(i)] += 1
    out = []
    for i, car in enumerate(cars):
        if i not in parent:
            out.append(replace(car, string_id=NOT_COUNTED, method=METHOD_SINGLE))
            continue
        r = root(i)
        out.append(replace(car, string_id=numbers.setdefault(r, len(numbers)),
                           method=METHOD_SINGLE if sizes[r] == 1 else METHOD_GAP))
    return out


def coupled_pairs(cars: Sequence[Railcar], gsd_m: Tuple[float, float],
                  among: Iterable[int]) -> Iterator[Tuple[int, int, float]]:
    """Every pair (i, j, gap), i < j, of the cars with indices ``among`` that stand end
    to end on one line, with the gap in metres between their facing ends (``end_gap_m``)."""
    gx, gy = gsd_m
    grid: Dict[Tuple[int, int], List[int]] = defaultdict(list)
    for i in among:
        grid[(int(cars[i].col_px * gx // _CELL_M), int(cars[i].row_px * gy // _CELL_M))].append(i)
    for (cx, cy), members in grid.items():
        near = [j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in grid.get((cx + dx, cy + dy), ())]
        for i in members:
            for j in near:
                if j > i:
                    gap = _coupled_gap_m(cars[i], cars[j], gx, gy)
                    if gap is not None:
                        yield i, j, gap


def _coupled_gap_m(a: Railcar, b: Railcar, gx: float, gy: float) -> Optional[float]:
    """The gap between ``a``'s and ``b``'s facing ends when they are coupled, else None."""
    gap = end_gap_m(a, b, gx, gy)
    return gap if gap is not None and gap < coupled_gap_m(a.length_m, b.length_m) else None


def end_gap_m(a: Railcar, b: Railcar, gx: float, gy: float) -> Optional[float]:
    """The gap in metres between the facing ends of ``a`` and ``b`` (negative where
    they overlap) when they stand on one line, about the same heading and at most
    SAME_LINE_M apart across it; else None."""
    turn = abs(a.heading_deg - b.heading_deg) % 180.0
    if min(turn, 180.0 - turn) > SAME_HEADING_DEG:
        return None
    h = math.radians(a.heading_deg)
    dx, dy = (b.col_px - a.col_px) * gx, (b.row_px - a.row_px) * gy  # metres, x right, y down
    along = dx * math.sin(h) - dy * math.cos(h)
    across = dx * math.cos(h) + dy * math.sin(h)
    if abs(across) > SAME_LINE_M:
        return None
    return abs(along) - 0.5 * (a.length_m + b.length_m)


def coupled_gap_m(length_a_m: float, length_b_m: float) -> float:
    """The widest gap between two found cars' ends at which they count as coupled:
    3.4 m for two 14 m cars, 4.4 m for two 24 m ones."""
    return COUPLER_GAP_M + LENGTH_SLACK * 0.5 * (length_a_m + length_b_m)
