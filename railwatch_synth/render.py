"""Turn a layout into pixels: terrain, supersampled layers, shadows, compositing.

Terrain is smooth, so it is made directly at output resolution; everything with
edges is drawn on the supersampled Canvas and reduced with INTER_AREA.
"""

from __future__ import annotations

import cv2
import numpy as np

from .canvas import Canvas, rects, shadow_polygon, supersample_factor
from .cars import CarPainter
from .layout import Layout

TERRAIN_MATERIALS = {
    # rgb, fine-texture amplitude
    "soil": ((142, 120, 94), 0.05),
    "grass": ((94, 114, 66), 0.09),
    "dry_grass": ((152, 142, 104), 0.07),
    "gravel": ((148, 138, 120), 0.06),
    "dark_soil": ((104, 90, 74), 0.05),
}


def smooth_noise(rng, rows, cols, cell_px, dtype=np.float32):
    """Unit-variance noise with features about ``cell_px`` pixels across."""
    cr = max(2, int(np.ceil(rows / cell_px)) + 2)
    cc = max(2, int(np.ceil(cols / cell_px)) + 2)
    small = rng.standard_normal((cr, cc)).astype(np.float32)
    big = cv2.resize(small, (int(cc * cell_px), int(cr * cell_px)), interpolation=cv2.INTER_CUBIC)
    out = big[:rows, :cols]
    return (out / (out.std() + 1e-6)).astype(dtype)


def fine_noise(rng, rows, cols):
    """Grain for textured surfaces: per-pixel noise plus a 2-3 pixel component."""
    white = rng.standard_normal((rows, cols), dtype=np.float32)
    blob = cv2.GaussianBlur(rng.standard_normal((rows, cols), dtype=np.float32), (0, 0), 1.2) * 2.2
    return 0.7 * white + 0.5 * blob


