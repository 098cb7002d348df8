"""Railcars from the frame network's maps: peaks of the heat, measured by the other heads.

Every cell whose heat is the highest within PEAK_RADIUS_ALONG_M along the
track and PEAK_RADIUS_ACROSS_M across it, and at least the confidence floor,
is one car: coupled cars are 10 m or more apart centre to centre,
neighbouring tracks 4 m.
The car's centre, length, turn, width and kind are read from the same cell;
its confidence is the heat there. Which cars are coupled is decided later,
over the whole raster's final cars (``coupling.py``).
"""

from __future__ import annotations

import math
from typing import List, Tuple

import cv2
import numpy as np

from .calibration import sigmoid
from .describe import kind_from_logits
from .frame import RotatedFrame
from .frame_net import (HEAD, KIND_NAMES, LENGTH_REF_M, NET_GSD_M, STRIDE_COLS, STRIDE_ROWS, TURN_SCALE_RAD,
                        WIDTH_REF_M)
from .model import METHOD_SINGLE, DetectionParams, Railcar

PEAK_RADIUS_ALONG_M = 8.0  # less than the shortest car (10 m): two centres cannot be closer along one track
PEAK_RADIUS_ACROSS_M = 3.0  # less than the closest tracks (4 m)
MAX_LOG_LENGTH = 3.0  # e^3 x 15 m: far beyond any car, so a wild output cannot overflow
LENGTH_TOLERANCE_M = 3.0  # a car measured this far outside the user's length range is still reported (clipped)
_I = {name: i for i, name in enumerate(HEAD)}


def peak_cells(heat: np.ndarray, floor: float) -> np.ndarray:
    """(n, 2) row, col of the heat's peaks at or above ``floor``: no peak has a
    higher one (or an equal one earlier in row order) within the peak radii."""
    r_along = int(PEAK_RADIUS_ALONG_M / (NET_GSD_M * STRIDE_COLS) + 1e-9)
    r_across = int(PEAK_RADIUS_ACROSS_M / (NET_GSD_M * STRIDE_ROWS) + 1e-9)
    heat = np.where(np.isfinite(heat), heat, -np.inf).astype(np.float32)
    local_max = cv2.dilate(heat, np.ones((2 * r_across + 1, 2 * r_along + 1), np.uint8))
    candidates = np.argwhere((heat >= local_max) & (heat >= floor))
    if len(candidates) < 2:
        return candidates
    # Equal neighbours all pass the dilation test (heat saturates at 1.0):
    # the first in row order stands for them.
    kept: List[np.ndarray] = []
    for cell in candidates:
        if not any(abs(cell[0] - k[0]) <= r_across and abs(cell[1] - k[1]) <= r_along for k in kept):
            kept.append(cell)
    return np.array(kept)


def cars_in_frame(maps: np.ndarray, frame: RotatedFrame, scale: Tuple[float, float],
                  params: DetectionParams) -> List[Railcar]:
    """The cars the maps (``len(HEAD)``, rows, cols) of ``frame`` hold, in tile
    pixels (``scale``: working px per tile px along columns and rows), not
    yet in strings."""
    heat = sigmoid(maps[_I["heat"]].astype(np.float64))
    found = []
    for r, c in peak_cells(heat, params.confidence_floor):
        if not np.all(np.isfinite(maps[:, r, c])):
            continue
        x = (c + 0.5 + float(maps[_I["dx"], r, c])) * STRIDE_COLS
        y = (r + 0.5 + float(maps[_I["dy"], r, c])) * STRIDE_ROWS
        yi, xi = math.floor(y), math.floor(x)
        if not (0 <= yi < frame.valid.shape[0] and 0 <= xi < frame.valid.shape[1] and frame.valid[yi, xi]):
            continue
        length_m = LENGTH_REF_M * math.exp(min(float(maps[_I["log_length"], r, c]), MAX_LOG_LENGTH))
        shown_length = _within(length_m, params.car_length_m, LENGTH_TOLERANCE_M)
        if shown_length is None:
            continue
        width_m = float(np.clip(WIDTH_REF_M + maps[_I["width"], r, c], *params.car_width_m))
        turn = float(maps[_I["turn"], r, c]) * TURN_SCALE_RAD
        kind = kind_from_logits(maps[len(HEAD) - len(KIND_NAMES):, r, c], KIND_NAMES)
        found.append(_railcar(frame, scale, x, y, shown_length, width_m, turn, kind, float(heat[r, c])))
    return found


def _within(value: float, bounds: Tuple[float, float], tolerance: float):
    lo, hi = bounds
    if value < lo - tolerance or value > hi + tolerance:
        return None
    return float(min(max(value, lo), hi))


def _railcar(frame, scale, x, y, length_m, width_m, turn, kind, conf) -> Railcar:
    ux = np.array([math.cos(turn), math.sin(turn)])
    uy = np.array([-ux[1], ux[0]])
    hl, hw = 0.5 * length_m / NET_GSD_M, 0.5 * width_m / NET_GSD_M
    centre = np.array([x, y])
    corners = [centre - hl * ux - hw * uy, centre + hl * ux - hw * uy, centre + hl * ux + hw * uy, centre - hl * ux + hw * uy]
    pts = frame.points_to_tile(np.vstack([centre] + corners))
    pts[:, 0] /= scale[0]
    pts[:, 1] /= scale[1]
    heading = (90.0 + frame.direction_deg + math.degrees(turn)) % 180.0
    return Railcar(col_px=float(pts[0, 0]), row_px=float(pts[0, 1]),
                   corners_px=tuple((float(a), float(b)) for a, b in pts[1:]), length_m=length_m, width_m=width_m,
                   heading_deg=float(heading), confidence=conf, kind=kind, method=METHOD_SINGLE)
