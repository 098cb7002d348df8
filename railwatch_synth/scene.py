"""make_yard: one seeded rail-yard scene with its ground truth."""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from .config import SceneConfig, config_for
from .layout import Layout, Occupancy, build_tracks, place_cars
from .model import TrueCar, YardScene
from .render import render_layout
from .retouch import paint_out_car_outlines
from .sensor import apply_sensor
from .surroundings import build_surroundings, vehicle_depot

# Independent random streams: the layout does not change with GSD, bands or dtype.
(STREAM_LAYOUT, STREAM_CARS, STREAM_SURROUND, STREAM_RENDER, STREAM_SENSOR, STREAM_SUN, STREAM_TERRAIN, STREAM_DEPOT,
 STREAM_RETOUCH) = range(9)


def _rng(seed: int, stream: int):
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream]))


def make_yard(
    seed: int,
    gsd_m: float = 0.5,
    size_m: Tuple[float, float] = (600.0, 400.0),
    heading_deg: Optional[float] = None,
    difficulty: str = "hard",
    bands: int = 3,
    dtype: str = "uint8",
    n_cars: Optional[int] = None,
    *,
    config: Optional[SceneConfig] = None,
) -> YardScene:
    """A rail yard seen from above, with every railcar in it as truth.

    ``difficulty="hard"`` (default) has varied terrain, shadows, look-alikes and
    sensor defects; ``"easy"`` keeps the same geometry but clean. ``config``
    overrides the difficulty preset (used by the demo script).
    """
    cfg = config if config is not None else config_for(difficulty)
    if not gsd_m > 0:
        raise ValueError(f"gsd_m must be positive, got {gsd_m!r}")
    w, h = float(size_m[0]), float(size_m[1])
    if w < 100 or h < 60:
        raise ValueError(f"size_m must be at least 100 x 60 m to hold a yard, got {size_m!r}")
    if n_cars is not None and n_cars < 0:
        raise ValueError(f"n_cars must be >= 0, got {n_cars!r}")

    g_layout = _rng(seed, STREAM_LAYOUT)
    look = seed if cfg.look_seed is None else cfg.look_seed
    if heading_deg is None:
        heading_deg = float(g_layout.uniform(0.0, 180.0))
    sun = _rng(look, STREAM_SUN)
    sun_az = float(sun.uniform(90.0, 270.0) if sun.random() < 0.8 else sun.uniform(0.0, 360.0))
    sun_el = float(sun.uniform(25.0, 65.0))
    shadow_factor = float(sun.uniform(0.35, 0.6))

    g_cars = _rng(look, STREAM_CARS)
    strict = n_cars is not None
    if n_cars is None:
        n_cars = int(g_cars.integers(cfg.n_cars[0], cfg.n_cars[1] + 1))
    # An exact count may not fit the first layout drawn: redraw with more tracks.
    for attempt in range(6):
        g_try = g_layout if attempt == 0 else _rng(seed, 100 + attempt)
        cfg_try = cfg
        if attempt:
            lo = min(cfg.n_tracks[1], cfg.n_tracks[0] + 2 * attempt)
            cfg_try = cfg.with_(n_tracks=(lo, max(lo, cfg.n_tracks[1])), empty_track_probability=0.0)
        tracks, segments, offsets, centre, electrified = build_tracks(g_try, cfg_try, w, h, heading_deg)
        nodata_poly = _nodata_wedge(g_try, w, h) if g_try.random() < cfg.nodata_probability else None

        def is_valid(pt, poly=nodata_poly):
            if poly is None:
                return True
            return cv2.pointPolygonTest(poly.astype(np.float32), (float(pt[0]), float(pt[1])), False) < 0

        try:
            cars, hidden = place_cars(g_cars, cfg_try, segments, w, h, n_cars, is_valid, strict=strict)
            break
        except ValueError:
            if attempt == 5:
                raise
            g_cars = _rng(look, 200 + attempt)

    things, ground, masts, wires = [], [], [], []
    az = np.deg2rad(sun_az)
    sun_dir = np.array([np.sin(az), -np.cos(az)])
    if cfg.distractors:
        occ = Occupancy(w, h)
        things, ground, masts, wires = build_surroundings(
            _rng(seed, STREAM_SURROUND), w, h, heading_deg, tracks, offsets, centre, electrified, occ, sun_dir
        )
        if cfg.vehicle_depot_probability:  # its own stream: hard scenes stay as they were
            depot = _rng(seed, STREAM_DEPOT)
            if depot.random() < cfg.vehicle_depot_probability:
                buses, lot = vehicle_depot(depot, w, h, heading_deg, occ)
                things, ground = things + buses, ground + lot
    layout = Layout(w, h, heading_deg, tracks, segments, cars + hidden, things, ground, masts, wires, sun_az, sun_el, nodata_poly)

    img, ss = render_layout(layout, _rng(look, STREAM_RENDER), _rng(seed, STREAM_TERRAIN), gsd_m, cfg, shadow_factor)
    if cfg.painted_out_outline_probability:  # its own stream: hard scenes stay as they were
        retouch = _rng(look, STREAM_RETOUCH)
        if retouch.random() < cfg.painted_out_outline_probability:
            img = paint_out_car_outlines(img, cars, gsd_m, retouch)
    rows, cols = img.shape[:2]
    valid = None
    if nodata_poly is not None:
        mask = np.zeros((rows, cols), np.uint8)
        pts = np.round((nodata_poly / gsd_m - 0.5) * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(mask, [pts], 1, cv2.LINE_8, 4)
        valid = mask == 0

    meta = dict(
        seed=int(seed), difficulty=difficulty if config is None else "custom", gsd_m=float(gsd_m), size_m=(w, h),
        heading_deg=float(heading_deg), sun_azimuth_deg=sun_az, sun_elevation_deg=sun_el, shadow_factor=shadow_factor,
        n_tracks=len(tracks), electrified=bool(electrified), supersample=ss, nodata=nodata_poly is not None,
        hidden_cars=len(hidden),
    )
    image = apply_sensor(img, _rng(look, STREAM_SENSOR), cfg, bands, dtype, valid, meta)

    true_cars = [_to_truth(c, gsd_m) for c in cars]
    if valid is not None:  # the wedge is drawn in pixels; recheck centres against it
        true_cars = [c for c in true_cars if valid[min(rows - 1, int(c.row_px)), min(cols - 1, int(c.col_px))]]
    track_lines = [t.points_m / gsd_m for t in tracks]
    distractors = [
        dict(kind=t.kind, corners_px=tuple(map(tuple, (t.footprint_m / gsd_m).round(3).tolist())))
        for t in things
        if t.record and (valid is None or _centre_valid(t.footprint_m.mean(0) / gsd_m, valid))
    ]
    return YardScene(image=image, gsd_m=float(gsd_m), cars=true_cars, track_lines_px=track_lines,
                     distractors=distractors, valid=valid, meta=meta)


def _centre_valid(c, valid):
    r, k = int(c[1]), int(c[0])
    return 0 <= r < valid.shape[0] and 0 <= k < valid.shape[1] and bool(valid[r, k])


def _to_truth(car, gsd_m) -> TrueCar:
    corners = car.corners_m / gsd_m
    return TrueCar(
        col_px=float(car.centre_m[0] / gsd_m),
        row_px=float(car.centre_m[1] / gsd_m),
        corners_px=tuple((float(x), float(y)) for x, y in corners),
        length_m=float(car.length_m),
        width_m=float(car.width_m),
        heading_deg=float(car.heading_deg % 180.0),
        kind=car.kind,
        string_id=int(car.string_id),
    )


def _nodata_wedge(rng, w, h):
    """Black wedge at a swath edge (left or right side, slanted)."""
    a, b = rng.uniform(0.0, 0.22, 2) * w
    if rng.random() < 0.5:
        a = 0.0 if rng.random() < 0.5 else a
        return np.array([[-1, -1], [a, -1], [b, h + 1], [-1, h + 1]], np.float64)
    return np.array([[w + 1, -1], [w - a, -1], [w - b, h + 1], [w + 1, h + 1]], np.float64)
