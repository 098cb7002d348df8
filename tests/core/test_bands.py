"""band_response against its definition, computed the slow way."""

import numpy as np
import pytest

from railwatch_plugin.core.bands import band_geometry, band_response


def _strip_mean(image, lo, hi):
    """Mean over rows [y+lo, y+hi) for every row y; rows past the edge repeat the edge row."""
    rows = image.shape[0]
    out = np.zeros_like(image, dtype=np.float64)
    for y in range(rows):
        idx = np.clip(np.arange(y + lo, y + hi), 0, rows - 1)
        out[y] = image[idx].mean(axis=0)
    return out


def _expected(image, geom, uniformity_weight=0.6):
    inner = _strip_mean(image, *geom.inner)
    above = _strip_mean(image, *geom.above)
    below = _strip_mean(image, *geom.below)
    d_above = np.linalg.norm(inner - above, axis=2)
    d_below = np.linalg.norm(inner - below, axis=2)
    var = (_strip_mean(image ** 2, *geom.inner) - inner ** 2).sum(axis=2)
    return np.minimum(d_above, d_below) - uniformity_weight * np.sqrt(np.maximum(var, 0.0))


@pytest.mark.parametrize("gsd_m", [0.3, 0.5, 0.7])
def test_band_response_matches_its_definition_at_every_row_including_the_edges(gsd_m):
    rng = np.random.default_rng(7)
    image = (rng.random((40, 9, 3)) * 255).astype(np.float32)
    widths_m = (2.4, 3.0, 3.6)
    geoms = [band_geometry(w, gsd_m) for w in widths_m]
    response, width_index, _ = band_response(image, geoms)
    per_width = np.stack([_expected(image.astype(np.float64), g) for g in geoms])
    # float32 box filters against float64 sums: the variance term loses a few digits
    np.testing.assert_allclose(response, per_width.max(axis=0), atol=0.05)
    clear = np.sort(per_width, axis=0)[-1] - np.sort(per_width, axis=0)[-2] > 0.1
    assert clear.sum() > 100
    np.testing.assert_array_equal(width_index[clear], per_width.argmax(axis=0)[clear])


def test_a_bright_car_width_band_responds_at_its_centre_row_and_width():
    gsd_m = 0.5
    image = np.full((41, 30, 1), 60.0, np.float32)
    image[17:23, :, 0] = 200.0  # 6 rows = 3.0 m, centred on row 19.5
    geoms = [band_geometry(w, gsd_m) for w in (2.4, 3.0, 3.6)]
    response, width_index, tone = band_response(image, geoms)
    column = response[:, 15]
    assert int(np.argmax(column)) in (19, 20)
    assert column.max() > 100
    assert tone[int(np.argmax(column)), 15] > 100
