"""Issue 15: never a silent wrong count. Bad or unusual input gives a correct
result or an error that names the problem and the fix; a failed run leaves no
new file; outputs hold any count and read as dates and numbers."""

from __future__ import annotations

import csv
import datetime as dt
import os

import pytest
from qgis.core import QgsFeature, QgsField, QgsProcessingException, QgsVectorLayer
from qgis.PyQt.QtCore import QDate, QVariant

from conftest import FRESH_QGIS_WITH_THE_PLUGIN, REPO


def history_table(counts, first=dt.date(2019, 1, 1)):
    layer = QgsVectorLayer("None", "history", "memory")
    layer.dataProvider().addAttributes([QgsField("acquired", QVariant.Date), QgsField("count", QVariant.LongLong)])
    layer.updateFields()
    features = []
    for i, count in enumerate(counts):
        feature = QgsFeature(layer.fields())
        day = first + dt.timedelta(days=60 * i)
        feature.setAttributes([QDate(day.year, day.month, day.day), count])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def error_of(run, algorithm, parameters) -> str:
    with pytest.raises(QgsProcessingException) as raised:
        run(algorithm, parameters)
    return str(raised.value)


def files_in(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# --- 1. numbers QGIS cannot read are refused, not read as "not set" ------------------------------


@pytest.mark.parametrize("text", ["abc", "73 cars", "1,200"])
def test_unreadable_current_count_is_refused(text, run_railwatch):
    message = error_of(run_railwatch, "comparebaseline", {
        "HISTORY": history_table([5, 8, 20]), "CURRENT_COUNT": text, "CURRENT_DATE": "2023-10-05", "OUTPUT": "memory:",
    })
    assert f"CURRENT_COUNT is '{text}', which is not a number" in message
    assert "no thousands separators" in message


def test_unreadable_gsd_is_refused(run_railwatch, easy_yard_tif):
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(easy_yard_tif), "GSD": "abc", "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "GSD is 'abc', which is not a number" in message


def test_bands_as_text_are_read_as_band_numbers(run_railwatch, easy_yard_tif):
    """qgis_process passes BANDS=3,2,1 as text, which QGIS read as band 0."""
    as_text = run_railwatch("detectrailcars", {"INPUT": str(easy_yard_tif), "BANDS": "1,2,3", "OUTPUT": "TEMPORARY_OUTPUT"})
    as_list = run_railwatch("detectrailcars", {"INPUT": str(easy_yard_tif), "BANDS": [1, 2, 3], "OUTPUT": "TEMPORARY_OUTPUT"})
    assert as_text["COUNT"] == as_list["COUNT"] > 0
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(easy_yard_tif), "BANDS": "red", "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "BANDS is 'red', which is not a list of band numbers" in message


# --- 6. counts beyond 32 bits -------------------------------------------------------------------


def test_a_count_of_three_billion_is_kept(run_railwatch, tmp_path):
    out = tmp_path / "baseline.gpkg"
    result = run_railwatch("comparebaseline", {
        "HISTORY": history_table([5, 3_000_000_000, 20]), "CURRENT_COUNT": 4_000_000_000, "CURRENT_DATE": "2023-10-05",
        "OUTPUT": str(out),
    })
    row = next(QgsVectorLayer(str(out), "b", "ogr").getFeatures())
    assert row["baseline_max"] == 3_000_000_000
    assert row["current_count"] == 4_000_000_000
    assert result["BASELINE_MAX"] == 3_000_000_000


# --- 7. every destination checked before anything is written ------------------------------------


def test_table_in_a_missing_folder_stops_before_the_points_are_written(run_railwatch, easy_yard_tif, tmp_path):
    message = error_of(run_railwatch, "detectrailcars", {
        "INPUT": str(easy_yard_tif), "OUTPUT": str(tmp_path / "cars.gpkg"), "OUTPUT_TABLE": str(tmp_path / "missing" / "counts.csv"),
    })
    assert f"OUTPUT_TABLE ({tmp_path / 'missing' / 'counts.csv'}): the folder {tmp_path / 'missing'} does not exist" in message
    assert "Create the folder or choose another one" in message
    assert files_in(tmp_path) == []


def test_count_history_into_a_missing_folder_is_refused_before_counting(run_railwatch, easy_yard_tif, tmp_path):
    message = error_of(run_railwatch, "counthistory", {"INPUTS": [str(easy_yard_tif)], "OUTPUT": str(tmp_path / "no" / "history.csv")})
    assert "OUTPUT" in message and "does not exist" in message


def test_two_outputs_in_one_file_are_refused(run_railwatch, easy_yard_tif, tmp_path):
    same = str(tmp_path / "cars.gpkg")
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(easy_yard_tif), "OUTPUT": same, "OUTPUT_TABLE": same})
    assert f"OUTPUT and OUTPUT_TABLE both write {same}: the second would overwrite the first" in message
    assert files_in(tmp_path) == []


