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
