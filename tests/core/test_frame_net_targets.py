"""What the frame network is trained to answer is what the detector reads:
the training targets of a scene, taken as the network's maps, give its cars back."""

import numpy as np
import pytest

from bench.scoring import match
from railwatch_plugin.core.detect import merge_duplicates
from railwatch_plugin.core.frame import rotate_to_horizontal
from railwatch_plugin.core.frame_cars import cars_in_frame
from railwatch_plugin.core.frame_net import HEAD, KIND_NAMES
from railwatch_plugin.core.model import DetectionParams
from railwatch_plugin.core.prepare import prepare_tile
from railwatch_synth import make_yard
from scripts.frame_net_collect import FIND_TURN_DEG, frame_truth
from scripts.frame_net_targets import targets


def maps_from_targets(cars, rows, cols):
    heat, _, reg, _, kind = targets(cars, rows, cols)
    maps = np.zeros((len(HEAD), rows, cols), np.float32)
    p = np.clip(heat, 1e-6, 1 - 1e-6)
    maps[0] = np.log(p / (1 - p))
    maps[1:6] = reg
    for k in range(len(KIND_NAMES)):
        maps[6 + k] = 5.0 * (kind == k)
    return maps


@pytest.mark.parametrize("gsd_m", [0.3, 0.7])
def test_targets_read_as_maps_give_every_car_back_with_its_kind(gsd_m):
    scene = make_yard(2001, gsd_m=gsd_m)
    work = prepare_tile(scene.image, scene.valid, (gsd_m, gsd_m), 0.5)
    frame = rotate_to_horizontal(work.features, work.valid, (scene.meta["heading_deg"] - 90.0) % 180.0)
    truth = frame_truth(scene, work, frame)
    label = (np.degrees(np.abs(truth[:, 4])) < FIND_TURN_DEG).astype(float)
    assert label.mean() > 0.9  # the scene's cars mostly run along its heading
    rows, cols = frame.valid.shape
    maps = maps_from_targets(np.c_[truth, label], rows // 2, cols // 4)
    found = merge_duplicates(cars_in_frame(maps, frame, (work.scale_col, work.scale_row), DetectionParams()))
    wanted = [c for c, lab in zip(scene.cars, label) if lab]
    score, pairs = match(found, wanted, gsd_m)
    assert score.tp == len(wanted) == len(found)
    for i, j in pairs:
        assert found[i].kind == wanted[j].kind
        assert found[i].length_m == pytest.approx(wanted[j].length_m, abs=0.01)
        assert (found[i].col_px, found[i].row_px) == pytest.approx((wanted[j].col_px, wanted[j].row_px), abs=0.01)
