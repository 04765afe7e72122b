"""The Image menu's canvas commands: Crop to Selection, Canvas Size… and Image Size…, asked through the
injected :class:`~studio.ui.dialogs.Dialogs` and run on the current document (one undo step each)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.ui.actions import make_action
from studio.ui.dialogs import Dialogs


class ImageCommands(QObject):
    """Owns the actions; ``document`` gives the current document, ``before`` finishes a tool in progress."""

    failed = Signal(str)

    def __init__(
        self,
        owner: QWidget,
        document: Callable[[], CanvasDocument | None],
        dialogs: Dialogs,
        before: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(owner)
        self._document = document
        self._dialogs = dialogs
        self._before = before

        def action(text: str, shortcut: str, slot: Callable[[], object], description: str) -> QAction:
            return make_action(
                owner,
                text,
                slot,
                shortcut=shortcut,
                description=description,
                context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
            )

        self.crop_action = action(
            "C&rop to Selection", "Ctrl+Shift+X", self.crop_to_selection, "Crop the canvas to the selection"
        )
        self.canvas_size_action = action(
            "Canvas Si&ze…", "Ctrl+Alt+C", self.resize_canvas, "Change the canvas size without scaling"
        )
        self.image_size_action = action(
            "Ima&ge Size…", "Ctrl+Alt+I", self.resize_image, "Scale the whole image to a new size"
        )

    def actions(self) -> list[QAction]:
        return [self.crop_action, self.canvas_size_action, self.image_size_action]

    def refresh(self) -> None:
        """Enable what applies to the current document."""
        document = self._document()
        self.crop_action.setEnabled(document is not None and document.selection is not None)
        self.canvas_size_action.setEnabled(document is not None)
        self.image_size_action.setEnabled(document is not None)

    def _run(self, command: Callable[[CanvasDocument], object]) -> bool:
        document = self._document()
        if document is None:
            return False
        self._before()
        try:
            command(document)
        except CanvasError as exc:
            self.failed.emit(str(exc))
            return False
        return True

    def crop_to_selection(self) -> bool:
        return self._run(lambda document: document.crop_to_selection())

    def resize_canvas(self) -> bool:
        document = self._document()
        if document is None:
            return False
        answer = self._dialogs.resize_canvas(document.width, document.height)
        if answer is None:
            return False
        width, height, anchor = answer
        return self._run(lambda d: d.resize_canvas_anchored(width, height, anchor))

    def resize_image(self) -> bool:
        document = self._document()
        if document is None:
            return False
        answer = self._dialogs.resize_image(document.width, document.height)
        if answer is None:
            return False
        width, height, resample = answer
        return self._run(lambda d: d.resize_image(width, height, resample))
