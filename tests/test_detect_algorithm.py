"""railwatch:detectrailcars through processing.run, on synthetic yards written
as GeoTIFFs: counts and positions against the truth they were drawn from, the
same answer in any CRS, nodata, AOI and TRACKS, and clear errors for bad input.

The easy yard (conftest) is 800 x 600 px at 0.5 m with 40 cars on 4 tracks.
"""

from __future__ import annotations

import dataclasses
import datetime
import math

import numpy as np
import pytest
from qgis.core import (
    NULL,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsProject,
    QgsVectorLayer,
)

from railwatch_plugin.algorithms.ground_resolution import metres_per_degree, pixel_to_map


UTM = "EPSG:32652"
UTM_GT = (500000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5)  # write_geotiff's default placement
US_SURVEY_FOOT_M = 1200.0 / 3937.0
COLS, ROWS = 800, 600


def count_tolerance(n_true: int) -> int:
    return max(2, int(math.ceil(0.1 * n_true)))


def detect(run, path, **extra):
    parameters = {"INPUT": str(path), "OUTPUT": "TEMPORARY_OUTPUT"}
    parameters.update(extra)
    return run("detectrailcars", parameters)


def point_xy(layer):
    return np.array([(f.geometry().asPoint().x(), f.geometry().asPoint().y()) for f in layer.getFeatures()]).reshape(-1, 2)


def true_xy(scene, geotransform=UTM_GT):
    return np.array([pixel_to_map(geotransform, c.col_px, c.row_px) for c in scene.cars]).reshape(-1, 2)


def share_within(a: np.ndarray, b: np.ndarray, metres: float) -> float:
    """Share of the points of ``a`` that have a point of ``b`` within ``metres``."""
    if len(a) == 0:
        return 1.0
    if len(b) == 0:
        return 0.0
    distance = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    return float(np.mean(distance <= metres))


def memory_layer(kind: str, crs: str, fields: str = ""):
    layer = QgsVectorLayer(f"{kind}?crs={crs}{fields}", kind.lower(), "memory")
    assert layer.isValid()
    return layer


def add_features(layer, geometries, attributes=None):
    features = []
    for i, geometry in enumerate(geometries):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(geometry)
        if attributes:
            feature.setAttributes(attributes[i])
        features.append(feature)
    assert layer.dataProvider().addFeatures(features)[0]
    return layer


def utm_to(crs: str):
    return QgsCoordinateTransform(QgsCoordinateReferenceSystem(UTM), QgsCoordinateReferenceSystem(crs), QgsProject.instance())


# --- what comes out on an easy scene ------------------------------------------------------------


@pytest.fixture(scope="module")
def easy_result(run_railwatch, easy_yard_tif):
    return detect(run_railwatch, easy_yard_tif, OUTPUT_BOXES="TEMPORARY_OUTPUT", OUTPUT_TABLE="TEMPORARY_OUTPUT",
                  OUTPUT_CANDIDATES="TEMPORARY_OUTPUT")


def test_easy_scene_count_matches_the_truth(easy_result, easy_yard):
    n_true = len(easy_yard.cars)
    assert abs(easy_result["COUNT"] - n_true) <= count_tolerance(n_true)
    assert easy_result["OUTPUT"].featureCount() == easy_result["COUNT"]


def test_easy_scene_points_lie_within_2m_of_true_centres(easy_result, easy_yard):
    found = point_xy(easy_result["OUTPUT"])
    truth = true_xy(easy_yard)
    assert share_within(truth, found, 2.0) >= 0.9  # cars found
    assert share_within(found, truth, 2.0) >= 0.9  # points that are cars


