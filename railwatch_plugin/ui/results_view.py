"""The count table in the panel: one row per AOI (or one for the whole raster),
count and mean confidence, counts per kind. Clicking a row zooms the map to it."""

from __future__ import annotations

from qgis.core import QgsCoordinateTransform, QgsFeatureRequest, QgsProject, QgsRectangle
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QAbstractItemView, QHeaderView, QSizePolicy, QTableWidget, QTableWidgetItem

# Columns the table layer repeats on every row (shown once, in the group name).
HIDDEN_FIELDS = {"fid", "scene", "acquired"}


HEADERS = {"mean_confidence": "mean conf.", "reviewed_count": "reviewed", "hopper_gondola": "hopper/ gondola", "flat_container": "flat/ container"}


def _pretty(name: str) -> str:
    """``n_hopper_gondola`` -> ``hopper/ gondola``; ``mean_confidence`` -> ``mean conf.``"""
    for prefix in ("n_", "count_"):
        if name.startswith(prefix) and name != prefix:
            name = name[len(prefix):]
    return HEADERS.get(name, name.replace("_", " "))


class CountTableView(QTableWidget):
    def __init__(self, canvas, parent=None):
        super().__init__(parent)
        self.canvas = canvas
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setToolTip("Click a row to zoom the map to it.")
        # Scroll inside the table rather than widen the panel.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._row_extents = []  # (QgsRectangle, crs) per row
        self._row_aois = []  # the aoi label of each row (None: the whole image)
        self._columns = []  # field name of each column
        self.cellClicked.connect(self._zoom_to_row)

    def clear_results(self):
        self.clear()
        self.setRowCount(0)
        self.setColumnCount(0)
        self._row_extents = []
        self._row_aois = []
        self._columns = []

    def show_table(self, table_layer, points_layer=None, raster_layer=None, aoi_layer=None):
        """Fill the view from the OUTPUT_TABLE layer of railwatch:detectrailcars."""
        self.clear_results()
        features = list(table_layer.getFeatures())
        names = [f.name() for f in table_layer.fields() if f.name().lower() not in HIDDEN_FIELDS]
        if "aoi" in names and all(_is_null(f["aoi"]) for f in features):
            names.remove("aoi")  # no areas of interest: one row for the whole image
        if "reviewed_count" in names and "count" in names:  # the two counts side by side
            names.remove("reviewed_count")
            names.insert(names.index("count") + 1, "reviewed_count")
        self._columns = names
        self.setColumnCount(len(names))
        self.setHorizontalHeaderLabels([_pretty(n) for n in names])
        self.setRowCount(len(features))
        for row, feature in enumerate(features):
            for col, name in enumerate(names):
                value = feature[name]
                if value is None or (hasattr(value, "isNull") and value.isNull()):
                    text = ""
                elif isinstance(value, float):
                    text = f"{value:.2f}"
                else:
                    text = str(value)
                item = QTableWidgetItem(text)
                if isinstance(value, (int, float)):
                    _align_right(item)
                self.setItem(row, col, item)
            aoi_value = None if table_layer.fields().indexOf("aoi") < 0 or _is_null(feature["aoi"]) else feature["aoi"]
            self._row_aois.append(aoi_value)
            self._row_extents.append(self._extent_for(aoi_value, points_layer, raster_layer, aoi_layer))
        self.resizeColumnsToContents()
        self._fit_height()

    def _fit_height(self, max_rows: int = 4):
        """As tall as its rows (up to ``max_rows``), so one whole-image row wastes no space."""
        rows = min(max(self.rowCount(), 1), max_rows)
        row_height = self.verticalHeader().defaultSectionSize()
        scroll = self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(self.horizontalHeader().sizeHint().height() + rows * row_height + scroll + 2 * self.frameWidth())

    def show_reviewed_counts(self, table_layer, review_layer, queue, aoi_layer=None):
        """Fill the ``reviewed_count`` column (view and table layer) from a review in progress:
        the whole-image row gets the reviewed count, an AOI row the counted cars inside it."""
        from ..algorithms.output_fields import REVIEWED_COUNT_FIELD
        from ..review import is_counted

        field_index = table_layer.fields().indexOf(REVIEWED_COUNT_FIELD)
        if field_index < 0:
            return
        counted = [key for key, item in queue.items.items() if is_counted(item.review, item.confidence, queue.threshold)]
        changes = {}
        centres = None  # the counted cars' centres in the AOI layer's CRS, read once for every row
        for row, feature in enumerate(table_layer.getFeatures()):
            aoi_value = self._row_aois[row] if row < len(self._row_aois) else None
            polygon = _aoi_feature(aoi_layer, aoi_value)
            if aoi_value is None:
                value = len(counted)
            elif polygon is None:
                continue  # the row's polygon is gone: its reviewed count cannot be told (not the whole image's)
            else:
                if centres is None:
                    transform = QgsCoordinateTransform(review_layer.layer.crs(), aoi_layer.crs(), QgsProject.instance())
                    request = QgsFeatureRequest().setFilterFids(counted).setNoAttributes()
                    centres = [transform.transform(f.geometry().centroid().asPoint())
                               for f in review_layer.layer.getFeatures(request) if f.hasGeometry()]
                geometry = polygon.geometry()
                value = sum(1 for centre in centres if geometry.contains(centre))
            changes[feature.id()] = {field_index: value}
            if REVIEWED_COUNT_FIELD in self._columns and row < self.rowCount():
                item = QTableWidgetItem(str(value))
                _align_right(item)
                self.setItem(row, self._columns.index(REVIEWED_COUNT_FIELD), item)
        table_layer.dataProvider().changeAttributeValues(changes)

    def reviewed_count(self, row: int = 0):
        """The reviewed count shown in a row (None when not reviewed)."""
        from ..algorithms.output_fields import REVIEWED_COUNT_FIELD

        if REVIEWED_COUNT_FIELD not in self._columns or self.item(row, self._columns.index(REVIEWED_COUNT_FIELD)) is None:
            return None
        text = self.item(row, self._columns.index(REVIEWED_COUNT_FIELD)).text()
        return int(text) if text else None

    @staticmethod
    def _extent_for(aoi_value, points_layer, raster_layer, aoi_layer):
        """Where a row lives: its AOI polygon when it names one, else the detected
        cars (or, with none found, the whole raster)."""
        feature = _aoi_feature(aoi_layer, aoi_value)
        if feature is not None:
            return feature.geometry().boundingBox(), aoi_layer.crs()
        if points_layer is not None and points_layer.featureCount() > 0:
            points_layer.updateExtents()
            return points_layer.extent(), points_layer.crs()
        if raster_layer is not None:
            return raster_layer.extent(), raster_layer.crs()
        return None

    def row_extent(self, row: int):
        """The map-CRS rectangle a row zooms to (None when unknown)."""
        if row >= len(self._row_extents) or self._row_extents[row] is None:
            return None
        rect, crs = self._row_extents[row]
        transform = QgsCoordinateTransform(crs, self.canvas.mapSettings().destinationCrs(), QgsProject.instance())
        rect = transform.transformBoundingBox(rect) if crs.isValid() else QgsRectangle(rect)
        if rect.width() == 0 or rect.height() == 0:
            rect.grow(25.0)
        else:
            rect.scale(1.15)
        return rect

    def _zoom_to_row(self, row: int, _column: int = 0):
        rect = self.row_extent(row)
        if rect is not None:
            self.canvas.setExtent(rect)
            self.canvas.refresh()


def _aoi_feature(aoi_layer, aoi_value):
    """The AOI polygon a count-table row names (by any attribute or its id), or None."""
    if aoi_layer is None or aoi_value in (None, "") or str(aoi_value).lower() in ("all", "whole raster"):
        return None
    for feature in aoi_layer.getFeatures():
        values = [str(v) for v in feature.attributes()] + [str(feature.id())]
        if str(aoi_value) in values:
            return feature
    return None


def _is_null(value) -> bool:
    return value is None or (hasattr(value, "isNull") and value.isNull())


def _align_right(item: QTableWidgetItem):
    alignment = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    try:
        item.setTextAlignment(alignment)  # Qt 6
    except TypeError:
        item.setTextAlignment(int(alignment))  # PyQt5 wants an int
