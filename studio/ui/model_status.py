"""The view-model of the active LLM: observable properties and one ``changed`` signal."""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QObject, Signal


class ModelState(StrEnum):
    """Where the active model stands."""

    NOT_LOADED = "not loaded"
    LOADING = "loading"
    READY = "ready"
    ERROR = "error"


class ModelStatus(QObject):
    """State of the active model: not loaded / loading (with progress) / ready / error."""

    changed = Signal()
    """Any of the properties changed."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = ModelState.NOT_LOADED
        self._name = ""
        self._progress: float | None = None
        self._message = ""
        self.model_kind = ""
        self.model_path = ""

    @property
    def state(self) -> ModelState:
        return self._state

    @state.setter
    def state(self, value: ModelState) -> None:
        if value != self._state:
            self._state = value
            self.changed.emit()

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if value != self._name:
            self._name = value
            self.changed.emit()

    @property
    def progress(self) -> float | None:
        return self._progress

    @progress.setter
    def progress(self, value: float | None) -> None:
        if value != self._progress:
            self._progress = value
            self.changed.emit()

    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        if value != self._message:
            self._message = value
            self.changed.emit()