def test_output_fields_crs_and_values(easy_result, easy_yard_tif):
    points = easy_result["OUTPUT"]
    assert points.crs().authid() == UTM
    assert points.fields().names() == [
        "confidence", "length_m", "width_m", "heading_deg", "kind", "method", "string_id", "scene", "acquired", "model",
        "review", "reviewed_at",
    ]
    features = list(points.getFeatures())
    assert features, "the easy scene must give at least one car to check fields on"
    for feature in features:
        assert 0.5 <= feature["confidence"] <= 1.0
        assert feature["review"] == "unreviewed" and feature["reviewed_at"] == NULL
        assert 10.0 <= feature["length_m"] <= 30.0
        assert 2.4 <= feature["width_m"] <= 3.6
        assert 0.0 <= feature["heading_deg"] <= 180.0
        assert feature["kind"] in ("box", "tank", "hopper/gondola", "flat/container", "covered", "unknown")
        assert feature["scene"] == "yard_utm"
        assert feature["acquired"].toPyDate() == datetime.date(2023, 10, 5)


def test_boxes_hold_their_points_and_table_sums_up(easy_result):
    boxes = list(easy_result["OUTPUT_BOXES"].getFeatures())
    points = list(easy_result["OUTPUT"].getFeatures())
    assert len(boxes) == len(points) == easy_result["COUNT"]
    assert easy_result["OUTPUT_BOXES"].fields().names() == easy_result["OUTPUT"].fields().names()
    for box, point in zip(boxes, points):
        assert box.geometry().contains(point.geometry())
        assert box.geometry().area() == pytest.approx(box["length_m"] * box["width_m"], rel=0.1)
    rows = list(easy_result["OUTPUT_TABLE"].getFeatures())
    assert len(rows) == 1
    row = rows[0]
    assert row["count"] == easy_result["COUNT"]
    assert row["scene"] == "yard_utm"
    assert row["acquired"].toPyDate() == datetime.date(2023, 10, 5)
    assert row["aoi"] == NULL  # one row for the whole image
    kinds = [n for n in easy_result["OUTPUT_TABLE"].fields().names() if n.startswith("n_")]
    assert kinds == ["n_box", "n_tank", "n_hopper_gondola", "n_flat_container", "n_covered", "n_unknown"]
    assert sum(row[n] for n in kinds) == row["count"]
    assert row["reviewed_count"] == NULL  # no review yet


def test_candidates_below_the_threshold_are_kept_apart_from_the_count(run_railwatch, easy_yard_tif):
    strict = detect(run_railwatch, easy_yard_tif, MIN_CONFIDENCE=0.97, OUTPUT_CANDIDATES="TEMPORARY_OUTPUT")
    everything = detect(run_railwatch, easy_yard_tif, MIN_CONFIDENCE=0.1)
    kept = [f["confidence"] for f in strict["OUTPUT"].getFeatures()]
    candidates = [f["confidence"] for f in strict["OUTPUT_CANDIDATES"].getFeatures()]
    assert strict["OUTPUT"].featureCount() == strict["COUNT"]  # OUTPUT holds exactly the counted cars
    assert candidates and all(0.1 <= c < 0.97 for c in candidates) and all(c >= 0.97 for c in kept)
    assert len(kept) + len(candidates) == everything["COUNT"]
    assert strict["OUTPUT_CANDIDATES"].fields().names() == strict["OUTPUT"].fields().names()


# --- any CRS gives the same answer ---------------------------------------------------------------


def mercator_y(lat_deg: float) -> float:
    return 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(lat_deg) / 2))


def crs_cases():
    per_deg_x, per_deg_y = metres_per_degree(42.4)
    map_px_3857 = 0.5 / math.cos(math.radians(70.0))
    feet = 0.5 / US_SURVEY_FOOT_M
    return {
        "utm": (UTM, UTM_GT),
        "wgs84_degrees": ("EPSG:4326", (130.6, 0.5 / per_deg_x, 0.0, 42.4 + ROWS / 2 * 0.5 / per_deg_y, 0.0, -0.5 / per_deg_y)),
        "web_mercator_70N": ("EPSG:3857", (1.0e6, map_px_3857, 0.0, mercator_y(70.0) + ROWS / 2 * map_px_3857, 0.0, -map_px_3857)),
        "ny_state_plane_feet": ("EPSG:2263", (980000.0, feet, 0.0, 200000.0, 0.0, -feet)),
    }


