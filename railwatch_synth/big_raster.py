"""A large raster for speed tests, written strip by strip so memory stays bounded.

Countryside (land-cover blotches and a patchwork of fields with grain) is
computed per strip from a small coarse field, so strips join without seams;
several ``make_yard`` scenes are pasted in with a feathered border and their
cars are the truth.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import HARD
from .scene import make_yard

STRIP_ROWS = 256
COARSE = 32  # coarse land-cover cell, in pixels
FEATHER_PX = 48
FIELD_COLOURS = np.array(
    [[142, 120, 94], [96, 116, 68], [150, 140, 104], [120, 132, 80], [104, 90, 74], [160, 150, 120]], np.float32
)


def write_big_raster(path, width_px, height_px, gsd_m=0.5, seed=0, crs="EPSG:32652", *, compress="JPEG",
                     n_yards=None, origin_xy=(500000.0, 4700000.0), yard_size_m=(600.0, 400.0)) -> dict:
    """Write a tiled 3-band uint8 GeoTIFF ``width_px`` x ``height_px`` with yards in it.

    Returns ``{"path", "width_px", "height_px", "n_cars", "yards": [...], "cars": [...]}``;
    each yard is ``{"col_px", "row_px", "width_px", "height_px", "n_cars", "seed"}`` and
    each car ``{"col_px", "row_px", "kind", "length_m", "heading_deg"}`` in full-raster pixels.
    """
    from osgeo import gdal, osr

    gdal.UseExceptions()
    width_px, height_px = int(width_px), int(height_px)
    if width_px < 64 or height_px < 64:
        raise ValueError(f"raster must be at least 64 x 64 px, got {width_px} x {height_px}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 99]))

    yards, cars, scenes = _plan_yards(rng, width_px, height_px, gsd_m, seed, n_yards, yard_size_m)

    compress = compress.upper()
    options = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", f"COMPRESS={compress}", "BIGTIFF=IF_SAFER",
               "NUM_THREADS=ALL_CPUS"]
    options += ["PHOTOMETRIC=YCBCR", "JPEG_QUALITY=85"] if compress == "JPEG" else ["PREDICTOR=2"]
    old_cache = gdal.GetCacheMax()
    gdal.SetCacheMax(128 * 1024 * 1024)
    try:
        ds = gdal.GetDriverByName("GTiff").Create(str(path), width_px, height_px, 3, gdal.GDT_Byte, options)
        srs = osr.SpatialReference()
        srs.SetFromUserInput(crs)
        ds.SetProjection(srs.ExportToWkt())
        ds.SetGeoTransform((float(origin_xy[0]), float(gsd_m), 0.0, float(origin_xy[1]), 0.0, -float(gsd_m)))
        coarse = _coarse_cover(rng, width_px, height_px)
        field_geom = (rng.uniform(0, np.pi), rng.uniform(150, 400) / gsd_m, rng.uniform(80, 250) / gsd_m)
        for r0 in range(0, height_px, STRIP_ROWS):
            rows = min(STRIP_ROWS, height_px - r0)
            strip_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 100, r0]))
            strip = _countryside(strip_rng, coarse, field_geom, r0, rows, width_px)
            for y, sc in zip(yards, scenes):
                _paste(strip, r0, y, sc)
            out = np.clip(strip, 0, 255).astype(np.uint8)
            ds.WriteArray(np.moveaxis(out, 2, 0), 0, r0)
            del strip, out
        ds.FlushCache()
        ds = None
    finally:
        gdal.SetCacheMax(old_cache)
    return dict(path=str(path), width_px=width_px, height_px=height_px, n_cars=len(cars), yards=yards, cars=cars)


def _plan_yards(rng, width_px, height_px, gsd_m, seed, n_yards, yard_size_m):
    yw, yh = int(round(yard_size_m[0] / gsd_m)), int(round(yard_size_m[1] / gsd_m))
    if yw > width_px or yh > height_px:
        return [], [], []
    cells_x, cells_y = width_px // yw, height_px // yh
    if n_yards is None:
        n_yards = int(np.clip(cells_x * cells_y // 8, 1, 8))
    slots = rng.permutation(cells_x * cells_y)[: min(n_yards, cells_x * cells_y)]
    margin_m = FEATHER_PX * gsd_m + 5.0
    cfg = HARD.with_(nodata_probability=0.0, cloud_probability=0.0,
                     car_region_m=(margin_m, margin_m, yard_size_m[0] - margin_m, yard_size_m[1] - margin_m))
    yards, cars, scenes = [], [], []
    for i, slot in enumerate(sorted(slots)):
        cy, cx = divmod(int(slot), cells_x)
        col0, row0 = cx * yw, cy * yh
        yseed = int(seed) * 1000 + i
        scene = make_yard(yseed, gsd_m=gsd_m, size_m=yard_size_m, config=cfg)
        scenes.append(scene.image)
        yards.append(dict(col_px=col0, row_px=row0, width_px=yw, height_px=yh, n_cars=len(scene.cars), seed=yseed))
        for c in scene.cars:
            cars.append(dict(col_px=c.col_px + col0, row_px=c.row_px + row0, kind=c.kind, length_m=c.length_m,
                             heading_deg=c.heading_deg))
    return yards, cars, scenes


def _coarse_cover(rng, width_px, height_px):
    wc, hc = width_px // COARSE + 3, height_px // COARSE + 3
    small = rng.standard_normal((hc // 6 + 2, wc // 6 + 2, 3)).astype(np.float32)
    field = cv2.resize(small, (wc, hc), interpolation=cv2.INTER_CUBIC)
    base = np.array([132, 124, 96], np.float32)
    return base + field * np.array([14, 16, 12], np.float32)


def _countryside(rng, coarse, field_geom, r0, rows, width_px):
    # rows of the coarse field, interpolated in numpy, then columns by cv2 (exact, seamless)
    y = (np.arange(r0, r0 + rows, dtype=np.float32) + 0.5) / COARSE - 0.5
    i0 = np.clip(np.floor(y).astype(int), 0, coarse.shape[0] - 2)
    t = (y - i0)[:, None, None]
    band = coarse[i0] * (1 - t) + coarse[i0 + 1] * t
    wc = coarse.shape[1]
    img = cv2.resize(band, (wc * COARSE, rows), interpolation=cv2.INTER_LINEAR)
    shift = COARSE // 2  # cv2 maps pixel centres: keep alignment with the row interpolation
    img = img[:, shift : shift + width_px] if img.shape[1] >= shift + width_px else img[:, :width_px]
    # field patchwork on a rotated grid
    ang, fw, fh = field_geom
    xs = np.arange(width_px, dtype=np.float32)[None, :]
    ys = np.arange(r0, r0 + rows, dtype=np.float32)[:, None]
    u = np.floor((xs * np.cos(ang) + ys * np.sin(ang)) / fw).astype(np.int64)
    v = np.floor((-xs * np.sin(ang) + ys * np.cos(ang)) / fh).astype(np.int64)
    idx = ((u * 73856093) ^ (v * 19349663)) % len(FIELD_COLOURS)
    img = 0.5 * img + 0.5 * FIELD_COLOURS[idx]
    grain = rng.standard_normal((rows, width_px), dtype=np.float32) * 5.0
    img += grain[..., None]
    return img


def _paste(strip, r0, yard, image):
    rows = strip.shape[0]
    a, b = max(r0, yard["row_px"]), min(r0 + rows, yard["row_px"] + yard["height_px"])
    if a >= b:
        return
    c0 = yard["col_px"]
    sub = image[a - yard["row_px"] : b - yard["row_px"]].astype(np.float32)
    h, w = yard["height_px"], yard["width_px"]
    ry = np.arange(a - yard["row_px"], b - yard["row_px"])
    fy = np.clip(np.minimum(ry + 0.5, h - ry - 0.5) / FEATHER_PX, 0, 1)[:, None]
    cx = np.arange(w)
    fx = np.clip(np.minimum(cx + 0.5, w - cx - 0.5) / FEATHER_PX, 0, 1)[None, :]
    alpha = (fy * fx)[..., None]
    dst = strip[a - r0 : b - r0, c0 : c0 + w]
    dst[:] = sub * alpha + dst * (1 - alpha)
