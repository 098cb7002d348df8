"""Realistic content for the speed bench: a mosaic of the real yard scene.

The real imagery in ``../shared/real`` (beside the repository) may be
evaluated but not redistributed, so nothing of it is ever committed: the
mosaic is built at run time into ``bench/out/`` (git-ignored), and code that
uses it says so and skips when the folder is absent.

The mosaic repeats ``hsr_yard_0.5m.tif`` (a freight yard with fields,
villages, roads and a passenger line around it) in mirrored copies, every
other one flipped left-right and every other row of copies upside down, so
the copies meet without seams: fields, villages and roads everywhere, and a
yard in every copy, as a user's satellite scene has them. The labelled cars
go along (``status=disputed`` ones stay don't-cares), so the bench also
counts how many true cars the detector finds on it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from typing import List, Optional

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.real import REAL_DIR, LabelledCar, RealScene, load_real_scene, score_scene  # noqa: E402

YARD = "hsr_yard_0.5m"


def yard_paths(folder: str = REAL_DIR):
    """(image, labels) of the real yard, or None when they are not there."""
    tif = os.path.join(folder, YARD + ".tif")
    labels = os.path.join(folder, YARD + ".railcars.geojson")
    return (tif, labels) if os.path.exists(tif) and os.path.exists(labels) else None


def load_yard(folder: str = REAL_DIR):
    """(image (rows, cols, 3) uint8, GSD m, cars) of the real yard, as
    ``bench/real.py`` loads it; each car a dict of ``LabelledCar``'s fields.
    None when the folder or the files are absent."""
    if yard_paths(folder) is None:
        return None
    scene = load_real_scene(YARD, folder)
    return scene.image, scene.gsd_m, [asdict(c) for c in scene.cars]


def mirrored_copies(image: np.ndarray, width: int, height: int, r0: int, rows: int) -> np.ndarray:
    """Rows ``r0 .. r0 + rows`` of the ``width`` x ``height`` mosaic of ``image``."""
    h, w = image.shape[:2]
    r = np.arange(r0, r0 + rows)
    c = np.arange(width)
    # Copy (i, j) flipped left-right when i is odd, upside down when j is odd.
    src_r = np.where((r // h) % 2 == 1, h - 1 - r % h, r % h)
    src_c = np.where((c // w) % 2 == 1, w - 1 - c % w, c % w)
    return image[src_r][:, src_c]


def mirrored_cars(cars: List[dict], w: int, h: int, width: int, height: int) -> List[dict]:
    """The labelled cars of every copy that lie inside the mosaic."""
    out = []
    for j in range(-(-height // h)):
        for i in range(-(-width // w)):
            for car in cars:
                col = i * w + (w - car["col_px"] if i % 2 else car["col_px"])
                row = j * h + (h - car["row_px"] if j % 2 else car["row_px"])
                if 0 <= col < width and 0 <= row < height:
                    out.append(dict(car, col_px=col, row_px=row))
    return out


def write_mosaic(path: str, size_px: int, folder: str = REAL_DIR) -> Optional[dict]:
    """Write the ``size_px`` square mosaic as a tiled, DEFLATE-compressed 3-band
    GeoTIFF (the yard's own pixels, unchanged) and return
    ``{"n_cars", "cars", "gsd_m", ...}``; None when the real yard is absent."""
    from osgeo import gdal, osr

    loaded = load_yard(folder)
    if loaded is None:
        return None
    image, gsd_m, cars = loaded
    h, w = image.shape[:2]
    gdal.UseExceptions()
    options = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "PREDICTOR=2",
               "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"]
    dataset = gdal.GetDriverByName("GTiff").Create(path, size_px, size_px, 3, gdal.GDT_Byte, options)
    srs = osr.SpatialReference()
    srs.SetFromUserInput("EPSG:32649")
    dataset.SetProjection(srs.ExportToWkt())
    dataset.SetGeoTransform((700000.0, gsd_m, 0.0, 3850000.0, 0.0, -gsd_m))
    strip = 1024
    for r0 in range(0, size_px, strip):
        rows = min(strip, size_px - r0)
        dataset.WriteArray(np.moveaxis(mirrored_copies(image, size_px, size_px, r0, rows), 2, 0), 0, r0)
    dataset.FlushCache()
    dataset = None
    truth = mirrored_cars(cars, w, h, size_px, size_px)
    return dict(path=path, width_px=size_px, height_px=size_px, gsd_m=gsd_m, copies=size_px * size_px / (w * h),
                n_cars=sum(not c["disputed"] for c in truth), cars=truth)


def score(found, truth: List[dict], gsd_m: float):
    """``bench.scoring.Score`` of ``found`` against the agreed cars of ``truth``,
    disputed cars as don't-cares (``bench.real.score_scene``)."""
    return score_scene(found, RealScene("mosaic", np.empty((0, 0, 3), np.uint8), gsd_m,
                                        [LabelledCar(**c) for c in truth], rough=False))
