"""Analyst review in the real panel: keys pressed, the map tool clicked on the canvas,
the decisions read back from the saved file, the counts, verdict and site log.

Runs ``railwatch:detectrailcars`` on the demo scene (73 railcars, truth in
demo/tumangang_2023-10-05_truth.csv) through the panel, like test_panel.py.
"""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProject, QgsRasterLayer, QgsRectangle, QgsVectorLayer
from qgis.PyQt.QtCore import QPoint, Qt

from railwatch_plugin import site_log
from railwatch_plugin.review import ACCEPTED, ADDED, REJECTED, UNREVIEWED, is_counted
from railwatch_plugin.ui.dock import BASELINE_CSV, RailWatchDock

pytestmark = pytest.mark.gui
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "demo", "tumangang_2023-10-05.tif")
DEMO_TRUTH = os.path.join(REPO, "demo", "tumangang_2023-10-05_truth.csv")
DEMO_HISTORY = os.path.join(REPO, "demo", "tumangang_history.csv")
LAYER_0_2_0 = os.path.join(REPO, "tests", "data", "tumangang_2023-10-05_railcars_0.2.0.gpkg")
RUN_TIMEOUT_MS = 90_000


@pytest.fixture
def panel(panel, qgis_iface, qtbot):
    """conftest's dock, with the map canvas shown: a hidden canvas has a tiny viewport,
    and clicks on it would land nowhere near the cars."""
    canvas = qgis_iface.mapCanvas()
    window = canvas.window()
    window.resize(900, 700)
    canvas.resize(900, 700)
    window.show()
    qtbot.waitUntil(lambda: canvas.viewport().width() > 800, timeout=5000)
    return panel


class Analyst:
    """Presses keys and clicks like an analyst, and counts every press and click."""

    def __init__(self, dock, canvas, qtbot):
        self.dock, self.canvas, self.qtbot = dock, canvas, qtbot
        self.actions = 0

    def key(self, key, modifiers=Qt.KeyboardModifier.NoModifier):
        self.qtbot.keyClick(self.dock.review_panel, key, modifiers)
        self.actions += 1

    def click(self, button):
        assert button.isEnabled(), button.text()
        self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        self.actions += 1

    def pixel(self, point: QgsPointXY) -> QPoint:
        pixel = self.canvas.getCoordinateTransform().transform(point)
        return QPoint(int(round(pixel.x())), int(round(pixel.y())))

    def click_map(self, point: QgsPointXY):
        self.qtbot.mouseClick(self.canvas.viewport(), Qt.MouseButton.LeftButton, pos=self.pixel(point))
        self.actions += 1

    def zoom_out_to(self, points):
        """The map zoomed out to show ``points``, as a turn of the mouse wheel would: one action."""
        view = QgsRectangle(self.canvas.extent())
        for point in points:
            view.combineExtentWith(point)
        view.scale(1.1)
        self.canvas.setExtent(view)
        self.canvas.refresh()
        self.actions += 1

    def drag_map(self, start: QgsPointXY, end: QgsPointXY):
        viewport = self.canvas.viewport()
        self.qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=self.pixel(start))
        self.qtbot.mouseMove(viewport, pos=self.pixel(end))
        self.qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=self.pixel(end))
        self.actions += 1


def _count_demo(dock, qgis_iface, qtbot, history=True, aoi=None):
    raster = QgsRasterLayer(DEMO, "tumangang_2023-10-05")
    assert raster.isValid()
    QgsProject.instance().addMapLayer(raster)
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(raster.crs())
    canvas.setLayers([raster])
    canvas.setExtent(raster.extent())
    qgis_iface.setActiveLayer(raster)
    qgis_iface.currentLayerChanged.emit(None)
    if history:
        dock.set_baseline_source(BASELINE_CSV)
        dock.history_csv_widget.setFilePath(DEMO_HISTORY)
    if aoi is not None:
        dock.options.aoi_combo.setLayer(aoi)
    qtbot.mouseClick(dock.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dock._busy(), timeout=RUN_TIMEOUT_MS)
    assert dock.last_detection is not None, dock.messages
    return raster


def _saved(path):
    """The cars as the file on disk holds them: fid -> feature."""
    layer = QgsVectorLayer(path, "as saved", "ogr")
    assert layer.isValid(), path
    return {f.id(): f for f in layer.getFeatures()}


def _file(layer):
    return layer.source().split("|")[0]


