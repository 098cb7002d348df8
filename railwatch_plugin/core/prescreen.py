"""A cheap look at 1 m per pixel: could this tile hold a car along this direction?

Most of a large raster is countryside. The full search (bands at three car
widths at the working GSD, strings, hypotheses, the scorer) costs far more
than reading the pixels, so each track direction is first checked coarsely:
is there a band about a car's width that stands out from both sides for at
least a short car's length? Fields, roads and their edges do not (an edge
differs on one side only, a road is wider than a car), so they are skipped;
the check is deliberately loose, because a car it misses is lost for good.
"""

from __future__ import annotations

import cv2
import numpy as np

from .orientation import ANALYSIS_GSD_M

SCREEN_GSD_M = ANALYSIS_GSD_M  # one coarse luminance serves orientation and this screen (tile_detector)
BAND_HALF_PX = 1  # 3 m band at 1 m per pixel
SIDE_PX = 2  # 2 m of ground either side
ALONG_M = 6.0
MIN_RUN_M = 7.0  # shorter than any car, longer than a lorry cab or a shed's edge
# 0-255 scale. Measured (bench/out, 2026-11-23): the strongest run in 37
# countryside windows of the speed raster was 17; in 60 hard yards at 0.3 and
# 0.7 m the weakest tile maximum was 39, and 160 m tiles of 16 hard yards lost
# no car at 20 against 5.
MIN_CONTRAST = 20.0


def may_hold_cars(lum: np.ndarray, valid: np.ndarray, gsd_m: float, direction_deg: float) -> bool:
    """``lum``: luminance at ``gsd_m``; ``direction_deg`` as found by
    ``orientation.dominant_directions`` (from +col towards +row)."""
    factor = min(1.0, gsd_m / SCREEN_GSD_M)
    small = cv2.resize(lum, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else lum
    if valid.all():  # most tiles: nothing to resample
        ok = np.ones(small.shape, np.uint8)
    else:
        ok = cv2.resize(valid.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    rows, cols = small.shape
    rot = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), direction_deg, 1.0)
    small = cv2.warpAffine(small, rot, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    ok = cv2.warpAffine(ok, rot, (cols, rows), flags=cv2.INTER_NEAREST, borderValue=0)
    g = gsd_m / factor
    response = band_contrast(small, max(1, int(round(ALONG_M / g))))
    hits = ((response >= MIN_CONTRAST) & (ok > 0)).astype(np.uint8)
    run = max(1, int(round(MIN_RUN_M / g)))
    return bool(cv2.erode(hits, np.ones((1, run), np.uint8)).any())


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
