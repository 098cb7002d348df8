"""``railwatch:exportlabels``: reviewed cars and their image windows, read back with the
core's reader (no QGIS) and checked against the demo scene's truth."""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess

import pytest
from osgeo import gdal
from qgis.core import QgsCoordinateTransformContext, QgsProcessingException, QgsRasterLayer, QgsVectorLayer

from conftest import QGIS_PROCESS

from railwatch_plugin.core.labels import LOOKALIKE, RAILCAR, read_labels
from railwatch_plugin.review import ACCEPTED, ADDED, REJECTED, UNREVIEWED
from railwatch_plugin.ui.review_layer import ReviewLayer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "demo", "tumangang_2023-10-05.tif")
LAYER_0_2_0 = os.path.join(REPO, "tests", "data", "tumangang_2023-10-05_railcars_0.2.0.gpkg")


def _truth_px():
    with open(os.path.join(REPO, "demo", "tumangang_2023-10-05_truth.csv"), encoding="utf-8") as handle:
        return [(float(r["col_px"]), float(r["row_px"]), r["kind"]) for r in csv.DictReader(handle)]


def test_reviewed_cars_become_labels_in_window_pixels(run_railwatch, tmp_path):
    path = str(tmp_path / "railcars.gpkg")
    shutil.copy(LAYER_0_2_0, path)
    layer = QgsVectorLayer(path, "railcars", "ogr")
    review = ReviewLayer(layer)  # a 0.2.0 layer: review fields added
    fids = sorted(f.id() for f in layer.getFeatures())
    review.decide(fids[0], ACCEPTED)
    review.decide(fids[1], ACCEPTED)
    review.decide(fids[2], REJECTED)
    raster = QgsRasterLayer(DEMO, "tumangang_2023-10-05")
    centre = layer.getFeature(fids[3]).geometry().asPoint()
    added = review.add_car(centre, centre, "tank")  # a zero-length car: placed, kind kept
    layer.dataProvider().changeAttributeValues({added: {layer.fields().indexOf("length_m"): 15.0}})

    folder = str(tmp_path / "labels")
    os.makedirs(os.path.join(folder, "windows"))
    stray = os.path.join(folder, "windows", "001_an_earlier_export.tif")  # from an export with two scenes
    shutil.copy(DEMO, stray)
    result = run_railwatch("exportlabels", {"INPUTS": [layer], "IMAGES": [raster], "OUTPUT": folder})
    assert os.listdir(os.path.join(folder, "windows")) == ["000_tumangang_2023-10-05.tif"]  # replaced whole
    assert (result["WINDOWS"], result["RAILCARS"], result["LOOKALIKES"]) == (1, 3, 1)

    (window,) = read_labels(folder)
    assert window.scene == "tumangang_2023-10-05" and window.acquired == "2023-10-05"
    assert window.gsd_m == pytest.approx((0.5, 0.5), abs=0.01) and window.crs == "EPSG:32652"
    assert sorted((c.label, c.review) for c in window.cars) == [
        (LOOKALIKE, REJECTED), (RAILCAR, ACCEPTED), (RAILCAR, ACCEPTED), (RAILCAR, ADDED)]
    image = gdal.Open(window.image_path(folder))
    assert (image.RasterXSize, image.RasterYSize, image.RasterCount) == (window.width_px, window.height_px, 3)
    assert image.GetGeoTransform() == pytest.approx(window.geotransform)
    source = gdal.Open(DEMO)
    x0 = round((window.geotransform[0] - source.GetGeoTransform()[0]) / 0.5)
    y0 = round((window.geotransform[3] - source.GetGeoTransform()[3]) / -0.5)
    truth = _truth_px()
    for car in window.cars:  # each label sits on a true car of the demo (in the source's pixels)
        col, row = car.col_px + x0, car.row_px + y0
        assert min(math.hypot(col - tc, row - tr) for tc, tr, _ in truth) < 4.0
        assert 0 <= car.col_px <= window.width_px and 0 <= car.row_px <= window.height_px
    # The window's pixels are the source's.
    assert (image.ReadAsArray(0, 0, 50, 40) == source.ReadAsArray(x0, y0, 50, 40)).all()
    assert next(c for c in window.cars if c.review == ADDED).kind == "tank"


