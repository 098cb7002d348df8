"""The dock's Review section: step through the cars, least certain first, and decide.

Thin Qt around :class:`railwatch_plugin.review.ReviewQueue` (what a review is)
and :class:`.review_layer.ReviewLayer` (where decisions are written). Keys,
over the panel or over the map while the review runs (over the map, QGIS's
own shortcuts come first):

====================  =====================================================
A                     accept the car shown (it is a railcar)
R                     reject it (a look-alike)
S                     skip it (leave it unreviewed; it counts if the detector counted it)
U, Ctrl+Z             undo the last decision (the layer's undo stack)
Ctrl+Y, Ctrl+Shift+Z  redo
C                     draw a missing car on the map (on/off)
F                     finish the review
====================  =====================================================

Moving, reshaping (length_m, width_m, heading_deg, kind), adding or deleting cars
with QGIS's own editing counts as review too: a moved or reshaped car is accepted
(taken back if QGIS's edits are discarded), a point added with QGIS's tool is an
added car (in QGIS's edits, with the dock's kind), a deleted one is gone from the count.
"""

from __future__ import annotations

from typing import Optional

from qgis.core import Qgis, QgsCoordinateTransform, QgsMapLayerProxyModel, QgsProject, QgsRectangle, QgsVectorLayer
from qgis.gui import QgsHighlight, QgsMapTool
from qgis.PyQt.QtCore import QEvent, Qt, QTimer, pyqtSignal
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from ..algorithms.output_style import style_review_points
from ..core.model import CAR_KINDS
from ..review import ACCEPTED, REJECTED, REVIEW_FIELD, UNREVIEWED, ReviewItem, ReviewQueue
from .options_form import layer_combo
from .review_layer import CAR_SHAPE_FIELDS, ReviewLayer, ReviewLayerError, is_temporary, keep_for_review, layer_file
from .review_layer import metres_per_unit, stored_threshold
from .review_tool import AddCarTool

ADD_VIEW_M = 500.0  # drawing a car shows the cars this far around the view's centre
CTRL = int(Qt.KeyboardModifier.ControlModifier)
SHIFT = int(Qt.KeyboardModifier.ShiftModifier)


