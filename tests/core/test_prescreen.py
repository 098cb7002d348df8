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


def test_band_contrast_is_the_numpy_formula_bit_for_bit():
    import cv2

    from railwatch_plugin.core.prescreen import BAND_HALF_PX, SIDE_PX, band_contrast

    small = ground(3)[::2, ::2].copy()
    small[40:44, 10:90] = 50.0
    for along_px in (1, 6, 15):
        mean = cv2.blur(small, (along_px, 2 * BAND_HALF_PX + 1), borderType=cv2.BORDER_REPLICATE)
        side = cv2.blur(small, (along_px, SIDE_PX), borderType=cv2.BORDER_REPLICATE)
        shift = BAND_HALF_PX + 1 + SIDE_PX // 2
        want = np.minimum(np.abs(mean - np.roll(side, shift, axis=0)), np.abs(mean - np.roll(side, -shift, axis=0)))
        got = band_contrast(small, along_px)
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_all_valid_and_mostly_valid_tiles_agree_where_they_should():
    lum = ground()
    lum[100:108, 40:140] = 60
    ok = np.ones(lum.shape, bool)
    nearly = ok.copy()
    nearly[-1, -1] = False  # takes the resampling path; the corner is far from the cars
    for direction in (0.0, 12.0, 90.0):
        assert may_hold_cars(lum, ok, G, direction) == may_hold_cars(lum, nearly, G, direction)


def test_rows_with_bands_are_the_string_and_ten_metres_either_side():
    from railwatch_plugin.core.prescreen import rows_with_bands

    lum = ground()
    lum[200:215, :] += 30  # no road here: at this looser contrast its middle would count as a band
    lum[300:308, 40:140] = 60  # a string of dark cars, rows 300-307 (120-123 m)
    rows = rows_with_bands(lum, np.ones(lum.shape, bool), G)
    assert rows.shape == (500,)
    assert rows[300:308].all()
    wanted = np.flatnonzero(rows) * G  # metres
    assert 120 - 12 <= wanted.min() <= 120 - 9 and 123 + 9 <= wanted.max() <= 123 + 12
    assert not rows[:250].any()  # the field edge holds no car-like band


def test_rows_with_bands_ignore_invalid_pixels():
    from railwatch_plugin.core.prescreen import rows_with_bands

    lum = ground()
    lum[200:215, :] += 30  # no road
    lum[300:308, 40:140] = 60
    ok = np.ones(lum.shape, bool)
    ok[:, :200] = False
    assert not rows_with_bands(lum, ok, G).any()
