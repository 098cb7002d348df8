"""Write the adaptation's replay frames: a few crops of ordinary synthetic yards that
``core/adapt.py`` shows the network while it adapts, so that it keeps the base
model's answers on ordinary imagery (without them a model adapted to one site's
look lost 0.09 F1 on the accuracy benchmark).

    .venv/bin/python scripts/adapt_replay.py    # -> railwatch_plugin/core/adapt_replay.npz

Crops as ``frame_net_collect.py`` makes them (frames at ``NET_GSD_M`` along the
yard's track directions, most centred near a car), from seeds 4000 on (none of
training's, the benchmark's, validation's, calibration's or the tests'), at
GSDs from 0.3 to 0.7 m, hard and easy. Stored as 8 bits (``QUANT_SCALE``) to
keep the plugin small; only the inputs are kept: the base model's answers are
computed at adaptation time, so the file serves any weights.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from railwatch_plugin.core.adapt_cells import QUANT_SCALE, REPLAY_PATH  # noqa: E402
from scripts.frame_net_collect import crops_of_scene  # noqa: E402

FIRST_SEED = 4000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--per-scene", type=int, default=2)
    ap.add_argument("--out", default=REPLAY_PATH)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(FIRST_SEED)
    picked = []
    for seed in range(FIRST_SEED, FIRST_SEED + a.scenes):
        _, x, cars = crops_of_scene(seed)
        with_cars = np.unique(cars[:, 0]).astype(int) if len(cars) else np.zeros(0, int)
        pool = with_cars if len(with_cars) >= a.per_scene else np.arange(len(x))
        for i in rng.choice(pool, min(a.per_scene, len(pool)), replace=False):
            picked.append(x[i].astype(np.float32))
    x = np.stack(picked)
    quantised = np.clip(np.round(x[:, :3] * QUANT_SCALE + 128), 0, 255).astype(np.uint8)
    np.savez_compressed(a.out, x=quantised, valid=x[:, 3] > 0.5)
    print(f"{a.out}: {len(x)} crops, {os.path.getsize(a.out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
