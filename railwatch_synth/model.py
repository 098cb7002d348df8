"""What a synthetic scene is: the picture plus the truth it was drawn from.

Pixel coordinates follow GDAL: ``(col, row)`` continuous, ``(0, 0)`` is the
top-left corner of the top-left pixel, a pixel's centre is ``(c + 0.5, r + 0.5)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

CAR_KINDS = ("box", "tank", "hopper/gondola", "flat/container", "covered")


@dataclass(frozen=True)
class TrueCar:
    """One railcar as drawn: footprint of the body, in full-image pixels."""

    col_px: float
    row_px: float
    corners_px: Tuple[Tuple[float, float], ...]  # 4 (col, row), in order round the body
    length_m: float
    width_m: float
    heading_deg: float  # 0-180, clockwise from image up
    kind: str  # one of CAR_KINDS
    string_id: int  # cars coupled in one string share this id


@dataclass
class YardScene:
    """A rendered scene and its ground truth.

    ``valid`` is False where the sensor recorded nothing (a nodata wedge); cars
    whose centre falls there are not in ``cars``. ``distractors`` are look-alikes
    off the tracks (containers, lorries, sheds, ...) a detector must not count.
    """

    image: np.ndarray  # (rows, cols, bands)
    gsd_m: float
    cars: List[TrueCar]
    track_lines_px: List[np.ndarray]  # (N, 2) (col, row) track centre lines
    distractors: List[dict] = field(default_factory=list)  # dict(kind=..., corners_px=...)
    valid: Optional[np.ndarray] = None  # (rows, cols) bool, or None when all valid
    meta: dict = field(default_factory=dict)

    @property
    def height_px(self) -> int:
        return int(self.image.shape[0])

    @property
    def width_px(self) -> int:
        return int(self.image.shape[1])

    def crop(self, col0: int, row0: int, cols: int, rows: int) -> "YardScene":
        """A window of the scene; keeps cars whose whole body is inside it."""
        from dataclasses import replace as _replace

        def inside(corners):
            return all(0 <= x - col0 <= cols and 0 <= y - row0 <= rows for x, y in corners)

        def shift(c):
            return _replace(c, col_px=c.col_px - col0, row_px=c.row_px - row0,
                            corners_px=tuple((x - col0, y - row0) for x, y in c.corners_px))

        cars = [shift(c) for c in self.cars if inside(c.corners_px)]
        distractors = [
            dict(d, corners_px=tuple((x - col0, y - row0) for x, y in d["corners_px"]))
            for d in self.distractors
            if inside([tuple(np.mean(d["corners_px"], axis=0))])
        ]
        return YardScene(
            image=self.image[row0 : row0 + rows, col0 : col0 + cols].copy(),
            gsd_m=self.gsd_m,
            cars=cars,
            track_lines_px=[t - [col0, row0] for t in self.track_lines_px],
            distractors=distractors,
            valid=None if self.valid is None else self.valid[row0 : row0 + rows, col0 : col0 + cols].copy(),
            meta=dict(self.meta, crop_px=(col0, row0, cols, rows)),
        )
