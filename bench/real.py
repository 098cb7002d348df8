"""Accuracy of the detector on real, hand-labelled imagery (``../shared/real``).

    .venv/bin/python bench/real.py                        # every scene, shipped weights
    .venv/bin/python bench/real.py --frame-net bench/out/frame_net.npz --sweep
    .venv/bin/python bench/real.py --calibration          # is the confidence a probability here too?
    .venv/bin/python bench/real.py --painted-out          # also the yard with its label outlines painted out
    .venv/bin/python bench/real.py --half east --frame-net W   # a network trained on the west half's pixels
    .venv/bin/python bench/real.py --spread               # how far the yard's F1 can be trusted

The images may be evaluated, not redistributed: they are read where they lie
and never copied. Without that folder the script says so and exits 0.

Per scene it prints true cars, found, true among found, precision, recall,
F1 and count error, matched as in ``bench/accuracy.py`` (a detection matches
a true car within 40 % of the car's length, one to one). A car labelled
``disputed`` is a don't-care: a detection on it is neither right nor wrong and
missing it costs nothing. The yard is also scored resampled to 0.7 m (area
average, as a coarser product would deliver it). A scene without railcars (the
bus depot) reports its false cars only; the single-track labels are rough
(about +-5 px), so that scene is a sanity check, not a measure.

``--painted-out`` adds the yard as some labelled aerial sets are delivered:
enlarged to 0.2 m, each car's label outline (a 3 px line round a 2.9 m wide
box 0.3 m outside the car) drawn and inpainted away, and scored there and
averaged back to 0.5 m. It measures how much a detector leans on crisp car
edges and coupler gaps; the labels are the same, so it is no new truth.

``--spread`` says how far the yard's F1 can be trusted: a 90 % interval
from resampling its tracks (cars on one track are alike and are found or
missed together, so a track is the unit drawn, not a car), and the F1 after
changes no analyst would notice (the pixel size stated 4 % smaller or
larger; the image averaged to 0.55 or 0.6 m).

``--half west|east`` scores only that half of each labelled yard: the cars,
and the detections, on that side of the agreed cars' median column (the
split ``scripts/frame_net_collect_real.py`` trains on one side of). The
detector still sees the whole image. Use it for a network that learnt from
the other half's pixels: only the untouched half measures it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, replace
from typing import List, Optional

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.accuracy import SWEEP, use_detector  # noqa: E402
from bench.scoring import Score, match  # noqa: E402

REAL_DIR = os.environ.get("RAILWATCH_REAL_DIR", os.path.join(os.path.dirname(ROOT), "shared", "real"))


@dataclass
class LabelledCar:
    col_px: float
    row_px: float
    length_m: float
    heading_deg: float
    kind: str
    disputed: bool


@dataclass
class RealScene:
    name: str
    image: np.ndarray  # rows, cols, bands
    gsd_m: float
    cars: List[LabelledCar]
    rough: bool  # labels are a sanity check, not a measure
    retouched: bool = False  # changed by this bench (painted out): reported, kept out of the total


def real_scene_names(folder: str = REAL_DIR) -> List[str]:
    """Scene names (file stems) that have an image and a label file in ``folder``."""
    if not os.path.isdir(folder):
        return []
    return sorted(f[: -len(".tif")] for f in os.listdir(folder)
                  if f.endswith(".tif") and os.path.exists(os.path.join(folder, f[: -len(".tif")] + ".railcars.geojson")))


def load_real_scene(name: str, folder: str = REAL_DIR) -> RealScene:
    """The image (as GDAL reads it) and its labels, positions in image pixels."""
    from osgeo import gdal

    dataset = gdal.Open(os.path.join(folder, name + ".tif"))
    image = np.dstack([dataset.GetRasterBand(i + 1).ReadAsArray() for i in range(min(3, dataset.RasterCount))])
    gsd_m = abs(dataset.GetGeoTransform()[1])
    with open(os.path.join(folder, name + ".railcars.geojson")) as f:
        features = json.load(f)["features"]
    cars = []
    for feature in features:
        p = feature["properties"]
        # Label px/py are pixel indices; the detector's positions are continuous (pixel centre at +0.5).
        cars.append(LabelledCar(p["px"] + 0.5, p["py"] + 0.5, p.get("length_m") or 14.0, p.get("heading_deg") or 0.0,
                                p.get("kind", "unknown"), p.get("status") == "disputed"))
    rough = any(f["properties"].get("status") == "rough" for f in features)
    return RealScene(name, image, gsd_m, cars, rough)


def resampled(scene: RealScene, gsd_m: float) -> RealScene:
    """The same scene at a coarser pixel size (area average), labels moved along."""
    import cv2

    f = scene.gsd_m / gsd_m
    rows, cols = scene.image.shape[:2]
    size = (max(1, int(round(cols * f))), max(1, int(round(rows * f))))
    image = cv2.resize(scene.image, size, interpolation=cv2.INTER_AREA)
    fx, fy = size[0] / cols, size[1] / rows
    cars = [LabelledCar(c.col_px * fx, c.row_px * fy, c.length_m, c.heading_deg, c.kind, c.disputed) for c in scene.cars]
    return RealScene(f"{scene.name}@{gsd_m:g}m", image, scene.gsd_m / fx, cars, scene.rough, scene.retouched)


def painted_out(scene: RealScene, gsd_m: float = 0.2, thickness_px: int = 3, width_m: float = 2.9,
                pad_m: float = 0.3) -> RealScene:
    """``scene`` enlarged to ``gsd_m`` with every labelled car's outline drawn and inpainted away."""
    from railwatch_synth.canvas import heading_vectors, rect
    from railwatch_synth.retouch import outline_mask, paint_out

    fine = resampled(scene, gsd_m)
    boxes = [rect((car.col_px - 0.5, car.row_px - 0.5), *heading_vectors(car.heading_deg),
                  (car.length_m + 2 * pad_m) / fine.gsd_m, (width_m + 2 * pad_m) / fine.gsd_m) for car in fine.cars]
    image = paint_out(fine.image[:, :, :3], outline_mask(boxes, fine.image.shape, thickness_px),
                      radius_px=max(2.0, 1.5 * thickness_px))
    return RealScene(f"{scene.name}+painted", image, fine.gsd_m, fine.cars, scene.rough, retouched=True)


