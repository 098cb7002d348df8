"""``railwatch:adaptdetector``: a detector model adapted to a site's imagery from its reviewed cars."""

from __future__ import annotations

import datetime
import math
from typing import List

import numpy as np
from qgis.core import (
    QgsCoordinateTransform,
    QgsProcessingException,
    QgsProcessingOutputBoolean,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFileDestination,
    QgsRasterLayer,
    QgsVectorLayer,
)

from ..review import ACCEPTED, ADDED, REJECTED, REVIEW_FIELD, UNREVIEWED, normalize_review, number_or
from . import detection_parameters as dp
from .base import RailWatchAlgorithm
from .destinations import check_destinations, removing_new_files_on_failure
from .ground_resolution import NoCrsError, ground_gsd_m, heading_in_pixels
from .input_checks import (
    RasterLayersParameter,
    VectorLayersParameter,
    first_layers_problem,
    input_raster_problem,
    input_vector_problem,
    raster_layers,
    vector_layers,
)
from .raster_reading import RasterReadError, open_raster
from .track_lines import inverse_geotransform, map_to_pixel

WINDOW_MARGIN_M = 150.0  # the image is read this far around the reviewed cars


class AdaptDetectorAlgorithm(RailWatchAlgorithm):
    REVIEWED = "REVIEWED"
    IMAGES = "IMAGES"
    BASE_MODEL = "BASE_MODEL"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    ADAPTED = "ADAPTED"
    MODEL_NAME = "MODEL_NAME"
    BASE_F1, ADAPTED_F1 = "BASE_F1", "ADAPTED_F1"
    BASE_COUNT_ERROR, ADAPTED_COUNT_ERROR = "BASE_COUNT_ERROR", "ADAPTED_COUNT_ERROR"
    CARS_BETTER, CARS_WORSE = "CARS_BETTER", "CARS_WORSE"

    def name(self):
        return "adaptdetector"

    def displayName(self):  # noqa: N802 (QGIS's name)
        return "Adapt the detector to reviewed cars"

    def shortHelpString(self):  # noqa: N802 (QGIS's name)
        return (
            "Learns from an analyst's review: makes a detector model for this site's imagery from railcar layers "
            "whose cars were accepted, rejected or added (the 'review' field), and the images they were found on.\n\n"
            "Accepted and added cars are cars, rejected ones are not; unreviewed ones are left out. A car added "
            "as a bare point (no length or heading) gets the usual size and the local track direction.\n\n"
            "The last layers of the network are retrained on the reviewed cars (numpy and OpenCV, a few minutes "
            "at most on a laptop). To measure it, the site is cut into three blocks of reviewed cars and each is "
            "held out in turn: the base and the adapted model are both run on it as the detector runs them, and "
            "both figures (F1, count error) are reported. An adapted model counts on its own confidence: the "
            "raise the shipped model gives doubtful cars in strings of sure ones was measured for it alone. "
            "The adapted model is kept only when it scores a higher F1 and is right where the base is wrong on "
            "clearly more held-out cars and false detections than the reverse, beyond chance (5 to 0, 7 to 1, "
            "9 to 2, ...); otherwise the base model is written instead, unchanged, and the log says so. The "
            "blocks share the reviewed image's light, trains and paint, so they promise more than the site's "
            "other images give, and other sites that merely look alike gain less still; a review of a site the "
            "detector already reads well teaches little.\n\n"
            "Give the written model as MODEL to 'Detect railcars' or 'Count railcars across dated images' for the "
            "next images of this site; their outputs name the model that made each count."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self.addParameter(dp.with_help(
            VectorLayersParameter(self.REVIEWED, "Reviewed railcar layers"),
            "Railcar layers (points or outlines) with a 'review' field: accepted, added, rejected or unreviewed. "
            "Length_m and heading_deg are used where filled in.",
        ))
        self.addParameter(dp.with_help(
            RasterLayersParameter(self.IMAGES, "Their images"),
            "The image each reviewed layer was found on, in the same order as the layers.",
        ))
        self.addParameter(dp.model_parameter(
            self.BASE_MODEL, "Model to start from", True,
            "Optional detector model (.npz) to adapt. Empty: the model shipped with RailWatch."))
        self.addParameter(dp.with_help(
            QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, "Adapted model", "RailWatch detector model (*.npz)"),
            "Where to write the model: the weights and a header naming the base model, the scenes and cars it "
            "learnt from, the date and the measured figures.",
        ))
        self.addOutput(QgsProcessingOutputBoolean(self.ADAPTED, "Adapting helped (else the base model was written)"))
        self.addOutput(QgsProcessingOutputString(self.MODEL_NAME, "Name of the written model"))
        for key, text in ((self.BASE_F1, "F1 of the base model on the held-out cars"),
                          (self.ADAPTED_F1, "F1 of the adapted model on the held-out cars"),
                          (self.BASE_COUNT_ERROR, "Count error of the base model on the held-out cars (fraction)"),
                          (self.ADAPTED_COUNT_ERROR, "Count error of the adapted model on the held-out cars (fraction)"),
                          (self.CARS_BETTER, "Held-out cars and false detections the adapted model gets right "
                                             "and the base wrong"),
                          (self.CARS_WORSE, "Held-out cars and false detections the adapted model gets wrong "
                                            "and the base right")):
            self.addOutput(QgsProcessingOutputNumber(key, text))

    def checkParameterValues(self, parameters, context):  # noqa: N802 (QGIS's name)
        problem = (first_layers_problem(parameters, self.REVIEWED, context, input_vector_problem)
                   or first_layers_problem(parameters, self.IMAGES, context, input_raster_problem)
                   or dp.model_problem(self, parameters, context, self.BASE_MODEL))
        if problem:
            return False, problem
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        dp.require_dependencies()
        dp.require_model(self, parameters, context, self.BASE_MODEL)
        # the folder is checked before minutes of adapting, not when the model is written
        destinations = check_destinations(self, parameters, context, (self.OUTPUT_MODEL,))
        return removing_new_files_on_failure(destinations, lambda: self._adapt(parameters, context, feedback))

    def _adapt(self, parameters, context, feedback) -> dict:
        from ..core.adapt import AdaptCanceled, AdaptError, AdaptSettings, Figures, adapt
        from ..core.model_file import save_model
        from .scene_detection import detector_model

        reviewed = vector_layers(parameters, self.REVIEWED, context)
        images = raster_layers(parameters, self.IMAGES, context)
        if not reviewed:
            raise QgsProcessingException("REVIEWED: give at least one railcar layer with a 'review' field")
        if len(reviewed) != len(images):
            raise QgsProcessingException(
                f"REVIEWED has {len(reviewed)} layer(s) and IMAGES {len(images)}: give each reviewed layer its image, "
                "in the same order")
        base_path = self.parameterAsFile(parameters, self.BASE_MODEL, context) or None
        base = detector_model(base_path, self.BASE_MODEL)
        out_path = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        if not out_path:
            raise QgsProcessingException("OUTPUT_MODEL: give a file to write the model to")
        scenes = [reviewed_scene(layer, image, context, feedback) for layer, image in zip(reviewed, images)]
        feedback.pushInfo(f"Adapting {base.label} to {len(scenes)} scene(s)")

        def progress(fraction, stage):
            feedback.setProgressText(f"Adapting: {stage}")
            feedback.setProgress(100.0 * fraction)

        try:
            result = adapt(scenes, base, AdaptSettings(), progress=progress, is_canceled=feedback.isCanceled)
        except AdaptCanceled:
            return {}
        except AdaptError as exc:
            raise QgsProcessingException(str(exc)) from exc
        name = f"{scenes[0].name} adapted" if result.adapted else base.name
        header = dict(result.header, name=name, date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        try:
            save_model(out_path, result.weights, header)
        except OSError as exc:
            raise QgsProcessingException(f"OUTPUT_MODEL: cannot write {out_path}: {exc}") from exc
        model = detector_model(out_path, self.OUTPUT_MODEL)
        feedback.pushInfo(result.summary)
        feedback.pushInfo(f"Wrote {model.label} to {out_path} ({result.seconds:.0f} s)")
        b, a = result.figures.base, result.figures.adapted
        return {
            self.OUTPUT_MODEL: out_path, self.ADAPTED: result.adapted, self.MODEL_NAME: model.label,
            self.BASE_F1: b.f1, self.ADAPTED_F1: a.f1,
            self.BASE_COUNT_ERROR: Figures.count_error(b), self.ADAPTED_COUNT_ERROR: Figures.count_error(a),
            self.CARS_BETTER: result.figures.paired.gains, self.CARS_WORSE: result.figures.paired.losses,
        }


def _number(value):
    number = number_or(value, None)
    return number if number is not None and math.isfinite(number) and number > 0 else None


def reviewed_scene(layer: QgsVectorLayer, image: QgsRasterLayer, context, feedback):
    """The layer's reviewed cars and the part of the image around them, as core.adapt wants them."""
    from ..core.adapt import IGNORE, NEGATIVE, POSITIVE, ReviewedCar, ReviewedScene

    names = layer.fields().names()
    if REVIEW_FIELD not in names:
        raise QgsProcessingException(
            f"REVIEWED: {layer.name()} has no '{REVIEW_FIELD}' field: review its cars in the RailWatch panel first "
            "(accept, reject, add), or give a layer exported by 'Export reviewed cars as training labels'")
    if not image.isValid():
        raise QgsProcessingException(f"IMAGES: {image.name()} is not a raster QGIS can read ({image.source()})")
    if not image.crs().isValid():
        raise QgsProcessingException(f"IMAGES: {image.name()}: {NoCrsError()}")
    try:
        opened = open_raster(image)
    except RasterReadError as exc:
        raise QgsProcessingException(f"IMAGES: {image.name()}: {exc}") from exc
    width, height = opened.source.width, opened.source.height
    try:
        gsd = ground_gsd_m(image.crs(), opened.geotransform, width, height, context.transformContext())
    except ValueError as exc:
        raise QgsProcessingException(f"IMAGES: {image.name()}: {exc}") from exc
    to_image = QgsCoordinateTransform(layer.crs(), image.crs(), context.transformContext())
    inverse = inverse_geotransform(opened.geotransform)
    status_of = {ACCEPTED: POSITIVE, ADDED: POSITIVE, REJECTED: NEGATIVE, UNREVIEWED: IGNORE}
    rows: List[tuple] = []
    unknown = set()
    decided = placed = 0
    for feature in layer.getFeatures():
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            continue
        placed += 1
        value = feature[REVIEW_FIELD]
        review = normalize_review(value)
        is_null = value is None or (hasattr(value, "isNull") and value.isNull())
        if review == UNREVIEWED and not is_null and str(value).strip().lower() not in ("", UNREVIEWED):
            unknown.add(str(value).strip())  # read as unreviewed, as the review panel reads it
        decided += review != UNREVIEWED
        point = to_image.transform(geometry.centroid().asPoint())
        col, row = map_to_pixel(inverse, np.array([[point.x(), point.y()]]))[0]
        if not (0 <= col < width and 0 <= row < height):
            continue
        length = _number(feature["length_m"]) if "length_m" in names else None
        # written clockwise from the map's north; the adaptation wants it from the image's up
        heading = number_or(feature["heading_deg"], None) if "heading_deg" in names else None
        if heading is not None:
            heading = heading_in_pixels(heading, opened.geotransform)
        width_m = _number(feature["width_m"]) if "width_m" in names else None
        rows.append((col, row, status_of[review], length, heading, width_m))
    if unknown:
        feedback.pushWarning(f"{layer.name()}: review values {sorted(unknown)} are none of accepted, added, rejected, "
                             "unreviewed; those cars are taken as unreviewed")
    if not placed:
        raise QgsProcessingException(
            f"REVIEWED: {layer.name()} has no reviewed car: it holds no car at all (no feature with a geometry). "
            "Give the railcar layer of a run whose cars were reviewed in the RailWatch panel")
    if not decided:  # every RailWatch layer has the field: an unreviewed run's cars are all unreviewed
        raise QgsProcessingException(
            f"REVIEWED: {layer.name()} has no reviewed car (every car is unreviewed): review its cars in the "
            "RailWatch panel first (accept, reject, add)")
    if not rows:
        raise QgsProcessingException(f"REVIEWED: no car of {layer.name()} lies on {image.name()}: "
                                     "is each layer given with its own image, in the same order?")
    pos = np.array([r[:2] for r in rows])
    margin = np.array([WINDOW_MARGIN_M / gsd[0], WINDOW_MARGIN_M / gsd[1]])
    c0, r0 = np.maximum(0, np.floor(pos.min(axis=0) - margin)).astype(int)
    c1, r1 = np.minimum([width, height], np.ceil(pos.max(axis=0) + margin)).astype(int)
    try:
        window = opened.source.read(int(c0), int(r0), int(c1 - c0), int(r1 - r0))
    except RasterReadError as exc:
        raise QgsProcessingException(f"IMAGES: {image.name()}: {exc}") from exc
    cars = [ReviewedCar(col - c0, row - r0, status, length, heading, width_m)
            for col, row, status, length, heading, width_m in rows]
    feedback.pushInfo(f"{layer.name()} on {image.name()}: {sum(c.status == POSITIVE for c in cars)} accepted or added, "
                      f"{sum(c.status == NEGATIVE for c in cars)} rejected, {sum(c.status == IGNORE for c in cars)} unreviewed")
    return ReviewedScene(image.name(), window.data, gsd, cars, window.valid)
