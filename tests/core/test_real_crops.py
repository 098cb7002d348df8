"""Training on one half of a real yard must never teach the network the other
half, nor punish it for cars the half cuts or the labellers disputed
(scripts/frame_net_collect_real.py). Built on a made-up scene: no real imagery
is needed or read."""

import numpy as np

from bench.real import LabelledCar, RealScene
from scripts.frame_net_collect_real import half_columns, labelled_cars

GSD_M = 0.5


def car(col_px, kind="tank", disputed=False, length_m=15.0):
    """A car along the image rows (heading 90: east-west), 30 px long at 0.5 m."""
    return LabelledCar(col_px=col_px, row_px=50.0, length_m=length_m, heading_deg=90.0, kind=kind, disputed=disputed)


def scene(cars):
    return RealScene("made-up", np.zeros((100, 400, 3), np.uint8), GSD_M, cars, rough=False)


def test_the_halves_meet_at_the_agreed_cars_median_column_and_cover_the_image():
    yard = scene([car(40), car(80), car(300, disputed=True), car(320), car(360)])
    # agreed columns 40, 80, 320, 360: median 200; the disputed car does not move it
    assert half_columns(yard, "west") == (0, 200)
    assert half_columns(yard, "east") == (200, 400)


def test_only_agreed_cars_wholly_inside_the_half_are_to_be_found():
    inside, cut_by_edge, disputed = car(100), car(190), car(60, disputed=True)
    east = car(300)
    yard = scene([inside, cut_by_edge, disputed, east])
    out = labelled_cars(yard, 0, 200, [None] * 4)
    # the east car is not in the west half at all; the one whose end (190 + 15 px + 3 m / 2) reaches past
    # column 200 and the disputed one are there, but neither asked for nor penalised
    assert [(c.col_px, c.label) for c in out] == [(100, 1.0), (190, 0.0), (60, 0.0)]


def test_east_half_cars_are_placed_in_the_half_images_columns():
    yard = scene([car(40), car(250), car(390)])
    out = labelled_cars(yard, 200, 400, [None] * 3)
    assert [(c.col_px, c.label) for c in out] == [(50, 1.0), (190, 0.0)]  # 390 + 18 px passes the image's end


def test_kinds_the_network_does_not_know_take_the_networks_guess_or_box():
    yard = scene([car(50, kind="coach"), car(100, kind="unknown"), car(150, kind="hopper/gondola"),
                  car(200, kind="coach")])
    out = labelled_cars(yard, 0, 400, ["covered", "tank", "box", None])
    assert [c.kind for c in out] == ["covered", "tank", "hopper/gondola", "box"]
    assert all(c.width_m == 3.0 for c in out)
