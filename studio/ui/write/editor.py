"""The Markdown editor: plain-text editing, Markdown highlighting and Copilot-like ghost-text suggestions."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QFocusEvent,
    QHideEvent,
    QInputMethodEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from studio.ui.actions import make_action
from studio.ui.write.ghost_text import (
    ContinuationHandle,
    ContinuationProvider,
    ProvenanceRanges,
    SuggestionState,
    next_word,
    normalize_tokens,
    py_to_qt_index,
    qt_to_py_index,
    utf16_len,
)
from studio.ui.write.markdown_highlighter import MarkdownHighlighter, mix

log = logging.getLogger(__name__)

DEFAULT_SUGGESTION_DELAY_MS = 600


@dataclass(eq=False)
class _Request:
    """One continuation request; callbacks of a request that is no longer current are ignored."""

    handle: ContinuationHandle | None = None
    done: bool = False
    after_cr: bool = False


class MarkdownEditor(QPlainTextEdit):
    """A Markdown editor with inline ghost-text continuation.

    The suggestion is painted over the viewport and is never part of the document. Keys while one is shown:
    Tab accepts it all, Ctrl+Right (the platform's next-word key) accepts the next word, Esc dismisses, and
    typing the characters it starts with consumes them. Any other edit, cursor move or click dismisses it.
    Text accepted from suggestions is tracked as AI provenance (:meth:`ai_ranges`) and tinted faintly.
    """

    suggestion_state_changed = Signal(str)
    """The :class:`SuggestionState` value: ``idle``, ``waiting`` or ``streaming``."""
    suggestion_failed = Signal(str)
    """A continuation request failed; the message is fit for the status bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Markdown editor")
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        font = self.font()
        font.setPointSizeF(max(font.pointSizeF(), 11.0))
        self.setFont(font)
        self.setTabStopDistance(4 * self.fontMetrics().horizontalAdvance(" "))
        self.document().setDocumentMargin(12)
        self._highlighter = MarkdownHighlighter(self.document(), self.palette())

        self._provider: ContinuationProvider | None = None
        self._suggestions_enabled = True
        self._request: _Request | None = None
        self._ghost = ""
        self._ghost_position = -1
        self._state = SuggestionState.IDLE
        self._internal_edit = 0
        self._provenance = ProvenanceRanges()

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEFAULT_SUGGESTION_DELAY_MS)
        self._timer.timeout.connect(self._on_pause)

        self.suggest_action = make_action(
            self,
            "Suggest Continuation",
            self.request_suggestion,
            shortcut=_suggest_shortcut(),
            description="Ask the AI to continue the text at the cursor (ghost text; Tab accepts)",
            context=Qt.ShortcutContext.WidgetShortcut,
        )
        self.suggest_action.setWhatsThis(self.suggest_action.statusTip())

        self.document().contentsChange.connect(self._on_contents_change)
        self.cursorPositionChanged.connect(self._on_cursor_moved)

    # -- public API ------------------------------------------------------------------------------------------

    def document_text(self) -> str:
        """The exact text with ``\\n`` line endings (unlike ``toPlainText`` it keeps no-break spaces)."""
        return self.document().toRawText().replace("\u2029", "\n")

    def set_continuation_provider(self, provider: ContinuationProvider | None) -> None:
        """Use ``provider`` for suggestions (None turns them off until a provider is set)."""
        if provider is not self._provider:
            self.dismiss_suggestion()
            self._provider = provider
        self._update_action()

    def set_suggestion_delay(self, milliseconds: int) -> None:
        """How long typing must pause before a suggestion is requested (default 600 ms)."""
        self._timer.setInterval(max(0, int(milliseconds)))

    def suggestion_delay(self) -> int:
        """The typing pause, in milliseconds, before a suggestion is requested."""
        return self._timer.interval()

    def set_suggestions_enabled(self, enabled: bool) -> None:
        """Turn suggestions on or off; turning them off dismisses any shown or running one."""
        self._suggestions_enabled = bool(enabled)
        if not enabled:
            self._timer.stop()
            self.dismiss_suggestion()
        self._update_action()

    def suggestions_enabled(self) -> bool:
        """Whether suggestions are turned on."""
        return self._suggestions_enabled

    def suggestion_state(self) -> str:
        """``idle``, ``waiting`` or ``streaming``."""
        return self._state.value

    def ghost_text(self) -> str:
        """The suggestion shown at the cursor right now ("" when none)."""
        return self._ghost

    def has_suggestion(self) -> bool:
        """True while suggestion text is shown."""
        return bool(self._ghost)

    def request_suggestion(self) -> bool:
        """Ask for a suggestion at the cursor now (the on-demand shortcut); False when it cannot start."""
        return self._start_request(explicit=True)

    def accept_suggestion(self) -> bool:
        """Insert the whole suggestion as one undo step; False when none is shown."""
        if not self._ghost:
            return False
        self._insert_accepted(self._ghost)
        self.dismiss_suggestion()
        self._restart_timer()
        return True

    def accept_suggestion_word(self) -> bool:
        """Insert the suggestion's next word (with its leading whitespace) as one undo step."""
        if not self._ghost:
            return False
        word = next_word(self._ghost)
        self._insert_accepted(word)
        self._ghost = self._ghost[len(word) :]
        self._ghost_position = self.textCursor().position()
        if not self._ghost and (self._request is None or self._request.done):
            self.dismiss_suggestion()
        self.viewport().update()
        return True

    def dismiss_suggestion(self) -> None:
        """Hide the suggestion and cancel its generation if it is still running."""
        request, self._request = self._request, None
        if request is not None and not request.done:
            request.done = True
            if request.handle is not None:
                _cancel(request.handle)
        had_ghost = bool(self._ghost)
        self._ghost = ""
        self._ghost_position = -1
        self._set_state(SuggestionState.IDLE)
        if had_ghost:
            self.viewport().update()

    def ai_ranges(self) -> list[tuple[int, int]]:
        """Half-open ``(start, end)`` ranges of :meth:`document_text` that came from accepted suggestions."""
        ranges = self._provenance.ranges()
        if not ranges:
            return []
        text = self.document_text()
        if text.isascii():
            return ranges
        return [(qt_to_py_index(text, start), qt_to_py_index(text, end)) for start, end in ranges]

    def set_ai_ranges(self, ranges: list[tuple[int, int]]) -> None:
        """Mark ``ranges`` (of :meth:`document_text`, as :meth:`ai_ranges` returns them) as AI text."""
        text = self.document_text()
        self._provenance.clear()
        for start, end in ranges:
            start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
            if not text.isascii():
                start, end = py_to_qt_index(text, start), py_to_qt_index(text, end)
            self._provenance.add(start, end)
        self._refresh_provenance()

    def shutdown(self) -> None:
        """Stop timers and cancel any running generation (call before the editor goes away)."""
        self._timer.stop()
        self.dismiss_suggestion()

    # -- requests --------------------------------------------------------------------------------------------

    def _update_action(self) -> None:
        self.suggest_action.setEnabled(self._suggestions_enabled and self._provider is not None)

    def _restart_timer(self) -> None:
        if self._suggestions_enabled and self._provider is not None and not self.isReadOnly():
            self._timer.start()

    def _on_pause(self) -> None:
        if self.isVisible() and self._request is None and not self._ghost:
            self._start_request(explicit=False)

    def _start_request(self, explicit: bool) -> bool:
        provider = self._provider
        if provider is None or not self._suggestions_enabled or self.isReadOnly():
            return False
        cursor = self.textCursor()
        if cursor.hasSelection():
            return False
        text = self.document_text()
        split = qt_to_py_index(text, cursor.position())
        prefix, suffix = text[:split], text[split:]
        # Typing pauses inside a word or in an empty document are not worth a request; the shortcut is.
        if not explicit and (not prefix.strip() or suffix[:1].isalnum() or suffix[:1] == "_"):
            return False
        self._timer.stop()
        self.dismiss_suggestion()
        request = _Request()
        self._request = request
        self._ghost_position = cursor.position()
        self._set_state(SuggestionState.WAITING)
        try:
            handle = provider.start_continuation(
                prefix,
                suffix,
                lambda text: self._on_tokens(request, text),
                lambda: self._on_finished(request),
                lambda message: self._on_failed(request, message),
            )
        except Exception as exc:  # a broken provider must never break typing
            log.exception("start_continuation failed")
            self._on_failed(request, str(exc) or type(exc).__name__)
            return False
        request.handle = handle
        if self._request is not request and not request.done:
            _cancel(handle)
        return True

    def _on_tokens(self, request: _Request, text: str) -> None:
        if request is not self._request or request.done:
            return
        text, request.after_cr = normalize_tokens(text, request.after_cr)
        if not text:
            return
        cursor = self.textCursor()
        if cursor.hasSelection() or cursor.position() != self._ghost_position:
            self.dismiss_suggestion()  # the cursor moved on: this suggestion is for a place we left
            return
        self._ghost += text
        self._set_state(SuggestionState.STREAMING)
        self.viewport().update()

    def _on_finished(self, request: _Request) -> None:
        if request is not self._request or request.done:
            return
        request.done = True
        if not self._ghost:
            self.dismiss_suggestion()
        else:
            self._set_state(SuggestionState.IDLE)

    def _on_failed(self, request: _Request, message: str) -> None:
        if request is not self._request or request.done:
            return
        request.done = True
        self.dismiss_suggestion()
        self.suggestion_failed.emit(message)

    def _set_state(self, state: SuggestionState) -> None:
        if state is not self._state:
            self._state = state
            self.suggestion_state_changed.emit(state.value)

    # -- edits -----------------------------------------------------------------------------------------------

    def _insert_accepted(self, text: str) -> None:
        cursor = self.textCursor()
        start = cursor.position()
        self._internal_edit += 1
        try:
            cursor.beginEditBlock()
            cursor.insertText(text)
            cursor.endEditBlock()
            self.setTextCursor(cursor)
        finally:
            self._internal_edit -= 1
        self._provenance.add(start, start + utf16_len(text))
        self._refresh_provenance()
        self.ensureCursorVisible()

    def _on_contents_change(self, position: int, removed: int, added: int) -> None:
        if self._provenance.apply_change(position, removed, added):
            self._refresh_provenance()
        if not self._internal_edit and (self._request is not None or self._ghost):
            self.dismiss_suggestion()

    def _on_cursor_moved(self) -> None:
        if self._internal_edit:
            return
        self._timer.stop()
        if self._request is None and not self._ghost:
            return
        cursor = self.textCursor()
        if cursor.hasSelection() or cursor.position() != self._ghost_position:
            self.dismiss_suggestion()

    def _refresh_provenance(self) -> None:
        tint = mix(
            self.palette().color(QPalette.ColorRole.Base),
            self.palette().color(QPalette.ColorRole.Highlight),
            0.12,
        )
        fmt = QTextCharFormat()
        fmt.setBackground(tint)
        fmt.setProperty(QTextFormat.Property.UserProperty, "ai")
        selections = []
        for start, end in self._provenance.ranges():
            selection = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor  # type: ignore[misc]
            selection.format = fmt  # type: ignore[misc]
            selections.append(selection)
        self.setExtraSelections(selections)

    # -- events ----------------------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        """Claim the suggest shortcut, and Tab, Esc and accept-word while a suggestion shows, before window
        shortcuts see them (a window action on the same keys would otherwise make the shortcut ambiguous)."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and (
                self._is_suggest_shortcut(event)
                or (self._ghost and self._is_suggestion_key(event))
                or (self._request is not None and event.key() == Qt.Key.Key_Escape)
            )
        ):
            event.accept()
            return True
        return super().event(event)

    def _is_suggest_shortcut(self, event: QKeyEvent) -> bool:
        shortcut = self.suggest_action.shortcut()
        pressed = QKeySequence(event.keyCombination())
        return not shortcut.isEmpty() and shortcut.matches(pressed) == QKeySequence.SequenceMatch.ExactMatch

    def _is_suggestion_key(self, event: QKeyEvent) -> bool:
        plain = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == Qt.KeyboardModifier.NoModifier
        return (
            (event.key() == Qt.Key.Key_Tab and plain)
            or (event.key() == Qt.Key.Key_Escape and plain)
            or event.matches(QKeySequence.StandardKey.MoveToNextWord)
        )

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        """Handle the suggestion keys, then edit as usual (restarting the pause timer after typing)."""
        key = event.key()
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = modifiers == Qt.KeyboardModifier.NoModifier
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and modifiers & Qt.KeyboardModifier.ShiftModifier:
            # Shift+Enter would insert U+2028, which is not a line break in a plain-text file.
            event = QKeyEvent(event.type(), key, modifiers & ~Qt.KeyboardModifier.ShiftModifier, "\r")
            plain = event.modifiers() == Qt.KeyboardModifier.NoModifier
        if self._ghost:
            if key == Qt.Key.Key_Tab and plain:
                self.accept_suggestion()
                return
            if event.matches(QKeySequence.StandardKey.MoveToNextWord):
                self.accept_suggestion_word()
                return
            if self._consume_typed(event):
                return
        if key == Qt.Key.Key_Escape and plain and (self._ghost or self._request is not None):
            self.dismiss_suggestion()
            return
        if self._is_suggest_shortcut(event):
            # event() claims the shortcut so it lands here whatever other actions share the keys.
            if self.suggest_action.isEnabled():
                self.suggest_action.trigger()
            return
        revision = self.document().revision()
        super().keyPressEvent(event)
        if self.document().revision() != revision:
            self._restart_timer()

    def _consume_typed(self, event: QKeyEvent) -> bool:
        """Typing the suggestion's next characters keeps the rest of it; True when the key was handled."""
        text = "\n" if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) else event.text()
        blocked = (
            Qt.KeyboardModifier.ControlModifier
            | Qt.KeyboardModifier.AltModifier
            | Qt.KeyboardModifier.MetaModifier
        )
        if not text or event.modifiers() & blocked or not (text.isprintable() or text == "\n"):
            return False
        if not self._ghost.startswith(text):
            return False
        expected = self._ghost_position + utf16_len(text)
        self._internal_edit += 1
        try:
            super().keyPressEvent(event)
        finally:
            self._internal_edit -= 1
        cursor = self.textCursor()
        if cursor.hasSelection() or cursor.position() != expected:
            self.dismiss_suggestion()
            return True
        self._ghost = self._ghost[len(text) :]
        self._ghost_position = cursor.position()
        if not self._ghost and (self._request is None or self._request.done):
            self.dismiss_suggestion()
            self._restart_timer()
        self.viewport().update()
        return True

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:  # noqa: N802 (Qt override)
        """Composed input (IME) counts as typing."""
        revision = self.document().revision()
        super().inputMethodEvent(event)
        if self.document().revision() != revision:
            self._restart_timer()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        """A click dismisses the suggestion, even one that leaves the cursor where it was."""
        self.dismiss_suggestion()
        super().mousePressEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt override)
        """A hidden editor (another tab) asks for nothing and shows nothing."""
        self._timer.stop()
        self.dismiss_suggestion()
        super().hideEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 (Qt override)
        """Stop a pending pause timer when focus leaves (a shown suggestion stays)."""
        self._timer.stop()
        super().focusOutEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        """Re-derive highlight colours when the palette changes (light/dark switch)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._highlighter.set_palette(self.palette())
            if self._provenance:
                self._refresh_provenance()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        """Keep a readable column: at most about 90 characters wide, centred in wide windows."""
        column = 90 * self.fontMetrics().horizontalAdvance("n") + 2 * 12
        side = max(0, (self.width() - 2 * self.frameWidth() - column) // 2)
        self.setViewportMargins(side, 0, side, 0)
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        """Paint the document, then the ghost text over it."""
        super().paintEvent(event)
        if self._ghost and self._ghost_position == self.textCursor().position():
            painter = QPainter(self.viewport())
            try:
                self._paint_ghost(painter)
            finally:
                painter.end()

    def _paint_ghost(self, painter: QPainter) -> None:
        """Lay the suggestion out from the cursor, followed by the rest of the paragraph, wrapping like the
        document does; the rows it covers are painted over opaquely so nothing shows through."""
        cursor = self.textCursor()
        block = cursor.block()
        block_layout = block.layout()
        if block_layout is None or block_layout.lineCount() == 0:
            return
        caret = self.cursorRect(cursor)
        first_line = block_layout.lineAt(0)
        block_rect = self.blockBoundingGeometry(block).translated(self.contentOffset())
        left = block_rect.left() + block_layout.position().x() + first_line.x()
        width = max(1.0, first_line.width())
        block_text = block.text()
        rest = block_text[qt_to_py_index(block_text, cursor.position() - block.position()) :]
        composed = (self._ghost + rest).replace("\n", "\u2028")

        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text_color = palette.color(QPalette.ColorRole.Text)
        ghost_format = QTextCharFormat()
        ghost_format.setForeground(mix(text_color, base, 0.55))
        rest_format = QTextCharFormat()
        rest_format.setForeground(text_color)
        ghost_range = QTextLayout.FormatRange()
        ghost_range.start, ghost_range.length = 0, utf16_len(self._ghost)
        ghost_range.format = ghost_format
        rest_range = QTextLayout.FormatRange()
        rest_range.start, rest_range.length = ghost_range.length, utf16_len(rest)
        rest_range.format = rest_format

        layout = QTextLayout(composed, self.font(), self.viewport())
        option = QTextOption(self.document().defaultTextOption())
        option.setWrapMode(self.wordWrapMode())
        option.setTabStopDistance(self.tabStopDistance())
        layout.setTextOption(option)
        # Keep the highlighting of the text that moves behind the suggestion.
        in_block = cursor.position() - block.position()
        shift = ghost_range.length - in_block
        moved = []
        for highlight in block_layout.formats():
            start = max(highlight.start, in_block)
            end = highlight.start + highlight.length
            if end > start:
                shifted = QTextLayout.FormatRange()
                shifted.start, shifted.length, shifted.format = start + shift, end - start, highlight.format
                moved.append(shifted)
        layout.setFormats([ghost_range, rest_range, *moved])
        indent = caret.left() - left
        layout.beginLayout()
        y = 0.0
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            x = indent if line.lineNumber() == 0 else 0.0
            line.setLineWidth(max(1.0, width - x))
            line.setPosition(QPointF(x, y))
            y += line.height()
        layout.endLayout()

        top = float(caret.top())
        right = float(self.viewport().width())
        first_height = layout.lineAt(0).height() if layout.lineCount() else float(caret.height())
        painter.fillRect(QRectF(caret.left(), top, right - caret.left(), first_height), base)
        covered_bottom = max(top + y, block_rect.bottom())
        if covered_bottom > top + first_height:
            painter.fillRect(QRectF(0, top + first_height, right, covered_bottom - top - first_height), base)
        layout.draw(painter, QPointF(left, top))
        if self.hasFocus():
            painter.fillRect(QRect(caret.left(), caret.top(), self.cursorWidth(), caret.height()), text_color)


def _suggest_shortcut() -> QKeySequence:
    # On macOS "Ctrl" means Command and Cmd+Space is Spotlight; Meta is the physical Control key there.
    if sys.platform == "darwin":
        return QKeySequence(Qt.Modifier.META | Qt.Key.Key_Space)
    return QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Space)


def _cancel(handle: ContinuationHandle) -> None:
    try:
        handle.cancel()
    except Exception:  # cancelling must never break editing
        log.exception("cancelling a continuation failed")
