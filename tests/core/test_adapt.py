"""Adapting the detector to reviewed cars (core/adapt.py) and detector model files (core/model_file.py)."""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from bench.adapt import LOOKS, synthetic_review  # noqa: E402
from bench.scoring import Score, match  # noqa: E402
from railwatch_plugin.core import DetectionParams, detect_railcars_in_array  # noqa: E402
from railwatch_plugin.core.adapt import (  # noqa: E402
    NEGATIVE, POSITIVE, AdaptError, AdaptSettings, ReviewedCar, ReviewedScene, adapt, completed, spatial_folds)
from railwatch_plugin.core.model_file import (  # noqa: E402
    HEADER_KEY, ModelFileError, load_model, model_from_weights, read_model_file, save_model)


@pytest.fixture(scope="module")
def shipped():
    return load_model(None)


def blind(weights):
    """Weights that never see a car: the heat head's bias far below zero."""
    out = {k: np.array(v, copy=True) for k, v in weights.items()}
    head = max(int(k[4:-2]) for k in out if k.endswith("_w"))
    out[f"conv{head}_w"][0] = 0.0
    out[f"conv{head}_b"][0] = -30.0
    return out


def test_a_model_file_round_trips_with_its_header(tmp_path, shipped):
    path = str(tmp_path / "site.npz")
    save_model(path, shipped.weights, {"name": "site A", "positives": 42})
    model = load_model(path)
    assert model.name == "site A" and model.header["positives"] == 42
    assert model.digest == shipped.digest  # same weights, same digest
    assert model.label.startswith("site A@") and model.label != shipped.label
    for key, value in shipped.weights.items():
        np.testing.assert_array_equal(model.weights[key], value)
    assert load_model(path) is model  # cached while unchanged
    save_model(path, blind(shipped.weights), {"name": "site A"})
    again = load_model(path)
    assert again is not model and again.digest != model.digest  # a rewritten file is read again


@pytest.mark.parametrize("make, words", [
    (lambda p, w: open(p, "w").write("not a model"), "not a RailWatch detector model"),
    (lambda p, w: np.savez(p, a=np.zeros(3)), "lacks conv0_w"),
    (lambda p, w: np.savez(p, **dict(w, conv0_w=np.zeros((3, 3, 3, 3), np.float32))), "another network layout"),
    (lambda p, w: np.savez(p, **dict(w, conv0_b=np.full(w["conv0_b"].shape, np.nan, np.float32))), "not numbers"),
    (lambda p, w: np.savez(p, **w, **{HEADER_KEY: np.frombuffer(b'{"format": "other"}', np.uint8)}), "header"),
    (lambda p, w: np.savez(p, **w, **{HEADER_KEY: np.frombuffer(
        b'{"format": "railwatch-frame-net", "format_version": "x"}', np.uint8)}), "format_version 'x' is not a number"),
    (lambda p, w: (np.savez(p, **w), open(p, "r+b").truncate(40_000)), "cut short while it was copied"),
    (lambda p, w: np.save(open(p, "wb"), w["conv0_w"]), "no .npz archive at all"),  # a bare .npy saved under an .npz name
    (lambda p, w: np.savez(p, **dict(w, conv0_b=np.array(["x"] * len(w["conv0_b"])))), "not numbers"),
])
def test_a_bad_or_foreign_model_file_gets_a_clear_message(tmp_path, shipped, make, words):
    path = str(tmp_path / "bad.npz")
    make(path, shipped.weights)
    with pytest.raises(ModelFileError, match=words):
        load_model(path)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_model_file(str(tmp_path / "missing.npz"))


def test_the_model_given_is_the_one_that_runs(shipped, tmp_path):
    from railwatch_synth import make_yard

    scene = make_yard(3, gsd_m=0.5, size_m=(200.0, 150.0), difficulty="easy")
    path = str(tmp_path / "blind.npz")
    save_model(path, blind(shipped.weights), {"name": "blind"})
    base = detect_railcars_in_array(scene.image, 0.5, mask=scene.valid)
    other = detect_railcars_in_array(scene.image, 0.5, mask=scene.valid, model=path)
    assert len(base.cars) >= 5 and base.model == shipped.label
    assert other.cars == [] and other.model.startswith("blind@")


def test_a_bare_point_gets_the_sites_length_and_its_tracks_heading():
    from railwatch_synth import make_yard

    scene = make_yard(4, gsd_m=0.5, size_m=(200.0, 150.0), difficulty="easy", heading_deg=30.0)
    cars = [ReviewedCar(c.col_px, c.row_px, POSITIVE, 17.0, c.heading_deg) for c in scene.cars[:3]]
    cars.append(ReviewedCar(scene.cars[3].col_px, scene.cars[3].row_px, POSITIVE))
    done = completed(ReviewedScene("s", scene.image, (0.5, 0.5), cars)).cars[-1]
    assert done.bare and done.length_m == 17.0
    assert min(abs(done.heading_deg - 30.0), 180 - abs(done.heading_deg - 30.0)) < 4.0


