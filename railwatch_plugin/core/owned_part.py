"""Which strings a tile can skip: those none of whose cars it would keep.

detect_railcars keeps from each tile only the cars centred in the part it
owns (the tile less half the overlap on inner sides), so a string whose cars
cannot be centred there need not be split, patched or scored.
"""

from __future__ import annotations

import numpy as np

from .frame import RotatedFrame
from .prepare import WorkImage
from .strings import CarString


def centres_miss(owned_px, frame: RotatedFrame, work: WorkImage, string: CarString, col0: float, length_px: float,
                 half_px: int) -> bool:
    """Whether no car of this string can be centred in ``owned_px`` (tile px).

    A car's centre lies along the string between frame columns col0 and
    col0 + length_px (its hypotheses' ends), at most a cross-section's half
    (``half_px``) off the string's centre line (tile_detector._measure_width's offset).
    That parallelogram's bounding box in tile pixels, widened by 2 px, is
    tested. About a seventh of a tile is owned by its neighbours, and the
    strings that lie there wholly cost a yard tile as much as any other."""
    cols = np.array([col0, col0, col0 + length_px, col0 + length_px])
    rows = string.row_at(cols) + 0.5 + np.array([-1.0, 1.0, -1.0, 1.0]) * (half_px + 1)
    pts = frame.points_to_tile(np.stack([cols, rows], axis=1)) / np.array([work.scale_col, work.scale_row])
    margin_px = 2.0
    col_min, row_min, col_max, row_max = owned_px
    return bool(pts[:, 0].max() < col_min - margin_px or pts[:, 0].min() >= col_max + margin_px
                or pts[:, 1].max() < row_min - margin_px or pts[:, 1].min() >= row_max + margin_px)
