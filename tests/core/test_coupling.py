"""Strings of coupled cars, formed over the final cars (no QGIS)."""

import math

from railwatch_plugin.core.coupling import NOT_COUNTED, with_strings
from railwatch_plugin.core.model import Railcar

G = (0.5, 0.5)


def car(along_m, across_m=0.0, length_m=15.0, heading_deg=60.0, confidence=0.9):
    """A car placed by metres along and across a line through (500, 500) px at ``heading_deg``."""
    h = math.radians(heading_deg)
    x = 500 + (along_m * math.sin(h) + across_m * math.cos(h)) / G[0]
    y = 500 + (-along_m * math.cos(h) + across_m * math.sin(h)) / G[1]
    return Railcar(col_px=x, row_px=y, corners_px=((x, y),) * 4, length_m=length_m, width_m=3.0,
                   heading_deg=heading_deg, confidence=confidence, kind="box", method="single")


def test_cars_end_to_end_on_one_line_are_one_string_and_a_lone_car_is_single():
    cars = [car(0), car(16), car(32.5), car(80)]  # gaps 1.0, 1.5 m; then 32.5 m
    got = with_strings(cars, G, 0.5)
    assert [c.string_id for c in got] == [0, 0, 0, 1]
    assert [c.method for c in got] == ["gap", "gap", "gap", "single"]


def test_a_car_on_the_next_track_or_turned_away_or_past_a_gap_is_not_coupled():
    cars = [car(0), car(16, across_m=4.0), car(16, heading_deg=75.0), car(19)]  # 4 m gap
    got = with_strings(cars, G, 0.5)
    assert len({c.string_id for c in got}) == 4 and all(c.method == "single" for c in got)


def test_the_gap_allowed_grows_with_the_cars_length_as_their_found_ends_err():
    """Two 24 m cars found 4 m apart are coupled (their ends err by 1-2 m, their real
    gap is under 2 m); two 14 m cars 4 m apart are not (allowed: 2 m + 10 % of 14 m)."""
    long_pair = [car(0, length_m=24.0), car(28, length_m=24.0)]
    short_pair = [car(0, length_m=14.0), car(18, length_m=14.0)]
    assert len({c.string_id for c in with_strings(long_pair, G, 0.5)}) == 1
    assert len({c.string_id for c in with_strings(short_pair, G, 0.5)}) == 2


def test_cars_below_the_threshold_are_in_no_string_and_do_not_join_two():
    cars = [car(0), car(16, confidence=0.3), car(32)]
    got = with_strings(cars, G, 0.5)
    assert [c.string_id for c in got] == [0, NOT_COUNTED, 1]
    assert [c.method for c in got] == ["single", "single", "single"]


def test_heading_wraps_at_180_degrees():
    cars = [car(0, heading_deg=179.0), car(16, heading_deg=179.0)]
    cars[1] = Railcar(**{**cars[1].__dict__, "heading_deg": 1.0})  # the same line, 2 degrees apart
    assert {c.string_id for c in with_strings(cars, G, 0.5)} == {0}
