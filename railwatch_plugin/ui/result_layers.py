"""Put a finished run's outputs into the project: the railcar points, the boxes and
the count table, styled like the toolbox styles them, in a group named after the
scene. Called on the main thread, and only after a run succeeded."""

from __future__ import annotations

from qgis.core import QgsProject, QgsVectorLayer

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
