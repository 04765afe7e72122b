"""The Canvas workspace until its own issue fills it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class CanvasPlaceholder(QWidget):
    """An empty Canvas workspace that says what is coming."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Canvas workspace")
        label = QLabel(
            "Canvas\n\nGenerate, inpaint and outpaint images with local diffusion models.\nComing soon."
        )
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