def has_agreed_labels(scene: RealScene) -> bool:
    """A labelled yard (two labellers, disputed cars marked) rather than a sanity check or an empty scene."""
    return any(c.disputed for c in scene.cars) or (len(scene.cars) > 20 and not scene.rough)


def agreed_matches(found, scene: RealScene):
    """(detections kept, agreed cars, matched pairs between them, Score): disputed cars
    are don't-cares, so detections on them are dropped and they are not counted as true."""
    _, pairs = match(found, scene.cars, scene.gsd_m)
    on_disputed = {i for i, j in pairs if scene.cars[j].disputed}
    kept = [c for i, c in enumerate(found) if i not in on_disputed]
    agreed = [c for c in scene.cars if not c.disputed]
    score, pairs = match(kept, agreed, scene.gsd_m)
    return kept, agreed, pairs, score


def score_scene(found, scene: RealScene) -> Score:
    """Score with disputed cars as don't-cares: detections on them are dropped
    from the found list; the disputed cars themselves are not counted as true."""
    return agreed_matches(found, scene)[3]


def detect(scene: RealScene, min_confidence: Optional[float] = None, string_support: bool = True):
    from railwatch_plugin.core import DetectionParams, detect_railcars_in_array

    params = DetectionParams(string_support=string_support)
    if min_confidence is not None:
        params = params.with_(min_confidence=min_confidence)
    return detect_railcars_in_array(scene.image, scene.gsd_m, params, workers=2)


def split_column(scene: RealScene) -> float:
    """The agreed cars' median column: the line between the yard's west and east halves."""
    return float(np.median([c.col_px for c in scene.cars if not c.disputed]))


def on_half(scene: RealScene, found, half: str):
    """(scene, found) kept to ``half`` ("west" or "east") of the split column."""
    split = split_column(scene)

    def keep(col: float) -> bool:
        return (col < split) == (half == "west")

    part = RealScene(f"{scene.name}[{half}]", scene.image, scene.gsd_m, [c for c in scene.cars if keep(c.col_px)],
                     scene.rough, scene.retouched)
    return part, [c for c in found if keep(c.col_px)]


