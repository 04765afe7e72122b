"""The Write workspace: tabs of Markdown editors bound to exact text documents, with crash recovery."""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence, QTextCursor
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from studio.documents.provenance import ProvenanceStore
from studio.documents.recovery import RecoveryEntry, RecoveryStore, RecoveryWriter, new_document_id
from studio.documents.text_document import (
    DocumentError,
    Newline,
    NoPathError,
    TextDocument,
    TextFormat,
    UnreadableDocumentError,
)
from studio.ui.actions import REDO_SHORTCUTS, Shortcut, make_action
from studio.ui.dialogs import Dialogs, QtDialogs, UnsavedChoice
from studio.ui.write.editor import DEFAULT_SUGGESTION_DELAY_MS, MarkdownEditor
from studio.ui.write.export import ExportFormat, export_markdown
from studio.ui.write.find_replace import FindBar
from studio.ui.write.ghost_text import ContinuationProvider
from studio.ui.write.rewrite import RewriteProvider
from studio.ui.write.rewrite_commands import RewriteCommands
from studio.ui.write.token_choices import TokenChoicesProvider

log = logging.getLogger(__name__)

AUTOSAVE_DEBOUNCE_MS = 500
"""Unsaved text is journalled to the recovery folder this long after the last change..."""
AUTOSAVE_MAX_DELAY_MS = 1000
"""...and never later than this after the first change not yet journalled, however long the typing goes on."""
AUTOSAVE_RETRY_MS = 10_000
"""After a failed recovery write, unsaved documents are written again this often until it works."""
WRITER_CLOSE_TIMEOUT_S = 10.0
DEFAULT_FONT_SIZE = 11
"""The editor's font size in points unless the user chose one."""
MIN_FONT_SIZE, MAX_FONT_SIZE = 6, 96

_RETRY = -1
"""A :attr:`_Tab.snapshot_revision` that matches no revision: the last write failed and must be repeated."""


@dataclass(eq=False)
class _Tab:
    editor: MarkdownEditor
    document: TextDocument
    recovery_id: str
    untitled_name: str
    snapshot_revision: int | None = None
    """The editor revision last handed to the recovery writer; None when there is no snapshot."""


class _WriteResults(QObject):
    """Carries the recovery writer's results from its thread to the GUI thread."""

    written = Signal(str, int, str)
    """doc_id, editor revision, error message ("" when written)."""

    def report(self, doc_id: str, revision: int, error: OSError | None) -> None:
        """Called on the writer thread."""
        with contextlib.suppress(RuntimeError):  # the workspace (and this object) went away meanwhile
            self.written.emit(doc_id, revision, "" if error is None else str(error))


