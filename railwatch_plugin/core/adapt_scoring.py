"""Judging an adaptation on held-out reviewed cars: detections near them, scores, calibration, spatial blocks.

The review is taken to be exhaustive where it says so: a detection near
held-out reviewed cars is right when it matches an accepted or added one,
wrong otherwise, and a don't-care on an unreviewed car or on a car the model
learnt from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Set, Tuple

import numpy as np

from .adapt_review import IGNORE, NEGATIVE, POSITIVE, USUAL_LENGTH_M, ReviewedCar, ReviewedScene
from .calibration import fit_platt, logit, sigmoid
from .detect import detect_railcars_in_array
from .matching import MATCH_FRACTION_OF_LENGTH, Score, match
from .model import DetectionParams, gsd_xy
from .model_file import DetectorModel

SCORE_REACH_M = 30.0  # a detection this close to a held-out reviewed car is scored
CALIBRATION_FLOOR = 0.01  # a calibration sees the doubtful detections too


@dataclass
class _Found:
    col_px: float
    row_px: float
    logit: float


def detections(scene: ReviewedScene, model: DetectorModel, for_calibration: bool = False) -> List[_Found]:
    """Every car ``model`` finds near the reviewed cars, as (position, logit). As the detector
    runs it, for the scores to judge; ``for_calibration``: the network's own confidence (no
    string support) down to ``CALIBRATION_FLOOR``, which a calibration is fitted to."""
    gsd = gsd_xy(scene.gsd_m)
    pos = np.array([[c.col_px, c.row_px] for c in scene.cars])
    margin = np.array([120.0 / gsd[0], 120.0 / gsd[1]])
    lo = np.maximum(0, np.floor(pos.min(axis=0) - margin)).astype(int)
    hi = np.minimum([scene.image.shape[1], scene.image.shape[0]], np.ceil(pos.max(axis=0) + margin)).astype(int)
    window = scene.image[lo[1] : hi[1], lo[0] : hi[0]]
    mask = None if scene.valid is None else scene.valid[lo[1] : hi[1], lo[0] : hi[0]]
    params = (DetectionParams(confidence_floor=CALIBRATION_FLOOR, string_support=False) if for_calibration
              else DetectionParams())
    result = detect_railcars_in_array(window, gsd, params, mask=mask, model=model)
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
    near, right, _ = _judged(found, cars, others, gsd, everywhere)
    return near, right


def _judged(found, cars, others, gsd, everywhere) -> Tuple[List[_Found], np.ndarray, Set[int]]:
    """``marked``, and the indices in ``cars`` of the positives the detections find."""
    near = list(found) if everywhere else _near(found, cars, gsd)
    g = math.sqrt(gsd[0] * gsd[1])
    elsewhere = [c for c in cars if c.status == IGNORE] + [c for c in others if c.status != NEGATIVE]
    if elsewhere and near:
        _, pairs = match(near, elsewhere, g)
        drop = {i for i, _ in pairs}
        near = [c for i, c in enumerate(near) if i not in drop]
    index = [i for i, c in enumerate(cars) if c.status == POSITIVE]
    right, hit = np.zeros(len(near)), set()
    if index and near:
        _, pairs = match(near, [cars[i] for i in index], g)
        right[[i for i, _ in pairs]] = 1.0
        hit = {index[j] for _, j in pairs}
    return near, right, hit


def score(found: Sequence[_Found], cars: Sequence[ReviewedCar], others: Sequence[ReviewedCar], gsd,
          scale: float = 1.0, shift: float = 0.0, min_confidence: float = 0.5, everywhere: bool = False) -> Score:
    """The detections at or above ``min_confidence`` (after calibration ``scale``, ``shift``)
    against the reviewed cars ``cars``: their positives are the truth, only detections near them
    count, and detections on unreviewed cars or on the cars of ``others`` are don't-cares."""
    near, right = marked(counted(found, min_confidence, scale, shift), cars, others, gsd, everywhere)
    n_true = sum(1 for c in cars if c.status == POSITIVE)
    tp = int(right.sum())
    return Score(tp, len(near) - tp, n_true - tp, n_true, len(near))


