"""The band response computed strip by strip near valid pixels equals the whole frame's there."""

import cv2
import numpy as np
import pytest

from railwatch_plugin.core.bands import band_geometry, band_response
from railwatch_plugin.core.frame import rotate_to_horizontal
from railwatch_plugin.core.valid_strips import band_response_near_valid


def rotated_scene(direction_deg, seed, bands=3, size=(300, 260)):
    rng = np.random.default_rng(seed)
    image = cv2.blur((rng.random(size + (bands,)) * 255).astype(np.float32), (5, 5)).reshape(size + (bands,))
    image[100:106, 20:240] += 80.0  # a car-like band, so there are real ridges
    frame = rotate_to_horizontal(image, np.ones(size, bool), direction_deg)
    return cv2.blur(frame.features, (6, 1)).reshape(frame.features.shape), frame.valid


@pytest.mark.parametrize("direction_deg", [23.5, 45.0, 111.0, 0.0])
@pytest.mark.parametrize("gsd_m", [0.3, 0.5])
@pytest.mark.parametrize("bands", [1, 3])
def test_equals_the_whole_frame_within_reach_of_valid_pixels(direction_deg, gsd_m, bands):
    smooth, valid = rotated_scene(direction_deg, seed=3, bands=bands)
    geoms = [band_geometry(w, gsd_m) for w in (2.4, 3.0, 3.6)]
    exact_rows = 3
    full = band_response(smooth, geoms)
    near = band_response_near_valid(smooth, geoms, valid, exact_rows, strip_cols=16)
    zone = cv2.dilate(valid.astype(np.uint8), np.ones((2 * exact_rows + 1, 1), np.uint8)).astype(bool)
    for want, got in zip(full, near):
        assert got.shape == want.shape and got.dtype == want.dtype
        # Box filters restart their running sums at a crop: at most the last bits differ.
        np.testing.assert_allclose(got[zone], want[zone], rtol=1e-5, atol=1e-3)
    clear = zone & (np.abs(full[0] - near[0]) < 1e-3)
    assert (full[1][clear] == near[1][clear]).mean() > 0.999
    # Away from valid pixels nothing is promised but that it is no NaN (the ridge search masks it out).
    assert not np.isnan(near[0]).any()


def test_a_rotated_frame_is_worked_on_in_strips_an_unrotated_one_whole():
    smooth, valid = rotated_scene(30.0, seed=1)
    geoms = [band_geometry(w, 0.5) for w in (2.4, 3.0, 3.6)]
    response, _, _ = band_response_near_valid(smooth, geoms, valid, 3, strip_cols=16)
    assert np.isneginf(response).mean() > 0.2  # the empty corners were skipped
    smooth, valid = rotated_scene(0.0, seed=1)
    response, _, _ = band_response_near_valid(smooth, geoms, valid, 3, strip_cols=16)
    np.testing.assert_array_equal(response, band_response(smooth, geoms)[0])
