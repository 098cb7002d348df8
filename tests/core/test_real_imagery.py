"""Floors on real, hand-labelled imagery (``../shared/real``), without QGIS.

The images may be evaluated, not redistributed, so they are read where they
lie and never copied; without that folder these tests are skipped. Scored as
``bench/real.py`` scores them: a detection matches a true car within 40 % of
its length, one to one; a car the two labellers disputed is a don't-care.

The floors sit a little under what the shipped network measures (README,
"Real imagery"), so a change that loses real cars fails here even when the
synthetic benchmark does not notice. The product's promise; do not lower
them to make a change pass.

The shipped network learnt from the yard's west half (issue 12 allows
training on real pixels when part of the scene is held out): the floors that
measure it are on the east half, which no training saw; the whole yard's
floors are kept from before so that nothing already found is lost.
"""

from __future__ import annotations

import pytest

from bench.real import REAL_DIR, load_real_scene, on_half, real_scene_names, resampled, score_scene
from railwatch_plugin.core import detect_railcars_in_array

pytestmark = pytest.mark.skipif(not real_scene_names(), reason=f"no real scenes in {REAL_DIR}")

YARD = "hsr_yard_0.5m"
# The whole yard, half of it the shipped network's training (2026-12-07, with
# string support): F1 0.966 / 0.947, count error 0.0 / 1.7 % (the network
# alone: 0.936 / 0.951, 6.8 / 4.0 %; p4, before real pixels: 0.886 / 0.875,
# 16.4 / 14.1 %).
YARD_MIN_F1 = {0.5: 0.95, 0.7: 0.93}
YARD_MAX_COUNT_ERROR = {0.5: 0.05, 0.7: 0.05}
# The east half, never trained on (89 agreed cars): F1 0.932 / 0.927, count
# error 2.2 / 1.1 % with string support (the network alone: 0.901 / 0.930,
# 7.9 / 6.7 %; p4: 0.890 / 0.893, 15.7 / 11.2 %). The floors are issue 12's
# targets.
HELD_OUT_HALF = "east"
HALF_MIN_F1 = {0.5: 0.92, 0.7: 0.92}
HALF_MAX_COUNT_ERROR = {0.5: 0.08, 0.7: 0.08}
BUS_DEPOT_MAX_FALSE = 1


def _cars(scene):
    return detect_railcars_in_array(scene.image, scene.gsd_m, workers=2).cars


def _score(scene):
    return score_scene(_cars(scene), scene)


def _yard(gsd_m):
    scene = load_real_scene(YARD)
    return scene if gsd_m == scene.gsd_m else resampled(scene, gsd_m)


@pytest.mark.parametrize("gsd_m", sorted(YARD_MIN_F1))
def test_real_yard_cars_are_found(gsd_m):
    s = _score(_yard(gsd_m))
    count_error = abs(s.n_found - s.n_true) / s.n_true
    assert s.n_true == 177
    assert s.f1 >= YARD_MIN_F1[gsd_m], f"F1 {s.f1:.3f}: {s.tp} of {s.n_true} true cars among {s.n_found} found"
    assert count_error <= YARD_MAX_COUNT_ERROR[gsd_m], f"{s.n_found} found for {s.n_true}"


@pytest.mark.parametrize("gsd_m", sorted(HALF_MIN_F1))
def test_real_yard_cars_are_found_on_the_half_no_training_saw(gsd_m):
    scene = _yard(gsd_m)
    half, found = on_half(scene, _cars(scene), HELD_OUT_HALF)
    s = score_scene(found, half)
    count_error = abs(s.n_found - s.n_true) / s.n_true
    assert s.n_true == 89
    assert s.f1 >= HALF_MIN_F1[gsd_m], f"F1 {s.f1:.3f}: {s.tp} of {s.n_true} true cars among {s.n_found} found"
    assert count_error <= HALF_MAX_COUNT_ERROR[gsd_m], f"{s.n_found} found for {s.n_true}"


def test_buses_parked_side_by_side_are_not_railcars():
    scene = load_real_scene("bus_depot_0.27m")
    assert not scene.cars
    assert _score(scene).n_found <= BUS_DEPOT_MAX_FALSE


def test_short_train_on_a_single_line_is_found():
    scene = load_real_scene("single_track_0.22m")  # labels rough (+-5 px): a sanity check
    s = _score(scene)
    assert s.tp >= 4 and s.n_found <= 6