def test_layers_never_reviewed_or_missing_images_are_explained(run_railwatch, tmp_path):
    layer = QgsVectorLayer(LAYER_0_2_0, "railcars", "ogr")
    raster = QgsRasterLayer(DEMO, "another name")
    with pytest.raises(QgsProcessingException, match="has no 'review' field"):
        run_railwatch("exportlabels", {"INPUTS": [layer], "IMAGES": [raster], "OUTPUT": str(tmp_path / "a")})
    path = str(tmp_path / "railcars.gpkg")
    shutil.copy(LAYER_0_2_0, path)
    reviewed = QgsVectorLayer(path, "railcars", "ogr")
    ReviewLayer(reviewed)
    with pytest.raises(QgsProcessingException, match="None of the INPUTS layers has a reviewed car"):
        run_railwatch("exportlabels", {"INPUTS": [reviewed], "IMAGES": [raster], "OUTPUT": str(tmp_path / "b")})
    ReviewLayer(reviewed).decide(next(reviewed.getFeatures()).id(), ACCEPTED)
    earlier = os.path.join(REPO, "demo", "tumangang_2021-06-14.tif")
    others = [QgsRasterLayer(earlier, "tumangang_2021-06-14"), QgsRasterLayer(earlier, "copy")]
    with pytest.raises(QgsProcessingException, match="No image for scene 'tumangang_2023-10-05'"):
        run_railwatch("exportlabels", {"INPUTS": [reviewed], "IMAGES": others, "OUTPUT": str(tmp_path / "c")})


# An image turned a quarter clockwise: its columns run south, its rows west, so its up is east.
TURNED_GT = (631500.0, 0.0, -0.5, 4697800.0, -0.5, 0.0)
SOUTH_UP_GT = (631000.0, 0.5, 0.0, 4697000.0, 0.0, 0.5)


def _one_band_image(path, geotransform, size, value) -> str:
    """A one-band UTM 52N GeoTIFF of ``size`` (columns, rows) pixels, every pixel ``value``."""
    from osgeo import osr

    image = gdal.GetDriverByName("GTiff").Create(str(path), size[0], size[1], 1, gdal.GDT_Byte)
    image.SetGeoTransform(geotransform)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32652)
    image.SetProjection(srs.ExportToWkt())
    image.GetRasterBand(1).Fill(value)
    image = None
    return str(path)


def test_headings_turn_between_the_image_and_the_map():
    from railwatch_plugin.algorithms.ground_resolution import heading_in_pixels, heading_on_map
    from railwatch_plugin.algorithms.output_fields import car_attributes
    from railwatch_plugin.core.model import METHOD_SINGLE, Railcar

    north_up = (0.0, 0.5, 0.0, 0.0, 0.0, -0.5)
    assert [heading_on_map(h, north_up) for h in (0.0, 30.0, 135.0)] == pytest.approx([0.0, 30.0, 135.0])
    assert heading_on_map(0.0, TURNED_GT) == pytest.approx(90.0)  # along the image's up: east-west
    assert heading_on_map(30.0, SOUTH_UP_GT) == pytest.approx(150.0)  # mirrored
    for gt in (TURNED_GT, SOUTH_UP_GT, (0.0, 0.4, 0.3, 0.0, 0.3, -0.4)):
        for h in (0.0, 20.0, 75.0, 140.0):
            assert heading_in_pixels(heading_on_map(h, gt), gt) == pytest.approx(h)
    # The layer holds headings from north: a car along a turned image's columns lies north-south.
    car = Railcar(10.0, 10.0, (), 15.0, 3.0, 90.0, 0.9, "box", METHOD_SINGLE)
    assert car_attributes(car, "turned", None, TURNED_GT)[3] == pytest.approx(0.0, abs=0.05)
    assert car_attributes(car, "north-up", None, north_up)[3] == 90.0


