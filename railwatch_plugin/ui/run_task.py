"""Run one ``railwatch:*`` Processing algorithm as a background task.

The panel never calls the detector itself: it builds the same parameter dict the
toolbox would and hands it to :class:`QgsProcessingAlgRunnerTask`, so QGIS stays
responsive, the progress bar moves and Cancel works. Outputs go to files in a
fresh temporary folder; nothing touches the project until :attr:`AlgorithmRun.done`
fires on the main thread with success, so a cancel or a failure leaves no
half-made layers behind.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile

from qgis.core import (
    QgsApplication,
    QgsFeatureRequest,
    QgsMapLayer,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, pyqtSignal


class _CollectingFeedback(QgsProcessingFeedback):
    """Keeps the algorithm's errors and warnings so the panel can show them in
    words: a run can succeed and still say why its count is suspect (no rail
    centre line of TRACKS crosses the image, for example)."""

    def __init__(self):
        super().__init__()
        self.errors = []
        self.warnings = []

    def reportError(self, error, fatalError=False):  # noqa: N802, N803 (QGIS's names)
        self.errors.append(str(error))
        super().reportError(error, fatalError)

    def pushWarning(self, warning):  # noqa: N802 (QGIS's name)
        self.warnings.append(str(warning))
        super().pushWarning(warning)


# Runs whose task is still with the task manager. The task holds raw pointers to
# the run's context and feedback, so the run must outlive the panel that started
# it (unloading the plugin mid-run must not free them under a running thread).
_IN_FLIGHT = set()


def _layers_in(values) -> list:
    """The map layers among ``values`` and the lists in them."""
    found = []
    for value in values:
        if isinstance(value, QgsMapLayer):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found += _layers_in(value)
    return found


def _sources(value):
    """``value`` with map layers (also in a list) replaced by their sources; a vector
    layer's private copy by the id of the project layer it copies, as the panel chose it."""
    if isinstance(value, QgsMapLayer):
        return value.customProperty(_COPY_OF) or value.source()
    if isinstance(value, (list, tuple)):
        return [_sources(v) for v in value]
    return value


_COPY_OF = "railwatch/copy_of"  # a vector copy's custom property: the id of the layer it copies


def layer_for_a_task(layer: QgsMapLayer) -> QgsMapLayer:
    """What to give a background run as the input ``layer`` (the image, AOI, TRACKS, a
    history table, a reviewed layer): a private copy, made here on the main thread and
    never added to the project, that the task thread alone uses.

    Not the layer's id: the task thread would look the live project layer up and use it
    while the main thread may change or delete it (an AOI removed as the run started
    failed it, "Could not load source layer for AOI"). Not its path either: Processing
    (QgsProcessingUtils.mapLayerFromString) gives back the project layer whose source is
    that path, so the task thread used the live layer all the same.

    An image is cloned: the copy has the layer's name (the outputs' scene, and the date
    found in it), the CRS set in QGIS, and sources Processing cannot load from text (/vsi
    paths, GPKG:file:table). A vector layer is copied into a memory layer of the same
    name, fields and CRS holding the features QGIS shows (its filter applied, edits not
    saved yet included, which a clone reading the file would miss). ``AlgorithmRun``
    deletes the copy when the run ends, on the main thread."""
    if isinstance(layer, QgsVectorLayer):
        copy = layer.materialize(QgsFeatureRequest())
        copy.setName(layer.name())
        copy.setCustomProperty(_COPY_OF, layer.id())
        return copy
    return layer.clone()


def table_for_a_task(history):
    """What to give a background run as a table given by project layer id or by
    path (a history CSV, the site log, an earlier image's count table): a private
    copy made here on the main thread, as ``layer_for_a_task`` makes one, named
    afterwards by the id or path it came from.

    Not the text itself: Processing (QgsProcessingUtils.mapLayerFromString) looks
    text up among the project's layers in the task thread while the main thread may
    be adding result layers to the project; one full test run crashed there, in
    comparebaseline's parameterAsSource. Text that is no layer id and does not open
    as a table is passed on unchanged, for the algorithm to name the problem."""
    if not isinstance(history, str):
        return history
    layer = QgsProject.instance().mapLayer(history)
    if layer is not None:
        return layer_for_a_task(layer)
    opened = QgsVectorLayer(history, os.path.splitext(os.path.basename(history.split("|")[0]))[0], "ogr")
    if not opened.isValid():
        return history
    copy = layer_for_a_task(opened)
    copy.setCustomProperty(_COPY_OF, history)
    sip.delete(opened)  # here, on the main thread, not whenever Python's collector runs
    return copy


