"""The frame network as the detector runs it: its ONNX graph against numpy,
its blockwise run against one pass, its input, and reading cars off its maps."""

import math

import numpy as np
import pytest

from railwatch_plugin.core import frame_net as fn
from railwatch_plugin.core.frame import rotate_to_horizontal
from railwatch_plugin.core.frame_cars import cars_in_frame, peak_cells
from railwatch_plugin.core.model import DetectionParams
from railwatch_plugin.core.net_detector import frame_maps
from railwatch_plugin.core.net_input import frame_input


def random_weights(seed=0):
    """Weights of the right shapes for ARCHITECTURE."""
    rng = np.random.default_rng(seed)
    weights, channels, saved, k = {}, fn.IN_CHANNELS, None, 0
    for layer in fn.ARCHITECTURE:
        if layer[0] in ("conv", "head"):
            out, (kh, kw) = (layer[1], layer[2]) if layer[0] == "conv" else (len(fn.HEAD), (1, 1))
            weights[f"conv{k}_w"] = (rng.normal(size=(out, channels, kh, kw)) / math.sqrt(channels * kh * kw)).astype(np.float32)
            weights[f"conv{k}_b"] = (0.1 * rng.normal(size=out)).astype(np.float32)
            channels, k = out, k + 1
        elif layer[0] == "save":
            saved = channels
        elif layer[0] == "concat":
            channels += saved
    return weights


def naive_conv(x, w, b):
    """The definition of a zero-padded 'same' convolution, pixel by pixel."""
    c, h, wd = x.shape
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros((w.shape[0], h, wd))
    for i in range(h):
        for j in range(wd):
            out[:, i, j] = np.tensordot(w, xp[:, i : i + kh, j : j + kw], axes=([1, 2, 3], [0, 1, 2])) + b
    return out


def test_numpy_convolution_matches_the_definition_for_a_non_square_kernel():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 5, 9)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 5)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    np.testing.assert_allclose(fn._conv_numpy(x, w, b), naive_conv(x, w, b), rtol=1e-4, atol=1e-4)