def test_labels_on_a_rotated_image_have_headings_from_the_windows_up(run_railwatch, tmp_path):
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY

    from railwatch_plugin.algorithms.output_fields import car_fields

    raster = QgsRasterLayer(_one_band_image(tmp_path / "turned.tif", TURNED_GT, (200, 160), 7), "turned")
    assert raster.isValid()

    layer = QgsVectorLayer("Point?crs=EPSG:32652", "turned railcars", "memory")
    layer.dataProvider().addAttributes(car_fields().toList())
    layer.updateFields()
    cars = []  # (x, y, heading from north or None, review)
    for x, y, heading, review in ((631460.0, 4697750.0, 90.0, ACCEPTED), (631450.0, 4697740.0, 0.0, REJECTED),
                                  (631470.0, 4697760.0, None, ADDED)):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        for name, value in (("length_m", 15.0), ("width_m", 3.0), ("heading_deg", heading), ("kind", "box"),
                            ("scene", "turned"), ("review", review)):
            if value is not None:
                feature[name] = value
        cars.append(feature)
    assert layer.dataProvider().addFeatures(cars)[0]

    folder = str(tmp_path / "labels")
    run_railwatch("exportlabels", {"INPUTS": [layer], "IMAGES": [raster], "OUTPUT": folder, "MARGIN_M": 5.0})
    (window,) = read_labels(folder)
    headings = {car.review: car.heading_deg for car in window.cars}
    assert headings[ACCEPTED] == pytest.approx(0.0, abs=0.05)
    assert headings[REJECTED] == pytest.approx(90.0, abs=0.05)
    assert headings[ADDED] is None  # a bare point: no heading, rather than a made-up 0
    # The window keeps the image's turn, and the cars sit where the map puts them.
    assert window.geotransform[1:3] == (0.0, -0.5) and window.geotransform[4:6] == (-0.5, 0.0)
    accepted = next(car for car in window.cars if car.review == ACCEPTED)
    x, y = window.geotransform[0] + accepted.row_px * -0.5, window.geotransform[3] + accepted.col_px * -0.5
    assert (x, y) == pytest.approx((631460.0, 4697750.0))


# --- never a silent wrong export (issue 15) ---------------------------------------------------

SITE_GT = (631000.0, 0.5, 0.0, 4698000.0, 0.0, -0.5)  # 200 x 150 m of UTM 52N
CAR_XY = ((631050.0, 4697950.0), (631120.0, 4697900.0))


def _site_image(path) -> str:
    """A 400 x 300 px one-band image of the site (every image here covers the same ground)."""
    return _one_band_image(path, SITE_GT, (400, 300), 9)


def _reviewed_cars(cars, path=None) -> QgsVectorLayer:
    """A railcar layer holding ``cars`` [(scene, review)], each scene's cars at CAR_XY; in
    memory, or written to the GeoPackage ``path``."""
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorFileWriter

    from railwatch_plugin.algorithms.output_fields import car_fields

    layer = QgsVectorLayer("Point?crs=EPSG:32652", "reviewed", "memory")
    layer.dataProvider().addAttributes(car_fields().toList())
    layer.updateFields()
    features = []
    for i, (scene, review) in enumerate(cars):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*CAR_XY[i % len(CAR_XY)])))
        for name, value in (("length_m", 15.0), ("width_m", 3.0), ("heading_deg", 90.0), ("kind", "box"),
                            ("scene", scene), ("review", review)):
            feature[name] = value
        features.append(feature)
    assert layer.dataProvider().addFeatures(features)[0]
    if path is None:
        return layer
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    written = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(path), QgsCoordinateTransformContext(), options)
    assert written[0] == QgsVectorFileWriter.NoError, written
    return QgsVectorLayer(str(path), "reviewed", "ogr")


def _broken(path) -> str:
    path.write_bytes(b"\x00garbage" * 500)
    return str(path)


