"""Supersampled drawing surface in metres.

Everything is modelled in metres (x to the right, y down, origin at the image's
top-left corner) and drawn ``supersample`` times finer than the output, then
reduced with INTER_AREA so edges get true partial-pixel coverage. Colour layers
are premultiplied RGBA so coverage composites correctly after reduction.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np

SHIFT_BITS = 4  # sub-pixel precision of cv2 drawing calls
SHIFT_SCALE = 1 << SHIFT_BITS


def supersample_factor(gsd_m: float) -> int:
    """3-4x for usual GSDs, fewer when the output is already very fine (memory)."""
    return int(max(1, min(4, round(gsd_m / 0.11))))


class Canvas:
    """Hi-res layers of one scene.

    ground  RGBA: roads, pads, ballast, sleepers, rails (under shadows)
    objects RGBA: cars, containers, buildings, masts (over shadows)
    texture  1ch: how much fine grain a surface has (0-255)
    shadow   1ch: ground shadow coverage
    high_shadow 1ch: shadows of tall things falling on car-height roofs
    """

    def __init__(self, rows: int, cols: int, gsd_m: float, supersample: int):
        self.rows, self.cols = rows, cols
        self.gsd_m = gsd_m
        self.ss = supersample
        self.px_per_m = supersample / gsd_m
        hr, hc = rows * supersample, cols * supersample
        self.ground = np.zeros((hr, hc, 4), np.uint8)
        self.objects = np.zeros((hr, hc, 4), np.uint8)
        self.texture = np.zeros((hr, hc), np.uint8)
        self.shadow = np.zeros((hr, hc), np.uint8)
        self.high_shadow = np.zeros((hr, hc), np.uint8)

    # -- coordinate conversion -------------------------------------------------
    def to_px(self, pts_m) -> np.ndarray:
        """Metres -> fixed-point hi-res pixel coords (cv2 puts pixel centres on integers)."""
        p = np.asarray(pts_m, np.float64) * self.px_per_m - 0.5
        return np.round(p * SHIFT_SCALE).astype(np.int32)

    # -- drawing -----------------------------------------------------------------
    def fill(self, layer: np.ndarray, polys_m: Sequence, value) -> None:
        """Fill polygons: a list of (N, 2) arrays or one (K, N, 2) array."""
        if len(polys_m) == 0:
            return
        if isinstance(polys_m, np.ndarray) and polys_m.ndim == 3:
            arr = self.to_px(polys_m)
            pts = list(arr.reshape(arr.shape[0], -1, 1, 2))
        else:
            pts = [self.to_px(p).reshape(-1, 1, 2) for p in polys_m]
        cv2.fillPoly(layer, pts, _scalar(value), lineType=cv2.LINE_8, shift=SHIFT_BITS)

    def line(self, layer: np.ndarray, polyline_m, value, width_m: float) -> None:
        """Thick polyline (round caps); at least one hi-res pixel wide."""
        thick = max(1, int(round(width_m * self.px_per_m)))
        pts = self.to_px(polyline_m).reshape(-1, 1, 2)
        cv2.polylines(layer, [pts], False, _scalar(value), thickness=thick, lineType=cv2.LINE_8, shift=SHIFT_BITS)

    def circles(self, layer: np.ndarray, centres_m: Iterable, radius_m: float, value) -> None:
        r = max(1, int(round(radius_m * self.px_per_m * SHIFT_SCALE)))
        for c in centres_m:
            cx, cy = self.to_px(c)
            cv2.circle(layer, (int(cx), int(cy)), r, _scalar(value), -1, cv2.LINE_8, SHIFT_BITS)

    def colour(self, layer: np.ndarray, polys_m: Sequence, rgb, texture: float | None = None) -> None:
        """Opaque colour polygons on an RGBA layer, plus their texture strength."""
        r, g, b = (int(np.clip(v, 0, 255)) for v in rgb)
        self.fill(layer, polys_m, (r, g, b, 255))
        if texture is not None:
            self.fill(self.texture, polys_m, int(np.clip(texture, 0, 255)))

    # -- reduction ------------------------------------------------------------------
    def reduce(self, layer: np.ndarray) -> np.ndarray:
        """Hi-res layer -> output grid as float32 (area average = coverage)."""
        out = cv2.resize(layer, (self.cols, self.rows), interpolation=cv2.INTER_AREA)
        return out.astype(np.float32)


def _scalar(value):
    if np.isscalar(value):
        return (int(value),)
    return tuple(int(v) for v in value)


def rects(centres, along, across, length_m: float, width_m: float) -> np.ndarray:
    """Many equal rectangles at once: (K, 2) centres -> (K, 4, 2) corners."""
    c = np.asarray(centres, np.float64)[:, None, :]
    a = np.asarray(along, np.float64) * (length_m / 2.0)
    b = np.asarray(across, np.float64) * (width_m / 2.0)
    offs = np.array([a - b, a + b, -a + b, -a - b])
    return c + offs[None, :, :]


def rect(centre, along, across, length_m: float, width_m: float) -> np.ndarray:
    """4 corners of a rectangle: centre, unit axis vectors, sizes (metres)."""
    c = np.asarray(centre, np.float64)
    a = np.asarray(along, np.float64) * (length_m / 2.0)
    b = np.asarray(across, np.float64) * (width_m / 2.0)
    return np.array([c + a - b, c + a + b, c - a + b, c - a - b])


def heading_vectors(heading_deg: float):
    """Unit vectors along (clockwise from image up) and across (to its right)."""
    t = np.deg2rad(heading_deg)
    along = np.array([np.sin(t), -np.cos(t)])
    across = np.array([np.cos(t), np.sin(t)])
    return along, across


def shadow_polygon(footprint_m: np.ndarray, height_m: float, shadow_dir, base_m: float = 0.0) -> np.ndarray:
    """Shadow cast by a vertical prism on a plane ``base_m`` below its top.

    The sun throws each point ``h / tan(elevation)`` metres along ``shadow_dir``
    (already scaled by 1/tan(elevation)); the shadow is the hull of the
    footprint shifted by the base and by the full height.
    """
    d = np.asarray(shadow_dir, np.float64)
    pts = np.vstack([footprint_m + d * base_m, footprint_m + d * height_m]).astype(np.float32)
    hull = cv2.convexHull(pts)
    return hull.reshape(-1, 2).astype(np.float64)
