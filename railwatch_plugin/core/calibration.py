"""Make the frame network's confidence a probability: Platt scaling, folded into its heat head.

The heat the network is trained to give peaks below 1 even for a plain car
(CenterNet's targets are Gaussians), so its raw value is no probability.
Detections marked right or wrong fit P(right) = sigmoid(a * logit + b);
because the heat head is one linear output, a and b are folded into its
weights and the detector runs unchanged. ``scripts/frame_net_calibrate.py``
does it for the shipped weights on synthetic yards, ``adapt.py`` for an
adapted model on the analyst's reviewed cars.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, clipped so that far-off logits cannot overflow."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))


def logit(p) -> np.ndarray:
    """The logit of confidences ``p``, clipped off 0 and 1 so that a certain detection
    does not weigh infinitely in a fit."""
    p = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_platt(logit: np.ndarray, right: np.ndarray, iterations: int = 100, l2: float = 1e-3):
    """(a, b) maximising the likelihood of ``right`` under sigmoid(a * logit + b),
    with a small L2 penalty so that separable data cannot run off: Newton's method.
    ``a`` must come out positive, or the calibration would turn the ranking over."""
    a, b = 1.0, 0.0
    x = np.stack([logit, np.ones_like(logit)], axis=1)
    penalty = l2 * len(logit) * np.eye(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * logit + b, -30, 30)))
        grad = x.T @ (right - p) - penalty @ np.array([a, b])
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hess, grad)
        a, b = a + step[0], b + step[1]
        if np.abs(step).max() < 1e-9:
            break
    if not a > 0:
        raise ValueError(f"calibration came out decreasing (a = {a:.3f}): the network's heat does not rank cars")
    return float(a), float(b)


def fold_calibration(weights: dict, scale: float, shift: float) -> dict:
    """Weights whose heat logit is ``scale * logit + shift`` of ``weights``'; nothing else changes."""
    out = {k: np.array(v, copy=True) for k, v in weights.items()}
    head = max(int(k[4:-2]) for k in out if k.startswith("conv") and k.endswith("_w"))
    out[f"conv{head}_w"][0] *= scale
    out[f"conv{head}_b"][0] = scale * out[f"conv{head}_b"][0] + shift
    return out
