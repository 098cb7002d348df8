"""The settings, errors and callbacks of an adaptation (``adapt.py``), which every part of it shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

TRAIN_HEAD, TRAIN_LAST = "head", "last"

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


class AdaptError(ValueError):
    """The reviewed cars cannot adapt the detector; the message says why."""


class AdaptCanceled(RuntimeError):
    pass


@dataclass
class AdaptSettings:
    train: str = TRAIN_LAST
    epochs: int = 10
    batch: int = 1024
    learning_rate: float = 2e-3
    keep_near_base: float = 1e-3  # L2 pull of the trained weights towards the base ones
    background_weight: float = 1.0  # how much cells away from reviewed cars count (taught the base answer)
    background_share: float = 1.0  # cells away from reviewed cars per cell near them
    replay_share: float = 1.0  # cells of the replay frames (ordinary yards) per cell near reviewed cars
    blend: float = 0.5  # the model kept: base + blend x (trained - base)
    augmentations: int = 4  # views of every frame: as it is, flipped either way, both, colours changed
    folds: int = 3  # the site cut into this many blocks, each held out in turn to measure the result
    seed: int = 0
    keep_always: bool = False  # keep the adapted model whatever the held-out cars say: to measure what the check refuses
