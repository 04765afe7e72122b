"""The Story Notes panel: memory, author's note and glossary of the current document, and what follows them.

:class:`StoryNotesController` keeps each open document's notes (by editor), loads them from the
:class:`~studio.writing.story_notes.StoryNotesStore` when a document opens, saves them (debounced, atomically)
as they are edited, and carries them over to the new file on save-as. :class:`StoryNotesPanel` edits the
current document's notes; :class:`StoryNotesDock` holds the panel and the "What the model sees" view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.ui.actions import make_action
from studio.ui.write.editor import MarkdownEditor
from studio.writing.story_notes import (
    MAX_AUTHORS_NOTE_DEPTH,
    GlossaryEntry,
    StoryNotes,
    StoryNotesError,
    StoryNotesStore,
    parse_keywords,
    sidecar_path,
)

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 700
"""Edited notes are written this long after the last change (and at once when the document changes)."""


class _DocumentNotes:
    def __init__(self, path: Path | None, notes: StoryNotes) -> None:
        self.path = path
        self.notes = notes
        self.unsaved = False


class StoryNotesController(QObject):
    """The story notes of every open document, following the workspace's current one.

    ``current_editor()`` and ``current_path()`` describe the current document (a
    :class:`~studio.ui.write.workspace.WriteWorkspace` has both); call :meth:`document_changed` whenever it
    changes (connect the workspace's ``current_document_changed``), which also catches save-as.
    """

    notes_changed = Signal()
    """The current notes changed: edited, or another document became current."""
    problem = Signal(str)
    """Something went wrong with the notes (a broken notes file, a failed save); the text is fit to show."""

    def __init__(
        self,
        current_editor: Callable[[], MarkdownEditor | None],
        current_path: Callable[[], str | None],
        store: StoryNotesStore | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._current_editor = current_editor
        self._current_path = current_path
        self.store = store if store is not None else StoryNotesStore()
        self._documents: dict[MarkdownEditor, _DocumentNotes] = {}
        self._current: _DocumentNotes | None = None
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_now)
        self.last_problem = ""

    def current_notes(self) -> StoryNotes:
        """The current document's notes (empty when no document is open)."""
        return self._current.notes if self._current is not None else StoryNotes()

    def current_path(self) -> Path | None:
        """The current document's file (None when untitled)."""
        return self._current.path if self._current is not None else None

    def has_document(self) -> bool:
        return self._current is not None

    def set_current_notes(self, notes: StoryNotes) -> None:
        """Replace the current document's notes (saved shortly; untitled documents keep them until saved)."""
        current = self._current
        if current is None or current.notes == notes:
            return
        current.notes = notes
        current.unsaved = True
        self._save_timer.start()
        self.notes_changed.emit()

    def document_changed(self) -> None:
        """The current document changed, or its file did (save-as): load, carry over and save as needed."""
        self.save_now()
        editor = self._current_editor()
        raw_path = self._current_path()
        path = Path(raw_path) if raw_path else None
        if editor is None:
            self._current = None
            self.notes_changed.emit()
            return
        state = self._documents.get(editor)
        if state is None:
            state = _DocumentNotes(path, self._load(path))
            self._documents[editor] = state
            editor.destroyed.connect(lambda _obj=None, key=editor: self._forget(key))
        changed = state is not self._current
        if state.path != path and path is not None:
            state.path = path  # saved as a new file: the notes go with it
            state.unsaved = not state.notes.is_empty()
            changed = True
        self._current = state
        self.save_now()
        if changed:
            self.notes_changed.emit()

    def _forget(self, editor: MarkdownEditor) -> None:
        state = self._documents.pop(editor, None)
        if state is not None and state is self._current:
            self._current = None

    def _load(self, path: Path | None) -> StoryNotes:
        if path is None:
            return StoryNotes()
        loaded = self.store.load(path)
        if loaded.problem:
            self._report(loaded.problem)
        return loaded.notes

    def save_now(self) -> bool:
        """Write unsaved notes of every document that has a file; False when a write failed (reported)."""
        self._save_timer.stop()
        ok = True
        for state in self._documents.values():
            if not state.unsaved or state.path is None:
                continue
            try:
                self.store.save(state.path, state.notes)
                state.unsaved = False
            except StoryNotesError as exc:
                ok = False
                self._report(str(exc))
        return ok

    def export_current(self, target: str | Path | None = None) -> Path:
        """Write the current notes next to the document (or to ``target``); raises :class:`StoryNotesError`."""
        current = self._current
        if current is None:
            raise StoryNotesError("No document is open.")
        if current.path is None and target is None:
            raise StoryNotesError("Save the document first: its notes are exported next to it.")
        document = current.path if current.path is not None else Path(str(target))
        return self.store.export(document, current.notes, target)

    def _report(self, message: str) -> None:
        log.warning("%s", message)
        self.last_problem = message
        self.problem.emit(message)


class StoryNotesPanel(QWidget):
    """Edits the current document's story notes through a :class:`StoryNotesController`."""

    def __init__(self, controller: StoryNotesController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("story_notes_panel")
        self._controller = controller
        self._loading = False

        self.document_label = QLabel(self)
        self.document_label.setObjectName("story_notes_document")
        self.document_label.setWordWrap(True)
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("story_notes_problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(
            "color: palette(highlighted-text); background: #b3261e; padding: 4px;"
        )
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label.hide()

        self.memory_edit = QPlainTextEdit(self)
        self.memory_edit.setObjectName("story_notes_memory")
        self.memory_edit.setPlaceholderText(
            "What the work is: genre, setting, point of view, style. Opens every prompt."
        )
        self.memory_edit.setTabChangesFocus(True)
        lines = self.fontMetrics().lineSpacing()
        self.memory_edit.setMinimumHeight(lines * 3 + 12)
        self.memory_edit.setMaximumHeight(lines * 7 + 12)
        memory_box = _group("Memory", self.memory_edit)

        self.authors_note_edit = QPlainTextEdit(self)
        self.authors_note_edit.setObjectName("story_notes_authors_note")
        self.authors_note_edit.setPlaceholderText(
            "A steer for the next lines, e.g. “Tense, short sentences.”"
        )
        self.authors_note_edit.setTabChangesFocus(True)
        self.authors_note_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.depth_spin = QSpinBox(self)
        self.depth_spin.setObjectName("story_notes_depth")
        self.depth_spin.setRange(1, MAX_AUTHORS_NOTE_DEPTH)
        self.depth_spin.setSuffix(" lines before the cursor")
        self.depth_spin.setToolTip("Non-blank lines counted back from the cursor; the cursor's own line is 1")
        depth_row = QHBoxLayout()
        depth_row.addWidget(QLabel("Insert", self))
        depth_row.addWidget(self.depth_spin, 1)
        authors_box = _group("Author's note", self.authors_note_edit, depth_row)

        self.entry_list = QListWidget(self)
        self.entry_list.setObjectName("story_notes_glossary")
        self.entry_list.setMinimumHeight(self.fontMetrics().lineSpacing() * 4)
        self.entry_list.setMaximumHeight(self.fontMetrics().lineSpacing() * 8)
        self.entry_list.setToolTip("Checked entries join the prompt while a keyword is near the cursor")
        self.add_button = QPushButton("&Add entry", self)
        self.remove_button = QPushButton("&Remove", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("story_notes_entry_name")
        self.name_edit.setPlaceholderText("Mira")
        self.keywords_edit = QLineEdit(self)
        self.keywords_edit.setObjectName("story_notes_entry_keywords")
        self.keywords_edit.setPlaceholderText("Mira, the captain (comma-separated; empty: the name)")
        self.entry_text_edit = QPlainTextEdit(self)
        self.entry_text_edit.setObjectName("story_notes_entry_text")
        self.entry_text_edit.setPlaceholderText("Who or what it is, in a sentence or two.")
        self.entry_text_edit.setTabChangesFocus(True)
        self.entry_text_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 5 + 12)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Name", self.name_edit)
        form.addRow("&Keywords", self.keywords_edit)
        form.addRow("&Text", self.entry_text_edit)
        self.entry_form = QWidget(self)
        self.entry_form.setLayout(form)
        hint = QLabel("An entry joins the prompt only while one of its keywords is near the cursor.", self)
        hint.setWordWrap(True)
        glossary_box = _group("Glossary", hint, self.entry_list, buttons, self.entry_form)

        self.export_button = QPushButton("&Export notes…", self)
        self.export_button.setObjectName("story_notes_export")
        self.export_button.setToolTip("Write these notes to a file next to the document")

        content = QWidget(self)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.document_label)
        layout.addWidget(self.problem_label)
        layout.addWidget(memory_box)
        layout.addWidget(authors_box)
        layout.addWidget(glossary_box)
        layout.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.memory_edit.textChanged.connect(self._edited)
        self.authors_note_edit.textChanged.connect(self._edited)
        self.depth_spin.valueChanged.connect(self._edited)
        self.name_edit.textChanged.connect(self._entry_edited)
        self.keywords_edit.textChanged.connect(self._entry_edited)
        self.entry_text_edit.textChanged.connect(self._entry_edited)
        self.entry_list.currentRowChanged.connect(self._show_entry)
        self.entry_list.itemChanged.connect(self._item_checked)
        self.add_button.clicked.connect(self.add_entry)
        self.remove_button.clicked.connect(self.remove_entry)
        self.export_button.clicked.connect(self._export_clicked)
        controller.notes_changed.connect(self._controller_changed)
        controller.problem.connect(self.show_problem)
        self._shown: StoryNotes | None = None
        self._controller_changed()

    # -- reading the controller ------------------------------------------------------------------------------

    def _controller_changed(self) -> None:
        notes = self._controller.current_notes()
        if notes != self._shown:
            self.set_notes(notes)
        has_document = self._controller.has_document()
        path = self._controller.current_path()
        if not has_document:
            self.document_label.setText("Open a document to give it story notes.")
        elif path is None:
            self.document_label.setText("Notes of this untitled document (stored once it is saved).")
        else:
            self.document_label.setText(f"Notes of <b>{_escape(path.name)}</b>")
        for widget in (
            self.memory_edit,
            self.authors_note_edit,
            self.depth_spin,
            self.entry_list,
            self.add_button,
        ):
            widget.setEnabled(has_document)
        self.export_button.setEnabled(has_document and path is not None)
        self._update_entry_controls()

    def set_notes(self, notes: StoryNotes) -> None:
        """Show ``notes`` (without treating that as an edit)."""
        self._loading = True
        try:
            self._shown = notes
            if self.memory_edit.toPlainText() != notes.memory:
                self.memory_edit.setPlainText(notes.memory)
            if self.authors_note_edit.toPlainText() != notes.authors_note:
                self.authors_note_edit.setPlainText(notes.authors_note)
            self.depth_spin.setValue(notes.authors_note_depth)
            row = self.entry_list.currentRow()
            self.entry_list.clear()
            for entry in notes.glossary:
                self.entry_list.addItem(self._item(entry))
            if notes.glossary:
                self.entry_list.setCurrentRow(min(max(row, 0), len(notes.glossary) - 1))
            self._show_entry(self.entry_list.currentRow())
        finally:
            self._loading = False

    @staticmethod
    def _item(entry: GlossaryEntry) -> QListWidgetItem:
        item = QListWidgetItem(_entry_label(entry))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if entry.enabled else Qt.CheckState.Unchecked)
        item.setToolTip(entry.text)
        return item

    def show_problem(self, message: str) -> None:
        """Show a problem with the notes above the fields (an empty message hides it)."""
        self.problem_label.setText(message)
        self.problem_label.setVisible(bool(message))

    # -- editing ---------------------------------------------------------------------------------------------

    def notes(self) -> StoryNotes:
        """The notes as the fields show them."""
        return self._shown if self._shown is not None else StoryNotes()

    def _commit(self, notes: StoryNotes) -> None:
        self._shown = notes
        self._controller.set_current_notes(notes)

    def _edited(self) -> None:
        if self._loading:
            return
        self._commit(
            replace(
                self.notes(),
                memory=self.memory_edit.toPlainText(),
                authors_note=self.authors_note_edit.toPlainText(),
                authors_note_depth=self.depth_spin.value(),
            )
        )

    def _entry_edited(self) -> None:
        row = self.entry_list.currentRow()
        notes = self.notes()
        if self._loading or not 0 <= row < len(notes.glossary):
            return
        old = notes.glossary[row]
        entry = GlossaryEntry(
            self.name_edit.text().strip(),
            parse_keywords(self.keywords_edit.text()),
            self.entry_text_edit.toPlainText(),
            old.enabled,
        )
        item = self.entry_list.item(row)
        self._loading = True
        try:
            item.setText(_entry_label(entry))
            item.setToolTip(entry.text)
        finally:
            self._loading = False
        self._commit(notes.with_entry(row, entry))

    def _item_checked(self, item: QListWidgetItem) -> None:
        row = self.entry_list.row(item)
        notes = self.notes()
        if self._loading or not 0 <= row < len(notes.glossary):
            return
        enabled = item.checkState() == Qt.CheckState.Checked
        if notes.glossary[row].enabled != enabled:
            self._commit(notes.with_entry(row, replace(notes.glossary[row], enabled=enabled)))

    def add_entry(self) -> None:
        """Add an empty glossary entry and start editing its name."""
        notes = self.notes()
        entry = GlossaryEntry("New entry")
        self._commit(notes.with_entry(len(notes.glossary), entry))
        self._loading = True
        try:
            self.entry_list.addItem(self._item(entry))
            self.entry_list.setCurrentRow(self.entry_list.count() - 1)
        finally:
            self._loading = False
        self._show_entry(self.entry_list.count() - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def remove_entry(self) -> None:
        """Remove the selected glossary entry."""
        row = self.entry_list.currentRow()
        notes = self.notes()
        if not 0 <= row < len(notes.glossary):
            return
        self._commit(notes.without_entry(row))
        self._loading = True
        try:
            self.entry_list.takeItem(row)
        finally:
            self._loading = False
        self._show_entry(self.entry_list.currentRow())

    def _show_entry(self, row: int) -> None:
        glossary = self.notes().glossary
        entry = glossary[row] if 0 <= row < len(glossary) else None
        was_loading, self._loading = self._loading, True
        try:
            self.name_edit.setText(entry.name if entry else "")
            self.keywords_edit.setText(", ".join(entry.keywords) if entry else "")
            if self.entry_text_edit.toPlainText() != (entry.text if entry else ""):
                self.entry_text_edit.setPlainText(entry.text if entry else "")
        finally:
            self._loading = was_loading
        self._update_entry_controls()

    def _update_entry_controls(self) -> None:
        has_entry = 0 <= self.entry_list.currentRow() < len(self.notes().glossary)
        self.entry_form.setEnabled(has_entry and self._controller.has_document())
        self.remove_button.setEnabled(has_entry and self._controller.has_document())

    def _export_clicked(self) -> None:
        path = self._controller.current_path()
        if path is None:
            return
        target, _filter = QFileDialog.getSaveFileName(
            self, "Export story notes", str(sidecar_path(path)), "Story notes (*.json)"
        )
        if target:
            self.export_to(target)

    def export_to(self, target: str | Path) -> Path | None:
        """Export the current notes to ``target``; shows what happened. Returns the file, or None on error."""
        try:
            written = self._controller.export_current(target)
        except StoryNotesError as exc:
            self.show_problem(str(exc))
            return None
        self.show_problem("")
        self.document_label.setText(self.document_label.text() + f" — exported to {_escape(written.name)}")
        return written


def _group(title: str, *items: QWidget | QHBoxLayout) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 6, 6, 6)
    for item in items:
        if isinstance(item, QWidget):
            layout.addWidget(item)
        else:
            layout.addLayout(item)
    return box


