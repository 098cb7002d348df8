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
   counts as false). The base is kept unless the kept model scores a higher
   F1 and is right where the base is wrong on clearly more held-out cars and
   false detections than the reverse (beyond chance: ``adapt_scoring.Paired``);
   otherwise the model that is saved learnt from every reviewed car.

The parts: ``adapt_review`` (reviewed cars, bare points made whole),
``adapt_network`` (the network cut into fixed layers and the tail),
``adapt_cells`` (step 1 and 2), ``adapt_training`` (3), ``adapt_scoring``
(4); this module puts them together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .adapt_cells import Cells, replay_cells, scene_cells
from .adapt_network import Tail, Trunk
from .adapt_review import IGNORE, NEGATIVE, POSITIVE, ReviewedCar, ReviewedScene, completed
from .adapt_scoring import Paired, calibration, detections, in_block, paired, score, spatial_folds
from .adapt_settings import TRAIN_HEAD, TRAIN_LAST, AdaptCanceled, AdaptError, AdaptSettings, CancelFn, ProgressFn
from .adapt_training import blend, train_tail
from .calibration import fold_calibration
from .matching import Score
from .model import gsd_xy
from .model_file import DetectorModel, model_from_weights

# What callers use; the parts live in the adapt_* modules.
__all__ = ["IGNORE", "NEGATIVE", "POSITIVE", "TRAIN_HEAD", "TRAIN_LAST", "AdaptCanceled", "AdaptError", "AdaptResult",
           "AdaptSettings", "Figures", "ReviewedCar", "ReviewedScene", "adapt", "completed", "spatial_folds"]

MIN_POSITIVES = 20


@dataclass
class Figures:
    base: Score
    adapted: Score
    paired: Paired = field(default_factory=Paired)  # the cars on which the two differ

    @staticmethod
    def count_error(s: Score) -> float:
        return abs(s.n_found - s.n_true) / max(s.n_true, 1)

    def as_dict(self) -> Dict:
        figures = {name: {"f1": round(s.f1, 4), "precision": round(s.precision, 4), "recall": round(s.recall, 4),
                          "count_error": round(self.count_error(s), 4), "true": s.n_true, "found": s.n_found}
                   for name, s in (("base", self.base), ("adapted", self.adapted))}
        figures["differing"] = {"gains": self.paired.gains, "losses": self.paired.losses,
                                "chance": round(self.paired.chance, 4)}
        return figures


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
        d = self.figures.paired
        verdict = ("the adapted model is kept" if self.adapted else
                   "adapting did not help beyond chance on the held-out cars: the base model is kept")
        return (f"reviewed cars, each part of the site held out in turn ({self.held_out} cars): base F1 {b.f1:.3f}, count error "
                f"{100 * Figures.count_error(b):.1f} %; adapted F1 {a.f1:.3f}, count error "
                f"{100 * Figures.count_error(a):.1f} %; the adapted model is right where the base is wrong on "
                f"{d.gains} cars or false detections and wrong where it is right on {d.losses} "
                f"(by chance: {100 * d.chance:.0f} %); {verdict}")


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
    # too often right; the network's own confidence, before string support), and the model kept
    # is halfway between it and the base (``blend``); that model and the base are then scored on
    # each held-out block as the detector runs them: the shipped base with string support, the
    # kept model on its own confidence (model_file.DetectorModel.string_support).
    base_found = [detections(s, base) for s in scenes]
    per_fold = []  # (trained weights, [(found, held, train, gsd, base found) per scene])
    for f in range(k):
        update = stage("measuring", k)
        weights = trained(cells.without_fold(f), lambda x: update(0.6 * x))
        trial = model_from_weights(weights, "trial")
        rows = []
        for i, s in enumerate(scenes):
            held = [c for c, g in zip(s.cars, fold_of[i]) if g == f]
            trained_on = [c for c, g in zip(s.cars, fold_of[i]) if g != f]
            rows.append((in_block(detections(s, trial, for_calibration=True), blocks[i], f), held, trained_on,
                         gsds[i], in_block(base_found[i], blocks[i], f)))
        per_fold.append((weights, rows))
        update(0.8)
    rows = [r for _, fold_rows in per_fold for r in fold_rows]
    a, b = calibration([r[0] for r in rows], [r[1] for r in rows], [r[3] for r in rows], [r[2] for r in rows],
                       everywhere=True)
    base_score, trial_score, differing = Score(0, 0, 0, 0, 0), Score(0, 0, 0, 0, 0), Paired()
    for f, (weights, fold_rows) in enumerate(per_fold):
        kept = model_from_weights(blend(base.weights, fold_calibration(weights, a, b), settings.blend), "kept")
        for i, (_, held, train, gsd, found_by_base) in enumerate(fold_rows):
            base_score = base_score + score(found_by_base, held, train, gsd, everywhere=True)
            found = in_block(detections(scenes[i], kept), blocks[i], f)
            trial_score = trial_score + score(found, held, train, gsd, everywhere=True)
            differing = differing + paired(found_by_base, found, held, train, gsd, everywhere=True)
    figures = Figures(base_score, trial_score, differing)
    # More right than wrong beyond chance (adapt_scoring.Paired), and a higher F1: a missed car
    # and a false detection weigh alike in the tally, not in F1.
    better = (differing.beyond_chance() and trial_score.f1 > base_score.f1) or settings.keep_always
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
