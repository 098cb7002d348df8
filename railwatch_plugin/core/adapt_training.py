"""Training the tail on the cells: Adam in numpy, from the base weights and held near them."""

from __future__ import annotations

import math
from typing import Callable, Dict

import numpy as np

from .adapt_cells import Cells
from .adapt_network import Tail
from .adapt_settings import TRAIN_LAST, AdaptCanceled, AdaptSettings, CancelFn
from .calibration import sigmoid

BACKGROUND_HEAT_WEIGHT = 10.0  # the base's heat away from reviewed cars counts this much more than its other maps


def loss_gradient(out: np.ndarray, cells: Cells, idx: np.ndarray, background_weight: float):
    """(loss, d loss / d out) for the tail's outputs ``out`` (n, len(HEAD)) at cells ``idx``:
    CenterNet's focal loss on the heat and smooth L1 on the measures near reviewed cars (as the
    training), the base network's answers elsewhere (heat: cross-entropy; the rest: squared error)."""
    heat, weight, reg, reg_w = cells.heat[idx], cells.weight[idx], cells.reg[idx], cells.reg_w[idx]
    base, bg = cells.base[idx], cells.background[idx]
    grad = np.zeros_like(out)
    z = out[:, 0]
    p = np.clip(sigmoid(z), 1e-4, 1 - 1e-4)
    fg = ~bg
    pos = fg & (heat >= 1.0)
    n_pos = max(1.0, float(pos.sum()))
    pb = sigmoid(base[:, 0])
    neg = fg & ~pos
    loss = -np.sum((1 - p[pos]) ** 2 * np.log(p[pos]))
    grad[pos, 0] = 2 * p[pos] * (1 - p[pos]) ** 2 * np.log(p[pos]) - (1 - p[pos]) ** 3
    wn = weight[neg] * (1 - heat[neg]) ** 4
    loss += -np.sum(wn * p[neg] ** 2 * np.log(1 - p[neg]))
    grad[neg, 0] = -wn * (2 * p[neg] ** 2 * (1 - p[neg]) * np.log(1 - p[neg]) - p[neg] ** 3)
    loss, grad[:, 0] = loss / n_pos, grad[:, 0] / n_pos
    # Measures, near reviewed cars.
    w = reg_w / max(1.0, float(reg_w.sum()))
    d = out[:, 1:6] - reg
    beta = 0.2
    small = np.abs(d) < beta
    loss += float(np.sum(w[:, None] * np.where(small, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)))
    grad[:, 1:6] += w[:, None] * np.where(small, d / beta, np.sign(d))
    # Elsewhere, and the kinds everywhere: the base network's answer.
    n = max(1.0, float(len(idx)))
    w_heat = background_weight * BACKGROUND_HEAT_WEIGHT / n
    loss += w_heat * float(np.sum(bg * -(pb * np.log(p) + (1 - pb) * np.log(1 - p))))
    grad[:, 0] += w_heat * bg * (p - pb)
    keep = np.where(bg[:, None], 1.0, 0.0) * np.ones((1, out.shape[1]))
    keep[:, 0] = 0.0
    keep[:, 6:] = 1.0
    d = (out - base) * keep
    loss += background_weight * float(np.sum(d * d)) / n
    grad += background_weight * 2 * d / n
    return loss, grad


def train_tail(cells: Cells, base: Tail, settings: AdaptSettings, rng, progress: Callable[[float], None],
               is_canceled: CancelFn) -> Tail:
    """Adam on the tail (or the head alone) from the base weights, held near them."""
    tail = Tail(*(p.copy() for p in base.params()))
    trained = [0, 1, 2, 3] if settings.train == TRAIN_LAST else [2, 3]
    params = tail.params()
    base_params = base.params()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    n = len(cells.heat)
    steps_per_epoch = max(1, n // settings.batch)
    total = settings.epochs * steps_per_epoch
    step = 0
    for epoch in range(settings.epochs):
        order = rng.permutation(n)
        for k in range(steps_per_epoch):
            if is_canceled():
                raise AdaptCanceled()
            idx = order[k * settings.batch : (k + 1) * settings.batch]
            xb = cells.x[idx].astype(np.float32)
            if settings.train == TRAIN_LAST:
                a = xb @ tail.w1.T + tail.b1
                h = np.maximum(a, 0.0)
            else:
                h = xb
            out = h @ tail.w2.T + tail.b2
            _, g = loss_gradient(out, cells, idx, settings.background_weight)
            grads = [None, None, g.T @ h, g.sum(axis=0)]
            if settings.train == TRAIN_LAST:
                ga = (g @ tail.w2) * (a > 0)
                grads[0], grads[1] = ga.T @ xb, ga.sum(axis=0)
            step += 1
            lr = settings.learning_rate * 0.5 * (1 + math.cos(math.pi * step / total))
            for i in trained:
                gi = grads[i] + settings.keep_near_base * (params[i] - base_params[i])
                m[i] = 0.9 * m[i] + 0.1 * gi
                v[i] = 0.999 * v[i] + 0.001 * gi * gi
                mh, vh = m[i] / (1 - 0.9 ** step), v[i] / (1 - 0.999 ** step)
                params[i] -= lr * mh / (np.sqrt(vh) + 1e-8)
        progress((epoch + 1) / settings.epochs)
    return tail


def blend(base: Dict[str, np.ndarray], trained: Dict[str, np.ndarray], share: float) -> Dict[str, np.ndarray]:
    """Weights ``share`` of the way from ``base`` to ``trained``. Halfway kept what adapting
    gained on the reviewed site and lost nothing elsewhere (README: the trained weights alone saw
    new false cars in unreviewed parts of the real yard and lost 0.04 F1 on the benchmark)."""
    return {k: (np.asarray(base[k], np.float32) + share * (np.asarray(trained[k], np.float32) - base[k])).astype(np.float32)
            for k in base}
