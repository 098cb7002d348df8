"""A railcar point layer under review: its cars as review items, decisions written at once.

Every decision (accept, reject, add a car) is a command pushed on the layer's
own undo stack (``layer.undoStack()``, the one QGIS's Undo/Redo use), and the
command writes straight to the layer's file through its data provider. So a
decision is on disk the moment it is made (closing QGIS mid-review loses
nothing), and undo/redo rewrite the file too. The layer need not be in edit
mode; when the analyst switches it on to move, reshape or delete cars with
QGIS's own tools, those edits stay QGIS's (saved when QGIS saves edits) and
the panel counts them as review (see ``ReviewPanel``).

A layer written by RailWatch 0.2.0 has no review fields: :func:`ensure_review_fields`
adds them in place on first use, every car unreviewed.
"""

from __future__ import annotations

import math
import os
import sqlite3
from contextlib import closing
from typing import List, Optional, Tuple

from qgis.core import (
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingUtils,
    QgsProject,
    QgsRectangle,
    QgsVectorDataProvider,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QDateTime, QObject, QVariant, pyqtSignal
from qgis.PyQt.QtWidgets import QUndoCommand

from ..algorithms.detection_parameters import DEFAULT_WIDTH_M
from ..algorithms.ground_resolution import ground_gsd_m
from ..algorithms.history_reading import is_null
from ..algorithms.output_fields import review_fields
from ..review import ADDED, REVIEW_FIELD, REVIEWED_AT_FIELD, UNREVIEWED, ReviewItem, normalize_review, number_or

DEFAULT_CAR_WIDTH_M = round(sum(DEFAULT_WIDTH_M) / 2, 2)  # 3.0 m: the middle of the width range
DEFAULT_CAR_LENGTH_M = 15.0  # a car drawn without its length (a point added with QGIS's own tool)
CAR_SHAPE_FIELDS = ("length_m", "width_m", "heading_deg", "kind")
THRESHOLD_KEY = "RAILWATCH_MIN_CONFIDENCE"  # in a reviewed copy's GeoPackage metadata
SHORT_NAME_FORMATS = ("ESRI Shapefile", "DBF")  # OGR storage types with 10-character field names


class ReviewLayerError(Exception):
    """A layer that cannot be reviewed, in words that name the fix."""


def now_utc() -> QDateTime:
    return QDateTime.currentDateTimeUtc()


def ensure_review_fields(layer: QgsVectorLayer) -> bool:
    """Add ``review`` and ``reviewed_at`` to a layer that lacks them (written by 0.2.0),
    every car unreviewed. True if the layer was upgraded."""
    names = layer.fields().names()
    missing = [f for f in review_fields() if f.name() not in names]
    if not missing:
        return False
    provider = layer.dataProvider()
    save_as = "save it as a GeoPackage (Export > Save Features As) and review the copy."
    if not provider.capabilities() & QgsVectorDataProvider.AddAttributes:
        raise ReviewLayerError(
            f"{layer.name()} cannot take the review fields ({provider.name()} is read-only): {save_as}"
        )
    if provider.storageType() in SHORT_NAME_FORMATS:  # 'reviewed_at' would be cut to 'reviewed_a'
        raise ReviewLayerError(f"{layer.name()} is a {provider.storageType()}, whose field names are cut to 10 "
                               f"characters and which keeps no time of day: {save_as}")
    if not provider.addAttributes(missing):
        raise ReviewLayerError(f"{layer.name()}: the review fields could not be added ({provider.lastError()}).")
    layer.updateFields()
    if any(layer.fields().indexOf(f.name()) < 0 for f in missing):
        raise ReviewLayerError(f"{layer.name()}: its format renamed the review fields: {save_as}")
    if REVIEW_FIELD in [f.name() for f in missing]:  # a review field already there keeps its decisions
        index = layer.fields().indexOf(REVIEW_FIELD)
        request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry).setNoAttributes()
        provider.changeAttributeValues({f.id(): {index: UNREVIEWED} for f in provider.getFeatures(request)})
    return True