class WriteWorkspace(QWidget):
    """Tabs of :class:`MarkdownEditor`, each bound to a :class:`TextDocument`.

    Errors (unreadable files, files changed on disk, failed saves) are raised as
    :class:`studio.documents.DocumentError` with a message fit to show; the workspace itself
    never opens an error dialog, and its questions (save before closing? where?) go to ``dialogs``. Unsaved
    changes are journalled to the recovery folder within about a second (:data:`AUTOSAVE_DEBOUNCE_MS` after the
    last change, at most :data:`AUTOSAVE_MAX_DELAY_MS` after the first);
    the text is taken on the GUI thread and written on a background thread (:class:`RecoveryWriter`). A failed
    write emits :attr:`autosave_failed` once, until a write works again.
    """

    current_document_changed = Signal()
    """The current tab changed, or its title, path or modified state did."""
    suggestion_state_changed = Signal(str)
    """The current editor's suggestion state: ``idle``, ``waiting`` or ``streaming``."""
    suggestion_failed = Signal(str)
    """The current editor's continuation request failed."""
    autosave_failed = Signal(str)
    """A recovery snapshot could not be written (emitted once until a write works again)."""
    rewrite_status = Signal(str)
    """What the current editor's rewrite (or an empty suggestion) has to say ("" clears it)."""

    def __init__(
        self,
        parent: QWidget | None = None,
        recovery_store: RecoveryStore | None = None,
        dialogs: Dialogs | None = None,
    ) -> None:
        super().__init__(parent)
        self._dialogs: Dialogs = dialogs if dialogs is not None else QtDialogs(self)
        self._tabs_widget = QTabWidget(self)
        self._tabs_widget.setDocumentMode(True)
        self._tabs_widget.setTabsClosable(True)
        self._tabs_widget.setMovable(True)
        self._tabs_widget.tabCloseRequested.connect(self.close_tab)
        self._tabs_widget.currentChanged.connect(self._on_current_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._tabs_widget)
        self.find_bar = FindBar(self.current_editor, self)
        layout.addWidget(self.find_bar)

        self._tabs: list[_Tab] = []
        self._untitled_counter = 0
        self._provider: ContinuationProvider | None = None
        self._rewrite_provider: RewriteProvider | None = None
        self._token_choices_provider: TokenChoicesProvider | None = None
        self.rewrite_commands = RewriteCommands(self, self.current_editor)
        self._suggestion_delay = DEFAULT_SUGGESTION_DELAY_MS
        self._suggestions_enabled = True
        self._editor_font: QFont | None = None
        self._ai_marks_visible = True

        self._recovery = recovery_store or RecoveryStore()
        self._provenance = ProvenanceStore()
        try:
            self._recovery.start_session()
        except OSError as exc:
            log.warning("recovery folder unavailable: %s", exc)
        self._results = _WriteResults(self)
        self._results.written.connect(self._on_written, Qt.ConnectionType.QueuedConnection)
        self._writer = RecoveryWriter(self._recovery, self._results.report)
        self._autosave_failing = False
        self._debounce_timer = self._single_shot(AUTOSAVE_DEBOUNCE_MS)
        self._deadline_timer = self._single_shot(AUTOSAVE_MAX_DELAY_MS)
        self._retry_timer = self._single_shot(AUTOSAVE_RETRY_MS)
        self._build_actions()

    def _single_shot(self, milliseconds: int) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(milliseconds)
        timer.timeout.connect(self._journal)
        return timer

    # -- commands --------------------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        # The editor handles these keys itself; the actions are for the Edit menu and act on the current editor.
        def edit(text: str, key: Shortcut | Sequence[Shortcut], method: str, description: str) -> QAction:
            return make_action(
                self,
                text,
                lambda: self._editor_call(method),
                shortcut=key,
                description=description,
                context=Qt.ShortcutContext.WidgetShortcut,
            )

        self.undo_action = edit("&Undo", QKeySequence.StandardKey.Undo, "undo", "Undo the last edit")
        self.redo_action = edit("&Redo", REDO_SHORTCUTS, "redo", "Redo the last undone edit")
        self.cut_action = edit("Cu&t", QKeySequence.StandardKey.Cut, "cut", "Cut the selected text")
        self.copy_action = edit("&Copy", QKeySequence.StandardKey.Copy, "copy", "Copy the selected text")
        self.paste_action = edit("&Paste", QKeySequence.StandardKey.Paste, "paste", "Paste text")
        self.select_all_action = edit(
            "Select &All", QKeySequence.StandardKey.SelectAll, "selectAll", "Select the whole document"
        )
        self.suggest_action = make_action(
            self,
            "Suggest &Continuation",
            self.request_suggestion,
            shortcut="Ctrl+Space",
            description="Suggest a continuation now",
        )
        self.find_action = make_action(
            self,
            "&Find…",
            self.find_bar.show_find,
            shortcut="Ctrl+F",
            description="Find text in the document",
        )
        self.replace_action = make_action(
            self,
            "&Replace…",
            self.find_bar.show_replace,
            shortcut="Ctrl+H",
            description="Find and replace text in the document",
        )
        self.find_next_action = make_action(
            self, "Find &Next", self._find_next, shortcut="F3", description="Find the next match"
        )
        self.find_previous_action = make_action(
            self,
            "Find Pre&vious",
            self._find_previous,
            shortcut="Shift+F3",
            description="Find the previous match",
        )

    def find_actions(self) -> list[QAction]:
        """Find, Replace, Find Next and Find Previous (for the Edit menu)."""
        return [self.find_action, self.replace_action, self.find_next_action, self.find_previous_action]

    def _find_next(self) -> None:
        if self.find_bar.find_edit.text():
            self.find_bar.find_next()
        else:
            self.find_bar.show_find()

    def _find_previous(self) -> None:
        if self.find_bar.find_edit.text():
            self.find_bar.find_previous()
        else:
            self.find_bar.show_find()

    def actions(self) -> list[QAction]:  # type: ignore[override]
        """The workspace's commands for the main window's Edit menu (each with a shortcut and a status tip)."""
        return [
            self.undo_action,
            self.redo_action,
            self.cut_action,
            self.copy_action,
            self.paste_action,
            self.select_all_action,
            self.suggest_action,
            *self.find_actions(),
        ]

    def _editor_call(self, method: str) -> None:
        editor = self.current_editor()
        if editor is not None:
            getattr(editor, method)()

    def request_suggestion(self) -> None:
        """Ask for a continuation at the cursor of the current document now."""
        editor = self.current_editor()
        if editor is not None:
            editor.request_suggestion()

    # -- tabs and documents ----------------------------------------------------------------------------------

    @property
    def tab_widget(self) -> QTabWidget:
        """The tab widget (for menus that list or reorder tabs)."""
        return self._tabs_widget

    @property
    def recovery_store(self) -> RecoveryStore:
        """The recovery store the workspace snapshots into."""
        return self._recovery

    def editors(self) -> list[MarkdownEditor]:
        """Every open editor, in tab order."""
        return [self._tab_at(i).editor for i in range(self._tabs_widget.count())]

    def current_editor(self) -> MarkdownEditor | None:
        """The editor of the current tab, or None when no document is open."""
        tab = self._current_tab()
        return tab.editor if tab else None

    def current_document(self) -> TextDocument | None:
        """The current tab's document, with its text brought up to date from the editor."""
        tab = self._current_tab()
        if tab is None:
            return None
        self._sync(tab)
        return tab.document

    def current_path(self) -> str | None:
        """The current document's file, or None (untitled or no document)."""
        tab = self._current_tab()
        return str(tab.document.path) if tab and tab.document.path else None

    def current_title(self) -> str:
        """The current tab's title without the modified mark ("" when no document is open)."""
        tab = self._current_tab()
        return self._name(tab) if tab else ""

    def set_current_path(self, path: str | os.PathLike[str]) -> bool:
        """Make the open document ``path`` the current tab; False when it is not open."""
        tab = self._tab_for_path(Path(path))
        if tab is None:
            return False
        self._tabs_widget.setCurrentWidget(tab.editor)
        return True

    def current_index(self) -> int:
        """The current tab's place among :meth:`open_paths` (-1 when it is untitled or nothing is open)."""
        path = self.current_path()
        return self.open_paths().index(path) if path in self.open_paths() else -1

    def export_current(self, path: str | os.PathLike[str], *, ai_marks: bool) -> ExportFormat:
        """Export the current document's Markdown to ``path`` (HTML, ODT or PDF by its suffix), AI-written text
        tinted when ``ai_marks``; the document itself is left as it is. Raises :class:`ExportError` (and
        :class:`NoPathError` when no document is open)."""
        editor = self.current_editor()
        if editor is None:
            raise NoPathError("No document is open.")
        source = self.current_path()
        return export_markdown(
            editor.document_text(),
            editor.ai_ranges(),
            path,
            ai_marks=ai_marks,
            title=self.current_title(),
            base=Path(source).parent if source else None,
        )

    # -- appearance ------------------------------------------------------------------------------------------

    def set_editor_font(self, font: QFont) -> None:
        """Use ``font`` in every editor, present and future."""
        self._editor_font = QFont(font)
        for editor in self.editors():
            self._apply_font(editor)

    def editor_font(self) -> QFont:
        """The editors' font."""
        if self._editor_font is not None:
            return QFont(self._editor_font)
        return default_editor_font()

    def _apply_font(self, editor: MarkdownEditor) -> None:
        if self._editor_font is None:
            return
        editor.setFont(self._editor_font)  # the editor re-derives its tab stops and column from it

    def set_ai_marks_visible(self, visible: bool) -> None:
        """Tint AI-written text in every editor, or not (View ▸ Show AI Marks)."""
        self._ai_marks_visible = visible
        for editor in self.editors():
            editor.set_ai_marks_visible(visible)

    def ai_marks_visible(self) -> bool:
        """Whether AI-written text is tinted."""
        return self._ai_marks_visible

    def open_paths(self) -> list[str]:
        """The files open in tabs, in tab order (untitled documents are left out)."""
        return [str(tab.document.path) for tab in self._ordered_tabs() if tab.document.path is not None]

    def has_unsaved_changes(self) -> bool:
        """True when any open document has changes that are not on disk."""
        return any(self._is_dirty(tab) for tab in self._tabs)

    def new_document(self) -> MarkdownEditor:
        """Open a new, empty, untitled document in a new tab and make it current."""
        return self._add_tab(TextDocument.new())

    def open_path(self, path: str | os.PathLike[str]) -> MarkdownEditor:
        """Open ``path`` in a tab (or switch to it when it is already open) and return its editor.

        Raises :class:`DocumentError` (unreadable, binary, too large) with a message fit to show.
        """
        existing = self._tab_for_path(Path(path))
        if existing is not None:
            self._tabs_widget.setCurrentWidget(existing.editor)
            return existing.editor
        document = TextDocument.load(path)
        placeholder = self._pristine_placeholder()
        editor = self._add_tab(document)
        if document.path is not None and document.stamp is not None:
            ranges = self._provenance.load(document.path, document.stamp.sha256)
            if ranges:
                editor.set_ai_ranges(ranges)
        if placeholder is not None:
            self._remove_tab(placeholder)
        return editor

    def save_current(self, *, overwrite: bool = False) -> bool:
        """Save the current document to its file; False when it is untitled (ask for a path, then call
        :meth:`save_current_as`) or when no document is open.

        Raises :class:`studio.documents.ChangedOnDiskError` when the file changed behind our
        back (ask, then call again with ``overwrite=True``), or another :class:`DocumentError`.
        """
        tab = self._current_tab()
        if tab is None or tab.document.path is None:
            return False
        self._save(tab, None, overwrite)
        return True

    def save_current_as(self, path: str | os.PathLike[str]) -> bool:
        """Save the current document to ``path`` and make that its file; True when saved.

        The caller has already confirmed replacing a file there. Raises :class:`DocumentError`
        (:class:`NoPathError` when no document is open).
        """
        tab = self._current_tab()
        if tab is None:
            raise NoPathError("No document is open.")
        self._save(tab, Path(path), overwrite=True)
        return True

    def close_current(self) -> bool:
        """Close the current tab, asking about unsaved changes; False when the user cancelled.

        A failed save while closing raises :class:`DocumentError` and leaves the tab open.
        """
        index = self._tabs_widget.currentIndex()
        return True if index < 0 else self.close_tab(index)

    def close_tab(self, index: int) -> bool:
        """Close the tab at ``index`` (see :meth:`close_current`)."""
        if not 0 <= index < self._tabs_widget.count():
            return True
        tab = self._tab_at(index)
        if self._is_dirty(tab):
            self._tabs_widget.setCurrentIndex(index)
            choice = self._dialogs.unsaved_changes(self._name(tab))
            if choice == UnsavedChoice.CANCEL:
                return False
            if choice == UnsavedChoice.SAVE:
                target = None
                if tab.document.path is None:
                    chosen = self._dialogs.untitled_save_path(self._name(tab))
                    if not chosen:
                        return False
                    target = Path(chosen)
                self._save(tab, target, overwrite=target is not None)
        self._remove_tab(tab)
        return True

    def close_all(self) -> bool:
        """Close every tab, asking about each unsaved one; False (and the rest stay open) on cancel."""
        while self._tabs_widget.count():
            if not self.close_tab(self._tabs_widget.count() - 1):
                return False
        return True

    def shutdown(self) -> None:
        """Stop suggestions, write what is still unsaved to the recovery folder, wait for the recovery writer and
        release the recovery session (call on a clean exit)."""
        for timer in (self._debounce_timer, self._deadline_timer, self._retry_timer):
            timer.stop()
        for tab in self._tabs:
            tab.editor.shutdown()
        self.autosave_now()
        if not self._writer.close(WRITER_CLOSE_TIMEOUT_S):
            log.warning("recovery writer did not finish within %s s", WRITER_CLOSE_TIMEOUT_S)
        try:
            self._recovery.end_session()
        except OSError as exc:
            log.warning("could not release the recovery session: %s", exc)

    # -- suggestions -----------------------------------------------------------------------------------------

    def set_continuation_provider(self, provider: ContinuationProvider | None) -> None:
        """Use ``provider`` for ghost-text suggestions in every editor, present and future."""
        self._provider = provider
        for editor in self.editors():
            editor.set_continuation_provider(provider)

    def set_rewrite_provider(self, provider: RewriteProvider | None) -> None:
        """Use ``provider`` for selection rewrites in every editor, present and future."""
        self._rewrite_provider = provider
        for editor in self.editors():
            editor.set_rewrite_provider(provider)

    def set_token_choices_provider(self, provider: TokenChoicesProvider | None) -> None:
        """Use ``provider`` for token choices (Alt+Down on AI-written words) in every editor, present and future."""
        self._token_choices_provider = provider
        for editor in self.editors():
            editor.set_token_choices_provider(provider)

    def set_suggestion_delay(self, milliseconds: int) -> None:
        """The typing pause before a suggestion is requested, for every editor."""
        self._suggestion_delay = milliseconds
        for editor in self.editors():
            editor.set_suggestion_delay(milliseconds)

    def set_suggestions_enabled(self, enabled: bool) -> None:
        """Turn ghost-text suggestions on or off in every editor."""
        self._suggestions_enabled = enabled
        for editor in self.editors():
            editor.set_suggestions_enabled(enabled)

    def suggestion_state(self) -> str:
        """The current editor's suggestion state (``idle`` when no document is open)."""
        editor = self.current_editor()
        return editor.suggestion_state() if editor else "idle"

    # -- recovery --------------------------------------------------------------------------------------------

    def autosave_now(self) -> None:
        """Snapshot every document with unsaved changes now, on this thread, and drop snapshots of documents that
        are clean again (typing does this by itself in the background; call this before a planned exit)."""
        self._debounce_timer.stop()
        self._deadline_timer.stop()
        for tab in self._tabs:
            try:
                if self._is_dirty(tab):
                    if tab.snapshot_revision != tab.editor.document().revision():
                        self._snapshot(tab)
                        self._write_succeeded()
                else:
                    self._drop_snapshot(tab)
            except OSError as exc:
                tab.snapshot_revision = _RETRY
                self._write_failed(tab, str(exc))

    def recoverable_documents(self) -> list[RecoveryEntry]:
        """Snapshots left behind by a session that ended without saving (a crash), newest first."""
        try:
            return self._recovery.recoverable()
        except OSError as exc:
            log.warning("cannot list recovery snapshots: %s", exc)
            return []

    def restore_recovered(self, entry: RecoveryEntry) -> MarkdownEditor:
        """Open ``entry``'s text as an unsaved edit of its original file (or as a new untitled document when
        that file cannot be opened any more).

        The original file's text is the undo baseline, so one undo shows what is on disk. The snapshot becomes
        this session's and is deleted once the document is saved or closed.
        """
        text = entry.read_text()
        editor: MarkdownEditor | None = None
        keep_path = False
        if entry.original_path:
            try:
                editor = self.open_path(entry.original_path)
            except UnreadableDocumentError:
                keep_path = not Path(entry.original_path).exists()  # gone: saving recreates it
            except DocumentError:
                keep_path = False  # now binary or huge: never save over it by accident
        if editor is None:
            document = TextDocument.new(_format_of(entry))
            if entry.original_path and keep_path:
                document.path = Path(entry.original_path)
            placeholder = self._pristine_placeholder()
            editor = self._add_tab(document, recovery_id=entry.doc_id, untitled_name=entry.title)
            if placeholder is not None:
                self._remove_tab(placeholder)
        tab = self._tab_of(editor)
        if editor.document_text() != text:
            cursor = QTextCursor(editor.document())
            cursor.beginEditBlock()
            cursor.select(QTextCursor.SelectionType.Document)
            cursor.insertText(text)
            cursor.endEditBlock()
        self._snapshot(tab)
        if entry.doc_id != tab.recovery_id:
            self._writer.discard(entry.doc_id)
        self._update_title(tab)
        return editor

    def discard_recovered(self, entry: RecoveryEntry) -> None:
        """Delete a snapshot the user chose not to restore."""
        self._writer.discard(entry.doc_id)

    # -- internals -------------------------------------------------------------------------------------------

    def _on_contents_changed(self) -> None:
        self._debounce_timer.start()
        if not self._deadline_timer.isActive():
            self._deadline_timer.start()

    def _journal(self) -> None:
        """Hand the text of every document changed since its last snapshot to the background writer."""
        self._debounce_timer.stop()
        self._deadline_timer.stop()
        for tab in self._tabs:
            revision = tab.editor.document().revision()
            if tab.snapshot_revision == revision:
                continue  # unchanged since its snapshot (revisions only grow, undo included)
            if self._is_dirty(tab):
                fmt = tab.document.format
                self._writer.submit(
                    tab.recovery_id,
                    tab.document.text,
                    token=revision,
                    original_path=tab.document.path,
                    title=self._name(tab),
                    encoding=fmt.encoding,
                    newline=fmt.newline.name,
                )
                tab.snapshot_revision = revision
            else:
                try:
                    self._drop_snapshot(tab)
                except OSError as exc:
                    log.warning("could not delete recovery copy: %s", exc)

    def _drop_snapshot(self, tab: _Tab) -> None:
        if tab.snapshot_revision is not None:
            self._writer.discard(tab.recovery_id)
            tab.snapshot_revision = None

    def _on_written(self, doc_id: str, revision: int, error: str) -> None:
        if not error:
            self._write_succeeded()
            return
        tab = next((tab for tab in self._tabs if tab.recovery_id == doc_id), None)
        if tab is None:
            return  # closed meanwhile: nothing left to protect
        if tab.snapshot_revision == revision:
            tab.snapshot_revision = _RETRY
        self._write_failed(tab, error)

    def _write_succeeded(self) -> None:
        self._autosave_failing = False

    def _write_failed(self, tab: _Tab, error: str) -> None:
        log.warning("recovery write failed: %s", error)
        self._retry_timer.start()
        if not self._autosave_failing:
            self._autosave_failing = True
            self.autosave_failed.emit(
                f"Could not write a recovery copy of {self._name(tab)}: {error}. "
                "Save your work: a crash now could lose it."
            )

    def _add_tab(
        self, document: TextDocument, recovery_id: str | None = None, untitled_name: str | None = None
    ) -> MarkdownEditor:
        editor = MarkdownEditor(self._tabs_widget)
        editor.setPlainText(document.text)
        editor.document().setModified(False)
        editor.set_suggestion_delay(self._suggestion_delay)
        editor.set_suggestions_enabled(self._suggestions_enabled)
        editor.set_continuation_provider(self._provider)
        editor.set_rewrite_provider(self._rewrite_provider)
        editor.set_token_choices_provider(self._token_choices_provider)
        editor.token_choices_failed.connect(
            lambda message: self._forward_rewrite_status(editor, f"Token choices: {message}")
        )
        editor.set_rewrite_menu_filler(self.rewrite_commands.fill_menu)  # the context menu's Rewrite submenu
        editor.rewrite_status.connect(lambda text: self._forward_rewrite_status(editor, text))
        editor.suggestion_empty.connect(
            lambda: self._forward_rewrite_status(
                editor, "The model suggested nothing here (Ctrl+Space or Alt+] tries again)"
            )
        )
        editor.setPlaceholderText(placeholder_text(editor))
        self._apply_font(editor)
        editor.set_ai_marks_visible(self._ai_marks_visible)
        if untitled_name is None and document.path is not None:
            untitled_name = document.name
        if untitled_name is None:
            self._untitled_counter += 1
            untitled_name = f"Untitled {self._untitled_counter}"
        tab = _Tab(editor, document, recovery_id or new_document_id(), untitled_name)
        self._tabs.append(tab)
        editor.document().modificationChanged.connect(lambda _modified: self._update_title(tab))
        editor.document().contentsChanged.connect(self._on_contents_changed)
        editor.suggestion_state_changed.connect(lambda state: self._forward_state(editor, state))
        editor.suggestion_failed.connect(lambda message: self._forward_failure(editor, message))
        index = self._tabs_widget.addTab(editor, self._name(tab))
        self._update_title(tab)
        self._tabs_widget.setCurrentIndex(index)
        editor.setFocus()
        return editor

    def _remove_tab(self, tab: _Tab) -> None:
        tab.editor.shutdown()
        try:
            self._writer.discard(tab.recovery_id)
        except OSError as exc:
            log.warning("could not delete recovery copy: %s", exc)
        self._tabs.remove(tab)
        index = self._tabs_widget.indexOf(tab.editor)
        if index >= 0:
            self._tabs_widget.removeTab(index)
        tab.editor.deleteLater()
        if not self._tabs:
            self.current_document_changed.emit()

    def _save(self, tab: _Tab, target: Path | None, overwrite: bool) -> None:
        self._sync(tab)
        tab.document.save(target, force=overwrite)
        tab.editor.document().setModified(False)
        if tab.document.path is not None and tab.document.stamp is not None:
            self._provenance.save(tab.document.path, tab.document.stamp.sha256, tab.editor.ai_ranges())
        try:
            self._writer.discard(tab.recovery_id)
        except OSError as exc:
            log.warning("could not delete recovery copy: %s", exc)
        tab.snapshot_revision = None
        self._update_title(tab)

    def _snapshot(self, tab: _Tab) -> None:
        fmt = tab.document.format
        self._writer.write(
            tab.recovery_id,
            tab.editor.document_text(),
            original_path=tab.document.path,
            title=self._name(tab),
            encoding=fmt.encoding,
            newline=fmt.newline.name,
        )
        tab.snapshot_revision = tab.editor.document().revision()

    def _sync(self, tab: _Tab) -> None:
        tab.document.set_text(tab.editor.document_text())

    def _is_dirty(self, tab: _Tab) -> bool:
        if not tab.editor.document().isModified():
            return False
        self._sync(tab)
        return tab.document.is_modified

    def _name(self, tab: _Tab) -> str:
        return tab.document.path.name if tab.document.path is not None else tab.untitled_name

    def _update_title(self, tab: _Tab) -> None:
        index = self._tabs_widget.indexOf(tab.editor)
        if index < 0:
            return
        modified = tab.editor.document().isModified()
        self._tabs_widget.setTabText(index, self._name(tab) + (" *" if modified else ""))
        self._tabs_widget.setTabToolTip(
            index, str(tab.document.path) if tab.document.path else self._name(tab)
        )
        if index == self._tabs_widget.currentIndex():
            self.current_document_changed.emit()

    def _on_current_changed(self, _index: int) -> None:
        self.current_document_changed.emit()
        self.suggestion_state_changed.emit(self.suggestion_state())

    def _forward_state(self, editor: MarkdownEditor, state: str) -> None:
        if editor is self.current_editor():
            self.suggestion_state_changed.emit(state)

    def _forward_rewrite_status(self, editor: MarkdownEditor, text: str) -> None:
        if editor is self.current_editor():
            self.rewrite_status.emit(text)

    def _forward_failure(self, editor: MarkdownEditor, message: str) -> None:
        if editor is self.current_editor():
            self.suggestion_failed.emit(message)

    def _tab_at(self, index: int) -> _Tab:
        widget = self._tabs_widget.widget(index)
        return next(tab for tab in self._tabs if tab.editor is widget)

    def _tab_of(self, editor: MarkdownEditor) -> _Tab:
        return next(tab for tab in self._tabs if tab.editor is editor)

    def _current_tab(self) -> _Tab | None:
        index = self._tabs_widget.currentIndex()
        return self._tab_at(index) if index >= 0 else None

    def _ordered_tabs(self) -> list[_Tab]:
        return [self._tab_at(i) for i in range(self._tabs_widget.count())]

    def _tab_for_path(self, path: Path) -> _Tab | None:
        for tab in self._tabs:
            if tab.document.path is not None and _same_file(tab.document.path, path):
                return tab
        return None

    def _pristine_placeholder(self) -> _Tab | None:
        """The lone untouched empty untitled tab, which opening a file replaces."""
        if len(self._tabs) != 1:
            return None
        tab = self._tabs[0]
        pristine = not tab.editor.document().isModified() and not tab.editor.document_text()
        return tab if tab.document.path is None and pristine else None


def placeholder_text(editor: MarkdownEditor) -> str:
    """What an empty document shows: how to start, and the keys of the AI features."""
    suggest = (
        editor.suggest_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText) or "Ctrl+Space"
    )
    return (
        "Start writing…\n\n"
        f"{suggest}  asks the AI to continue your text (it also offers to when you pause)\n"
        "Tab  accepts a suggestion, Esc dismisses it\n"
        "Ctrl+K  rewrites the selected text with an instruction of yours"
    )


def default_editor_font() -> QFont:
    """The editor's font unless the user chose one: the application font at :data:`DEFAULT_FONT_SIZE`."""
    font = QFont()
    font.setPointSizeF(max(font.pointSizeF(), float(DEFAULT_FONT_SIZE)))
    return font


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _format_of(entry: RecoveryEntry) -> TextFormat:
    newline = Newline[entry.newline] if entry.newline and entry.newline in Newline.__members__ else Newline.LF
    encoding = entry.encoding or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    return TextFormat(encoding=encoding, newline=newline)