def _verdict_follows(dock, qtbot, count):
    qtbot.waitUntil(lambda: dock.baseline_view.summary.startswith(f"{count} railcars on 2023-10-05"), timeout=RUN_TIMEOUT_MS)


def test_keys_and_the_map_tool_review_the_run_and_the_count_verdict_and_log_follow(panel, qgis_iface, qtbot):
    _count_demo(panel, qgis_iface, qtbot)
    review = panel.review_panel
    points = panel.last_detection["layers"]["points"]
    automatic = panel.last_detection["count"]
    assert abs(automatic - 73) <= 2  # the detector's count of the demo's 73 cars (its accuracy is tested elsewhere)
    _verdict_follows(panel, qtbot, automatic)
    assert review.layer_combo.currentLayer() is points and review.start_button.isEnabled()

    analyst = Analyst(panel, qgis_iface.mapCanvas(), qtbot)
    analyst.click(review.start_button)
    path = _file(points)
    assert path.startswith(os.path.join(panel.site_log_folder, "reviews"))  # out of the temporary folder first
    saved = _saved(path)
    candidates = [f for f in saved.values() if f["confidence"] < 0.5]
    assert len(saved) == automatic + len(candidates) and candidates  # the run's candidates are offered too
    assert all(f["review"] == UNREVIEWED for f in saved.values())

    first = review.queue.current  # least certain first
    distances = sorted(abs(f["confidence"] - 0.5) for f in saved.values())
    assert abs(saved[first]["confidence"] - 0.5) == distances[0]
    assert review.highlight is not None
    assert qgis_iface.mapCanvas().extent().contains(saved[first].geometry().asPoint())
    view = qgis_iface.mapCanvas().extent()
    assert min(view.width(), view.height()) < 100  # zoomed in on the car

    analyst.key(Qt.Key.Key_A)
    saved = _saved(path)
    assert saved[first]["review"] == ACCEPTED and not saved[first]["reviewed_at"].isNull()  # written at once
    second = review.queue.current
    assert second != first
    analyst.key(Qt.Key.Key_R)
    assert _saved(path)[second]["review"] == REJECTED
    # The first car was accepted (a candidate below the threshold then counts too), the second rejected.
    expected = automatic + (saved[first]["confidence"] < 0.5) - (saved[second]["confidence"] >= 0.5)
    assert review.counts().reviewed == expected and review.counts().automatic == automatic
    assert f"Automatic <b>{automatic}</b> · reviewed <b>{expected}</b>" in panel.count_label.text()
    assert panel.results_view.reviewed_count(0) == expected
    _verdict_follows(panel, qtbot, expected)
    assert f"{expected} on 2023-10-05" in panel.baseline_view.svg  # the chart's point is the reviewed count

    analyst.key(Qt.Key.Key_U)  # undo: the car is unreviewed again, on disk too, and shown again
    assert _saved(path)[second]["review"] == UNREVIEWED and review.queue.current == second
    analyst.key(Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)  # redo
    assert _saved(path)[second]["review"] == REJECTED and review.queue.current not in (first, second)
    analyst.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _saved(path)[second]["review"] == UNREVIEWED
    analyst.key(Qt.Key.Key_R)
    assert points.undoStack().count() == 2  # accept, reject: the layer's own undo stack

    # A truck parked off the tracks... no: a missing car, drawn from one end to the other.
    analyst.key(Qt.Key.Key_C)
    assert qgis_iface.mapCanvas().mapTool() is review.tool
    # The demo's cars (a yard 700 m long) fit in a 1 km view: drawing mode shows them all.
    assert qgis_iface.mapCanvas().extent().contains(review.layer.extent())
    centre = qgis_iface.mapCanvas().extent().center()
    end_a, end_b = QgsPointXY(centre.x() - 6.0, centre.y() - 4.5), QgsPointXY(centre.x() + 6.0, centre.y() + 4.5)
    analyst.click_map(end_a)  # 15 m apart, heading 53°
    analyst.click_map(end_b)
    added = [f for f in _saved(path).values() if f["review"] == ADDED]
    assert len(added) == 1
    car = added[0]
    assert car["length_m"] == pytest.approx(15.0, abs=1.5) and car["heading_deg"] == pytest.approx(53.1, abs=4)
    assert car["width_m"] == 3.0 and car["kind"] == review.kind_combo.currentText()
    assert car.geometry().asPoint().distance(centre) < 1.5
    assert review.counts().reviewed == expected + 1 and review.counts().added == 1

    analyst.key(Qt.Key.Key_C)  # the drawing tool off: keys over the map still reach the review
    assert qgis_iface.mapCanvas().mapTool() is not review.tool
    qtbot.keyClick(qgis_iface.mapCanvas(), Qt.Key.Key_F)
    assert review.queue.finished and "review finished" in panel.count_label.text()
    _verdict_follows(panel, qtbot, expected + 1)
    qtbot.mouseClick(panel.save_log_button, Qt.MouseButton.LeftButton)
    (run,) = site_log.read_runs(panel.site_log_path())
    assert (run.count, run.reviewed_count, run.review_finished) == (automatic, expected + 1, True)

    analyst.click(review.start_button)  # Stop review: the run's reviewed count stays its count
    assert not review.active and f"reviewed <b>{expected + 1}</b>" in panel.count_label.text()
    assert panel.current_count() == expected + 1
    qtbot.mouseClick(panel.save_log_button, Qt.MouseButton.LeftButton)
    (run,) = site_log.read_runs(panel.site_log_path())
    assert (run.count, run.reviewed_count, run.review_finished) == (automatic, expected + 1, True)