class ReviewPanel(QGroupBox):
    """``counts_changed(ReviewCounts, finished)`` after every decision, undo and edit;
    ``message(text, level)`` for the dock's message bar; ``started(layer)`` when a review begins."""

    counts_changed = pyqtSignal(object, bool)
    message = pyqtSignal(str, object)
    started = pyqtSignal(object)  # the layer under review

    def __init__(self, canvas, parent=None):
        super().__init__("Review", parent)
        self.canvas = canvas
        self.review_layer: Optional[ReviewLayer] = None
        self.queue: Optional[ReviewQueue] = None
        self.highlight: Optional[QgsHighlight] = None
        self.keep_folder = ""  # where a run's temporary layer is copied before its review
        self.default_threshold = lambda: 0.5
        self.offered = {}  # layer id -> (threshold, candidates path) of the panel's runs
        self.tool = AddCarTool(canvas)
        self.tool.car_drawn.connect(self._on_car_drawn)
        self._previous_tool = None
        self._last_written = None
        QgsProject.instance().layerWillBeRemoved[str].connect(self._on_layer_removed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()
        self._update()

    def _build(self):
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.layer_combo = layer_combo(QgsMapLayerProxyModel.Filter.PointLayer, True, "The railcar points to review")
        self.start_button = self._button("Start review", "Step through the cars of this layer, least certain first")
        self.start_button.clicked.connect(self.start_clicked)
        self.layer_combo.layerChanged.connect(self._update)
        # Both stretch: on a narrow dock the buttons may shrink (narrow_layout.fit_to_narrow_width), and a
        # combo alone with the stretch took the row and pushed the button past the right edge.
        row.addWidget(self.layer_combo, 3)
        row.addWidget(self.start_button, 2)
        layout.addLayout(row)
        self.counts_label = QLabel("Review the cars after a run: accept, reject, or add the ones the detector missed.")
        self.counts_label.setWordWrap(True)
        layout.addWidget(self.counts_label)
        self.car_label = QLabel()
        self.car_label.setWordWrap(True)
        layout.addWidget(self.car_label)
        grid = QGridLayout()
        specs = (
            ("accept_button", "Accept (A)", "It is a railcar", self.accept),
            ("reject_button", "Reject (R)", "Not a railcar: a look-alike", self.reject),
            ("skip_button", "Skip (S)", "Leave it unreviewed and go to the next car", self.skip),
            ("undo_button", "Undo (U)", "Undo the last decision (Ctrl+Z)", self.undo),
            ("redo_button", "Redo", "Redo (Ctrl+Y)", self.redo),
            ("finish_button", "Finish (F)", "The review is done: the reviewed count is confirmed", self.finish),
        )
        for index, (name, text, tip, slot) in enumerate(specs):
            button = self._button(text, tip)
            button.clicked.connect(slot)
            setattr(self, name, button)
            grid.addWidget(button, index // 3, index % 3)
        layout.addLayout(grid)
        add_row = QHBoxLayout()
        self.add_button = self._button("Add car (C)", "Draw a missing car: click one end, then the other (or drag)")
        self.add_button.setCheckable(True)
        self.add_button.toggled.connect(self.set_adding)
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(list(CAR_KINDS))
        self.kind_combo.setToolTip("The kind an added car gets")
        self.kind_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        add_row.addWidget(self.add_button, 1)
        add_row.addWidget(QLabel("kind"))
        add_row.addWidget(self.kind_combo)
        layout.addLayout(add_row)

    @staticmethod
    def _button(text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the panel
        return button

    # --- state ------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.queue is not None

    @property
    def layer(self) -> Optional[QgsVectorLayer]:
        return self.review_layer.layer if self.review_layer is not None else None

    def counts(self):
        return self.queue.counts() if self.queue is not None else None

    def offer(self, layer: QgsVectorLayer, threshold: float, candidates_path: Optional[str]):
        """A run's railcar layer, ready to review (its threshold and below-threshold candidates)."""
        self.offered[layer.id()] = (threshold, candidates_path)
        if not self.active:
            self.layer_combo.setLayer(layer)
        self._update()

    def _update(self, *_args):
        active = self.active
        for button in (self.accept_button, self.reject_button, self.skip_button):
            button.setEnabled(active and self.queue.current is not None)
        stack = self.layer.undoStack() if active else None
        self.undo_button.setEnabled(bool(stack and stack.canUndo()))
        self.redo_button.setEnabled(bool(stack and stack.canRedo()))
        self.finish_button.setEnabled(active)
        self.add_button.setEnabled(active)
        self.start_button.setText("Stop review" if active else "Start review")
        self.start_button.setEnabled(active or self.layer_combo.currentLayer() is not None)
        if not active:
            return
        counts = self.queue.counts()
        self.counts_label.setText(
            f"Automatic count <b>{counts.automatic}</b> · reviewed count <b>{counts.reviewed}</b>"
            f"{' (finished)' if self.queue.finished else ''}<br>accepted {counts.accepted} · rejected "
            f"{counts.rejected} · added {counts.added} · {counts.unreviewed} counted but not reviewed · "
            f"{counts.candidates} candidates below {self.queue.threshold:.2f}"
        )
        self.car_label.setText(self._describe_current())

    def _describe_current(self) -> str:
        key = self.queue.current
        if key is None:
            return "No car left to step through: press Finish, or add cars the detector missed."
        feature = self.review_layer.feature(key)
        position = self.queue.order.index(key) + 1
        item = self.queue.items[key]
        side = "above" if item.confidence >= self.queue.threshold else "below"
        kind = feature["kind"] if feature is not None and self.review_layer.index("kind") >= 0 else "?"
        return (f"Car {position} of {len(self.queue.order)} (least certain first): confidence "
                f"{item.confidence:.2f}, {side} the threshold; {kind}. {self.queue.remaining()} left.")

    # --- starting and stopping ----------------------------------------------------------

    def start_clicked(self, *_args):
        if self.active:
            self.stop()
            return
        layer = self.layer_combo.currentLayer()
        if layer is not None:
            self.start(layer)

    def start(self, layer: QgsVectorLayer):
        """Review ``layer`` (a run's layer is first copied out of the temporary folder)."""
        try:
            threshold, candidates = self.offered.get(layer.id(), (None, None))
            if threshold is None:  # a layer reviewed before: its run's threshold, else the Options' one
                threshold = stored_threshold(layer)
                threshold = self.default_threshold() if threshold is None else threshold
            if layer.providerType() == "ogr" and is_temporary(layer_file(layer)) and self.keep_folder:
                path = keep_for_review(layer, self.keep_folder, threshold, candidates)
                self.message.emit(f"The review is kept in {path}: every decision is saved there at once.",
                                  Qgis.MessageLevel.Info)
            elif layer.providerType() != "ogr":
                self.message.emit(f"{layer.name()} is a temporary layer: decisions are lost when QGIS closes. Save "
                                  "it as a GeoPackage and review the copy to keep them.", Qgis.MessageLevel.Warning)
            self.review_layer = ReviewLayer(layer, self)
        except ReviewLayerError as exc:
            self.message.emit(str(exc), Qgis.MessageLevel.Critical)
            return
        if self.review_layer.upgraded:
            self.message.emit(f"{layer.name()} was made by an earlier RailWatch: review fields added, "
                              "every car unreviewed.", Qgis.MessageLevel.Info)
        mx_my = metres_per_unit(layer, layer.extent().center())
        style_review_points(layer, threshold, (mx_my[0], mx_my[1]))
        self.review_layer.changed.connect(self._on_written)
        self._connect_edits(True)
        self.queue = ReviewQueue(self.review_layer.items(), threshold)
        self.canvas.installEventFilter(self)  # the review's keys work over the map too
        self.started.emit(layer)
        self.setFocus()
        self._show_current()

    def stop(self):
        if not self.active:
            return
        self.set_adding(False)
        self.canvas.removeEventFilter(self)
        self._connect_edits(False)
        self.review_layer.changed.disconnect(self._on_written)
        self.review_layer.disconnect_layer()
        self._clear_highlight()
        self.review_layer = self.queue = None
        self.car_label.setText("")
        self._update()

    def _on_layer_removed(self, layer_id: str):
        if self.active and self.layer.id() == layer_id:
            self.stop()
        self.offered.pop(layer_id, None)

    def close_down(self):
        self.stop()
        self.tool.remove_band()
        try:
            QgsProject.instance().layerWillBeRemoved[str].disconnect(self._on_layer_removed)
        except (TypeError, RuntimeError):
            pass

    # --- decisions ----------------------------------------------------------------------

    def handle_key(self, key: int, modifiers: int = 0) -> bool:
        """One key of the review; True if it was one."""
        if not self.active:
            return False
        ctrl, shift = bool(modifiers & CTRL), bool(modifiers & SHIFT)
        if ctrl and (key == Qt.Key.Key_Y or (key == Qt.Key.Key_Z and shift)):
            self.redo()
        elif key == Qt.Key.Key_U or (ctrl and key == Qt.Key.Key_Z):
            self.undo()
        elif ctrl:
            return False
        elif key == Qt.Key.Key_A:
            self.accept()
        elif key == Qt.Key.Key_R:
            self.reject()
        elif key == Qt.Key.Key_S:
            self.skip()
        elif key == Qt.Key.Key_C:
            self.add_button.toggle()
        elif key == Qt.Key.Key_F:
            self.finish()
        else:
            return False
        return True

    def eventFilter(self, watched, event):  # noqa: N802 (Qt's name)
        """Review keys pressed over the map (QGIS's own shortcuts come first, and while one of
        QGIS's editing tools is on the map its keys are its own: A, C, D... of advanced digitizing)."""
        if watched is self.canvas and event.type() == QEvent.Type.KeyPress and not event.isAutoRepeat():
            tool = self.canvas.mapTool()
            editing = tool is not None and tool is not self.tool and bool(tool.flags() & QgsMapTool.Flag.EditTool)
            if not editing and self.handle_key(event.key(), int(event.modifiers())):
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event):  # noqa: N802 (Qt's name)
        if not self.handle_key(event.key(), int(event.modifiers())):
            super().keyPressEvent(event)

    def accept(self, *_args):
        self._decide(ACCEPTED)

    def reject(self, *_args):
        self._decide(REJECTED)

    def _decide(self, review: str):
        if not self.active or self.queue.current is None:
            return
        self.review_layer.decide(self.queue.current, review)
        self.queue.advance()
        self._show_current()

    def skip(self, *_args):
        if self.active and self.queue.current is not None:
            self.queue.skip()
            self._show_current()

    def undo(self, *_args):
        self._step_stack(undo=True)

    def redo(self, *_args):
        self._step_stack(undo=False)

    def _step_stack(self, undo: bool):
        if not self.active:
            return
        stack = self.layer.undoStack()
        if not (stack.canUndo() if undo else stack.canRedo()):
            return
        self._last_written = None
        stack.undo() if undo else stack.redo()
        fid = self._last_written
        if fid is not None and fid in self.queue.order:
            if self.queue.items[fid].review == UNREVIEWED:
                self.queue.go_to(fid)  # back to the car whose decision was undone
            elif fid == self.queue.current:
                self.queue.advance()
        self._show_current()

    def finish(self, *_args):
        if self.active:
            self.queue.finish()
            self.set_adding(False)
            self._clear_highlight()
            self._update()
            self.counts_changed.emit(self.queue.counts(), True)

    # --- adding a car -------------------------------------------------------------------

    def set_adding(self, on: bool):
        if self.add_button.isChecked() != on:
            self.add_button.setChecked(on)  # comes back here through toggled
            return
        if on and self.active:
            if self.canvas.mapTool() is not self.tool:
                self._previous_tool = self.canvas.mapTool()
                self.canvas.setMapTool(self.tool)
                self._zoom_to_yard()
        elif self.canvas.mapTool() is self.tool:
            self.canvas.unsetMapTool(self.tool)
            if self._previous_tool is not None:
                self.canvas.setMapTool(self._previous_tool)
            self._previous_tool = None

    def _on_car_drawn(self, end_a, end_b):
        if not self.active:
            return
        canvas_crs = self.canvas.mapSettings().destinationCrs()
        to_layer = QgsCoordinateTransform(canvas_crs, self.layer.crs(), QgsProject.instance())
        kind = self.kind_combo.currentText()
        fid = self.review_layer.add_car(to_layer.transform(end_a), to_layer.transform(end_b), kind)
        if fid < 0:
            self.message.emit(f"The car could not be added to {self.layer.name()}.", Qgis.MessageLevel.Critical)
        self._show_current(move_map=False)

    # --- keeping up with the layer ------------------------------------------------------

    def _on_written(self, fid: int):
        """A decision, an added car, or their undo/redo reached the file."""
        self._last_written = fid
        self._sync(fid)

    def _sync(self, fid: int):
        feature = self.review_layer.feature(fid) if fid is not None else None
        if feature is None:
            self.queue.remove(fid)
        elif fid in self.queue.items:
            item = self.review_layer.item(feature)
            self.queue.items[fid].confidence = item.confidence
            self.queue.set_review(fid, item.review)
        else:
            self.queue.add(self.review_layer.item(feature))
        self._counts_changed()

    def _counts_changed(self):
        self._update()
        self.counts_changed.emit(self.queue.counts(), self.queue.finished)

    def _connect_edits(self, on: bool):
        layer = self.layer
        pairs = ((layer.featureDeleted, self._on_feature_deleted), (layer.featureAdded, self._on_feature_added),
                 (layer.geometryChanged, self._on_edited), (layer.attributeValueChanged, self._on_attribute_edited),
                 (layer.afterCommitChanges, self._resync), (layer.afterRollBack, self._resync))
        for signal, slot in pairs:
            if on:
                signal.connect(slot)
            else:
                try:
                    signal.disconnect(slot)
                except (TypeError, RuntimeError):
                    pass

    def _on_feature_deleted(self, fid: int):
        self.queue.remove(fid)
        self._counts_changed()

    def _on_feature_added(self, fid: int):
        feature = self.review_layer.feature(fid)
        if feature is not None:
            self.queue.add(self.review_layer.item(feature))
            self._counts_changed()
            if self.review_layer.drawn_in_qgis(fid):  # once QGIS's add command is complete
                QTimer.singleShot(0, lambda: self._mark_added(fid))

    def _mark_added(self, fid: int):
        """A car added with QGIS's own tool is the analyst's: ``added``, with the dock's kind."""
        if not self.active or not self.review_layer.drawn_in_qgis(fid):
            return
        stack = self.layer.undoStack()
        if stack.index() == stack.count():  # a new car, not the redo of one (its mark is redone next)
            self.review_layer.mark_added_in_edits(fid, self.kind_combo.currentText())

    def _on_attribute_edited(self, fid: int, index: int, _value):
        name = self.layer.fields().at(index).name()
        if name == REVIEW_FIELD:  # a decision typed in the attribute table, or a car marked added
            if not self.review_layer.writing:  # ours arrive through ReviewLayer.changed
                self._sync(fid)
        elif name in CAR_SHAPE_FIELDS:
            self._on_edited(fid)

    def _on_edited(self, fid: int, *_args):
        """A car moved or reshaped with QGIS's editing: the analyst looked at it, so it is
        accepted (once the edit command is complete, and not while undoing or redoing)."""
        QTimer.singleShot(0, lambda: self._accept_edited(fid))

    def _accept_edited(self, fid: int):
        if not self.active or fid < 0 or fid not in self.queue.items:
            return
        stack = self.layer.undoStack()
        fresh = stack.index() == stack.count()  # a new edit (nothing to redo), not an undo
        if fresh and self.queue.items[fid].review == UNREVIEWED:
            self.review_layer.decide(fid, ACCEPTED, f"RailWatch: car {fid} edited, so reviewed", follows_edit=True)
            if fid == self.queue.current:
                self.queue.advance()
            self._show_current(move_map=False)

    def _resync(self, *_args):
        """After QGIS saved or discarded its edits: the layer's cars as they are now."""
        if not self.active:
            return
        items = {item.key: item for item in self.review_layer.items()}
        for key in list(self.queue.items):
            if key not in items:
                self.queue.remove(key)
        for key, item in items.items():
            if key in self.queue.items:
                self.queue.set_review(key, item.review)
            else:
                self.queue.add(ReviewItem(key, item.confidence, item.review))
        self._counts_changed()

    # --- the map ------------------------------------------------------------------------

    def _show_current(self, move_map: bool = True):
        self._clear_highlight()
        key = self.queue.current if self.active else None
        if key is not None:
            outline = self.review_layer.outline(key)
            if outline is not None:
                self.highlight = QgsHighlight(self.canvas, outline, self.layer)
                self.highlight.setColor(QColor("#ff00ff"))
                self.highlight.setFillColor(QColor(255, 0, 255, 40))
                self.highlight.setWidth(3)
                self.highlight.show()
            rect = self.review_layer.extent_around(key, self.canvas.mapSettings().destinationCrs())
            if move_map and rect is not None:
                self.canvas.setExtent(rect)
                self.canvas.refresh()
        self._counts_changed()

    def _zoom_to_yard(self, metres: float = ADD_VIEW_M):
        """Missed cars are found at yard scale: show the layer's cars within ``metres`` of
        the view's centre (the close-up of one car is too narrow to spot them), or all
        of them when they fit in a view that size (a yard 700 m long, seen from a car
        at one end, would otherwise be cut short where cars may be missing)."""
        settings = self.canvas.mapSettings()
        to_layer = QgsCoordinateTransform(settings.destinationCrs(), self.layer.crs(), QgsProject.instance())
        centre = to_layer.transform(self.canvas.extent().center())
        mx, my = metres_per_unit(self.layer, centre)
        self.layer.updateExtents()
        cars = QgsRectangle(self.layer.extent())
        if cars.width() * mx > 2 * metres or cars.height() * my > 2 * metres:
            cars = cars.intersect(QgsRectangle(centre.x() - metres / mx, centre.y() - metres / my,
                                               centre.x() + metres / mx, centre.y() + metres / my))
        if cars.isEmpty():
            return
        cars.scale(1.1)
        view = to_layer.transformBoundingBox(cars, QgsCoordinateTransform.ReverseTransform)
        if view.width() > self.canvas.extent().width():
            self.canvas.setExtent(view)
            self.canvas.refresh()

    def _clear_highlight(self):
        if self.highlight is not None:
            scene = self.canvas.scene()
            if scene is not None:
                scene.removeItem(self.highlight)
            self.highlight = None
