"""Make the Tumangang demo data in demo/ (run from the repo root).

    .venv/bin/python scripts/make_demo.py

Writes:
  demo/tumangang_2023-10-05.tif        73 freight cars on long sidings, 0.5 m, UTM 52N, JPEG YCbCr
  demo/tumangang_2023-10-05_truth.csv  col_px,row_px,x,y,kind,length_m of each car
  demo/tumangang_2021-06-14.tif        a smaller earlier scene of the same place, 12 cars
  demo/tumangang_2021-06-14_truth.csv
  demo/tumangang_history.csv           40 earlier observations 2018-10 .. 2023-09, at most 20 cars

The scenes are synthetic (railwatch_synth); only the place and the counts follow
the real case (about 73 cars seen in October 2023, at most 20 in five earlier years).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from railwatch_synth import make_yard, write_geotiff  # noqa: E402
from railwatch_synth.config import HARD  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "demo"
SITE_LAT, SITE_LON = 42.42, 130.60
CRS = "EPSG:32652"
GSD_M = 0.5
SIZE_M = (700.0, 420.0)
LAYOUT_SEED = 1005  # same tracks in every image of the site
HEADING_DEG = 64.0  # the yard runs NE-SW like the line along the Tumen


def site_utm():
    from osgeo import osr

    wgs, utm = osr.SpatialReference(), osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    utm.SetFromUserInput(CRS)
    for s in (wgs, utm):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x, y, _ = osr.CoordinateTransformation(wgs, utm).TransformPoint(SITE_LON, SITE_LAT)
    return x, y


def facility_config(**changes):
    """A busy border facility: several long sidings, few look-alikes, no wedge or cloud."""
    base = dict(n_tracks=(7, 9), ladder_inside_probability=0.0, fill_sidings=True, branch_probability=0.0, nodata_probability=0.0,
                cloud_probability=0.0, catenary_probability=0.0, jpeg_quality=(80, 85), haze=(0.03, 0.08))
    base.update(changes)
    return HARD.with_(**base)


def write_truth(scene, origin, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["col_px", "row_px", "x", "y", "kind", "length_m"])
        for c in scene.cars:
            x = origin[0] + c.col_px * scene.gsd_m
            y = origin[1] - c.row_px * scene.gsd_m
            w.writerow([f"{c.col_px:.2f}", f"{c.row_px:.2f}", f"{x:.2f}", f"{y:.2f}", c.kind, f"{c.length_m:.2f}"])


def history(path):
    """40 observations from 2018-10 to 2023-09; counts 0-20, maximum exactly 20."""
    rng = np.random.default_rng(20231005)
    start, end = dt.date(2018, 10, 3), dt.date(2023, 9, 20)
    days = np.sort(rng.choice((end - start).days + 1, 40, replace=False))
    dates = [start + dt.timedelta(days=int(d)) for d in days]
    counts = np.clip(np.round(rng.gamma(2.2, 3.2, len(dates))), 0, 19).astype(int)
    counts[int(rng.integers(10, 30))] = 20
    counts[int(rng.integers(0, 10))] = 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scene", "acquired", "count", "mean_confidence"])
        for d, n in zip(dates, counts):
            conf = f"{rng.uniform(0.62, 0.88):.3f}" if n > 0 else ""
            w.writerow([f"tumangang_{d.isoformat()}", d.isoformat(), int(n), conf])
    return counts


def main():
    DEMO.mkdir(exist_ok=True)
    cx, cy = site_utm()
    origin = (round(cx - SIZE_M[0] / 2), round(cy + SIZE_M[1] / 2))

    scene = make_yard(LAYOUT_SEED, gsd_m=GSD_M, size_m=SIZE_M, heading_deg=HEADING_DEG, n_cars=73,
                      config=facility_config())
    assert len(scene.cars) == 73
    write_geotiff(scene, DEMO / "tumangang_2023-10-05.tif", crs=CRS, origin_xy=origin, acquired="2023-10-05",
                  compress="JPEG", jpeg_quality=80)
    write_truth(scene, origin, DEMO / "tumangang_2023-10-05_truth.csv")

    # June 2021: same tracks, 12 cars, a smaller window over the middle of the yard
    crop_m = (360.0, 240.0)
    x0, y0 = (SIZE_M[0] - crop_m[0]) / 2, (SIZE_M[1] - crop_m[1]) / 2
    region = (x0 + 5, y0 + 5, x0 + crop_m[0] - 5, y0 + crop_m[1] - 5)
    earlier = make_yard(LAYOUT_SEED, gsd_m=GSD_M, size_m=SIZE_M, heading_deg=HEADING_DEG, n_cars=12,
                        config=facility_config(fill_sidings=False, car_region_m=region, seasonal_green=True, look_seed=20210614))
    c0, r0 = int(x0 / GSD_M), int(y0 / GSD_M)
    cols, rows = int(crop_m[0] / GSD_M), int(crop_m[1] / GSD_M)
    earlier = earlier.crop(c0, r0, cols, rows)
    assert len(earlier.cars) == 12
    origin_e = (origin[0] + c0 * GSD_M, origin[1] - r0 * GSD_M)
    write_geotiff(earlier, DEMO / "tumangang_2021-06-14.tif", crs=CRS, origin_xy=origin_e, acquired="2021-06-14",
                  compress="JPEG", jpeg_quality=80)
    write_truth(earlier, origin_e, DEMO / "tumangang_2021-06-14_truth.csv")

    counts = history(DEMO / "tumangang_history.csv")
    total = sum(p.stat().st_size for p in DEMO.iterdir())
    print(f"site centre UTM 52N: {cx:.1f}, {cy:.1f}; origin {origin}")
    print(f"2023-10-05: {len(scene.cars)} cars; 2021-06-14: {len(earlier.cars)} cars; "
          f"history: {len(counts)} rows, max {counts.max()}; demo/ total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
