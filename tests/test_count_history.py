"""railwatch:counthistory: dated images in, one count per image out, oldest
first, with the same counts detectrailcars gives for each image."""

from __future__ import annotations

import datetime

import pytest
from qgis.core import NULL, QgsFeature, QgsGeometry, QgsPointXY, QgsProcessingException, QgsVectorLayer



@pytest.fixture(scope="module")
def dated_images(tmp_path_factory):
    """Three yards: a date in metadata, a date in the file name, no date at all;
    the second one sits in a folder with a file that is not an image."""
    from railwatch_synth import make_yard, write_geotiff

    root = tmp_path_factory.mktemp("history")
    folder = root / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("not an image")
    scenes = {
        "meta": make_yard(5, size_m=(400.0, 300.0), difficulty="easy"),
        "named": make_yard(6, size_m=(400.0, 300.0), difficulty="easy"),
        "undated": make_yard(8, size_m=(400.0, 300.0), difficulty="easy"),
    }
    paths = {
        "meta": write_geotiff(scenes["meta"], str(root / "yard_a.tif"), acquired="2021-03-01"),
        "named": write_geotiff(scenes["named"], str(folder / "yard_2019-06-12.tif")),
        "undated": write_geotiff(scenes["undated"], str(root / "yard_c.tif")),
    }
    return {"root": root, "folder": folder, "scenes": scenes, "paths": paths}


@pytest.fixture(scope="module")
def history(run_railwatch, dated_images):
    paths = dated_images["paths"]
    result = run_railwatch(
        "counthistory",
        {"INPUTS": [paths["undated"], paths["meta"]], "FOLDER": str(dated_images["folder"]), "OUTPUT": "TEMPORARY_OUTPUT"},
    )
    return result, list(result["OUTPUT"].getFeatures())


def test_rows_are_sorted_by_date_with_undated_last(history):
    result, rows = history
    assert result["IMAGES"] == 3
    assert [r["scene"] for r in rows] == ["yard_2019-06-12", "yard_a", "yard_c"]
    assert rows[0]["acquired"].toPyDate() == datetime.date(2019, 6, 12)
    assert rows[1]["acquired"].toPyDate() == datetime.date(2021, 3, 1)
    assert rows[2]["acquired"] == NULL


def test_table_columns(history):
    result, _ = history
    assert result["OUTPUT"].fields().names() == [
        "scene", "acquired", "count", "mean_confidence",
        "n_box", "n_tank", "n_hopper_gondola", "n_flat_container", "n_covered", "n_unknown", "model",
    ]


def test_counts_are_those_of_detectrailcars(history, run_railwatch, dated_images):
    _, rows = history
    by_scene = {r["scene"]: r["count"] for r in rows}
    for key, scene in (("meta", "yard_a"), ("named", "yard_2019-06-12"), ("undated", "yard_c")):
        single = run_railwatch("detectrailcars", {"INPUT": dated_images["paths"][key], "OUTPUT": "TEMPORARY_OUTPUT"})
        assert by_scene[scene] == single["COUNT"]


def test_counts_match_the_truth(history, dated_images):
    _, rows = history
    truth = {
        "yard_a": len(dated_images["scenes"]["meta"].cars),
        "yard_2019-06-12": len(dated_images["scenes"]["named"].cars),
        "yard_c": len(dated_images["scenes"]["undated"].cars),
    }
    for row in rows:
        n_true = truth[row["scene"]]
        assert abs(row["count"] - n_true) <= max(2, 0.1 * n_true), row["scene"]
        assert sum(row[n] for n in ("n_box", "n_tank", "n_hopper_gondola", "n_flat_container", "n_covered", "n_unknown")) == row["count"]


def test_an_aoi_off_the_image_leaves_its_count_empty_not_zero(run_railwatch, dated_images, info_feedback):
    """Nothing to count is no observation of 0: the row's count is NULL, which
    comparebaseline skips as a gap, and the log says why."""
    far = [QgsPointXY(x, y) for x, y in ((600000, 4800000), (600100, 4800000), (600100, 4800100))]
    aoi = QgsVectorLayer("Polygon?crs=EPSG:32652", "far", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromPolygonXY([far + far[:1]]))
    aoi.dataProvider().addFeatures([feature])
    result = run_railwatch(
        "counthistory", {"INPUTS": [dated_images["paths"]["meta"]], "AOI": aoi, "OUTPUT": "TEMPORARY_OUTPUT"}, feedback=info_feedback
    )
    rows = list(result["OUTPUT"].getFeatures())
    assert [r["scene"] for r in rows] == ["yard_a"]
    assert rows[0]["count"] == NULL and rows[0]["n_box"] == NULL
    assert any("yard_a (2021-03-01): not counted" in m and "no AOI polygon overlaps the image" in m for m in info_feedback.messages)


