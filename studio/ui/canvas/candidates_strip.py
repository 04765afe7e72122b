"""A horizontal strip of generated candidates: click previews one, Apply adds it, Discard drops it.

The strip is a view: it shows thumbnails and emits what the user did; the controller keeps the candidates'
data in the same order. Discarding removes the thumbnail and then emits ``candidate_discarded(index)``.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QKeyCombination, QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.actions import make_action

THUMBNAIL_SIDE = 96
MIN_THUMBNAIL_SIDE = 56  # a low window shows the thumbnails smaller rather than cut off
_LIST_CHROME = 24  # grid padding and frame around a thumbnail row


class CandidatesStrip(QWidget):
    """Thumbnails of generation results with Apply, Discard and Discard all."""

    candidate_selected = Signal(int)  # -1 when nothing is selected any more
    candidate_applied = Signal(int)
    candidate_discarded = Signal(int)  # after its thumbnail was removed
    candidates_cleared = Signal()  # after Discard all

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Generated candidates")
        self.list = QListWidget()
        self.list.setAccessibleName("Candidates")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.list.setGridSize(QSize(THUMBNAIL_SIDE + 12, THUMBNAIL_SIDE + 12))
        self.list.setSpacing(2)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMinimumHeight(MIN_THUMBNAIL_SIDE + _LIST_CHROME)
        self.list.setMaximumHeight(THUMBNAIL_SIDE + _LIST_CHROME)
        self.list.itemSelectionChanged.connect(self._on_selection_changed)
        self.list.itemDoubleClicked.connect(lambda item: self.apply(self.list.row(item)))

        self.apply_action = self._make_action("&Apply", "Return", self.apply_current, "Apply the candidate")
        self.discard_action = self._make_action(
            "&Discard", "Delete", self.discard_current, "Discard the candidate"
        )
        self.discard_all_action = self._make_action(
            "Discard A&ll", "Shift+Delete", self.discard_all, "Discard all candidates"
        )
        # The strip's keys win over the canvas's own Delete / Shift+Delete while the strip has focus.
        self._keys = {
            QKeyCombination(Qt.KeyboardModifier.NoModifier, Qt.Key.Key_Return): self.apply_action,
            QKeyCombination(Qt.KeyboardModifier.NoModifier, Qt.Key.Key_Enter): self.apply_action,
            QKeyCombination(Qt.KeyboardModifier.KeypadModifier, Qt.Key.Key_Enter): self.apply_action,
            QKeyCombination(Qt.KeyboardModifier.NoModifier, Qt.Key.Key_Delete): self.discard_action,
            QKeyCombination(Qt.KeyboardModifier.ShiftModifier, Qt.Key.Key_Delete): self.discard_all_action,
        }
        self.list.installEventFilter(self)
        self.title = QLabel()
        self.title.setAccessibleName("Candidates title")
        self._buttons: list[QToolButton] = []
        buttons = QVBoxLayout()
        buttons.setSpacing(2)
        buttons.addWidget(self.title)
        for action, text in (
            (self.apply_action, "Apply"),
            (self.discard_action, "Discard"),
            (self.discard_all_action, "Discard all"),
        ):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setText(text)
            button.setAccessibleName(text)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setMinimumWidth(84)
            buttons.addWidget(button)
            self._buttons.append(button)
        buttons.addStretch(1)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.addWidget(self.list, 1)
        self._layout.addLayout(buttons)
        self._update_actions()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """The strip with full-size thumbnails, results or not (the column keeps that room when it can)."""
        margins = self.contentsMargins() + self._layout.contentsMargins()
        height = THUMBNAIL_SIDE + _LIST_CHROME + margins.top() + margins.bottom()
        return QSize(super().sizeHint().width(), max(height, super().sizeHint().height()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Take Return, Delete and Shift+Delete in the list before any enclosing shortcut does."""
        if watched is self.list and event.type() == QEvent.Type.Resize:
            self._fit_thumbnails()
        if watched is self.list and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            assert isinstance(event, QKeyEvent)
            action = self._keys.get(event.keyCombination())
            if action is not None:
                event.accept()
                if event.type() == QEvent.Type.KeyPress and action.isEnabled():
                    action.trigger()
                return True
        return super().eventFilter(watched, event)

    def _make_action(self, text: str, shortcut: str, slot: object, description: str) -> QAction:
        return make_action(
            self,
            text,
            slot,  # type: ignore[arg-type]
            shortcut=shortcut,
            description=description,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )

    # -- contents ---------------------------------------------------------------------------------------

    def count(self) -> int:
        return self.list.count()

    def current_index(self) -> int:
        """The selected candidate, or -1."""
        items = self.list.selectedItems()
        return self.list.row(items[0]) if items else -1

    def add_candidate(self, image: QImage, tooltip: str = "") -> int:
        """Add a thumbnail of ``image`` (any size) at the end; returns its index."""
        thumbnail = image.scaled(
            THUMBNAIL_SIDE,
            THUMBNAIL_SIDE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumbnail)), "")
        item.setToolTip(tooltip)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, tooltip.splitlines()[0] if tooltip else "Candidate")
        side = self.list.iconSize().width()
        item.setSizeHint(QSize(side + 8, side + 8))
        self.list.addItem(item)
        self._update_actions()
        return self.list.count() - 1

    def thumbnail(self, index: int) -> QImage:
        """The thumbnail shown for a candidate."""
        item = self.list.item(index)
        return item.icon().pixmap(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE)).toImage()

    def thumbnail_side(self) -> int:
        """The side the thumbnails are shown at: smaller when the strip is low."""
        return self.list.iconSize().width()

    def _fit_thumbnails(self) -> None:
        side = max(MIN_THUMBNAIL_SIDE, min(THUMBNAIL_SIDE, self.list.height() - _LIST_CHROME))
        if side == self.list.iconSize().width():
            return
        self.list.setIconSize(QSize(side, side))
        self.list.setGridSize(QSize(side + 12, side + 12))
        for row in range(self.list.count()):
            self.list.item(row).setSizeHint(QSize(side + 8, side + 8))

    def select(self, index: int) -> None:
        """Select a candidate (-1: none); emits ``candidate_selected``."""
        if 0 <= index < self.list.count():
            self.list.setCurrentRow(index)
            self.list.scrollToItem(self.list.item(index))
        else:
            self.list.clearSelection()

    def remove_candidate(self, index: int) -> None:
        """Remove a thumbnail without emitting ``candidate_discarded``."""
        if 0 <= index < self.list.count():
            self.list.blockSignals(True)
            self.list.takeItem(index)
            self.list.clearSelection()
            self.list.blockSignals(False)
            self._update_actions()
            self.candidate_selected.emit(-1)

    def clear_candidates(self) -> None:
        """Remove every thumbnail without emitting anything but ``candidate_selected(-1)``."""
        had = self.current_index() >= 0
        self.list.blockSignals(True)
        self.list.clear()
        self.list.blockSignals(False)
        self._update_actions()
        if had:
            self.candidate_selected.emit(-1)

    # -- commands ---------------------------------------------------------------------------------------

    def apply(self, index: int) -> None:
        if 0 <= index < self.list.count():
            self.candidate_applied.emit(index)

    def apply_current(self) -> None:
        self.apply(self.current_index())

    def discard(self, index: int) -> None:
        """Remove a candidate and emit ``candidate_discarded(index)``."""
        if not 0 <= index < self.list.count():
            return
        self.remove_candidate(index)
        self.candidate_discarded.emit(index)

    def discard_current(self) -> None:
        self.discard(self.current_index())

    def discard_all(self) -> None:
        if self.list.count() == 0:
            return
        self.clear_candidates()
        self.candidates_cleared.emit()

    def _on_selection_changed(self) -> None:
        self._update_actions()
        self.candidate_selected.emit(self.current_index())

    def _update_actions(self) -> None:
        selected = self.current_index() >= 0
        self.apply_action.setEnabled(selected)
        self.discard_action.setEnabled(selected)
        self.discard_all_action.setEnabled(self.list.count() > 0)
        count = self.list.count()
        # an empty strip is one line, leaving the room to the Generate panel until there are results
        for widget in (self.list, *self._buttons):
            widget.setVisible(count > 0)
        self.title.setText(f"{count} result{'s' if count != 1 else ''}" if count else "No results")