def test_closing_mid_review_loses_nothing_and_the_review_resumes(panel, qgis_iface, qtbot, tmp_path):
    _count_demo(panel, qgis_iface, qtbot, history=False)
    review = panel.review_panel
    points = panel.last_detection["layers"]["points"]
    analyst = Analyst(panel, qgis_iface.mapCanvas(), qtbot)
    analyst.click(review.start_button)
    path = _file(points)
    decided = []
    for key in (Qt.Key.Key_A, Qt.Key.Key_R, Qt.Key.Key_S, Qt.Key.Key_R):
        decided.append((review.queue.current, key))
        analyst.key(key)
    counts_before = review.counts()
    next_car = review.queue.current

    # QGIS closes: the panel goes, the project is dropped, nothing is saved by anyone.
    panel.close_down()
    QgsProject.instance().clear()

    saved = _saved(path)
    want = {Qt.Key.Key_A: ACCEPTED, Qt.Key.Key_R: REJECTED, Qt.Key.Key_S: UNREVIEWED}
    assert [saved[fid]["review"] for fid, _ in decided] == [want[key] for _, key in decided]

    reopened = QgsVectorLayer(path, "tumangang_2023-10-05 railcars", "ogr")
    QgsProject.instance().addMapLayer(reopened)
    dock = RailWatchDock(qgis_iface)
    qtbot.addWidget(dock)
    try:
        dock.options.min_confidence_spin.setValue(0.1)  # not the run's: the copy remembers 0.5
        dock.review_panel.layer_combo.setLayer(reopened)
        qtbot.mouseClick(dock.review_panel.start_button, Qt.MouseButton.LeftButton)
        assert _file(reopened) == path  # a saved layer is reviewed in place
        assert dock.review_panel.queue.threshold == 0.5
        assert dock.review_panel.counts() == counts_before
        assert dock.review_panel.queue.current == decided[2][0]  # the skipped car comes first again
        assert next_car in dock.review_panel.queue.order
    finally:
        dock.close_down()


def test_a_layer_written_by_0_2_0_is_upgraded_in_place(panel, qgis_iface, qtbot, tmp_path):
    path = str(tmp_path / "railcars_0.2.0.gpkg")
    shutil.copy(LAYER_0_2_0, path)
    before = {f.id(): f.attributes() for f in QgsVectorLayer(path, "before", "ogr").getFeatures()}
    assert "review" not in QgsVectorLayer(path, "before", "ogr").fields().names()
    layer = QgsVectorLayer(path, "tumangang_2023-10-05 railcars", "ogr")
    QgsProject.instance().addMapLayer(layer)
    review = panel.review_panel
    review.layer_combo.setLayer(layer)
    qtbot.mouseClick(review.start_button, Qt.MouseButton.LeftButton)
    assert any("earlier RailWatch" in text for _, text in panel.messages)
    first = review.queue.current
    from qgis.core import QgsVectorLayerCache

    cache = QgsVectorLayerCache(layer, 100)  # what an open attribute table reads from
    cache.setFullCache(True)
    qtbot.keyClick(review, Qt.Key.Key_R)
    cached = QgsFeature()
    assert cache.featureAtId(first, cached) and cached["review"] == REJECTED  # the table shows it at once

    saved = _saved(path)
    assert _file(layer) == path and len(saved) == len(before) == 73
    for fid, feature in saved.items():
        assert feature.attributes()[: len(before[fid])] == before[fid]  # every 0.2.0 value kept
        assert feature["review"] == (REJECTED if fid == first else UNREVIEWED)
    assert review.counts().reviewed == 72 and review.counts().automatic == 73