def track_groups(scene: RealScene, gap_m: float = 2.5) -> np.ndarray:
    """Per agreed car, the index of its track: cars sorted by their offset across
    the cars' median heading, a new track wherever two neighbours are more than
    ``gap_m`` apart (tracks lie 4.5 m or more apart, cars of one track within a metre)."""
    agreed = [c for c in scene.cars if not c.disputed]
    xy = np.array([[c.col_px, -c.row_px] for c in agreed], np.float64) * scene.gsd_m  # east, north
    h = np.radians(np.median([c.heading_deg % 180.0 for c in agreed]))
    across = xy @ np.array([np.cos(h), -np.sin(h)])  # perpendicular to (sin h, cos h)
    order = np.argsort(across)
    group = np.zeros(len(agreed), int)
    group[order] = np.cumsum(np.r_[0, np.diff(across[order]) > gap_m])
    return group


def f1_interval(found, scene: RealScene, draws: int = 2000, seed: int = 0, share: float = 0.9):
    """The ``share`` interval of F1 over ``draws`` resamplings of the yard's tracks
    (with replacement); a detection belongs to the track of its nearest agreed car."""
    kept, agreed, pairs, _ = agreed_matches(found, scene)
    group = track_groups(scene)
    n = group.max() + 1
    tp = np.bincount(group[[j for _, j in pairs]], minlength=n)
    true = np.bincount(group, minlength=n)
    t = np.array([[c.col_px, c.row_px] for c in agreed])
    nearest = [int(np.argmin(np.hypot(*(t - [c.col_px, c.row_px]).T))) for c in kept]
    found_n = np.bincount(group[nearest], minlength=n) if kept else np.zeros(n, int)
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, n, size=(draws, n))
    tps, trues, founds = tp[draw].sum(1), true[draw].sum(1), found_n[draw].sum(1)
    f1 = 2 * tps / np.maximum(1, trues + founds)
    lo, hi = np.quantile(f1, [(1 - share) / 2, (1 + share) / 2])
    return float(lo), float(hi), int(n)


def unnoticeable_changes(scene: RealScene):
    """(what changed, scene) for changes no analyst would notice."""
    for factor in (0.96, 1.04):
        yield f"pixel size stated x{factor:g}", replace(scene, gsd_m=scene.gsd_m * factor)
    for gsd in (0.55, 0.6):
        if gsd > scene.gsd_m * 1.05:
            yield f"averaged to {gsd:g} m", resampled(scene, gsd)


def calibration_rows(found_all, scene: RealScene, edges=(0.1, 0.3, 0.5, 0.7, 0.9, 1.01)):
    """(low, high, n, mean confidence, fraction true) per confidence bin, disputed dropped."""
    _, pairs = match(found_all, scene.cars, scene.gsd_m)
    truth_of = {i: j for i, j in pairs}
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        picked = [(i, c) for i, c in enumerate(found_all) if lo <= c.confidence < hi
                  and not (i in truth_of and scene.cars[truth_of[i]].disputed)]
        if picked:
            true = sum(1 for i, _ in picked if i in truth_of)
            rows.append((lo, hi, len(picked), float(np.mean([c.confidence for _, c in picked])), true / len(picked)))
    return rows


