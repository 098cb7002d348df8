"""What the frame network is shown: a rotated frame, normalised and padded.

Images differ in brightness, contrast and colour balance from sensor to
sensor and date to date; the network should judge shapes, not the exposure.
So each frame's luminance is centred on its own median and every channel is
divided by the frame's luminance spread; colour channels are centred too (a
colour cast moves them all). Pixels outside the image (nodata, the corners of
a rotated tile) are zero in every channel, and a fourth channel says which
pixels are real, so the network learns that a car cut by the image edge is
not a whole car.
"""

from __future__ import annotations

import numpy as np

from .frame import RotatedFrame
from .frame_net import IN_CHANNELS, MULTIPLE_COLS, MULTIPLE_ROWS

SPREAD_FLOOR = 8.0  # 0-255 scale: a flat frame is not blown up into noise
SAMPLE_PIXELS = 100_000  # enough for the median and spread of a frame


def frame_input(frame: RotatedFrame) -> np.ndarray:
    """(IN_CHANNELS, rows, cols) float32, rows and cols padded up to the network's multiples."""
    feats, valid = frame.features, frame.valid
    rows, cols = valid.shape
    out_rows = -(-rows // MULTIPLE_ROWS) * MULTIPLE_ROWS
    out_cols = -(-cols // MULTIPLE_COLS) * MULTIPLE_COLS
    x = np.zeros((IN_CHANNELS, out_rows, out_cols), np.float32)
    x[IN_CHANNELS - 1, :rows, :cols] = valid
    # The statistics from every step-th pixel each way: picking all valid
    # pixels first copied the whole frame (a third of this function's time).
    step = max(1, int(np.sqrt(rows * cols / SAMPLE_PIXELS)))
    picked = feats[::step, ::step][valid[::step, ::step]]
    if len(picked) == 0:
        return x
    centre = np.median(picked, axis=0)
    scale = float(picked[:, 0].std()) + SPREAD_FLOOR
    invalid = ~valid
    for c in range(min(feats.shape[2], IN_CHANNELS - 1)):
        plane = x[c, :rows, :cols]
        np.subtract(feats[:, :, c], centre[c], out=plane)
        plane *= 1.0 / scale
        plane[invalid] = 0.0
    return x