def test_a_layer_with_review_but_no_reviewed_at_keeps_its_decisions(panel, qtbot, tmp_path):
    from qgis.core import QgsField
    from qgis.PyQt.QtCore import QVariant

    path = str(tmp_path / "railcars.gpkg")
    shutil.copy(LAYER_0_2_0, path)
    layer = QgsVectorLayer(path, "railcars", "ogr")
    assert layer.dataProvider().addAttributes([QgsField("review", QVariant.String)])
    layer.updateFields()
    fids = sorted(f.id() for f in layer.getFeatures())
    index = layer.fields().indexOf("review")
    layer.dataProvider().changeAttributeValues({fids[0]: {index: REJECTED}, fids[1]: {index: ACCEPTED}})
    QgsProject.instance().addMapLayer(layer)
    review = panel.review_panel
    review.layer_combo.setLayer(layer)
    qtbot.mouseClick(review.start_button, Qt.MouseButton.LeftButton)
    assert review.active and "reviewed_at" in layer.fields().names()
    saved = _saved(path)
    assert (saved[fids[0]]["review"], saved[fids[1]]["review"]) == (REJECTED, ACCEPTED)
    assert (review.counts().rejected, review.counts().accepted) == (1, 1)


def test_a_shapefile_is_refused_before_its_fields_are_cut(panel, qtbot, tmp_path):
    """A shapefile would cut 'reviewed_at' to 'reviewed_a': the review says how to go on
    instead of failing at the first decision."""
    from qgis.core import QgsVectorFileWriter

    path = str(tmp_path / "railcars.shp")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "ESRI Shapefile"
    source = QgsVectorLayer(LAYER_0_2_0, "railcars", "ogr")
    assert QgsVectorFileWriter.writeAsVectorFormatV3(source, path, QgsProject.instance().transformContext(),
                                                     options)[0] == QgsVectorFileWriter.NoError
    layer = QgsVectorLayer(path, "railcars", "ogr")
    names = layer.fields().names()
    QgsProject.instance().addMapLayer(layer)
    review = panel.review_panel
    review.layer_combo.setLayer(layer)
    qtbot.mouseClick(review.start_button, Qt.MouseButton.LeftButton)
    assert not review.active
    assert any("Shapefile" in text and "GeoPackage" in text for _, text in panel.messages)
    assert QgsVectorLayer(path, "again", "ogr").fields().names() == names  # nothing added


def _review_0_2_0_copy(panel, qtbot, tmp_path, start=True):
    """A copy of the demo's railcar layer as 0.2.0 wrote it, in the project and (``start``) under review."""
    path = str(tmp_path / "railcars.gpkg")
    shutil.copy(LAYER_0_2_0, path)
    layer = QgsVectorLayer(path, "railcars", "ogr")
    QgsProject.instance().addMapLayer(layer)
    review = panel.review_panel
    review.layer_combo.setLayer(layer)
    if start:
        qtbot.mouseClick(review.start_button, Qt.MouseButton.LeftButton)
    return path, layer, review


def test_moving_or_deleting_a_car_with_qgis_editing_counts_as_review(panel, qgis_iface, qtbot, tmp_path):
    path, layer, review = _review_0_2_0_copy(panel, qtbot, tmp_path)
    moved, deleted = sorted(review.queue.order)[:2]

    layer.startEditing()
    point = layer.getFeature(moved).geometry().asPoint()
    layer.beginEditCommand("move")
    layer.changeGeometry(moved, QgsGeometry.fromPointXY(QgsPointXY(point.x() + 2.0, point.y())))
    layer.endEditCommand()
    qtbot.waitUntil(lambda: review.queue.items[moved].review == ACCEPTED, timeout=2000)
    assert _saved(path)[moved]["review"] == ACCEPTED
    layer.deleteFeature(deleted)
    assert review.counts().reviewed == 72 and deleted not in review.queue.items
    layer.undoStack().undo()  # the deletion
    assert review.counts().reviewed == 73
    layer.deleteFeature(deleted)
    assert layer.commitChanges()
    saved = _saved(path)
    assert deleted not in saved and saved[moved].geometry().asPoint().x() == pytest.approx(point.x() + 2.0)
    assert review.counts().reviewed == 72


