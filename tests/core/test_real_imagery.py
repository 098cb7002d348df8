"""Floors on real, hand-labelled imagery (``../shared/real``), without QGIS.

The images may be evaluated, not redistributed, so they are read where they
lie and never copied; without that folder these tests are skipped. Scored as
``bench/real.py`` scores them: a detection matches a true car within 40 % of
its length, one to one; a car the two labellers disputed is a don't-care.

The floors sit a little under what the shipped network measures (README,
"Real imagery"), so a change that loses real cars fails here even when the
synthetic benchmark does not notice. The product's promise; do not lower
them to make a change pass.
"""

from __future__ import annotations

import pytest

from bench.real import REAL_DIR, load_real_scene, real_scene_names, resampled, score_scene
from railwatch_plugin.core import detect_railcars_in_array

pytestmark = pytest.mark.skipif(not real_scene_names(), reason=f"no real scenes in {REAL_DIR}")

YARD = "hsr_yard_0.5m"
# Measured with the shipped network (2026-12-07): F1 0.886 / 0.875, count
# error 16.4 / 14.1 % (148 and 152 found), 2 false railcars on the bus depot.
# Issue 12's targets (F1 0.92, count error 8 %, at most 1 false car) are not
# met yet: these floors only keep what there is from getting worse.
YARD_MIN_F1 = {0.5: 0.87, 0.7: 0.86}
YARD_MAX_COUNT_ERROR = {0.5: 0.19, 0.7: 0.17}
BUS_DEPOT_MAX_FALSE = 2


def _score(scene):
    result = detect_railcars_in_array(scene.image, scene.gsd_m, workers=2)
    return score_scene(result.cars, scene)


@pytest.mark.parametrize("gsd_m", sorted(YARD_MIN_F1))
def test_real_yard_cars_are_found(gsd_m):
    scene = load_real_scene(YARD)
    if gsd_m != scene.gsd_m:
        scene = resampled(scene, gsd_m)
    s = _score(scene)
    count_error = abs(s.n_found - s.n_true) / s.n_true
    assert s.n_true == 177
    assert s.f1 >= YARD_MIN_F1[gsd_m], f"F1 {s.f1:.3f}: {s.tp} of {s.n_true} true cars among {s.n_found} found"
    assert count_error <= YARD_MAX_COUNT_ERROR[gsd_m], f"{s.n_found} found for {s.n_true}"


def test_buses_parked_side_by_side_are_not_railcars():
    scene = load_real_scene("bus_depot_0.27m")
    assert not scene.cars
    assert _score(scene).n_found <= BUS_DEPOT_MAX_FALSE


def test_short_train_on_a_single_line_is_found():
    scene = load_real_scene("single_track_0.22m")  # labels rough (+-5 px): a sanity check
    s = _score(scene)
    assert s.tp >= 4 and s.n_found <= 6
