"""Adapt the detector to a site's imagery from the cars an analyst reviewed.

Numpy and OpenCV only, so it runs inside QGIS. What it does, for one or
more reviewed images:

1. Frames as the detector makes them: the image in tiles, each at
   ``NET_GSD_M``, turned along its track directions (``prepare``,
   ``orientation``, ``frame``, ``net_input``), shown to the network's fixed
   layers (all but the last convolution and the head: ``trunk``), with the
   training's flips and colour changes as augmentations.
2. Targets as the network was trained on (``frame_targets``) around every
   reviewed car: accepted and added cars are cars, rejected ones and
   everything else near a reviewed car are not, unreviewed ones are
   neither asked for nor penalised. A car added as a bare point gets the
   usual size and the local track direction, and asks only for the heat
   (not its length or turn). Cells away from every reviewed car keep the
   base network's answer (they are taught it back), so the adaptation
   cannot learn to see cars where nobody looked.
3. The last convolution and the head (``TRAIN_LAST``; or the head alone,
   ``TRAIN_HEAD``) trained in numpy on those cells, starting from the base
   weights and held near them, with cells of a few ordinary synthetic
   yards (``REPLAY_PATH``) on which it is taught the base model's answers,
   so that it does not forget ordinary imagery; its confidence is then
   recalibrated (Platt scaling folded into the heat head, as
   ``scripts/frame_net_calibrate.py`` does for the shipped weights), and the
   model kept lies halfway between the base and it (``AdaptSettings.blend``).
4. Spatial hold-outs: the site is cut across its longest extent into
   ``folds`` blocks of as many reviewed cars; each block in turn is left out
   of training, the confidence is calibrated on what the model trained
   without it finds there, and the base and the kept model (calibrated,
   blended) are scored on it (F1, count error, summed over the blocks; the
   review is taken to be exhaustive: a detection where no reviewed car is
   counts as false). The base is kept when adapting does not help; otherwise
   the model that is saved learnt from every reviewed car.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from . import frame_net as fn
from .detect import detect_railcars_in_array, tile_grid, tile_layout
from .frame import RotatedFrame, rotate_to_horizontal
from .calibration import fit_platt, fold_calibration, logit
from .frame_targets import targets
from .matching import Score, match
from .model import DetectionParams, gsd_xy
from .model_file import DetectorModel
from .net_detector import frame_maps
from .net_input import frame_input
from .orientation import ANALYSIS_GSD_M, dominant_directions, with_direction
from .prepare import WorkImage, coarse_look, prepare_tile
from .prescreen import rows_with_bands

POSITIVE, NEGATIVE, IGNORE = "positive", "negative", "ignore"
USUAL_LENGTH_M = 15.0  # a bare point's length when the site's reviewed cars give none
USUAL_WIDTH_M = 3.0
FIND_TURN_DEG, IGNORE_TURN_DEG = 12.0, 20.0  # as the training: a frame's cars lie within 12 degrees of its rows
ZONE_ALONG_M = 12.0  # cells this far beyond a reviewed car's ends along the track are labelled by the review
ZONE_ACROSS_M = 3.0  # and this far across it
LOCAL_WINDOW_M = 80.0  # a bare point's track direction is read in a window this wide
SCORE_REACH_M = 30.0  # a detection this close to a held-out reviewed car is scored
TRAIN_HEAD, TRAIN_LAST = "head", "last"
MIN_POSITIVES = 20
# Crops of ordinary synthetic yards (scripts/adapt_replay.py) on which the adapted model is taught
# the base model's answers, so that it keeps them on ordinary imagery; inputs stored as 8 bits.
REPLAY_PATH = os.path.join(os.path.dirname(__file__), "adapt_replay.npz")
QUANT_SCALE = 24.0
PLAIN_SHARE = 0.3  # share of the plain negative cells near reviewed cars that is trained on
BACKGROUND_HEAT_WEIGHT = 10.0  # the base's heat away from reviewed cars counts this much more than its other maps
MAX_BACKGROUND_TILES = 8  # tiles without a reviewed car shown as background, at most (a large window has many)
BACKGROUND_ONLY_CELLS = 1500  # background cells from each frame of a tile that holds no reviewed car

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


class AdaptError(ValueError):
    """The reviewed cars cannot adapt the detector; the message says why."""


class AdaptCanceled(RuntimeError):
    pass


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


@dataclass
class AdaptSettings:
    train: str = TRAIN_LAST
    epochs: int = 10
    batch: int = 1024
    learning_rate: float = 2e-3
    keep_near_base: float = 1e-3  # L2 pull of the trained weights towards the base ones
    background_weight: float = 1.0  # how much cells away from reviewed cars count (taught the base answer)
    background_share: float = 1.0  # cells away from reviewed cars per cell near them
    replay_share: float = 1.0  # cells of the replay frames (ordinary yards) per cell near reviewed cars
    blend: float = 0.5  # the model kept: base + blend x (trained - base)
    augmentations: int = 4  # views of every frame: as it is, flipped either way, both, colours changed
    folds: int = 3  # the site cut into this many blocks, each held out in turn to measure the result
    seed: int = 0


@dataclass
class Figures:
    base: Score
    adapted: Score

    @staticmethod
    def count_error(s: Score) -> float:
        return abs(s.n_found - s.n_true) / max(s.n_true, 1)

    def as_dict(self) -> Dict:
        return {name: {"f1": round(s.f1, 4), "precision": round(s.precision, 4), "recall": round(s.recall, 4),
                       "count_error": round(self.count_error(s), 4), "true": s.n_true, "found": s.n_found}
                for name, s in (("base", self.base), ("adapted", self.adapted))}


@dataclass
class AdaptResult:
    weights: Dict[str, np.ndarray]  # what to save: the adapted weights, or the base ones when adapting did not help
    adapted: bool
    figures: Figures
    positives: int
    negatives: int
    held_out: int
    seconds: float
    header: Dict = field(default_factory=dict)

    @property
    def summary(self) -> str:
        b, a = self.figures.base, self.figures.adapted
        verdict = ("the adapted model is kept" if self.adapted else
                   "adapting did not help on the held-out cars: the base model is kept")
        return (f"reviewed cars, each part of the site held out in turn ({self.held_out} cars): base F1 {b.f1:.3f}, count error "
                f"{100 * Figures.count_error(b):.1f} %; adapted F1 {a.f1:.3f}, count error "
                f"{100 * Figures.count_error(a):.1f} %; {verdict}")


# --- the network split in two: fixed layers and the part that learns ------------------------------

def split_architecture(architecture=fn.ARCHITECTURE):
    """(fixed layers, index of the last convolution's weights): the tail is that
    3 x 3 convolution and the 1 x 1 head, at the output's resolution."""
    last = max(i for i, layer in enumerate(architecture) if layer[0] == "conv")
    if tuple(layer[0] for layer in architecture[last:]) != ("conv", "head"):
        raise AdaptError("this network does not end in one convolution and a head: it cannot be adapted")
    k = sum(1 for layer in architecture[:last] if layer[0] == "conv")
    return tuple(architecture[:last]), k


class Trunk:
    """The fixed layers, run by OpenCV where it can (numpy otherwise), block by block like the detector."""

    def __init__(self, weights: Dict[str, np.ndarray]):
        self.architecture, self.k = split_architecture()
        self.weights = weights
        self.channels = weights[f"conv{self.k}_w"].shape[1]
        self.dnn = fn.build_dnn(weights, self.architecture)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.dnn is None:
            return fn.forward_numpy(self.weights, x, self.architecture)
        self.dnn.setInput(np.ascontiguousarray(x[None], np.float32))
        return self.dnn.forward()[0]


def _patches(trunk_map: np.ndarray, rr: np.ndarray, cc: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """(n, channels * kh * kw) float16: the trunk's values under the last convolution's kernel at cells (rr, cc)."""
    ph, pw = kh // 2, kw // 2
    padded = np.pad(trunk_map, ((0, 0), (ph, ph), (pw, pw)))
    out = np.empty((len(rr), trunk_map.shape[0], kh, kw), np.float16)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i, j] = padded[:, rr + i, cc + j].T
    return out.reshape(len(rr), -1)


@dataclass
class Tail:
    """The last convolution (as a matrix over patches) and the head."""

    w1: np.ndarray  # (hidden, channels * kh * kw)
    b1: np.ndarray
    w2: np.ndarray  # (len(HEAD), hidden)
    b2: np.ndarray

    @classmethod
    def of(cls, weights, k):
        w1 = weights[f"conv{k}_w"]
        return cls(w1.reshape(w1.shape[0], -1).astype(np.float32), weights[f"conv{k}_b"].astype(np.float32),
                   weights[f"conv{k + 1}_w"][:, :, 0, 0].astype(np.float32), weights[f"conv{k + 1}_b"].astype(np.float32))

    def into(self, weights, k) -> Dict[str, np.ndarray]:
        out = {key: np.array(v, np.float32, copy=True) for key, v in weights.items()}
        out[f"conv{k}_w"] = self.w1.reshape(out[f"conv{k}_w"].shape).astype(np.float32)
        out[f"conv{k}_b"] = self.b1.astype(np.float32)
        out[f"conv{k + 1}_w"] = self.w2[:, :, None, None].astype(np.float32)
        out[f"conv{k + 1}_b"] = self.b2.astype(np.float32)
        return out

    def params(self):
        return [self.w1, self.b1, self.w2, self.b2]


# --- reviewed cars to frames and cells ---------------------------------------------------------

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
        pool_heat = _tail_out(base, _patches(t, pool[:, 0], pool[:, 1], kh, kw))[:, 0]
        hard = np.argsort(-pool_heat)[: n_far // 2]
        rest = np.setdiff1d(np.arange(len(pool)), hard)
        picked = pool[np.r_[hard, rng.choice(rest, min(len(rest), n_far - len(hard)), replace=False)].astype(int)]
    else:
        picked = np.zeros((0, 2), int)
    zr, zc = np.nonzero(in_zone)
    rr, cc = np.r_[zr, picked[:, 0]].astype(int), np.r_[zc, picked[:, 1]].astype(int)
    patches = _patches(t, rr, cc, kh, kw)
    hidden = np.maximum(patches.astype(np.float32) @ base.w1.T + base.b1, 0.0)
    base_out = hidden @ base.w2.T + base.b2
    features = patches if settings.train == TRAIN_LAST else hidden.astype(np.float16)
    background = np.r_[np.zeros(len(zr), bool), np.ones(len(picked), bool)]
    return Cells(features, heat[rr, cc], weight[rr, cc], reg[:, rr, cc].T, reg_w[rr, cc], base_out.astype(np.float32),
                 background, folds[rr, cc])


def _tail_out(tail: Tail, patches: np.ndarray) -> np.ndarray:
    return np.maximum(patches.astype(np.float32) @ tail.w1.T + tail.b1, 0.0) @ tail.w2.T + tail.b2


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
        out = _tail_out(base, _patches(t, cells[:, 0], cells[:, 1], kh, kw))
        hard = np.argsort(-out[:, 0])[: per_crop // 2]
        rest = np.setdiff1d(np.arange(len(cells)), hard)
        pick = np.r_[hard, rng.choice(rest, min(len(rest), per_crop - len(hard)), replace=False)].astype(int)
        patches = _patches(t, cells[pick, 0], cells[pick, 1], kh, kw)
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


# --- training ---------------------------------------------------------------------------------

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


def loss_gradient(out: np.ndarray, cells: Cells, idx: np.ndarray, background_weight: float):
    """(loss, d loss / d out) for the tail's outputs ``out`` (n, len(HEAD)) at cells ``idx``:
    CenterNet's focal loss on the heat and smooth L1 on the measures near reviewed cars (as the
    training), the base network's answers elsewhere (heat: cross-entropy; the rest: squared error)."""
    heat, weight, reg, reg_w = cells.heat[idx], cells.weight[idx], cells.reg[idx], cells.reg_w[idx]
    base, bg = cells.base[idx], cells.background[idx]
    grad = np.zeros_like(out)
    z = out[:, 0]
    p = np.clip(_sigmoid(z), 1e-4, 1 - 1e-4)
    fg = ~bg
    pos = fg & (heat >= 1.0)
    n_pos = max(1.0, float(pos.sum()))
    pb = _sigmoid(base[:, 0])
    neg = fg & ~pos
    loss = -np.sum((1 - p[pos]) ** 2 * np.log(p[pos]))
    grad[pos, 0] = 2 * p[pos] * (1 - p[pos]) ** 2 * np.log(p[pos]) - (1 - p[pos]) ** 3
    wn = weight[neg] * (1 - heat[neg]) ** 4
    loss += -np.sum(wn * p[neg] ** 2 * np.log(1 - p[neg]))
    grad[neg, 0] = -wn * (2 * p[neg] ** 2 * (1 - p[neg]) * np.log(1 - p[neg]) - p[neg] ** 3)
    loss, grad[:, 0] = loss / n_pos, grad[:, 0] / n_pos
    # Measures, near reviewed cars.
    w = reg_w / max(1.0, float(reg_w.sum()))
    d = out[:, 1:6] - reg
    beta = 0.2
    small = np.abs(d) < beta
    loss += float(np.sum(w[:, None] * np.where(small, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)))
    grad[:, 1:6] += w[:, None] * np.where(small, d / beta, np.sign(d))
    # Elsewhere, and the kinds everywhere: the base network's answer.
    n = max(1.0, float(len(idx)))
    w_heat = background_weight * BACKGROUND_HEAT_WEIGHT / n
    loss += w_heat * float(np.sum(bg * -(pb * np.log(p) + (1 - pb) * np.log(1 - p))))
    grad[:, 0] += w_heat * bg * (p - pb)
    keep = np.where(bg[:, None], 1.0, 0.0) * np.ones((1, out.shape[1]))
    keep[:, 0] = 0.0
    keep[:, 6:] = 1.0
    d = (out - base) * keep
    loss += background_weight * float(np.sum(d * d)) / n
    grad += background_weight * 2 * d / n
    return loss, grad


def train_tail(cells: Cells, base: Tail, settings: AdaptSettings, rng, progress: Callable[[float], None],
               is_canceled: CancelFn) -> Tail:
    """Adam on the tail (or the head alone) from the base weights, held near them."""
    tail = Tail(*(p.copy() for p in base.params()))
    trained = [0, 1, 2, 3] if settings.train == TRAIN_LAST else [2, 3]
    params = tail.params()
    base_params = base.params()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    n = len(cells.heat)
    steps_per_epoch = max(1, n // settings.batch)
    total = settings.epochs * steps_per_epoch
    step = 0
    for epoch in range(settings.epochs):
        order = rng.permutation(n)
        for k in range(steps_per_epoch):
            if is_canceled():
                raise AdaptCanceled()
            idx = order[k * settings.batch : (k + 1) * settings.batch]
            xb = cells.x[idx].astype(np.float32)
            if settings.train == TRAIN_LAST:
                a = xb @ tail.w1.T + tail.b1
                h = np.maximum(a, 0.0)
            else:
                h = xb
            out = h @ tail.w2.T + tail.b2
            _, g = loss_gradient(out, cells, idx, settings.background_weight)
            grads = [None, None, g.T @ h, g.sum(axis=0)]
            if settings.train == TRAIN_LAST:
                ga = (g @ tail.w2) * (a > 0)
                grads[0], grads[1] = ga.T @ xb, ga.sum(axis=0)
            step += 1
            lr = settings.learning_rate * 0.5 * (1 + math.cos(math.pi * step / total))
            for i in trained:
                gi = grads[i] + settings.keep_near_base * (params[i] - base_params[i])
                m[i] = 0.9 * m[i] + 0.1 * gi
                v[i] = 0.999 * v[i] + 0.001 * gi * gi
                mh, vh = m[i] / (1 - 0.9 ** step), v[i] / (1 - 0.999 ** step)
                params[i] -= lr * mh / (np.sqrt(vh) + 1e-8)
        progress((epoch + 1) / settings.epochs)
    return tail


def blend(base: Dict[str, np.ndarray], trained: Dict[str, np.ndarray], share: float) -> Dict[str, np.ndarray]:
    """Weights ``share`` of the way from ``base`` to ``trained``. Halfway kept what adapting
    gained on the reviewed site and lost nothing elsewhere (README: the trained weights alone saw
    new false cars in unreviewed parts of the real yard and lost 0.04 F1 on the benchmark)."""
    return {k: (np.asarray(base[k], np.float32) + share * (np.asarray(trained[k], np.float32) - base[k])).astype(np.float32)
            for k in base}


# --- calibration and scoring --------------------------------------------------------------------

@dataclass
class _Found:
    col_px: float
    row_px: float
    logit: float


def detections(scene: ReviewedScene, model: DetectorModel, floor: float = 0.01) -> List[_Found]:
    """Every car ``model`` finds near the reviewed cars, down to ``floor``, as (position, logit)."""
    gsd = gsd_xy(scene.gsd_m)
    pos = np.array([[c.col_px, c.row_px] for c in scene.cars])
    margin = np.array([120.0 / gsd[0], 120.0 / gsd[1]])
    lo = np.maximum(0, np.floor(pos.min(axis=0) - margin)).astype(int)
    hi = np.minimum([scene.image.shape[1], scene.image.shape[0]], np.ceil(pos.max(axis=0) + margin)).astype(int)
    window = scene.image[lo[1] : hi[1], lo[0] : hi[0]]
    mask = None if scene.valid is None else scene.valid[lo[1] : hi[1], lo[0] : hi[0]]
    result = detect_railcars_in_array(window, gsd, DetectionParams(confidence_floor=floor), mask=mask, model=model)
    return [_Found(c.col_px + lo[0], c.row_px + lo[1], float(logit(c.confidence))) for c in result.all_cars]


def _near(found: Sequence[_Found], cars: Sequence[ReviewedCar], gsd) -> List[_Found]:
    if not cars or not found:
        return []
    f = np.array([[c.col_px * gsd[0], c.row_px * gsd[1]] for c in found])
    t = np.array([[c.col_px * gsd[0], c.row_px * gsd[1]] for c in cars])
    d = np.hypot(f[:, None, 0] - t[None, :, 0], f[:, None, 1] - t[None, :, 1]).min(axis=1)
    return [c for c, dist in zip(found, d) if dist <= SCORE_REACH_M]


def marked(found: Sequence[_Found], cars: Sequence[ReviewedCar], others: Sequence[ReviewedCar], gsd,
           everywhere: bool = False) -> Tuple[List[_Found], np.ndarray]:
    """The detections near ``cars`` (``everywhere``: all of them: the review is taken to be
    exhaustive, a place without a reviewed car holds none) that are neither on an unreviewed car
    nor on a reviewed car of ``others`` (the other part of the split), and which of them are cars
    of ``cars``."""
    near = list(found) if everywhere else _near(found, cars, gsd)
    g = math.sqrt(gsd[0] * gsd[1])
    elsewhere = [c for c in cars if c.status == IGNORE] + [c for c in others if c.status != NEGATIVE]
    if elsewhere and near:
        _, pairs = match(near, elsewhere, g)
        drop = {i for i, _ in pairs}
        near = [c for i, c in enumerate(near) if i not in drop]
    positives = [c for c in cars if c.status == POSITIVE]
    right = np.zeros(len(near))
    if positives and near:
        _, pairs = match(near, positives, g)
        right[[i for i, _ in pairs]] = 1.0
    return near, right


def score(found: Sequence[_Found], cars: Sequence[ReviewedCar], others: Sequence[ReviewedCar], gsd,
          scale: float = 1.0, shift: float = 0.0, min_confidence: float = 0.5, everywhere: bool = False) -> Score:
    """The detections at or above ``min_confidence`` (after calibration ``scale``, ``shift``)
    against the reviewed cars ``cars``: their positives are the truth, only detections near them
    count, and detections on unreviewed cars or on the cars of ``others`` are don't-cares."""
    kept = [c for c in found if _sigmoid(scale * c.logit + shift) >= min_confidence]
    near, right = marked(kept, cars, others, gsd, everywhere)
    n_true = sum(1 for c in cars if c.status == POSITIVE)
    tp = int(right.sum())
    return Score(tp, len(near) - tp, n_true - tp, n_true, len(near))


def calibration(found_per_scene, cars_per_scene, gsd_per_scene, others_per_scene=None,
                everywhere: bool = False) -> Tuple[float, float]:
    """Platt's (a, b) for the detections near the reviewed cars ``cars_per_scene`` (those on
    ``others_per_scene`` left out); (1, 0) when they are all right or all wrong."""
    logits, rights = [], []
    others_per_scene = others_per_scene or [[] for _ in found_per_scene]
    for found, cars, gsd, others in zip(found_per_scene, cars_per_scene, gsd_per_scene, others_per_scene):
        near, right = marked(found, cars, others, gsd, everywhere)
        logits += [c.logit for c in near]
        rights += list(right)
    if len(set(rights)) < 2:
        return 1.0, 0.0
    try:
        return fit_platt(np.array(logits), np.array(rights))
    except ValueError:
        return 1.0, 0.0


@dataclass
class SpatialFolds:
    """The site cut across its longest extent into blocks of as many reviewed cars each."""

    axis: np.ndarray  # unit vector, ground metres
    centre: np.ndarray
    cuts: np.ndarray  # positions along the axis between blocks
    gsd: Tuple[float, float]

    def of(self, cols, rows) -> np.ndarray:
        pos = np.stack([np.asarray(cols, np.float64) * self.gsd[0], np.asarray(rows, np.float64) * self.gsd[1]], -1)
        return np.searchsorted(self.cuts, (pos.reshape(-1, 2) - self.centre) @ self.axis, side="right")


def _in_block(found: Sequence[_Found], blocks: SpatialFolds, fold: int) -> List[_Found]:
    if not found:
        return []
    which = blocks.of([d.col_px for d in found], [d.row_px for d in found])
    return [d for d, g in zip(found, which) if g == fold]


def spatial_folds(scene: ReviewedScene, folds: int) -> SpatialFolds:
    """``folds`` blocks of the site, each holding as many reviewed cars."""
    gsd = gsd_xy(scene.gsd_m)
    pos = np.array([[c.col_px * gsd[0], c.row_px * gsd[1]] for c in scene.cars]).reshape(-1, 2)
    centre = pos.mean(axis=0)
    axis = np.linalg.svd(pos - centre, full_matrices=False)[2][0] if len(pos) > 1 else np.array([1.0, 0.0])
    along = np.sort((pos - centre) @ axis)
    cuts = np.array([0.5 * (along[len(along) * f // folds - 1] + along[len(along) * f // folds])
                     for f in range(1, folds)]) if len(along) >= folds else np.zeros(0)
    return SpatialFolds(axis, centre, cuts, gsd)


# --- the whole adaptation ---------------------------------------------------------------------

def adapt(scenes: Sequence[ReviewedScene], base: DetectorModel, settings: AdaptSettings = AdaptSettings(),
          progress: Optional[ProgressFn] = None, is_canceled: Optional[CancelFn] = None) -> AdaptResult:
    """Adapt ``base`` to the reviewed ``scenes``; see the module's docstring."""
    start = time.perf_counter()
    report = progress or (lambda f, s: None)
    canceled = is_canceled or (lambda: False)
    if settings.train not in (TRAIN_HEAD, TRAIN_LAST):
        raise ValueError(f"train must be {TRAIN_HEAD!r} or {TRAIN_LAST!r}, not {settings.train!r}")
    scenes = [completed(s) for s in scenes]
    positives = sum(1 for s in scenes for c in s.cars if c.status == POSITIVE)
    negatives = sum(1 for s in scenes for c in s.cars if c.status == NEGATIVE)
    if positives < MIN_POSITIVES:
        raise AdaptError(f"{positives} accepted or added cars: at least {MIN_POSITIVES} are needed to adapt "
                         "the detector and check that it got better")
    k = settings.folds
    blocks = [spatial_folds(s, k) for s in scenes]
    fold_of = [b.of([c.col_px for c in s.cars], [c.row_px for c in s.cars]) for b, s in zip(blocks, scenes)]
    gsds = [gsd_xy(s.gsd_m) for s in scenes]
    rng = np.random.default_rng(settings.seed)
    trunk = Trunk(base.weights)
    base_tail = Tail.of(base.weights, trunk.k)
    shares = {"frames": 0.3, "measuring": 0.55, "final": 0.15}
    done = [0.0]

    def stage(name, parts=1):
        first, share = done[0], shares[name] / parts
        done[0] += share

        def update(fraction):
            report(min(1.0, first + share * min(1.0, fraction)), name)
        update(0.0)
        return update

    update = stage("frames")
    parts: List[Cells] = []
    for i, scene in enumerate(scenes):
        parts += scene_cells(scene, fold_of[i], trunk, base_tail, settings, rng,
                             lambda f, i=i: update((i + f) / len(scenes)), canceled)
    if not parts:
        raise AdaptError("no reviewed car lies on a part of the images the detector looks at")
    replay = replay_cells(trunk, base_tail, int(settings.replay_share * sum(int((~p.background).sum()) for p in parts)),
                          settings, rng)
    cells = Cells.join(parts + ([replay] if replay is not None else []))
    del parts

    def trained(cells_used, update_fraction) -> Dict[str, np.ndarray]:
        tail = train_tail(cells_used, base_tail, settings, rng, update_fraction, canceled)
        return tail.into(base.weights, trunk.k)

    # Each block held out in turn: the model trained without it runs on it. Its confidence is
    # calibrated on those held-out detections (near the cars a model learnt from, detections are
    # too often right), and the model kept is halfway between it and the base (``blend``); that
    # model and the base are then scored on each held-out block.
    base_found = [detections(s, base) for s in scenes]
    per_fold = []  # (trained weights, [(found, held, train, gsd, base found) per scene])
    for f in range(k):
        update = stage("measuring", k)
        weights = trained(cells.without_fold(f), lambda x: update(0.6 * x))
        trial = DetectorModel(fn.FrameNet(weights), "trial", "")
        rows = []
        for i, s in enumerate(scenes):
            rows.append((_in_block(detections(s, trial), blocks[i], f), [c for c, g in zip(s.cars, fold_of[i]) if g == f],
                         [c for c, g in zip(s.cars, fold_of[i]) if g != f], gsds[i], _in_block(base_found[i], blocks[i], f)))
        per_fold.append((weights, rows))
        update(0.8)
    rows = [r for _, fold_rows in per_fold for r in fold_rows]
    a, b = calibration([r[0] for r in rows], [r[1] for r in rows], [r[3] for r in rows], [r[2] for r in rows],
                       everywhere=True)
    base_score, trial_score = Score(0, 0, 0, 0, 0), Score(0, 0, 0, 0, 0)
    for f, (weights, fold_rows) in enumerate(per_fold):
        kept = DetectorModel(fn.FrameNet(blend(base.weights, fold_calibration(weights, a, b), settings.blend)), "kept", "")
        for i, (_, held, train, gsd, found_by_base) in enumerate(fold_rows):
            base_score = base_score + score(found_by_base, held, train, gsd, everywhere=True)
            found = _in_block(detections(scenes[i], kept), blocks[i], f)
            trial_score = trial_score + score(found, held, train, gsd, everywhere=True)
    figures = Figures(base_score, trial_score)
    better = (trial_score.f1 > base_score.f1 + 1e-9 or
              (abs(trial_score.f1 - base_score.f1) <= 1e-9
               and Figures.count_error(trial_score) < Figures.count_error(base_score)))
    update = stage("final")
    if better:  # the model to keep learns from every reviewed car
        final = blend(base.weights, fold_calibration(trained(cells, update), a, b), settings.blend)
    else:
        final = {key: np.array(v, np.float32) for key, v in base.weights.items()}
    report(1.0, "done")
    seconds = time.perf_counter() - start
    header = {
        "base_model": base.label,
        "adapted": bool(better),
        "scenes": [{"name": s.name, "positives": sum(c.status == POSITIVE for c in s.cars),
                    "negatives": sum(c.status == NEGATIVE for c in s.cars)} for s in scenes],
        "positives": positives,
        "negatives": negatives,
        "validation": dict(figures.as_dict(), folds=k),
        "trained": settings.train,
        "seconds": round(seconds, 1),
    }
    return AdaptResult(final, bool(better), figures, positives, negatives, base_score.n_true, seconds, header)
