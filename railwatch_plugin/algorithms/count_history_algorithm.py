"""``railwatch:counthistory``: one count per dated image, ready for comparebaseline."""

from __future__ import annotations

import datetime
import os
from typing import List

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsRasterLayer,
    QgsWkbTypes,
)

from . import detection_parameters as dp
from .base import RailWatchAlgorithm
from .destinations import check_destinations, removing_new_files_on_failure, tidy_if_csv
from .input_checks import (
    RasterLayersParameter,
    file_layer_name,
    first_layers_problem,
    input_raster_problem,
    raster_layers,
)

IMAGE_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt")


def images_in_folder(folder: str) -> List[str]:
    """Image files directly in ``folder`` (not sub-folders), sorted by name."""
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES))
    return [os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))]


def history_order(row):
    """Dated rows first, oldest first; undated rows last, by scene name."""
    scene, acquired = row[0], row[1]
    return (acquired is None, acquired or datetime.date.min, scene)


class CountHistoryAlgorithm(RailWatchAlgorithm):
    INPUTS = "INPUTS"
    FOLDER = "FOLDER"
    OUTPUT = "OUTPUT"
    IMAGES = "IMAGES"

    def name(self):
        return "counthistory"

    def displayName(self):  # noqa: N802 (QGIS's name)
        return "Count railcars across dated images"

    def shortHelpString(self):  # noqa: N802 (QGIS's name)
        return (
            "Counts railcars on each of several images of one site and writes a history table: "
            "scene, acquired date, count, mean confidence and the count of each kind, oldest first.\n\n"
            "Give the images as layers (INPUTS), as a folder of .tif/.tiff/.jp2/.vrt files (FOLDER), or both. "
            "The date comes from each image's metadata or a YYYY-MM-DD / YYYYMMDD in its file name; "
            "images without one are listed last with an empty date. An image file's scene is its file name "
            "without the extension, whether it is given in INPUTS or found in FOLDER; a layer of the project keeps "
            "its name. An image with nothing to count (no valid pixel, or no AOI polygon over it) gets a row with "
            "an empty count, which comparebaseline skips.\n\n"
            "Detection is exactly that of 'Detect railcars', with the same parameters. "
            "With AOI, only cars inside the polygons are counted. "
            "The table is ready for 'Compare a count with its baseline' (HISTORY)."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self.addParameter(dp.with_help(
            RasterLayersParameter(self.INPUTS, "Images", optional=True),
            "Images of the site taken on different dates.",
        ))
        self.addParameter(dp.with_help(
            QgsProcessingParameterFile(self.FOLDER, "Folder of images", QgsProcessingParameterFile.Folder, optional=True),
            "Every .tif, .tiff, .jp2 and .vrt file directly in this folder is counted too.",
        ))
        dp.add_detection_parameters(
            self,
            aoi_help="Optional polygons (for example the rail yard): only cars inside them are counted.",
        )
        self.addParameter(dp.with_help(
            QgsProcessingParameterFeatureSink(self.OUTPUT, "Railcar count history", QgsProcessing.TypeVector),
            "One row per image: scene, acquired, count, mean_confidence, n_<kind>, model; oldest first.",
        ))
        self.addOutput(QgsProcessingOutputNumber(self.IMAGES, "Number of images counted"))

    def checkParameterValues(self, parameters, context):  # noqa: N802 (QGIS's name)
        problem = (first_layers_problem(parameters, self.INPUTS, context, input_raster_problem)
                   or dp.parameter_problem(parameters) or dp.model_problem(self, parameters, context))
        if problem:
            return False, problem
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        dp.require_dependencies()
        dp.require_model(self, parameters, context)
        destinations = check_destinations(self, parameters, context, (self.OUTPUT,))
        results = removing_new_files_on_failure(destinations, lambda: self._count(parameters, context, feedback))
        tidy_if_csv(destinations, self.OUTPUT, ["acquired"])
        return results

    def _count(self, parameters, context, feedback) -> dict:
        from .output_fields import count_attributes, count_fields, uncounted_attributes
        from .scene_detection import detect_scene

        layers = self._layers(parameters, context)
        settings = dp.read_detection_settings(self, parameters, context)
        steps = QgsProcessingMultiStepFeedback(len(layers), feedback)
        rows = []
        for i, layer in enumerate(layers):
            steps.setCurrentStep(i)
            scene = detect_scene(layer, settings, context, steps)
            if steps.isCanceled():
                return {}
            date_text = scene.acquired.isoformat() if scene.acquired else "no date found"
            if scene.nothing_to_count:
                # a gap in the history, not an observation of 0 (comparebaseline skips it)
                feedback.pushWarning(f"{scene.scene} ({date_text}): not counted, its count is left empty: {scene.nothing_to_count}")
                rows.append((scene.scene, scene.acquired, uncounted_attributes(scene.scene, scene.acquired, model=scene.model)))
                continue
            feedback.pushInfo(f"{scene.scene} ({date_text}): {len(scene.cars)} railcars (detector model {scene.model})")
            rows.append((scene.scene, scene.acquired, count_attributes(scene.cars, scene.scene, scene.acquired, model=scene.model)))

        fields = count_fields(with_aoi=False)
        sink, dest_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.NoGeometry)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        for row in sorted(rows, key=history_order):
            feature = QgsFeature(fields)
            feature.setAttributes(row[2])
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
        return {self.OUTPUT: dest_id, self.IMAGES: len(rows)}

    def _layers(self, parameters, context) -> List[QgsRasterLayer]:
        layers = raster_layers(parameters, self.INPUTS, context)
        folder = self.parameterAsFile(parameters, self.FOLDER, context)
        if folder:
            if not os.path.isdir(folder):
                raise QgsProcessingException(f"FOLDER {folder} is not a folder: give a folder that holds the images")
            seen = {os.path.abspath(l.source()) for l in layers}
            for path in images_in_folder(folder):
                if os.path.abspath(path) in seen:
                    continue
                problem = input_raster_problem(path, context)
                if problem:
                    raise QgsProcessingException(f"FOLDER: {problem} (or move it out of the folder)")
                layers.append(QgsRasterLayer(path, file_layer_name(path), "gdal"))
        if not layers:
            raise QgsProcessingException(
                "No images to count: give raster layers in INPUTS or a FOLDER holding .tif, .tiff, .jp2 or .vrt files"
            )
        return layers