@dataclass
class _Spot:
    """A place as ``match`` takes it: a false detection as a car of the usual length (two models'
    false detections within its reach are the same one), or a car as far as its own length."""
    col_px: float
    row_px: float
    length_m: float = USUAL_LENGTH_M


@dataclass
class Paired:
    """Two models compared on the same held-out reviewed cars, thing by thing. F1 over three
    blocks of about 100 cars in all moves by a car or two by chance, and the held-out blocks share
    the reviewed day's light and strings, so they promise more than other images give
    (bench/adapt.py: gains of 0.01-0.02 F1 there came with losses of as much on the site's other
    days). The adapted model is kept only when what it gains is more than chance (a one-sided
    sign test)."""

    gains: int = 0  # held-out cars only the adapted model finds, false detections only the base makes
    losses: int = 0  # held-out cars only the base finds, false detections only the adapted model makes

    def __add__(self, other: "Paired") -> "Paired":
        return Paired(self.gains + other.gains, self.losses + other.losses)

    @property
    def chance(self) -> float:
        """The chance of at least ``gains`` of the things the models differ on going the adapted
        model's way if neither model were better: each a coin toss."""
        n = self.gains + self.losses
        return sum(math.comb(n, k) for k in range(self.gains, n + 1)) / 2 ** n if n else 1.0

    def beyond_chance(self, at_most: float = 0.05) -> bool:
        """More gains than losses, and more than chance would give (5 to 0, 7 to 1, 9 to 2, ...)."""
        return self.gains > self.losses and self.chance <= at_most


def paired(base_found: Sequence[_Found], found: Sequence[_Found], cars: Sequence[ReviewedCar],
           others: Sequence[ReviewedCar], gsd, everywhere: bool = False) -> Paired:
    """The things the detections at or above 0.5 of ``found`` and ``base_found`` differ on,
    judged as ``score`` judges them. Each counts once: a car one model finds where the other
    has a false detection within a car's length (the same car placed or cut two ways) is one
    gain or loss, not a car found and a false detection gone."""
    g = math.sqrt(gsd[0] * gsd[1])
    judged = []
    for dets in (base_found, found):
        near, right, hit = _judged(counted(dets), cars, others, gsd, everywhere)
        judged.append((hit, [_Spot(c.col_px, c.row_px) for c, r in zip(near, right) if not r]))
    (base_hit, base_false), (hit, false) = judged
    _, same = match(false, base_false, g)
    in_both, in_both_base = {i for i, _ in same}, {j for _, j in same}
    false_only = [c for i, c in enumerate(false) if i not in in_both]
    base_false_only = [c for j, c in enumerate(base_false) if j not in in_both_base]

    def one_each(found_only, false_of_other) -> int:
        """Cars only one model finds, and the other's false detections: a pair within a car's length
        of each other once."""
        within_a_length = [_Spot(cars[i].col_px, cars[i].row_px, cars[i].length_m / MATCH_FRACTION_OF_LENGTH)
                           for i in found_only]
        _, near = match(false_of_other, within_a_length, g)
        return len(found_only) + len(false_of_other) - len(near)

    return Paired(one_each(sorted(hit - base_hit), base_false_only), one_each(sorted(base_hit - hit), false_only))


def counted(found: Sequence[_Found], min_confidence: float = 0.5, scale: float = 1.0,
            shift: float = 0.0) -> List[_Found]:
    """The detections a run counts: at or above ``min_confidence`` (after calibration ``scale``, ``shift``)."""
    return [c for c in found if sigmoid(scale * c.logit + shift) >= min_confidence]


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


def in_block(found: Sequence[_Found], blocks: SpatialFolds, fold: int) -> List[_Found]:
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
