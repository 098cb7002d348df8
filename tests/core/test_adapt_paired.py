"""The adaptation keeps an adapted model only on a gain beyond chance (core/adapt_scoring.Paired)."""

from __future__ import annotations

import math

import pytest

from railwatch_plugin.core.adapt_review import IGNORE, NEGATIVE, POSITIVE, ReviewedCar
from railwatch_plugin.core.adapt_scoring import Paired, _Found, paired

GSD = (0.5, 0.5)


def car(i, status=POSITIVE):
    return ReviewedCar(100.0 + 40.0 * i, 200.0, status, 15.0, 90.0)


def at(i, confidence=0.9, row=200.0):
    return _Found(100.0 + 40.0 * i, row, math.log(confidence / (1.0 - confidence)))


@pytest.mark.parametrize("gains, losses, chance, beyond", [
    (5, 0, 1 / 32, True),     # five, all the adapted model's way: 3 %
    (4, 0, 1 / 16, False),    # four: 6 %, could be chance
    (7, 1, 9 / 256, True),
    (6, 2, 37 / 256, False),  # a net gain of four is what blocks of 100 cars give by chance
    (3, 3, 42 / 64, False),
    (0, 0, 1.0, False),
    (1, 5, 63 / 64, False),
])
def test_a_gain_is_kept_only_beyond_chance(gains, losses, chance, beyond):
    d = Paired(gains, losses)
    assert d.chance == pytest.approx(chance)
    assert d.beyond_chance() is beyond


def test_the_chance_of_a_large_review_is_a_number():
    assert Paired(600, 500).chance == pytest.approx(0.0014, abs=5e-4)
    assert Paired(600, 500).beyond_chance()


def test_the_things_the_models_differ_on_are_counted_once_each():
    cars = [car(i) for i in range(6)] + [car(6, IGNORE), car(7, NEGATIVE)]
    base = [at(0), at(1), at(2), at(5, 0.3),           # 5 below 0.5: not found
            at(20, row=400.0), at(21, row=400.0),      # two false detections, 20 m apart
            at(7)]                                     # a rejected car: false
    adapted = [at(0), at(1), at(3), at(4), at(5, 0.6),  # finds 3, 4 and 5, loses 2
               at(20, row=401.0),                      # the same false detection as the base's
               at(30, row=400.0),                      # a new false one
               at(6)]                                  # on an unreviewed car: a don't-care
    d = paired(base, adapted, cars, [], GSD, everywhere=True)
    # gains: cars 3, 4, 5, the base's false detections at 21 and on the rejected car;
    # losses: car 2 and the new false one.
    assert (d.gains, d.losses) == (5, 2)
    assert paired(base, base, cars, [], GSD, everywhere=True) == Paired(0, 0)
    assert paired(adapted, base, cars, [], GSD, everywhere=True) == Paired(2, 5)


def test_a_car_placed_two_ways_is_one_thing_not_two():
    cars = [car(i) for i in range(3)]
    base = [at(0), at(1), _Found(100.0 + 80.0 + 14.0, 200.0, 2.0)]  # car 2 placed 7 m off: false, and missed
    adapted = [at(0), at(1), at(2)]
    assert paired(base, adapted, cars, [], GSD, everywhere=True) == Paired(1, 0)


def test_cars_of_the_other_part_of_the_split_are_dont_cares():
    held, trained = [car(i) for i in range(3)], [car(i) for i in range(3, 6)]
    base = [at(0), at(1), at(2)]
    adapted = base + [at(3), at(4)]  # finds cars it learnt from: neither right nor wrong here
    assert paired(base, adapted, held, trained, GSD, everywhere=True) == Paired(0, 0)