def test_no_images_names_the_fix(run_railwatch, tmp_path):
    with pytest.raises(QgsProcessingException) as raised:
        run_railwatch("counthistory", {"FOLDER": str(tmp_path), "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "No images to count: give raster layers in INPUTS or a FOLDER" in str(raised.value)


def test_corrupt_image_in_the_folder_is_named(run_railwatch, tmp_path):
    (tmp_path / "broken_2020-01-01.tif").write_bytes(b"\x00garbage" * 500)
    with pytest.raises(QgsProcessingException) as raised:
        run_railwatch("counthistory", {"FOLDER": str(tmp_path), "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "broken_2020-01-01.tif is not an image GDAL can read" in str(raised.value)


def test_a_corrupt_image_in_inputs_is_named_without_qgis_probing_it_as_a_mesh(railwatch_plugin, tmp_path, capfd):
    """qgis_process checks INPUTS with the parameter's own check before the
    algorithm's: QGIS's loaded a corrupt file as a vector, a raster and a
    mesh layer, and MDAL printed "Unable to load mesh (null)" on stderr
    before RailWatch's message."""
    from qgis.core import QgsApplication, QgsProcessing, QgsProcessingContext, QgsProcessingParameterMultipleLayers

    broken = tmp_path / "broken_2020-01-01.tif"
    broken.write_bytes(b"\x00garbage" * 500)
    context = QgsProcessingContext()
    capfd.readouterr()
    # QGIS's own check does print it (so this test sees MDAL's stderr) ...
    QgsProcessingParameterMultipleLayers("INPUTS", "Images", QgsProcessing.TypeRaster).checkValueIsAcceptable(str(broken), context)
    assert "Unable to load mesh" in capfd.readouterr().err
    # ... the algorithm's parameter refuses the file without loading it
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("railwatch:counthistory")
    definition = algorithm.parameterDefinition("INPUTS")
    assert definition.checkValueIsAcceptable(str(broken), context) is False
    assert definition.checkValueIsAcceptable([str(broken)], context) is False
    ok, message = algorithm.checkParameterValues({"INPUTS": [str(broken)], "OUTPUT": "TEMPORARY_OUTPUT"}, context)
    assert not ok and f"INPUTS: {broken} is not an image GDAL can read" in message
    assert "Unable to load mesh" not in capfd.readouterr().err
    copy = definition.clone()  # the model designer copies definitions
    assert copy.checkValueIsAcceptable(str(broken), context) is False and copy.type() == "multilayer"


def test_an_unreadable_input_is_never_left_out_of_the_history(railwatch_plugin, dated_images, tmp_path, info_feedback):
    """Run as QgsProcessingAlgRunnerTask runs it (no checkParameterValues), a
    corrupt image among INPUTS stops the run naming it: QGIS's
    parameterAsLayerList left out what it could not load, and the history
    was one image short with no word said."""
    from qgis.core import QgsApplication, QgsProcessingContext

    broken = tmp_path / "broken_2020-01-01.tif"
    broken.write_bytes(b"\x00garbage" * 500)
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("railwatch:counthistory")
    parameters = {"INPUTS": [dated_images["paths"]["meta"], str(broken)], "OUTPUT": "TEMPORARY_OUTPUT"}
    results, ok = algorithm.run(parameters, QgsProcessingContext(), info_feedback)
    assert not ok and results == {}
    assert any(f"INPUTS: {broken} is not an image GDAL can read" in m for m in info_feedback.messages)


def test_a_scene_is_named_alike_from_inputs_and_from_folder(run_railwatch, tmp_path):
    """A file name with a dot before its extension: an image given in INPUTS (or as
    detectrailcars's INPUT) was named up to the first dot, so site.2019-06-12.tif and
    site.2021-03-01.tif were both "site"; from FOLDER it was the file name without its
    extension, as QGIS names a layer added from that file and exportlabels finds a scene's image."""
    from qgis.core import QgsProject, QgsRasterLayer

    from railwatch_synth import make_yard, write_geotiff

    folder = tmp_path / "archive"
    folder.mkdir()
    paths = [write_geotiff(make_yard(seed, size_m=(200.0, 150.0), difficulty="easy"), str(folder / name))
             for seed, name in ((11, "site.2019-06-12.tif"), (12, "site.2021-03-01.v2.tif"))]
    expected = ["site.2019-06-12", "site.2021-03-01.v2"]
    for parameters in ({"INPUTS": paths}, {"FOLDER": str(folder)}):
        result = run_railwatch("counthistory", dict(parameters, OUTPUT="TEMPORARY_OUTPUT"))
        rows = list(result["OUTPUT"].getFeatures())
        assert [r["scene"] for r in rows] == expected, parameters
        assert [r["acquired"].toPyDate().isoformat() for r in rows] == ["2019-06-12", "2021-03-01"]
    single = run_railwatch("detectrailcars", {"INPUT": paths[1], "OUTPUT": "TEMPORARY_OUTPUT",
                                              "OUTPUT_TABLE": "TEMPORARY_OUTPUT"})
    assert [r["scene"] for r in single["OUTPUT_TABLE"].getFeatures()] == [expected[1]]
    # A path naming a layer of the project is that layer, under the name the analyst gave it.
    layer = QgsRasterLayer(paths[0], "site before the works")
    QgsProject.instance().addMapLayer(layer)
    try:
        result = run_railwatch("counthistory", {"INPUTS": [paths[0]], "OUTPUT": "TEMPORARY_OUTPUT"})
        assert [r["scene"] for r in result["OUTPUT"].getFeatures()] == ["site before the works"]
        assert layer.name() == "site before the works"
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