@pytest.fixture(scope="module")
def utm_count(run_railwatch, easy_yard_tif):
    return detect(run_railwatch, easy_yard_tif)["COUNT"]


@pytest.fixture(scope="module")
def crs_results(run_railwatch, easy_yard, tmp_path_factory):
    """Per CRS case: (result, ground resolution the run reported)."""
    from qgis.core import QgsProcessingFeedback
    from railwatch_synth import write_geotiff

    folder = tmp_path_factory.mktemp("crs")
    out = {}
    for case, (crs, geotransform) in crs_cases().items():
        messages = []

        class Feedback(QgsProcessingFeedback):
            def pushInfo(self, info):  # noqa: N802 (QGIS's name)
                messages.append(info)

        path = write_geotiff(easy_yard, str(folder / f"yard_{case}.tif"), crs=crs, geotransform=geotransform)
        result = run_railwatch("detectrailcars", {"INPUT": path, "OUTPUT": "TEMPORARY_OUTPUT"}, feedback=Feedback())
        gsd_lines = [m for m in messages if "m per pixel on the ground" in m]
        assert len(gsd_lines) == 1, messages
        gsd = tuple(float(v) for v in gsd_lines[0].split(", ")[1].split(" m per pixel")[0].split(" x "))
        out[case] = (result, gsd)
    return out


@pytest.mark.parametrize("case", sorted(crs_cases()))
def test_ground_resolution_and_output_crs_in_any_crs(case, crs_results):
    result, (gx, gy) = crs_results[case]
    assert result["OUTPUT"].crs().authid() == crs_cases()[case][0]
    assert gx == pytest.approx(0.5, rel=0.01) and gy == pytest.approx(0.5, rel=0.01)


@pytest.mark.parametrize("case", sorted(crs_cases()))
def test_same_count_in_any_crs(case, crs_results, easy_yard):
    counts = {name: result["COUNT"] for name, (result, _) in crs_results.items()}
    assert abs(counts[case] - counts["utm"]) <= 1, counts
    assert counts[case] > 0


def test_gsd_override_replaces_the_crs_value(run_railwatch, easy_yard_tif, info_feedback):
    run_railwatch("detectrailcars", {"INPUT": str(easy_yard_tif), "GSD": 0.45, "OUTPUT": "TEMPORARY_OUTPUT"}, feedback=info_feedback)
    assert any("0.450 x 0.450 m per pixel on the ground" in m for m in info_feedback.messages)


# --- nodata, AOI, TRACKS ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["nodata_value", "mask_band"])
def test_nothing_is_detected_where_there_is_no_data(how, run_railwatch, easy_yard, tmp_path):
    from railwatch_synth import write_geotiff

    half = COLS // 2
    image = easy_yard.image.copy()
    image[:, :half] = 0
    path = str(tmp_path / f"half_{how}.tif")
    if how == "nodata_value":
        write_geotiff(image, path, gsd_m=0.5, nodata=0)
    else:
        valid = np.ones(image.shape[:2], bool)
        valid[:, :half] = False
        write_geotiff(dataclasses.replace(easy_yard, image=image, valid=valid), path)
    result = detect(run_railwatch, path)
    found = point_xy(result["OUTPUT"])
    boundary_x = pixel_to_map(UTM_GT, half, 0)[0]
    assert not np.any(found[:, 0] < boundary_x - 1.0), "detections inside the nodata half"
    # cars whole in the valid half are still found
    whole_east = [c for c in easy_yard.cars if min(p[0] for p in c.corners_px) > half]
    assert abs(result["COUNT"] - len(whole_east)) <= count_tolerance(len(whole_east)) + 2


