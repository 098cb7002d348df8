"""How far a real yard's F1 can be trusted (bench/real.py --spread): tracks are
the unit its interval resamples. Built on a made-up scene: no real imagery is
needed or read."""

import math

import numpy as np

from bench.real import LabelledCar, RealScene, f1_interval, score_scene, track_groups

GSD_M = 0.5
HEADING_DEG = 60.0  # the real yard's tracks run about so


def yard(tracks=4, cars_per_track=10, spacing_m=4.8, disputed_track=None):
    """``tracks`` parallel strings of 15 m cars heading HEADING_DEG, ``spacing_m`` apart."""
    h = math.radians(HEADING_DEG)
    along = np.array([math.sin(h), -math.cos(h)])  # image col, row per metre along the track
    across = np.array([math.cos(h), math.sin(h)])
    cars = []
    for t in range(tracks):
        for k in range(cars_per_track):
            xy = np.array([400.0, 400.0]) + (along * 15.5 * k + across * spacing_m * t) / GSD_M
            cars.append(LabelledCar(xy[0], xy[1], 15.0, HEADING_DEG, "box", disputed=(t == disputed_track)))
    return RealScene("made-up", np.zeros((1000, 1000, 3), np.uint8), GSD_M, cars, rough=False)


def test_cars_are_grouped_by_the_track_they_stand_on():
    scene = yard(tracks=4, cars_per_track=10)
    groups = track_groups(scene)
    assert groups.max() + 1 == 4
    for t in range(4):  # the ten cars of a track share one group, and no other track's
        assert len(set(groups[t * 10:(t + 1) * 10])) == 1
    assert len(set(groups[::10])) == 4


def test_the_interval_is_a_point_when_every_car_is_found_and_spans_the_figure_when_a_track_is_missed():
    scene = yard(tracks=5, cars_per_track=8)
    lo, hi, n = f1_interval(scene.cars, scene)
    assert (lo, hi, n) == (1.0, 1.0, 5)
    found = scene.cars[8:]  # the first track's eight cars missed
    f1 = score_scene(found, scene).f1
    lo, hi, _ = f1_interval(found, scene)
    assert lo < f1 < hi and hi == 1.0  # a draw without the missed track is perfect
    assert lo < 0.85


def test_disputed_cars_and_detections_on_them_count_for_nothing():
    scene = yard(tracks=3, cars_per_track=6, disputed_track=2)
    assert track_groups(scene).max() + 1 == 2  # only agreed cars are grouped
    lo, hi, n = f1_interval(scene.cars, scene)  # the disputed track's cars found too: no false ones
    assert (lo, hi, n) == (1.0, 1.0, 2)
