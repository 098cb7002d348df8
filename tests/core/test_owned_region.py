"""Strings a tile does not own are skipped: that must not change the cars it keeps."""

import pytest

from railwatch_plugin.core import DetectionParams
from railwatch_plugin.core.tile_detector import detect_in_tile
from railwatch_synth import make_yard


@pytest.fixture(scope="module")
def yard():
    scene = make_yard(7, gsd_m=0.5, size_m=(320.0, 240.0), heading_deg=35.0)
    cars = detect_in_tile(scene.image, scene.valid, (0.5, 0.5), DetectionParams())
    assert len(cars) >= 5, "the scene should hold cars for this test to mean anything"
    return scene, cars


@pytest.mark.parametrize("owned", [(0, 0, 320, 480), (320, 0, 640, 480), (100, 150, 400, 330), (0, 0, 640, 480)])
def test_owned_region_keeps_exactly_the_cars_centred_there(yard, owned):
    scene, everything = yard
    col_min, row_min, col_max, row_max = owned

    def inside(cars):
        return [c for c in cars if col_min <= c.col_px < col_max and row_min <= c.row_px < row_max]

    got = detect_in_tile(scene.image, scene.valid, (0.5, 0.5), DetectionParams(), owned_px=owned)
    assert inside(got) == inside(everything)
