"""Accuracy floors on seeded synthetic yards at 0.5 m, without QGIS.

A small, fast slice of bench/accuracy.py, scored the same way
(bench.scoring.match: a detection matches a true car within 40 % of its
length, one to one). Floors hold for the pooled scenes of each difficulty:

- easy scenes: F1 >= 0.97 and |count error| <= 5 % of the true count
- hard scenes: F1 >= 0.93, |count error| <= 8 %, and the kind is right for
  >= 85 % of matched cars

(Measured with the frame network: easy 99 of 99 cars, no false one; hard
F1 0.98, count error 3.9 %, kind right 98 %. The string detector before it
was held to F1 0.85 easy, 0.70 hard, and kind 70 %.)

Seeds 5000.. are used by nothing else: the frame network trains on seeds
10000 on, is calibrated on 3000 on, and the benchmark starts at 1000.
The floors are the product's promise; do not lower them to make a change pass.
"""

from __future__ import annotations

import pytest

from bench.scoring import Score, match
from railwatch_plugin.core import detect_railcars_in_array
from railwatch_synth import make_yard


GSD_M = 0.5
EASY_SEEDS = (5000, 5001, 5002, 5003)
HARD_SEEDS = (5100, 5101, 5102, 5103)

EASY_MIN_F1 = 0.97
EASY_MAX_COUNT_ERROR = 0.05  # sum of |found - true| over scenes / total true cars
HARD_MIN_F1 = 0.93
HARD_MAX_COUNT_ERROR = 0.08
HARD_MIN_KIND_RIGHT = 0.85  # of matched cars


def _scores(difficulty, seeds):
    rows = []
    for seed in seeds:
        scene = make_yard(seed, gsd_m=GSD_M, difficulty=difficulty)
        result = detect_railcars_in_array(scene.image, GSD_M, mask=scene.valid)
        score, pairs = match(result.cars, scene.cars, GSD_M)
        kinds_right = sum(result.cars[i].kind == scene.cars[j].kind for i, j in pairs)
        rows.append((seed, score, kinds_right))
    return rows


def _summary(rows) -> str:
    lines = [
        f"seed {seed}: true {s.n_true} found {s.n_found} tp {s.tp} "
        f"precision {s.precision:.2f} recall {s.recall:.2f} F1 {s.f1:.3f} kind right {k}"
        for seed, s, k in rows
    ]
    pooled = _pooled(rows)
    lines.append(
        f"pooled: true {pooled.n_true} found {pooled.n_found} F1 {pooled.f1:.3f} "
        f"count error {100 * _count_error(rows):.1f} %"
    )
    return "\n".join(lines)


def _pooled(rows) -> Score:
    return sum((s for _, s, _ in rows), Score(0, 0, 0, 0, 0))


def _count_error(rows) -> float:
    return sum(abs(s.n_found - s.n_true) for _, s, _ in rows) / max(_pooled(rows).n_true, 1)


@pytest.fixture(scope="module")
def easy():
    rows = _scores("easy", EASY_SEEDS)
    assert _pooled(rows).n_true >= 40  # enough cars for the percentages to mean something
    return rows


@pytest.fixture(scope="module")
def hard():
    rows = _scores("hard", HARD_SEEDS)
    assert _pooled(rows).n_true >= 40
    return rows


def test_easy_scenes_f1(easy):
    assert _pooled(easy).f1 >= EASY_MIN_F1, "\n" + _summary(easy)


def test_easy_scenes_count_error(easy):
    assert _count_error(easy) <= EASY_MAX_COUNT_ERROR, "\n" + _summary(easy)


def test_hard_scenes_f1(hard):
    assert _pooled(hard).f1 >= HARD_MIN_F1, "\n" + _summary(hard)


def test_hard_scenes_count_error(hard):
    assert _count_error(hard) <= HARD_MAX_COUNT_ERROR, "\n" + _summary(hard)


def test_hard_scenes_kind_is_mostly_right(hard):
    kinds_right = sum(k for _, _, k in hard)
    assert kinds_right >= HARD_MIN_KIND_RIGHT * _pooled(hard).tp, "\n" + _summary(hard)


def test_the_bench_counts_a_string_as_split_when_its_cars_fall_into_two_found_strings():
    from types import SimpleNamespace as Car

    from bench.scoring import split_strings

    truth = [Car(string_id=0)] * 5 + [Car(string_id=1)] * 3 + [Car(string_id=2)] * 2
    found = [Car(string_id=s) for s in (7, 7, 7, 7, 8, 9, 9, 9, 4, 5)]  # string 0: 4 of 5 in one
    pairs = [(i, i) for i in range(10)]
    assert split_strings(found, truth, pairs) == (2, 1)  # string 2 has too few cars to judge
    assert split_strings(found, truth, pairs, whole_share=0.8) == (2, 0)
