"""The map tool of a review: draw a missing car from one end to the other.

Click one end of the car and then the other (a line follows the mouse in
between), or press on one end and drag to the other. ``car_drawn`` gives the
two ends in the canvas CRS; the panel turns them into a car. Esc drops a
first end. (The review's other keys reach the panel through its event
filter on the canvas.)
"""

from __future__ import annotations

from typing import Optional

from qgis.core import QgsPointXY, QgsWkbTypes
from qgis.gui import QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor

DRAG_PX = 8  # a press and release further apart than this is a drag along the car


class AddCarTool(QgsMapTool):
    car_drawn = pyqtSignal(QgsPointXY, QgsPointXY)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.first: Optional[QgsPointXY] = None
        self._press = None  # (screen pos, map point) of the last press
        self.band = QgsRubberBand(canvas, QgsWkbTypes.LineGeometry)
        self.band.setColor(QColor("#00e676"))
        self.band.setWidth(2)

    def canvasPressEvent(self, event):  # noqa: N802 (QGIS's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = (event.pos(), self.toMapCoordinates(event.pos()))

    def canvasMoveEvent(self, event):  # noqa: N802 (QGIS's name)
        start = self.first or (self._press[1] if self._press and event.buttons() & Qt.MouseButton.LeftButton else None)
        if start is not None:
            self.band.reset(QgsWkbTypes.LineGeometry)
            self.band.addPoint(start, False)
            self.band.addPoint(self.toMapCoordinates(event.pos()), True)

    def canvasReleaseEvent(self, event):  # noqa: N802 (QGIS's name)
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        (press_pos, press_point), self._press = self._press, None
        point = self.toMapCoordinates(event.pos())
        dragged = (event.pos() - press_pos).manhattanLength() > DRAG_PX
        if self.first is None and dragged:
            self._emit(press_point, point)
        elif self.first is None:
            self.first = point
        else:
            self._emit(self.first, point)

    def _emit(self, end_a: QgsPointXY, end_b: QgsPointXY):
        self.clear()
        self.car_drawn.emit(end_a, end_b)

    def clear(self):
        self.first = None
        self.band.reset(QgsWkbTypes.LineGeometry)

    def keyPressEvent(self, event):  # noqa: N802 (QGIS's name)
        if event.key() == Qt.Key.Key_Escape and self.first is not None:
            self.clear()
            event.accept()
        else:
            event.ignore()

    def deactivate(self):
        self.clear()
        super().deactivate()

    def remove_band(self):
        self.clear()
        scene = self.canvas().scene()
        if scene is not None and self.band.scene() is scene:
            scene.removeItem(self.band)