@pytest.mark.skipif(not shutil.which(QGIS_PROCESS), reason="qgis_process is not installed")
def test_qgis_process_names_a_corrupt_file_in_exportlabels_and_nothing_else(qgis_process_env, tmp_path):
    """Only RailWatch's message: QGIS's own check of INPUTS and IMAGES loaded the file as
    every kind of layer and printed "Unable to load mesh (null)" and GDAL's errors, then
    "Incorrect parameter value for IMAGES" without saying what is wrong with the file."""
    image = _site_image(tmp_path / "yard_2023-10-05.tif")
    _reviewed_cars([("yard_2023-10-05", ACCEPTED)], tmp_path / "reviewed.gpkg")
    broken = _broken(tmp_path / "broken.tif")
    out = tmp_path / "labels"
    for name, arguments, words in (
        ("IMAGES", [f"INPUTS={tmp_path / 'reviewed.gpkg'}", f"IMAGES={image}", f"IMAGES={broken}"],
         "is not an image GDAL can read"),
        ("INPUTS", [f"INPUTS={broken}", f"IMAGES={image}"], "is not a layer GDAL can read"),
    ):
        ran = subprocess.run([QGIS_PROCESS, "run", "railwatch:exportlabels", "--", *arguments, f"OUTPUT={out}"],
                             capture_output=True, text=True, env=qgis_process_env, timeout=300)
        assert ran.returncode != 0
        assert f"{name}: {broken} {words}" in ran.stderr, ran.stderr
        assert "mesh" not in ran.stderr and "not recognized as a supported file format" not in ran.stderr, ran.stderr
        assert not out.exists()


def _run_unchecked(algorithm_id, parameters, feedback):
    """Run as QgsProcessingAlgRunnerTask runs it (the panel's background runs): no
    checkParameterValues first. Returns (ok, results)."""
    from qgis.core import QgsApplication, QgsProcessingContext

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
    results, ok = algorithm.run(parameters, QgsProcessingContext(), feedback)
    return ok, results


def test_an_unreadable_image_or_layer_is_never_left_out_of_the_export(railwatch_plugin, tmp_path, info_feedback):
    """QGIS's parameterAsLayerList left out what it could not load: with the good image
    left alone in IMAGES, every car went onto it, and a corrupt reviewed layer's cars were
    simply missing from the labels."""
    image = _site_image(tmp_path / "yard_2023-10-05.tif")
    cars = _reviewed_cars([("yard_2023-10-05", ACCEPTED), ("yard_2021-06-14", REJECTED)])
    broken = _broken(tmp_path / "yard_2021-06-14.tif")
    out = tmp_path / "labels"
    ok, results = _run_unchecked("railwatch:exportlabels", {"INPUTS": [cars], "IMAGES": [image, broken],
                                                            "OUTPUT": str(out)}, info_feedback)
    assert not ok and results == {}
    assert any(m.startswith(f"IMAGES: {broken} is not an image GDAL can read") for m in info_feedback.messages)
    assert not out.exists()

    broken_layer = _broken(tmp_path / "more_reviews.gpkg")
    ok, results = _run_unchecked("railwatch:exportlabels", {"INPUTS": [cars, broken_layer], "IMAGES": [image],
                                                            "OUTPUT": str(out)}, info_feedback)
    assert not ok and results == {}
    assert any(m.startswith(f"INPUTS: {broken_layer} is not a layer GDAL can read") for m in info_feedback.messages)
    assert not out.exists()


def test_one_image_is_not_taken_for_the_image_of_every_scene(run_railwatch, tmp_path):
    """With cars of two scenes and one image, the other scene's cars were cut out of that
    image as a window of their own: labels on a picture taken on another date."""
    image = _site_image(tmp_path / "yard_2023-10-05.tif")
    cars = _reviewed_cars([("yard_2023-10-05", ACCEPTED), ("yard_2021-06-14", ACCEPTED)])
    out = tmp_path / "labels"
    with pytest.raises(QgsProcessingException) as raised:
        run_railwatch("exportlabels", {"INPUTS": [cars], "IMAGES": [image], "OUTPUT": str(out)})
    assert "No image for scene 'yard_2021-06-14'" in str(raised.value)
    assert "add its image to IMAGES" in str(raised.value)
    assert not out.exists()
    # One scene and one image: its cars are on it, whatever the image is called.
    result = run_railwatch("exportlabels", {"INPUTS": [_reviewed_cars([("yard", ACCEPTED)])], "IMAGES": [image],
                                            "OUTPUT": str(out)})
    assert (result["WINDOWS"], result["RAILCARS"]) == (1, 1)
    assert [w.scene for w in read_labels(str(out))] == ["yard"]


