"""A tile rotated so that one track direction runs along the columns.

In that frame a railcar is a horizontal band of known width, so every later
step is a cheap 1-D operation along rows or columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class RotatedFrame:
    features: np.ndarray  # (rows, cols, ch) float32
    valid: np.ndarray  # (rows, cols) bool; False outside the source tile too
    to_tile: np.ndarray  # 2x3 affine: frame (col, row) -> work-tile (col, row), pixel centres at +0.5
    direction_deg: float  # track direction in the work tile (clockwise from +col)

    def points_to_tile(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, np.float64).reshape(-1, 2)
        return pts @ self.to_tile[:, :2].T + self.to_tile[:, 2]


def rotate_to_horizontal(features: np.ndarray, valid: np.ndarray, direction_deg: float) -> RotatedFrame:
    """Rotate so that lines at ``direction_deg`` become horizontal."""
    rows, cols = features.shape[:2]
    centre = (cols / 2.0, rows / 2.0)
    fwd = cv2.getRotationMatrix2D(centre, direction_deg, 1.0)
    cos, sin = abs(fwd[0, 0]), abs(fwd[0, 1])
    out_cols = int(np.ceil(rows * sin + cols * cos))
    out_rows = int(np.ceil(rows * cos + cols * sin))
    fwd[0, 2] += out_cols / 2.0 - centre[0]
    fwd[1, 2] += out_rows / 2.0 - centre[1]
    if abs(direction_deg) < 1e-6:
        rot = features
        rot_valid = valid
    else:
        rot = cv2.warpAffine(features, fwd, (out_cols, out_rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if rot.ndim == 2:
            rot = rot[:, :, None]
        rot_valid = cv2.warpAffine(
            valid.astype(np.uint8), fwd, (out_cols, out_rows), flags=cv2.INTER_NEAREST, borderValue=0
        ).astype(bool)
    # cv2 puts a pixel's centre at (c, r); RailWatch at (c + 0.5, r + 0.5).
    # In RailWatch's coordinates the same map is inv(p - 0.5) + 0.5: without
    # this, a point came back up to 1.4 px off, by an amount that depends on
    # the direction (the frame network's training labels did).
    inv = cv2.invertAffineTransform(fwd)
    inv[:, 2] += 0.5 * (1.0 - inv[:, :2] @ np.ones(2))
    return RotatedFrame(features=rot, valid=rot_valid, to_tile=inv, direction_deg=direction_deg)