def test_opencv_runs_the_in_memory_onnx_graph_as_numpy_does():
    weights = random_weights()
    net = fn.build_dnn(weights)
    assert net is not None, "cv2.dnn could not read or run the frame network's ONNX graph"
    x = np.random.default_rng(1).normal(size=(fn.IN_CHANNELS, 40, 96)).astype(np.float32)
    got = fn.FrameNet(weights).predict(x)
    want = fn.forward_numpy(weights, x)
    assert got.shape == want.shape == (len(fn.HEAD), 40 // fn.STRIDE_ROWS, 96 // fn.STRIDE_COLS)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_a_frame_input_off_the_network_multiples_is_refused_in_words():
    with pytest.raises(ValueError, match="multiple"):
        fn.FrameNet(random_weights()).predict(np.zeros((fn.IN_CHANNELS, 40, 90), np.float32))


def test_a_cell_sees_no_further_than_the_field_of_view_and_the_block_margins_cover_it():
    import railwatch_plugin.core.net_detector as nd

    reach_rows, reach_cols = fn.field_of_view_px()
    assert nd.MARGIN_ROWS >= reach_rows and nd.MARGIN_COLS >= reach_cols
    weights = random_weights(7)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(fn.IN_CHANNELS, 64, 448)).astype(np.float32)
    base = fn.forward_numpy(weights, x)
    r, c = 16, 56  # a cell; its own pixels are rows 32-33, cols 224-227
    near, far = x.copy(), x.copy()
    near[:, 33 + reach_rows // 2, 227 + reach_cols // 2] += 50.0
    far[:, 33, 227 + reach_cols + 1] += 50.0
    far[:, 33 + reach_rows + 1, 227] += 50.0
    assert not np.allclose(fn.forward_numpy(weights, near)[:, r, c], base[:, r, c])
    np.testing.assert_array_equal(fn.forward_numpy(weights, far)[:, r, c], base[:, r, c])


def test_blocks_give_the_cells_one_pass_over_the_frame_gives_and_empty_columns_stay_empty(monkeypatch):
    """Uneven last blocks along both axes; columns without a valid pixel are skipped."""
    import railwatch_plugin.core.net_detector as nd

    net = fn.FrameNet(random_weights(2))
    x = np.random.default_rng(4).normal(size=(fn.IN_CHANNELS, 126, 640)).astype(np.float32)
    x[-1] = 1.0
    x[:, :, 448:] = 0.0  # nothing valid from column 448 on: the last column of blocks
    whole = net.predict(x)
    monkeypatch.setattr(nd, "BLOCK_ROWS", 40)
    monkeypatch.setattr(nd, "BLOCK_COLS", 192)
    blocked = frame_maps(net, x)
    # Columns without a valid pixel (448 on) are not looked at.
    computed = 448 // fn.STRIDE_COLS
    np.testing.assert_allclose(blocked[:, :, :computed], whole[:, :, :computed], rtol=1e-4,
                               atol=1e-4 * np.abs(whole).max())
    assert np.all(blocked[0, :, computed:] == -30.0)  # skipped: "no car"


@pytest.mark.parametrize("direction_deg", [0.0, 30.0, 45.0, 90.0, 135.0, 170.0])
def test_a_point_seen_in_the_frame_maps_back_to_where_it_is_in_the_tile(direction_deg):
    """RailWatch puts a pixel's centre at +0.5: a blob on pixel (70, 40) is at (70.5, 40.5)."""
    import cv2

    image = np.zeros((101, 151), np.float32)
    image[40, 70] = 1.0
    image = cv2.GaussianBlur(image, (0, 0), 2.0)[:, :, None]
    frame = rotate_to_horizontal(image, np.ones((101, 151), bool), direction_deg)
    weight = np.clip(frame.features[:, :, 0] - 0.3 * frame.features.max(), 0, None) * frame.valid
    rows, cols = np.mgrid[: weight.shape[0], : weight.shape[1]]
    seen = np.array([(weight * cols).sum(), (weight * rows).sum()]) / weight.sum() + 0.5
    assert tuple(frame.points_to_tile(seen[None])[0]) == pytest.approx((70.5, 40.5), abs=0.05)


def test_frame_input_is_centred_scaled_and_zero_outside_the_image():
    rng = np.random.default_rng(5)
    feats = (100 + 20 * rng.normal(size=(30, 50, 3))).astype(np.float32)
    valid = np.ones((30, 50), bool)
    valid[:, :10] = False
    frame = rotate_to_horizontal(feats, valid, 0.0)
    x = frame_input(frame)
    assert x.shape == (fn.IN_CHANNELS, 30, 64)  # columns padded to a multiple of 16
    assert np.all(x[:, :, :10] == 0) and np.all(x[:, :, 50:] == 0)
    assert np.all(x[-1, :, 10:50] == 1)
    assert abs(float(np.median(x[0, :, 10:50]))) < 0.05
    assert 0.5 < float(x[0, :, 10:50].std()) < 1.0  # spread / (spread + floor)


def test_one_band_input_leaves_the_colour_channels_empty():
    feats = np.random.default_rng(6).normal(100, 20, size=(20, 32, 1)).astype(np.float32)
    x = frame_input(rotate_to_horizontal(feats, np.ones((20, 32), bool), 0.0))
    assert np.all(x[1:3] == 0) and x[0].std() > 0.1


def car_maps(rows, cols, cars):
    """Head maps holding ``cars`` (x px, y px, length m, turn rad, kind index) exactly as a perfect network would."""
    maps = np.zeros((len(fn.HEAD), rows // fn.STRIDE_ROWS, cols // fn.STRIDE_COLS), np.float32)
    maps[0] = -8.0
    for x, y, length, turn, kind in cars:
        u, v = x / fn.STRIDE_COLS - 0.5, y / fn.STRIDE_ROWS - 0.5
        r, c = int(round(v)), int(round(u))
        maps[0, r, c] = 3.0
        maps[1, r, c], maps[2, r, c] = u - c, v - r
        maps[3, r, c] = math.log(length / fn.LENGTH_REF_M)
        maps[4, r, c] = turn / fn.TURN_SCALE_RAD
        maps[5, r, c] = 0.1
        maps[6 + kind, r, c] = 5.0
    return maps


def test_cars_are_read_off_the_maps_at_their_sub_cell_positions_and_mapped_back_to_the_tile():
    feats = np.zeros((200, 400, 3), np.float32)
    frame = rotate_to_horizontal(feats, np.ones((200, 400), bool), 30.0)
    rows, cols = frame.valid.shape
    cy, cx = rows / 2 + 0.3, cols / 2 + 1.7  # the tile's centre, in the frame
    cars = [(cx - 30.5, cy, 15.0, 0.0, 1), (cx, cy, 14.0, 0.0, 0), (cx, cy + 12.0, 20.0, 0.05, 3)]
    found = cars_in_frame(car_maps(rows - rows % 2, cols - cols % 4, cars), frame, (1.0, 1.0), DetectionParams())
    assert len(found) == 3
    lengths = sorted(round(c.length_m, 3) for c in found)
    assert lengths == [14.0, 15.0, 20.0]
    kinds = {round(c.length_m): c.kind for c in found}
    assert kinds == {14: "box", 15: "tank", 20: "flat/container"}
    # Frame points go back to the tile through the frame's own transform.
    for car, (x, y, *_rest) in zip(sorted(found, key=lambda c: c.length_m), sorted(cars, key=lambda c: c[2])):
        want = frame.points_to_tile(np.array([[x, y]]))[0]
        assert (car.col_px, car.row_px) == pytest.approx(tuple(want), abs=1e-3)
    # The tile's tracks run at 30 degrees from +col towards +row: heading 120 clockwise from up.
    straight = [c for c in found if c.length_m < 19.0]
    assert [c.heading_deg for c in straight] == pytest.approx([120.0, 120.0], abs=1e-6)
    turned = next(c for c in found if c.length_m > 19.0)
    assert turned.heading_deg == pytest.approx(120.0 + math.degrees(0.05), abs=1e-6)


def test_a_car_outside_the_length_range_is_left_out_and_one_just_outside_is_clipped():
    frame = rotate_to_horizontal(np.zeros((100, 400, 3), np.float32), np.ones((100, 400), bool), 0.0)
    cars = [(100.0, 30.0, 40.0, 0.0, 0), (300.0, 30.0, 11.0, 0.0, 0)]
    found = cars_in_frame(car_maps(100, 400, cars), frame, (1.0, 1.0), DetectionParams(car_length_m=(12.0, 30.0)))
    assert [round(c.length_m, 3) for c in found] == [12.0]


def test_by_default_a_coach_measured_long_on_a_pixel_size_stated_too_large_is_counted():
    """The real yard's 25 m coaches measure 33-34 m at its stated 0.5 m (its pixels are about 0.45 m);
    the network finds them there, and the default length range must not drop them. 45 m is no car."""
    frame = rotate_to_horizontal(np.zeros((100, 600, 3), np.float32), np.ones((100, 600), bool), 0.0)
    cars = [(100.0, 30.0, 33.5, 0.0, 4), (300.0, 30.0, 36.0, 0.0, 4), (500.0, 30.0, 45.0, 0.0, 4)]
    found = cars_in_frame(car_maps(100, 600, cars), frame, (1.0, 1.0), DetectionParams())
    assert sorted(round(c.length_m, 3) for c in found) == [33.5, 35.0]


def test_peaks_closer_than_a_car_along_the_track_are_one():
    heat = np.zeros((20, 40), np.float32)
    heat[10, 10] = 0.9
    heat[10, 11] = 0.8  # 2 m further along: the same car's shoulder
    heat[10, 13] = 0.85  # 6 m further: still the same car (cars are 10 m or longer)
    heat[10, 20] = 0.7  # 20 m further: the next car
    heat[14, 10] = 0.6  # 4 m across: the next track
    heat[12, 30] = 0.6  # 2 m across another peak: one car
    heat[10, 30] = 0.65
    heat[10, 35] = 0.5  # 10 m along from that one: the next car

    assert sorted(map(tuple, peak_cells(heat, 0.1))) == [(10, 10), (10, 20), (10, 30), (10, 35), (14, 10)]


def test_equal_neighbouring_peaks_are_one_car():
    heat = np.zeros((10, 20), np.float32)
    heat[5, 8:11] = 1.0  # a saturated heat: three equal cells
    assert [tuple(p) for p in peak_cells(heat, 0.1)] == [(5, 8)]


def test_a_cell_with_non_finite_outputs_gives_no_car_and_no_error():
    frame = rotate_to_horizontal(np.zeros((100, 400, 3), np.float32), np.ones((100, 400), bool), 0.0)
    maps = car_maps(100, 400, [(100.0, 50.0, 15.0, 0.0, 0), (300.0, 50.0, 15.0, 0.0, 0)])
    (r1, c1), (r2, c2) = peak_cells(1 / (1 + np.exp(-maps[0])), 0.5)
    maps[3, r1, c1] = np.nan
    maps[3, r2, c2] = 1e6  # would overflow exp()
    assert cars_in_frame(maps, frame, (1.0, 1.0), DetectionParams()) == []


def test_only_the_rows_asked_for_are_looked_at_and_they_come_out_as_from_the_whole_frame():
    net = fn.FrameNet(random_weights(5))
    x = np.random.default_rng(9).normal(size=(fn.IN_CHANNELS, 200, 256)).astype(np.float32)
    x[-1] = 1.0
    whole = net.predict(x)
    wanted = np.zeros(200, bool)
    wanted[61:90] = True  # rows 60-89 in whole cells: cells 30-44
    maps = frame_maps(net, x, wanted)
    np.testing.assert_allclose(maps[:, 30:45], whole[:, 30:45], rtol=1e-4, atol=1e-4 * np.abs(whole).max())
    assert np.all(maps[0, :30] == -30.0) and np.all(maps[0, 45:] == -30.0)


def test_a_network_numpy_must_run_is_reported_as_slow(monkeypatch):
    import railwatch_plugin.core.detect as detect

    slow = fn.FrameNet(random_weights(1), use_dnn=False)
    assert not slow.runs_in_opencv and fn.FrameNet(random_weights(1)).runs_in_opencv
    monkeypatch.setattr(detect, "load_frame_net", lambda: slow)
    result = detect.detect_railcars_in_array(np.zeros((200, 200, 3), np.uint8), 0.5, workers=1)
    assert result.warnings == [detect.SLOW_NETWORK_WARNING]
    assert "60 times slower" in result.warnings[0] and "opencv-python-headless" in result.warnings[0]