def test_two_layers_of_one_geopackage_are_fine(run_railwatch, easy_yard_tif, tmp_path):
    gpkg = tmp_path / "cars.gpkg"
    result = run_railwatch("detectrailcars", {
        "INPUT": str(easy_yard_tif),
        "OUTPUT": f"ogr:dbname='{gpkg}' table=\"railcars\" (geom)",
        "OUTPUT_TABLE": f"ogr:dbname='{gpkg}' table=\"counts\"",
    })
    points = QgsVectorLayer(f"{gpkg}|layername=railcars", "p", "ogr")
    table = QgsVectorLayer(f"{gpkg}|layername=counts", "t", "ogr")
    assert points.featureCount() == result["COUNT"] > 0
    assert next(table.getFeatures())["count"] == result["COUNT"]


def test_report_in_a_missing_folder_is_a_clear_error_and_leaves_no_table(run_railwatch, tmp_path):
    message = error_of(run_railwatch, "comparebaseline", {
        "HISTORY": history_table([5, 8, 20]), "CURRENT_COUNT": 73, "CURRENT_DATE": "2023-10-05",
        "OUTPUT": str(tmp_path / "baseline.csv"), "OUTPUT_HTML": str(tmp_path / "nowhere" / "report.html"),
    })
    assert "OUTPUT_HTML" in message and "does not exist" in message
    assert files_in(tmp_path) == []


def test_a_folder_nobody_can_write_is_named(run_railwatch, easy_yard_tif):
    # /proc takes no new files, even from root (file permissions would not stop root)
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(easy_yard_tif), "OUTPUT": "/proc/railcars.gpkg"})
    assert "OUTPUT (/proc/railcars.gpkg): cannot write in the folder /proc" in message
    assert "unable to open database file" not in message


