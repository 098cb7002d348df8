"""Measurable cues of one car candidate, all in metres or contrast-relative
units so that they mean the same at any GSD and brightness.

These are what an analyst looks at: is the band's inside uniform, are both long
edges sharp, is it the width of a railcar, does it sit in a string of similar
things, does the track show through (two thin rails), is there a shadow beside
it, does the band stop where the car stops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CROSS_HALF_M = 6.0  # wide cross-section: car, shadow and neighbouring tracks
CROSS_STEP_M = 0.75
CUE_NAMES = (
    ["contrast", "contrast_log", "d_min", "d_max", "tone", "abs_tone", "width_m", "length_m", "along_var",
     "along_texture", "rails", "edge_top", "edge_bottom", "interior_flat", "chroma", "chroma_diff",
     "in_string", "string_length_m", "is_end", "method_length", "method_single", "neighbours",
     "end_drop", "boundary_start", "boundary_end", "string_strength", "lum"]
    + [f"cross_{i}" for i in range(int(2 * CROSS_HALF_M / CROSS_STEP_M) + 1)]
)


@dataclass
class Candidate:
    """Geometry of one candidate in the rotated frame (columns along the track)."""

    col_start: float
    col_end: float
    row_centre: float  # at the middle column
    width_m: float
    cues: np.ndarray


def cross_section(image: np.ndarray, row_at, col_start: float, col_end: float, g: float, half_m: float, step_m: float):
    """Mean colour across the track (rows) over the middle half of [col_start, col_end)."""
    q0 = int(col_start + 0.25 * (col_end - col_start))
    q1 = max(q0 + 1, int(col_end - 0.25 * (col_end - col_start)))
    cols = np.arange(max(q0, 0), max(min(q1, image.shape[1]), max(q0, 0) + 1))
    cols = cols[cols < image.shape[1]]
    offs = np.arange(-half_m, half_m + 1e-6, step_m) / g
    if len(cols) == 0:
        return np.zeros((len(offs), image.shape[2]), np.float32)
    rows = row_at(cols + 0.5)[None, :] + offs[:, None]
    r0 = np.clip(np.floor(rows).astype(int), 0, image.shape[0] - 2)
    t = np.clip(rows - r0, 0.0, 1.0)[:, :, None]
    a = image[r0, cols[None, :]]
    b = image[r0 + 1, cols[None, :]]
    return ((1 - t) * a + t * b).mean(axis=1)
