"""Where the frame network looks (a 2-D mask of wanted pixels, the part of a
tile that owns its cars) and merging the raster's cars through a grid."""

import numpy as np
import pytest

import railwatch_plugin.core.detect as detect
from railwatch_plugin.core import frame_net as fn
from railwatch_plugin.core.model import DetectionParams, Railcar
from railwatch_plugin.core.net_detector import MARGIN_COLS, OWNED_SLACK_M, detect_in_tile_net, frame_maps
from railwatch_synth import make_yard

from core.test_frame_net import random_weights

GSD_M = 0.5


@pytest.fixture(scope="module")
def frame_and_whole():
    net = fn.FrameNet(random_weights(7))
    x = np.random.default_rng(11).normal(size=(fn.IN_CHANNELS, 160, 1024)).astype(np.float32)
    x[-1] = 1.0
    return net, x, net.predict(x)


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(b).max())))


def test_a_2d_mask_computes_its_cells_as_the_whole_frame_does_and_skips_the_far_gap_between(frame_and_whole):
    net, x, whole = frame_and_whole
    wanted = np.zeros(x.shape[1:], bool)
    wanted[40:60, 32:96] = True
    wanted[40:60, 800:864] = True  # 704 px further on: more than two margins (2 x 112)
    maps = frame_maps(net, x, wanted)
    rows = slice(20, 30)  # frame rows 40-59 in cells of 2 rows
    _close(maps[:, rows, 8:24], whole[:, rows, 8:24])
    _close(maps[:, rows, 200:216], whole[:, rows, 200:216])
    assert np.all(maps[0, rows, 40:180] == -30.0)  # the gap: not looked at ("no car")
    assert np.all(maps[0, :20] == -30.0) and np.all(maps[0, 30:] == -30.0)  # rows not wanted


def test_wanted_pixels_closer_than_two_margins_are_one_block_gap_included(frame_and_whole):
    net, x, whole = frame_and_whole
    wanted = np.zeros(x.shape[1:], bool)
    wanted[40:60, 32:96] = True
    wanted[40:60, 96 + MARGIN_COLS:96 + MARGIN_COLS + 64] = True  # one margin further on
    maps = frame_maps(net, x, wanted)
    end_cell = (96 + MARGIN_COLS + 64) // fn.STRIDE_COLS
    _close(maps[:, 20:30, 8:end_cell], whole[:, 20:30, 8:end_cell])


def test_a_2d_mask_that_wants_nothing_looks_at_nothing(frame_and_whole):
    net, x, _ = frame_and_whole
    maps = frame_maps(net, x, np.zeros(x.shape[1:], bool))
    assert np.all(maps[0] == -30.0)


@pytest.fixture(scope="module")
def yard_runs():
    """One 600 x 400 px yard tile, tracks along the rows, looked at whole and for
    its right half only (as a tile whose left half belongs to its neighbour)."""
    scene = make_yard(5104, gsd_m=GSD_M, size_m=(300.0, 200.0), heading_deg=90.0, difficulty="easy")
    net = fn.load_frame_net()
    params = DetectionParams()
    owned = (300.0, 0.0, 600.0, 400.0)
    whole = detect_in_tile_net(net, scene.image, scene.valid, (GSD_M, GSD_M), params)
    half = detect_in_tile_net(net, scene.image, scene.valid, (GSD_M, GSD_M), params, owned=owned)
    return whole, half, owned


def test_the_cars_a_tile_owns_come_out_as_when_the_whole_tile_is_looked_at(yard_runs):
    whole, half, (col0, row0, col1, row1) = yard_runs

    def owned_cars(cars):
        return sorted((c for c in cars if col0 <= c.col_px < col1 and row0 <= c.row_px < row1),
                      key=lambda c: (c.row_px, c.col_px))

    want, got = owned_cars(whole), owned_cars(half)
    assert len(want) >= 5
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert abs(a.col_px - b.col_px) < 1e-3 and abs(a.row_px - b.row_px) < 1e-3
        assert abs(a.confidence - b.confidence) < 1e-4 and a.kind == b.kind


def test_cars_well_outside_the_owned_part_are_not_looked_for(yard_runs):
    whole, half, (col0, _, _, _) = yard_runs
    reach_px = col0 - (OWNED_SLACK_M + 10.0) / GSD_M  # the slack, and a car's centre beyond its cell
    assert any(c.col_px < reach_px for c in whole)  # there are cars there to be missed
    assert all(c.col_px >= reach_px for c in half)


def _merge_by_definition(cars, max_overlap=0.2):
    """merge_duplicates as first written: each car against every kept one."""
    kept = []
    for car in sorted(cars, key=lambda c: (-c.confidence, c.row_px, c.col_px)):
        if not any(detect._overlap_of_smaller(k, car) > max_overlap for k in kept):
            kept.append(car)
    return sorted(kept, key=lambda c: (c.row_px, c.col_px))


def test_merging_through_the_grid_keeps_what_comparing_with_every_kept_car_keeps():
    """Cars of 10-60 m at any angle, many found twice a few px apart, some on
    the grid's cell borders: the grid must not miss a conflict."""
    rng = np.random.default_rng(5200)
    cars = []
    for _ in range(400):
        col, row = rng.uniform(-200, 3000, 2)
        for _ in range(int(rng.integers(1, 3))):
            c, r = col + rng.normal(0, 4), row + rng.normal(0, 4)
            h = np.radians(rng.uniform(0, 180))
            half_len, half_w = rng.uniform(10, 60) / GSD_M / 2, 1.5 / GSD_M
            along = np.array([np.sin(h), -np.cos(h)]) * half_len
            across = np.array([np.cos(h), np.sin(h)]) * half_w
            centre = np.array([c, r])
            corners = tuple(tuple(map(float, centre + sa * along + sc * across))
                            for sa, sc in ((-1, -1), (1, -1), (1, 1), (-1, 1)))
            cars.append(Railcar(float(c), float(r), corners, 2 * half_len * GSD_M, 3.0, float(np.degrees(h)),
                                float(rng.uniform(0.1, 1.0)), "box", "single"))
    merged = detect.merge_duplicates(cars)
    assert 400 <= len(merged) < len(cars)
    assert merged == _merge_by_definition(cars)