def test_the_folds_are_blocks_of_the_site_along_its_longest_extent():
    cars = [ReviewedCar(float(c), 10.0 + (c % 7), POSITIVE, 15.0, 90.0) for c in range(0, 990, 10)]
    blocks = spatial_folds(ReviewedScene("s", np.zeros((20, 1000, 3), np.uint8), (0.5, 0.5), cars), 3)
    folds = blocks.of([c.col_px for c in cars], [c.row_px for c in cars])
    assert np.bincount(folds).tolist() == [33, 33, 33]
    cols = np.array([c.col_px for c in cars])
    assert np.all(np.diff(folds[np.argsort(cols)]) >= 0) or np.all(np.diff(folds[np.argsort(cols)]) <= 0)


def test_too_few_reviewed_cars_are_refused(shipped):
    cars = [ReviewedCar(100.0 + 30 * i, 100.0, POSITIVE, 15.0, 90.0) for i in range(5)]
    with pytest.raises(AdaptError, match="at least"):
        adapt([ReviewedScene("s", np.zeros((200, 400, 3), np.uint8), (0.5, 0.5), cars)], shipped)


def test_adapting_to_a_look_the_network_was_not_trained_on_gains_on_the_site_and_loses_nothing_elsewhere(shipped):
    from railwatch_synth import make_yard
    from railwatch_synth.config import HARD

    look = HARD.with_(**LOOKS["soft-hazy"].changes)
    reviewed = make_yard(5000, gsd_m=0.5, size_m=(300.0, 200.0), config=look, n_cars=60)
    cars = synthetic_review(reviewed, shipped, 0.5)
    assert any(c.status == POSITIVE for c in cars) and all(c.status in (POSITIVE, NEGATIVE) for c in cars)
    stages = []
    result = adapt([ReviewedScene("hazy", reviewed.image, (0.5, 0.5), cars, reviewed.valid)], shipped,
                   AdaptSettings(epochs=10, augmentations=2), progress=lambda f, s: stages.append((f, s)))
    assert result.figures.base.f1 < 0.8, (
        "the base model is no longer weak on this look (retrained on more varied imagery?): "
        "pick a harder look in bench/adapt.py LOOKS for this test")
    # The base is scored as it runs, with string support (0.70 here, more than alone), the adapted
    # model on its own confidence (0.78).
    assert result.adapted and result.figures.adapted.f1 > result.figures.base.f1 + 0.05
    assert stages[-1][0] == 1.0 and all(a[0] <= b[0] + 1e-9 for a, b in zip(stages, stages[1:]))
    # On other scenes of the look the adapted model must do no worse. It used to
    # find 4 more of 60 cars on seed 5001 (p4: 26 -> 30), but the network shipped
    # since (r1) finds those 30 unadapted, and adapting adds 0-1 on 5001-5003:
    # the gain on this look now shows on the reviewed site's own held-out parts
    # (above) and hardly beyond it (bench/adapt.py shift: +6 true cars of 266).
    # Compared network with network: an adapted model runs without string support
    # (measured for the shipped network only), which finds more on these scenes.
    adapted_model = model_from_weights(result.weights, "adapted")
    assert not adapted_model.string_support
    totals = {"base": Score(0, 0, 0, 0, 0), "adapted": Score(0, 0, 0, 0, 0)}
    for seed in (5001, 5002):
        test = make_yard(seed, gsd_m=0.5, size_m=(300.0, 200.0), config=look, n_cars=60)
        for name, model in (("base", replace(shipped, string_support=False)), ("adapted", adapted_model)):
            found = detect_railcars_in_array(test.image, 0.5, DetectionParams(), mask=test.valid, model=model).cars
            totals[name] = totals[name] + match(found, test.cars, 0.5)[0]
    assert totals["adapted"].tp >= totals["base"].tp, totals
    assert totals["adapted"].fp <= totals["base"].fp + 2, totals


def test_adaptation_can_be_canceled(shipped):
    from railwatch_plugin.core.adapt import AdaptCanceled
    from railwatch_synth import make_yard

    scene = make_yard(3, gsd_m=0.5, size_m=(200.0, 150.0), difficulty="easy")
    cars = [ReviewedCar(c.col_px, c.row_px, POSITIVE, c.length_m, c.heading_deg) for c in scene.cars]
    with pytest.raises(AdaptCanceled):
        adapt([ReviewedScene("s", scene.image, (0.5, 0.5), cars)], shipped, is_canceled=lambda: True)


def test_the_training_gradient_is_the_losss():
    from railwatch_plugin.core.adapt_cells import Cells
    from railwatch_plugin.core.adapt_training import loss_gradient

    rng = np.random.default_rng(1)
    n = 40
    heat = np.where(rng.random(n) < 0.2, 1.0, rng.random(n) * 0.9).astype(np.float32)
    cells = Cells(np.zeros((n, 1), np.float16), heat, rng.random(n).astype(np.float32),
                  rng.normal(size=(n, 5)).astype(np.float32), rng.random(n).astype(np.float32),
                  rng.normal(size=(n, 11)).astype(np.float32), rng.random(n) < 0.4, np.zeros(n, np.uint8))
    out = rng.normal(size=(n, 11))
    idx = np.arange(n)
    _, grad = loss_gradient(out, cells, idx, 0.7)
    for i, j in [(0, 0), (3, 0), (5, 2), (7, 8), (11, 0), (20, 4)]:
        step = np.zeros_like(out)
        step[i, j] = 1e-6
        numeric = (loss_gradient(out + step, cells, idx, 0.7)[0] - loss_gradient(out - step, cells, idx, 0.7)[0]) / 2e-6
        assert numeric == pytest.approx(grad[i, j], rel=1e-3, abs=1e-6)
