"""The New Canvas dialog: width and height."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

MAX_SIDE = 8192


class NewCanvasDialog(QDialog):
    """Asks for the size of a new, transparent canvas."""

    def __init__(self, parent: QWidget | None = None, width: int = 1024, height: int = 1024) -> None:
        super().__init__(parent)
        self.setWindowTitle("New Canvas")
        self.setAccessibleName("New canvas")
        layout = QFormLayout(self)
        self.width_box = self._side_box(width, "Canvas width in pixels")
        self.height_box = self._side_box(height, "Canvas height in pixels")
        layout.addRow("&Width:", self.width_box)
        layout.addRow("&Height:", self.height_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)

    @staticmethod
    def _side_box(value: int, accessible: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(8, MAX_SIDE)
        box.setSingleStep(64)
        box.setSuffix(" px")
        box.setValue(value)
        box.setAccessibleName(accessible)
        return box

    def canvas_size(self) -> tuple[int, int]:
        return self.width_box.value(), self.height_box.value()
