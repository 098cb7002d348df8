"""Training cells for an adaptation: the fixed layers' patches around reviewed cars, and what to answer there.

The reviewed image is cut into the detector's tiles, each made into frames
as the detector makes them (``prepare``, ``orientation``, ``frame``,
``net_input``) and shown, as it is and flipped with changed colours, to the
network's fixed layers. Near each reviewed car the targets are the
training's (``frame_targets``); away from every reviewed car, and on the
replay frames of ordinary synthetic yards, they are the base network's own
answers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from . import frame_net as fn
from .adapt_network import Tail, Trunk, patches_at, tail_out
from .adapt_review import IGNORE, NEGATIVE, POSITIVE, USUAL_WIDTH_M, ReviewedScene
from .adapt_settings import TRAIN_LAST, AdaptCanceled, AdaptSettings, CancelFn
from .detect import tile_grid, tile_layout
from .frame import RotatedFrame, rotate_to_horizontal
from .frame_targets import targets
from .model import DetectionParams, gsd_xy
from .net_detector import frame_maps
from .net_input import frame_input
from .orientation import ANALYSIS_GSD_M, dominant_directions, with_direction
from .prepare import WorkImage, coarse_look, prepare_tile
from .prescreen import rows_with_bands

FIND_TURN_DEG, IGNORE_TURN_DEG = 12.0, 20.0  # as the training: a frame's cars lie within 12 degrees of its rows
ZONE_ALONG_M = 12.0  # cells this far beyond a reviewed car's ends along the track are labelled by the review
ZONE_ACROSS_M = 3.0  # and this far across it
# Crops of ordinary synthetic yards (scripts/adapt_replay.py) on which the adapted model is taught
# the base model's answers, so that it keeps them on ordinary imagery; inputs stored as 8 bits.
REPLAY_PATH = os.path.join(os.path.dirname(__file__), "adapt_replay.npz")
QUANT_SCALE = 24.0
PLAIN_SHARE = 0.3  # share of the plain negative cells near reviewed cars that is trained on
MAX_BACKGROUND_TILES = 8  # tiles without a reviewed car shown as background, at most (a large window has many)
BACKGROUND_ONLY_CELLS = 1500  # background cells from each frame of a tile that holds no reviewed car


def frame_positions(cols, rows, headings_deg, work: WorkImage, frame: RotatedFrame):
    """Tile positions and headings -> frame (col, row) and turn from the frame's rows (radians, -pi/2..pi/2)."""
    fwd = cv2.invertAffineTransform(frame.to_tile)
    pts = np.stack([np.asarray(cols, np.float64) * work.scale_col, np.asarray(rows, np.float64) * work.scale_row], 1)
    centres = pts @ fwd[:, :2].T + fwd[:, 2]
    h = np.radians(np.asarray(headings_deg, np.float64))
    along = np.stack([np.sin(h) * work.scale_col, -np.cos(h) * work.scale_row], 1) @ fwd[:, :2].T
    turn = np.arctan2(along[:, 1], along[:, 0])
    turn = np.where(turn > np.pi / 2, turn - np.pi, np.where(turn <= -np.pi / 2, turn + np.pi, turn))
    return centres.reshape(-1, 2), turn.reshape(-1)


@dataclass
class Cells:
    """Training cells: the fixed layers' patches and what the tail should answer there."""

    x: np.ndarray  # (n, d) float16: patches (TRAIN_LAST) or the hidden features (TRAIN_HEAD)
    heat: np.ndarray  # (n,) target heat
    weight: np.ndarray  # (n,) focal weight of a negative (0: not asked)
    reg: np.ndarray  # (n, 5)
    reg_w: np.ndarray  # (n,)
    base: np.ndarray  # (n, len(HEAD)) the base network's answer
    background: np.ndarray  # (n,) bool: away from every reviewed car (taught the base answer)
    folds: np.ndarray  # (n,) bit f set: near a reviewed car of fold f (left out when fold f is held out)

    FIELDS = ("x", "heat", "weight", "reg", "reg_w", "base", "background", "folds")

    @staticmethod
    def join(parts: Sequence["Cells"]) -> "Cells":
        return Cells(*(np.concatenate([getattr(p, f) for p in parts]) for f in Cells.FIELDS))

    def without_fold(self, fold: int) -> "Cells":
        keep = (self.folds & (1 << fold)) == 0
        return Cells(*(getattr(self, f)[keep] for f in Cells.FIELDS))


