"""Bad and unusual input, run through ``qgis_process`` as a user runs it, each
run classified.

    .venv/bin/python bench/fuzz.py              # every case (~8 min on 2 busy cores)
    .venv/bin/python bench/fuzz.py -k aoi       # the cases whose name holds "aoi"
    .venv/bin/python bench/fuzz.py --list       # the cases, not run

Inputs are generated at run time into a temporary folder (a seeded easy yard
of 40 railcars at 0.5 m, turned into rasters of every kind: CRSs, pixel types,
compressions, damage, nodata; layers and tables to go with them). Each case
says what a right answer is: a count within a range (the truth the yard was
drawn from, with the tolerance of the test suite), or a refusal. Each run is
one ``qgis_process run`` with a private QGIS profile, at most two at a time;
its peak resident set comes from ``os.wait4``. A run is

* ok: the count in range (or a refusal where one is due), outputs as promised;
* clear error: refused with a message and no traceback, as the case wanted;
* refused, a count was due: refused although the input can be counted;
* wrong result: a count out of range, a count where a refusal was due, or
  output that does not hold what it should;
* traceback: a Python traceback reached the user;
* half-written output: a failed run left a new output file;
* over 1 GB: peak RSS above 1,024 MB;
* QGIS's mesh probe: QGIS loaded an input file as every kind of layer and
  printed "Unable to load mesh (null)" before RailWatch's message.

Issue 15: "a fuzz set ... finds no wrong result, no half-written output, no
raw traceback and no run above 1 GB".
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.memory import QGIS_PROCESS, Launcher, qgis_process_env  # noqa: E402

TARGET_PEAK_RSS_MB = 1024.0
UTM = "EPSG:32652"
X0, Y0 = 500000.0, 4700000.0
GSD = 0.5

OK, CLEAR, REFUSED, WRONG, TRACEBACK, HALF, OVER, MESH = (
    "ok", "clear error", "refused, a count was due", "wrong result", "traceback", "half-written output", "over 1 GB",
    "QGIS's mesh probe")
FAILURES = (REFUSED, WRONG, TRACEBACK, HALF, OVER, MESH)


@dataclass
class Case:
    name: str
    algorithm: str
    parameters: dict
    expect: str  # "count": a count in ``count``; "error": a refusal; "either": a count in range or a refusal
    count: Optional[Tuple[float, float]] = None
    error_has: str = ""  # words the refusal must hold
    outputs: Sequence[str] = ()  # files the run may create: none may be left by a failure
    check: Optional[Callable[[dict], Optional[str]]] = None  # on success: what is wrong, or None
    timeout_s: float = 300.0


@dataclass
class Outcome:
    case: Case
    verdict: str
    detail: str
    seconds: float
    peak_mb: float
    count: Optional[float] = None
    messages: List[str] = field(default_factory=list)


# ------------------------------------------------------------------ inputs


class Inputs:
    """Every file the cases use, written once into ``folder``."""

    def __init__(self, folder: str):
        from osgeo import gdal

        from railwatch_synth import make_yard

        gdal.UseExceptions()
        self.folder = folder
        self.scene = make_yard(3, gsd_m=GSD, size_m=(400.0, 300.0), difficulty="easy")
        self.n = len(self.scene.cars)
        self.image = self.scene.image
        self.rows, self.cols = self.image.shape[:2]
        self.yard = self.tif("yard_2023-10-05.tif", self.image, acquired="2023-10-05")

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def tif(self, name, image, crs=UTM, geotransform=None, **options) -> str:
        from railwatch_synth import write_geotiff

        geotransform = geotransform or (X0, GSD, 0.0, Y0, 0.0, -GSD)
        return write_geotiff(image, self.path(name), crs=crs, geotransform=geotransform, **options)

    def gdal_copy(self, name, source, **translate) -> str:
        from osgeo import gdal

        gdal.Translate(self.path(name), source, **translate)
        return self.path(name)

    def vector(self, name, geometry_type, wkts, crs=UTM, fields=None) -> str:
        """A GeoPackage layer (or a table, geometry_type None) with ``wkts``."""
        from osgeo import ogr, osr

        path = self.path(name)
        if os.path.exists(path):
            os.remove(path)
        driver = ogr.GetDriverByName("GPKG")
        source = driver.CreateDataSource(path)
        srs = osr.SpatialReference()
        srs.SetFromUserInput(crs)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        layer = source.CreateLayer(os.path.splitext(name)[0], srs if geometry_type else None,
                                   geometry_type if geometry_type else ogr.wkbNone)
        layer.CreateField(ogr.FieldDefn("name", ogr.OFTString))
        for i, wkt in enumerate(wkts):
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetField("name", f"part {i}")
            if wkt:
                feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
            layer.CreateFeature(feature)
        source = None
        return path

    def map_xy(self, col, row):
        return X0 + col * GSD, Y0 - row * GSD

    def box_wkt(self, col0, row0, col1, row1, dx=0.0) -> str:
        (x0, y0), (x1, y1) = self.map_xy(col0, row0), self.map_xy(col1, row1)
        x0, x1 = x0 + dx, x1 + dx
        return f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"

    def cars_in(self, col0, row0, col1, row1) -> int:
        return sum(1 for c in self.scene.cars if col0 <= c.col_px < col1 and row0 <= c.row_px < row1)

    def text(self, name, content, encoding="utf-8") -> str:
        with open(self.path(name), "w", encoding=encoding, newline="") as f:
            f.write(content)
        return self.path(name)


def around(n: int, extra: float = 0.0) -> Tuple[float, float]:
    """The range a count of ``n`` true cars may fall in (the test suite's: 10 %, at least 2)."""
    tolerance = max(2, math.ceil(0.1 * n)) + extra
    return n - tolerance, n + tolerance


# ------------------------------------------------------------------ cases


def build_cases(inp: Inputs, out: str) -> List[Case]:  # noqa: C901 (one list, read top to bottom)
    import numpy as np
    from osgeo import gdal, osr

    from railwatch_plugin.algorithms.ground_resolution import metres_per_degree

    cases: List[Case] = []
    n = inp.n
    yard = inp.yard
    img = inp.image
    rows, cols = inp.rows, inp.cols

    def o(name):  # an output path of this case
        return os.path.join(out, name)

    def detect(name, input_path, expect="count", count=None, error_has="", extra=None, check=None, outputs=None, **kw):
        points = o(f"{name}.gpkg")
        parameters = {"INPUT": input_path, "OUTPUT": points}
        parameters.update(extra or {})
        if expect == "count" and count is None:
            count = around(n)
        cases.append(Case(name, "railwatch:detectrailcars", parameters, expect, count, error_has,
                          outputs if outputs is not None else [points], check, **kw))

    # --- A. where the image is: CRS and geotransform variants (all 40 cars, 0.5 m on the ground)
    per_x, per_y = metres_per_degree(42.4)
    detect("crs_utm", yard)
    detect("crs_wgs84_degrees", inp.tif("wgs84.tif", img, crs="EPSG:4326",
                                        geotransform=(130.6, GSD / per_x, 0, 42.4, 0, -GSD / per_y)))
    px3857 = GSD / math.cos(math.radians(70.0))
    y70 = 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(70.0) / 2))
    detect("crs_web_mercator_70n", inp.tif("mercator.tif", img, crs="EPSG:3857", geotransform=(1.0e6, px3857, 0, y70, 0, -px3857)))
    feet = GSD / (1200.0 / 3937.0)
    detect("crs_us_feet", inp.tif("feet.tif", img, crs="EPSG:2263", geotransform=(980000.0, feet, 0, 200000.0, 0, -feet)))
    polar = osr.SpatialReference()
    polar.ImportFromEPSG(3995)
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_polar = osr.CoordinateTransformation(wgs84, polar)
    px0, py0, _ = to_polar.TransformPoint(30.0, 89.0)
    px1, py1, _ = to_polar.TransformPoint(30.0, 89.0 + 1000.0 / 111694.0)  # 1 km north on the ground
    scale = math.hypot(px1 - px0, py1 - py0) / 1000.0
    detect("crs_polar_stereographic_89n", inp.tif("polar.tif", img, crs="EPSG:3995",
                                                 geotransform=(px0, GSD * scale, 0, py0, 0, -GSD * scale)))
    angle = math.radians(30.0)
    rotated = (X0, GSD * math.cos(angle), -GSD * math.sin(angle), Y0, -GSD * math.sin(angle), -GSD * math.cos(angle))
    detect("geotransform_rotated_30deg", inp.tif("rotated.tif", img, geotransform=rotated))
    detect("geotransform_south_up", inp.tif("south_up.tif", img[::-1].copy(), geotransform=(X0, GSD, 0, Y0 - rows * GSD, 0, GSD)))
    import cv2

    squeezed = cv2.resize(img, (cols, int(round(rows * GSD / 0.6))), interpolation=cv2.INTER_AREA)
    detect("pixels_0.5x0.6m", inp.tif("non_square.tif", squeezed, geotransform=(X0, GSD, 0, Y0, 0, -0.6)), count=around(n, 2))
    detect("origin_far_east", inp.tif("far_east.tif", img, geotransform=(X0 + 300000, GSD, 0, Y0 + 1000000, 0, -GSD)))
    source = gdal.Open(yard)
    gcps = [gdal.GCP(X0 + c * GSD, Y0 - r * GSD, 0, c, r) for c in (0, cols) for r in (0, rows)]
    gcp_path = inp.gdal_copy("gcps.tif", source, GCPs=gcps, outputSRS=UTM)
    detect("gcps_only", gcp_path, check=positions_near(inp, o("gcps_only.gpkg")))
    detect("gcps_only_with_gsd", gcp_path, extra={"GSD": 0.5}, check=positions_near(inp, o("gcps_only_with_gsd.gpkg")))
    source = None
    nocrs = inp.path("nocrs.tif")
    ds = gdal.GetDriverByName("GTiff").Create(nocrs, cols, rows, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((0.0, GSD, 0.0, 0.0, 0.0, -GSD))
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(img[:, :, b])
    ds = None
    detect("no_crs", nocrs, expect="error", error_has="no coordinate reference system")
    detect("no_crs_with_gsd", nocrs, extra={"GSD": 0.5})
    nogeo = inp.path("not_georeferenced.tif")
    ds = gdal.GetDriverByName("GTiff").Create(nogeo, cols, rows, 3, gdal.GDT_Byte)
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(img[:, :, b])
    ds = None
    detect("not_georeferenced", nogeo, expect="error", error_has="GSD")
    detect("not_georeferenced_with_gsd", nogeo, extra={"GSD": 0.5})
    local = inp.tif("engineering_crs.tif", img, crs='LOCAL_CS["site grid",UNIT["metre",1]]')
    detect("crs_local_engineering", local, expect="either", count=around(n))
    detect("crs_local_engineering_with_gsd", local, extra={"GSD": 0.5})
    detect("gsd_override_same", yard, extra={"GSD": 0.5})
    detect("gsd_override_slightly_off", yard, extra={"GSD": 0.55}, count=around(n, 3))

    # --- B. pixel types, compressions, bands, damage
    as16 = (img.astype(np.uint16) * 16)
    detect("uint16_12bit", inp.tif("u16.tif", as16))
    detect("uint16_dark_stretch", inp.tif("u16_dark.tif", (img.astype(np.uint16) * 3 + 200).astype(np.uint16)))
    as_float = img.astype(np.float32) / 255.0
    detect("float32_0to1", inp.tif("f32.tif", as_float))
    for label, where, value in (("nan_pixel", (300, 400, 0), np.nan), ("inf_pixel", (100, 100, 1), np.inf),
                                ("minus_inf_pixel", (500, 700, 2), -np.inf)):
        poisoned = as_float.copy()
        poisoned[where] = value
        detect(f"float32_{label}", inp.tif(f"f32_{label}.tif", poisoned))
    scattered = as_float.copy()
    rng = np.random.default_rng(5)
    scattered[rng.integers(0, rows, 200), rng.integers(0, cols, 200), rng.integers(0, 3, 200)] = np.nan
    detect("float32_200_nan_pixels", inp.tif("f32_nan200.tif", scattered))
    nan_band = as_float.copy()
    nan_band[::97, ::89, 1] = np.nan
    detect("float32_nan_in_one_band", inp.tif("f32_nanband.tif", nan_band))
    huge = as_float.copy()
    huge[10, 10, 0] = 3.0e38
    detect("float32_one_huge_value", inp.tif("f32_huge.tif", huge))
    with_65535 = as16.copy()
    with_65535[:, : cols // 2] = 65535
    detect("uint16_nodata_65535_half", inp.tif("u16_nodata.tif", with_65535, nodata=65535),
           count=(inp.cars_in(cols // 2 + 30, 0, cols, rows) - 4, inp.cars_in(cols // 2 - 30, 0, cols, rows) + 4))
    nan_half = as_float.copy()
    nan_half[:, : cols // 2] = np.nan
    detect("float32_nodata_nan_half", inp.tif("f32_nodata_nan.tif", nan_half, nodata=float("nan")),
           count=(inp.cars_in(cols // 2 + 30, 0, cols, rows) - 4, inp.cars_in(cols // 2 - 30, 0, cols, rows) + 4))
    detect("two_bands", inp.tif("two_bands.tif", img[:, :, :2].copy()), count=around(n, 3))
    detect("float64", inp.gdal_copy("f64.tif", inp.path("f32.tif"), outputType=gdal.GDT_Float64))
    detect("int16", inp.gdal_copy("i16.tif", yard, outputType=gdal.GDT_Int16))
    detect("int32", inp.gdal_copy("i32.tif", yard, outputType=gdal.GDT_Int32))
    detect("jpeg_tiled", inp.tif("jpeg.tif", img, compress="JPEG"))
    detect("jpeg_quality_30", inp.tif("jpeg30.tif", img, compress="JPEG", jpeg_quality=30), count=around(n, 2))
    detect("lzw", inp.tif("lzw.tif", img, compress="LZW"))
    detect("uncompressed_striped", inp.tif("striped.tif", img, compress="NONE", tiled=False))
    detect("zstd", inp.tif("zstd.tif", img, compress="ZSTD"))
    jpeg = inp.path("jpeg.tif")
    ds = gdal.Open(jpeg)
    band = ds.GetRasterBand(1)
    offset, size = (int(band.GetMetadataItem(f"BLOCK_{what}_1_1", "TIFF")) for what in ("OFFSET", "SIZE"))
    band = ds = None
    raw = bytearray(open(jpeg, "rb").read())
    damaged = bytearray(raw)
    damaged[offset + size // 3: offset + size // 3 + 200] = bytes(200)
    open(inp.path("jpeg_damaged.tif"), "wb").write(bytes(damaged))
    detect("jpeg_damaged_tile", inp.path("jpeg_damaged.tif"), expect="error", error_has="is damaged")
    scrambled = bytearray(raw)
    scrambled[offset: offset + size] = bytes((b * 7 + 3) % 256 for b in scrambled[offset: offset + size])
    open(inp.path("jpeg_scrambled.tif"), "wb").write(bytes(scrambled))
    detect("jpeg_scrambled_tile", inp.path("jpeg_scrambled.tif"), expect="error", error_has="damaged")
    open(inp.path("truncated.tif"), "wb").write(raw[: len(raw) // 2])
    detect("truncated_file", inp.path("truncated.tif"), expect="error")
    open(inp.path("empty.tif"), "wb").close()
    detect("empty_file", inp.path("empty.tif"), expect="error", error_has="not an image GDAL can read")
    inp.text("text.tif", "this is not an image\n")
    detect("text_named_tif", inp.path("text.tif"), expect="error", error_has="not an image GDAL can read")
    source = gdal.Open(yard)
    colours = gdal.ColorTable()
    gdal.ComputeMedianCutPCT(*(source.GetRasterBand(b) for b in (1, 2, 3)), 256, colours)
    paletted = gdal.GetDriverByName("GTiff").Create(inp.path("paletted.tif"), cols, rows, 1, gdal.GDT_Byte)
    paletted.SetGeoTransform(source.GetGeoTransform())
    paletted.SetProjection(source.GetProjection())
    gdal.DitherRGB2PCT(*(source.GetRasterBand(b) for b in (1, 2, 3)), paletted.GetRasterBand(1), colours)
    paletted.GetRasterBand(1).SetColorTable(colours)
    paletted = source = None
    detect("paletted", inp.path("paletted.tif"), count=around(n, 2))
    grey = (0.299 * img[:, :, 0] + 0.587 * img[:, :, 1] + 0.114 * img[:, :, 2]).astype(np.uint8)
    detect("one_grey_band", inp.tif("grey.tif", grey), count=around(n, 2))
    alpha = np.dstack([img, np.full((rows, cols), 255, np.uint8)])
    alpha[:, : cols // 2, 3] = 0
    rgba = inp.tif("rgba.tif", alpha)
    ds = gdal.Open(rgba, gdal.GA_Update)
    ds.GetRasterBand(4).SetColorInterpretation(gdal.GCI_AlphaBand)
    ds = None
    east = inp.cars_in(cols // 2 + 30, 0, cols, rows)
    detect("rgba_alpha_half", rgba, count=(east - 4, inp.cars_in(cols // 2 - 30, 0, cols, rows) + 4))
    nir = np.dstack([img, img[:, :, 0]])
    nir_path = inp.path("rgbn.tif")
    ds = gdal.GetDriverByName("GTiff").Create(nir_path, cols, rows, 4, gdal.GDT_Byte)
    ds.SetGeoTransform((X0, GSD, 0, Y0, 0, -GSD))
    ds.SetProjection(osr_wkt(UTM))
    for b in range(4):
        ds.GetRasterBand(b + 1).WriteArray(nir[:, :, b])
    ds = None
    detect("four_bands_unlabelled", nir_path)
    detect("bands_bgr_order", yard, extra={"BANDS": "3,2,1"}, count=around(n, 2))
    detect("bands_one", yard, extra={"BANDS": "2"}, count=around(n, 2))
    with_overviews = inp.gdal_copy("overviews.tif", yard)
    ds = gdal.Open(with_overviews, gdal.GA_Update)
    ds.BuildOverviews("AVERAGE", [2, 4])
    ds = None
    detect("with_overviews", with_overviews)
    detect("vrt_of_the_tif", inp.gdal_copy("yard.vrt", yard, format="VRT"))
    inp.text("missing_source.vrt", open(inp.path("yard.vrt")).read().replace(os.path.basename(yard), "gone.tif").replace(
        yard, inp.path("gone.tif")))
    detect("vrt_missing_source", inp.path("missing_source.vrt"), expect="error")
    detect("geopackage_raster", inp.gdal_copy("raster.gpkg", yard, format="GPKG"))
    detect("jpeg2000", inp.gdal_copy("yard.jp2", yard, format="JP2OpenJPEG", creationOptions=["QUALITY=50"]), count=around(n, 2))
    detect("png_with_worldfile", inp.gdal_copy("yard.png", yard, format="PNG", creationOptions=["WORLDFILE=YES"]),
           expect="either", count=around(n))
    half = img.copy()
    half[:, : cols // 2] = 0
    detect("nodata_half", inp.tif("nodata_half.tif", half, nodata=0), count=(east - 4, inp.cars_in(cols // 2 - 30, 0, cols, rows) + 4))
    detect("all_nodata", inp.tif("all_nodata.tif", np.zeros_like(img), nodata=0), expect="error", error_has="no valid pixel")
    masked = inp.tif("all_masked.tif", img)
    ds = gdal.Open(masked, gdal.GA_Update)
    ds.CreateMaskBand(gdal.GMF_PER_DATASET)
    ds.GetRasterBand(1).GetMaskBand().WriteArray(np.zeros((rows, cols), np.uint8))
    ds = None
    detect("all_masked", masked, expect="error", error_has="no valid pixel")
    detect("all_nan_float", inp.tif("all_nan.tif", np.full(img.shape, np.nan, np.float32)), expect="error", error_has="no valid pixel")
    detect("constant_grey", inp.tif("constant.tif", np.full_like(img, 128)), count=(0, 0))
    detect("black_image_no_nodata", inp.tif("black.tif", np.zeros_like(img)), count=(0, 0))
    noise = np.random.default_rng(1).integers(0, 256, img.shape, dtype=np.uint8)
    detect("random_noise", inp.tif("noise.tif", noise), count=(0, 2))
    detect("tiny_5x5", inp.tif("tiny.tif", img[:5, :5].copy()), count=(0, 0))
    detect("one_row", inp.tif("one_row.tif", img[300:301].copy()), count=(0, 0))
    detect("too_coarse_2m", inp.tif("coarse.tif", img[::4, ::4].copy(), geotransform=(X0, 2.0, 0, Y0, 0, -2.0)),
           expect="error", error_has="too coarse")
    detect("demo_scene", os.path.join(ROOT, "demo", "tumangang_2023-10-05.tif"), count=around(73))

    # --- C. parameter values
    for value, has in (("abc", "not a number"), ("-1", ""), ("nan", "not a number"), ("inf", "not a number"),
                       ("1,5", "not a number"), ("0.5 m", "not a number"), ("2.0", "too coarse")):
        detect(f"gsd_{value}", yard, expect="error", error_has=has, extra={"GSD": value})
    detect("gsd_0_means_from_crs", yard, extra={"GSD": "0"})
    detect("gsd_empty", yard, extra={"GSD": ""})
    sparse = inp.path("sparse_100000x10000.tif")
    ds = gdal.GetDriverByName("GTiff").Create(sparse, 100_000, 10_000, 3, gdal.GDT_Byte,
                                              ["TILED=YES", "SPARSE_OK=TRUE", "COMPRESS=DEFLATE", "BIGTIFF=YES"])
    ds.SetProjection(osr_wkt(UTM))
    ds.SetGeoTransform((X0, GSD, 0, Y0, 0, -GSD))
    ds = None
    detect("gsd_0.001_on_100000px", sparse, extra={"GSD": "0.001"}, count=(0, 0), timeout_s=600)
    detect("gsd_0.01_on_the_yard", yard, extra={"GSD": "0.01"}, count=(0, 2))
    detect("bands_9", yard, expect="error", error_has="do not exist", extra={"BANDS": "9"})
    detect("bands_0", yard, expect="error", extra={"BANDS": "0"})
    detect("bands_abc", yard, expect="error", extra={"BANDS": "abc"})
    detect("min_length_1", yard, expect="error", error_has="MIN_LENGTH_M", extra={"MIN_LENGTH_M": "1"})
    detect("min_length_6", yard, extra={"MIN_LENGTH_M": "6"})
    detect("lengths_swapped", yard, expect="error", error_has="MIN_LENGTH_M / MAX_LENGTH_M",
           extra={"MIN_LENGTH_M": "25", "MAX_LENGTH_M": "12"})
    detect("widths_swapped", yard, expect="error", error_has="MIN_WIDTH_M / MAX_WIDTH_M", extra={"MIN_WIDTH_M": "3.5", "MAX_WIDTH_M": "2.5"})
    detect("min_width_0.5", yard, expect="error", error_has="MIN_WIDTH_M", extra={"MIN_WIDTH_M": "0.5"})
    detect("max_length_abc", yard, expect="error", extra={"MAX_LENGTH_M": "abc"})
    detect("confidence_0", yard, count=(n - 4, n + 30), extra={"MIN_CONFIDENCE": "0"})
    detect("confidence_1", yard, count=(0, n), extra={"MIN_CONFIDENCE": "1"})
    detect("confidence_2", yard, expect="error", extra={"MIN_CONFIDENCE": "2"})
    detect("confidence_abc", yard, expect="error", extra={"MIN_CONFIDENCE": "abc"})
    detect("track_buffer_0", yard, expect="error", extra={"TRACK_BUFFER": "0"})
    detect("track_buffer_abc", yard, expect="error", extra={"TRACK_BUFFER": "abc"})
    detect("input_missing_file", inp.path("nowhere.tif"), expect="error", error_has="not found")
    detect("input_a_csv", inp.text("table.csv", "date,count\n2023-10-05,73\n"), expect="error", error_has="not a raster")
    detect("input_a_folder", inp.folder, expect="error")
    detect("input_a_vector", inp.vector("points_in.gpkg", 1, ["POINT(500100 4699900)"]), expect="error", error_has="not a raster")
    cases.append(Case("input_not_given", "railwatch:detectrailcars", {"OUTPUT": o("input_not_given.gpkg")}, "error",
                      outputs=[o("input_not_given.gpkg")]))

    # --- D. AOI and TRACKS
    from osgeo import ogr

    detect("aoi_whole_image", yard, extra={"AOI": inp.vector("aoi_all.gpkg", ogr.wkbPolygon, [inp.box_wkt(-10, -10, cols + 10, rows + 10)])})
    west = inp.cars_in(0, 0, cols // 2, rows)
    detect("aoi_west_half", yard, count=around(west), extra={"AOI": inp.vector("aoi_west.gpkg", ogr.wkbPolygon, [inp.box_wkt(-10, -10, cols // 2, rows + 10)])})
    aoi_wgs = inp.vector("aoi_wgs84.gpkg", ogr.wkbPolygon, [reproject_wkt(inp.box_wkt(-10, -10, cols + 10, rows + 10), UTM, "EPSG:4326")], crs="EPSG:4326")
    detect("aoi_in_wgs84", yard, extra={"AOI": aoi_wgs})
    detect("aoi_100km_away", yard, expect="error", error_has="no AOI polygon overlaps",
           extra={"AOI": inp.vector("aoi_far.gpkg", ogr.wkbPolygon, [inp.box_wkt(0, 0, cols, rows, dx=100000)])})
    detect("aoi_empty_layer", yard, expect="error", error_has="no polygon", extra={"AOI": inp.vector("aoi_empty.gpkg", ogr.wkbPolygon, [])})
    detect("aoi_points", yard, expect="error", error_has="not polygons", extra={"AOI": inp.vector("aoi_points.gpkg", ogr.wkbPoint, ["POINT(500100 4699900)"])})
    detect("aoi_lines", yard, expect="error", error_has="not polygons",
           extra={"AOI": inp.vector("aoi_lines.gpkg", ogr.wkbLineString, ["LINESTRING(500000 4699900,500400 4699900)"])})
    detect("aoi_table_without_geometry", yard, expect="error", extra={"AOI": inp.vector("aoi_table.gpkg", None, [None])})
    detect("aoi_missing_file", yard, expect="error", extra={"AOI": inp.path("nowhere.gpkg")})
    detect("aoi_null_geometries", yard, expect="error", error_has="no polygon",
           extra={"AOI": inp.vector("aoi_nullgeom.gpkg", ogr.wkbPolygon, [None, None])})
    detect("aoi_on_nodata_half", inp.path("nodata_half.tif"), count=(0, 2),
           extra={"AOI": inp.vector("aoi_on_nodata.gpkg", ogr.wkbPolygon, [inp.box_wkt(0, 0, cols // 4, rows)])})
    lines = [np.array(line) for line in inp.scene.track_lines_px]
    wkt_lines = ["LINESTRING(" + ",".join(f"{X0 + c * GSD} {Y0 - r * GSD}" for c, r in line) + ")" for line in lines]
    detect("tracks_all", yard, count=around(n, 2), extra={"TRACKS": inp.vector("tracks.gpkg", ogr.wkbLineString, wkt_lines)})
    detect("tracks_polygons", yard, expect="error", error_has="not lines",
           extra={"TRACKS": inp.vector("tracks_poly.gpkg", ogr.wkbPolygon, [inp.box_wkt(0, 0, cols, rows)])})
    detect("tracks_points", yard, expect="error", error_has="not lines", extra={"TRACKS": inp.vector("tracks_pt.gpkg", ogr.wkbPoint, ["POINT(500100 4699900)"])})
    detect("tracks_far_away", yard, count=(0, 0),
           extra={"TRACKS": inp.vector("tracks_far.gpkg", ogr.wkbLineString, ["LINESTRING(600000 4800000,600500 4800000)"])})
    detect("tracks_and_aoi_no_crs", nocrs, expect="error", error_has="AOI and TRACKS",
           extra={"GSD": "0.5", "TRACKS": inp.path("tracks.gpkg")})

    # --- E. where the outputs go
    detect("output_missing_folder", yard, expect="error", error_has="does not exist", outputs=[o("nowhere/cars.gpkg")],
           extra={"OUTPUT": o("nowhere/cars.gpkg")})
    detect("table_missing_folder", yard, expect="error", error_has="does not exist",
           outputs=[o("table_missing_folder.gpkg"), o("nowhere/counts.csv")], extra={"OUTPUT_TABLE": o("nowhere/counts.csv")})
    detect("output_and_table_same_file", yard, expect="error", error_has="both write", outputs=[o("same.gpkg")],
           extra={"OUTPUT": o("same.gpkg"), "OUTPUT_TABLE": o("same.gpkg")})
    detect("points_and_boxes_same_file", yard, expect="error", error_has="both write", outputs=[o("same2.gpkg")],
           extra={"OUTPUT": o("same2.gpkg"), "OUTPUT_BOXES": o("same2.gpkg")})
    shared = o("layers.gpkg")
    detect("layers_of_one_geopackage", yard, outputs=[shared], check=layers_hold(shared, ["railcars", "railcar_boxes", "counts"]),
           extra={"OUTPUT": f"ogr:dbname='{shared}' table=\"railcars\" (geom)",
                  "OUTPUT_BOXES": f"ogr:dbname='{shared}' table=\"railcar_boxes\" (geom)",
                  "OUTPUT_TABLE": f"ogr:dbname='{shared}' table=\"counts\""})
    detect("output_in_proc", yard, expect="error", error_has="cannot write", outputs=["/proc/cars.gpkg"], extra={"OUTPUT": "/proc/cars.gpkg"})
    os.makedirs(o("a_folder.gpkg"), exist_ok=True)
    detect("output_is_a_folder", yard, expect="error", error_has="is a folder", outputs=[], extra={"OUTPUT": o("a_folder.gpkg")})
    detect("output_shapefile", yard, outputs=[o("cars.shp")], extra={"OUTPUT": o("cars.shp")})
    detect("output_geojson", yard, outputs=[o("cars.geojson")], extra={"OUTPUT": o("cars.geojson")})
    detect("output_csv_table_iso", yard, outputs=[o("output_csv_table_iso.gpkg"), o("counts.csv")],
           extra={"OUTPUT_TABLE": o("counts.csv")}, check=csv_is_plain(o("counts.csv"), {"acquired": "2023-10-05"}))
    with open(o("existing.gpkg"), "wb") as f:
        f.write(b"old")
    detect("output_overwrites_a_file", yard, outputs=[], extra={"OUTPUT": o("existing.gpkg")})
    detect("output_file_in_place_of_folder", yard, expect="error", error_has="not a folder",
           outputs=[], extra={"OUTPUT": o("existing.gpkg/cars.gpkg")})

    # --- F. comparebaseline
    history = os.path.join(ROOT, "demo", "tumangang_history.csv")
    counts_csv = inp.text("current_counts.csv", "scene,acquired,aoi,count\ntumangang_2023-10-05,2023-10-05,,73\n")

    def compare(name, expect="count", error_has="", check=None, summary_has="", outputs=None, **parameters):
        table = o(f"{name}.csv")
        p = {"HISTORY": history, "OUTPUT": table}
        p.update(parameters)
        p = {k: v for k, v in p.items() if v is not None}
        checks = [c for c in (check, summary_says(summary_has) if summary_has else None) if c]
        cases.append(Case(name, "railwatch:comparebaseline", p, expect, None, error_has,
                          outputs if outputs is not None else [table], all_of(checks) if checks else None))

    compare("compare_tumangang", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05",
            summary_has="73 railcars on 2023-10-05: 3.7 times the highest count (20)",
            check=csv_is_plain(o("compare_tumangang.csv"), {"current_date": "2023-10-05", "current_count": "73"}))
    for value in ("abc", "73 cars", "1,200", "1 200", "0x49", "seventy"):
        compare(f"current_count_{value.replace(' ', '_')}", expect="error", error_has="not a number", CURRENT_COUNT=value, CURRENT_DATE="2023-10-05")
    compare("current_count_negative", expect="error", CURRENT_COUNT="-5", CURRENT_DATE="2023-10-05")
    compare("current_count_fraction", expect="error", CURRENT_COUNT="3.5", CURRENT_DATE="2023-10-05")
    compare("current_count_73.0", CURRENT_COUNT="73.0", CURRENT_DATE="2023-10-05", summary_has="73 railcars")
    compare("current_count_3e9", CURRENT_COUNT="3000000000", CURRENT_DATE="2023-10-05",
            check=csv_is_plain(o("current_count_3e9.csv"), {"current_count": "3000000000"}))
    compare("current_from_table", CURRENT=counts_csv, summary_has="73 railcars on 2023-10-05")
    compare("no_current_count", expect="error", error_has="no current count", CURRENT_DATE="2023-10-05")
    compare("current_date_words", expect="error", error_has="CURRENT_DATE", CURRENT_COUNT="73", CURRENT_DATE="yesterday")
    compare("current_date_feb_30", expect="error", error_has="CURRENT_DATE", CURRENT_COUNT="73", CURRENT_DATE="2023-02-30")
    compare("current_date_before_history", expect="error", error_has="no observations", CURRENT_COUNT="73", CURRENT_DATE="2010-01-01")
    compare("years_10000", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05", BASELINE_YEARS="10000", summary_has="73 railcars")
    compare("years_1e300", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05", BASELINE_YEARS="1e300", summary_has="73 railcars")
    compare("years_0", expect="error", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05", BASELINE_YEARS="0")
    compare("years_abc", expect="error", error_has="not a number", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05", BASELINE_YEARS="abc")
    compare("years_1", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05", BASELINE_YEARS="1", summary_has="in 0.8 years of 10 observations")
    compare("history_is_an_image", expect="error", error_has="is an image, not a table", HISTORY=yard, CURRENT_COUNT="73")
    compare("history_missing", expect="error", HISTORY=inp.path("nowhere.csv"), CURRENT_COUNT="73")
    compare("history_header_only", expect="error", HISTORY=inp.text("h_empty.csv", "acquired,count\n"), CURRENT_COUNT="73", CURRENT_DATE="2023-10-05")
    compare("history_bom", HISTORY=inp.text("h_bom.csv", "\ufeffacquired,count\n2020-01-01,5\n2021-01-01,9\n"),
            CURRENT_COUNT="12", CURRENT_DATE="2023-10-05", summary_has="12 railcars")
    compare("history_semicolons", HISTORY=inp.text("h_semi.csv", "acquired;count\n2020-01-01;5\n2021-01-01;9\n"),
            CURRENT_COUNT="12", CURRENT_DATE="2023-10-05", summary_has="12 railcars")
    compare("history_latin1", HISTORY=inp.text("h_latin1.csv", "scene,acquired,count\nTumangang é,2020-01-01,5\nYard à,2021-01-01,9\n", "latin-1"),
            CURRENT_COUNT="12", CURRENT_DATE="2023-10-05", summary_has="12 railcars")
    compare("history_100000_rows", HISTORY=inp.text("h_big.csv", "acquired,count\n" + "".join(
        f"{1900 + i // 400}-{1 + (i // 33) % 12:02d}-{1 + i % 28:02d},{i % 50}\n" for i in range(100_000))),
        CURRENT_COUNT="60", CURRENT_DATE="2023-10-05", summary_has="60 railcars")
    compare("history_text_count", expect="error", error_has="not a number",
            HISTORY=inp.text("h_text.csv", "acquired,count\n2020-01-01,12 cars\n"), CURRENT_COUNT="73", CURRENT_DATE="2023-10-05")
    compare("history_negative_count", expect="error", error_has="negative",
            HISTORY=inp.text("h_neg.csv", "acquired,count\n2020-01-01,-3\n"), CURRENT_COUNT="73", CURRENT_DATE="2023-10-05")
    compare("history_3e9", HISTORY=inp.text("h_3e9.csv", "acquired,count\n2020-01-01,3000000000\n2021-01-01,5\n"),
            CURRENT_COUNT="73", CURRENT_DATE="2023-10-05",
            check=csv_is_plain(o("history_3e9.csv"), {"baseline_max": "3000000000"}))
    compare("history_bad_date", expect="error", error_has="cannot read the date",
            HISTORY=inp.text("h_baddate.csv", "acquired,count\nlast tuesday,5\n"), CURRENT_COUNT="73", CURRENT_DATE="2023-10-05")
    compare("history_wrong_date_field", expect="error", error_has="DATE_FIELD", DATE_FIELD="when", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05")
    compare("history_gaps", HISTORY=inp.text("h_gaps.csv", "acquired,count\n2020-01-01,5\n2021-01-01,\n,7\n2022-01-01,9\n"),
            CURRENT_COUNT="12", CURRENT_DATE="2023-10-05", summary_has="of 2 observations")
    compare("verdict_only_no_table", OUTPUT=None, CURRENT_COUNT="73", CURRENT_DATE="2023-10-05", outputs=[], summary_has="73 railcars")
    compare("html_missing_folder", expect="error", error_has="does not exist", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05",
            OUTPUT_HTML=o("nowhere/report.html"), outputs=[o("html_missing_folder.csv"), o("nowhere/report.html")])
    compare("html_and_table_same_file", expect="error", error_has="both write", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05",
            OUTPUT=o("same.html"), OUTPUT_HTML=o("same.html"), outputs=[o("same.html")])
    compare("html_report", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05", OUTPUT_HTML=o("report.html"),
            outputs=[o("html_report.csv"), o("report.html")], check=file_holds(o("report.html"), "<svg"))
    compare("table_in_proc", expect="error", error_has="cannot write", CURRENT_COUNT="73", CURRENT_DATE="2023-10-05",
            OUTPUT="/proc/baseline.csv", outputs=["/proc/baseline.csv"])
    compare("current_table_two_dates", expect="error", error_has="dates", CURRENT=inp.text(
        "current_two.csv", "scene,acquired,count\na,2023-10-05,73\nb,2023-11-05,60\n"))

    # --- G. counthistory
    folder = inp.path("archive")
    os.makedirs(folder, exist_ok=True)
    shutil.copy(yard, os.path.join(folder, "yard_2023-10-05.tif"))
    shutil.copy(inp.path("all_nodata.tif"), os.path.join(folder, "yard_2022-01-01.tif"))
    shutil.copy(inp.path("constant.tif"), os.path.join(folder, "yard_2021-06-01.tif"))

    def history_case(name, expect="count", error_has="", check=None, **parameters):
        table = o(f"{name}.csv")
        p = {"OUTPUT": table}
        p.update(parameters)
        cases.append(Case(name, "railwatch:counthistory", p, expect, None, error_has, [table], check))

    history_case("history_folder_with_an_empty_image", FOLDER=folder,
                 check=history_rows(o("history_folder_with_an_empty_image.csv"),
                                    {"yard_2021-06-01": (0, 0), "yard_2022-01-01": None, "yard_2023-10-05": around(n)}))
    history_case("history_missing_folder", expect="error", error_has="not a folder", FOLDER=inp.path("no_archive"))
    os.makedirs(inp.path("empty_archive"), exist_ok=True)
    history_case("history_empty_folder", expect="error", error_has="No images to count", FOLDER=inp.path("empty_archive"))
    broken = inp.path("broken_archive")
    os.makedirs(broken, exist_ok=True)
    shutil.copy(inp.path("text.tif"), os.path.join(broken, "x_2020-01-01.tif"))
    history_case("history_folder_with_a_broken_file", expect="error", error_has="not an image GDAL can read", FOLDER=broken)
    history_case("history_aoi_away", FOLDER=folder, AOI=inp.path("aoi_far.gpkg"),
                 check=history_rows(o("history_aoi_away.csv"), {"yard_2021-06-01": None, "yard_2022-01-01": None, "yard_2023-10-05": None}))
    history_case("history_output_missing_folder", expect="error", error_has="does not exist", FOLDER=folder, OUTPUT=o("nowhere/history.csv"))
    history_case("history_gsd_abc", expect="error", error_has="not a number", FOLDER=folder, GSD="abc")

    # --- H. detector model files (MODEL): refused before the run, naming the file and the fix
    from railwatch_plugin.core.model_file import load_model, save_model

    whole = inp.path("model_whole.npz")
    save_model(whole, load_model(None).weights, {"name": "whole"})
    with open(whole, "rb") as f:
        model_bytes = f.read()
    with open(inp.path("model_truncated.npz"), "wb") as f:
        f.write(model_bytes[: len(model_bytes) // 2])
    np.savez(inp.path("model_foreign.npz"), coef=np.zeros((3, 4)), intercept=np.zeros(3))  # another program's .npz
    models = {
        "missing": (inp.path("model_nowhere.npz"), "does not exist"),
        "text": (inp.text("model_text.npz", "weights: see the attached spreadsheet\n"), "no .npz archive"),
        "truncated": (inp.path("model_truncated.npz"), "cut short"),
        "foreign": (inp.path("model_foreign.npz"), "lacks conv0_w"),
    }
    for kind, (model, words) in models.items():
        detect(f"model_{kind}", yard, expect="error", error_has=words,
               extra={"MODEL": model, "OUTPUT_TABLE": o(f"model_{kind}.csv")}, outputs=[o(f"model_{kind}.gpkg"), o(f"model_{kind}.csv")])
        history_case(f"history_model_{kind}", expect="error", error_has=words, INPUTS=yard, MODEL=model)

    # --- I. adaptdetector: bad reviewed layers, images and destinations
    def reviewed_layer(name, with_review=True, cars=None) -> str:
        """A GeoPackage of the yard's cars as the review leaves them (all accepted)."""
        from osgeo import ogr, osr

        path = inp.path(name)
        srs = osr.SpatialReference()
        srs.SetFromUserInput(UTM)
        source = ogr.GetDriverByName("GPKG").CreateDataSource(path)
        layer = source.CreateLayer(os.path.splitext(name)[0], srs, ogr.wkbPoint)
        if with_review:
            layer.CreateField(ogr.FieldDefn("review", ogr.OFTString))
        layer.CreateField(ogr.FieldDefn("length_m", ogr.OFTReal))
        for car in inp.scene.cars if cars is None else cars:
            feature = ogr.Feature(layer.GetLayerDefn())
            if with_review:
                feature.SetField("review", "accepted")
            feature.SetField("length_m", float(car.length_m))
            feature.SetGeometry(ogr.CreateGeometryFromWkt("POINT({} {})".format(*inp.map_xy(car.col_px, car.row_px))))
            layer.CreateFeature(feature)
        source = None
        return path

    def adapt_case(name, error_has="", outputs=None, **parameters):
        model = o(f"{name}.npz")
        p = {"OUTPUT_MODEL": model}
        p.update(parameters)
        cases.append(Case(name, "railwatch:adaptdetector", p, "error", None, error_has,
                          outputs if outputs is not None else [model]))

    reviewed = reviewed_layer("reviewed.gpkg")
    adapt_case("adapt_empty_reviewed_layer", error_has="no car", REVIEWED=reviewed_layer("reviewed_empty.gpkg", cars=[]),
               IMAGES=yard)
    adapt_case("adapt_two_images_one_layer", error_has="give each reviewed layer its image", REVIEWED=reviewed,
               IMAGES=[yard, inp.path("lzw.tif")])
    adapt_case("adapt_two_layers_one_image", error_has="give each reviewed layer its image",
               REVIEWED=[reviewed, reviewed_layer("reviewed_b.gpkg")], IMAGES=yard)
    adapt_case("adapt_no_review_field", error_has="no 'review' field",
               REVIEWED=reviewed_layer("reviewed_no_field.gpkg", with_review=False), IMAGES=yard)
    adapt_case("adapt_output_in_proc", error_has="cannot write", REVIEWED=reviewed, IMAGES=yard,
               OUTPUT_MODEL="/proc/model.npz", outputs=["/proc/model.npz"])
    adapt_case("adapt_output_missing_folder", error_has="does not exist", REVIEWED=reviewed, IMAGES=yard,
               OUTPUT_MODEL=o("nowhere/model.npz"), outputs=[o("nowhere/model.npz")])
    adapt_case("adapt_base_model_text", error_has="BASE_MODEL", REVIEWED=reviewed, IMAGES=yard,
               BASE_MODEL=inp.path("model_text.npz"))
    adapt_case("adapt_image_not_an_image", error_has="IMAGES: ", REVIEWED=[reviewed, reviewed],
               IMAGES=[yard, inp.path("text.tif")])
    adapt_case("adapt_reviewed_is_an_image", error_has="is an image", REVIEWED=yard, IMAGES=yard)
    adapt_case("adapt_reviewed_not_a_layer", error_has="REVIEWED: ", REVIEWED=inp.path("text.tif"), IMAGES=yard)

    # --- J. fine images (memory)
    demo = os.path.join(ROOT, "demo", "tumangang_2023-10-05.tif")
    fine = inp.gdal_copy("demo_0.1m.tif", demo, xRes=0.1, yRes=0.1, resampleAlg="bilinear",
                         creationOptions=["TILED=YES", "COMPRESS=JPEG", "PHOTOMETRIC=YCBCR"])
    detect("demo_at_0.1m", fine, count=around(73, 2))
    finer = inp.gdal_copy("demo_0.05m.tif", demo, xRes=0.05, yRes=0.05, resampleAlg="bilinear",
                          creationOptions=["TILED=YES", "COMPRESS=JPEG", "PHOTOMETRIC=YCBCR", "BIGTIFF=IF_SAFER"])
    detect("demo_at_0.05m", finer, count=around(73, 2), timeout_s=600)
    return cases


# ------------------------------------------------------------------ checks


def osr_wkt(crs: str) -> str:
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.SetFromUserInput(crs)
    return srs.ExportToWkt()


def reproject_wkt(wkt: str, source: str, target: str) -> str:
    from osgeo import ogr, osr

    a, b = osr.SpatialReference(), osr.SpatialReference()
    a.SetFromUserInput(source)
    b.SetFromUserInput(target)
    for srs in (a, b):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geometry = ogr.CreateGeometryFromWkt(wkt)
    geometry.Segmentize(20.0)
    geometry.Transform(osr.CoordinateTransformation(a, b))
    return geometry.ExportToWkt()


def positions_near(inp: Inputs, gpkg: str, metres: float = 2.0, share: float = 0.9):
    def check(_results):
        from osgeo import ogr

        source = ogr.Open(gpkg)
        if source is None:
            return f"cannot open {gpkg}"
        found = [(f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY()) for f in source.GetLayer(0)]
        truth = [inp.map_xy(c.col_px, c.row_px) for c in inp.scene.cars]
        near = sum(1 for tx, ty in truth if any(math.hypot(tx - fx, ty - fy) <= metres for fx, fy in found))
        return None if near >= share * len(truth) else f"only {near} of {len(truth)} true cars have a point within {metres} m"
    return check


def layers_hold(gpkg: str, names):
    def check(results):
        from osgeo import ogr

        source = ogr.Open(gpkg)
        have = {source.GetLayer(i).GetName(): source.GetLayer(i).GetFeatureCount() for i in range(source.GetLayerCount())}
        missing = [n for n in names if n not in have]
        if missing:
            return f"{gpkg} lacks layers {missing} (has {sorted(have)})"
        if have["railcars"] != results.get("COUNT"):
            return f"railcars holds {have['railcars']} points for COUNT {results.get('COUNT')}"
        return None
    return check


def csv_is_plain(path: str, expected: dict):
    def check(_results):
        with open(path, newline="", encoding="utf-8") as f:
            text = f.read()
        row = next(csv.DictReader(text.splitlines()))
        wrong = {k: row.get(k) for k, v in expected.items() if row.get(k) != v}
        if wrong:
            return f"{os.path.basename(path)}: {wrong}, expected {expected}"
        for key, value in expected.items():
            if f'"{value}"' in text:
                return f"{os.path.basename(path)} quotes {value}"
        return None
    return check


def file_holds(path: str, words: str):
    def check(_results):
        return None if os.path.exists(path) and words in open(path, encoding="utf-8").read() else f"{path} lacks {words!r}"
    return check


def summary_says(words: str):
    def check(results):
        summary = str(results.get("SUMMARY", ""))
        return None if words in summary else f"SUMMARY {summary!r} lacks {words!r}"
    return check


def history_rows(path: str, expected: dict):
    """Each scene's count: a (lo, hi) range, or None for an empty count."""
    def check(_results):
        with open(path, newline="", encoding="utf-8") as f:
            rows = {r["scene"]: r["count"] for r in csv.DictReader(f)}
        for scene, want in expected.items():
            if scene not in rows:
                return f"no row for {scene}"
            got = rows[scene]
            if want is None and got != "":
                return f"{scene}: count {got!r}, expected empty (nothing to count)"
            if want is not None and not (got != "" and want[0] <= float(got) <= want[1]):
                return f"{scene}: count {got!r}, expected {want}"
        return None
    return check


def all_of(checks):
    def check(results):
        for c in checks:
            problem = c(results)
            if problem:
                return problem
        return None
    return check


# ------------------------------------------------------------------ running


def command_line(case: Case) -> List[str]:
    """qgis_process's arguments; a list value is given as the parameter repeated, as qgis_process takes several layers."""
    arguments = []
    for key, value in case.parameters.items():
        arguments += [f"{key}={v}" for v in value] if isinstance(value, (list, tuple)) else [f"{key}={value}"]
    return [QGIS_PROCESS, "--json", "run", case.algorithm, "--"] + arguments


def classify(case: Case, code: int, out: str, err: str, seconds: float, peak: float, before: set) -> Outcome:
    messages = [line for line in err.splitlines() if line.strip() and not line.startswith(("QStandardPaths", "<string>:"))]
    text = out + "\n" + err
    results, count = {}, None
    if code == 0:
        try:
            results = json.loads(out[out.index("{"):])["results"]
            count = results.get("COUNT")
        except (ValueError, KeyError):
            return Outcome(case, WRONG, "exit 0 but no results", seconds, peak, None, messages)
    # the message: qgis_process's "ERROR:" line, or (in --json mode) the last line of
    # the log that is not GDAL's own ("ERROR 1: ...", "Warning 1: ...")
    ours = [m for m in messages if not m.startswith(("ERROR 1:", "ERROR 4:", "Warning 1:"))]
    error = next((m.split("\t", 1)[-1] for m in ours if m.startswith("ERROR")), ours[-1] if ours else "")
    if error.startswith("An error was encountered while checking parameter values"):
        index = messages.index(next(m for m in messages if m.startswith("ERROR")))
        error = " ".join(m.strip() for m in messages[index:index + 3])

    def outcome(verdict, detail):
        return Outcome(case, verdict, detail, seconds, peak, count, messages)

    if peak > TARGET_PEAK_RSS_MB:
        return outcome(OVER, f"{peak:.0f} MB")
    if "Traceback (most recent call last)" in text:
        return outcome(TRACEBACK, next((m for m in reversed(messages) if "Error" in m), "traceback"))
    if "Unable to load mesh" in err:  # QGIS tried a file as every kind of layer before RailWatch said what is wrong
        return outcome(MESH, f"stderr holds QGIS's \"Unable to load mesh\" before: {error[:150]}")
    if code != 0:
        left = [p for p in case.outputs if os.path.exists(p) and p not in before]
        if left:
            return outcome(HALF, f"left {left}: {error[:150]}")
        if not error:
            return outcome(WRONG, f"exit {code} without a message")
        if case.expect == "count":
            return outcome(REFUSED, error[:200])
        if case.error_has and case.error_has not in error:
            return outcome(CLEAR, f"(message lacks {case.error_has!r}) {error[:200]}")
        return outcome(CLEAR, error[:200])
    if case.expect == "error":
        return outcome(WRONG, f"counted {count} where a refusal was due")
    if case.count is not None and count is not None and not case.count[0] <= count <= case.count[1]:
        return outcome(WRONG, f"count {count}, expected {case.count[0]:g}-{case.count[1]:g}")
    if case.check is not None:
        problem = case.check(results)
        if problem:
            return outcome(WRONG, problem)
    return outcome(OK, f"count {count}" if count is not None else str(results.get("SUMMARY", ""))[:120])


class Runner:
    """Runs cases, at most ``len(launchers)`` at a time, each slot with its own
    QGIS profile and launcher (made before this process grows: bench/memory.py)."""

    def __init__(self, work: str, launchers: List[Launcher]):
        self.work = work
        self.launchers = launchers
        self.envs = [qgis_process_env(os.path.join(work, f"qgis{i}")) for i in range(len(launchers))]
        self.free = list(range(len(launchers)))
        self.lock = threading.Lock()

    def run(self, case: Case) -> Outcome:
        with self.lock:
            slot = self.free.pop()
        try:
            before = {p for p in case.outputs if os.path.exists(p)}
            code, out, err, seconds, peak = self.launchers[slot].run(command_line(case), self.envs[slot], case.timeout_s)
            return classify(case, code, out, err, seconds, peak, before)
        finally:
            with self.lock:
                self.free.append(slot)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="run only the cases whose name holds this text")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("--workers", type=int, default=2, help="runs at a time (default 2, at most 2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (inputs and outputs)")
    a = parser.parse_args()
    launchers = [Launcher() for _ in range(max(1, min(2, a.workers)))]
    work = tempfile.mkdtemp(prefix="railwatch-fuzz-")
    inputs_dir, outputs_dir = os.path.join(work, "inputs"), os.path.join(work, "outputs")
    os.makedirs(inputs_dir)
    os.makedirs(outputs_dir)
    try:
        t0 = time.perf_counter()
        cases = [c for c in build_cases(Inputs(inputs_dir), outputs_dir) if a.k in c.name]
        names = [c.name for c in cases]
        assert len(names) == len(set(names)), "case names must be unique"
        print(f"{len(cases)} cases, inputs made in {time.perf_counter() - t0:.0f} s ({work})", flush=True)
        if a.list:
            for c in cases:
                print(f"  {c.name}: {c.algorithm} {c.expect}")
            return
        runner = Runner(work, launchers)
        t0 = time.perf_counter()
        outcomes = []
        with ThreadPoolExecutor(max_workers=len(runner.envs)) as pool:
            for outcome in pool.map(runner.run, cases):
                outcomes.append(outcome)
                mark = "  " if outcome.verdict in (OK, CLEAR) else "!!"
                print(f"{mark} {outcome.case.name:<36} {outcome.verdict:<26} {outcome.seconds:5.1f} s "
                      f"{outcome.peak_mb:5.0f} MB  {outcome.detail}", flush=True)
        summarise(outcomes, time.perf_counter() - t0)
    finally:
        for launcher in launchers:
            launcher.close()
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def summarise(outcomes: List[Outcome], seconds: float) -> None:
    print()
    print(f"{len(outcomes)} runs in {seconds / 60:.1f} min; highest peak RSS "
          f"{max((o.peak_mb for o in outcomes), default=0):.0f} MB")
    for verdict in (OK, CLEAR) + FAILURES:
        print(f"  {verdict:<26} {sum(1 for o in outcomes if o.verdict == verdict)}")
    unclear = [o for o in outcomes if o.verdict == CLEAR and o.detail.startswith("(message lacks")]
    if unclear:
        print(f"  (of the clear errors, {len(unclear)} lack the words the case looks for: "
              + ", ".join(o.case.name for o in unclear) + ")")
    failed = [o for o in outcomes if o.verdict in FAILURES]
    if failed:
        print("\nTo look at:")
        for o in failed:
            print(f"  {o.case.name}: {o.verdict}: {o.detail}")


if __name__ == "__main__":
    main()
