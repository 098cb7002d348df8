"""railwatch:adaptdetector and the MODEL parameter of detectrailcars, through processing.run on
the easy synthetic yard (conftest): the model file it writes, the model that runs, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProcessingException, QgsVectorLayer

from railwatch_plugin.algorithms.ground_resolution import pixel_to_map

UTM_GT = (500000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5)  # write_geotiff's default placement


def reviewed_layer(scene, review_of=lambda i: "accepted", with_review_field=True, bare=False):
    fields = "&field=review:string" if with_review_field else ""
    layer = QgsVectorLayer(f"Point?crs=EPSG:32652{fields}&field=length_m:double&field=heading_deg:double",
                           "reviewed", "memory")
    features = []
    for i, car in enumerate(scene.cars):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*pixel_to_map(UTM_GT, car.col_px, car.row_px))))
        values = [None, None] if bare else [car.length_m, car.heading_deg]
        feature.setAttributes(([review_of(i)] if with_review_field else []) + values)
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def blind_model(path):
    from railwatch_plugin.core.model_file import load_model, save_model

    weights = {k: np.array(v, copy=True) for k, v in load_model(None).weights.items()}
    head = max(int(k[4:-2]) for k in weights if k.endswith("_w"))
    weights[f"conv{head}_w"][0] = 0.0
    weights[f"conv{head}_b"][0] = -30.0
    save_model(str(path), weights, {"name": "blind"})
    return str(path)


def test_adaptdetector_writes_a_model_that_detectrailcars_runs(run_railwatch, easy_yard, easy_yard_tif, tmp_path, info_feedback):
    out = str(tmp_path / "site.npz")
    # Half the cars accepted, a quarter added as bare points would need a second layer: here
    # every fourth car is left unreviewed, which must not count as a mistake.
    layer = reviewed_layer(easy_yard, lambda i: "unreviewed" if i % 4 == 3 else "accepted")
    result = run_railwatch("adaptdetector", {"REVIEWED": [layer], "IMAGES": [str(easy_yard_tif)], "OUTPUT_MODEL": out},
                           feedback=info_feedback)
    from railwatch_plugin.core.model_file import load_model

    model = load_model(out)
    assert result["MODEL_NAME"] == model.label
    assert model.header["base_model"] == load_model(None).label
    assert model.header["positives"] == sum(1 for i in range(len(easy_yard.cars)) if i % 4 != 3)
    assert set(model.header["validation"]) == {"base", "adapted", "differing", "folds"}
    differing = model.header["validation"]["differing"]
    assert (result["CARS_BETTER"], result["CARS_WORSE"]) == (differing["gains"], differing["losses"])
    if model.header["adapted"]:  # kept only beyond chance
        assert differing["gains"] > differing["losses"] and differing["chance"] <= 0.05
    for key in ("BASE_F1", "ADAPTED_F1", "BASE_COUNT_ERROR", "ADAPTED_COUNT_ERROR"):
        assert 0.0 <= result[key] <= 1.0 + 1e-9
    assert result["BASE_F1"] > 0.8  # the easy yard is easy for the shipped model
    log = "\n".join(info_feedback.messages)
    assert "base F1" in log and "adapted F1" in log
    detected = run_railwatch("detectrailcars", {"INPUT": str(easy_yard_tif), "MODEL": out, "OUTPUT": "TEMPORARY_OUTPUT"})
    assert detected["MODEL_NAME"] == model.label
    assert {f["model"] for f in detected["OUTPUT"].getFeatures()} == {model.label}


def test_the_model_parameter_changes_which_weights_run(run_railwatch, easy_yard_tif, tmp_path):
    path = blind_model(tmp_path / "blind.npz")
    shipped = run_railwatch("detectrailcars", {"INPUT": str(easy_yard_tif), "OUTPUT": "TEMPORARY_OUTPUT",
                                               "OUTPUT_TABLE": "TEMPORARY_OUTPUT"})
    blind = run_railwatch("detectrailcars", {"INPUT": str(easy_yard_tif), "MODEL": path, "OUTPUT": "TEMPORARY_OUTPUT",
                                             "OUTPUT_TABLE": "TEMPORARY_OUTPUT"})
    assert shipped["COUNT"] > 20 and blind["COUNT"] == 0
    assert shipped["MODEL_NAME"].startswith("shipped@") and blind["MODEL_NAME"].startswith("blind@")
    assert [f["model"] for f in blind["OUTPUT_TABLE"].getFeatures()] == [blind["MODEL_NAME"]]
    history = run_railwatch("counthistory", {"INPUTS": [str(easy_yard_tif)], "MODEL": path, "OUTPUT": "TEMPORARY_OUTPUT"})
    rows = list(history["OUTPUT"].getFeatures())
    assert [r["count"] for r in rows] == [0] and [r["model"] for r in rows] == [blind["MODEL_NAME"]]


def test_a_bad_model_file_is_a_clear_error(run_railwatch, easy_yard_tif, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a model")
    with pytest.raises(QgsProcessingException, match="MODEL: .*not a RailWatch detector model"):
        run_railwatch("detectrailcars", {"INPUT": str(easy_yard_tif), "MODEL": str(bad), "OUTPUT": "TEMPORARY_OUTPUT"})
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(QgsProcessingException, match="MODEL: .*lacks"):
        run_railwatch("counthistory", {"INPUTS": [str(easy_yard_tif)], "MODEL": str(foreign), "OUTPUT": "TEMPORARY_OUTPUT"})


def bad_model(kind, tmp_path):
    """A MODEL file that cannot be used: missing, text, cut short, or another program's .npz."""
    path = tmp_path / f"{kind}.npz"
    if kind == "text":
        path.write_text("weights: see the attached spreadsheet\n")
    elif kind == "truncated":
        whole = open(blind_model(tmp_path / "whole.npz"), "rb").read()
        path.write_bytes(whole[: len(whole) // 2])
    elif kind == "foreign":
        np.savez(path, coef=np.zeros((3, 4)), intercept=np.zeros(3))  # a scikit-learn export, say
    return str(path)


MODEL_WORDS = {
    "missing": "does not exist",
    "text": "is no .npz archive at all",
    "truncated": "cut short",
    "foreign": "lacks conv0_w",
}


@pytest.mark.parametrize("kind", sorted(MODEL_WORDS))
@pytest.mark.parametrize("algorithm", ["detectrailcars", "counthistory"])
def test_a_bad_model_is_refused_before_the_run_and_leaves_no_file(algorithm, kind, railwatch_plugin, easy_yard_tif,
                                                                   tmp_path, info_feedback):
    from qgis.core import QgsApplication, QgsProcessingContext

    path = bad_model(kind, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    if algorithm == "detectrailcars":
        parameters = {"INPUT": str(easy_yard_tif), "OUTPUT": str(out / "cars.gpkg"),
                      "OUTPUT_TABLE": str(out / "counts.csv")}
    else:
        parameters = {"INPUTS": [str(easy_yard_tif)], "OUTPUT": str(out / "history.csv")}
    parameters["MODEL"] = path
    expected = f"MODEL: {'the model file ' if kind == 'missing' else ''}{path}"
    fix = "or leave MODEL empty to use the model shipped with RailWatch"
    instance = QgsApplication.processingRegistry().createAlgorithmById(f"railwatch:{algorithm}")
    # the toolbox and processing.run: refused before the run starts
    ok, message = instance.checkParameterValues(parameters, QgsProcessingContext())
    assert not ok
    assert message.startswith(expected) and MODEL_WORDS[kind] in message and fix in message
    # the panel's background task runs without checkParameterValues: refused first thing all the same
    results, ok = instance.run(parameters, QgsProcessingContext(), info_feedback)
    assert not ok and results == {}
    assert any(m.startswith(expected) and fix in m for m in info_feedback.messages), info_feedback.messages
    assert sorted(p.name for p in out.iterdir()) == []


def test_adaptdetector_says_what_is_wrong_with_its_input(run_railwatch, easy_yard, easy_yard_tif, tmp_path):
    out = str(tmp_path / "m.npz")
    with pytest.raises(QgsProcessingException, match="no 'review' field"):
        run_railwatch("adaptdetector", {"REVIEWED": [reviewed_layer(easy_yard, with_review_field=False)],
                                        "IMAGES": [str(easy_yard_tif)], "OUTPUT_MODEL": out})
    with pytest.raises(QgsProcessingException, match="1 layer.*IMAGES 2"):
        run_railwatch("adaptdetector", {"REVIEWED": [reviewed_layer(easy_yard)],
                                        "IMAGES": [str(easy_yard_tif), str(easy_yard_tif)], "OUTPUT_MODEL": out})
    with pytest.raises(QgsProcessingException, match="at least 20"):
        run_railwatch("adaptdetector", {"REVIEWED": [reviewed_layer(easy_yard, lambda i: "accepted" if i < 5 else "rejected")],
                                        "IMAGES": [str(easy_yard_tif)], "OUTPUT_MODEL": out})
    bad = tmp_path / "bad.npz"
    bad.write_text("x")
    with pytest.raises(QgsProcessingException, match="MODEL: .*not a RailWatch detector model"):
        run_railwatch("adaptdetector", {"REVIEWED": [reviewed_layer(easy_yard)], "IMAGES": [str(easy_yard_tif)],
                                        "BASE_MODEL": str(bad), "OUTPUT_MODEL": out})


def test_review_values_and_headings_are_read_as_the_review_writes_them(tmp_path, info_feedback):
    """The layer's review values go through issue 13's normalize_review, and its headings
    (clockwise from north, as detectrailcars writes them) are turned to the image's up."""
    from qgis.core import QgsProcessingContext, QgsRasterLayer

    from railwatch_plugin.algorithms.adapt_algorithm import reviewed_scene
    from railwatch_plugin.core.adapt import IGNORE, NEGATIVE, POSITIVE
    from railwatch_synth import write_geotiff

    turned_gt = (631500.0, 0.0, -0.5, 4697800.0, -0.5, 0.0)  # a quarter turn: the image's up is east
    path = write_geotiff(np.zeros((160, 200, 3), np.uint8), str(tmp_path / "turned.tif"), geotransform=turned_gt)
    raster = QgsRasterLayer(path, "turned")
    assert raster.isValid()
    layer = QgsVectorLayer("Point?crs=EPSG:32652&field=review:string&field=length_m:double&field=heading_deg:double",
                           "reviewed", "memory")
    features = []
    for i, (review, heading) in enumerate((("Accepted ", 0.0), ("rejected", 90.0), ("maybe", 0.0), (None, 45.0))):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*pixel_to_map(turned_gt, 50.0 + 30 * i, 80.0))))
        feature.setAttributes([review, 15.0, heading])
        features.append(feature)
    layer.dataProvider().addFeatures(features)

    scene = reviewed_scene(layer, raster, QgsProcessingContext(), info_feedback)
    assert [c.status for c in scene.cars] == [POSITIVE, NEGATIVE, IGNORE, IGNORE]
    assert [c.heading_deg for c in scene.cars] == pytest.approx([90.0, 0.0, 90.0, 135.0])  # north-south lies across the image
    assert any("['maybe']" in m and "taken as unreviewed" in m for m in info_feedback.messages)

    unreviewed = QgsVectorLayer("Point?crs=EPSG:32652&field=review:string", "unreviewed", "memory")
    feature = QgsFeature(unreviewed.fields())
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*pixel_to_map(turned_gt, 50.0, 80.0))))
    feature.setAttributes(["unreviewed"])
    unreviewed.dataProvider().addFeatures([feature])
    with pytest.raises(QgsProcessingException, match="has no reviewed car"):
        reviewed_scene(unreviewed, raster, QgsProcessingContext(), info_feedback)