def is_temporary(path: str) -> bool:
    """Whether a layer file lives where QGIS deletes it on exit (Processing's temporary folder)."""
    temp = os.path.realpath(QgsProcessingUtils.tempFolder())
    return os.path.realpath(path).startswith(temp + os.sep) or not path


def layer_file(layer: QgsVectorLayer) -> str:
    return layer.source().split("|")[0]


def keep_for_review(
    layer: QgsVectorLayer, folder: str, threshold: float, candidates_path: Optional[str] = None
) -> str:
    """Copy a run's railcar layer out of the temporary folder into ``folder`` (with the
    below-threshold candidates of ``candidates_path`` appended, unreviewed, and the run's
    ``threshold`` kept in the copy's metadata) and point the layer at the copy. Returns
    the copy's path."""
    os.makedirs(folder, exist_ok=True)
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in layer.name()) or "railcars"
    target = os.path.join(folder, f"{stem}.gpkg")
    number = 1
    while os.path.exists(target):
        number += 1
        target = os.path.join(folder, f"{stem}_{number}.gpkg")
    _copy_geopackage(layer_file(layer), target)
    _set_metadata(target, THRESHOLD_KEY, repr(float(threshold)))
    copy = QgsVectorLayer(target, "copy", "ogr")
    if not copy.isValid():
        raise ReviewLayerError(f"The copy of {layer.name()} in {folder} cannot be opened.")
    if candidates_path and os.path.exists(candidates_path.split("|")[0]):
        candidates = QgsVectorLayer(candidates_path, "candidates", "ogr")
        features = []
        for feature in candidates.getFeatures():
            copied = QgsFeature(copy.fields())
            copied.setGeometry(feature.geometry())
            for name in candidates.fields().names():
                if name != "fid" and copy.fields().indexOf(name) >= 0:
                    copied[name] = feature[name]
            features.append(copied)
        copy.dataProvider().addFeatures(features)
    del copy
    layer.setDataSource(target, layer.name(), "ogr")
    return target


def stored_threshold(layer: QgsVectorLayer) -> Optional[float]:
    """The confidence threshold of the run a reviewed copy came from (None if it has none)."""
    path = layer_file(layer)
    if layer.providerType() != "ogr" or not path.lower().endswith(".gpkg") or not os.path.exists(path):
        return None
    from osgeo import ogr

    dataset = ogr.Open(path)
    value = dataset.GetLayer(0).GetMetadataItem(THRESHOLD_KEY) if dataset is not None and dataset.GetLayerCount() else None
    dataset = None
    return number_or(value, None)


def _set_metadata(path: str, key: str, value: str) -> None:
    """A metadata item on the (only) layer of a GeoPackage (its metadata tables, not a new layer)."""
    from osgeo import ogr

    dataset = ogr.Open(path, 1)
    dataset.GetLayer(0).SetMetadataItem(key, value)
    dataset = None  # written on close