def test_aoi_counts_per_polygon(run_railwatch, easy_yard, easy_yard_tif):
    # Two polygons in WGS 84 (so they are reprojected), split at the raster's middle column.
    to_wgs84 = utm_to("EPSG:4326")
    mid = COLS / 2

    def polygon(col0, col1):
        ring = [QgsPointXY(*pixel_to_map(UTM_GT, c, r)) for c, r in ((col0, 0), (col1, 0), (col1, ROWS), (col0, ROWS))]
        geometry = QgsGeometry.fromPolygonXY([ring + ring[:1]])
        geometry.transform(to_wgs84)
        return geometry

    aoi = add_features(
        memory_layer("Polygon", "EPSG:4326", "&field=name:string"),
        [polygon(-10, mid), polygon(mid, COLS + 10)],
        [["west"], ["east"]],
    )
    result = detect(run_railwatch, easy_yard_tif, AOI=aoi, OUTPUT_TABLE="TEMPORARY_OUTPUT")
    rows = {f["aoi"]: f["count"] for f in result["OUTPUT_TABLE"].getFeatures()}
    assert set(rows) == {"west", "east"}
    west_true = sum(1 for c in easy_yard.cars if c.col_px < mid)
    east_true = len(easy_yard.cars) - west_true
    assert abs(rows["west"] - west_true) <= count_tolerance(west_true)
    assert abs(rows["east"] - east_true) <= count_tolerance(east_true)
    assert rows["west"] + rows["east"] == result["COUNT"]


def test_aoi_keeps_only_cars_inside(run_railwatch, easy_yard_tif):
    ring = [QgsPointXY(*pixel_to_map(UTM_GT, c, r)) for c, r in ((0, 0), (200, 0), (200, 150), (0, 150))]
    aoi = add_features(memory_layer("Polygon", UTM), [QgsGeometry.fromPolygonXY([ring + ring[:1]])])
    result = detect(run_railwatch, easy_yard_tif, AOI=aoi, OUTPUT_TABLE="TEMPORARY_OUTPUT")
    for feature in result["OUTPUT"].getFeatures():
        assert aoi.getFeature(1).geometry().contains(feature.geometry())
    assert [f["aoi"] for f in result["OUTPUT_TABLE"].getFeatures()] == ["feature 1"]


def track_case(easy_yard, buffer_m):
    """The track with the most true cars within ``buffer_m`` (but not all of them),
    as a WGS 84 line layer (so it is reprojected), its UTM geometry, and that truth."""
    lines_map = [np.array([pixel_to_map(UTM_GT, c, r) for c, r in line]) for line in easy_yard.track_lines_px]
    line_geoms = [QgsGeometry.fromPolylineXY([QgsPointXY(x, y) for x, y in line]) for line in lines_map]
    truth_points = [QgsGeometry.fromPointXY(QgsPointXY(x, y)) for x, y in true_xy(easy_yard)]
    near = [sum(1 for p in truth_points if g.distance(p) <= buffer_m) for g in line_geoms]
    best = max((n, i) for i, n in enumerate(near) if n < len(easy_yard.cars))[1]
    geometry = QgsGeometry(line_geoms[best])
    geometry.transform(utm_to("EPSG:4326"))
    return add_features(memory_layer("LineString", "EPSG:4326"), [geometry]), line_geoms[best], near[best]


def test_tracks_filter_drops_cars_away_from_the_line(run_railwatch, easy_yard, easy_yard_tif, utm_count):
    tracks, line, _ = track_case(easy_yard, 6.0)
    result = detect(run_railwatch, easy_yard_tif, TRACKS=tracks, TRACK_BUFFER=6.0)
    for feature in result["OUTPUT"].getFeatures():
        assert line.distance(feature.geometry()) <= 6.5
    assert 0 < result["COUNT"] < utm_count