def test_adaptdetector_checks_where_the_model_goes_before_it_adapts(run_railwatch, easy_yard, easy_yard_tif, tmp_path):
    out = str(tmp_path / "no such folder" / "m.npz")
    with pytest.raises(QgsProcessingException, match="OUTPUT_MODEL .*does not exist"):
        run_railwatch("adaptdetector", {"REVIEWED": [reviewed_layer(easy_yard)], "IMAGES": [str(easy_yard_tif)],
                                        "OUTPUT_MODEL": out})
    assert not (tmp_path / "no such folder").exists()


def test_adaptdetector_names_the_layer_or_image_that_is_wrong(run_railwatch, railwatch_plugin, easy_yard, easy_yard_tif,
                                                              tmp_path, info_feedback, capfd):
    from qgis.core import QgsApplication, QgsProcessingContext

    out = str(tmp_path / "m.npz")
    empty = QgsVectorLayer("Point?crs=EPSG:32652&field=review:string", "empty", "memory")
    with pytest.raises(QgsProcessingException, match="REVIEWED: empty has no reviewed car: it holds no car at all"):
        run_railwatch("adaptdetector", {"REVIEWED": [empty], "IMAGES": [str(easy_yard_tif)], "OUTPUT_MODEL": out})
    with pytest.raises(QgsProcessingException, match=f"REVIEWED: {easy_yard_tif} is an image, not a layer of railcars"):
        run_railwatch("adaptdetector", {"REVIEWED": [str(easy_yard_tif)], "IMAGES": [str(easy_yard_tif)], "OUTPUT_MODEL": out})
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"\x00garbage" * 500)
    parameters = {"REVIEWED": [reviewed_layer(easy_yard), reviewed_layer(easy_yard)],
                  "IMAGES": [str(easy_yard_tif), str(broken)], "OUTPUT_MODEL": out}
    capfd.readouterr()
    with pytest.raises(QgsProcessingException, match=f"IMAGES: {broken} is not an image GDAL can read"):
        run_railwatch("adaptdetector", parameters)
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("railwatch:adaptdetector")
    for name in ("REVIEWED", "IMAGES"):  # qgis_process's first check: no file loaded as every kind of layer
        assert algorithm.parameterDefinition(name).checkValueIsAcceptable(str(broken), QgsProcessingContext()) is False
    assert "Unable to load mesh" not in capfd.readouterr().err
    # without checkParameterValues (a background task): the image is named, not taken for a missing one
    results, ok = algorithm.run(parameters, QgsProcessingContext(), info_feedback)
    assert not ok and results == {}
    assert any(m.startswith(f"IMAGES: {broken} is not an image GDAL can read") for m in info_feedback.messages)
    assert not any("REVIEWED has 2 layer(s) and IMAGES 1" in m for m in info_feedback.messages)
    assert not (tmp_path / "m.npz").exists()