def test_a_failed_run_removes_the_files_it_created(railwatch_plugin, tmp_path):
    """Whatever fails after a GeoPackage was opened for writing, the file and
    its SQLite side files go (an existing file is left alone)."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransformContext, QgsFields, QgsVectorFileWriter, QgsWkbTypes

    from railwatch_plugin.algorithms.destinations import Destination, removing_new_files_on_failure

    kept = tmp_path / "kept.csv"
    kept.write_text("a\n1\n")
    new = tmp_path / "cars.gpkg"

    def work():
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        fields = QgsFields()
        fields.append(QgsField("count", QVariant.LongLong))
        sink = QgsVectorFileWriter.create(str(new), fields, QgsWkbTypes.Point, QgsCoordinateReferenceSystem("EPSG:32652"),
                                          QgsCoordinateTransformContext(), options)
        assert new.exists() and sink is not None
        raise QgsProcessingException("the image cannot be read")

    with pytest.raises(QgsProcessingException):
        removing_new_files_on_failure([Destination("OUTPUT", str(new), None), Destination("OUTPUT_TABLE", str(kept), None)], work)
    assert files_in(tmp_path) == ["kept.csv"]


# --- 8. clear messages --------------------------------------------------------------------------


def test_a_very_long_baseline_window_uses_every_earlier_count(run_railwatch):
    result = run_railwatch("comparebaseline", {
        "HISTORY": history_table([5, 8, 20]), "CURRENT_COUNT": 73, "CURRENT_DATE": "2023-10-05", "BASELINE_YEARS": 10000,
    })
    assert result["BASELINE_N"] == 3 and result["BASELINE_MAX"] == 20


def test_an_image_given_as_history_is_named(run_railwatch, easy_yard_tif):
    message = error_of(run_railwatch, "comparebaseline", {"HISTORY": str(easy_yard_tif), "CURRENT_COUNT": 73})
    assert f"HISTORY: {easy_yard_tif} is an image, not a table" in message
    assert "not found" not in message


def test_a_folder_given_as_the_image_is_named_without_qgis_probing_it(run_railwatch, tmp_path, capfd):
    """It was "opens in GDAL but QGIS cannot load it as a raster layer", after QGIS
    had tried the folder as every kind of layer ("Unable to load mesh (null)")."""
    capfd.readouterr()
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(tmp_path), "OUTPUT": "TEMPORARY_OUTPUT"})
    assert f"INPUT: {tmp_path} is a folder, not an image: choose an image file in it" in message
    assert "Unable to load mesh" not in capfd.readouterr().err


# --- 11. tables spreadsheets read; the verdict alone ----------------------------------------------


def test_count_and_baseline_csv_hold_iso_dates_and_plain_numbers(run_railwatch, easy_yard_tif, tmp_path):
    counts = tmp_path / "counts.csv"
    baseline = tmp_path / "baseline.csv"
    detected = run_railwatch("detectrailcars", {"INPUT": str(easy_yard_tif), "OUTPUT": "TEMPORARY_OUTPUT", "OUTPUT_TABLE": str(counts)})
    run_railwatch("comparebaseline", {"HISTORY": history_table([5, 8, 20]), "CURRENT": str(counts), "OUTPUT": str(baseline)})
    count_text = counts.read_text()
    row = next(csv.DictReader(count_text.splitlines()))
    assert row["acquired"] == "2023-10-05"
    assert f",{detected['COUNT']}," in count_text and '"' not in count_text
    baseline_text = baseline.read_text()
    figures = next(csv.DictReader(baseline_text.splitlines()))
    assert figures["current_date"] == "2023-10-05" and figures["first_date"] == "2019-01-01"
    assert figures["current_count"] == str(detected["COUNT"]) and figures["baseline_n"] == "3"
    assert f"2023-10-05,{detected['COUNT']},3,20," in baseline_text


def test_the_verdict_alone_needs_no_table(run_railwatch):
    result = run_railwatch("comparebaseline", {"HISTORY": history_table([5, 8, 20]), "CURRENT_COUNT": 73, "CURRENT_DATE": "2023-10-05"})
    assert "OUTPUT" not in result
    assert result["SUMMARY"].startswith("73 railcars on 2023-10-05: 3.7 times the highest count (20)")


# --- 2-4. rasters GDAL reads in unusual ways -----------------------------------------------------

UTM_GT = (500000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5)  # write_geotiff's default placement


def near_truth(result, scene, geotransform=UTM_GT, metres=2.0) -> float:
    """Share of the true cars with a found point within ``metres``."""
    import numpy as np

    from railwatch_plugin.algorithms.ground_resolution import pixel_to_map

    found = np.array([(f.geometry().asPoint().x(), f.geometry().asPoint().y()) for f in result["OUTPUT"].getFeatures()]).reshape(-1, 2)
    truth = np.array([pixel_to_map(geotransform, c.col_px, c.row_px) for c in scene.cars])
    if len(found) == 0:
        return 0.0
    distance = np.sqrt(((truth[:, None, :] - found[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    return float(np.mean(distance <= metres))


def detect(run, path, **extra):
    return run("detectrailcars", dict({"INPUT": str(path), "OUTPUT": "TEMPORARY_OUTPUT"}, **extra))


def test_a_raster_placed_by_ground_control_points_is_warped_as_qgis_shows_it(run_railwatch, easy_yard, easy_yard_tif, tmp_path):
    from osgeo import gdal

    source = gdal.Open(str(easy_yard_tif))
    cols, rows = source.RasterXSize, source.RasterYSize
    gcps = [gdal.GCP(UTM_GT[0] + c * 0.5, UTM_GT[3] - r * 0.5, 0, c, r) for c in (0, cols) for r in (0, rows)]
    path = tmp_path / "gcps.tif"
    gdal.Translate(str(path), source, GCPs=gcps, outputSRS="EPSG:32652")
    assert gdal.Open(str(path)).GetGeoTransform(can_return_null=True) is None
    result = detect(run_railwatch, path)
    assert result["OUTPUT"].crs().authid() == "EPSG:32652"
    assert near_truth(result, easy_yard) >= 0.9
    assert abs(result["COUNT"] - len(easy_yard.cars)) <= 4


def float_yard(easy_yard, path, poison):
    """The easy yard as Float32 (no nodata declared), with ``poison`` written into it."""
    import numpy as np

    from railwatch_synth import write_geotiff

    image = easy_yard.image.astype(np.float32)
    for (row, col, band), value in poison.items():
        image[row, col, band] = value
    return write_geotiff(image, str(path), gsd_m=0.5, compress="DEFLATE")


def test_nan_infinite_and_huge_pixels_leave_the_count_alone(run_railwatch, easy_yard, tmp_path):
    clean = detect(run_railwatch, float_yard(easy_yard, tmp_path / "clean.tif", {}))["COUNT"]
    poison = {(300, 400, 0): float("nan"), (100, 100, 1): float("inf"), (500, 700, 2): float("-inf"), (50, 600, 0): float("nan"),
              (200, 200, 1): 3.0e38}  # finite, but 255 times it is not in float32
    result = detect(run_railwatch, float_yard(easy_yard, tmp_path / "nan.tif", poison))
    assert abs(clean - len(easy_yard.cars)) <= 4
    assert abs(result["COUNT"] - clean) <= 1
    assert near_truth(result, easy_yard) >= 0.9


def test_a_damaged_jpeg_tile_stops_the_run_naming_the_damage(run_railwatch, easy_yard, tmp_path):
    from osgeo import gdal

    from railwatch_synth import write_geotiff

    path = write_geotiff(easy_yard, str(tmp_path / "jpeg.tif"), compress="JPEG")
    dataset = gdal.Open(path)  # kept: a band outlives no dataset
    band = dataset.GetRasterBand(1)
    offset, size = (int(band.GetMetadataItem(f"BLOCK_{what}_1_1", "TIFF")) for what in ("OFFSET", "SIZE"))
    dataset = band = None
    data = bytearray(open(path, "rb").read())
    data[offset + size // 3 : offset + size // 3 + 200] = bytes(200)  # a run of zeros in the middle of one tile
    damaged = tmp_path / "damaged.tif"
    damaged.write_bytes(bytes(data))
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(damaged), "OUTPUT": str(tmp_path / "cars.gpkg")})
    assert f"{damaged} is damaged: reading its pixels" in message
    assert "Corrupt JPEG data" in message and "Download or export the image again" in message
    assert not (tmp_path / "cars.gpkg").exists()


def test_a_paletted_geotiff_is_read_in_its_colours(run_railwatch, easy_yard, easy_yard_tif, tmp_path):
    from osgeo import gdal

    source = gdal.Open(str(easy_yard_tif))
    colours = gdal.ColorTable()
    red, green, blue = (source.GetRasterBand(b) for b in (1, 2, 3))
    gdal.ComputeMedianCutPCT(red, green, blue, 256, colours)
    path = tmp_path / "paletted.tif"
    paletted = gdal.GetDriverByName("GTiff").Create(str(path), source.RasterXSize, source.RasterYSize, 1, gdal.GDT_Byte)
    paletted.SetGeoTransform(source.GetGeoTransform())
    paletted.SetProjection(source.GetProjection())
    gdal.DitherRGB2PCT(red, green, blue, paletted.GetRasterBand(1), colours)
    paletted.GetRasterBand(1).SetColorTable(colours)
    paletted = None
    result = detect(run_railwatch, path)
    assert abs(result["COUNT"] - len(easy_yard.cars)) <= 4
    assert near_truth(result, easy_yard) >= 0.9


# --- 5. a count of 0 says why, or is no count -----------------------------------------------------


def polygon_layer(rings, geometry="Polygon", crs="EPSG:32652"):
    from qgis.core import QgsGeometry, QgsPointXY

    layer = QgsVectorLayer(f"{geometry}?crs={crs}", geometry.lower(), "memory")
    features = []
    for ring in rings:
        feature = QgsFeature()
        points = [QgsPointXY(x, y) for x, y in ring]
        if geometry == "Polygon":
            feature.setGeometry(QgsGeometry.fromPolygonXY([points + points[:1]]))
        elif geometry == "Point":
            feature.setGeometry(QgsGeometry.fromPointXY(points[0]))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def box_around(x, y, half):
    return [(x - half, y - half), (x + half, y - half), (x + half, y + half), (x - half, y + half)]


def test_an_image_without_valid_pixels_is_no_count(run_railwatch, easy_yard, tmp_path):
    import numpy as np

    from railwatch_synth import write_geotiff

    path = write_geotiff(np.zeros_like(easy_yard.image), str(tmp_path / "empty_2022-01-01.tif"), gsd_m=0.5, nodata=0)
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": path, "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "empty_2022-01-01: no count: the image has no valid pixel" in message
    history = run_railwatch("counthistory", {"INPUTS": [path], "OUTPUT": "TEMPORARY_OUTPUT"})
    assert [row["count"] for row in history["OUTPUT"].getFeatures()] == [None]


@pytest.mark.parametrize("case", ["100 km away", "empty layer"])
def test_an_aoi_that_cannot_apply_is_no_count(case, run_railwatch, easy_yard_tif):
    rings = [box_around(600000.0, 4700000.0, 500.0)] if case == "100 km away" else []
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(easy_yard_tif), "AOI": polygon_layer(rings), "OUTPUT": "TEMPORARY_OUTPUT"})
    if case == "100 km away":
        assert "no AOI polygon overlaps the image (the nearest is 99," in message and "check the AOI layer's CRS" in message
    else:
        assert "the AOI layer has no polygon" in message


def test_points_as_aoi_and_polygons_as_tracks_are_named(run_railwatch, easy_yard_tif):
    points = polygon_layer([[(500100.0, 4699900.0)]], geometry="Point")
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(easy_yard_tif), "AOI": points, "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "AOI holds point geometries" in message and "give polygons" in message
    polygons = polygon_layer([box_around(500200.0, 4699850.0, 100.0)])
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(easy_yard_tif), "TRACKS": polygons, "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "TRACKS holds polygon geometries" in message and "Polygons to lines" in message


# --- 8. messages that blame the right thing; GSD for a raster with no CRS ----------------------


def test_a_too_short_minimum_length_blames_the_parameter_not_the_image(run_railwatch, easy_yard_tif):
    message = error_of(run_railwatch, "detectrailcars", {"INPUT": str(easy_yard_tif), "MIN_LENGTH_M": 1.0, "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "MIN_LENGTH_M 1 m is 2.0 px; set it to 5.1 m or more" in message  # 10 px of 0.5002 m (UTM scale)
    assert "too coarse" not in message


@pytest.mark.parametrize("placed", [True, False])
def test_gsd_counts_a_raster_with_no_crs_in_its_own_coordinates(placed, run_railwatch, easy_yard, tmp_path, info_feedback):
    from osgeo import gdal

    rows, cols, bands = easy_yard.image.shape
    path = tmp_path / "nocrs.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, bands, gdal.GDT_Byte)
    own = (1000.0, 0.5, 0.0, 2000.0, 0.0, -0.5) if placed else (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    if placed:
        dataset.SetGeoTransform(own)
    for b in range(bands):
        dataset.GetRasterBand(b + 1).WriteArray(easy_yard.image[:, :, b])
    dataset = None
    out = tmp_path / "cars.gpkg"
    result = run_railwatch("detectrailcars", {"INPUT": str(path), "GSD": 0.5, "OUTPUT": str(out)}, feedback=info_feedback)
    result["OUTPUT"] = QgsVectorLayer(str(out), "cars", "ogr")
    crs = result["OUTPUT"].crs()  # labelled as no CRS (GeoPackage: its "Undefined" SRS), not as a real one
    assert crs.authid() == "" and (not crs.isValid() or crs.description().startswith("Undefined"))
    assert abs(result["COUNT"] - len(easy_yard.cars)) <= 4
    assert near_truth(result, easy_yard, own, metres=2.0 if placed else 4.0) >= 0.9
    assert any("the railcars are written in its own coordinates, with no CRS" in m for m in info_feedback.messages)


# --- 9. memory bounded whatever the pixel size --------------------------------------------------


def test_a_fine_image_is_read_averaged_down_and_its_cars_stay_in_place(run_railwatch, easy_yard, easy_yard_tif, tmp_path, info_feedback):
    from osgeo import gdal

    fine = tmp_path / "fine_10cm.tif"
    gdal.Translate(str(fine), str(easy_yard_tif), width=4000, height=3000, resampleAlg="bilinear", creationOptions=["TILED=YES"])
    result = run_railwatch("detectrailcars", {"INPUT": str(fine), "OUTPUT": "TEMPORARY_OUTPUT"}, feedback=info_feedback)
    assert any("fine_10cm: read at 0.500 x 0.500 m per pixel (800 x 600 px)" in m for m in info_feedback.messages), info_feedback.messages
    assert abs(result["COUNT"] - len(easy_yard.cars)) <= 4
    assert near_truth(result, easy_yard) >= 0.9


MEMORY_SCRIPT = FRESH_QGIS_WITH_THE_PLUGIN + r"""
import resource
result = processing.run("railwatch:detectrailcars", {{"INPUT": {path!r}, "GSD": 0.005, "OUTPUT": "TEMPORARY_OUTPUT"}})
print("COUNT", result["COUNT"])
print("PEAK_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def test_gsd_far_finer_than_the_image_reads_a_bounded_amount(tmp_path):
    """30,000 x 30,000 px told 0.005 m: one tile used to be the whole raster
    (2.7 GB of bytes, then floats). Read 100 pixels to one, the run stays far
    under 1 GB."""
    import subprocess
    import sys

    from osgeo import gdal, osr

    path = str(tmp_path / "sparse.tif")
    dataset = gdal.GetDriverByName("GTiff").Create(path, 30000, 30000, 3, gdal.GDT_Byte, ["TILED=YES", "SPARSE_OK=TRUE", "COMPRESS=DEFLATE"])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32652)
    dataset.SetProjection(srs.ExportToWkt())
    dataset.SetGeoTransform((500000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5))
    dataset = None
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT.format(repo=REPO, path=path)], capture_output=True, text=True, timeout=300)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("COUNT", "PEAK_MB")))
    assert "COUNT" in lines, done.stdout[-2000:] + done.stderr[-2000:]
    assert float(lines["PEAK_MB"]) < 1024
