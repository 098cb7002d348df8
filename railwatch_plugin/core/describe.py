"""What kind of car: the frame network's kind head read as one kind.

The network learnt the kinds from the cars of its training yards, from
each car's length, shape, tone and shadow together.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Below this probability for its likeliest kind, a car's kind is "unknown":
# an analyst is better served by no guess than by a coin toss.
KIND_MIN_PROBABILITY = 0.5


def kind_from_logits(logits: np.ndarray, kind_names: Sequence[str]) -> str:
    """A kind head's logits (``frame_net.KIND_NAMES`` order) read as one kind,
    or "unknown" when no kind is likely enough."""
    p = np.exp(logits - np.max(logits))
    p /= p.sum()
    best = int(np.argmax(p))
    return kind_names[best] if p[best] >= KIND_MIN_PROBABILITY else "unknown"