def _demo_truth():
    rows = np.genfromtxt(DEMO_TRUTH, delimiter=",", names=True, dtype=None, encoding="utf-8")
    return [(float(r["x"]), float(r["y"]), float(r["length_m"])) for r in rows]


def _nearest(point, others):
    """Index of the point of ``others`` nearest ``point`` and its distance (m)."""
    distances = [math.hypot(point[0] - x, point[1] - y) for x, y in others]
    return int(np.argmin(distances)), min(distances)


def test_demo_with_10_cars_missing_and_5_false_reaches_73_in_at_most_30_presses(panel, qgis_iface, qtbot):
    """Issue 13's target: from a damaged result to the confirmed 73, counting every key and click.

    The damage is made up to 10 missing and 5 false cars in all: the cars the
    detector itself missed or invented count among them, so the scenario is
    the same whatever the shipped network gets right. A car stands on a true
    one within 4 m of its centre (the demo's tracks are 5.5 m apart)."""
    raster = _count_demo(panel, qgis_iface, qtbot, history=False)
    points = panel.last_detection["layers"]["points"]
    truth = _demo_truth()
    assert len(truth) == 73
    centres = [(x, y) for x, y, _ in truth]
    on_m = 4.0

    def true_car_under(p, counted):
        """Index of the true car that ``p`` stands on, unless a car of ``counted`` stands on it already."""
        index, distance = _nearest((p.x(), p.y()), centres)
        if distance >= on_m:
            return None
        others = [(q.x(), q.y()) for q in counted if q.distance(p) > 0.01]
        taken = others and _nearest(centres[index], others)[1] < on_m
        return None if taken else index

    detected = sorted((f for f in points.getFeatures() if f["confidence"] >= 0.5), key=lambda f: f.id())
    true_cars, own_false, on_truth = [], [], []
    for feature in detected:
        p = feature.geometry().asPoint()
        if true_car_under(p, on_truth) is None:
            own_false.append(feature)
        else:
            true_cars.append(feature)
            on_truth.append(p)
    own_missed = 73 - len(true_cars)
    assert own_missed <= 2 and len(own_false) <= 2  # the detector's own mistakes leave room for the scenario's

    # Damage the result before the review: true cars deleted and false cars added (look-alikes
    # the detector would score just above the threshold, away from every true car) until
    # 10 are missing and 5 are false.
    rng = np.random.default_rng(13)
    removed = [true_cars[i] for i in rng.choice(len(true_cars), 10 - own_missed, replace=False)]
    assert points.dataProvider().deleteFeatures([f.id() for f in removed])
    false_cars = [f.geometry().asPoint() for f in own_false]
    for i, confidence in enumerate((0.55, 0.6, 0.65, 0.7, 0.75)[: 5 - len(own_false)]):
        feature = QgsFeature(points.fields())
        x, y = 631350.0 + 120.0 * i, 4697810.0 - 20.0 * i  # on the image, in the fields north of the yard
        assert raster.extent().contains(QgsPointXY(x, y))
        assert _nearest((x, y), centres)[1] > 10
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        for name, value in (("confidence", confidence), ("length_m", 14.0), ("width_m", 3.0), ("heading_deg", 62.0),
                            ("kind", "box"), ("method", "single"), ("string_id", -1), ("review", UNREVIEWED)):
            feature[name] = value
        false_cars.append(QgsPointXY(x, y))
        assert points.dataProvider().addFeatures([feature])[0]
    points.updateExtents()

    review = panel.review_panel
    analyst = Analyst(panel, qgis_iface.mapCanvas(), qtbot)
    analyst.click(review.start_button)
    assert review.counts().reviewed == 68

    def counted_points():
        return [f.geometry().asPoint() for f in review.review_layer.layer.getFeatures()
                if is_counted(f["review"], f["confidence"], 0.5)]

    def a_false_car_counts():
        return any(min(p.distance(q) for q in false_cars) < 1.0 for p in counted_points())

    # Step through, least certain first, until the false cars are rejected; a
    # candidate on a missed car is accepted on the way, one on nothing rejected.
    while a_false_car_counts():
        assert review.queue.current is not None
        p = review.review_layer.feature(review.queue.current).geometry().asPoint()
        analyst.key(Qt.Key.Key_R if true_car_under(p, counted_points()) is None else Qt.Key.Key_A)

    # Draw the cars still missing, end to end as the image shows them (heading: their track's).
    analyst.key(Qt.Key.Key_C)
    headings = [(f.geometry().asPoint().x(), f.geometry().asPoint().y(), f["heading_deg"]) for f in detected]
    counted = [(q.x(), q.y()) for q in counted_points()]
    missing = [(x, y, length_m) for x, y, length_m in truth if _nearest((x, y), counted)[1] >= on_m]
    outside = [QgsPointXY(x, y) for x, y, _ in missing if not qgis_iface.mapCanvas().extent().contains(QgsPointXY(x, y))]
    if outside:  # the tool shows the whole yard, or 500 m round the last car seen on a larger one
        analyst.zoom_out_to(outside)
    for x, y, length_m in missing:
        h = math.radians(headings[_nearest((x, y), [(hx, hy) for hx, hy, _ in headings])[0]][2])
        dx, dy = length_m / 2 * math.sin(h), length_m / 2 * math.cos(h)
        analyst.click_map(QgsPointXY(x - dx, y - dy))
        analyst.click_map(QgsPointXY(x + dx, y + dy))
    analyst.key(Qt.Key.Key_F)

    counts = review.counts()
    assert counts.reviewed == 73 and counts.rejected >= 5 and 9 <= counts.added <= 10
    assert review.queue.finished
    # The confirmed cars are the true ones: each true car has one counted car on it.
    counted = [f.geometry().asPoint() for f in _saved(_file(points)).values()
               if is_counted(f["review"], f["confidence"], 0.5)]
    assert len(counted) == 73
    assert all(_nearest(centre, [(p.x(), p.y()) for p in counted])[1] < on_m for centre in centres)
    print(f"\nissue 13 target: {analyst.actions} key presses and clicks to the confirmed 73")
    assert analyst.actions <= 30


