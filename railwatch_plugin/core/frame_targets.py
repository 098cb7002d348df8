"""Training targets of the frame network, per output cell; numpy only, so tests can check them
and the adaptation (``adapt.py``) can train on them in QGIS.

- heat: 1 at the cell holding a car's centre, a Gaussian around it (narrow
  across the track, about a tenth of the car's length along it); cars turned
  12-20 degrees from the frame's rows (label 0) are neither asked for nor
  penalised there (weight 0);
- near each centre (Gaussian >= REG_MIN_HEAT): the centre's offset from the
  cell (in cells), log length, turn, width and kind, as ``frame_net.HEAD``
  names them.

``frame_cars.cars_in_frame`` reading these targets as maps gives the cars
back: tests/core/test_frame_net_targets.py.
"""

from __future__ import annotations

import math

import numpy as np

from . import frame_net as fn

SIGMA_ACROSS_M = 0.6
REG_MIN_HEAT = 0.5


def targets(cars: np.ndarray, out_rows: int, out_cols: int):
    """Rasterise one crop's cars: heat (r, c), heat weight, regression targets (5, r, c), reg weight, kind (r, c)."""
    heat = np.zeros((out_rows, out_cols), np.float32)
    ignore = np.zeros((out_rows, out_cols), bool)
    reg = np.zeros((5, out_rows, out_cols), np.float32)
    reg_w = np.zeros((out_rows, out_cols), np.float32)
    kind = np.zeros((out_rows, out_cols), np.int64)
    rr, cc = np.mgrid[0:out_rows, 0:out_cols]
    for col, row, length, width, turn, kind_idx, label in cars:
        u, v = col / fn.STRIDE_COLS - 0.5, row / fn.STRIDE_ROWS - 0.5
        su = (0.1 * length + 0.5) / (fn.NET_GSD_M * fn.STRIDE_COLS)
        sv = SIGMA_ACROSS_M / (fn.NET_GSD_M * fn.STRIDE_ROWS)
        g = np.exp(-0.5 * (((cc - u) / su) ** 2 + ((rr - v) / sv) ** 2))
        if label < 0.5:
            ignore |= g > 0.05
            continue
        pr, pc = int(round(v)), int(round(u))
        if 0 <= pr < out_rows and 0 <= pc < out_cols:
            g[pr, pc] = 1.0
        np.maximum(heat, g, out=heat)
        take = (g >= REG_MIN_HEAT) & (g >= reg_w)
        if take.any():
            reg[0][take] = (u - cc)[take]
            reg[1][take] = (v - rr)[take]
            reg[2][take] = math.log(length / fn.LENGTH_REF_M)
            reg[3][take] = turn / fn.TURN_SCALE_RAD
            reg[4][take] = width - fn.WIDTH_REF_M
            kind[take] = int(kind_idx)
            reg_w[take] = g[take]
    weight = np.where(ignore & (heat < 1.0), 0.0, 1.0).astype(np.float32)
    return heat, weight, reg, reg_w, kind
