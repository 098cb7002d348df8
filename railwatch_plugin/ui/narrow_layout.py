"""Panel widgets that fit a narrow dock: texts wrap instead of running past its right edge."""

from __future__ import annotations

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QComboBox, QLabel, QPushButton, QSizePolicy, QWidget


def fit_to_narrow_width(body: QWidget) -> None:
    """Let ``body`` shrink to a narrow dock (a 1280-px screen) so that its texts
    wrap instead of running past the right edge: the scroll area never makes
    it narrower than its widest child's minimum, and that was the figures
    grid, a combo box sized to its longest item or a row of buttons."""
    for label in body.findChildren(QLabel):
        label.setWordWrap(True)
    for combo in body.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(8)
    for button in body.findChildren(QPushButton):
        button.setMinimumWidth(40)
        button.setSizePolicy(QSizePolicy.Policy.Ignored, button.sizePolicy().verticalPolicy())


def wrapping_label(style: str = "") -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if style:
        label.setStyleSheet(style)
    return label