def test_a_car_dragged_from_end_to_end_is_added_with_its_length_and_heading(panel, qgis_iface, qtbot, tmp_path):
    path, layer, review = _review_0_2_0_copy(panel, qtbot, tmp_path, start=False)
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(layer.crs())
    review.kind_combo.setCurrentText("tank")
    analyst = Analyst(panel, canvas, qtbot)
    analyst.click(review.start_button)
    analyst.key(Qt.Key.Key_C)
    centre = canvas.extent().center()
    analyst.drag_map(QgsPointXY(centre.x(), centre.y() - 8.0), QgsPointXY(centre.x(), centre.y() + 8.0))
    (car,) = [f for f in _saved(path).values() if f["review"] == ADDED]
    assert car["length_m"] == pytest.approx(16.0, abs=1.5) and car["kind"] == "tank"
    assert min(car["heading_deg"], 180 - car["heading_deg"]) < 5  # north-south
    assert analyst.actions == 3 and review.counts().reviewed == 74
    analyst.key(Qt.Key.Key_U)  # undo the addition: gone from the file
    assert not [f for f in _saved(path).values() if f["review"] == ADDED] and review.counts().reviewed == 73


def test_reviewed_counts_per_area_of_interest(panel, qgis_iface, tmp_path):
    from qgis.core import QgsField
    from qgis.PyQt.QtCore import QVariant

    from railwatch_plugin.review import ReviewQueue
    from railwatch_plugin.ui.review_layer import ReviewLayer

    path = str(tmp_path / "railcars.gpkg")
    shutil.copy(LAYER_0_2_0, path)
    cars = QgsVectorLayer(path, "railcars", "ogr")
    review = ReviewLayer(cars)
    extent = cars.extent()
    west = QgsVectorLayer(f"Polygon?crs={cars.crs().authid()}&field=name:string", "aoi", "memory")
    feature = QgsFeature(west.fields())
    half = extent.xMinimum() + extent.width() / 2
    feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(extent.xMinimum() - 5, extent.yMinimum() - 5, half,
                                                          extent.yMaximum() + 5)))
    feature["name"] = "west"
    west.dataProvider().addFeatures([feature])
    table = QgsVectorLayer("None", "counts", "memory")
    table.dataProvider().addAttributes([QgsField("aoi", QVariant.String), QgsField("count", QVariant.Int),
                                        QgsField("reviewed_count", QVariant.Int)])
    table.updateFields()
    rows = []
    for aoi in (None, "west"):
        row = QgsFeature(table.fields())
        row.setAttributes([aoi, 0, None])
        rows.append(row)
    table.dataProvider().addFeatures(rows)
    in_west = [f.id() for f in cars.getFeatures() if f.geometry().asPoint().x() < half]
    review.decide(in_west[0], REJECTED)
    queue = ReviewQueue(review.items(), 0.5)
    view = panel.results_view
    view.show_table(table, cars, None, west)
    view.show_reviewed_counts(table, review, queue, west)
    assert [view.reviewed_count(0), view.reviewed_count(1)] == [72, len(in_west) - 1]
    assert [f["reviewed_count"] for f in table.getFeatures()] == [72, len(in_west) - 1]


