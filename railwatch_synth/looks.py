"""Colours and surface looks of railcars and loads, chosen once per car."""

from __future__ import annotations

import numpy as np

BOX_ROOFS = [
    (122, 56, 42),  # rust red
    (96, 70, 56),  # brown
    (52, 76, 122),  # blue
    (56, 86, 62),  # green
    (132, 132, 130),  # grey
    (214, 214, 208),  # white
    (152, 108, 92),  # faded red
    (72, 72, 74),  # dark grey
    (168, 150, 96),  # mustard
]
BALLAST_LIKE = [(126, 118, 106), (138, 132, 124), (112, 104, 94), (120, 116, 110)]
TANK_BODIES = [(34, 34, 38), (44, 44, 48), (140, 140, 142), (222, 222, 218), (70, 86, 70), (118, 62, 46)]
HOPPER_RIMS = [(118, 62, 46), (100, 98, 96), (66, 84, 66), (82, 70, 60), (140, 92, 60)]
LOADS = {
    "coal": ((30, 30, 33), 150),
    "ore": ((112, 62, 46), 120),
    "gravel": ((152, 146, 136), 110),
    "sand": ((192, 172, 132), 70),
}
CONTAINER_COLOURS = [
    (176, 52, 40), (48, 88, 150), (40, 110, 80), (140, 140, 140), (220, 220, 214), (214, 120, 40),
    (120, 70, 50), (200, 176, 60), (40, 120, 130), (90, 60, 110), (60, 60, 62), (150, 40, 50),
]
COVERED_BODIES = [(186, 186, 182), (204, 204, 198), (176, 170, 156), (160, 162, 164), (150, 120, 96)]
# Passenger coaches: one colour a train (Chinese green and red, blue-grey, white, maroon, silver).
COACH_COLOURS = [(52, 92, 70), (120, 52, 46), (96, 112, 128), (206, 208, 204), (86, 46, 44), (168, 172, 176),
                 (62, 82, 118)]
# Dark wagons that barely stand out from ballast and from each other.
DARK_BODIES = [(72, 44, 40), (58, 46, 40), (44, 42, 44), (84, 60, 50), (64, 54, 50), (52, 40, 38)]
TARPS = [(40, 84, 152), (58, 104, 64), (40, 64, 112), (90, 110, 60)]


def _jitter(rng, rgb, sd=6.0):
    return tuple(float(np.clip(v + rng.normal(0, sd), 8, 250)) for v in rgb)


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


BALLAST_LUMA = 125.0


def _luma(rgb):
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _contrasty(options, low_contrast):
    """Easy scenes only use colours well away from the ballast's brightness."""
    if low_contrast:
        return options
    keep = [c for c in options if abs(_luma(c) - BALLAST_LUMA) > 55]
    return keep or [tuple(v * 0.55 for v in c) for c in options]


def car_style(kind: str, rng, low_contrast: bool) -> dict:
    """Everything about a car's look, decided by the layout generator."""
    style: dict = {}
    BOX_ROOFS_, TANK_BODIES_, HOPPER_RIMS_, CONTAINERS_, COVERED_ = (
        _contrasty(p, low_contrast) for p in (BOX_ROOFS, TANK_BODIES, HOPPER_RIMS, CONTAINER_COLOURS, COVERED_BODIES)
    )
    if kind == "box":
        pool = BOX_ROOFS_ + (BALLAST_LIKE if low_contrast else [])
        roof = _jitter(rng, _pick(rng, pool), 8)
        if low_contrast and rng.random() < 0.3:  # faded, sun-bleached
            grey = np.mean(roof)
            roof = tuple(0.6 * v + 0.4 * (grey + 20) for v in roof)
        style.update(roof=roof, rib_step_m=float(rng.uniform(0.9, 1.4)), rib_contrast=float(rng.uniform(0.04, 0.1)))
    elif kind == "tank":
        style.update(body=_jitter(rng, _pick(rng, TANK_BODIES_), 5), dome=rng.random() < 0.85)
    elif kind == "hopper/gondola":
        rim = _jitter(rng, _pick(rng, HOPPER_RIMS_ + (BALLAST_LIKE if low_contrast else [])), 8)
        load = _pick(rng, ["empty", "empty", "coal", "ore", "gravel", "sand"] if low_contrast else ["empty", "coal"])
        style.update(rim=rim, load=load, bays=int(rng.integers(2, 5)))
    elif kind == "flat/container":
        r = rng.random()
        load = "containers" if r < 0.6 else ("empty" if r < 0.8 else ("logs" if r < 0.9 else "machinery"))
        style.update(deck=_jitter(rng, (74, 64, 56), 8), load=load)
        style["containers"] = [_jitter(rng, _pick(rng, CONTAINERS_), 10) for _ in range(4)]
        style["short_containers"] = rng.random() < 0.35
    elif kind == "covered":
        style.update(body=_jitter(rng, _pick(rng, COVERED_), 6), hatches=int(rng.integers(3, 9)))
    if low_contrast and kind in ("hopper/gondola", "flat/container", "box") and rng.random() < 0.08:
        style["tarp"] = _jitter(rng, _pick(rng, TARPS), 8)
        style["tarp_seed"] = int(rng.integers(1 << 30))
        style["tarp_extent"] = (float(rng.uniform(0.0, 0.3)), float(rng.uniform(0.6, 1.0)))
    style["dirt"] = float(rng.uniform(0.0, 0.25 if low_contrast else 0.05))
    return style


def any_colour(rng) -> tuple:
    """A colour from anywhere in the RGB cube short of pure black and white:
    real fleets paint wagons in colours no list here holds."""
    return tuple(float(v) for v in rng.uniform(15, 240, 3))


def ballast_matched(rng, ballast_rgb) -> tuple:
    """A wagon colour close to the ballast under it, a shade darker or lighter and a
    little warmer or cooler: real strings (maroon gondolas on purple-grey ballast)
    often stand out by their shape, gaps and shadows only, not by their tone."""
    tone = np.array(ballast_rgb, np.float64) * rng.uniform(0.65, 1.05)
    warmth = rng.uniform(-10.0, 14.0) * np.array([1.0, -0.35, -0.65])
    return tuple(float(v) for v in np.clip(tone + warmth + rng.normal(0.0, 5.0, 3), 8, 250))


def restyled(style: dict, looks: dict, rng) -> dict:
    """A car's style changed for its string's looks (``layout._string_looks``)."""
    if looks.get("coach"):
        return dict(coach=True, roof=_jitter(rng, looks["colour"], 4), dirt=float(rng.uniform(0.0, 0.15)),
                    roof_line=float(rng.uniform(0.85, 1.15)))
    if looks.get("dark"):
        style = dict(style)
        dark = _jitter(rng, _pick(rng, DARK_BODIES), 5)
        for key in ("roof", "rim", "body", "deck"):
            if key in style:
                style[key] = dark
        if style.get("load") in ("sand", "gravel"):
            style["load"] = "coal"
        style.pop("tarp", None)
    if looks.get("any_colour") is not None:
        style = dict(style)
        for key in ("roof", "rim", "body", "deck"):
            if key in style:
                style[key] = _jitter(rng, looks["any_colour"], 6)
        if "containers" in style:
            style["containers"] = [_jitter(rng, looks["any_colour"], 12) for _ in style["containers"]]
    return style
