"""Car hypotheses along a string and the choice among them (no QGIS)."""

import numpy as np
import pytest

from railwatch_plugin.core.hypotheses import car_hypotheses, choose
from railwatch_plugin.core.model import METHOD_GAP, METHOD_LENGTH, METHOD_SINGLE
from railwatch_plugin.core.split import Segment

G = 0.5  # m per px
LENGTHS = (10.0, 30.0)


def spans_m(hyps):
    return {(round(h.start * G, 1), round(h.end * G, 1)) for h in hyps}


def test_three_cars_with_visible_gaps_are_offered_as_three_single_cars():
    # 45 m string, gaps at 15 m and 30 m.
    cuts = [(30, 0.9), (60, 0.8)]
    hyps = car_hypotheses(90, cuts, G, LENGTHS, 15.0, [Segment(0, 90, 1, False, False)])
    spans = spans_m(hyps)
    assert {(0.0, 15.0), (15.0, 30.0), (30.0, 45.0)} <= spans
    # Two cars read as one are offered too: the scorer, not the splitter, decides.
    assert (0.0, 30.0) in spans and (15.0, 45.0) in spans
    assert all((h.end - h.start) * G <= LENGTHS[1] + 1.0 for h in hyps if h.method != METHOD_LENGTH)


def test_a_gapless_string_is_divided_by_the_typical_length():
    hyps = car_hypotheses(120, [], G, LENGTHS, 15.0, [])  # 60 m, no boundary seen
    even = sorted((h.start * G, h.end * G) for h in hyps if h.method == METHOD_LENGTH)
    assert even == [(0.0, 15.0), (15.0, 30.0), (30.0, 45.0), (45.0, 60.0)]


def test_a_lone_car_is_a_single_and_marks_its_ends():
    hyps = car_hypotheses(30, [], G, LENGTHS, 15.0, [])
    assert [(h.method, h.at_string_end) for h in hyps] == [(METHOD_SINGLE, True)]


def test_cut_strengths_travel_with_the_hypothesis():
    hyps = car_hypotheses(90, [(30, 0.9), (60, 0.4)], G, LENGTHS, 15.0, [])
    middle = next(h for h in hyps if (h.start, h.end) == (30.0, 60.0))
    assert (middle.method, middle.start_cut, middle.end_cut, middle.at_string_end) == (METHOD_GAP, 0.9, 0.4, False)


def test_choose_prefers_two_good_cars_to_one_that_spans_them():
    intervals = [(0, 30), (0, 15), (15, 30)]
    assert choose(intervals, [0.5, 0.4, 0.4], overlap_px=1) == [1, 2]
    assert choose(intervals, [0.9, 0.4, 0.4], overlap_px=1) == [0]


def test_choose_allows_neighbours_to_share_a_coupler_gap_but_not_more():
    assert choose([(0, 16), (15, 30)], [1.0, 1.0], overlap_px=1.5) == [0, 1]
    assert choose([(0, 20), (15, 30)], [1.0, 0.9], overlap_px=1.5) == [0]


def test_choose_never_takes_a_hypothesis_of_no_weight():
    assert choose([(0, 10), (20, 30)], [0.0, -0.3], overlap_px=1) == []


@pytest.mark.parametrize("seed", range(5))
def test_choose_finds_the_best_total_weight(seed):
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0, 100, 9)
    intervals = [(s, s + rng.uniform(5, 30)) for s in starts]
    weights = rng.uniform(-0.2, 1.0, 9)
    best = 0.0
    for mask in range(1 << 9):
        idx = [i for i in range(9) if mask >> i & 1]
        if any(weights[i] <= 0 for i in idx):
            continue
        ivs = sorted(intervals[i] for i in idx)
        if all(b[0] >= a[1] - 1.0 for a, b in zip(ivs, ivs[1:])):
            best = max(best, sum(weights[i] for i in idx))
    got = choose(intervals, weights, overlap_px=1.0)
    assert sum(weights[i] for i in got) == pytest.approx(best)
