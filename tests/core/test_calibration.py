"""Platt scaling of the frame network's confidence (scripts/frame_net_calibrate.py)."""

import numpy as np
import pytest

from railwatch_plugin.core.frame_net import forward_numpy
from railwatch_plugin.core.calibration import fit_platt, fold_calibration
from test_frame_net import random_weights


def test_platt_recovers_the_scale_and_shift_that_made_the_labels():
    rng = np.random.default_rng(0)
    logit = rng.normal(0, 2, 20000)
    right = (rng.random(20000) < 1 / (1 + np.exp(-(2.5 * logit - 1.0)))).astype(float)
    a, b = fit_platt(logit, right, l2=0.0)
    assert (a, b) == pytest.approx((2.5, -1.0), abs=0.1)


def test_separable_labels_give_a_finite_scale():
    logit = np.linspace(-3, 3, 200)
    a, b = fit_platt(logit, (logit > 0).astype(float))
    assert 0 < a < 1e3 and np.isfinite(b)


def test_a_heat_that_ranks_cars_backwards_is_refused():
    logit = np.linspace(-3, 3, 200)
    with pytest.raises(ValueError, match="decreasing"):
        fit_platt(logit, (logit < 0).astype(float))


def test_folding_the_calibration_changes_the_heat_logit_alone():
    weights = random_weights(3)
    x = np.random.default_rng(1).normal(size=(4, 8, 32)).astype(np.float32)
    before = forward_numpy(weights, x)
    after = forward_numpy(fold_calibration(weights, 3.0, -0.5), x)
    np.testing.assert_allclose(after[0], 3.0 * before[0] - 0.5, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(after[1:], before[1:])
    np.testing.assert_array_equal(forward_numpy(weights, x), before)  # the input weights are left alone
