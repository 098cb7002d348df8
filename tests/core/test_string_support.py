"""A doubtful car end to end with a sure one is raised to what such cars are worth (no QGIS)."""

import random

import pytest
from test_coupling import G, car

from railwatch_plugin.core.model import DetectionResult
from railwatch_plugin.core.string_support import ANCHOR_CONFIDENCE, supported_confidence, with_string_support


def confidences(cars):
    return [round(c.confidence, 6) for c in with_string_support(cars, G)]


def test_a_doubtful_car_coupled_to_a_sure_one_is_raised_past_the_threshold_and_a_lone_one_is_not():
    cars = [car(0), car(16, confidence=0.3), car(80, confidence=0.3)]  # 1 m gap; then 49 m away
    got = with_string_support(cars, G)
    assert supported_confidence(0.3) > 0.6  # measured: about 80 % of such cars are real
    assert [round(c.confidence, 6) for c in got] == [0.9, round(supported_confidence(0.3), 6), 0.3]
    result = DetectionResult(all_cars=got, min_confidence=0.5)
    assert len(result.cars) == 2


def test_a_string_is_followed_inward_from_its_sure_car_until_a_car_too_doubtful_to_support_the_next():
    assert supported_confidence(0.3) >= ANCHOR_CONFIDENCE > supported_confidence(0.11)
    cars = [car(0), car(16, confidence=0.3), car(32, confidence=0.25), car(48, confidence=0.11),
            car(64, confidence=0.3)]
    got = confidences(cars)
    assert got[1:4] == [round(supported_confidence(p), 6) for p in (0.3, 0.25, 0.11)]
    assert got[4] == 0.3  # its only link to the string runs through the 0.11 car, raised to under 0.5


@pytest.mark.parametrize("neighbour", [
    dict(along_m=16, across_m=4.5),  # the next track
    dict(along_m=16, heading_deg=75.0),  # turned away
    dict(along_m=21),  # 6 m past the sure car's end: no coupler
    dict(along_m=12),  # lies 3 m over the sure car: one car found twice, not its neighbour
], ids=["next track", "turned", "past a gap", "overlapping"])
def test_a_car_that_does_not_stand_end_to_end_with_a_sure_one_keeps_its_confidence(neighbour):
    assert confidences([car(0), car(confidence=0.3, **neighbour)])[1] == 0.3


def test_two_doubtful_cars_support_nothing_and_a_sure_car_is_left_as_it_is():
    assert confidences([car(0, confidence=0.45), car(16, confidence=0.45)]) == [0.45, 0.45]
    assert confidences([car(0), car(16, confidence=0.7)]) == [0.9, 0.7]


def test_the_result_does_not_depend_on_the_cars_order():
    cars = [car(0), car(16, confidence=0.3), car(32, confidence=0.2), car(48, confidence=0.15), car(80, confidence=0.4)]
    want = dict(zip(range(len(cars)), confidences(cars)))
    order = list(range(len(cars)))
    for seed in range(5):
        random.Random(seed).shuffle(order)
        assert dict(zip(order, confidences([cars[i] for i in order]))) == want


def test_it_is_for_the_shipped_network_and_a_file_of_its_weights_not_for_a_model_adapted_to_a_site(tmp_path):
    from railwatch_plugin.core.model_file import load_model, save_model

    shipped = load_model()
    assert shipped.string_support
    save_model(str(tmp_path / "base_kept.npz"), shipped.weights, {"name": "base kept unchanged"})
    assert load_model(str(tmp_path / "base_kept.npz")).string_support
    adapted = dict(shipped.weights)
    adapted["conv0_b"] = adapted["conv0_b"] + 0.01
    save_model(str(tmp_path / "adapted.npz"), adapted, {"name": "site adapted"})
    assert not load_model(str(tmp_path / "adapted.npz")).string_support


def test_the_detector_raises_doubtful_cars_only_with_a_model_measured_for_it():
    from dataclasses import replace

    from railwatch_plugin.core import DetectionParams, detect_railcars_in_array
    from railwatch_plugin.core.model_file import load_model
    from railwatch_synth import make_yard
    from railwatch_synth.config import config_for

    painted = config_for("dense").with_(painted_out_outline_probability=1.0)
    yard = make_yard(2201, gsd_m=0.5, config=painted, size_m=(250.0, 150.0))
    shipped = load_model()

    def confidences_found(model, **params):
        result = detect_railcars_in_array(yard.image, 0.5, DetectionParams(**params), mask=yard.valid, model=model)
        return sorted(round(c.confidence, 6) for c in result.all_cars)

    alone = confidences_found(shipped, string_support=False)
    assert confidences_found(shipped) != alone  # precondition: this yard has doubtful cars in strings
    assert confidences_found(replace(shipped, string_support=False)) == alone
