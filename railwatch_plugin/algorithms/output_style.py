"""How RailWatch's layers look: one place, used by Processing and the panel.

Points are coloured by kind and sized by confidence, so doubtful detections are
visibly smaller; boxes are outlines, so the image stays readable under them.
"""

from __future__ import annotations

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsMarkerSymbol,
    QgsProcessingLayerPostProcessorInterface,
    QgsProperty,
    QgsRendererCategory,
    QgsSingleSymbolRenderer,
)

# Kind -> colour (distinct on imagery; "unknown" is grey).
KIND_COLOURS = {
    "box": "#e6194b",
    "tank": "#3cb44b",
    "hopper/gondola": "#ffe119",
    "flat/container": "#4363d8",
    "covered": "#f58231",
    "unknown": "#a9a9a9",
}
# Marker size in mm: 1.2 for a 0-confidence car up to 2.6 for a certain one:
# small enough that the car stays visible under its point at yard scales.
SIZE_BY_CONFIDENCE = 'coalesce(1.2 + 1.4 * "confidence", 2)'


def _point_symbol(colour: str) -> QgsMarkerSymbol:
    symbol = QgsMarkerSymbol.createSimple({"name": "circle", "color": colour, "outline_color": "black", "outline_width": "0.3"})
    symbol.setDataDefinedSize(QgsProperty.fromExpression(SIZE_BY_CONFIDENCE))
    return symbol


def style_railcar_points(layer) -> None:
    """Categorize by ``kind``, size by ``confidence``; unknown kinds fall in a grey class."""
    categories = [QgsRendererCategory(kind, _point_symbol(colour), kind) for kind, colour in KIND_COLOURS.items()]
    categories.append(QgsRendererCategory(None, _point_symbol("#ffffff"), "other"))
    layer.setRenderer(QgsCategorizedSymbolRenderer("kind", categories))
    layer.triggerRepaint()


def style_railcar_boxes(layer) -> None:
    """Bright outlines with no fill."""
    symbol = QgsFillSymbol.createSimple({"color": "0,0,0,0", "outline_color": "#00e5ff", "outline_width": "0.5", "style": "no"})
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    layer.triggerRepaint()


class RailcarStyler(QgsProcessingLayerPostProcessorInterface):
    """Applies a style function to a Processing output once it is loaded."""

    # QGIS holds post-processors by raw pointer: keep them alive here.
    _alive = []

    def __init__(self, style_function):
        super().__init__()
        self.style_function = style_function

    @classmethod
    def create(cls, style_function) -> "RailcarStyler":
        styler = cls(style_function)
        cls._alive.append(styler)
        del cls._alive[:-20]
        return styler

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS's name)
        if layer is not None and layer.isValid():
            self.style_function(layer)


def style_on_load(context, dest_id: str, style_function) -> None:
    """Style output ``dest_id`` when Processing loads it into the project."""
    if dest_id and context.willLoadLayerOnCompletion(dest_id):
        details = context.layerToLoadOnCompletionDetails(dest_id)
        details.setPostProcessor(RailcarStyler.create(style_function))

