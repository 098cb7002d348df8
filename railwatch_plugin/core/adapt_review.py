"""What an analyst's review says: reviewed cars and scenes, and bare points made whole.

A car added as a bare point (no length or heading) still teaches where a
car is; ``completed`` gives it the site's usual length and its track's
direction, read from the image around it, so that it can become a target.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

import numpy as np

from .orientation import ANALYSIS_GSD_M, dominant_directions
from .prepare import coarse_look

POSITIVE, NEGATIVE, IGNORE = "positive", "negative", "ignore"
USUAL_LENGTH_M = 15.0  # a bare point's length when the site's reviewed cars give none
USUAL_WIDTH_M = 3.0
LOCAL_WINDOW_M = 80.0  # a bare point's track direction is read in a window this wide


@dataclass
class ReviewedCar:
    col_px: float  # continuous raster pixels, pixel centre at +0.5
    row_px: float
    status: str  # POSITIVE, NEGATIVE or IGNORE
    length_m: Optional[float] = None
    heading_deg: Optional[float] = None  # clockwise from image up, 0-180
    width_m: Optional[float] = None

    @property
    def bare(self) -> bool:
        return not self.length_m or self.heading_deg is None


@dataclass
class ReviewedScene:
    name: str
    image: np.ndarray  # (rows, cols, bands) as the detector reads it
    gsd_m: Tuple[float, float]
    cars: List[ReviewedCar]
    valid: Optional[np.ndarray] = None


def local_track_heading(image: np.ndarray, valid: Optional[np.ndarray], gsd: Tuple[float, float],
                        col: float, row: float) -> Optional[float]:
    """Heading (clockwise from up, 0-180) of the strongest line direction in a window around (col, row)."""
    half_c, half_r = int(LOCAL_WINDOW_M / 2 / gsd[0]), int(LOCAL_WINDOW_M / 2 / gsd[1])
    c0, r0 = max(0, int(col) - half_c), max(0, int(row) - half_r)
    c1, r1 = min(image.shape[1], int(col) + half_c), min(image.shape[0], int(row) + half_r)
    if c1 - c0 < 8 or r1 - r0 < 8:
        return None
    window_valid = None if valid is None else valid[r0:r1, c0:c1]
    lum, lum_valid, g = coarse_look(image[r0:r1, c0:c1], window_valid, gsd, ANALYSIS_GSD_M)
    directions = dominant_directions(lum, g, lum_valid)
    return (directions[0] + 90.0) % 180.0 if directions else None


def completed(scene: ReviewedScene) -> ReviewedScene:
    """The scene with every bare car given the site's usual length and its local track's heading;
    a bare car whose track direction cannot be read is not asked for (IGNORE)."""
    lengths = [c.length_m for c in scene.cars if c.status == POSITIVE and not c.bare]
    usual = float(np.median(lengths)) if lengths else USUAL_LENGTH_M
    cars = []
    for car in scene.cars:
        if car.bare:
            heading = car.heading_deg
            if heading is None:
                heading = local_track_heading(scene.image, scene.valid, scene.gsd_m, car.col_px, car.row_px)
            if heading is None:
                cars.append(replace(car, status=IGNORE, length_m=car.length_m or usual, heading_deg=0.0))
                continue
            car = _Bare(car.col_px, car.row_px, car.status, car.length_m or usual, heading, car.width_m)
        cars.append(car)
    return replace(scene, cars=cars)


@dataclass
class _Bare(ReviewedCar):
    """A car added as a point, completed with assumed length and heading: it asks for the heat only."""

    @property
    def bare(self) -> bool:
        return True