def _entry_label(entry: GlossaryEntry) -> str:
    name = entry.name or "(unnamed)"
    triggers = entry.triggers()
    return f"{name} — {', '.join(triggers)}" if triggers and triggers != (name,) else name


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class PanelDock(QDockWidget):
    """A dock around one Write panel; ``toggle_action`` (checkable, for the View menu) shows and hides it."""

    def __init__(
        self,
        title: str,
        widget: QWidget,
        action_text: str,
        shortcut: str,
        description: str,
        parent: QWidget | None,
    ) -> None:
        super().__init__(title, parent)
        self.setWidget(widget)
        self.toggle_action: QAction = make_action(
            self, action_text, self._toggle, shortcut=shortcut, description=description, checkable=True
        )
        self.visibilityChanged.connect(self.toggle_action.setChecked)

    def _toggle(self) -> None:
        if self.isVisible() and not self.wants_focus():
            self.hide()
            return
        self.show()
        self.raise_()
        self.focus_panel()

    def wants_focus(self) -> bool:
        """True when toggling a visible dock should bring it forward instead of hiding it."""
        return False

    def focus_panel(self) -> None:
        """Put the focus where the panel's work starts (after it was shown by ``toggle_action``)."""


class StoryNotesDock(PanelDock):
    """A dock with the Story Notes panel and the "What the model sees" view, as tabs."""

    def __init__(
        self, controller: StoryNotesController, prompt_view: QWidget, parent: QWidget | None = None
    ) -> None:
        self.tabs = QTabWidget()
        super().__init__(
            "Story Notes",
            self.tabs,
            "Story &Notes",
            "Ctrl+Shift+L",
            "Show or hide the story notes: memory, author's note and glossary",
            parent,
        )
        self.setObjectName("story_notes_dock")
        self.panel = StoryNotesPanel(controller, self)
        self.prompt_view = prompt_view
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.panel, "&Notes")
        self.tabs.addTab(prompt_view, "What the &model sees")
        self.show_prompt_action: QAction = make_action(
            self,
            "What the Model &Sees",
            self.show_prompt,
            description="Show the prompt a suggestion at the cursor gets, and its token budget",
        )

    def show_prompt(self) -> None:
        """Show the dock on its "What the model sees" tab."""
        self.show()
        self.raise_()
        self.tabs.setCurrentWidget(self.prompt_view)
