"""A car the network doubts, standing end to end with a car it is sure of, is likely a car.

Where the gaps between coupled cars do not show (dark wagons, label outlines
painted out, imagery softer than its pixels), the network is sure of a
string's clearer cars and gives the others 0.1-0.5, though it sees 85 m of
track around each. On validation yards (``scripts/string_support_fit.py``:
hard, varied and dense synthetic yards at 0.3-0.7 m, seeds no training or
benchmark uses), of the cars found at 0.1-0.2, those that stood end to end
with a sure car were real 48 % of the time and the others 21 %; at 0.4-0.5,
89 % and 60 %. So such a car's confidence becomes what was measured for it,
sigmoid(SUPPORT_SLOPE x logit(p) + SUPPORT_OFFSET_LOGIT), and a car raised to
ANCHOR_CONFIDENCE or more supports the next one: a string is followed inward
from its sure cars. The confidence stays a probability, and the threshold
applies to it as before.

The raise was measured for the shipped network's confidence, and the detector
gives it only to a model of those weights (``DetectorModel.string_support``).
A model adapted to a site runs on its own confidence: on the real yard's east
half, the model adapted on the west half's review would have had 6 of its 8
raised cars false, where the shipped network's 5 were all right.

"End to end" is ``coupling.py``'s rule for coupled cars (one line, about one
heading, a coupler's gap at most), without overlaps of more than
MAX_OVERLAP_M: a car lying over a sure one is one car found twice, not its
neighbour.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Dict, List, Tuple

from .calibration import logit, sigmoid
from .coupling import coupled_pairs
from .model import Railcar

ANCHOR_CONFIDENCE = 0.5  # a car this sure supports its neighbours
SUPPORT_SLOPE, SUPPORT_OFFSET_LOGIT = 1.280, 2.212  # scripts/string_support_fit.py
MAX_OVERLAP_M = 2.0


def supported_confidence(confidence: float, slope: float = SUPPORT_SLOPE, offset_logit: float = SUPPORT_OFFSET_LOGIT) -> float:
    """What a car the network gave ``confidence`` is worth when it stands end to end
    with a sure car (never less than the network said)."""
    return max(confidence, float(sigmoid(slope * logit(confidence) + offset_logit)))


def supported_cars(cars: List[Railcar], gsd_m: Tuple[float, float], slope: float = SUPPORT_SLOPE,
                   offset_logit: float = SUPPORT_OFFSET_LOGIT) -> Dict[int, float]:
    """{index: raised confidence} of the cars below ANCHOR_CONFIDENCE that a chain of
    end-to-end neighbours links to a sure car. It does not depend on the cars' order."""
    neighbours: Dict[int, List[int]] = defaultdict(list)
    for i, j, gap_m in coupled_pairs(cars, gsd_m, range(len(cars))):
        if gap_m >= -MAX_OVERLAP_M:
            neighbours[i].append(j)
            neighbours[j].append(i)
    raised: Dict[int, float] = {}
    frontier = [i for i, c in enumerate(cars) if c.confidence >= ANCHOR_CONFIDENCE]
    while frontier:
        for i in neighbours[frontier.pop()]:
            if i not in raised and cars[i].confidence < ANCHOR_CONFIDENCE:
                raised[i] = supported_confidence(cars[i].confidence, slope, offset_logit)
                if raised[i] >= ANCHOR_CONFIDENCE:
                    frontier.append(i)
    return raised


def with_string_support(cars: List[Railcar], gsd_m: Tuple[float, float]) -> List[Railcar]:
    """``cars``, those that stand in a string with sure cars at ``supported_confidence``."""
    raised = supported_cars(cars, gsd_m)
    return [replace(c, confidence=raised[i]) if i in raised else c for i, c in enumerate(cars)]
