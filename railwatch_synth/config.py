"""How hard a scene is: one object so "easy", "hard" and the demo differ only here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Tuple


@dataclass(frozen=True)
class SceneConfig:
    n_tracks: Tuple[int, int] = (3, 12)
    n_cars: Tuple[int, int] = (20, 80)  # used when the caller gives no count
    terrain: bool = True  # varied ground; False: flat, uniform
    distractors: bool = True
    shadows: bool = True
    catenary_probability: float = 0.6
    branch_probability: float = 0.6
    ladder_inside_probability: float = 0.4  # per yard end: switches visible, else sidings run off the image
    tight_string_probability: float = 0.25  # strings coupled with almost no gap
    empty_track_probability: float = 0.25
    low_contrast_colours: bool = True  # roofs that look like ballast
    blur_sigma_px: Tuple[float, float] = (0.5, 1.0)
    noise_sigma_dn: Tuple[float, float] = (2.0, 6.0)
    jpeg_quality: Optional[Tuple[int, int]] = (55, 90)
    haze: Tuple[float, float] = (0.0, 0.25)
    contrast: Tuple[float, float] = (0.85, 1.12)  # stretch about the mean
    sharpen_probability: float = 0.5  # vendor MTF sharpening: halos at edges
    colour_cast: float = 0.08
    nodata_probability: float = 0.2
    cloud_probability: float = 0.2
    # Demo tweaks: prefer long full sidings; restrict cars to a box in metres.
    fill_sidings: bool = False
    car_region_m: Optional[Tuple[float, float, float, float]] = None
    # Another day at the same place: same tracks, ground and buildings, but
    # cars, sun, grain and sensor drawn from this seed instead.
    look_seed: Optional[int] = None
    seasonal_green: bool = False  # early summer: greener ground

    def with_(self, **changes) -> "SceneConfig":
        return replace(self, **changes)


HARD = SceneConfig()

EASY = SceneConfig(
    n_tracks=(3, 8),
    n_cars=(10, 40),
    terrain=False,
    distractors=False,
    shadows=False,
    catenary_probability=0.0,
    branch_probability=0.3,
    tight_string_probability=0.0,
    empty_track_probability=0.2,
    low_contrast_colours=False,
    blur_sigma_px=(0.4, 0.5),
    noise_sigma_dn=(1.0, 1.5),
    jpeg_quality=None,
    haze=(0.0, 0.0),
    contrast=(1.0, 1.0),
    sharpen_probability=0.0,
    colour_cast=0.0,
    nodata_probability=0.0,
    cloud_probability=0.0,
)


def config_for(difficulty: str) -> SceneConfig:
    if difficulty == "hard":
        return HARD
    if difficulty == "easy":
        return EASY
    raise ValueError(f'difficulty must be "easy" or "hard", got {difficulty!r}')
