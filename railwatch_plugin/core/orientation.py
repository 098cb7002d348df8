"""Dominant line directions in a tile: the directions of its tracks.

Rails, ballast edges and car sides are long straight parallel lines, so a yard
shows up as a sharp peak in the histogram of edge directions. The detector
then looks for cars only along those few directions instead of all of them.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import cv2
import numpy as np

from .direction_bins import direction_bins
from .quick_stats import high_percentile

BIN_DEG = 1.0
ANALYSIS_GSD_M = 1.0  # edges of car-sized things survive at 1 m; noise does not


def coarse_luminance(lum: np.ndarray, gsd_m: float, target_gsd_m: float = ANALYSIS_GSD_M) -> Tuple[np.ndarray, float]:
    """``lum`` area-averaged to ``target_gsd_m`` (never made finer) and its GSD.

    Tiles come here already at 1 m (``prepare.coarse_look``); a finer
    luminance given to this module or ``prescreen`` is brought to 1 m first."""
    factor = min(1.0, gsd_m / target_gsd_m)
    small = cv2.resize(lum, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else lum
    return small, gsd_m / factor


def dominant_directions(
    lum: np.ndarray,
    gsd_m: float,
    valid: Optional[np.ndarray] = None,
    max_directions: int = 2,
    min_relative_peak: float = 0.35,
) -> List[float]:
    """Line directions in degrees, 0-180, measured from the +column axis towards
    +row (clockwise on screen), strongest first."""
    small, _ = coarse_luminance(lum, gsd_m)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    mag = cv2.magnitude(gx, gy)
    if valid is not None:
        v = cv2.resize(valid.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
        v = cv2.erode(v, np.ones((5, 5), np.uint8)).astype(bool)
        mag = np.where(v, mag, 0)
    # Clip the strongest edges so one bright building cannot outvote a yard.
    cap = high_percentile(mag, 99)
    if cap <= 0:
        return []
    weight = np.minimum(mag, cap)
    # Line direction is perpendicular to the gradient (direction_bins.line_angle_deg).
    nbins = int(180 / BIN_DEG)
    hist = np.bincount(direction_bins(gx, gy, BIN_DEG), weights=weight.ravel(), minlength=nbins)
    # Circular smoothing over +-3 degrees.
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    padded = np.concatenate([hist[-6:], hist, hist[:6]])
    smooth = np.convolve(padded, kernel, mode="same")[6:-6]
    baseline = float(np.median(smooth))
    peaks = []
    order = np.argsort(smooth)[::-1]
    top = smooth[order[0]] - baseline
    if top <= 0:
        return []
    for i in order:
        strength = smooth[i] - baseline
        if strength < min_relative_peak * top:
            break
        if smooth[i] < smooth[(i - 1) % nbins] or smooth[i] < smooth[(i + 1) % nbins]:
            continue
        angle = (i + 0.5) * BIN_DEG
        if all(axial_gap_deg(angle, p) > 12 for p in peaks):
            peaks.append(angle)
        if len(peaks) >= max_directions:
            break
    # Refine each peak to sub-bin precision by a weighted mean over +-2 bins.
    refined = []
    for p in peaks:
        i = int(p / BIN_DEG)
        idx = [(i + k) % nbins for k in range(-2, 3)]
        w = smooth[idx] - baseline
        offs = np.arange(-2, 3) * BIN_DEG
        refined.append(float((p + (w * offs).sum() / max(w.sum(), 1e-9)) % 180.0))
    return refined


def axial_gap_deg(a_deg: float, b_deg: float) -> float:
    """The angle between two track directions in [0, 180) degrees: a track
    has no front, so 1 and 179 degrees are 2 apart."""
    return min(abs(a_deg - b_deg), 180 - abs(a_deg - b_deg))


def with_direction(directions, extra_deg: float, within_deg: float = 3.0) -> list:
    """``directions`` as a list, with ``extra_deg`` added unless one of them is
    within ``within_deg`` of it (a known track direction the image analysis missed)."""
    out = list(directions)
    if not any(axial_gap_deg(d, extra_deg) < within_deg for d in out):
        out.append(extra_deg)
    return out