def _copy_geopackage(source: str, target: str) -> None:
    """A consistent copy of a GeoPackage, including what is still in its write-ahead log
    (a plain file copy would miss edits QGIS has not checkpointed yet)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


# --- geometry of a car in the layer's CRS ---------------------------------------------


def metres_per_unit(layer: QgsVectorLayer, where: QgsPointXY) -> Tuple[float, float]:
    """Ground metres per layer unit along x and y near ``where`` (any CRS: the detector's
    own ground-resolution rule, applied to a tiny pixel there)."""
    step = 1e-5 if layer.crs().isGeographic() else 0.01  # in layer units: about a metre or a centimetre
    geotransform = (where.x(), step, 0.0, where.y(), 0.0, -step)
    try:
        gx, gy = ground_gsd_m(layer.crs(), geotransform, 0, 0, QgsProject.instance().transformContext())
    except ValueError:  # no CRS or unknown units: take the layer's units as metres
        return 1.0, 1.0
    return gx / step, gy / step


def car_outline(
    layer: QgsVectorLayer, centre: QgsPointXY, length_m: float, width_m: float, heading_deg: float
) -> QgsGeometry:
    """The car's oriented rectangle in the layer's CRS (heading clockwise from north)."""
    mx, my = metres_per_unit(layer, centre)
    h = math.radians(heading_deg)
    along = (math.sin(h), math.cos(h))  # unit vector along the car, east and north
    across = (math.cos(h), -math.sin(h))
    ring = []
    for a, c in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)):
        east = a * length_m / 2 * along[0] + c * width_m / 2 * across[0]
        north = a * length_m / 2 * along[1] + c * width_m / 2 * across[1]
        ring.append(QgsPointXY(centre.x() + east / mx, centre.y() + north / my))
    return QgsGeometry.fromPolygonXY([ring])


def car_between(layer: QgsVectorLayer, end_a: QgsPointXY, end_b: QgsPointXY) -> Tuple[QgsPointXY, float, float]:
    """(centre, length in metres, heading 0-180 clockwise from north) of a car whose
    ends are ``end_a`` and ``end_b`` (layer CRS)."""
    centre = QgsPointXY((end_a.x() + end_b.x()) / 2, (end_a.y() + end_b.y()) / 2)
    mx, my = metres_per_unit(layer, centre)
    east, north = (end_b.x() - end_a.x()) * mx, (end_b.y() - end_a.y()) * my
    heading = math.degrees(math.atan2(east, north)) % 180.0
    return centre, math.hypot(east, north), heading


# --- the layer under review ------------------------------------------------------------


class ReviewLayer(QObject):
    """Reads and writes the review of one railcar point layer. ``changed(fid)`` fires
    after every write, undo and redo (fid of the car, or -1 when it is unknown)."""

    changed = pyqtSignal(int)

    def __init__(self, layer: QgsVectorLayer, parent=None):
        super().__init__(parent)
        self.layer = layer
        self.upgraded = ensure_review_fields(layer)
        self.rolling_back = False
        self.writing = False  # announcing a decision of ours as attributeValueChanged
        # QUndoStack owns the commands, but PyQt drops their Python side (redo/undo) unless
        # Python keeps a reference: the layer's stack would then undo nothing.
        self._commands: List[QUndoCommand] = []
        layer.beforeRollBack.connect(self._on_before_rollback)
        layer.afterRollBack.connect(self._on_after_rollback)
        layer.undoStack().indexChanged.connect(self._on_stack_moved)

    def disconnect_layer(self):
        for signal, slot in ((self.layer.beforeRollBack, self._on_before_rollback),
                             (self.layer.afterRollBack, self._on_after_rollback),
                             (self.layer.undoStack().indexChanged, self._on_stack_moved)):
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass

    # Discarding QGIS edits rolls the undo stack back to its start, which would undo the
    # review decisions on it too; they are already saved and stay so.
    def _on_before_rollback(self):
        self.rolling_back = True

    def _on_after_rollback(self):
        self.rolling_back = False

    # Outside edit mode the stack holds only decisions, all of them already in the file: it
    # stays "clean", or QGIS would take them for unsaved edits once editing is switched on
    # (and ask to save "changes" when it is switched off again with nothing edited).
    def _on_stack_moved(self, _index: int):
        if not self.layer.isEditable():
            self.layer.undoStack().setClean()

    # --- reading ----------------------------------------------------------------------

    def index(self, name: str) -> int:
        return self.layer.fields().indexOf(name)

    def feature(self, fid: int) -> Optional[QgsFeature]:
        feature = self.layer.getFeature(fid)
        return feature if feature.isValid() else None

    def item(self, feature: QgsFeature) -> ReviewItem:
        confidence = feature["confidence"] if self.index("confidence") >= 0 else None
        if isinstance(confidence, QVariant) or (hasattr(confidence, "isNull") and confidence.isNull()):
            confidence = None
        return ReviewItem(feature.id(), confidence, normalize_review(feature[REVIEW_FIELD]))

    def items(self) -> List[ReviewItem]:
        request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)
        return [self.item(f) for f in self.layer.getFeatures(request)]

    def outline(self, fid: int) -> Optional[QgsGeometry]:
        feature = self.feature(fid)
        if feature is None or feature.geometry().isEmpty():
            return None
        values = [feature[n] if self.index(n) >= 0 else None for n in ("length_m", "width_m", "heading_deg")]
        defaults = (DEFAULT_CAR_LENGTH_M, DEFAULT_CAR_WIDTH_M, 0.0)
        length, width, heading = (number_or(v, d) for v, d in zip(values, defaults))
        return car_outline(self.layer, feature.geometry().centroid().asPoint(), length, width, heading)

    def extent_around(self, fid: int, canvas_crs, metres: float = 90.0) -> Optional[QgsRectangle]:
        """A view of about ``metres`` across centred on the car, in the canvas CRS."""
        outline = self.outline(fid)
        if outline is None:
            return None
        centre = outline.centroid().asPoint()
        mx, my = metres_per_unit(self.layer, centre)
        rect = QgsRectangle(centre.x() - metres / 2 / mx, centre.y() - metres / 2 / my,
                            centre.x() + metres / 2 / mx, centre.y() + metres / 2 / my)
        transform = QgsCoordinateTransform(self.layer.crs(), canvas_crs, QgsProject.instance())
        return transform.transformBoundingBox(rect)

    # --- writing (each through an undo command) --------------------------------------

    def decide(self, fid: int, review: str, text: str = "", follows_edit: bool = False) -> None:
        """Write a decision at once, as a command on the layer's undo stack. ``follows_edit``:
        the decision only follows from a QGIS edit of the car (moved, reshaped), so discarding
        QGIS's edits takes it back with the edit."""
        feature = self.feature(fid)
        if feature is None:
            return
        old = (feature[REVIEW_FIELD], feature[REVIEWED_AT_FIELD])
        new = (review, now_utc())
        self._push(_DecisionCommand(self, fid, old, new, text or f"RailWatch: {review} car {fid}", follows_edit))

    def _push(self, command: QUndoCommand):
        self._commands.append(command)
        self.layer.undoStack().push(command)

    def add_car(self, end_a: QgsPointXY, end_b: QgsPointXY, kind: str) -> int:
        """Add a car between two ends (layer CRS). Returns its feature id."""
        centre, length, heading = car_between(self.layer, end_a, end_b)
        feature = QgsFeature(self.layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(centre))
        values = self._added_values(kind)
        values.update({"length_m": round(length, 2), "heading_deg": round(heading, 1)})
        for name, value in values.items():
            if self.index(name) >= 0 and value is not None:
                feature[name] = value
        command = _AddCommand(self, feature, f"RailWatch: add a {kind} car")
        self._push(command)
        return command.fid

    def _added_values(self, kind: str) -> dict:
        """What a car the analyst adds gets besides its place: review, time, default size, kind, scene."""
        values = {"length_m": DEFAULT_CAR_LENGTH_M, "width_m": DEFAULT_CAR_WIDTH_M, "kind": kind,
                  REVIEW_FIELD: ADDED, REVIEWED_AT_FIELD: now_utc()}
        for other in ("scene", "acquired"):
            values[other] = self._shared_value(other)
        return values

    def drawn_in_qgis(self, fid: int) -> bool:
        """Whether ``fid`` is a car added with QGIS's own editing and not marked yet: no
        detector confidence, no decision, not yet saved (QGIS's edit buffer holds it)."""
        feature = self.feature(fid) if fid < 0 and self.layer.isEditable() else None
        return feature is not None and self.item(feature).confidence is None and \
            normalize_review(feature[REVIEW_FIELD]) == UNREVIEWED

    def mark_added_in_edits(self, fid: int, kind: str) -> bool:
        """Mark a car added with QGIS's own tools as ``added`` (with the default size and
        ``kind`` where it has none) in QGIS's edits, one undo command: it is saved when
        QGIS saves the car, and discarded with it."""
        feature = self.feature(fid)
        if feature is None or not self.layer.isEditable():
            return False
        changes = {}
        for name, value in self._added_values(kind).items():
            index = self.index(name)
            if index < 0 or value is None:
                continue
            if name in (REVIEW_FIELD, REVIEWED_AT_FIELD) or is_null(feature[name]):
                changes[index] = value
        self.layer.beginEditCommand(f"RailWatch: car {fid} added with QGIS, so added")
        ok = self.layer.changeAttributeValues(fid, changes, {i: feature[i] for i in changes})
        self.layer.endEditCommand()
        return ok

    def _shared_value(self, name: str):
        """The value every car of the layer has in ``name`` (the scene, its date), else None."""
        if self.index(name) < 0:
            return None
        values = list(self.layer.uniqueValues(self.index(name)))
        return values[0] if len(values) == 1 else None

    def write(self, fid: int, values: dict) -> bool:
        changes = {self.index(name): value for name, value in values.items()}
        ok = self.layer.dataProvider().changeAttributeValues({fid: changes})
        if ok:  # an open attribute table shows the decision at once
            self.writing = True  # (the panel hears of it through ``changed``, once)
            try:
                for index, value in changes.items():
                    self.layer.attributeValueChanged.emit(fid, index, value)
            finally:
                self.writing = False
        self._after_write(fid)
        return ok

    def _after_write(self, fid: int):
        self.layer.triggerRepaint()
        self.changed.emit(fid)



