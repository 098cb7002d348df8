"""The site's monitoring log: one row per scene, atomic saves, readable as a history."""

from __future__ import annotations

import hashlib
import os
import sqlite3

import pytest

from railwatch_plugin import site_log
from railwatch_plugin.site_log import RunRecord


def _digest(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _record(scene="tumangang_2023-10-05", acquired="2023-10-05", count=73, **extra):
    return RunRecord(scene=scene, acquired=acquired, count=count, mean_confidence=0.81,
                     parameters={"MIN_CONFIDENCE": 0.5}, plugin_version="0.1.0", **extra)


def test_saving_the_same_scene_twice_replaces_it(tmp_path):
    path = str(tmp_path / "tumangang.gpkg")
    site_log.save_run(path, _record(count=70))
    site_log.save_run(path, _record(scene="tumangang_2022-09-01", acquired="2022-09-01", count=18))
    site_log.save_run(path, _record(count=73))

    runs = site_log.read_runs(path)
    assert [(r.scene, r.acquired, r.count) for r in runs] == [
        ("tumangang_2022-09-01", "2022-09-01", 18),
        ("tumangang_2023-10-05", "2023-10-05", 73),
    ]
    assert runs[1].parameters == {"MIN_CONFIDENCE": 0.5}
    assert runs[1].plugin_version == "0.1.0"
    assert runs[1].saved_at.endswith("Z")


def test_same_scene_without_date_is_not_duplicated_either(tmp_path):
    path = str(tmp_path / "undated.gpkg")
    site_log.save_run(path, _record(scene="undated", acquired=None, count=4))
    site_log.save_run(path, _record(scene="undated", acquired=None, count=5))
    assert [(r.scene, r.acquired, r.count) for r in site_log.read_runs(path)] == [("undated", None, 5)]


def test_an_interrupted_save_leaves_the_file_unchanged(tmp_path, monkeypatch):
    path = str(tmp_path / "tumangang.gpkg")
    site_log.save_run(path, _record(count=70))
    before = _digest(path)

    def power_cut(conn, record):
        # The old row of this scene has been deleted inside the transaction by now.
        raise KeyboardInterrupt("power cut half-way through the save")

    monkeypatch.setattr(site_log, "_insert_run", power_cut)
    with pytest.raises(KeyboardInterrupt):
        site_log.save_run(path, _record(count=99))

    assert _digest(path) == before
    assert [(r.scene, r.count) for r in site_log.read_runs(path)] == [("tumangang_2023-10-05", 70)]
    assert not (tmp_path / "tumangang.gpkg-journal").exists()


def test_the_log_is_a_geopackage_history_table(tmp_path):
    from osgeo import ogr

    path = str(tmp_path / "site.gpkg")
    site_log.save_run(path, _record())
    ds = ogr.Open(path)
    layer = ds.GetLayerByName("runs")
    names = [layer.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(layer.GetLayerDefn().GetFieldCount())]
    assert names == ["scene", "acquired", "count", "mean_confidence", "parameters", "plugin_version", "saved_at",
                     "reviewed_count", "review_finished"]
    feature = layer.GetNextFeature()
    assert feature.GetField("count") == 73
    assert feature.GetField("acquired") == "2023/10/05"  # an OGR Date field
    assert layer.GetFeatureCount() == 1
    assert sqlite3.connect(path).execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'


def test_site_names_and_paths():
    assert site_log.site_name_from_layer_name("tumangang_2023-10-05") == "tumangang"
    assert site_log.site_name_from_layer_name("Najin 20231005 pan") == "Najin pan"
    assert site_log.site_log_path("/logs", "Tumangang yard / east").endswith("/logs/Tumangang_yard_east.gpkg")


def test_a_log_written_by_0_2_0_is_upgraded_in_place_and_keeps_its_rows(tmp_path):
    import shutil

    from osgeo import ogr

    path = str(tmp_path / "tumangang.gpkg")
    shutil.copy(os.path.join(os.path.dirname(__file__), "data", "site_log_0.2.0.gpkg"), path)
    conn = sqlite3.connect(path)
    before = conn.execute('SELECT * FROM "runs" ORDER BY acquired').fetchall()
    conn.close()
    assert len(before) == 2 and len(before[0]) == 8  # fid + the seven 0.2.0 columns

    runs = site_log.read_runs(path)  # first use: upgraded
    assert [(r.scene, r.count, r.reviewed_count, r.review_finished) for r in runs] == [
        ("tumangang_2021-06-14", 12, None, None), ("tumangang_2022-10-04", 18, None, None)]
    site_log.save_run(path, _record(count=68, reviewed_count=73, review_finished=True))
    conn = sqlite3.connect(path)
    after = conn.execute('SELECT * FROM "runs" ORDER BY acquired').fetchall()
    conn.close()
    assert [row[:8] for row in after[:2]] == before and [row[8:] for row in after[:2]] == [(None, None)] * 2
    assert [(r.count, r.reviewed_count, r.review_finished) for r in site_log.read_runs(path)][-1] == (68, 73, True)

    dataset = ogr.Open(path)
    layer = dataset.GetLayerByName("runs")
    definition = layer.GetLayerDefn()
    names = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    assert names[-2:] == ["reviewed_count", "review_finished"]
    assert definition.GetFieldDefn(names.index("review_finished")).GetSubType() == ogr.OFSTBoolean
    assert layer.GetFeatureCount() == 3
    assert site_log.upgrade_site_log(path) is False  # already today's: nothing to do


def test_a_new_log_has_the_review_columns(tmp_path):
    path = str(tmp_path / "new.gpkg")
    site_log.save_run(path, _record())
    assert site_log.read_runs(path)[0].reviewed_count is None
    assert site_log.upgrade_site_log(path) is False