def make_terrain(rng, rows, cols, gsd_m, varied: bool, grain, green: bool = False):
    if not varied:
        base = np.array([150, 140, 118], np.float32) + rng.normal(0, 8, 3).astype(np.float32)
        img = np.empty((rows, cols, 3), np.float32)
        img[:] = base
        img *= (1 + 0.015 * grain)[..., None]
        return img
    names = list(TERRAIN_MATERIALS)
    cell = max(4.0, 90.0 / gsd_m)
    # land cover weights from competing smooth fields (made coarse, upsampled)
    f = 4
    r4, c4 = rows // f + 1, cols // f + 1
    logits = np.stack([smooth_noise(rng, r4, c4, cell / f) * 4.0 + rng.normal(0, 0.8) for _ in names], -1)
    logits += np.stack([smooth_noise(rng, r4, c4, cell / f / 5) * 0.7 for _ in names], -1)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    colours = np.array([TERRAIN_MATERIALS[n][0] for n in names], np.float32)
    colours *= rng.uniform(0.92, 1.08, (len(names), 1)).astype(np.float32)
    if green:  # early summer: fields and verges green up
        colours = 0.55 * colours + 0.45 * np.array([84, 116, 58], np.float32)
    amps = np.array([TERRAIN_MATERIALS[n][1] for n in names], np.float32)
    rgb = cv2.resize((w @ colours).astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    amp = cv2.resize((w @ amps).astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    mid = smooth_noise(rng, rows, cols, max(3.0, 12.0 / gsd_m)) * 0.05
    small = smooth_noise(rng, rows, cols, max(2.0, 3.0 / gsd_m)) * 0.04
    rgb *= (1 + mid + small + amp * grain)[..., None]
    return rgb


def draw_tracks(cv: Canvas, rng, tracks):
    # the yard floor between tracks is trodden gravel and dirt, not field
    floor = np.mean([t.ballast_rgb for t in tracks], axis=0) * np.array([1.05, 1.0, 0.92]) + rng.normal(0, 4, 3)
    for t in tracks:
        cv.line(cv.ground, t.points_m, (*(floor * 0.6).astype(int), 150), t.ballast_width_m + 4.5)
        cv.line(cv.ground, t.points_m, (*floor.astype(int), 255), t.ballast_width_m + 2.5)
        cv.line(cv.texture, t.points_m, 60, t.ballast_width_m + 2.5)
    for t in tracks:
        bal = np.array(t.ballast_rgb)
        cv.line(cv.ground, t.points_m, (*(bal * 0.5).astype(int), 128), t.ballast_width_m + 1.0)  # soft shoulder
        cv.line(cv.ground, t.points_m, (*bal.astype(int), 255), t.ballast_width_m)
        cv.line(cv.texture, t.points_m, 90, t.ballast_width_m + 0.6)
        cv.line(cv.ground, t.points_m, (*(bal * 0.84).astype(int), 255), 1.7)  # oily middle
    for t in tracks:
        pts = t.points_m
        bal = np.array(t.ballast_rgb)
        sl = np.array(t.sleeper_rgb)
        vis = rng.uniform(0.45, 0.8)
        for p0, p1 in zip(pts[:-1], pts[1:]):
            d = p1 - p0
            seg = np.linalg.norm(d)
            if seg < 1:
                continue
            a = d / seg
            b = np.array([-a[1], a[0]])
            s = np.arange(rng.uniform(0, 0.6), seg, 0.6)
            centres = p0 + a * s[:, None]
            polys = rects(centres, a, b, 0.26, 2.6)
            shade = rng.integers(0, 3, len(s))
            for k in range(3):
                col = bal * (1 - vis) + sl * vis * (0.92 + 0.08 * k)
                cv.colour(cv.ground, polys[shade == k], col, 40)
            for side in (-1, 1):
                off = b * side * 0.7175
                rail = np.array([p0 + off, p1 + off])
                cv.line(cv.ground, rail + b * side * 0.08, (70, 60, 54, 255), 0.06)
                cv.line(cv.ground, rail, (186, 182, 176, 255), 0.06)


def draw_thing(cv: Canvas, thing, shadow_dir, shadows: bool):
    for part in thing.parts:
        cv.colour(cv.objects, [part.poly_m], part.rgb, part.texture)
        if shadows and part.height_m:
            cv.fill(cv.shadow, [shadow_polygon(part.poly_m, part.height_m, shadow_dir, base_m=part.base_m)], 255)
            if part.height_m > 5.0:
                # what falls on car-height roofs and container tops
                cv.fill(cv.high_shadow, [shadow_polygon(part.poly_m, part.height_m, shadow_dir, base_m=max(4.3, part.base_m))], 255)


def render_layout(layout: Layout, rng, terrain_rng, gsd_m, cfg, shadow_factor):
    """Composite every layer; returns linear RGB float32 and the ss factor."""
    w, h = layout.width_m, layout.height_m
    rows, cols = int(round(h / gsd_m)), int(round(w / gsd_m))
    ss = supersample_factor(gsd_m)
    cv = Canvas(rows, cols, gsd_m, ss)
    grain = fine_noise(rng, rows, cols)
    terrain = make_terrain(terrain_rng, rows, cols, gsd_m, cfg.terrain, grain, cfg.seasonal_green)

    az, el = np.deg2rad(layout.sun_azimuth_deg), np.deg2rad(layout.sun_elevation_deg)
    sun_dir = np.array([np.sin(az), -np.cos(az)])
    shadow_dir = -sun_dir / np.tan(el)

    for g in layout.ground:
        if g.poly_m is not None:
            cv.colour(cv.ground, [g.poly_m], g.rgb, g.texture)
        else:
            cv.line(cv.ground, g.line_m, (*np.asarray(g.rgb, int), 255), g.width_m)
            cv.line(cv.texture, g.line_m, int(g.texture), g.width_m)
    draw_tracks(cv, rng, layout.tracks)

    for thing in layout.things:
        draw_thing(cv, thing, shadow_dir, cfg.shadows)
    painter = CarPainter(cv, sun_dir, layout.sun_elevation_deg)
    for car in layout.cars:
        painter.draw(car)
        if cfg.shadows:
            cv.fill(cv.shadow, [shadow_polygon(car.corners_m, car.height_m, shadow_dir)], 255)
    for mast in layout.masts:
        draw_thing(cv, mast, shadow_dir, cfg.shadows)

    # --- composite at output resolution
    ground = cv.reduce(cv.ground)
    a = ground[..., 3:4] / 255.0
    img = ground[..., :3] + terrain * (1 - a)
    del ground, terrain
    k = np.clip(shadow_factor * np.array([0.92, 0.98, 1.14], np.float32), 0, 1)
    if cfg.shadows:
        s = cv2.GaussianBlur(cv.reduce(cv.shadow) / 255.0, (0, 0), 0.6)
        img *= 1 - s[..., None] * (1 - k)
    obj = cv.reduce(cv.objects)
    oa = obj[..., 3:4] / 255.0
    img = obj[..., :3] + img * (1 - oa)
    if cfg.shadows:
        hs = cv2.GaussianBlur(cv.reduce(cv.high_shadow) / 255.0, (0, 0), 0.6)[..., None] * oa
        img *= 1 - hs * (1 - k)
    tex = cv.reduce(cv.texture) / 255.0
    img *= (1 + 0.3 * tex * grain)[..., None]
    del cv
    # overhead wires: faint dark lines and their fainter shadows
    if layout.wires_m:
        wire = np.zeros((rows, cols), np.float32)
        for line in layout.wires_m:
            for off, val in ((np.zeros(2), 0.22), (shadow_dir * 6.0, 0.12)):
                pts = np.round(((line + off) / gsd_m - 0.5) * 16).astype(np.int32).reshape(-1, 1, 2)
                cv2.polylines(wire, [pts], False, val, 1, cv2.LINE_AA, 4)
        img *= (1 - wire)[..., None]
    illum = 0.82 + 0.3 * np.sin(el)
    img *= illum
    return img, ss