def print_spread(published, half: Optional[str], min_confidence: Optional[float], string_support: bool = True) -> None:
    """For each labelled yard at its own pixel size (``published``: scene as loaded ->
    (the scored part of it, the cars found there), as the main table scored it): F1,
    its interval over its tracks, and F1 after unnoticeable changes."""
    print("spread: F1 with a 90 % interval from resampling the yard's tracks, then after unnoticeable changes")
    for scene, (part, found) in published:
        lo, hi, tracks = f1_interval(found, part)
        print(f"  {part.name:<26} {'as published':<26} F1 {score_scene(found, part).f1:.3f}  "
              f"(90 % interval {lo:.3f}-{hi:.3f}, {tracks} tracks)")
        for what, variant in unnoticeable_changes(scene):
            found = detect(variant, min_confidence, string_support).cars
            part, found = on_half(variant, found, half) if half else (variant, found)
            print(f"  {part.name:<26} {what:<26} F1 {score_scene(found, part).f1:.3f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frame-net", help="frame network weights to detect with instead of the shipped ones")
    ap.add_argument("--min-confidence", type=float, help="threshold instead of the default")
    ap.add_argument("--sweep", action="store_true", help="F1 and count error at other thresholds too")
    ap.add_argument("--calibration", action="store_true", help="fraction of true cars per confidence bin")
    ap.add_argument("--also-gsd", type=float, nargs="*", default=[0.7], help="resample the labelled yard to these too")
    ap.add_argument("--painted-out", action="store_true",
                    help="also the labelled yard with its label outlines painted out, at 0.2 m and back at its own GSD")
    ap.add_argument("--spread", action="store_true",
                    help="the yard's F1 interval from resampling its tracks, and F1 after unnoticeable changes")
    ap.add_argument("--without-string-support", action="store_true",
                    help="the network's confidence alone, without core/string_support.py (to measure what it adds)")
    ap.add_argument("--half", choices=("west", "east"),
                    help="score only this half of the labelled yard (for a network trained on the other half)")
    a = ap.parse_args(argv)
    names = real_scene_names()
    if not names:
        print(f"bench/real.py: no real scenes in {REAL_DIR}; nothing to measure.")
        return 0
    use_detector(a.frame_net)
    scenes, yards = [], []  # yards: the labelled ones as published, for --spread
    for name in names:
        scene = load_real_scene(name)
        scenes.append(scene)
        if has_agreed_labels(scene):
            if not scene.rough:
                yards.append(scene)
            scenes += [resampled(scene, g) for g in a.also_gsd]
            if a.painted_out:
                fine = painted_out(scene)
                scenes += [fine, resampled(fine, scene.gsd_m)]
    print(f"RailWatch detector on real imagery ({REAL_DIR})")
    print(f"{'scene':<28} {'GSD m':>6} {'true':>5} {'found':>5} {'tp':>4} {'prec':>6} {'recall':>6} {'F1':>6} {'count err':>9}")
    total = Score(0, 0, 0, 0, 0)
    calib, sweeps, published = [], {}, []
    for scene in scenes:
        loaded = scene
        result = detect(scene, a.min_confidence, not a.without_string_support)
        if a.half and scene.cars and not scene.rough:
            scene, kept_all = on_half(scene, result.all_cars, a.half)
            result = replace(result, all_cars=kept_all)
        if any(loaded is y for y in yards):
            published.append((loaded, (scene, result.cars)))
        s = score_scene(result.cars, scene)
        note = " (labels rough)" if scene.rough else " (outlines painted out here)" if scene.retouched else ""
        if not scene.cars:
            print(f"{scene.name:<28} {scene.gsd_m:>6.3f} {0:>5} {s.n_found:>5} {'':>4} {'':>6} {'':>6} {'':>6} "
                  f"{'':>9}  <- {s.n_found} false railcars on a scene without any")
            continue
        err = abs(s.n_found - s.n_true) / s.n_true
        print(f"{scene.name:<28} {scene.gsd_m:>6.3f} {s.n_true:>5} {s.n_found:>5} {s.tp:>4} {s.precision:>6.3f} "
              f"{s.recall:>6.3f} {s.f1:>6.3f} {100 * err:>8.1f}%{note}")
        if not scene.rough:
            if not scene.retouched:
                total = total + s
            calib += [(scene.name, calibration_rows(result.all_cars, scene))]
            sweeps[scene.name] = {t: score_scene(result.filtered(t), scene) for t in SWEEP}
    if total.n_true:
        print(f"{'labelled yards, all':<28} {'':>6} {total.n_true:>5} {total.n_found:>5} {total.tp:>4} "
              f"{total.precision:>6.3f} {total.recall:>6.3f} {total.f1:>6.3f} "
              f"{100 * abs(total.n_found - total.n_true) / total.n_true:>8.1f}%")
    print("count err = |found - true| / true, on agreed cars (disputed ones are don't-cares)")
    if a.spread:
        print_spread(published, a.half, a.min_confidence, not a.without_string_support)
    if a.sweep:
        for name, by_t in sweeps.items():
            for t, s in by_t.items():
                print(f"threshold {t:.2f} {name}: precision {s.precision:.3f} recall {s.recall:.3f} F1 {s.f1:.3f} "
                      f"count err {100 * abs(s.n_found - s.n_true) / max(s.n_true, 1):.1f} %")
    if a.calibration:
        print("calibration: per confidence bin, detections, mean confidence, fraction that are true cars")
        for name, rows in calib:
            for lo, hi, n, mean_c, frac in rows:
                print(f"  {name:<24} [{lo:.1f}, {min(hi, 1):.1f}) n={n:>4} mean conf {mean_c:.2f} true {frac:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
