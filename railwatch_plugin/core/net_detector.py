"""Find railcars in one tile with the frame network.

Steps: prepare the tile at ``NET_GSD_M`` (finer images averaged down,
coarser ones interpolated up, so the network always sees cars at one
scale); find its track directions at 1 m; skip a direction where the coarse
look finds no car-like band (``prescreen``); rotate so that direction runs
along the columns; run the network block by block; read the cars off its
maps (``frame_cars``).
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

from .frame import rotate_to_horizontal
from .frame_cars import cars_in_frame
from .frame_net import HEAD, NET_GSD_M, STRIDE_COLS, STRIDE_ROWS, FrameNet
from .model import DetectionParams, Railcar
from .net_input import frame_input
from .orientation import coarse_luminance, dominant_directions
from .prepare import prepare_tile
from .prescreen import may_hold_cars

# The network runs on blocks of BLOCK_ROWS x BLOCK_COLS output pixels with
# MARGIN_* more on each side: more than half its field of view (about 37 x
# 165 px), so a block's cells come out as they would from the whole frame,
# while memory stays bounded (a 12-channel float map of a block is ~40 MB).
BLOCK_ROWS, BLOCK_COLS = 640, 1024
MARGIN_ROWS, MARGIN_COLS = 24, 96
STRINGS_PER_FRAME = 10_000  # string numbers of a tile's second frame start here


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
    work = prepare_tile(image, valid, gsd_m, NET_GSD_M, exact=True)
    if not work.valid.any():
        return []
    g = work.gsd_m
    direction_area = work.valid
    if track_mask is not None:
        track_work = cv2.resize(track_mask.astype(np.uint8), (work.valid.shape[1], work.valid.shape[0]),
                                interpolation=cv2.INTER_NEAREST).astype(bool)
        if not track_work.any():
            return []
        # The tracks' surroundings (ballast edges, neighbouring rails) show their direction best.
        reach = 2 * int(round(10.0 / g)) + 1
        direction_area = cv2.dilate(track_work.astype(np.uint8), np.ones((reach, reach), np.uint8)).astype(bool) & work.valid
    coarse_lum, coarse_g = coarse_luminance(work.lum, g)
    cars: List[Railcar] = []
    for k, direction in enumerate(dominant_directions(coarse_lum, coarse_g, direction_area)):
        if not may_hold_cars(coarse_lum, work.valid, coarse_g, direction):
            continue
        frame = rotate_to_horizontal(work.features, work.valid, direction)
        maps = frame_maps(net, frame_input(frame))
        cars.extend(cars_in_frame(maps, frame, (work.scale_col, work.scale_row), params, k * STRINGS_PER_FRAME))
    if track_mask is not None:
        cars = [c for c in cars if _inside(track_mask, c.col_px, c.row_px)]
    return cars


def _inside(mask: np.ndarray, col: float, row: float) -> bool:
    r, c = int(row), int(col)
    return 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and bool(mask[r, c])


def _blocks(n: int, size: int, margin: int) -> Iterator[Tuple[int, int, int, int]]:
    """(core start, core end, read start, read end) along one axis of n pixels."""
    for start in range(0, n, size):
        end = min(n, start + size)
        yield start, end, max(0, start - margin), min(n, end + margin)


def frame_maps(net: FrameNet, x: np.ndarray) -> np.ndarray:
    """The network's maps for a whole frame input (channels, rows, cols), block by block.

    Blocks without a valid pixel are skipped (their cells stay at "no car"):
    a rotated tile's corners are empty."""
    _, rows, cols = x.shape
    maps = np.zeros((len(HEAD), rows // STRIDE_ROWS, cols // STRIDE_COLS), np.float32)
    maps[0] = -30.0
    valid = x[-1]
    for r0, r1, rr0, rr1 in _blocks(rows, BLOCK_ROWS, MARGIN_ROWS):
        for c0, c1, cc0, cc1 in _blocks(cols, BLOCK_COLS, MARGIN_COLS):
            if not valid[r0:r1, c0:c1].any():
                continue
            out = net.predict(x[:, rr0:rr1, cc0:cc1])
            a, b = (r0 - rr0) // STRIDE_ROWS, (c0 - cc0) // STRIDE_COLS
            maps[:, r0 // STRIDE_ROWS : r1 // STRIDE_ROWS, c0 // STRIDE_COLS : c1 // STRIDE_COLS] = \
                out[:, a : a + (r1 - r0) // STRIDE_ROWS, b : b + (c1 - c0) // STRIDE_COLS]
    return maps
