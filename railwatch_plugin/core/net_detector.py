"""Find railcars in one tile with the frame network.

Steps: find the tile's track directions in a coarse look at 1 m; skip a
direction where that look finds no car-like band (``prescreen``), and the
tile when none is left (most of a large raster); prepare the tile at
``NET_GSD_M`` (finer images averaged down, coarser ones interpolated up, so
the network always sees cars at one scale); rotate so that each direction
runs along the columns; run the network block by block over the rows that
hold a band; read the cars off its maps (``frame_cars``).
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

from .frame import rotate_to_horizontal
from .frame_cars import cars_in_frame
from .frame_net import HEAD, MULTIPLE_COLS, MULTIPLE_ROWS, NET_GSD_M, STRIDE_COLS, STRIDE_ROWS, FrameNet, field_of_view_px
from .model import DetectionParams, Railcar
from .net_input import frame_input
from .orientation import ANALYSIS_GSD_M, dominant_directions
from .prepare import coarse_look, prepare_tile
from .prescreen import may_hold_cars, rows_with_bands

# The network runs on blocks of BLOCK_ROWS x BLOCK_COLS input pixels with
# MARGIN_* more on each side: at least as far as a cell can see
# (frame_net.field_of_view_px), so a block's cells come out as they would
# from the whole frame, while memory stays bounded (a 12-channel float map
# of a block with its margins, 360 x 2,272 px, is ~40 MB).
BLOCK_ROWS, BLOCK_COLS = 320, 2048  # a tile's frame is one block wide: no margins inside it
MARGIN_ROWS, MARGIN_COLS = (-(-reach // m) * m for reach, m in zip(field_of_view_px(), (MULTIPLE_ROWS, MULTIPLE_COLS)))
TRACK_SURROUNDINGS_M = 10.0  # with TRACKS, directions are found this far around the lines


def detect_in_tile_net(
    net: FrameNet,
    image: np.ndarray,
    valid: Optional[np.ndarray],
    gsd_m: Tuple[float, float],
    params: DetectionParams,
    track_mask: Optional[np.ndarray] = None,
) -> List[Railcar]:
    """Railcars in ``image`` (rows, cols, bands), in the tile's own pixel coordinates."""
    if image.shape[0] < 8 or image.shape[1] < 8:
        return []
    if valid is not None and not valid.any():
        return []
    coarse_lum, coarse_valid, coarse_g = coarse_look(image, valid, gsd_m, ANALYSIS_GSD_M)
    direction_area = coarse_valid
    if track_mask is not None:
        coarse_tracks = cv2.resize(track_mask.astype(np.uint8), (coarse_lum.shape[1], coarse_lum.shape[0]),
                                   interpolation=cv2.INTER_NEAREST)
        if not coarse_tracks.any():
            return []
        # The tracks' surroundings (ballast edges, neighbouring rails) show their direction best.
        reach = 2 * int(round(TRACK_SURROUNDINGS_M / coarse_g)) + 1
        direction_area = cv2.dilate(coarse_tracks, np.ones((reach, reach), np.uint8)).astype(bool) & coarse_valid
    directions = [d for d in dominant_directions(coarse_lum, coarse_g, direction_area)
                  if may_hold_cars(coarse_lum, coarse_valid, coarse_g, d)]
    if not directions:  # most tiles of a large raster: countryside
        return []
    work = prepare_tile(image, valid, gsd_m, NET_GSD_M)
    cars: List[Railcar] = []
    for direction in directions:
        frame = rotate_to_horizontal(work.features, work.valid, direction)
        rows = rows_with_bands(np.ascontiguousarray(frame.features[:, :, 0]), frame.valid, work.gsd_m)
        maps = frame_maps(net, frame_input(frame), rows)
        cars.extend(cars_in_frame(maps, frame, (work.scale_col, work.scale_row), params))
    if track_mask is not None:
        cars = [c for c in cars if _inside(track_mask, c.col_px, c.row_px)]
    return cars


def _inside(mask: np.ndarray, col: float, row: float) -> bool:
    r, c = int(row), int(col)
    return 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and bool(mask[r, c])


def _blocks(n: int, size: int, margin: int, spans=None) -> Iterator[Tuple[int, int, int, int]]:
    """(core start, core end, read start, read end) along one axis of n pixels,
    covering ``spans`` ((start, end) pairs; default: the whole axis)."""
    for lo, hi in spans if spans is not None else [(0, n)]:
        for start in range(lo, hi, size):
            end = min(hi, start + size)
            yield start, end, max(0, start - margin), min(n, end + margin)


def _row_spans(wanted: np.ndarray, rows: int) -> List[Tuple[int, int]]:
    """Runs of wanted rows as (start, end), widened to whole output cells."""
    padded = np.zeros(rows, bool)
    padded[: len(wanted)] = wanted[:rows]
    edges = np.flatnonzero(np.diff(np.r_[0, padded.astype(np.int8), 0]))
    spans = []
    for start, end in zip(edges[::2], edges[1::2]):
        start = start // MULTIPLE_ROWS * MULTIPLE_ROWS
        end = min(rows, -(-end // MULTIPLE_ROWS) * MULTIPLE_ROWS)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def frame_maps(net: FrameNet, x: np.ndarray, rows_wanted: Optional[np.ndarray] = None,
               channels: Optional[int] = None) -> np.ndarray:
    """The network's maps for a whole frame input (channels, rows, cols), block by block.

    Only ``rows_wanted`` (default: all) are looked at, and in each block of
    rows only the columns that hold a valid pixel: a turned tile's corners
    are empty. Cells not looked at stay at "no car". ``channels``: for a
    network that stops short of the head (the adaptation's fixed layers),
    its output channels; cells not looked at are then 0."""
    _, rows, cols = x.shape
    maps = np.zeros((channels or len(HEAD), rows // STRIDE_ROWS, cols // STRIDE_COLS), np.float32)
    if channels is None:
        maps[0] = -30.0
    valid = x[-1] > 0.5
    spans = None if rows_wanted is None else _row_spans(rows_wanted, rows)
    for r0, r1, rr0, rr1 in _blocks(rows, BLOCK_ROWS, MARGIN_ROWS, spans):
        in_use = np.flatnonzero(valid[r0:r1].any(axis=0))
        if len(in_use) == 0:
            continue
        lo = in_use[0] // MULTIPLE_COLS * MULTIPLE_COLS
        hi = min(cols, -(-(in_use[-1] + 1) // MULTIPLE_COLS) * MULTIPLE_COLS)
        for c0, c1, cc0, cc1 in _blocks(cols, BLOCK_COLS, MARGIN_COLS, [(lo, hi)]):
            out = net.predict(x[:, rr0:rr1, cc0:cc1])
            a, b = (r0 - rr0) // STRIDE_ROWS, (c0 - cc0) // STRIDE_COLS
            maps[:, r0 // STRIDE_ROWS : r1 // STRIDE_ROWS, c0 // STRIDE_COLS : c1 // STRIDE_COLS] = \
                out[:, a : a + (r1 - r0) // STRIDE_ROWS, b : b + (c1 - c0) // STRIDE_COLS]
    return maps
