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
     "end_drop", "boundary_start", "boundary_end", "string_strength", "lum", "track_beyond", "track_here"]
    + [f"cross_{i}" for i in range(int(2 * CROSS_HALF_M / CROSS_STEP_M) + 1)]
    + [f"cross_rg_{i}" for i in range(int(2 * CROSS_HALF_M / CROSS_STEP_M) + 1)]
    + [f"cross_yb_{i}" for i in range(int(2 * CROSS_HALF_M / CROSS_STEP_M) + 1)]
    + [f"along_{i}" for i in range(12)]
)
ALONG_SAMPLES = 12  # band contrast from 3 m before the car to 3 m after it


def along_contrast(contrast: np.ndarray, i_start: float, i_end: float, g: float) -> np.ndarray:
    """Band contrast at ALONG_SAMPLES points from 3 m before to 3 m after the car:
    a car stands out along its whole length and stops at both ends."""
    pos = np.linspace(i_start - 3.0 / g, i_end + 3.0 / g, ALONG_SAMPLES)
    idx = np.clip(np.round(pos).astype(int), 0, len(contrast) - 1)
    return contrast[idx]


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


TRACK_SMOOTH_M = 20.0  # rails are straight for tens of metres; clutter is not
TRACK_LOOK_M = 12.0  # how far past a string's ends to look for the track


def track_line_map(lum: np.ndarray, g: float) -> np.ndarray:
    """Long straight thin lines along the columns (rails, in the rotated frame),
    relative to the frame's typical value: about 1 on ordinary ground."""
    import cv2

    lines = np.abs(cv2.Sobel(lum, cv2.CV_32F, 0, 2, ksize=3))
    lines = cv2.blur(lines, (max(3, int(round(TRACK_SMOOTH_M / g))), 1))
    return lines / max(float(np.median(lines)), 1e-3)


def track_evidence(lines: np.ndarray, row_at, col_start: float, col_end: float, g: float):
    """(beyond, here): the strongest line response within 1 m of the string's
    centre line, TRACK_LOOK_M past its ends (best end), and along it."""
    reach = max(1, int(round(1.0 / g)))
    look = TRACK_LOOK_M / g

    def at(col):
        c = int(np.clip(round(col), 0, lines.shape[1] - 1))
        r = int(round(float(row_at(c + 0.5))))
        r0, r1 = max(0, r - reach), min(lines.shape[0], r + reach + 1)
        return float(lines[r0:r1, c].max()) if r1 > r0 else 0.0

    beyond = max(at(col_start - look), at(col_end + look))
    here = at(0.5 * (col_start + col_end))
    return beyond, here