def test_reviewed_counts_per_area_follow_the_runs_areas_not_the_options(panel, qgis_iface, qtbot):
    raster = QgsRasterLayer(DEMO, "extent only")
    extent = raster.extent()
    half = extent.xMinimum() + extent.width() / 2
    areas = QgsVectorLayer(f"Polygon?crs={raster.crs().authid()}&field=name:string", "yards", "memory")
    for name, x0, x1 in (("west", extent.xMinimum(), half), ("east", half, extent.xMaximum())):
        feature = QgsFeature(areas.fields())
        feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(x0, extent.yMinimum(), x1, extent.yMaximum())))
        feature["name"] = name
        areas.dataProvider().addFeatures([feature])
    QgsProject.instance().addMapLayer(areas)
    _count_demo(panel, qgis_iface, qtbot, history=False, aoi=areas)
    view = panel.results_view
    assert view.rowCount() == 2
    panel.options.aoi_combo.setLayer(None)  # the analyst clears the option for the next run, mid-review
    review = panel.review_panel
    qtbot.mouseClick(review.start_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(review, Qt.Key.Key_R)
    rows = [view.reviewed_count(0), view.reviewed_count(1)]
    assert sum(rows) == review.counts().reviewed and min(rows) > 0  # each area its own, not the whole image's


def test_discarding_qgis_edits_keeps_the_review_decisions(panel, qgis_iface, qtbot, tmp_path):
    """QGIS asks to save or discard edits when it closes; discarding rolls the undo stack
    back, which must not take the (already saved) review decisions with it, but does take
    back the acceptance that only followed from a discarded move."""
    path, layer, review = _review_0_2_0_copy(panel, qtbot, tmp_path)
    rejected = review.queue.current
    qtbot.keyClick(review, Qt.Key.Key_R)
    layer.startEditing()
    moved = review.queue.current
    point = layer.getFeature(moved).geometry().asPoint()
    layer.changeGeometry(moved, QgsGeometry.fromPointXY(QgsPointXY(point.x() + 3.0, point.y())))
    qtbot.waitUntil(lambda: review.queue.items[moved].review == ACCEPTED, timeout=2000)
    # A second car moved, then rejected by the analyst: the rejection is the analyst's own.
    moved_then_rejected = next(k for k in review.queue.order if k not in (rejected, moved))
    other = layer.getFeature(moved_then_rejected).geometry().asPoint()
    layer.changeGeometry(moved_then_rejected, QgsGeometry.fromPointXY(QgsPointXY(other.x(), other.y() + 3.0)))
    qtbot.waitUntil(lambda: review.queue.items[moved_then_rejected].review == ACCEPTED, timeout=2000)
    review.review_layer.decide(moved_then_rejected, REJECTED)
    assert review.counts().accepted == 1 and review.counts().rejected == 2
    assert layer.rollBack()
    saved = _saved(path)
    assert saved[rejected]["review"] == REJECTED  # kept
    assert saved[moved].geometry().asPoint().x() == pytest.approx(point.x())  # the move is discarded
    assert saved[moved]["review"] == UNREVIEWED and saved[moved]["reviewed_at"].isNull()  # and its acceptance
    assert saved[moved_then_rejected]["review"] == REJECTED
    assert review.queue.items[rejected].review == REJECTED and review.queue.items[moved].review == UNREVIEWED
    assert (review.counts().accepted, review.counts().rejected, review.counts().reviewed) == (0, 2, 71)


def test_keys_over_the_map_are_qgis_digitizing_keys_while_its_editing_tool_is_on(panel, qgis_iface, qtbot,
                                                                                  tmp_path):
    """With one of QGIS's editing tools on the map (Add Point Feature, Move Feature...: all are
    QgsMapToolEdit), A, C, D... are advanced digitizing's keys: they must not accept cars or
    swap in the review's drawing tool."""
    from qgis.gui import QgsMapToolEdit

    path, layer, review = _review_0_2_0_copy(panel, qtbot, tmp_path)
    canvas = qgis_iface.mapCanvas()
    first = review.queue.current
    editing = QgsMapToolEdit(canvas)
    canvas.setMapTool(editing)
    try:
        qtbot.keyClick(canvas, Qt.Key.Key_A)
        qtbot.keyClick(canvas, Qt.Key.Key_C)
        assert review.queue.current == first and review.counts().accepted == 0
        assert canvas.mapTool() is editing
        qtbot.keyClick(review, Qt.Key.Key_A)  # over the panel the keys are the review's
        assert review.counts().accepted == 1 and _saved(path)[first]["review"] == ACCEPTED
    finally:
        canvas.unsetMapTool(editing)
    qtbot.keyClick(canvas, Qt.Key.Key_R)  # no editing tool: over the map too
    assert review.counts().rejected == 1


def test_decisions_are_no_unsaved_edits_for_qgis(panel, qgis_iface, qtbot, tmp_path):
    """Decisions are in the file already: switching editing on and off again with nothing
    edited must not make QGIS ask to save changes (it asks when the layer is modified)."""
    path, layer, review = _review_0_2_0_copy(panel, qtbot, tmp_path)
    rejected = review.queue.current
    qtbot.keyClick(review, Qt.Key.Key_R)
    qtbot.keyClick(review, Qt.Key.Key_U)
    qtbot.keyClick(review, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert layer.startEditing()
    assert not layer.isModified()
    point = layer.getFeature(rejected).geometry().asPoint()
    layer.changeGeometry(rejected, QgsGeometry.fromPointXY(QgsPointXY(point.x() + 1.0, point.y())))
    assert layer.isModified()  # a real edit is one
    assert layer.rollBack()
    assert _saved(path)[rejected]["review"] == REJECTED and review.counts().rejected == 1


def test_a_point_added_with_qgis_editing_is_an_added_car(panel, qgis_iface, qtbot, tmp_path):
    """QGIS's own Add Point Feature (what QgsFeatureAction does: a feature with the layer's
    defaults, added in one edit command) makes an added car with the dock's kind."""
    from qgis.core import QgsVectorLayerUtils

    path, layer, review = _review_0_2_0_copy(panel, qtbot, tmp_path)
    review.kind_combo.setCurrentText("tank")
    assert review.counts().reviewed == 73
    layer.startEditing()
    centre = layer.extent().center()
    feature = QgsVectorLayerUtils.createFeature(layer, QgsGeometry.fromPointXY(centre))
    layer.beginEditCommand("Feature added")
    assert layer.addFeature(feature)
    layer.endEditCommand()
    fid = feature.id()
    qtbot.waitUntil(lambda: review.counts().added == 1, timeout=2000)
    car = layer.getFeature(fid)
    assert (car["review"], car["kind"], car["length_m"], car["width_m"]) == (ADDED, "tank", 15.0, 3.0)
    assert not car["reviewed_at"].isNull() and car["scene"] == "tumangang_2023-10-05"
    assert review.counts().reviewed == 74

    stack = layer.undoStack()
    stack.undo()  # the mark: a point without a decision or confidence, not counted
    assert layer.getFeature(fid)["review"] != ADDED and review.counts().reviewed == 73
    stack.redo()
    qtbot.wait(50)  # the redone addition must not be marked a second time
    assert layer.getFeature(fid)["review"] == ADDED and review.counts().reviewed == 74
    assert stack.index() == stack.count() == 2

    assert layer.commitChanges()  # saved with QGIS's edits, under its new id
    (saved,) = [f for f in _saved(path).values() if f["review"] == ADDED]
    assert saved["kind"] == "tank" and saved.geometry().asPoint().distance(centre) < 0.01
    assert review.counts().added == 1 and review.counts().reviewed == 74

    layer.startEditing()  # a second point, discarded with QGIS's edits
    second = QgsVectorLayerUtils.createFeature(layer, QgsGeometry.fromPointXY(QgsPointXY(centre.x() + 30, centre.y())))
    layer.beginEditCommand("Feature added")
    assert layer.addFeature(second)
    layer.endEditCommand()
    qtbot.waitUntil(lambda: review.counts().added == 2, timeout=2000)
    assert layer.rollBack()
    assert review.counts().added == 1 and review.counts().reviewed == 74
    assert len([f for f in _saved(path).values() if f["review"] == ADDED]) == 1
