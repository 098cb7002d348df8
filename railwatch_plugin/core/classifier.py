"""Score car candidates with a small neural network trained on synthetic yards.

The geometric stages propose every car-width band that stands out; most are
not cars (empty tracks, ballast edges, the ground between tracks, shadows).
Which cue combination separates them depends on lighting and resolution in
ways hand-set thresholds could not follow, so a one-hidden-layer network
weighs the cues of ``cues.py``. Weights live in ``car_classifier.npz`` beside
this file (made by ``scripts/train_car_classifier.py``; a few kB, numpy only).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Optional

import numpy as np

from .cues import CUE_NAMES

WEIGHTS_PATH = os.path.join(os.path.dirname(__file__), "car_classifier.npz")


class CarClassifier:
    def __init__(self, mean, std, w1, b1, w2, b2, names):
        if list(names) != list(CUE_NAMES):
            raise ValueError("car_classifier.npz was trained on other cues; retrain it")
        self.mean, self.std = mean, std
        self.w1, self.b1, self.w2, self.b2 = w1, b1, w2, b2

    def probability(self, cues: np.ndarray) -> np.ndarray:
        x = (np.atleast_2d(cues) - self.mean) / self.std
        h = np.tanh(x @ self.w1 + self.b1)
        z = h @ self.w2 + self.b2
        return 1.0 / (1.0 + np.exp(-np.clip(z.ravel(), -30, 30)))

    def save(self, path: str = WEIGHTS_PATH) -> None:
        np.savez_compressed(path, mean=self.mean, std=self.std, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2,
                            names=np.array(CUE_NAMES))


@lru_cache(maxsize=1)
def load_classifier(path: str = WEIGHTS_PATH) -> Optional[CarClassifier]:
    if not os.path.exists(path):
        return None
    with np.load(path) as z:
        return CarClassifier(z["mean"], z["std"], z["w1"], z["b1"], z["w2"], z["b2"], [str(n) for n in z["names"]])