def new_output_folder(prefix: str = "railwatch_") -> str:
    """A fresh folder under Processing's temporary folder for one run's outputs."""
    return tempfile.mkdtemp(prefix=prefix, dir=QgsProcessingUtils.tempFolder())


class AlgorithmRun(QObject):
    """One algorithm run. Emits ``progress`` (0-100) and then ``done`` exactly once:
    ``done(ok, results, message)``; ``message`` names the problem when ``ok`` is False
    ("Canceled." after a cancel)."""

    progress = pyqtSignal(float)
    done = pyqtSignal(bool, dict, str)

    def __init__(self, algorithm_id: str, parameters: dict, output_folder: str = None, parent=None):
        super().__init__(parent)
        self.algorithm_id = algorithm_id
        self.parameters = dict(parameters)
        self.output_folder = output_folder
        self.canceled = False
        self.finished = False
        algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
        if algorithm is None:
            raise LookupError(
                f"The Processing algorithm {algorithm_id} is not available: is the RailWatch provider enabled "
                "(Settings > Options > Processing > Providers)?"
            )
        self.context = QgsProcessingContext()
        self.context.setProject(QgsProject.instance())
        self.feedback = _CollectingFeedback()
        self.task = QgsProcessingAlgRunnerTask(algorithm, self.parameters, self.context, self.feedback)
        self.task.setDescription(f"RailWatch: {algorithm.displayName()}")
        self.task.executed.connect(self._on_executed)
        self.task.progressChanged.connect(self.progress)

    def start(self) -> None:
        # Dead Python wrappers of Qt objects (an earlier run's copy, closed panels, layers)
        # are freed here, on the main thread that made them. Left pending, Python's
        # collector would free them in whatever thread next allocates enough, which is
        # the task's while it runs, and a QObject deleted from the wrong thread can crash
        # QGIS's event loop (fresh-clone test runs ended so, about one in four).
        gc.collect()
        _IN_FLIGHT.add(self)
        QgsApplication.taskManager().addTask(self.task)

    def cancel(self) -> None:
        if not self.finished:
            self.canceled = True
            self.feedback.cancel()
            self.task.cancel()

    def _on_executed(self, successful: bool, results: dict) -> None:
        self.finished = True
        self.task = None  # owned (and deleted) by the task manager from here on
        _IN_FLIGHT.discard(self)
        # A layer the run was given and owns (layer_for_a_task's copy) is deleted here, on the
        # main thread, and named by its source from now on (as the site log records it). Not
        # left to Python: a failed run's traceback keeps the task thread's parameters, and
        # the garbage collector would delete the copy whenever, in whatever thread it runs.
        given = [layer for layer in _layers_in(self.parameters.values()) if sip.ispyowned(layer)]
        self.parameters = {name: _sources(value) for name, value in self.parameters.items()}
        for layer in given:
            sip.delete(layer)
        if self.canceled or self.feedback.isCanceled():
            self.discard_outputs()
            self.done.emit(False, {}, "Canceled.")
            return
        if not successful:
            message = self.feedback.errors[-1] if self.feedback.errors else "the algorithm failed (see the log)."
            self.discard_outputs()
            self.done.emit(False, {}, f"{self.algorithm_id} failed: {message}")
            return
        self.done.emit(True, dict(results or {}), "")

    @property
    def warnings(self) -> list:
        """What the algorithm warned about, in its words, in order."""
        return list(self.feedback.warnings)

    def discard_outputs(self) -> None:
        if self.output_folder and os.path.isdir(self.output_folder):
            shutil.rmtree(self.output_folder, ignore_errors=True)
