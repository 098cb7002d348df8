"""The label format exportlabels writes, read back without QGIS."""

import json

import pytest

from railwatch_plugin.core.labels import LOOKALIKE, RAILCAR, LabelCar, LabelWindow, read_labels, write_labels


def test_labels_written_are_read_back_the_same(tmp_path):
    window = LabelWindow(
        image="windows/000_yard.tif", scene="yard", acquired="2023-10-05", source="/data/yard.tif",
        gsd_m=(0.5, 0.5), width_px=200, height_px=100, crs="EPSG:32652",
        geotransform=(500000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5),
        cars=[LabelCar(10.5, 20.25, 15.0, 3.0, 60.0, "tank", RAILCAR, "accepted"),
              LabelCar(50.0, 60.0, 12.0, 2.5, 90.0, "box", LOOKALIKE, "rejected")],
    )
    path = write_labels(str(tmp_path), [window])
    document = json.loads(open(path, encoding="utf-8").read())
    assert document["format"] == "railwatch-labels" and document["version"] == 1
    assert document["windows"][0]["cars"][1]["label"] == "lookalike"
    (back,) = read_labels(str(tmp_path))
    assert back == window
    assert back.image_path(str(tmp_path)) == str(tmp_path / "windows" / "000_yard.tif")


def test_a_file_of_another_format_or_a_newer_version_is_refused(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"format": "coco", "windows": []}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a RailWatch label file"):
        read_labels(str(tmp_path))
    (tmp_path / "labels.json").write_text(json.dumps({"format": "railwatch-labels", "version": 9, "windows": []}))
    with pytest.raises(ValueError, match="version 9"):
        read_labels(str(tmp_path))
