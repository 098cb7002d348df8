"""Measurements across and along a string in the rotated frame: the mean
cross-section of a car (for its width and kind) and whether the track runs on
past a string (cars stand on tracks; a lorry or a shed does not)."""

from __future__ import annotations

import numpy as np

from .quick_stats import median


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
    return lines / max(float(median(lines.ravel())), 1e-3)


def track_evidence(lines: np.ndarray, row_at, col_start: float, col_end: float, g: float):
    """(beyond, here): the strongest line response within 1 m of the string's
    centre line, TRACK_LOOK_M past its ends (best end), and along it."""
    reach = max(1, int(round(1.0 / g)))
    look = TRACK_LOOK_M / g

    def at(col):
        c = int(min(max(round(col), 0), lines.shape[1] - 1))
        r = int(round(float(row_at(c + 0.5))))
        r0, r1 = max(0, r - reach), min(lines.shape[0], r + reach + 1)
        return float(lines[r0:r1, c].max()) if r1 > r0 else 0.0

    beyond = max(at(col_start - look), at(col_end + look))
    here = at(0.5 * (col_start + col_end))
    return beyond, here
