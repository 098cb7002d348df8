"""Where everything is, in metres: tracks, car strings, masts, look-alikes.

Pure geometry and choice of looks; nothing is drawn here. All randomness comes
from the generator passed in, so a seed fixes the layout independent of GSD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import cv2
import numpy as np

from .canvas import heading_vectors, rect
from .config import SceneConfig
from .looks import COACH_COLOURS, any_colour, ballast_matched, car_style, restyled

TRACK_GAUGE_M = 1.435

# kind: (length range, width range, height range)
CAR_SIZES = {
    "box": ((14.0, 18.0), (3.1, 3.2), (4.0, 4.6)),
    "tank": ((11.0, 20.0), (2.9, 3.1), (3.9, 4.5)),
    "hopper/gondola": ((12.0, 16.0), (3.0, 3.2), (3.5, 4.0)),
    "flat/container": ((18.0, 27.0), (2.6, 3.0), (1.3, 1.3)),
    "covered": ((14.0, 20.0), (3.05, 3.15), (4.2, 4.6)),
}
KIND_WEIGHTS = {"box": 0.25, "tank": 0.2, "hopper/gondola": 0.25, "flat/container": 0.15, "covered": 0.15}


@dataclass
class Track:
    points_m: np.ndarray  # (N, 2) centre line
    ballast_width_m: float
    ballast_rgb: Tuple[float, float, float]
    sleeper_rgb: Tuple[float, float, float]
    electrified: bool = False
    through: bool = False


@dataclass
class Segment:
    """A straight stretch cars can stand on: start point, unit direction, length."""

    start_m: np.ndarray
    along: np.ndarray
    length_m: float
    heading_deg: float
    free: List[Tuple[float, float]] = field(default_factory=list)
    reserved_empty: bool = False
    ballast_rgb: Optional[Tuple[float, float, float]] = None  # the ballast under it


@dataclass
class CarSpec:
    centre_m: np.ndarray
    along: np.ndarray
    heading_deg: float
    length_m: float
    width_m: float
    height_m: float
    kind: str
    string_id: int
    style: dict

    @property
    def corners_m(self) -> np.ndarray:
        across = np.array([-self.along[1], self.along[0]])
        return rect(self.centre_m, self.along, across, self.length_m, self.width_m)


@dataclass
class Part:
    """One flat-topped piece of a thing seen from above."""

    poly_m: np.ndarray
    rgb: Tuple[float, float, float]
    texture: float = 20.0
    height_m: Optional[float] = None  # None: casts no shadow of its own
    base_m: float = 0.0  # > 0 for things held up in the air (mast arms, tree crowns)


@dataclass
class Thing:
    kind: str
    footprint_m: np.ndarray
    parts: List[Part]
    record: bool = True  # listed in scene.distractors


@dataclass
class GroundPatch:
    poly_m: Optional[np.ndarray]  # polygon, or
    line_m: Optional[np.ndarray]  # polyline with width
    width_m: float
    rgb: Tuple[float, float, float]
    texture: float


@dataclass
class Layout:
    width_m: float
    height_m: float
    heading_deg: float
    tracks: List[Track]
    segments: List[Segment]
    cars: List[CarSpec]
    things: List[Thing]
    ground: List[GroundPatch]
    masts: List[Thing]
    wires_m: List[np.ndarray]
    sun_azimuth_deg: float
    sun_elevation_deg: float
    nodata_poly_m: Optional[np.ndarray]


# ----------------------------------------------------------------------------- helpers
def clip_line(p, d, w, h, margin=0.0):
    """s-range where p + s*d lies inside [margin, w-margin] x [margin, h-margin]."""
    lo, hi = -1e9, 1e9
    for k, size in ((0, w), (1, h)):
        if abs(d[k]) < 1e-12:
            if not (margin <= p[k] <= size - margin):
                return None
            continue
        a = (margin - p[k]) / d[k]
        b = (size - margin - p[k]) / d[k]
        lo, hi = max(lo, min(a, b)), min(hi, max(a, b))
    return (lo, hi) if hi > lo else None


def _uniform(rng, lo_hi):
    lo, hi = lo_hi
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


class Occupancy:
    """1 m grid of what is already taken, so look-alikes never sit on track."""

    def __init__(self, w, h):
        self.grid = np.zeros((int(np.ceil(h)) + 1, int(np.ceil(w)) + 1), np.uint8)
        self.w, self.h = w, h

    def mark_poly(self, poly):
        cv2.fillPoly(self.grid, [np.round(np.asarray(poly) * 4).astype(np.int32).reshape(-1, 1, 2)], 1, shift=2)

    def mark_line(self, line, width):
        pts = np.round(np.asarray(line) * 4).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(self.grid, [pts], False, 1, thickness=max(1, int(round(width))), shift=2)

    def is_free(self, poly, inside_margin=2.0):
        poly = np.asarray(poly)
        if poly[:, 0].min() < inside_margin or poly[:, 1].min() < inside_margin:
            return False
        if poly[:, 0].max() > self.w - inside_margin or poly[:, 1].max() > self.h - inside_margin:
            return False
        x0, y0 = np.floor(poly.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 1
        roi = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
        local = np.round((poly - [x0, y0]) * 4).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(roi, [local], 1, shift=2)
        taken = self.grid[y0 : y1 + 1, x0 : x1 + 1]
        return not np.any(roi[: taken.shape[0], : taken.shape[1]] & taken)


# ----------------------------------------------------------------------------- tracks
def _ballast_look(rng, varied=True):
    if not varied:  # easy scenes: one mid-grey ballast, dark wooden sleepers
        return (125.0, 123.0, 119.0), (72.0, 62.0, 52.0)
    base = np.array(rng.choice([[128, 124, 118], [120, 112, 100], [140, 134, 126], [112, 104, 96], [132, 120, 104]]))
    base = base + rng.normal(0, 5, 3)
    if rng.random() < 0.6:
        sleeper = np.array([72, 62, 52]) + rng.normal(0, 6, 3)  # old wood
    else:
        sleeper = np.array([176, 174, 168]) + rng.normal(0, 6, 3)  # concrete
    return tuple(base), tuple(sleeper)


def build_tracks(rng, cfg: SceneConfig, w, h, heading_deg):
    along, across = heading_vectors(heading_deg)
    n = int(rng.integers(cfg.n_tracks[0], cfg.n_tracks[1] + 1))
    offsets = [0.0]
    for _ in range(n - 1):
        gap = rng.uniform(*cfg.track_spacing_m)
        if rng.random() < 0.2:
            gap += rng.uniform(3.0, 8.0)  # a new group of tracks
        offsets.append(offsets[-1] + gap)
    offsets = np.array(offsets) - offsets[-1] / 2.0
    centre = np.array([w / 2, h / 2]) + rng.uniform(-0.08, 0.08, 2) * [w, h]
    through_idx = int(rng.choice([0, n - 1])) if n > 2 else 0
    order = np.argsort(np.abs(np.arange(n) - through_idx))  # through line first, then outward
    base_ballast, base_sleeper = _ballast_look(rng, cfg.low_contrast_colours)

    tracks, segments = [], []
    starts, ends = {}, {}
    ladder = {}
    for end in (0, 1):
        ladder[end] = dict(inside=rng.random() < cfg.ladder_inside_probability, angle=rng.uniform(6.0, 10.0), pos=None)
    electrified = rng.random() < cfg.catenary_probability
    last = None
    rank = -1
    for i in order:
        rank += 1
        o = offsets[i]
        p = centre + across * o
        rng_s = clip_line(p, along, w, h, margin=-40.0)
        if rng_s is None:
            continue
        s0, s1 = rng_s
        ballast = tuple(np.clip(np.array(base_ballast) + rng.normal(0, 6 if cfg.low_contrast_colours else 1, 3), 60, 200))
        sleeper = base_sleeper if rng.random() < 0.8 else _ballast_look(rng, cfg.low_contrast_colours)[1]
        bw = rng.uniform(3.5, 4.5)
        if rank == 0:
            pts = np.array([p + along * s0, p + along * s1])
            tracks.append(Track(pts, bw, ballast, sleeper, electrified, through=True))
            segments.append(Segment(p + along * s0, along, s1 - s0, heading_deg % 180, ballast_rgb=ballast))
            starts[i], ends[i] = s0, s1
            last = i
            continue
        if last is None:
            rank -= 1
            continue
        prev = last
        dlat = o - offsets[prev]
        pts = []
        # start end
        if ladder[0]["inside"]:
            a = np.deg2rad(ladder[0]["angle"])
            ds = abs(dlat) / np.tan(a)
            base = max(starts[prev], s0 + 10.0) if rank > 1 else s0 + rng.uniform(20, 80)
            sa = base + ds + rng.uniform(2, 8)
            pts.append(centre + across * offsets[prev] + along * (sa - ds))
        else:
            sa = s0
        if ladder[1]["inside"]:
            a = np.deg2rad(ladder[1]["angle"])
            ds = abs(dlat) / np.tan(a)
            base = min(ends[prev], s1 - 10.0) if rank > 1 else s1 - rng.uniform(20, 80)
            sb = base - ds - rng.uniform(2, 8)
        else:
            sb = s1
        if sb - sa < 60:
            rank -= 1
            continue
        pts.append(p + along * sa)
        pts.append(p + along * sb)
        if ladder[1]["inside"]:
            pts.append(centre + across * offsets[prev] + along * (sb + ds))
        starts[i], ends[i] = sa, sb
        last = i
        tracks.append(Track(np.array(pts), bw, ballast, sleeper, electrified))
        segments.append(Segment(p + along * (sa + 3), along, sb - sa - 6, heading_deg % 180, ballast_rgb=ballast))

    # a branch diverging from the outermost track
    outer = order[-1]
    if rng.random() < cfg.branch_probability and outer in starts:
        side = np.sign(offsets[outer] - offsets[through_idx]) or 1.0
        beta = np.deg2rad(rng.uniform(4.0, 10.0))
        s_sw = rng.uniform(starts[outer] + 10, starts[outer] + 0.4 * (ends[outer] - starts[outer]))
        sw = centre + across * offsets[outer] + along * s_sw
        # rotate "along" towards the outside by beta
        d = along * np.cos(beta) + across * side * np.sin(beta)
        rs = clip_line(sw, d, w, h, margin=-40.0)
        if rs is not None and rs[1] > 80:
            pts = np.array([sw, sw + d * rs[1]])
            hd = float(np.rad2deg(np.arctan2(d[0], -d[1])) % 180)
            tracks.append(Track(pts, rng.uniform(3.5, 4.5), base_ballast, base_sleeper, False))
            # cars only past the frog, clear of the parent track
            clear = 4.0 / np.tan(beta)
            segments.append(Segment(sw + d * clear, d, rs[1] - clear, hd, ballast_rgb=base_ballast))
    return tracks, segments, offsets, centre, electrified


# ----------------------------------------------------------------------------- cars
COACH_SIZE = ((23.5, 26.5), (2.85, 3.1), (4.0, 4.3))


def _string_looks(rng, cfg: SceneConfig) -> dict:
    """What a whole string shares, for the looks the hard preset lacks. No
    number is drawn where the config asks for none of them, so hard scenes
    are the same as before these looks existed."""
    if not (cfg.coach_string_probability or cfg.dark_string_probability or cfg.identical_string_probability
            or cfg.any_colour_string_probability):
        return {}
    looks = {}
    if rng.random() < cfg.coach_string_probability:
        looks.update(coach=True, identical=True, colour=COACH_COLOURS[int(rng.integers(len(COACH_COLOURS)))])
    elif rng.random() < cfg.dark_string_probability:
        looks.update(dark=True, identical=rng.random() < 0.7)
    elif rng.random() < cfg.identical_string_probability:
        looks.update(identical=True)
    if not looks.get("coach") and cfg.any_colour_string_probability and rng.random() < cfg.any_colour_string_probability:
        looks.update(any_colour=any_colour(rng), identical=rng.random() < 0.5)
    return looks


def _pick_kind(rng):
    kinds = list(KIND_WEIGHTS)
    p = np.array([KIND_WEIGHTS[k] for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=p / p.sum()))]


def _inside(poly, w, h, region=None):
    x0, y0, x1, y1 = region if region is not None else (0.0, 0.0, w, h)
    return bool(
        poly[:, 0].min() >= x0 + 0.5 and poly[:, 1].min() >= y0 + 0.5 and poly[:, 0].max() <= x1 - 0.5 and poly[:, 1].max() <= y1 - 0.5
    )


def place_cars(rng, cfg: SceneConfig, segments, w, h, n_cars, is_valid, strict=True):
    """Place coupled strings until ``n_cars`` cars with a valid centre exist.

    Cars whose centre falls in the nodata wedge are still drawn (the wedge
    blacks them out) but do not count and are not returned as truth.
    """
    for seg in segments:
        seg.free = [(0.0, seg.length_m)]
        seg.reserved_empty = rng.random() < cfg.empty_track_probability
    if cfg.fill_sidings:
        for seg in segments:
            seg.reserved_empty = rng.random() < 0.2
    cars: List[CarSpec] = []
    hidden: List[CarSpec] = []
    string_id = 0
    stalls = 0
    while len(cars) < n_cars:
        usable = [(si, k) for si, s in enumerate(segments) for k, (a, b) in enumerate(s.free) if b - a >= 25.0]
        usable_open = [(si, k) for si, k in usable if not segments[si].reserved_empty]
        if not usable_open:
            if not usable:
                if not strict:
                    break
                raise ValueError(
                    f"cannot fit {n_cars} cars on the tracks of this scene (placed {len(cars)}); "
                    "use a larger size_m or fewer cars"
                )
            for s in segments:
                s.reserved_empty = False
            usable_open = usable
        lengths = np.array([segments[si].free[k][1] - segments[si].free[k][0] for si, k in usable_open])
        pick = int(rng.choice(len(usable_open), p=lengths / lengths.sum()))
        si, k = usable_open[pick]
        seg = segments[si]
        a, b = seg.free[k]
        want = int(rng.integers(1, 26))
        if cfg.fill_sidings:
            want = int(rng.integers(12, 30))
        want = min(want, n_cars - len(cars))
        tight = rng.random() < cfg.tight_string_probability
        unit_kind = _pick_kind(rng) if rng.random() < 0.5 else None
        looks = _string_looks(rng, cfg)
        if (cfg.ballast_matched_string_probability and not looks.get("coach") and seg.ballast_rgb is not None
                and rng.random() < cfg.ballast_matched_string_probability):
            looks = dict(looks, any_colour=ballast_matched(rng, seg.ballast_rgb), identical=rng.random() < 0.6)
        if looks.get("coach"):
            unit_kind = "box"
        first = None  # (kind, length, width, height, style) of a unit train's cars
        est = want * 17.0
        room = b - a
        if room > est + 10:
            start = a + rng.uniform(2.0, min(room - est, 60.0 if not cfg.fill_sidings else 20.0))
        else:
            start = a + rng.uniform(0.0, 3.0)
        s = start
        placed_here = 0
        for _ in range(want):
            if first is not None:
                kind, length, width, height, style = first
            else:
                kind = unit_kind if (unit_kind and (looks or rng.random() < 0.85)) else _pick_kind(rng)
                lr, wr, hr = COACH_SIZE if looks.get("coach") else CAR_SIZES[kind]
                length, width, height = _uniform(rng, lr), _uniform(rng, wr), _uniform(rng, hr)
            if s + length > b - 1.0:
                break
            if first is None:
                style = restyled(car_style(kind, rng, cfg.low_contrast_colours), looks, rng)
                if kind == "flat/container" and style.get("load") == "containers":
                    height = 3.9
                if looks.get("identical"):
                    first = (kind, length, width, height, style)
            centre = seg.start_m + seg.along * (s + length / 2)
            car = CarSpec(centre, seg.along, seg.heading_deg, length, width, height, kind, string_id, style)
            corners = car.corners_m
            if not _inside(corners, w, h, cfg.car_region_m):
                s += length + 1.0
                continue
            if is_valid(centre):
                if len(cars) >= n_cars:
                    break
                cars.append(car)
            else:
                hidden.append(car)
            placed_here += 1
            gap = rng.uniform(0.2, 0.5) if tight else rng.uniform(0.6, 2.0)
            if looks.get("coach"):
                gap = rng.uniform(0.6, 1.1)  # bridged by gangways
            s += length + gap
        end = s + rng.uniform(8.0, 40.0)
        new_free = []
        if start - 6.0 - a >= 25.0:
            new_free.append((a, start - 6.0))
        if b - end >= 25.0:
            new_free.append((end, b))
        seg.free[k : k + 1] = new_free
        if placed_here:
            string_id += 1
            stalls = 0
        else:
            stalls += 1
            if stalls > 200:
                if not strict:
                    break
                raise ValueError(f"cannot fit {n_cars} cars in this scene (placed {len(cars)})")
    return cars, hidden
