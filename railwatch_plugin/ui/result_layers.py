"""Put a finished run's outputs into the project: the railcar points, the boxes and
the count table, styled like the toolbox styles them, in a group named after the
scene. Called on the main thread, and only after a run succeeded."""

from __future__ import annotations

import datetime as _dt
from typing import Optional, Tuple

from qgis.core import QgsMapLayer, QgsProject, QgsVectorLayer

GROUP_PROPERTY = "railwatch/result_group"


def group_name(scene: str) -> str:
    """The layer-tree group of a scene's results (distinct from the raster's own name)."""
    return f"Railcars: {scene}"


def add_result_layers(scene: str, params: dict, results: dict) -> dict:
    """Load the output files and add them to the project in a group named after ``scene``
    (replacing the group of an earlier run on the same scene). Returns the layers
    by role: "points", "boxes", "table"."""
    from ..algorithms import output_style  # the toolbox's own styling: one look everywhere

    specs = (
        ("points", "OUTPUT", f"{scene} railcars", output_style.style_railcar_points),
        ("boxes", "OUTPUT_BOXES", f"{scene} railcar boxes", output_style.style_railcar_boxes),
        ("table", "OUTPUT_TABLE", f"{scene} counts", None),
    )
    loaded = {}
    for key, name, title, style in specs:
        value = results.get(name) or params.get(name)
        if not value:
            continue
        layer = QgsVectorLayer(str(value), title, "ogr")
        if not layer.isValid():
            raise RuntimeError(f"the {name} output could not be read from {value}.")
        if style is not None:
            style(layer)
        loaded[key] = layer

    project = QgsProject.instance()
    root = project.layerTreeRoot()
    for child in list(root.children()):
        if child.customProperty(GROUP_PROPERTY) == scene:
            project.removeMapLayers(child.findLayerIds())
            root.removeChildNode(child)
    group = root.insertGroup(0, group_name(scene))
    group.setCustomProperty(GROUP_PROPERTY, scene)
    for key in ("points", "boxes", "table"):
        if key in loaded:
            project.addMapLayer(loaded[key], False)
            group.addLayer(loaded[key])
    group.setExpanded(True)
    if "points" in loaded:  # show the symbol legend (kinds) under the points layer
        group.findLayer(loaded["points"].id()).setExpanded(True)
    return loaded


def summarize_count_table(table) -> Tuple[Optional[str], Optional[float]]:
    """(acquired as ISO date or None, mean confidence over all rows weighted by count)."""
    rows = list(table.getFeatures())
    names = table.fields().names()
    acquired = iso_date(rows[0]["acquired"]) if rows and "acquired" in names else None
    mean_confidence = None
    if "mean_confidence" in names and "count" in names:
        pairs = [(r["count"] or 0, r["mean_confidence"]) for r in rows if not is_null(r["mean_confidence"])]
        total = sum(n for n, _ in pairs)
        mean_confidence = sum(n * c for n, c in pairs) / total if total else None
    return acquired, mean_confidence


def parameters_for_the_record(params: dict) -> dict:
    """The run's parameters as a site log keeps them: no temporary output paths, and
    layers named by their source rather than this session's layer ids (or the private
    copy of a layer a run was given)."""
    project = QgsProject.instance()
    record = {}
    for name, value in params.items():
        if name.startswith("OUTPUT"):
            continue
        layer = value if isinstance(value, QgsMapLayer) else project.mapLayer(value) if isinstance(value, str) else None
        record[name] = layer.source() if layer is not None else value
    return record


def iso_date(value) -> Optional[str]:
    """A QDate / date / text date as "YYYY-MM-DD"; None when null or empty."""
    if is_null(value):
        return None
    if hasattr(value, "toString") and hasattr(value, "isValid"):
        return value.toString("yyyy-MM-dd") if value.isValid() else None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    text = str(value).strip()
    return text[:10] if text and text.upper() != "NULL" else None


def is_null(value) -> bool:
    return value is None or (hasattr(value, "isNull") and value.isNull())
