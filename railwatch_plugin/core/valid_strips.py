"""The band response only where the detector will look at it.

A tile rotated by 20-70 degrees sits in a frame up to twice its area; the
corners hold reflected padding that no ridge may come from. Every step of
``bands.band_response`` works along columns (box means over rows) or pixel by
pixel, so the frame is cut into strips of columns and each strip is cropped
to the rows of its valid pixels plus a margin: inside that margin the values
are those of the whole frame, at the cost of 55-75 % of the pixels on a
rotated frame. Rows far from any valid pixel get a response of -inf (never a
ridge, never anyone's local maximum), width 0 and tone 0.

Equal to the whole-frame response up to float32 rounding: OpenCV's box
filters keep running sums from the first row they process, so a crop (like
OpenCV's own split of a frame among threads) can change the last bit.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from .bands import BandGeometry, band_response

STRIP_COLS = 48  # narrow enough to follow a steep frame edge, wide enough that per-call costs stay small
WHOLE_FRAME_ABOVE = 0.9  # of the frame's pixels: when the strips would cover more, one whole-frame call


def band_reach_rows(geometries: Sequence[BandGeometry]) -> int:
    """Rows either side of a pixel that its band response reads (with padding to spare)."""
    return max(max(-g.above[0], g.below[1], -g.inner[0], g.inner[1]) for g in geometries) + 1


def band_response_near_valid(smoothed: np.ndarray, geometries: Sequence[BandGeometry], valid: np.ndarray,
                             exact_rows: int, strip_cols: int = STRIP_COLS
                             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``band_response(smoothed, geometries)``, exact (to rounding) at every
    pixel within ``exact_rows`` rows of a valid pixel of its own column.

    ``exact_rows`` is what later steps read beside a valid pixel (the ridge
    search's non-maximum suppression)."""
    rows, cols = valid.shape
    margin = exact_rows + 2 * band_reach_rows(geometries)
    any_valid = valid.any(axis=0)
    first_valid = np.argmax(valid, axis=0)
    last_valid = rows - 1 - np.argmax(valid[::-1], axis=0)
    crops = []  # (c0, c1, r0, r1) per strip holding a valid pixel
    for c0 in range(0, cols, strip_cols):
        c1 = min(cols, c0 + strip_cols)
        here = any_valid[c0:c1]
        if here.any():
            r0 = max(0, int(first_valid[c0:c1][here].min()) - margin)
            r1 = min(rows, int(last_valid[c0:c1][here].max()) + 1 + margin)
            crops.append((c0, c1, r0, r1))
    if sum((c1 - c0) * (r1 - r0) for c0, c1, r0, r1 in crops) > WHOLE_FRAME_ABOVE * rows * cols:
        return band_response(smoothed, geometries)  # an unrotated tile: strips would save nothing
    response = np.full((rows, cols), -np.inf, np.float32)
    width_index = np.zeros((rows, cols), np.uint8)
    tone = np.zeros((rows, cols), np.float32)
    for c0, c1, r0, r1 in crops:
        resp, idx, tn = band_response(np.ascontiguousarray(smoothed[r0:r1, c0:c1]), geometries)
        response[r0:r1, c0:c1] = resp
        width_index[r0:r1, c0:c1] = idx
        tone[r0:r1, c0:c1] = tn
    return response, width_index, tone
