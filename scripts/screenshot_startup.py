"""Runs inside real QGIS desktop (``qgis --code``): opens the RailWatch panel on the
demo raster, presses Run, waits for the count and the baseline verdict, saves a
screenshot of the main window and quits.

With RAILWATCH_SHOT_REVIEW=1 it then starts a review of the cars and makes a few
decisions (accept, reject, accept), so the shot shows a review in progress;
with RAILWATCH_SHOT_REVIEW=add it then presses C (Add car), so the shot shows
the view an analyst gets to draw a missed car in.

Environment: RAILWATCH_SHOT (PNG to write), RAILWATCH_HISTORY (history CSV for the
baseline), RAILWATCH_SHOT_LOG (progress log), RAILWATCH_SITE_LOGS (site log folder),
RAILWATCH_SHOT_REVIEW (1: a review in progress; add: then Add car).
"""

import os
import time

from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins

SHOT = os.environ["RAILWATCH_SHOT"]
HISTORY = os.environ.get("RAILWATCH_HISTORY", "")
LOG = os.environ.get("RAILWATCH_SHOT_LOG", "/tmp/railwatch_shot.log")
REVIEW = os.environ.get("RAILWATCH_SHOT_REVIEW") in ("1", "add")
ADD_CAR = os.environ.get("RAILWATCH_SHOT_REVIEW") == "add"
STARTED = time.time()
TIMEOUT_S = 240
_state = {"step": "wait_plugin", "dock": None, "settle": 0}
_timer = QTimer()


def log(message):
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(f"{time.time() - STARTED:6.1f}s {message}\n")


def finish(code):
    log(f"exit {code}")
    QgsProject.instance().setDirty(False)
    os._exit(code)  # no "save project?" prompt, no shutdown surprises under Xvfb


def raster_layer():
    for layer in QgsProject.instance().mapLayers().values():
        if isinstance(layer, QgsRasterLayer):
            return layer
    return None


def tick():
    try:
        _tick()
    except Exception as exc:  # report and leave; the shell script checks the PNG
        log(f"error: {exc!r}")
        finish(3)


def _tick():
    if time.time() - STARTED > TIMEOUT_S:
        log(f"timed out in step {_state['step']}")
        iface.mainWindow().grab().save(SHOT, "PNG")
        finish(2)
    step = _state["step"]
    if step == "wait_plugin":
        if "railwatch_plugin" in plugins and raster_layer() is not None:
            layer = raster_layer()
            window = iface.mainWindow()
            window.move(0, 0)
            window.resize(1600, 1000)
            iface.setActiveLayer(layer)
            iface.zoomToActiveLayer()
            dock = plugins["railwatch_plugin"].show_panel()
            dock.setMinimumWidth(430)
            if HISTORY:
                dock.set_baseline_source("CSV file")
                dock.history_csv_widget.setFilePath(HISTORY)
            _state["dock"] = dock
            _state["step"] = "run"
            log(f"panel open on {layer.name()}: {dock.layer_detail.text()}")
    elif step == "run":
        dock = _state["dock"]
        if not dock.run_button.isEnabled():
            log("Run is disabled: " + dock.layer_detail.text() + " " + dock.dependency_label.text())
            iface.mainWindow().grab().save(SHOT, "PNG")
            finish(4)
        dock.run_button.click()
        _state["step"] = "wait_results"
        log("Run pressed")
    elif step == "wait_results":
        dock = _state["dock"]
        if not dock._busy():
            log(f"count: {dock.count_label.text()}")
            log(f"verdict: {dock.baseline_view.summary}")
            log(f"messages: {dock.messages}")
            points = (dock.last_detection or {}).get("layers", {}).get("points")
            if points is not None and points.featureCount():
                # Close enough to see each car's box: around the middle detection.
                features = sorted(points.getFeatures(), key=lambda f: f.geometry().asPoint().y())
                centre = features[len(features) // 2].geometry().asPoint()
                canvas = iface.mapCanvas()
                canvas.setCenter(centre)
                canvas.zoomScale(1200)
            if dock.results_view.rowCount():
                dock.results_view.selectRow(0)
            # Layers panel: the results group open (its legend shows the kinds), the raster folded.
            from qgis.PyQt.QtWidgets import QDockWidget

            browser = iface.mainWindow().findChild(QDockWidget, "Browser")
            if browser is not None:
                browser.hide()
            view = iface.layerTreeView()
            root = QgsProject.instance().layerTreeRoot()
            for node in root.children():
                expand = node.name().startswith("Railcars:")
                node.setExpanded(expand)
                view.setExpanded(view.node2index(node), expand)
                for child in node.children():
                    view.setExpanded(view.node2index(child), expand and child.name().endswith("railcars"))
            iface.mapCanvas().refresh()
            _state["step"] = "review" if REVIEW else "settle"
    elif step == "review":
        _review(_state["dock"])
        _state["step"] = "settle"
    elif step == "settle":
        canvas = iface.mapCanvas()
        _state["settle"] += 1
        scroll = _state.get("scroll")
        if scroll is not None:
            scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
        if _state["settle"] == 6:
            canvas.refresh()  # once the window and the dock have their final sizes
        if not canvas.isDrawing() and _state["settle"] > 12:
            iface.mainWindow().grab().save(SHOT, "PNG")
            log(f"saved {SHOT}")
            finish(0)


def _review(dock):
    """Start a review and decide on the first cars, as an analyst would with the keys."""
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtWidgets import QScrollArea

    panel = dock.review_panel
    panel.start_button.click()
    for key in (Qt.Key.Key_A, Qt.Key.Key_R, Qt.Key.Key_A, Qt.Key.Key_A, Qt.Key.Key_R):
        panel.handle_key(key)
    if ADD_CAR:
        panel.handle_key(Qt.Key.Key_C)  # the panel chooses the view
    else:
        iface.mapCanvas().zoomScale(1500)
    _state["scroll"] = dock.findChild(QScrollArea)  # scrolled down to the review before the shot
    log(f"review: {panel.counts_label.text()} | {panel.car_label.text()}")


log("startup script loaded")
_timer.timeout.connect(tick)
_timer.start(300)
