"""Match detections to ground truth the way the accuracy benchmark defines it.

A detection matches a true car when its centre lies within 40 % of that car's
length of the car's centre; matching is one to one, closest pairs first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MATCH_FRACTION_OF_LENGTH = 0.4


@dataclass
class Score:
    tp: int
    fp: int
    fn: int
    n_true: int
    n_found: int

    @property
    def precision(self) -> float:
        return self.tp / self.n_found if self.n_found else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_true if self.n_true else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: "Score") -> "Score":
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn,
                     self.n_true + other.n_true, self.n_found + other.n_found)


def match(found: Sequence, truth: Sequence, gsd_m: float):
    """Return (score, matched pairs [(i_found, i_true)]). Items need col_px,
    row_px; truth items also length_m."""
    if not found or not truth:
        return Score(0, len(found), len(truth), len(truth), len(found)), []
    f = np.array([[c.col_px, c.row_px] for c in found])
    t = np.array([[c.col_px, c.row_px] for c in truth])
    reach_px = np.array([MATCH_FRACTION_OF_LENGTH * c.length_m / gsd_m for c in truth])
    d = np.hypot(f[:, None, 0] - t[None, :, 0], f[:, None, 1] - t[None, :, 1])
    ok = d <= reach_px[None, :]
    pairs = []
    used_f, used_t = set(), set()
    for i, j in sorted(zip(*np.nonzero(ok)), key=lambda ij: d[ij]):
        if i in used_f or j in used_t:
            continue
        used_f.add(i)
        used_t.add(j)
        pairs.append((int(i), int(j)))
    tp = len(pairs)
    return Score(tp, len(found) - tp, len(truth) - tp, len(truth), len(found)), pairs
