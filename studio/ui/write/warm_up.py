"""Warming the engine's cache for the document being written, so its first suggestion comes fast.

A freshly opened long document costs seconds for its first suggestion: the engine evaluates the whole prompt
cold. :class:`CacheWarmer` asks the continuation provider to evaluate that prompt in the background when a
document becomes current, when the cursor jumps far, or when the story notes change. Any real suggestion
cancels the warm-up (what it evaluated so far stays cached), so a warm-up never delays one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from studio.ui.write.continuation import EngineContinuationProvider
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.ghost_text import qt_to_py_index

FAR_JUMP_CHARS = 1500
"""A cursor move longer than this (in characters) from the last warmed place warms the cache again."""
WARM_DELAY_MS = 250
"""Warm-ups start this long after what asked for them, so a burst of moves or tab switches makes one."""


class CacheWarmer(QObject):
    """Keeps the engine's cache warm for the current editor (``current_editor()``), through ``provider``.

    Call :meth:`document_changed` when the current document changes (connect the workspace's
    ``current_document_changed``) and :meth:`schedule` when anything else changes the prompt (the notes).
    ``enabled()`` says whether warming is wanted at all (suggestions on and a model loaded).
    """

    def __init__(
        self,
        provider: EngineContinuationProvider,
        current_editor: Callable[[], MarkdownEditor | None],
        enabled: Callable[[], bool] = lambda: True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._provider = provider
        self._current_editor = current_editor
        self._enabled = enabled
        self._editor: MarkdownEditor | None = None
        self._warmed_at: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(WARM_DELAY_MS)
        self._timer.timeout.connect(self.warm_now)

    def document_changed(self) -> None:
        """The current document changed: follow its cursor and warm its prompt soon."""
        editor = self._current_editor()
        if editor is self._editor:
            return
        if self._editor is not None:
            with contextlib.suppress(RuntimeError, TypeError):  # the editor is gone already
                self._editor.cursorPositionChanged.disconnect(self._cursor_moved)
        self._editor = editor
        self._warmed_at = None
        if editor is not None:
            editor.cursorPositionChanged.connect(self._cursor_moved)
            editor.destroyed.connect(lambda _obj=None, gone=editor: self._editor_destroyed(gone))
            self.schedule()

    def _editor_destroyed(self, editor: MarkdownEditor) -> None:
        if editor is self._editor:
            self._editor = None
            self._timer.stop()

    def schedule(self) -> None:
        """Warm the current editor's prompt shortly."""
        self._timer.start()

    def _cursor_moved(self) -> None:
        editor = self._editor
        if editor is None or self._warmed_at is None:
            return
        if abs(editor.textCursor().position() - self._warmed_at) > FAR_JUMP_CHARS:
            self.schedule()

    def warm_now(self) -> bool:
        """Start warming the current editor's prompt; False when there is nothing to do."""
        self._timer.stop()
        editor = self._editor if self._editor is not None else self._current_editor()
        if editor is None or not self._enabled() or not editor.suggestions_enabled() or editor.isReadOnly():
            return False
        text = editor.document_text()
        position = editor.textCursor().position()
        # a document just opened has its cursor at the start: warm its end, the place writing goes on, which
        # also covers every earlier cursor whose prompt fits (their prompts are prefixes of it)
        split = qt_to_py_index(text, position) if position > 0 else len(text)
        self._warmed_at = position if position > 0 else editor.document().characterCount() - 1
        return self._provider.warm(text[:split], text[split:]) is not None
