"""A cheap look at 1 m per pixel: could this tile hold a car along this direction?

Most of a large raster is countryside. The full search (the frame network
over the rotated tile) costs far more than reading the pixels, so each track
direction is first checked coarsely:
is there a band about a car's width that stands out from both sides for at
least a short car's length? Fields, roads and their edges do not (an edge
differs on one side only, a road is wider than a car), so they are skipped;
the check is deliberately loose, because a car it misses is lost for good.
"""

from __future__ import annotations

import cv2
import numpy as np

from .orientation import ANALYSIS_GSD_M, coarse_luminance

SCREEN_GSD_M = ANALYSIS_GSD_M  # one coarse luminance serves orientation and this screen (net_detector)
BAND_HALF_PX = 1  # 3 m band at 1 m per pixel
SIDE_PX = 2  # 2 m of ground either side
ALONG_M = 6.0
MIN_RUN_M = 7.0  # shorter than any car, longer than a lorry cab or a shed's edge
# 0-255 scale. Measured (bench/out, 2026-11-23): the strongest run in 37
# countryside windows of the speed raster was 17; in 60 hard yards at 0.3 and
# 0.7 m the weakest tile maximum was 39, and 160 m tiles of 16 hard yards lost
# no car at 20 against 5. Behind this gate the frame network finds 99 % of the
# benchmark's cars (README).
MIN_CONTRAST = 20.0


def may_hold_cars(lum: np.ndarray, valid: np.ndarray, gsd_m: float, direction_deg: float) -> bool:
    """``lum``: luminance at ``gsd_m``; ``direction_deg`` as found by
    ``orientation.dominant_directions`` (from +col towards +row)."""
    small, g = coarse_luminance(lum, gsd_m, SCREEN_GSD_M)
    rows, cols = small.shape
    rot = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), direction_deg, 1.0)
    if valid.all():
        # Most tiles: the valid part of the turned tile is the turned
        # rectangle, drawn instead of warped (a third of this check's time).
        ok = np.zeros((rows, cols), np.uint8)
        corners = np.array([[0, 0], [cols - 1, 0], [cols - 1, rows - 1], [0, rows - 1]], np.float64)
        cv2.fillConvexPoly(ok, np.round(corners @ rot[:, :2].T + rot[:, 2]).astype(np.int32), 1)
    else:
        ok = cv2.resize(valid.astype(np.uint8), (cols, rows), interpolation=cv2.INTER_NEAREST)
        ok = cv2.warpAffine(ok, rot, (cols, rows), flags=cv2.INTER_NEAREST, borderValue=0)
    small = cv2.warpAffine(small, rot, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return bool(band_runs(small, ok, g, MIN_CONTRAST).any())


def band_runs(small: np.ndarray, ok: np.ndarray, g: float, min_contrast: float) -> np.ndarray:
    """uint8 map of ``small`` (luminance at ``g`` m, tracks along its rows):
    1 where a band standing out by ``min_contrast`` from both sides runs on
    for MIN_RUN_M, on pixels that are ``ok``."""
    response = band_contrast(small, max(1, int(round(ALONG_M / g))))
    hits = ((response >= min_contrast) & (ok > 0)).astype(np.uint8)
    return cv2.erode(hits, np.ones((1, max(1, int(round(MIN_RUN_M / g)))), np.uint8))


def band_contrast(small: np.ndarray, along_px: int) -> np.ndarray:
    """Per pixel of the rotated coarse luminance: how much a 3 px band centred
    there differs from the strips above and below it (the smaller of the two).

    |a - b| and the minimum are OpenCV's: the same values as numpy's abs,
    minus and minimum, without four temporary images (0.45 of 7 ms a call)."""
    mean = cv2.blur(small, (along_px, 2 * BAND_HALF_PX + 1), borderType=cv2.BORDER_REPLICATE)
    side = cv2.blur(small, (along_px, SIDE_PX), borderType=cv2.BORDER_REPLICATE)
    shift = BAND_HALF_PX + 1 + SIDE_PX // 2
    above = np.roll(side, shift, axis=0)
    below = np.roll(side, -shift, axis=0)
    return cv2.min(cv2.absdiff(mean, above), cv2.absdiff(mean, below))


ROWS_PAD_M = 10.0  # context kept either side of a row with a band: the network sees 10 m across
ROWS_MIN_CONTRAST = 12.0  # 0-255 scale: see rows_with_bands


def rows_with_bands(lum: np.ndarray, valid: np.ndarray, gsd_m: float, pad_m: float = ROWS_PAD_M,
                    min_contrast: float = ROWS_MIN_CONTRAST) -> np.ndarray:
    """(rows,) bool for a frame whose tracks run along its rows (``frame.py``):
    the rows within ``pad_m`` of a car-like band, the test of ``may_hold_cars``
    row by row but looser (``min_contrast``). The frame network need not look
    elsewhere. On 36 hard benchmark yards (seeds 1000-1011 at 0.3, 0.5 and
    0.7 m) these rows held every one of 1,644 cars and 75 % of the frames'
    valid pixels (54 % at the tile test's contrast of 20, which still held
    them all there but lost 10 of 330 found cars on the speed raster). On
    that raster the network then looks at 23 MP instead of 69 MP and finds
    the same cars."""
    small, g = coarse_luminance(lum, gsd_m, SCREEN_GSD_M)
    ok = cv2.resize(valid.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    coarse_rows = band_runs(small, ok, g, min_contrast).any(axis=1).astype(np.uint8)
    pad = int(round(pad_m / g))
    coarse_rows = cv2.dilate(coarse_rows[:, None], np.ones((2 * pad + 1, 1), np.uint8))[:, 0] > 0
    # Back to the frame's rows: each frame row takes the coarse row it falls in.
    factor = min(1.0, gsd_m / SCREEN_GSD_M)  # coarse rows per frame row, as coarse_luminance made them
    index = np.minimum((np.arange(lum.shape[0]) * factor).astype(int), len(coarse_rows) - 1)
    return coarse_rows[index]
