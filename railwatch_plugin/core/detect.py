"""Detect railcars on a raster of any size, tile by tile.

Memory is bounded by the tile size, not the raster: windows are read one at a
time, processed on a small thread pool (OpenCV and numpy release the GIL) and
dropped. Tiles overlap by more than one long car; a car belongs to the tile
whose *owned* part (the tile minus half the overlap on inner sides) holds its
centre, so each car is counted once and always from a tile that saw it whole.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np

from .coupling import with_strings
from .frame_net import NET_GSD_M, WEIGHTS_PATH, load_frame_net
from .model_file import DetectorModel, load_model, shipped_model
from .model import DetectionParams, DetectionResult, Railcar, TrackLines, gsd_xy
from .net_detector import detect_in_tile_net
from .prepare import working_scale
from .resolution import check_resolution
from .source import ArraySource, TileSource, finite_pixels
from .string_support import with_string_support

TILE_WORK_PX = 1024  # default tile side, in working-GSD pixels
SLOW_NETWORK_WARNING = (
    "This OpenCV cannot run the railcar network (its dnn module is missing or too old), so numpy runs it, "
    "about 60 times slower. Install opencv-python-headless 4.5 or newer into the Python that QGIS uses.")
ProgressFn = Callable[[float], None]  # fraction 0-1
CancelFn = Callable[[], bool]


def tile_grid(width: int, height: int, tile_px: int, overlap_px: int) -> Iterator[Tuple[int, int, int, int, Tuple[float, float, float, float]]]:
    """Yield ``(col0, row0, cols, rows, owned)`` per tile, row by row.

    ``owned`` is ``(col_min, row_min, col_max, row_max)`` in raster pixels: the
    owned parts of all tiles tile the raster exactly, without gaps or overlap.
    """
    step = max(1, tile_px - overlap_px)

    def starts(n: int) -> List[int]:
        if n <= tile_px:
            return [0]
        s = list(range(0, n - tile_px, step)) + [n - tile_px]
        return sorted(set(s))

    cols0, rows0 = starts(width), starts(height)

    def owned_bounds(s: List[int], i: int, n: int) -> Tuple[float, float]:
        lo = 0.0 if i == 0 else (s[i - 1] + tile_px + s[i]) / 2.0
        hi = float(n) if i == len(s) - 1 else (s[i] + tile_px + s[i + 1]) / 2.0
        return lo, hi

    for j, r0 in enumerate(rows0):
        rlo, rhi = owned_bounds(rows0, j, height)
        for i, c0 in enumerate(cols0):
            clo, chi = owned_bounds(cols0, i, width)
            yield c0, r0, min(tile_px, width - c0), min(tile_px, height - r0), (clo, rlo, chi, rhi)


def tile_layout(gsd_m, params: DetectionParams) -> Tuple[int, int]:
    """(tile side, overlap) in input pixels for this GSD and these parameters.

    Both follow from the working grid (``prepare.working_scale``), so two
    GSDs that are worked alike also get the same tiles."""
    work_gsd, fx, fy = working_scale(gsd_xy(gsd_m), NET_GSD_M)
    finer = min(fx, fy)  # working px per input px along the finer axis
    overlap_px = int(math.ceil(params.tile_overlap_m / work_gsd / finer - 1e-9))
    # At most TILE_WORK_PX working px a side along either axis: with pixels
    # of 0.3 x 0.6 m, a square of input pixels is twice as long on the ground
    # one way, and sizing by the finer axis made 1024 x 2048 px working tiles.
    tile_px = params.tile_size_px or int(TILE_WORK_PX / max(fx, fy))
    return max(tile_px, 2 * overlap_px + 64), overlap_px


def _track_mask(lines: Optional[TrackLines], col0: int, row0: int, cols: int, rows: int, buffer_px: float) -> Optional[np.ndarray]:
    if lines is None:
        return None
    mask = np.zeros((rows, cols), np.uint8)
    thickness = max(1, int(round(2 * buffer_px)))
    shift = 4  # sub-pixel drawing: coordinates in 1/16 px
    for line in lines:
        pts = np.asarray(line, dtype=np.float64)
        if len(pts) < 2:
            continue
        pts = np.round((pts - (col0, row0)) * (1 << shift)).astype(np.int32)
        cv2.polylines(mask, [pts], False, 1, thickness=thickness, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def _shift(car: Railcar, dcol: int, drow: int) -> Railcar:
    return replace(
        car,
        col_px=car.col_px + dcol,
        row_px=car.row_px + drow,
        corners_px=tuple((c + dcol, r + drow) for c, r in car.corners_px),
    )


# Parallel tracks are at least ~4 m apart (centre to centre), so two cars
# side by side whose centre lines are closer than that cannot both be real:
# one is a shadow, a ballast edge or the same car found again. Footprints are
# widened to MIN_CAR_SPACING_M, so with merge_duplicates' 0.2 overlap a pair
# conflicts when its centre lines are under 0.8 x 4.4 = 3.5 m apart: the
# closest real tracks less a 0.25 m measuring error on each car. (Chosen for
# the string detector, whose false cars were mostly shadow twins; with the
# frame network it mainly merges a car found in two frames of one tile.)
MIN_CAR_SPACING_M = 4.4
ENDS_SHRINK = 0.85  # coupled cars touch end to end; that is no conflict


def _footprint(car: Railcar) -> np.ndarray:
    """The car's box widened to the closest spacing two cars can have side by
    side, and shortened a little so coupled neighbours do not conflict."""
    pts = np.asarray(car.corners_px, np.float64)
    centre = pts.mean(axis=0)
    along = 0.5 * (pts[1] - pts[0])  # half length vector
    across = 0.5 * (pts[3] - pts[0])  # half width vector
    widen = max(1.0, MIN_CAR_SPACING_M / max(car.width_m, 0.1))
    a, c = along * ENDS_SHRINK, across * widen
    return np.array([centre - a - c, centre + a - c, centre + a + c, centre - a + c], np.float32)


def _overlap_of_smaller(a: Railcar, b: Railcar) -> float:
    pa = _footprint(a)
    pb = _footprint(b)
    area, _ = cv2.intersectConvexConvex(pa, pb)
    smaller = min(abs(cv2.contourArea(pa)), abs(cv2.contourArea(pb)))
    return float(area) / smaller if smaller > 0 else 0.0


def merge_duplicates(cars: List[Railcar], max_overlap: float = 0.2) -> List[Railcar]:
    """Drop cars that overlap a more confident one by more than ``max_overlap``
    of the smaller box (IoU undervalues overlap of long thin boxes). The order
    is total (confidence, then position), so the result is deterministic."""
    ordered = sorted(cars, key=lambda c: (-c.confidence, c.row_px, c.col_px))
    reaches = [0.5 * max(math.dist(c.corners_px[0], c.corners_px[2]), 1.0) for c in ordered]
    # Kept cars are filed in a grid of cells as wide as the farthest any car
    # looks (2 x reach), so each car is held against the kept cars of the 3 x 3
    # cells around its own only, not all of them: the same comparisons that
    # can succeed, in time linear in the cars (a 144 MP raster of busy content
    # has ~10,000, and comparing each with every kept one took 6 s on one core).
    cell = 2.0 * max(reaches, default=1.0)
    grid: Dict[Tuple[int, int], List[Railcar]] = defaultdict(list)
    kept: List[Railcar] = []
    for car, reach in zip(ordered, reaches):
        gc, gr = int(car.col_px // cell), int(car.row_px // cell)
        near = (k for dc in (-1, 0, 1) for dr in (-1, 0, 1) for k in grid.get((gc + dc, gr + dr), ()))
        if any(
            abs(k.col_px - car.col_px) < 2 * reach
            and abs(k.row_px - car.row_px) < 2 * reach
            and _overlap_of_smaller(k, car) > max_overlap
            for k in near
        ):
            continue
        kept.append(car)
        grid[(gc, gr)].append(car)
    kept.sort(key=lambda c: (c.row_px, c.col_px))
    return kept


_THREADS_LOCK = threading.Lock()
_threads_users = 0  # detections now inside one_thread_each
_threads_saved = None  # (OpenCV's thread count, threadpoolctl's limiter or None) from before the first of them


@contextlib.contextmanager
def one_thread_each(workers: int):
    """Context in which OpenCV (and numpy's BLAS, where threadpoolctl is
    installed: the network's numpy fallback) run each call on one thread,
    while ``workers`` tiles run side by side on as many threads of ours.

    OpenCV spreads every warp, blur and network layer over all cores; with
    two tiles in flight on two cores its threads mostly wait for one another
    (16k bench: 10.8 s -> 9.0 s). These settings are process-wide and two
    detections may run at once (two Processing tasks in QGIS): the first to
    enter saves them, the last to leave restores them."""
    global _threads_users, _threads_saved
    if workers < 2:
        yield
        return
    with _THREADS_LOCK:
        if _threads_users == 0:
            _threads_saved = (cv2.getNumThreads(), _limit_blas_to_one_thread())
            cv2.setNumThreads(1)
        _threads_users += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _threads_users -= 1
            if _threads_users == 0:
                opencv_threads, blas = _threads_saved
                cv2.setNumThreads(opencv_threads)
                if blas is not None:
                    blas.restore_original_limits()


def _limit_blas_to_one_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1, user_api="blas")


def detect_railcars(
    source: TileSource,
    gsd_m,
    params: DetectionParams = DetectionParams(),
    track_lines_px: Optional[TrackLines] = None,
    track_buffer_m: float = 6.0,
    progress: Optional[ProgressFn] = None,
    is_canceled: Optional[CancelFn] = None,
    workers: Optional[int] = None,
    model=None,
) -> DetectionResult:
    """Detect railcars on ``source``; see DetectionResult for what comes back.

    ``track_lines_px``: rail centre lines in raster pixels; when given, only
    cars within ``track_buffer_m`` of a line are kept. ``is_canceled`` is
    polled between tiles; a canceled run returns what was found so far with
    ``canceled=True``. ``model``: a model file's path or a loaded
    ``DetectorModel`` (default: the shipped network); its label is in
    ``DetectionResult.model``.
    """
    gx, gy = gsd_xy(gsd_m)
    resolution = check_resolution((gx, gy), params)
    result = DetectionResult(min_confidence=params.min_confidence, resolution=resolution)
    if not resolution.ok:
        result.warnings.append(resolution.message)
        return result
    tile_px, overlap_px = tile_layout((gx, gy), params)
    tiles = list(tile_grid(source.width, source.height, tile_px, overlap_px))
    buffer_px = track_buffer_m / math.sqrt(gx * gy)
    workers = workers or min(2, os.cpu_count() or 1)
    if model is None:
        net = load_frame_net()
        if net is None:
            raise RuntimeError(f"The railcar detector's network is missing ({WEIGHTS_PATH}): reinstall the RailWatch plugin.")
        model = shipped_model(net)
    elif not isinstance(model, DetectorModel):
        model = load_model(model)
    net = model.net
    result.model = model.label
    if not net.runs_in_opencv:
        result.warnings.append(SLOW_NETWORK_WARNING)

    def run(tile, window, mask) -> List[Railcar]:
        c0, r0, _, _, (clo, rlo, chi, rhi) = tile
        cars = detect_in_tile_net(net, window.data, window.valid, (gx, gy), params, mask,
                                  owned=(clo - c0, rlo - r0, chi - c0, rhi - r0))
        out = []
        for car in cars:
            car = _shift(car, c0, r0)
            if clo <= car.col_px < chi and rlo <= car.row_px < rhi:
                out.append(car)
        return out

    in_flight: Dict[Future, int] = {}  # submitted tiles -> their index in ``tiles``
    per_tile: Dict[int, List[Railcar]] = {}

    def collect(futures) -> None:
        for fut in futures:
            per_tile[in_flight.pop(fut)] = fut.result()
            result.tiles_done += 1
            if progress:
                progress(result.tiles_done / len(tiles))

    with one_thread_each(workers), ThreadPoolExecutor(max_workers=workers) as pool:
        for index, tile in enumerate(tiles):
            if is_canceled is not None and is_canceled():
                result.canceled = True
                break
            c0, r0, cols, rows, _ = tile
            window = finite_pixels(source.read(c0, r0, cols, rows))
            if window.valid is not None and not window.valid.any():
                result.tiles_done += 1
                continue
            result.tiles_with_data += 1
            mask = _track_mask(track_lines_px, c0, r0, cols, rows, buffer_px)
            in_flight[pool.submit(run, tile, window, mask)] = index
            # At most one tile waits beside each busy worker, so memory stays
            # bounded; whichever tile finishes first makes room. (Waiting for
            # the oldest instead left a worker idle for as long as a yard tile
            # took, 2 s, where it could have done 40 tiles of countryside.)
            while len(in_flight) > workers + 1:
                collect(wait(in_flight, return_when=FIRST_COMPLETED).done)
        collect(list(in_flight))

    # Tile order, whatever order the tiles finished in: the result does not
    # depend on thread timing.
    found = [car for index in sorted(per_tile) for car in per_tile[index]]
    merged = merge_duplicates([c for c in found if c.confidence >= params.confidence_floor])
    if params.string_support and model.string_support:
        merged = with_string_support(merged, (gx, gy))
    result.all_cars = with_strings(merged, (gx, gy), params.min_confidence)
    return result


def detect_railcars_in_array(
    image: np.ndarray,
    gsd_m,
    params: DetectionParams = DetectionParams(),
    nodata: Optional[float] = None,
    mask: Optional[np.ndarray] = None,
    **kwargs,
) -> DetectionResult:
    """Convenience wrapper for an in-memory image (rows, cols[, bands])."""
    return detect_railcars(ArraySource(image, nodata=nodata, mask=mask), gsd_m, params, **kwargs)
