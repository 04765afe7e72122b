"""The Canvas Size dialog (new size and where the old content is anchored) and the Image Size dialog (new size,
kept aspect ratio, resampling)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QSpinBox,
    QToolButton,
    QWidget,
)

from studio.canvas.document import MAX_CANVAS_SIDE, Resample

ANCHOR_NAMES = (
    ("Top left", "Top", "Top right"),
    ("Left", "Centre", "Right"),
    ("Bottom left", "Bottom", "Bottom right"),
)
_ARROWS = (("↖", "↑", "↗"), ("←", "●", "→"), ("↙", "↓", "↘"))
RESAMPLE_LABELS = {
    Resample.LANCZOS: "Lanczos (sharpest)",
    Resample.BICUBIC: "Bicubic",
    Resample.BILINEAR: "Bilinear",
    Resample.NEAREST: "Nearest neighbour (pixel art)",
}


def _side_box(value: int, accessible: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, MAX_CANVAS_SIDE)
    box.setSuffix(" px")
    box.setValue(value)
    box.setAccessibleName(accessible)
    return box


def _buttons(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class CanvasSizeDialog(QDialog):
    """Asks for a new canvas size and the anchor: which part of the image stays in place."""

    def __init__(self, width: int, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Canvas Size")
        self.setAccessibleName("Canvas size")
        layout = QFormLayout(self)
        self.width_box = _side_box(width, "New canvas width in pixels")
        self.height_box = _side_box(height, "New canvas height in pixels")
        layout.addRow("&Width:", self.width_box)
        layout.addRow("&Height:", self.height_box)
        grid = QGridLayout()
        grid.setSpacing(2)
        self.anchor_buttons = QButtonGroup(self)
        self.anchor_buttons.setExclusive(True)
        for row in range(3):
            for column in range(3):
                button = QToolButton()
                button.setText(_ARROWS[row][column])
                button.setCheckable(True)
                button.setFixedSize(28, 28)
                button.setAccessibleName(f"Anchor {ANCHOR_NAMES[row][column].lower()}")
                button.setToolTip(f"Keep the {ANCHOR_NAMES[row][column].lower()} of the image in place")
                self.anchor_buttons.addButton(button, row * 3 + column)
                grid.addWidget(button, row, column)
        self.anchor_buttons.button(4).setChecked(True)
        anchor_box = QWidget()
        anchor_box.setLayout(grid)
        layout.addRow("Anchor:", anchor_box)
        layout.addRow(_buttons(self))

    def set_anchor(self, anchor: tuple[float, float]) -> None:
        column, row = round(anchor[0] * 2), round(anchor[1] * 2)
        self.anchor_buttons.button(row * 3 + column).setChecked(True)

    def anchor(self) -> tuple[float, float]:
        """The fixed point as fractions of the size: ``(0, 0)`` top left … ``(1, 1)`` bottom right."""
        chosen = max(0, self.anchor_buttons.checkedId())
        return (chosen % 3) / 2, (chosen // 3) / 2

    def result_size(self) -> tuple[int, int, tuple[float, float]]:
        return self.width_box.value(), self.height_box.value(), self.anchor()


class ImageSizeDialog(QDialog):
    """Asks for a new image size (the aspect ratio kept unless unticked) and how to resample."""

    def __init__(self, width: int, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Image Size")
        self.setAccessibleName("Image size")
        self._ratio = width / height
        self._syncing = False
        layout = QFormLayout(self)
        self.width_box = _side_box(width, "New image width in pixels")
        self.height_box = _side_box(height, "New image height in pixels")
        self.keep_ratio = QCheckBox("&Keep aspect ratio")
        self.keep_ratio.setChecked(True)
        self.resample_combo = QComboBox()
        self.resample_combo.setAccessibleName("Resampling")
        for method, label in RESAMPLE_LABELS.items():
            self.resample_combo.addItem(label, method.value)
        layout.addRow("&Width:", self.width_box)
        layout.addRow("&Height:", self.height_box)
        layout.addRow("", self.keep_ratio)
        layout.addRow("&Resampling:", self.resample_combo)
        layout.addRow(_buttons(self))
        self.width_box.valueChanged.connect(self._width_changed)
        self.height_box.valueChanged.connect(self._height_changed)

    def _width_changed(self, value: int) -> None:
        if self.keep_ratio.isChecked() and not self._syncing:
            self._syncing = True
            self.height_box.setValue(max(1, round(value / self._ratio)))
            self._syncing = False

    def _height_changed(self, value: int) -> None:
        if self.keep_ratio.isChecked() and not self._syncing:
            self._syncing = True
            self.width_box.setValue(max(1, round(value * self._ratio)))
            self._syncing = False

    def resample(self) -> Resample:
        return Resample(str(self.resample_combo.currentData()))

    def result_size(self) -> tuple[int, int, Resample]:
        return self.width_box.value(), self.height_box.value(), self.resample()
