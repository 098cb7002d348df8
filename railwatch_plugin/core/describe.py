"""What kind of car, and how sure we are that it is one.

The kind comes from the kind network's head (``car_scorer.KIND_PATH``, read
by ``kind_from_logits``), which learnt it from the patches of right cuts: 80 %
right on the benchmark. Without that network it comes from size,
cross-section and tone, the cues an analyst uses (40 % right): a tank car is
a cylinder (bright ridge along its centre, darker flanks); an open hopper or
gondola is a dark tub inside a lighter rim; a flatcar is long and broken up
by its load; a covered hopper is light grey; a boxcar is a plain roof of
14-18 m.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Below this probability for its likeliest kind, a car's kind is "unknown":
# an analyst is better served by no guess than by a coin toss.
KIND_MIN_PROBABILITY = 0.5


def classify_kind(length_m: float, cross_lum: np.ndarray, inner_colour: np.ndarray, along_variation: float) -> str:
    """``cross_lum``: luminance across the car (edge to edge); ``inner_colour``:
    mean (lum, rg, yb); ``along_variation``: luminance spread along the car
    relative to its contrast."""
    n = len(cross_lum)
    if n >= 3:
        third = max(1, n // 3)
        centre = float(np.mean(cross_lum[third : n - third]))
        flanks = float(np.mean(np.r_[cross_lum[:third], cross_lum[n - third :]]))
        crown = centre - flanks
    else:
        crown = 0.0
    lum = float(inner_colour[0])
    chroma = float(np.hypot(*inner_colour[1:3])) if len(inner_colour) >= 3 else 0.0
    if length_m >= 18.5 and along_variation > 0.35:
        return "flat/container"
    if crown > 12 and length_m <= 21:
        return "tank"
    if crown < -12 and length_m <= 17.5:
        return "hopper/gondola"
    if length_m >= 18.5:
        return "flat/container"
    if lum > 150 and chroma < 18 and along_variation > 0.15:
        return "covered"
    if 13.0 <= length_m <= 18.5:
        return "box"
    return "unknown"


def kind_from_logits(logits: np.ndarray, kind_names: Sequence[str]) -> str:
    """The scorer's kind head (see ``car_scorer``) read as one kind, or
    "unknown" when no kind is likely enough."""
    p = np.exp(logits - np.max(logits))
    p /= p.sum()
    best = int(np.argmax(p))
    return kind_names[best] if p[best] >= KIND_MIN_PROBABILITY else "unknown"


def confidence_score(contrast: float, width_ok: float, context: float, method_factor: float) -> float:
    """Combine independent cues (each 0-1) into a 0-1 confidence."""
    c = float(np.clip((contrast - 5.0) / 20.0, 0.0, 1.0))
    return float(np.clip(c**0.7 * width_ok * method_factor * (0.55 + 0.45 * context), 0.0, 1.0))
