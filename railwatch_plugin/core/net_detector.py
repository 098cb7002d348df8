"""Find railcars in one tile with the frame network.

Steps: find the tile's track directions in a coarse look at 1 m; skip a
direction where that look finds no car-like band (``prescreen``), and the
tile when none is left (most of a large raster); prepare the tile at
``NET_GSD_M`` (finer images averaged down, coarser ones interpolated up, so
the network always sees cars at one scale); rotate so that each direction
runs along the columns; run the network block by block over the rows that
hold a band, and only over the part of the tile that owns its cars (plus
a little); read the cars off its maps (``frame_cars``).
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
BLOCK_ROWS, BLOCK_COLS = 256, 2048  # a tile's frame is one block wide: no margins inside it
MARGIN_ROWS, MARGIN_COLS = (-(-reach // m) * m for reach, m in zip(field_of_view_px(), (MULTIPLE_ROWS, MULTIPLE_COLS)))
TRACK_SURROUNDINGS_M = 10.0  # with TRACKS, directions are found this far around the lines
# A tile's cars are kept only where their centre lies in the part of the tile
# it owns (detect.tile_grid); the rest of the tile is context. The network
# looks at cells up to OWNED_SLACK_M beyond that part: more than a peak's
# radius along the track (frame_cars.PEAK_RADIUS_ALONG_M, 8 m) plus how far
# a car's centre may lie from its cell, so that every car whose centre is
# owned comes out as it did from the whole tile. The network still sees the
# whole tile around those cells (its margins), so nothing it judges by is lost.
OWNED_SLACK_M = 20.0


def detect_in_tile_net(
    net: FrameNet,
    image: np.ndarray,
    valid: Optional[np.ndarray],
    gsd_m: Tuple[float, float],
    params: DetectionParams,
    track_mask: Optional[np.ndarray] = None,
    owned: Optional[Tuple[float, float, float, float]] = None,
) -> List[Railcar]:
    """Railcars in ``image`` (rows, cols, bands), in the tile's own pixel coordinates.

    ``owned``: (col_min, row_min, col_max, row_max) in the tile's pixels, the
    part whose cars the caller keeps; cars well outside it are not looked for
    (default: the whole tile)."""
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
        wanted = rows if owned is None else _owned_cells(frame, owned, work) & rows[:, None]
        if not wanted.any():
            continue
        maps = frame_maps(net, frame_input(frame), wanted)
        cars.extend(cars_in_frame(maps, frame, (work.scale_col, work.scale_row), params))
    if track_mask is not None:
        cars = [c for c in cars if _inside(track_mask, c.col_px, c.row_px)]
    return cars


def _owned_cells(frame, owned: Tuple[float, float, float, float], work) -> np.ndarray:
    """(rows, cols) bool of ``frame``: its pixels within OWNED_SLACK_M of the owned
    part of the tile (tile pixels, turned into the working grid and then the frame)."""
    col0, row0, col1, row1 = owned
    slack = OWNED_SLACK_M / work.gsd_m
    x0, x1 = col0 * work.scale_col - slack, col1 * work.scale_col + slack
    y0, y1 = row0 * work.scale_row - slack, row1 * work.scale_row + slack
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    to_frame = cv2.invertAffineTransform(frame.to_tile)  # both in RailWatch's coordinates (centres at +0.5)
    in_frame = corners @ to_frame[:, :2].T + to_frame[:, 2] - 0.5  # OpenCV puts a pixel's centre at its index
    mask = np.zeros(frame.valid.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(in_frame * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


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


def _column_spans(in_use: np.ndarray, cols: int) -> List[Tuple[int, int]]:
    """Sorted column indices in use -> (start, end) runs widened to whole
    output cells; runs closer than two margins are one run (looking at the
    gap costs less than the margins of a second block)."""
    breaks = np.flatnonzero(np.diff(in_use) > 2 * MARGIN_COLS)
    starts = np.r_[in_use[0], in_use[breaks + 1]]
    ends = np.r_[in_use[breaks], in_use[-1]] + 1
    return [(int(lo) // MULTIPLE_COLS * MULTIPLE_COLS, min(cols, -(-int(hi) // MULTIPLE_COLS) * MULTIPLE_COLS))
            for lo, hi in zip(starts, ends)]


def frame_maps(net: FrameNet, x: np.ndarray, wanted: Optional[np.ndarray] = None,
               channels: Optional[int] = None) -> np.ndarray:
    """The network's maps for a whole frame input (channels, rows, cols), block by block.

    Only the ``wanted`` pixels are looked at (default: all): (rows,) bool for
    whole rows, or (rows, cols) bool. In each block of rows only the columns
    that hold a valid wanted pixel are: a turned tile's corners are empty.
    Cells not looked at stay at "no car". ``channels``: for a network that
    stops short of the head (the adaptation's fixed layers), its output
    channels; cells not looked at are then 0."""
    _, rows, cols = x.shape
    maps = np.zeros((channels or len(HEAD), rows // STRIDE_ROWS, cols // STRIDE_COLS), np.float32)
    if channels is None:
        maps[0] = -30.0
    valid = x[-1] > 0.5
    if wanted is not None and wanted.ndim == 2:
        padded = np.zeros((rows, cols), bool)
        padded[: wanted.shape[0], : wanted.shape[1]] = wanted[:rows, :cols]
        valid &= padded
        wanted = padded.any(axis=1)
    spans = None if wanted is None else _row_spans(wanted, rows)
    for r0, r1, rr0, rr1 in _blocks(rows, BLOCK_ROWS, MARGIN_ROWS, spans):
        in_use = np.flatnonzero(valid[r0:r1].any(axis=0))
        if len(in_use) == 0:
            continue
        for c0, c1, cc0, cc1 in _blocks(cols, BLOCK_COLS, MARGIN_COLS, _column_spans(in_use, cols)):
            out = net.predict(x[:, rr0:rr1, cc0:cc1])
            a, b = (r0 - rr0) // STRIDE_ROWS, (c0 - cc0) // STRIDE_COLS
            maps[:, r0 // STRIDE_ROWS : r1 // STRIDE_ROWS, c0 // STRIDE_COLS : c1 // STRIDE_COLS] = \
                out[:, a : a + (r1 - r0) // STRIDE_ROWS, b : b + (c1 - c0) // STRIDE_COLS]
    return maps
