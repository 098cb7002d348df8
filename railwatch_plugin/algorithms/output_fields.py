"""Field layouts of RailWatch's outputs: one definition, used by every algorithm.

Field names are a public contract (scripts and comparebaseline read them).
"""

from __future__ import annotations

import datetime
from typing import List, Optional, Sequence

from qgis.core import QgsFeature, QgsField, QgsFields, QgsGeometry, QgsPointXY
from qgis.PyQt.QtCore import QDate, QVariant

from ..core import CAR_KINDS
from ..review import REVIEW_FIELD, REVIEWED_AT_FIELD, UNREVIEWED
from .ground_resolution import heading_on_map, pixel_to_map


REVIEWED_COUNT_FIELD = "reviewed_count"  # null until an analyst reviews the cars


def kind_field_name(kind: str) -> str:
    """``hopper/gondola`` -> ``n_hopper_gondola``."""
    return "n_" + "".join(ch if ch.isalnum() else "_" for ch in kind)


def _field(name: str, kind, length: int = 0, precision: int = 0) -> QgsField:
    return QgsField(name, kind, len=length, prec=precision)


def car_fields() -> QgsFields:
    """Attributes of each railcar point and box."""
    fields = QgsFields()
    fields.append(_field("confidence", QVariant.Double, 6, 3))
    fields.append(_field("length_m", QVariant.Double, 8, 2))
    fields.append(_field("width_m", QVariant.Double, 8, 2))
    fields.append(_field("heading_deg", QVariant.Double, 6, 1))
    fields.append(_field("kind", QVariant.String, 20))
    fields.append(_field("method", QVariant.String, 10))
    fields.append(_field("string_id", QVariant.Int))
    fields.append(_field("scene", QVariant.String, 254))
    fields.append(QgsField("acquired", QVariant.Date))
    fields.append(_field("model", QVariant.String, 80))  # which detector model found it
    for review_field in review_fields():
        fields.append(review_field)
    return fields


def review_fields() -> List[QgsField]:
    """``review`` (unreviewed, accepted, rejected, added) and ``reviewed_at`` (UTC):
    the analyst's decision on each car (see railwatch_plugin.review)."""
    return [_field(REVIEW_FIELD, QVariant.String, 12), QgsField(REVIEWED_AT_FIELD, QVariant.DateTime)]


def count_fields(with_aoi: bool, with_review: bool = False) -> QgsFields:
    """Columns of a count table: one row per scene (and per AOI polygon)."""
    fields = QgsFields()
    fields.append(_field("scene", QVariant.String, 254))
    fields.append(QgsField("acquired", QVariant.Date))
    if with_aoi:
        fields.append(_field("aoi", QVariant.String, 254))
    # 64-bit: a count is never cut to a 32-bit field (3,000,000,000 became NULL)
    fields.append(_field("count", QVariant.LongLong))
    fields.append(_field("mean_confidence", QVariant.Double, 6, 3))
    for kind in CAR_KINDS:
        fields.append(_field(kind_field_name(kind), QVariant.LongLong))
    fields.append(_field("model", QVariant.String, 80))  # which detector model made the count
    if with_review:
        fields.append(_field(REVIEWED_COUNT_FIELD, QVariant.LongLong))
    return fields


def qdate(value: Optional[datetime.date]):
    """A QDate for a date field, or a null QVariant when the date is unknown."""
    if value is None:
        return QVariant()
    return QDate(value.year, value.month, value.day)


def car_attributes(car, scene: str, acquired: Optional[datetime.date], geotransform, model: str = "") -> list:
    """A car's field values; its heading turned from the image's up to the map's north."""
    return [
        round(float(car.confidence), 3),
        round(float(car.length_m), 2),
        round(float(car.width_m), 2),
        round(heading_on_map(car.heading_deg, geotransform), 1) % 180.0,
        car.kind,
        car.method,
        int(car.string_id),
        scene,
        qdate(acquired),
        model,
        UNREVIEWED,
        QVariant(),
    ]


def car_point_feature(car, geotransform, fields: QgsFields, attributes: list) -> QgsFeature:
    feature = QgsFeature(fields)
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*pixel_to_map(geotransform, car.col_px, car.row_px))))
    feature.setAttributes(attributes)
    return feature


def car_box_feature(car, geotransform, fields: QgsFields, attributes: list) -> QgsFeature:
    ring = [QgsPointXY(*pixel_to_map(geotransform, c, r)) for c, r in car.corners_px]
    feature = QgsFeature(fields)
    feature.setGeometry(QgsGeometry.fromPolygonXY([ring + ring[:1]]))
    feature.setAttributes(attributes)
    return feature


def count_attributes(
    cars: Sequence,
    scene: str,
    acquired,
    with_aoi: bool = False,
    aoi_label: Optional[str] = None,
    with_review: bool = False,
    model: str = "",
) -> List:
    """One count-table row. With ``with_aoi`` the row has an ``aoi`` column holding
    ``aoi_label`` (null for the whole image); ``model`` names the detector model;
    with ``with_review`` a null ``reviewed_count`` (filled in by a review)."""
    confidences = [float(c.confidence) for c in cars]
    mean = round(sum(confidences) / len(confidences), 3) if confidences else QVariant()
    row = [scene, qdate(acquired)]
    if with_aoi:
        row.append(QVariant() if aoi_label is None else aoi_label)
    row += [len(cars), mean]
    row += [sum(1 for c in cars if c.kind == kind) for kind in CAR_KINDS]
    row.append(model)
    if with_review:
        row.append(QVariant())
    return row


def uncounted_attributes(scene: str, acquired, model: str = "") -> List:
    """A count-table row (without ``aoi``) for an image with nothing to count:
    every figure null, so that no one reads it as a count of 0."""
    return [scene, qdate(acquired)] + [QVariant()] * (2 + len(CAR_KINDS)) + [model]
