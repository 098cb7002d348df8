"""``railwatch:detectrailcars``: railcars on one raster as points, boxes and a count table."""

from __future__ import annotations

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterRasterLayer,
    QgsWkbTypes,
)

from . import detection_parameters as dp
from .base import RailWatchAlgorithm
from .destinations import check_destinations, removing_new_files_on_failure, tidy_if_csv
from .input_checks import input_raster_problem, name_as_its_file


class DetectRailcarsAlgorithm(RailWatchAlgorithm):
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"
    OUTPUT_BOXES = "OUTPUT_BOXES"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    OUTPUT_CANDIDATES = "OUTPUT_CANDIDATES"
    COUNT = "COUNT"
    MODEL_NAME = "MODEL_NAME"

    def name(self):
        return "detectrailcars"

    def displayName(self):  # noqa: N802 (QGIS's name)
        return "Detect railcars"

    def shortHelpString(self):  # noqa: N802 (QGIS's name)
        return (
            "Finds railcars on a satellite or aerial image and counts them.\n\n"
            "Each car becomes a point (and optionally an oriented box) with its length, width, heading, "
            "kind and a confidence. Cars stand on the rails, so giving rail centre lines (TRACKS) removes "
            "look-alikes; giving areas of interest (AOI) counts cars per polygon.\n\n"
            "The image must be fine enough to see a 2.4 m wide car: about 0.8 m per pixel or finer. "
            "Any CRS works (metres, feet, degrees, Web Mercator); the ground resolution is computed from it "
            "unless GSD is given. The image is read tile by tile, so it may be larger than memory.\n\n"
            "The count table (OUTPUT_TABLE) can be fed to 'Compare a count with its baseline'.\n\n"
            "Every car has a 'review' field (unreviewed until an analyst reviews it in the RailWatch panel). "
            "OUTPUT_CANDIDATES optionally keeps the detections below the minimum confidence, which the panel's "
            "review offers too: they are where missed cars hide. They are never in OUTPUT or the count."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self.addParameter(dp.with_help(
            QgsProcessingParameterRasterLayer(self.INPUT, "Image"),
            "A satellite or aerial image (GeoTIFF, JPEG 2000, VRT, ...) with a coordinate reference system.",
        ))
        dp.add_detection_parameters(
            self,
            band_parent=self.INPUT,
            aoi_help="Optional polygons (for example rail yards): only cars inside them are kept, and the count "
            "table gets one row per polygon, labelled by its 'name' field if there is one.",
        )
        self.addParameter(dp.with_help(
            QgsProcessingParameterFeatureSink(self.OUTPUT, "Railcars", QgsProcessing.TypeVectorPoint),
            "One point per railcar, in the image's CRS.",
        ))
        self.addParameter(dp.with_help(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT_BOXES, "Railcar outlines", QgsProcessing.TypeVectorPolygon, optional=True, createByDefault=False
            ),
            "Optional oriented rectangle of each railcar, same fields as the points.",
        ))
        self.addParameter(dp.with_help(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT_TABLE, "Railcar counts", QgsProcessing.TypeVector, optional=True, createByDefault=False
            ),
            "Optional table: one row for the image (or one per AOI polygon) with the count, mean confidence "
            "and the count of each kind.",
        ))
        self.addParameter(dp.with_help(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT_CANDIDATES, "Candidates below the minimum confidence", QgsProcessing.TypeVectorPoint,
                optional=True, createByDefault=False,
            ),
            "Optional points for the detections less likely than MIN_CONFIDENCE (down to 0.1), same fields as "
            "the railcars. They are not counted; an analyst's review can accept the real cars among them.",
            advanced=True,
        ))
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, "Number of railcars"))
        self.addOutput(QgsProcessingOutputString(self.MODEL_NAME, "Detector model that found them"))

    def checkParameterValues(self, parameters, context):  # noqa: N802 (QGIS's name)
        problem = input_raster_problem(parameters.get(self.INPUT), context)
        if problem:
            return False, f"INPUT: {problem}"
        problem = dp.parameter_problem(parameters) or dp.model_problem(self, parameters, context)
        if problem:
            return False, problem
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        dp.require_dependencies()
        dp.require_model(self, parameters, context)
        destinations = check_destinations(
            self, parameters, context, (self.OUTPUT, self.OUTPUT_BOXES, self.OUTPUT_CANDIDATES, self.OUTPUT_TABLE))
        results = removing_new_files_on_failure(destinations, lambda: self._detect(parameters, context, feedback))
        tidy_if_csv(destinations, self.OUTPUT_TABLE, ["acquired"])
        return results

    def _detect(self, parameters, context, feedback) -> dict:
        from .output_fields import car_attributes, car_box_feature, car_fields, car_point_feature, count_attributes, count_fields
        from .output_style import style_on_load, style_railcar_boxes, style_railcar_points
        from .scene_detection import cars_inside, detect_scene

        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(
                f"INPUT is not a raster layer QGIS can open ({parameters.get(self.INPUT)!r}): "
                "choose a GeoTIFF or another image GDAL reads"
            )
        name_as_its_file(layer, parameters.get(self.INPUT), context)  # the scene, as counthistory names it
        settings = dp.read_detection_settings(self, parameters, context)
        steps = QgsProcessingMultiStepFeedback(2, feedback)

        steps.setCurrentStep(0)
        scene = detect_scene(layer, settings, context, steps)
        if steps.isCanceled():
            return {}
        if scene.nothing_to_count:
            raise QgsProcessingException(f"{scene.scene}: no count: {scene.nothing_to_count}.")
        aois, cars, candidates = scene.aois, scene.cars, scene.candidates

        steps.setCurrentStep(1)
        fields = car_fields()
        sink, dest_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.Point, scene.crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        box_sink, boxes_id = self.parameterAsSink(parameters, self.OUTPUT_BOXES, context, fields, QgsWkbTypes.Polygon, scene.crs)
        if box_sink is None and parameters.get(self.OUTPUT_BOXES) is not None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT_BOXES))
        for i, car in enumerate(cars):
            attributes = car_attributes(car, scene.scene, scene.acquired, scene.geotransform, scene.model)
            sink.addFeature(car_point_feature(car, scene.geotransform, fields, attributes), QgsFeatureSink.FastInsert)
            if box_sink is not None:
                box_sink.addFeature(car_box_feature(car, scene.geotransform, fields, attributes), QgsFeatureSink.FastInsert)
            steps.setProgress(100.0 * (i + 1) / max(1, len(cars)))

        candidate_sink, candidates_id = self.parameterAsSink(
            parameters, self.OUTPUT_CANDIDATES, context, fields, QgsWkbTypes.Point, scene.crs
        )
        if candidate_sink is None and parameters.get(self.OUTPUT_CANDIDATES) is not None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT_CANDIDATES))
        if candidate_sink is not None:
            for car in candidates:
                attributes = car_attributes(car, scene.scene, scene.acquired, scene.geotransform, scene.model)
                candidate_sink.addFeature(car_point_feature(car, scene.geotransform, fields, attributes), QgsFeatureSink.FastInsert)

        results = {self.OUTPUT: dest_id, self.COUNT: len(cars), self.MODEL_NAME: scene.model}
        if candidate_sink is not None:
            results[self.OUTPUT_CANDIDATES] = candidates_id
        style_on_load(context, dest_id, style_railcar_points)
        if box_sink is not None:
            style_on_load(context, boxes_id, style_railcar_boxes)
            results[self.OUTPUT_BOXES] = boxes_id

        table_fields = count_fields(with_aoi=True, with_review=True)
        table, table_id = self.parameterAsSink(parameters, self.OUTPUT_TABLE, context, table_fields, QgsWkbTypes.NoGeometry)
        if table is None and parameters.get(self.OUTPUT_TABLE) is not None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT_TABLE))
        if table is not None:
            rows = [(p.label, cars_inside(cars, p, scene.geotransform)) for p in aois] if aois is not None else [(None, cars)]
            for label, aoi_cars in rows:
                row = QgsFeature(table_fields)
                row.setAttributes(count_attributes(
                    aoi_cars, scene.scene, scene.acquired, with_aoi=True, aoi_label=label, with_review=True, model=scene.model
                ))
                table.addFeature(row, QgsFeatureSink.FastInsert)
            results[self.OUTPUT_TABLE] = table_id

        feedback.pushInfo(f"{scene.scene}: {len(cars)} railcars (detector model {scene.model})")
        return results