def _flip_and_colour(x: np.ndarray, truth: np.ndarray, view: int, rng) -> Tuple[np.ndarray, np.ndarray]:
    """View ``view`` of a frame input and its cars: 0 as it is; otherwise flipped
    (along the track for odd views, across it for views 2 and 3 mod 4) with
    brightness and colour changed as the training did."""
    if view == 0:
        return x, truth
    x, truth = x.copy(), truth.copy()
    _, rows, cols = x.shape
    if view % 2 == 1:
        x = x[:, :, ::-1]
        truth[:, 0] = cols - truth[:, 0]
        truth[:, 4] = -truth[:, 4]
    if view % 4 >= 2:
        x = x[:, ::-1, :]
        truth[:, 1] = rows - truth[:, 1]
        truth[:, 4] = -truth[:, 4]
    x = np.ascontiguousarray(x)
    valid = x[-1] > 0.5
    x[0] = x[0] * rng.uniform(0.8, 1.25) + rng.normal(0, 0.08)
    angle, saturation = rng.normal(0, 0.25), rng.uniform(0.75, 1.3)
    cos, sin = math.cos(angle) * saturation, math.sin(angle) * saturation
    x[1], x[2] = cos * x[1] - sin * x[2], sin * x[1] + cos * x[2]
    x[:3] *= valid
    return x, truth


def _zone(truth_all: np.ndarray, out_rows: int, out_cols: int) -> np.ndarray:
    """(rows, cols) bool: output cells near any reviewed car (truth rows: col, row px, length m)."""
    zone = np.zeros((out_rows, out_cols), bool)
    for col, row, length in truth_all[:, :3]:
        half_along = (0.5 * length + ZONE_ALONG_M) / (fn.NET_GSD_M * fn.STRIDE_COLS)
        half_across = ZONE_ACROSS_M / (fn.NET_GSD_M * fn.STRIDE_ROWS)
        u, v = col / fn.STRIDE_COLS - 0.5, row / fn.STRIDE_ROWS - 0.5
        r0, r1 = max(0, int(math.floor(v - half_across))), min(out_rows, int(math.ceil(v + half_across)) + 1)
        c0, c1 = max(0, int(math.floor(u - half_along))), min(out_cols, int(math.ceil(u + half_along)) + 1)
        zone[r0:r1, c0:c1] = True
    return zone


