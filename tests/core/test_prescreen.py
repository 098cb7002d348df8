"""The coarse 1 m look that lets the detector skip countryside (no QGIS)."""

import numpy as np

from railwatch_plugin.core.prescreen import may_hold_cars

G = 0.4


def ground(seed=0):
    rng = np.random.default_rng(seed)
    lum = rng.normal(120, 6, (500, 500)).astype(np.float32)  # grain
    lum[:, 250:] += 25  # a field edge: differs on one side only
    lum[200:215, :] -= 30  # a 6 m road: wider than any car
    return lum


def test_fields_roads_and_edges_are_skipped():
    lum = ground()
    ok = np.ones(lum.shape, bool)
    assert not may_hold_cars(lum, ok, G, 0.0)
    assert not may_hold_cars(lum, ok, G, 90.0)


def test_a_string_of_cars_is_kept_along_its_direction():
    lum = ground()
    lum[100:108, 40:140] = 60  # 3.2 m x 40 m of dark cars
    ok = np.ones(lum.shape, bool)
    assert may_hold_cars(lum, ok, G, 0.0)
    assert not may_hold_cars(lum, ok, G, 90.0)


def test_cars_in_nodata_do_not_count():
    lum = ground()
    lum[100:108, 40:140] = 60
    ok = np.ones(lum.shape, bool)
    ok[:, :200] = False
    assert not may_hold_cars(lum, ok, G, 0.0)
