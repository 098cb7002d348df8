"""quick_stats.high_percentile must be np.percentile, value and type, only faster."""

import numpy as np
import pytest


@pytest.mark.parametrize("percent", [99, 99.5, 90, 50, 75.3])
@pytest.mark.parametrize("seed", range(5))
def test_high_percentile_is_numpys_percentile(percent, seed):
    from railwatch_plugin.core.quick_stats import high_percentile

    rng = np.random.default_rng(seed)
    n = int(rng.integers(40_000, 300_000))
    values = rng.gamma(1.5, 20.0, size=n).astype(np.float32)
    if seed % 2:  # many ties and exact zeros, as edge magnitudes of flat ground have
        values = np.round(values / 4) * 4
        values[: n // 3] = 0
    grid = values.reshape(1, -1)  # any shape: the percentile of all values
    got, want = high_percentile(grid, percent), np.percentile(grid, percent)
    assert got == want and type(got) is type(want)


def test_high_percentile_leaves_small_and_odd_inputs_to_numpy():
    from railwatch_plugin.core.quick_stats import high_percentile

    rng = np.random.default_rng(1)
    values = rng.normal(size=100_000).astype(np.float32)
    values[17] = np.nan
    assert np.isnan(high_percentile(values, 99)) and np.isnan(np.percentile(values, 99))
    # Every value the sample sees is high: the threshold is too high to hold the 90th percentile.
    tricky = rng.normal(size=100_000)
    tricky[:: len(tricky) // 4096] = 1000.0
    assert high_percentile(tricky, 90) == np.percentile(tricky, 90)
    for small in (np.arange(10.0), rng.normal(size=999)):
        assert high_percentile(small, 99) == np.percentile(small, 99)
