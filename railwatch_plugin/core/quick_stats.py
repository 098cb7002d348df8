"""np.median's results without its per-call cost.

A yard tile takes some 1,700 medians of short 1-D arrays (a string's
contrast, its response along the ridge); np.median spends about 90 us on
each in argument handling, where sorting 150 values takes 5 us. These give
the same value and type as np.median, NaN included.
"""

from __future__ import annotations

import numpy as np

SORT_BELOW = 512  # a full sort beats partitioning for arrays shorter than this


def median(values):
    """np.median(values) for a 1-D float array; anything else goes to np.median."""
    a = np.asarray(values)
    if a.ndim != 1 or a.dtype.kind != "f" or a.size == 0:
        return np.median(a)
    n = a.size
    half = n // 2
    if n < SORT_BELOW:
        ordered = np.sort(a)
    else:
        ordered = np.partition(a, [max(half - 1, 0), half, n - 1])
    if np.isnan(ordered[-1]):  # NaN sorts last; np.median returns NaN then
        return a.dtype.type(np.nan)
    if n % 2:
        return ordered[half]
    return a.dtype.type((ordered[half - 1] + ordered[half]) / 2)