@pytest.mark.parametrize("buffer_m", [2.5, 6.0])
def test_tracks_filter_keeps_the_cars_on_the_line(buffer_m, run_railwatch, easy_yard, easy_yard_tif):
    tracks, line, n_true = track_case(easy_yard, buffer_m)
    assert n_true > 0
    result = detect(run_railwatch, easy_yard_tif, TRACKS=tracks, TRACK_BUFFER=buffer_m)
    assert abs(result["COUNT"] - n_true) <= count_tolerance(n_true)


def test_tracks_far_from_the_raster_leave_nothing_and_say_why(run_railwatch, easy_yard_tif, info_feedback):
    far = QgsGeometry.fromPolylineXY([QgsPointXY(600000, 4800000), QgsPointXY(600500, 4800000)])
    tracks = add_features(memory_layer("LineString", UTM), [far])
    result = run_railwatch(
        "detectrailcars", {"INPUT": str(easy_yard_tif), "TRACKS": tracks, "OUTPUT": "TEMPORARY_OUTPUT"}, feedback=info_feedback
    )
    assert result["COUNT"] == 0
    assert any("no rail centre line from TRACKS crosses this raster" in m for m in info_feedback.messages)


# --- bad input: errors that name the problem and the fix -----------------------------------------


def write_without_crs(path, image):
    from osgeo import gdal

    rows, cols, bands = image.shape
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, bands, gdal.GDT_Byte)
    dataset.SetGeoTransform((0.0, 0.5, 0.0, 0.0, 0.0, -0.5))
    for b in range(bands):
        dataset.GetRasterBand(b + 1).WriteArray(image[:, :, b])
    dataset = None
    return str(path)


def error_of(run, parameters) -> str:
    with pytest.raises(QgsProcessingException) as raised:
        run("detectrailcars", dict({"OUTPUT": "TEMPORARY_OUTPUT"}, **parameters))
    return str(raised.value)


def test_no_crs(run_railwatch, easy_yard, tmp_path):
    message = error_of(run_railwatch, {"INPUT": write_without_crs(tmp_path / "nocrs.tif", easy_yard.image[:200, :200])})
    assert "raster has no coordinate reference system: set one with Layer Properties > Source" in message
    assert "nocrs" in message


def test_not_a_raster(run_railwatch, tmp_path):
    table = tmp_path / "observations.csv"
    table.write_text("date,count\n2023-10-05,73\n")
    message = error_of(run_railwatch, {"INPUT": str(table)})
    assert "not a raster: choose a satellite or aerial image" in message


def test_corrupt_file(run_railwatch, tmp_path):
    corrupt = tmp_path / "x.tif"
    corrupt.write_bytes(bytes(range(256)) * 64)
    message = error_of(run_railwatch, {"INPUT": str(corrupt)})
    assert f"{corrupt} is not an image GDAL can read (a corrupt or incomplete file?)" in message
    assert "download or export it again" in message


def test_missing_file(run_railwatch, tmp_path):
    assert "file not found" in error_of(run_railwatch, {"INPUT": str(tmp_path / "nowhere.tif")})


def test_too_coarse_names_the_gsd_and_the_imagery_needed(run_railwatch, easy_yard, tmp_path):
    from railwatch_synth import write_geotiff

    coarse = write_geotiff(easy_yard.image[::4, ::4], str(tmp_path / "coarse.tif"), gsd_m=2.0)
    message = error_of(run_railwatch, {"INPUT": coarse})
    assert "too coarse" in message
    assert "2.00 m per pixel" in message
    assert "m per pixel or finer" in message


def test_car_size_range_must_be_ordered(run_railwatch, easy_yard_tif):
    message = error_of(run_railwatch, {"INPUT": str(easy_yard_tif), "MIN_LENGTH_M": 25.0, "MAX_LENGTH_M": 12.0})
    assert "MIN_LENGTH_M / MAX_LENGTH_M" in message
