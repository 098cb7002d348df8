"""How RailWatch's layers look: one place, used by Processing and the panel.

Points are coloured by kind and sized by confidence, so doubtful detections are
visibly smaller; boxes are outlines, so the image stays readable under them.
"""

from __future__ import annotations

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsGeometryGeneratorSymbolLayer,
    QgsMarkerSymbol,
    QgsProcessingLayerPostProcessorInterface,
    QgsProperty,
    QgsRendererCategory,
    QgsRuleBasedRenderer,
    QgsSingleSymbolRenderer,
    QgsSymbolLayer,
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


# Review states on the map: (label, filter with {t} the threshold, outline colour, outline style).
REVIEW_RULES = (
    ("rejected", "\"review\" = 'rejected'", "#ff1744", "dash"),
    ("added", "\"review\" = 'added'", "#00e676", "solid"),
    ("accepted", "\"review\" = 'accepted'", "#00e676", "solid"),
    ("not reviewed yet", "coalesce(\"review\", 'unreviewed') = 'unreviewed' AND \"confidence\" >= {t}",
     "#00e5ff", "solid"),
    ("candidate below the threshold", "ELSE", "#ffea00", "dot"),
)


def _outline_expression(metres_per_unit_xy) -> str:
    """The car's oriented rectangle, drawn from its point, length, width and heading."""
    mx, my = metres_per_unit_xy
    half_w, half_l = f'coalesce("width_m", 3) / {2 * mx!r}', f'coalesce("length_m", 15) / {2 * my!r}'
    signs = (("-", "-"), ("+", "-"), ("+", "+"), ("-", "+"), ("-", "-"))
    corners = [f"make_point($x {sx} {half_w}, $y {sy} {half_l})" for sx, sy in signs]
    return f'rotate(make_polygon(make_line({", ".join(corners)})), coalesce("heading_deg", 0), $geometry)'


def _review_symbol(outline_colour: str, pen: str, outline_expression: str, rejected: bool) -> QgsMarkerSymbol:
    cases = " ".join(f"WHEN \"kind\" = '{k}' THEN '{c}'" for k, c in KIND_COLOURS.items())
    kind_colour = f"CASE {cases} ELSE '#ffffff' END"
    symbol = QgsMarkerSymbol.createSimple({
        "name": "cross2" if rejected else "circle", "color": outline_colour if rejected else "#ffffff",
        "outline_color": outline_colour if rejected else "black", "outline_width": "0.6" if rejected else "0.3",
        "size": "2.6" if rejected else "1.8",
    })
    if not rejected:
        fill = QgsProperty.fromExpression(kind_colour)
        symbol.symbolLayer(0).setDataDefinedProperty(QgsSymbolLayer.PropertyFillColor, fill)
    box = QgsGeometryGeneratorSymbolLayer.create({"geometryModifier": outline_expression, "SymbolType": "Fill"})
    box.setSubSymbol(QgsFillSymbol.createSimple(
        {"color": "0,0,0,0", "style": "no", "outline_color": outline_colour, "outline_width": "0.5", "outline_style": pen}
    ))
    symbol.insertSymbolLayer(0, box)
    return symbol


def style_review_points(layer, threshold: float, metres_per_unit_xy=(1.0, 1.0)) -> None:
    """A railcar layer under review: each car's outline coloured by its review state
    (green: accepted or added, red and crossed: rejected, cyan: counted but not reviewed
    yet, dotted yellow: a candidate below ``threshold``), its kind as the dot's colour."""
    expression = _outline_expression(metres_per_unit_xy)
    root = QgsRuleBasedRenderer.Rule(None)
    for label, rule_filter, colour, pen in REVIEW_RULES:
        symbol = _review_symbol(colour, pen, expression, rejected=label == "rejected")
        text = rule_filter.format(t=repr(float(threshold)))
        rule = QgsRuleBasedRenderer.Rule(symbol, 0, 0, "" if text == "ELSE" else text, label)
        if text == "ELSE":
            rule.setIsElse(True)  # (setIsElse(False) would also turn the filter into ELSE)
        root.appendChild(rule)
    layer.setRenderer(QgsRuleBasedRenderer(root))
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