def test_an_image_of_no_scene_is_named_not_ignored(run_railwatch, tmp_path, info_feedback):
    """An image in IMAGES that no car's scene names was left out without a word (its
    reviewed layer missing from INPUTS, or the cars' scene spelt otherwise)."""
    newer = _site_image(tmp_path / "yard_2023-10-05.tif")
    older = _site_image(tmp_path / "yard_2021-06-14.tif")
    out = tmp_path / "labels"
    with pytest.raises(QgsProcessingException) as raised:
        run_railwatch("exportlabels", {"INPUTS": [_reviewed_cars([("yard_2023-10-05", ACCEPTED)])],
                                       "IMAGES": [newer, older], "OUTPUT": str(out)})
    message = str(raised.value)
    assert f"IMAGES: {older} is the image of no scene in INPUTS" in message
    assert "yard_2023-10-05" in message and "leave it out of IMAGES" in message
    assert not out.exists()
    # Its scene is there but none of its cars is reviewed yet: no window, and the log says so.
    cars = _reviewed_cars([("yard_2023-10-05", ACCEPTED), ("yard_2021-06-14", UNREVIEWED)])
    result = run_railwatch("exportlabels", {"INPUTS": [cars], "IMAGES": [newer, older], "OUTPUT": str(out)},
                           feedback=info_feedback)
    assert (result["WINDOWS"], result["RAILCARS"]) == (1, 1)
    assert any("yard_2021-06-14: no reviewed car, so no window" in m for m in info_feedback.messages)


def test_a_reviewed_car_without_a_geometry_is_left_out_with_a_word(run_railwatch, tmp_path, info_feedback):
    """A reviewed car whose point was deleted cannot be placed on the image: it is left
    out of the labels, and the log says how many and where, never silently."""
    from qgis.core import QgsGeometry

    image = _site_image(tmp_path / "yard_2023-10-05.tif")
    cars = _reviewed_cars([("yard_2023-10-05", ACCEPTED), ("yard_2023-10-05", REJECTED), ("yard_2023-10-05", ADDED)])
    first = next(cars.getFeatures())
    assert cars.dataProvider().changeGeometryValues({first.id(): QgsGeometry()})
    result = run_railwatch("exportlabels", {"INPUTS": [cars], "IMAGES": [image], "OUTPUT": str(tmp_path / "labels")},
                           feedback=info_feedback)
    assert (result["WINDOWS"], result["RAILCARS"], result["LOOKALIKES"]) == (1, 1, 1)
    assert any("yard_2023-10-05: 1 reviewed car without a geometry left out" in m for m in info_feedback.messages)


def test_two_images_of_one_name_are_refused(run_railwatch, tmp_path):
    """Two images both named after one scene: the last one given was used, silently."""
    first = QgsRasterLayer(_site_image(tmp_path / "a.tif"), "yard_2023-10-05")
    second = QgsRasterLayer(_site_image(tmp_path / "b.tif"), "yard_2023-10-05")
    out = tmp_path / "labels"
    with pytest.raises(QgsProcessingException) as raised:
        run_railwatch("exportlabels", {"INPUTS": [_reviewed_cars([("yard_2023-10-05", ACCEPTED)])],
                                       "IMAGES": [first, second], "OUTPUT": str(out)})
    message = str(raised.value)
    assert "IMAGES: 2 images are named 'yard_2023-10-05'" in message
    assert str(tmp_path / "a.tif") in message and str(tmp_path / "b.tif") in message
    assert not out.exists()
    # The same image given twice is one image.
    result = run_railwatch("exportlabels", {"INPUTS": [_reviewed_cars([("yard_2023-10-05", ACCEPTED)])],
                                            "IMAGES": [first, str(tmp_path / "a.tif")], "OUTPUT": str(out)})
    assert result["WINDOWS"] == 1