def frame_cells(trunk: Trunk, base: Tail, frame: RotatedFrame, truth: np.ndarray, bare: np.ndarray,
                view: int, settings: AdaptSettings, rng) -> Optional[Cells]:
    """The cells of one view of one frame. ``truth``: every reviewed car in the frame as
    (col, row, length, width, turn, kind index, label, status code, fold); label 1: a car to find here."""
    x, truth = _flip_and_colour(frame_input(frame), truth, view, rng)
    _, rows, cols = x.shape
    out_rows, out_cols = rows // fn.STRIDE_ROWS, cols // fn.STRIDE_COLS
    folds = np.zeros((out_rows, out_cols), np.uint8)
    for f in np.unique(truth[:, 8]).astype(int):
        folds |= _zone(truth[truth[:, 8] == f], out_rows, out_cols).astype(np.uint8) << f
    zone = folds > 0
    cell_valid = x[-1, fn.STRIDE_ROWS // 2 :: fn.STRIDE_ROWS, fn.STRIDE_COLS // 2 :: fn.STRIDE_COLS][:out_rows, :out_cols] > 0.5
    zone &= cell_valid
    if not zone.any() and view > 0:  # a frame without reviewed cars serves as background, as it is
        return None
    # Rows to run: the zone's, one cell more each side for the 3 x 3 kernel.
    zone_rows = zone.any(axis=1)
    if view == 0:  # and every row the detector looks at, where the adapted model must not see new cars
        zone_rows = zone_rows | _band_cells(frame, out_rows)
    needed = cv2.dilate(zone_rows.astype(np.uint8)[:, None], np.ones((5, 1), np.uint8))[:, 0].astype(bool)
    t = frame_maps(trunk, x, np.repeat(needed, fn.STRIDE_ROWS), channels=trunk.channels)
    inner = needed & np.r_[False, needed[:-1]] & np.r_[needed[1:], False]
    # Cars the frame asks for (label 1), and the ones it must not be penalised for (label 0).
    asked = truth[(truth[:, 7] == 0) & (np.abs(np.degrees(truth[:, 4])) < IGNORE_TURN_DEG)].copy()
    asked[:, 6] = np.abs(np.degrees(asked[:, 4])) < FIND_TURN_DEG
    ignored = truth[truth[:, 7] == 2].copy()
    ignored[:, 6] = 0
    heat, weight, reg, reg_w, _ = targets(np.vstack([asked[:, :7], ignored[:, :7]]), out_rows, out_cols)
    for col, row in truth[bare[: len(truth)] & (truth[:, 7] == 0)][:, :2]:  # bare points: heat only
        pr, pc = int(round(row / fn.STRIDE_ROWS - 0.5)), int(round(col / fn.STRIDE_COLS - 0.5))
        reg_w[max(0, pr - 2) : pr + 3, max(0, pc - 3) : pc + 4] = 0.0
    in_zone = zone & inner[:, None]
    # Plain negatives (nothing near, no heat) are many and teach little: a share of them, weighted up.
    plain = in_zone & (heat < 0.05) & (reg_w == 0)
    thinned = plain & (rng.random(plain.shape) >= PLAIN_SHARE)
    in_zone &= ~thinned
    weight = np.where(plain, weight / PLAIN_SHARE, weight)
    # Away from the reviewed cars, half as many cells again, drawn from the rows that were run.
    far = ~cv2.dilate(zone.astype(np.uint8), np.ones((7, 9), np.uint8)).astype(bool) & cell_valid & inner[:, None]
    far_cells = np.argwhere(far)
    kh, kw = trunk.weights[f"conv{trunk.k}_w"].shape[2:]
    n_far = min(len(far_cells), int(settings.background_share * in_zone.sum()) or BACKGROUND_ONLY_CELLS)
    if n_far:
        # Half drawn at random, half among the ones the base network finds most car-like
        # (where a new false car is likeliest), out of a random pool.
        pool = far_cells[rng.choice(len(far_cells), min(len(far_cells), 8 * n_far), replace=False)]
        pool_heat = tail_out(base, patches_at(t, pool[:, 0], pool[:, 1], kh, kw))[:, 0]
        hard = np.argsort(-pool_heat)[: n_far // 2]
        rest = np.setdiff1d(np.arange(len(pool)), hard)
        picked = pool[np.r_[hard, rng.choice(rest, min(len(rest), n_far - len(hard)), replace=False)].astype(int)]
    else:
        picked = np.zeros((0, 2), int)
    zr, zc = np.nonzero(in_zone)
    rr, cc = np.r_[zr, picked[:, 0]].astype(int), np.r_[zc, picked[:, 1]].astype(int)
    patches = patches_at(t, rr, cc, kh, kw)
    hidden = np.maximum(patches.astype(np.float32) @ base.w1.T + base.b1, 0.0)
    base_out = hidden @ base.w2.T + base.b2
    features = patches if settings.train == TRAIN_LAST else hidden.astype(np.float16)
    background = np.r_[np.zeros(len(zr), bool), np.ones(len(picked), bool)]
    return Cells(features, heat[rr, cc], weight[rr, cc], reg[:, rr, cc].T, reg_w[rr, cc], base_out.astype(np.float32),
                 background, folds[rr, cc])


def _band_cells(frame: RotatedFrame, out_rows: int) -> np.ndarray:
    """(out_rows,) bool: the output rows whose input rows the detector's prescreen looks at."""
    rows = rows_with_bands(np.ascontiguousarray(frame.features[:, :, 0]), frame.valid, fn.NET_GSD_M)
    padded = np.zeros(out_rows * fn.STRIDE_ROWS, bool)
    padded[: min(len(rows), len(padded))] = rows[: len(padded)]
    return padded.reshape(out_rows, fn.STRIDE_ROWS).any(axis=1)


def replay_cells(trunk: Trunk, base: Tail, n: int, settings: AdaptSettings, rng, path: str = REPLAY_PATH) -> Optional[Cells]:
    """``n`` cells of the replay frames with the base model's answers as targets: half where the
    base network sees the most car (its cars must stay found), half at random."""
    if n <= 0 or not os.path.exists(path):
        return None
    with np.load(path) as z:
        quantised, valid = z["x"], z["valid"]
    kh, kw = trunk.weights[f"conv{trunk.k}_w"].shape[2:]
    parts = []
    per_crop = -(-n // len(quantised))
    for q, v in zip(quantised, valid):
        x = np.concatenate([(q.astype(np.float32) - 128) / QUANT_SCALE * v, v[None].astype(np.float32)])
        t = trunk.predict(x)
        centres = v[fn.STRIDE_ROWS // 2 :: fn.STRIDE_ROWS, fn.STRIDE_COLS // 2 :: fn.STRIDE_COLS]
        cells = np.argwhere(centres[: t.shape[1], : t.shape[2]])
        out = tail_out(base, patches_at(t, cells[:, 0], cells[:, 1], kh, kw))
        hard = np.argsort(-out[:, 0])[: per_crop // 2]
        rest = np.setdiff1d(np.arange(len(cells)), hard)
        pick = np.r_[hard, rng.choice(rest, min(len(rest), per_crop - len(hard)), replace=False)].astype(int)
        patches = patches_at(t, cells[pick, 0], cells[pick, 1], kh, kw)
        features = patches if settings.train == TRAIN_LAST else \
            np.maximum(patches.astype(np.float32) @ base.w1.T + base.b1, 0.0).astype(np.float16)
        m = len(pick)
        parts.append(Cells(features, np.zeros(m, np.float32), np.zeros(m, np.float32), np.zeros((m, 5), np.float32),
                           np.zeros(m, np.float32), out[pick].astype(np.float32), np.ones(m, bool), np.zeros(m, np.uint8)))
    return Cells.join(parts)


_STATUS_CODE = {POSITIVE: 0, NEGATIVE: 1, IGNORE: 2}


def scene_cells(scene: ReviewedScene, fold_of: np.ndarray, trunk: Trunk, base: Tail, settings: AdaptSettings, rng,
                progress: Callable[[float], None], is_canceled: CancelFn) -> List[Cells]:
    """Cells of every view of every frame of the detector's tiles that hold a reviewed car;
    ``fold_of``: each reviewed car's fold (``spatial_folds``)."""
    cars = scene.cars
    gsd = gsd_xy(scene.gsd_m)
    height, width = scene.image.shape[:2]
    tile_px, overlap_px = tile_layout(gsd, DetectionParams())
    # Every tile with a reviewed car, and up to MAX_BACKGROUND_TILES without one (drawn at random),
    # which show the adapted model what it must not take for cars.
    tiles = list(tile_grid(width, height, tile_px, overlap_px))
    pos = np.array([[c.col_px, c.row_px] for c in cars]).reshape(-1, 2)
    holds = [bool(np.any((pos[:, 0] >= t[0]) & (pos[:, 0] < t[0] + t[2]) & (pos[:, 1] >= t[1]) & (pos[:, 1] < t[1] + t[3])))
             for t in tiles]
    empty = [i for i, h in enumerate(holds) if not h]
    keep = set(i for i, h in enumerate(holds) if h)
    pick = np.random.default_rng([settings.seed, 1])  # its own stream: the cells drawn do not depend on it
    keep |= set(pick.choice(empty, min(len(empty), MAX_BACKGROUND_TILES), replace=False).tolist()) if empty else set()
    tiles = [t for i, t in enumerate(tiles) if i in keep]
    out: List[Cells] = []
    for n, (c0, r0, cols, rows, _) in enumerate(tiles):
        data = scene.image[r0 : r0 + rows, c0 : c0 + cols]
        valid = None if scene.valid is None else scene.valid[r0 : r0 + rows, c0 : c0 + cols]
        picked = [i for i, c in enumerate(cars)
                  if c0 - 100 <= c.col_px < c0 + cols + 100 and r0 - 100 <= c.row_px < r0 + rows + 100]
        near = [cars[i] for i in picked]
        work = prepare_tile(data, valid, gsd, fn.NET_GSD_M)
        lum, lum_valid, g = coarse_look(data, valid, gsd, ANALYSIS_GSD_M)
        directions = list(dominant_directions(lum, g, lum_valid))
        headings = [c.heading_deg for c in near if c.status == POSITIVE]
        if headings:
            directions = with_direction(directions, (float(np.median(headings)) - 90.0) % 180.0)
        for d in directions:
            frame = rotate_to_horizontal(work.features, work.valid, d)
            centres, turns = frame_positions([c.col_px - c0 for c in near], [c.row_px - r0 for c in near],
                                             [c.heading_deg for c in near], work, frame)
            truth = np.array([(x, y, c.length_m, c.width_m or USUAL_WIDTH_M, turn, 0, 1, _STATUS_CODE[c.status], fold_of[i])
                              for (x, y), turn, c, i in zip(centres, turns, near, picked)], np.float64).reshape(-1, 9)
            bare = np.array([c.bare for c in near], bool)
            for view in range(settings.augmentations if len(near) else 1):
                if is_canceled():
                    raise AdaptCanceled()
                cells = frame_cells(trunk, base, frame, truth, bare, view, settings, rng)
                if cells is not None:
                    out.append(cells)
        progress((n + 1) / len(tiles))
    return out
