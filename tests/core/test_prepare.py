"""The tile's working image: planar arithmetic and colours made on first use
must give exactly what the straightforward interleaved version gives."""

import numpy as np
import pytest

from railwatch_plugin.core.prepare import COLOUR_WEIGHT, _to_8bit_scale, prepare_tile, working_scale


def interleaved_features(data, valid):
    """The features as first written: arithmetic on the interleaved image."""
    img = _to_8bit_scale(data, valid)
    if img.shape[2] < 3:
        return img[:, :, :1].astype(np.float32)
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    return np.dstack([lum, COLOUR_WEIGHT * (r - g), COLOUR_WEIGHT * (0.5 * (r + g) - b)]).astype(np.float32)


@pytest.mark.parametrize("dtype,bands", [(np.uint8, 3), (np.uint8, 4), (np.uint8, 1), (np.uint16, 3), (np.float32, 3)])
@pytest.mark.parametrize("all_valid", [True, False])
def test_features_equal_the_interleaved_arithmetic(dtype, bands, all_valid):
    rng = np.random.default_rng(bands)
    data = (rng.random((120, 90, bands)) * (255 if dtype == np.uint8 else 4000)).astype(dtype)
    valid = None if all_valid else rng.random((120, 90)) > 0.2
    work = prepare_tile(data, valid, (0.5, 0.5), 0.5)
    want = interleaved_features(data, valid)
    if not all_valid:
        want[~valid] = want[valid].mean(axis=0)
    assert work.features.dtype == np.float32 and work.features.flags.c_contiguous
    np.testing.assert_array_equal(work.features, want)
    np.testing.assert_array_equal(work.lum, want[:, :, 0])


@pytest.mark.parametrize("gsd, want", [
    ((0.5002, 0.5002), (0.5, 1.0, 1.0)),  # a UTM scale factor: worked as it is
    ((0.4998, 0.5), (0.5, 1.0, 1.0)),
    ((0.3, 0.3), (0.5, 0.6, 0.6)),  # finer: averaged down
    ((0.7, 0.7), (0.5, 1.4, 1.4)),  # coarser: interpolated up
    ((0.505, 0.505), (0.5, 1.01, 1.01)),  # 1 % off: a real difference, resampled
])
def test_every_tile_is_worked_at_the_network_gsd_and_a_hair_off_is_not_resampled(gsd, want):
    assert working_scale(gsd, 0.5) == pytest.approx(want, abs=1e-12)


def test_a_snapped_tile_is_not_resampled_and_maps_back_unscaled():
    data = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    work = prepare_tile(data, None, (0.5002, 0.4999), 0.5)
    assert work.gsd_m == 0.5 and (work.scale_col, work.scale_row) == (1.0, 1.0)
    assert work.lum.shape == (50, 70)


def test_a_coarser_image_is_interpolated_up_not_repeated():
    data = np.zeros((20, 20, 1), np.uint8)
    data[:, 10:] = 200  # a sharp edge
    work = prepare_tile(data, None, (1.0, 1.0), 0.5)
    assert work.features.shape == (40, 40, 1) and (work.scale_col, work.scale_row) == (2.0, 2.0)
    row = work.features[5, :, 0]
    assert 0 < row[19] < 200 or 0 < row[20] < 200  # a ramp across the edge, not a step


def test_pixels_finer_one_way_and_coarser_the_other_are_averaged_one_way_and_interpolated_the_other():
    data = np.zeros((20, 80, 1), np.uint8)
    data[:, 3::4] = 200  # every fourth 0.125 m column: averaged to 0.5 m, 50 everywhere
    work = prepare_tile(data, None, (0.125, 1.0), 0.5)
    assert work.features.shape == (40, 20, 1)
    np.testing.assert_allclose(work.features[:, :, 0], 50.0, atol=1e-3)  # interpolation alone would miss them


def test_the_coarse_look_of_an_8_bit_tile_is_the_coarse_luminance_of_its_prepared_tile():
    from railwatch_plugin.core.orientation import coarse_luminance
    from railwatch_plugin.core.prepare import coarse_look

    rng = np.random.default_rng(4)
    data = rng.integers(0, 256, (300, 400, 3)).astype(np.uint8)
    fast, valid, g = coarse_look(data, None, (0.5, 0.5), 1.0)
    slow, slow_g = coarse_luminance(prepare_tile(data, None, (0.5, 0.5), 0.5).lum, 0.5)
    assert g == slow_g == 1.0 and fast.shape == slow.shape == valid.shape == (150, 200) and valid.all()
    assert np.abs(fast - slow).max() <= 0.5 + 1e-3  # each band averaged to whole DNs first


def test_the_coarse_look_of_a_tile_with_nodata_fills_it_like_prepare_tile():
    from railwatch_plugin.core.prepare import coarse_look

    data = np.full((200, 200, 3), 100, np.uint16)
    data[:, :50] = 0
    ok = data[:, :, 0] > 0
    lum, valid, g = coarse_look(data, ok, (0.25, 0.25), 1.0)
    assert g == 1.0 and lum.shape == valid.shape == (50, 50)
    assert not valid[:, :12].any() and valid[:, 13:].all()
    assert np.ptp(lum) < 1e-3  # the nodata strip took the valid pixels' value: no edge at its border