def test_cars_off_their_image_leave_no_window_written(run_railwatch, tmp_path):
    """The check that a scene's cars are on its image came while the windows were being
    written: an earlier export's windows were gone and the first scene's new one written."""
    near = _site_image(tmp_path / "near.tif")
    far_path = str(tmp_path / "far.tif")
    gdal.Translate(far_path, near, outputBounds=[700000.0, 4698000.0, 700200.0, 4697850.0])  # same pixels, elsewhere
    out = tmp_path / "labels"
    os.makedirs(out / "windows")
    earlier = out / "windows" / "000_earlier.tif"
    shutil.copy(near, earlier)
    cars = _reviewed_cars([("near", ACCEPTED), ("far", ACCEPTED)])
    with pytest.raises(QgsProcessingException, match="IMAGES: the reviewed cars of 'far' are not on far "):
        run_railwatch("exportlabels", {"INPUTS": [cars], "IMAGES": [near, far_path], "OUTPUT": str(out)})
    assert os.listdir(out / "windows") == ["000_earlier.tif"] and not (out / "labels.json").exists()


def test_a_run_stopped_after_its_first_window_leaves_the_earlier_export_whole(run_railwatch, tmp_path):
    """The earlier export's windows were deleted first and the new ones written one by
    one: a run canceled (or out of disk) after its first window left that window, none
    of the others, and a labels.json naming images that were gone."""
    from qgis.core import QgsProcessingFeedback

    near, far = _site_image(tmp_path / "near.tif"), _site_image(tmp_path / "far.tif")
    cars = _reviewed_cars([("near", ACCEPTED), ("far", ACCEPTED)])
    out = tmp_path / "labels"
    first = run_railwatch("exportlabels", {"INPUTS": [cars], "IMAGES": [near, far], "OUTPUT": str(out)})
    assert first["WINDOWS"] == 2
    before = {name: (out / "windows" / name).read_bytes() for name in os.listdir(out / "windows")}
    labels_before = (out / "labels.json").read_text()
    assert len(before) == 2

    class StopsAfterOneWindow(QgsProcessingFeedback):
        def setProgress(self, progress):  # noqa: N802 (QGIS's name)
            super().setProgress(progress)
            self.cancel()

    feedback = StopsAfterOneWindow()
    more = _reviewed_cars([("near", ACCEPTED), ("near", REJECTED), ("far", ACCEPTED)])
    ok, results = _run_unchecked("railwatch:exportlabels", {"INPUTS": [more], "IMAGES": [near, far], "OUTPUT": str(out)},
                                 feedback)
    assert feedback.isCanceled() and not results
    assert sorted(os.listdir(out)) == ["labels.json", "windows"]  # no staging folder left either
    assert {name: (out / "windows" / name).read_bytes() for name in os.listdir(out / "windows")} == before
    assert (out / "labels.json").read_text() == labels_before

    # Run to the end, the new export replaces the earlier one whole.
    result = run_railwatch("exportlabels", {"INPUTS": [more], "IMAGES": [near, far], "OUTPUT": str(out)})
    assert (result["WINDOWS"], result["RAILCARS"], result["LOOKALIKES"]) == (2, 2, 1)
    assert sorted(os.listdir(out / "windows")) == sorted(w.image.split("/")[-1] for w in read_labels(str(out)))


def test_a_folder_that_cannot_be_written_is_named(run_railwatch, tmp_path):
    image = _site_image(tmp_path / "yard.tif")
    with pytest.raises(QgsProcessingException, match="OUTPUT: cannot write into /proc/railwatch_labels"):
        run_railwatch("exportlabels", {"INPUTS": [_reviewed_cars([("yard", ACCEPTED)])], "IMAGES": [image],
                                       "OUTPUT": "/proc/railwatch_labels"})