class _DecisionCommand(QUndoCommand):
    def __init__(self, review_layer: ReviewLayer, fid: int, old, new, text: str, follows_edit: bool = False):
        super().__init__(text)
        self.review_layer, self.fid, self.old, self.new = review_layer, fid, old, new
        self.follows_edit = follows_edit

    def _apply(self, values):
        review, when = values
        self.review_layer.write(self.fid, {REVIEW_FIELD: review, REVIEWED_AT_FIELD: when})

    def redo(self):
        self._apply(self.new)

    def undo(self):
        if self.review_layer.rolling_back and not (self.follows_edit and self._still_in_force()):
            return  # QGIS discards its edits: the analyst's own decisions stay
        self._apply(self.old)

    def _still_in_force(self) -> bool:
        """The car still holds this decision (no later decision replaced it)."""
        feature = self.review_layer.feature(self.fid)
        return feature is not None and normalize_review(feature[REVIEW_FIELD]) == normalize_review(self.new[0])


class _AddCommand(QUndoCommand):
    def __init__(self, review_layer: ReviewLayer, feature: QgsFeature, text: str):
        super().__init__(text)
        self.review_layer, self.feature, self.fid = review_layer, feature, -1

    def redo(self):
        provider = self.review_layer.layer.dataProvider()
        feature = QgsFeature(self.feature)
        ok, added = provider.addFeatures([feature])
        self.fid = added[0].id() if ok and added else -1  # the panel reports a failed add
        self.review_layer.layer.updateExtents()
        self.review_layer._after_write(self.fid)

    def undo(self):
        if self.review_layer.rolling_back:
            return
        fid, self.fid = self.fid, -1
        self.review_layer.layer.dataProvider().deleteFeatures([fid])
        self.review_layer._after_write(fid)


__all__ = [
    "CAR_SHAPE_FIELDS",
    "DEFAULT_CAR_LENGTH_M",
    "DEFAULT_CAR_WIDTH_M",
    "ReviewLayer",
    "ReviewLayerError",
    "car_between",
    "car_outline",
    "ensure_review_fields",
    "is_temporary",
    "keep_for_review",
    "layer_file",
    "stored_threshold",
]
