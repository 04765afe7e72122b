"""Find and replace in the Write workspace: a find bar under the editors (Ctrl+F, Ctrl+H).

Matching runs on the editor's exact text with Python's ``re`` (plain text is escaped), so a regular expression
and its replacement template (``\\1``, ``\\g<name>``) follow one set of rules. Replace All is one undo step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QWidget,
)

from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.ghost_text import py_to_qt_index, qt_to_py_index


class FindError(ValueError):
    """The search or the replacement cannot be used (an invalid regular expression); the message says why."""


@dataclass(frozen=True, slots=True)
class FindOptions:
    """What to look for and how."""

    pattern: str
    regex: bool = False
    whole_word: bool = False
    match_case: bool = False

    def compile(self) -> re.Pattern[str]:
        """The compiled search; raises :class:`FindError` for an invalid regular expression."""
        body = self.pattern if self.regex else re.escape(self.pattern)
        if self.whole_word:
            body = rf"(?<!\w)(?:{body})(?!\w)"
        flags = re.MULTILINE | (0 if self.match_case else re.IGNORECASE)
        try:
            return re.compile(body, flags)
        except re.error as exc:
            raise FindError(f"Invalid regular expression: {exc}") from exc


def find_all(text: str, options: FindOptions) -> list[re.Match[str]]:
    """Every non-empty match of ``options`` in ``text``, in order (an empty pattern matches nothing)."""
    if not options.pattern:
        return []
    return [match for match in options.compile().finditer(text) if match.end() > match.start()]


def replacement(match: re.Match[str], template: str, regex: bool) -> str:
    """What replaces ``match``: ``template`` itself, or expanded (groups) for a regular expression."""
    if not regex:
        return template
    try:
        return match.expand(template)
    except (re.error, IndexError) as exc:
        raise FindError(f"Invalid replacement: {exc}") from exc


class FindBar(QWidget):
    """The find/replace bar. It works on ``current_editor()``; Esc closes it and gives the editor the focus."""

    closed = Signal()

    def __init__(
        self, current_editor: Callable[[], MarkdownEditor | None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName("Find and replace")
        self._current_editor = current_editor
        self.find_edit = QLineEdit()
        self.find_edit.setPlaceholderText("Find")
        self.find_edit.setAccessibleName("Find")
        self.find_edit.setClearButtonEnabled(True)
        self.replace_edit = QLineEdit()
        self.replace_edit.setPlaceholderText("Replace with")
        self.replace_edit.setAccessibleName("Replace with")
        self.regex_box = QCheckBox("Re&gex")
        self.regex_box.setToolTip("Regular expression (Python syntax; \\1 or \\g<name> in the replacement)")
        self.word_box = QCheckBox("&Whole word")
        self.word_box.setToolTip("Match whole words only")
        self.case_box = QCheckBox("Match &case")
        self.case_box.setToolTip("Upper and lower case must match")
        self.previous_button = self._button(
            "Previous", "Find the previous match (Shift+F3)", self.find_previous
        )
        self.next_button = self._button("Next", "Find the next match (F3, Enter)", self.find_next)
        self.replace_button = self._button(
            "Replace", "Replace this match and find the next", self.replace_current
        )
        self.replace_all_button = self._button(
            "Replace All", "Replace every match (one undo step)", self.replace_all
        )
        self.status = QLabel()
        self.status.setAccessibleName("Find status")
        self.status.setMinimumWidth(self.status.fontMetrics().horizontalAdvance("99 of 99 (wrapped)"))
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Close the find bar (Esc)")
        close.setAccessibleName("Close the find bar")
        close.clicked.connect(self.close_bar)

        layout = QGridLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setHorizontalSpacing(6)
        layout.setVerticalSpacing(4)
        layout.addWidget(self.find_edit, 0, 0)
        layout.addWidget(self.previous_button, 0, 1)
        layout.addWidget(self.next_button, 0, 2)
        layout.addWidget(self.regex_box, 0, 3)
        layout.addWidget(self.word_box, 0, 4)
        layout.addWidget(self.case_box, 0, 5)
        layout.addWidget(self.status, 0, 6)
        layout.addWidget(close, 0, 7)
        layout.addWidget(self.replace_edit, 1, 0)
        layout.addWidget(self.replace_button, 1, 1)
        layout.addWidget(self.replace_all_button, 1, 2)
        for edit in (self.find_edit, self.replace_edit):
            edit.setMinimumWidth(120)
            edit.setMaximumWidth(480)
        layout.setColumnStretch(0, 2)
        layout.setColumnStretch(6, 1)  # wide windows: the status takes the rest, the fields stay readable
        self._replace_widgets: list[QWidget] = [
            self.replace_edit,
            self.replace_button,
            self.replace_all_button,
        ]

        self.find_edit.textChanged.connect(self._search_as_typed)
        for box in (self.regex_box, self.word_box, self.case_box):
            box.toggled.connect(self._search_as_typed)
        self.find_edit.installEventFilter(self)
        self.replace_edit.installEventFilter(self)
        self.hide()

    def _button(self, text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setAutoDefault(False)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # -- showing ---------------------------------------------------------------------------------------------

    def show_find(self) -> None:
        """Show the bar for finding only (Ctrl+F), seeded with the editor's selection."""
        self._open(replace=False)

    def show_replace(self) -> None:
        """Show the bar with the replace row (Ctrl+H)."""
        self._open(replace=True)

    def replace_visible(self) -> bool:
        """Whether the replace row is shown."""
        return not self.replace_edit.isHidden()

    def _open(self, replace: bool) -> None:
        editor = self._current_editor()
        if editor is not None:
            selected = editor.textCursor().selectedText()
            if selected and "\u2029" not in selected:
                self.find_edit.blockSignals(True)
                self.find_edit.setText(selected)
                self.find_edit.blockSignals(False)
        for widget in self._replace_widgets:
            widget.setVisible(replace)
        self.show()
        target = self.replace_edit if replace and self.find_edit.text() else self.find_edit
        target.setFocus()
        target.selectAll()
        self._update_status()

    def close_bar(self) -> None:
        """Hide the bar and hand the focus back to the editor."""
        self.hide()
        editor = self._current_editor()
        if editor is not None:
            editor.setFocus()
        self.closed.emit()

    # -- searching -------------------------------------------------------------------------------------------

    def options(self) -> FindOptions:
        """The search as set in the bar."""
        return FindOptions(
            self.find_edit.text(),
            regex=self.regex_box.isChecked(),
            whole_word=self.word_box.isChecked(),
            match_case=self.case_box.isChecked(),
        )

    def find_next(self) -> bool:
        """Select the next match after the selection (wrapping at the end); False when there is none."""
        return self._find(forward=True)

    def find_previous(self) -> bool:
        """Select the match before the selection (wrapping at the start); False when there is none."""
        return self._find(forward=False)

    def replace_current(self) -> bool:
        """Replace the selected match (one undo step) and select the next; only finds when no match is
        selected. False when there was nothing to replace or find."""
        editor = self._current_editor()
        matches = self._matches(editor)
        if editor is None or matches is None:
            return False
        text = editor.document_text()
        start, end = self._selection(editor, text)
        current = next((m for m in matches if (m.start(), m.end()) == (start, end)), None)
        if current is None:
            return self.find_next()
        try:
            new_text = replacement(current, self.replace_edit.text(), self.regex_box.isChecked())
        except FindError as exc:
            self._show_problem(str(exc))
            return False
        cursor = self._cursor(editor, text, start, end)
        cursor.insertText(new_text)
        editor.setTextCursor(cursor)
        self.find_next()
        return True

    def replace_all(self) -> int:
        """Replace every match in the document as one undo step; the number replaced."""
        editor = self._current_editor()
        matches = self._matches(editor)
        if editor is None or not matches:
            return 0
        template, regex = self.replace_edit.text(), self.regex_box.isChecked()
        try:
            replaced = [(m.start(), m.end(), replacement(m, template, regex)) for m in matches]
        except FindError as exc:
            self._show_problem(str(exc))
            return 0
        text = editor.document_text()
        cursor = QTextCursor(editor.document())
        cursor.beginEditBlock()
        for start, end, new_text in reversed(replaced):
            cursor.setPosition(py_to_qt_index(text, start))
            cursor.setPosition(py_to_qt_index(text, end), QTextCursor.MoveMode.KeepAnchor)
            cursor.insertText(new_text)
        cursor.endEditBlock()
        count = len(replaced)
        self._show_status(f"Replaced {count} match{'es' if count != 1 else ''}")
        return count

    def _find(self, forward: bool) -> bool:
        editor = self._current_editor()
        matches = self._matches(editor)
        if editor is None or matches is None:
            return False
        if not matches:
            self._show_status("No matches" if self.find_edit.text() else "")
            return False
        text = editor.document_text()
        start, end = self._selection(editor, text)
        if forward:
            found = next(
                (m for m in matches if m.start() >= end and (m.start(), m.end()) != (start, end)), None
            )
            wrapped = found is None
            found = found or matches[0]
        else:
            found = next((m for m in reversed(matches) if m.end() <= start), None)
            wrapped = found is None
            found = found or matches[-1]
        self._select(editor, text, found.start(), found.end())
        index = matches.index(found) + 1
        self._show_status(
            f"{index} of {len(matches)}" + (" (wrapped)" if wrapped and len(matches) > 1 else "")
        )
        return True

    def _search_as_typed(self) -> None:
        """Typing in the find field finds from where the selection starts, so the match grows in place."""
        editor = self._current_editor()
        if editor is None or self.isHidden():
            return
        if not self.find_edit.text():
            self._show_status("")
            return
        cursor = editor.textCursor()
        cursor.setPosition(cursor.selectionStart())
        editor.setTextCursor(cursor)
        self.find_next()

    def _matches(self, editor: MarkdownEditor | None) -> list[re.Match[str]] | None:
        if editor is None:
            return None
        try:
            return find_all(editor.document_text(), self.options())
        except FindError as exc:
            self._show_problem(str(exc))
            return None

    def _update_status(self) -> None:
        editor = self._current_editor()
        matches = self._matches(editor)
        if matches is None or not self.find_edit.text():
            if matches is not None:
                self._show_status("")
            return
        self._show_status(
            f"{len(matches)} match{'es' if len(matches) != 1 else ''}" if matches else "No matches"
        )

    def _show_status(self, message: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(message)
        self.status.setToolTip(message)

    def _show_problem(self, message: str) -> None:
        self.status.setStyleSheet("color: #d32f2f;")
        self.status.setText(message.split(":")[0])
        self.status.setToolTip(message)

    @staticmethod
    def _selection(editor: MarkdownEditor, text: str) -> tuple[int, int]:
        cursor = editor.textCursor()
        return qt_to_py_index(text, cursor.selectionStart()), qt_to_py_index(text, cursor.selectionEnd())

    @staticmethod
    def _cursor(editor: MarkdownEditor, text: str, start: int, end: int) -> QTextCursor:
        cursor = QTextCursor(editor.document())
        cursor.setPosition(py_to_qt_index(text, start))
        cursor.setPosition(py_to_qt_index(text, end), QTextCursor.MoveMode.KeepAnchor)
        return cursor

    def _select(self, editor: MarkdownEditor, text: str, start: int, end: int) -> None:
        editor.setTextCursor(self._cursor(editor, text, start, end))
        editor.ensureCursorVisible()

    # -- keys ------------------------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Enter finds (Shift+Enter backwards; in the replace field it replaces), Esc closes the bar."""
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if key == Qt.Key.Key_Escape:
                self.close_bar()
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if watched is self.replace_edit:
                    self.replace_current()
                elif event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                    self.find_previous()
                else:
                    self.find_next()
                return True
        return super().eventFilter(watched, event)
