"""The Generate panel's LoRA list: ``.safetensors`` LoRA files with a weight each, shared by every mode.

Files are checked when added (:func:`studio.engines.lora_files.check_lora_file` reads only the header), so a
wrong file is refused with a message before any job; the engine loads them. ``loras()`` is what a request
carries: ``((path, weight), ...)`` in list order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.engines.lora_files import MAX_WEIGHT, MIN_WEIGHT, LoraFileError, check_lora_file, lora_name

PathChooser = Callable[[str], str | None]


class _ElidedLabel(QLabel):
    """A one-line label that ends in "…" when it is narrower than its text (and never widens its layout)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._full = text
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, self.width()))


@dataclass(eq=False)
class _Row:
    path: str
    widget: QWidget
    weight: QDoubleSpinBox


class LoraList(QWidget):
    """Add, weight and remove LoRA files; ``changed`` after every edit, ``error`` with a message for the user."""

    changed = Signal()
    error = Signal(str)

    def __init__(self, parent: QWidget | None = None, choose_path: PathChooser | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("LoRAs")
        self._choose_path: PathChooser = choose_path or self._ask_path
        self._rows: list[_Row] = []
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(2)
        self.empty_label = QLabel("No LoRAs")
        self.empty_label.setEnabled(False)
        self.add_button = QPushButton("Add LoRA…")
        self.add_button.setAccessibleName("Add LoRA")
        self.add_button.setToolTip("Add a .safetensors LoRA file; its weight is set here (1 = full effect)")
        self.add_button.clicked.connect(self.choose)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.empty_label, 1)
        header.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._rows_layout)
        layout.addLayout(header)

    # -- the list ----------------------------------------------------------------------------------------

    def loras(self) -> tuple[tuple[str, float], ...]:
        """``((path, weight), ...)`` in list order."""
        return tuple((row.path, row.weight.value()) for row in self._rows)

    def add_lora(self, path: str, weight: float = 1.0) -> bool:
        """Add ``path`` with ``weight`` (a file already listed gets the new weight); False with ``error``
        emitted when it is not a usable LoRA file."""
        try:
            check_lora_file(path)
        except LoraFileError as exc:
            self.error.emit(f"Cannot add this LoRA: {exc}")
            return False
        weight = min(max(weight, MIN_WEIGHT), MAX_WEIGHT)
        for row in self._rows:
            if Path(row.path).expanduser().resolve() == Path(path).expanduser().resolve():
                row.weight.setValue(weight)
                return True
        self._rows.append(self._make_row(path, weight))
        self._rows_layout.addWidget(self._rows[-1].widget)
        self._update()
        return True

    def remove(self, index: int) -> None:
        """Take the ``index``-th LoRA off the list."""
        row = self._rows.pop(index)
        self._rows_layout.removeWidget(row.widget)
        row.widget.deleteLater()
        self._update()

    def set_loras(self, loras: Sequence[tuple[str, float]]) -> list[str]:
        """Replace the list (e.g. from loaded settings); returns the messages of files that could not be
        added (they are left out; ``error`` is not emitted for them)."""
        for index in range(len(self._rows) - 1, -1, -1):
            self.remove(index)
        problems: list[str] = []
        self.blockSignals(True)  # one ``changed`` for the whole list, no ``error`` per file
        try:
            for path, weight in loras:
                try:
                    check_lora_file(path)
                except LoraFileError as exc:
                    problems.append(str(exc))
                    continue
                self.add_lora(str(path), float(weight))
        finally:
            self.blockSignals(False)
        self._update()
        return problems

    def choose(self) -> None:
        """Ask for a LoRA file and add it at weight 1."""
        start = str(Path(self._rows[-1].path).parent) if self._rows else ""
        path = self._choose_path(start)
        if path:
            self.add_lora(path)

    # -- rows --------------------------------------------------------------------------------------------

    def _make_row(self, path: str, weight: float) -> _Row:
        widget = QWidget()
        name = lora_name(path)
        widget.setAccessibleName(f"LoRA {name}")
        label = _ElidedLabel(name)
        label.setToolTip(path)
        spin = QDoubleSpinBox()
        spin.setAccessibleName(f"Weight of LoRA {name}")
        spin.setRange(MIN_WEIGHT, MAX_WEIGHT)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        spin.setValue(weight)
        spin.valueChanged.connect(lambda _value: self.changed.emit())
        remove = QToolButton()
        remove.setText("✕")
        remove.setAccessibleName(f"Remove LoRA {name}")
        remove.setToolTip(f"Remove {name}")
        row = _Row(path, widget, spin)
        remove.clicked.connect(lambda: self.remove(self._rows.index(row)))
        layout = QHBoxLayout(widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label, 1)
        layout.addWidget(spin)
        layout.addWidget(remove)
        return row

    def _update(self) -> None:
        self.empty_label.setVisible(not self._rows)
        self.changed.emit()

    def _ask_path(self, start: str) -> str | None:
        path, _filter = QFileDialog.getOpenFileName(self, "Add LoRA", start, "LoRA files (*.safetensors)")
        return path or None


__all__ = ["LoraList"]
