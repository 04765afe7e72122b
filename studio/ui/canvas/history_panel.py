"""The History panel: the document's generation history, newest first, with Re-apply (add the result again
as a layer), Load Settings (into the Generate panel) and Re-run (generate again with the same settings)."""

from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.generation import reapply_record
from studio.canvas.generation_log import GenerationRecord
from studio.canvas.imaging import thumbnail
from studio.canvas.png_metadata import GenerationInfo
from studio.ui.canvas.qimage import thumbnail_pixmap

THUMBNAIL_SIDE = 40
RECORD_ID_ROLE = Qt.ItemDataRole.UserRole


def record_text(record: GenerationRecord) -> str:
    prompt = " ".join(record.prompt.split()) or "(no prompt)"
    if len(prompt) > 60:
        prompt = prompt[:59] + "…"
    seed = f"seed {record.seed}" if record.seed is not None else "random seed"
    return f"{prompt}\n{seed} · {time.strftime('%H:%M', time.localtime(record.created))}"


def record_tooltip(record: GenerationRecord) -> str:
    parameters = record.parameters
    lines = [record.prompt or "(no prompt)"]
    if parameters.get("negative_prompt"):
        lines.append(f"Negative: {parameters['negative_prompt']}")
    details = [
        f"{label} {parameters[key]}"
        for label, key in (
            ("Seed", "seed"),
            ("Steps", "steps"),
            ("CFG", "cfg"),
            ("Sampler", "sampler"),
            ("Model", "model"),
        )
        if parameters.get(key) not in (None, "")
    ]
    if details:
        lines.append(", ".join(details))
    if record.layer_name:
        lines.append(f"Became the layer “{record.layer_name}”")
    return "\n".join(lines)


class HistoryPanel(QWidget):
    """Lists the current document's generation history; follows its ``generation_log``."""

    load_settings_requested = Signal(object)
    """Put these settings (a :class:`GenerationInfo`) in the Generate panel."""
    rerun_requested = Signal(object)
    """Generate again with these parameters (a ``dict``)."""
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Generation history")
        self._document: CanvasDocument | None = None
        self.list = QListWidget()
        self.list.setAccessibleName("Generation history list")
        self.list.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setWordWrap(True)
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.list.itemDoubleClicked.connect(lambda _item: self.reapply())
        self.reapply_button = QPushButton("Re-apply")
        self.reapply_button.setToolTip("Add this result again as a new layer")
        self.load_button = QPushButton("Load settings")
        self.load_button.setToolTip("Put this generation's prompt, seed and settings in the Generate panel")
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setToolTip("Generate again with the same settings and seed")
        self.reapply_button.clicked.connect(self.reapply)
        self.load_button.clicked.connect(self.load_settings)
        self.rerun_button.clicked.connect(self.rerun)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.reapply_button, self.load_button, self.rerun_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(240, 160)

    def set_document(self, document: CanvasDocument | None) -> None:
        if self._document is not None:
            self._document.generation_log.changed.disconnect(self._rebuild)
        self._document = document
        if document is not None:
            document.generation_log.changed.connect(self._rebuild)
        self._rebuild()

    def _rebuild(self) -> None:
        self.list.clear()
        document = self._document
        records = reversed(document.generation_log.records) if document is not None else ()
        for record in records:
            item = QListWidgetItem(record_text(record))
            item.setData(RECORD_ID_ROLE, record.id)
            item.setToolTip(record_tooltip(record))
            item.setIcon(QIcon(thumbnail_pixmap(thumbnail(record.image, THUMBNAIL_SIDE), THUMBNAIL_SIDE)))
            self.list.addItem(item)
        self._update_buttons()

    def current_record(self) -> GenerationRecord | None:
        item = self.list.currentItem()
        document = self._document
        if item is None or document is None:
            return None
        try:
            return document.generation_log.get(str(item.data(RECORD_ID_ROLE)))
        except CanvasError:
            return None

    def _update_buttons(self) -> None:
        chosen = self.list.currentItem() is not None
        for button in (self.reapply_button, self.load_button, self.rerun_button):
            button.setEnabled(chosen)

    def reapply(self) -> None:
        record, document = self.current_record(), self._document
        if record is None or document is None:
            return
        try:
            reapply_record(document, record)
        except CanvasError as exc:
            self.failed.emit(str(exc))

    def load_settings(self) -> None:
        record = self.current_record()
        if record is not None:
            self.load_settings_requested.emit(GenerationInfo.from_settings(record.parameters))

    def rerun(self) -> None:
        record = self.current_record()
        if record is not None:
            self.rerun_requested.emit(dict(record.parameters))
