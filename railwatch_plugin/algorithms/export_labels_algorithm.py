"""``railwatch:exportlabels``: an analyst's reviewed cars as training labels.

Writes, into the OUTPUT folder, one GeoTIFF window per scene (the part of the
image around its reviewed cars, every band as read) and ``labels.json`` with
each reviewed car in that window's pixels. The format is defined, written and
read back in :mod:`railwatch_plugin.core.labels` (no QGIS needed to read it);
its docstring is the reference, and the README repeats it.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Set, Tuple

from qgis.core import (
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsProcessingException,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from ..core.labels import LOOKALIKE, RAILCAR, WINDOWS_FOLDER, LabelCar, LabelWindow, write_labels
from ..review import ACCEPTED, ADDED, REJECTED, REVIEW_FIELD, normalize_review, number_or
from .base import RailWatchAlgorithm
from .detection_parameters import with_help
from .ground_resolution import ground_gsd_m, heading_in_pixels
from .input_checks import (
    PointLayersParameter,
    RasterLayersParameter,
    file_layer_name,
    first_layers_problem,
    input_raster_problem,
    input_vector_problem,
    raster_layers,
    vector_layers,
)

LABEL_OF = {ACCEPTED: RAILCAR, ADDED: RAILCAR, REJECTED: LOOKALIKE}


class ExportLabelsAlgorithm(RailWatchAlgorithm):
    GROUP = ("Review", "review")
    INPUTS = "INPUTS"
    IMAGES = "IMAGES"
    MARGIN_M = "MARGIN_M"
    OUTPUT = "OUTPUT"
    WINDOWS = "WINDOWS"
    RAILCARS = "RAILCARS"
    LOOKALIKES = "LOOKALIKES"

    def name(self):
        return "exportlabels"

    def displayName(self):  # noqa: N802 (QGIS's name)
        return "Export reviewed cars as training labels"

    def shortHelpString(self):  # noqa: N802 (QGIS's name)
        return (
            "Writes the cars an analyst reviewed in the RailWatch panel as labels a detector can be trained on.\n\n"
            "Accepted and added cars become 'railcar' labels, rejected ones 'lookalike' labels; unreviewed cars "
            "are left out. For each scene (the cars' 'scene' field) the image in IMAGES of that name is cut to "
            "a window around its reviewed cars (plus MARGIN_M) and saved as windows/NNN_<scene>.tif, every band "
            "as read. labels.json lists, per window: the image, scene, acquisition date, source image, ground "
            "metres per pixel (gsd_m), size, CRS and geotransform, and each car's centre in window pixels "
            "(col_px, row_px), length_m, width_m, heading_deg (clockwise from the window's up, which is north only on "
            "north-up images; null when unknown), kind, label and "
            "review. Python can read it with railwatch_plugin.core.labels.read_labels(folder), without QGIS.\n\n"
            "Nothing is written unless every scene with reviewed cars has exactly one image in IMAGES with its "
            "cars on it, and every image in IMAGES is the image of a scene in INPUTS (an image whose scene has no "
            "reviewed car yet gets no window, and the log says so). One image given for the cars of one scene is "
            "their image whatever its name."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self.addParameter(with_help(
            PointLayersParameter(self.INPUTS, "Reviewed railcar layers"),
            "Railcar point layers with a 'review' field (reviewed in the RailWatch panel). Several layers, and "
            "several scenes per layer, are fine.",
        ))
        self.addParameter(with_help(
            RasterLayersParameter(self.IMAGES, "Images"),
            "The images the cars were reviewed on. A car's 'scene' field names its image (the layer name, or "
            "the file name without extension); one image given for the cars of one scene is theirs whatever its "
            "name. An image that no scene of INPUTS names, or two images of one name, stop the run.",
        ))
        margin = QgsProcessingParameterNumber(
            self.MARGIN_M, "Margin around the cars (m)", QgsProcessingParameterNumber.Double, 30.0, minValue=0.0
        )
        self.addParameter(with_help(
            margin, "How much ground around the outermost reviewed cars each window keeps, in metres.", advanced=True
        ))
        self.addParameter(with_help(
            QgsProcessingParameterFolderDestination(self.OUTPUT, "Label folder"),
            "A folder for labels.json and the windows/ images (created if missing; an earlier export there is "
            "replaced).",
        ))
        self.addOutput(QgsProcessingOutputFolder(self.OUTPUT, "Label folder"))
        self.addOutput(QgsProcessingOutputNumber(self.WINDOWS, "Number of image windows"))
        self.addOutput(QgsProcessingOutputNumber(self.RAILCARS, "Number of railcar labels"))
        self.addOutput(QgsProcessingOutputNumber(self.LOOKALIKES, "Number of look-alike labels"))

    def checkParameterValues(self, parameters, context):  # noqa: N802 (QGIS's name)
        # what is wrong with a file, before QGIS's own check says only "Incorrect parameter value"
        problem = (first_layers_problem(parameters, self.INPUTS, context, input_vector_problem)
                   or first_layers_problem(parameters, self.IMAGES, context, input_raster_problem))
        if problem:
            return False, problem
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        try:  # the layers' problems, told before any file is written
            self._plan(parameters, context)
        except QgsProcessingException as exc:
            return False, str(exc)
        return True, ""

    def _plan(self, parameters, context) -> "_Plan":
        """Every window to write, worked out from the inputs alone, or a
        QgsProcessingException in words that name the fix: nothing is written
        until every scene has its image and its cars are on it."""
        # every value or an error naming it: parameterAsLayerList leaves out what it cannot load
        layers = vector_layers(parameters, self.INPUTS, context)
        images = raster_layers(parameters, self.IMAGES, context)
        if not images:
            raise QgsProcessingException("IMAGES is empty: give the images the cars were reviewed on.")
        by_scene, every_scene, no_geometry = _cars_by_scene(layers)
        if not by_scene:
            raise QgsProcessingException(
                "None of the INPUTS layers has a reviewed car (review accepted, added or rejected): review the "
                "cars in the RailWatch panel first, or give the layers that were reviewed."
            )
        distinct = _distinct_images(images)
        # "with one image, every car is on it": one image given for the cars of one scene, when
        # the image is not named after another scene of INPUTS
        only = None
        if len(images) == 1 and len(by_scene) == 1 and not distinct[0].names & every_scene:
            only = distinct[0]
        image_of = OrderedDict((scene, only or _image_named(scene, distinct)) for scene in by_scene)
        used = {id(image) for image in image_of.values()}
        for image in distinct:
            if id(image) not in used and not image.names & every_scene:
                raise QgsProcessingException(
                    f"IMAGES: {image.source} is the image of no scene in INPUTS (its names: "
                    f"{', '.join(sorted(image.names))}; the cars' scenes: {', '.join(sorted(every_scene))}): "
                    "leave it out of IMAGES, or add the layer reviewed on it to INPUTS (a car's 'scene' field "
                    "names its image)."
                )
        margin_m = self.parameterAsDouble(parameters, self.MARGIN_M, context)
        windows = [
            _place_window(number, scene, by_scene[scene], image.layer, margin_m, context)
            for number, (scene, image) in enumerate(image_of.items())
        ]
        idle = [scene for scene in sorted(every_scene) if scene not in by_scene and
                any(scene in image.names for image in distinct)]
        return _Plan(windows, idle, no_geometry)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        from osgeo import gdal

        plan = self._plan(parameters, context)
        for scene in plan.idle_scenes:
            feedback.pushInfo(f"{scene}: no reviewed car, so no window")
        for scene, n in plan.cars_without_geometry.items():
            feedback.pushInfo(f"{scene}: {n} reviewed car{'s' if n > 1 else ''} without a geometry left out "
                              "(give each a point on the map to export it)")
        folder = self.parameterAsString(parameters, self.OUTPUT, context)
        # The windows are written beside the earlier export first, and take its place only
        # when every one is complete: a canceled or failed run (a full disk) leaves the
        # earlier export as it was, not half of each.
        try:
            os.makedirs(folder, exist_ok=True)
            staging = tempfile.mkdtemp(prefix=".exportlabels-", dir=folder)
        except OSError as exc:
            raise QgsProcessingException(
                f"OUTPUT: cannot write into {folder} ({exc.strerror}): choose a folder you can write to."
            ) from exc
        try:
            for number, placed in enumerate(plan.windows):
                if feedback.isCanceled():
                    return {}
                path = placed.window.image_path(staging)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                written = gdal.Translate(path, placed.window.source, srcWin=placed.src_win,
                                         creationOptions=["COMPRESS=DEFLATE", "TILED=YES"])
                if written is None:
                    raise QgsProcessingException(
                        f"Cannot write {placed.window.image_path(folder)} ({gdal.GetLastErrorMsg()}): check that the "
                        "OUTPUT folder takes files and has room. The earlier export there is unchanged."
                    )
                written = None  # closed: the file is complete
                feedback.setProgress(100.0 * (number + 1) / len(plan.windows))
            windows = [placed.window for placed in plan.windows]
            _publish(staging, folder, windows)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        labels = [car.label for window in windows for car in window.cars]
        feedback.pushInfo(
            f"{len(windows)} window(s), {labels.count(RAILCAR)} railcars, {labels.count(LOOKALIKE)} look-alikes"
        )
        return {self.OUTPUT: folder, self.WINDOWS: len(windows), self.RAILCARS: labels.count(RAILCAR),
                self.LOOKALIKES: labels.count(LOOKALIKE)}


class _Plan(NamedTuple):
    windows: List["_PlacedWindow"]  # in the order of the scenes
    idle_scenes: List[str]  # scenes of INPUTS with an image in IMAGES but no reviewed car
    cars_without_geometry: Dict[str, int]  # scene -> reviewed cars left out: nowhere to place them


class _PlacedWindow(NamedTuple):
    window: LabelWindow  # as labels.json will hold it
    src_win: List[int]  # x0, y0, width, height in the source image's pixels


class _Image:
    """One image of IMAGES (given once or more) and the names a scene may call it by."""

    def __init__(self, layer):
        self.layer = layer
        self.source = layer.source()
        self.names: Set[str] = set()

    def add_names(self, layer) -> None:
        self.names |= {layer.name(), file_layer_name(layer.source())}


def _distinct_images(images) -> List[_Image]:
    """The images of IMAGES, each once (the same file given twice is one image, called by
    all its names)."""
    by_source: Dict[str, _Image] = OrderedDict()
    for layer in images:
        path = layer.source().split("|")[0]
        key = os.path.normcase(os.path.abspath(path)) if os.path.exists(path) else layer.source()
        by_source.setdefault(key, _Image(layer)).add_names(layer)
    return list(by_source.values())


def _image_named(scene: str, images: List[_Image]) -> _Image:
    named = [image for image in images if scene in image.names]
    if len(named) > 1:
        raise QgsProcessingException(
            f"IMAGES: {len(named)} images are named '{scene}' ({', '.join(image.source for image in named)}): "
            "keep the one its cars were reviewed on, or rename the other layers."
        )
    if not named:
        raise QgsProcessingException(
            f"No image for scene '{scene}': add its image to IMAGES (a layer or file named {scene})."
        )
    return named[0]


def _cars_by_scene(layers) -> Tuple[Dict[str, list], Set[str], Dict[str, int]]:
    """scene -> [(feature, layer)] of the reviewed cars, in the order the layers come; the
    scene of every car, reviewed or not; and scene -> how many reviewed cars have no
    geometry (they cannot be placed on an image, so they are left out, and the log says so)."""
    by_scene: Dict[str, list] = OrderedDict()
    every_scene: Set[str] = set()
    no_geometry: Dict[str, int] = OrderedDict()
    for layer in layers:
        names = layer.fields().names()
        if REVIEW_FIELD not in names:
            raise QgsProcessingException(
                f"{layer.name()} has no '{REVIEW_FIELD}' field: it was never reviewed. Review it in the RailWatch "
                "panel (which adds the field), or leave it out of INPUTS."
            )
        for feature in layer.getFeatures(QgsFeatureRequest()):
            scene = str((feature["scene"] if "scene" in names else None) or layer.name())
            every_scene.add(scene)
            if normalize_review(feature[REVIEW_FIELD]) not in LABEL_OF:
                continue
            if feature.geometry().isEmpty():
                no_geometry[scene] = no_geometry.get(scene, 0) + 1
                continue
            by_scene.setdefault(scene, []).append((feature, layer))
    return by_scene, every_scene, no_geometry


def _publish(staging: str, folder: str, windows: List[LabelWindow]) -> None:
    """Move the complete new windows from ``staging`` into ``folder`` (renames on one disk:
    no room needed), replace labels.json, and delete an earlier export's windows that it
    no longer names (they would be stray training images)."""
    windows_folder = os.path.join(folder, WINDOWS_FOLDER)
    os.makedirs(windows_folder, exist_ok=True)
    for window in windows:
        os.replace(window.image_path(staging), window.image_path(folder))
    write_labels(folder, windows)
    named = {os.path.basename(window.image) for window in windows}
    for name in os.listdir(windows_folder):
        if re.fullmatch(r"\d{3}_.*\.tif", name) and name not in named:
            os.remove(os.path.join(windows_folder, name))


def _place_window(number, scene, cars, raster, margin_m, context) -> _PlacedWindow:
    """The window of ``scene`` on ``raster`` around its reviewed ``cars``, and the cars in its pixels."""
    from osgeo import gdal

    dataset = gdal.Open(raster.source())
    if dataset is None:
        raise QgsProcessingException(
            f"IMAGES: {raster.name()}: GDAL cannot open {raster.source()}; give a readable image file."
        )
    gt = dataset.GetGeoTransform()
    inverse = gdal.InvGeoTransform(gt)
    gsd = ground_gsd_m(raster.crs(), gt, dataset.RasterXSize, dataset.RasterYSize, context.transformContext())
    placed = []
    for feature, layer in cars:
        to_raster = QgsCoordinateTransform(layer.crs(), raster.crs(), context.transformContext())
        point = to_raster.transform(feature.geometry().centroid().asPoint())
        col, row = gdal.ApplyGeoTransform(inverse, point.x(), point.y())
        placed.append((col, row, feature))
    reach = [margin_m + number_or(f["length_m"], 20.0) / 2 for _, _, f in placed]
    x0 = max(0, int(math.floor(min(c - r / gsd[0] for (c, _, _), r in zip(placed, reach)))))
    y0 = max(0, int(math.floor(min(w - r / gsd[1] for (_, w, _), r in zip(placed, reach)))))
    x1 = min(dataset.RasterXSize, int(math.ceil(max(c + r / gsd[0] for (c, _, _), r in zip(placed, reach)))))
    y1 = min(dataset.RasterYSize, int(math.ceil(max(w + r / gsd[1] for (_, w, _), r in zip(placed, reach)))))
    if x1 <= x0 or y1 <= y0:
        raise QgsProcessingException(
            f"IMAGES: the reviewed cars of '{scene}' are not on {raster.name()} ({raster.source()}): give the image "
            "they were reviewed on."
        )
    safe = re.sub(r"[^\w\-]+", "_", scene).strip("_") or "scene"
    relative = f"{WINDOWS_FOLDER}/{number:03d}_{safe}.tif"
    window_gt = (gt[0] + x0 * gt[1] + y0 * gt[2], gt[1], gt[2], gt[3] + x0 * gt[4] + y0 * gt[5], gt[4], gt[5])
    acquired = next((f["acquired"] for _, _, f in placed if "acquired" in f.fields().names() and f["acquired"]), None)
    label_cars = [
        LabelCar(
            col_px=round(col - x0, 3), row_px=round(row - y0, 3), length_m=number_or(f["length_m"], 0.0),
            width_m=number_or(f["width_m"], 0.0), heading_deg=_window_heading(f["heading_deg"], gt),
            kind=str(f["kind"] or "unknown"),
            label=LABEL_OF[normalize_review(f[REVIEW_FIELD])], review=normalize_review(f[REVIEW_FIELD]),
        )
        for col, row, f in placed
    ]
    window = LabelWindow(
        image=relative, scene=scene, acquired=_iso(acquired), source=raster.source(),
        gsd_m=(round(gsd[0], 4), round(gsd[1], 4)), width_px=x1 - x0, height_px=y1 - y0,
        crs=raster.crs().authid() or raster.crs().toWkt(), geotransform=window_gt,
        cars=label_cars,
    )
    return _PlacedWindow(window, [x0, y0, x1 - x0, y1 - y0])


def _window_heading(value, geotransform):
    """A car's heading (clockwise from the map's north) clockwise from the window's up; None
    when the car has none (a point added with QGIS's own tool)."""
    heading = number_or(value, None)
    return None if heading is None else round(heading_in_pixels(heading, geotransform), 1) % 180.0


def _iso(value):
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return None
    if hasattr(value, "toString"):
        return value.toString("yyyy-MM-dd")
    return str(value)[:10]
