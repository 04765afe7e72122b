"""The Markdown editor: plain-text editing, Markdown highlighting and Copilot-like ghost-text suggestions."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QContextMenuEvent,
    QFocusEvent,
    QHideEvent,
    QInputMethodEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPalette,
    QResizeEvent,
    QTextBlock,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QMenu, QPlainTextEdit, QTextEdit, QWidget

from studio.ui.actions import REDO_SHORTCUTS, make_action, matches_shortcut
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
from studio.ui.write.markdown_highlighter import MarkdownHighlighter, ai_tint, mix
from studio.ui.write.rewrite import InlinePrompt, RewriteProvider, RewriteSession, RewriteState
from studio.ui.write.token_choices import TokenChoicesMenu, TokenChoicesProvider, ai_word_span
from studio.writing.actions import WritingAction

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
    suggestion_empty = Signal()
    """A continuation came back empty or whitespace only (nothing was shown)."""
    rewrite_status = Signal(str)
    """A status-bar line about the selection action shown as a diff ("" when it ends)."""
    rewrite_active_changed = Signal(bool)
    """A rewrite diff started (True) or ended (False)."""
    rewrite_accepted = Signal(str)
    """A rewrite was accepted; the text that replaced the selection."""
    token_choices_shown = Signal(object)
    """The token-choices popup (a :class:`TokenChoicesMenu`) is about to open."""
    token_choices_failed = Signal(str)
    """Token choices could not be listed; the message is fit for the status bar."""

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
        self._ai_marks_visible = True
        self._marks_by_step: dict[int, tuple[int, list[tuple[int, int]]]] = {}
        self._preedit_block: QTextBlock | None = None
        self._alternatives: list[str] = []
        self._alternative_index = -1
        self._alternative_prefix_position = -1
        self._rewrite_provider: RewriteProvider | None = None
        self._rewrite: RewriteSession | None = None
        self._rewrite_overlay: list[QTextEdit.ExtraSelection] = []
        self._provenance_selections: list[QTextEdit.ExtraSelection] = []
        self._rewrite_menu_filler: Callable[[QMenu], object] | None = None
        self._prompt: InlinePrompt | None = None
        self._prompt_submit: Callable[[str], object] | None = None
        self._prompt_save: Callable[[str], object] | None = None
        self._token_choices_provider: TokenChoicesProvider | None = None
        self._token_choices_handle: ContinuationHandle | None = None

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

        self.instruction_action = make_action(
            self,
            "Edit Selection with Instruction…",
            self._ask_instruction,
            shortcut=QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_K),
            description="Tell the AI what to do with the selected text (shown as a diff; Tab accepts)",
            context=Qt.ShortcutContext.WidgetShortcut,
        )
        # the editor redoes on all of Redo's keys itself (the platform's own alone would miss one of them)
        self.redo_action = make_action(
            self, "&Redo", self.redo, shortcut=REDO_SHORTCUTS, context=Qt.ShortcutContext.WidgetShortcut
        )
        self.document().contentsChange.connect(self._on_contents_change)
        self.document().contentsChanged.connect(self._on_contents_changed)
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
        self._show_ghost()
        return True

    def dismiss_suggestion(self) -> None:
        """Hide the suggestion and cancel its generation if it is still running."""
        request, self._request = self._request, None
        if request is not None and not request.done:
            request.done = True
            if request.handle is not None:
                _cancel(request.handle)
        self._ghost = ""
        self._ghost_position = -1
        self._alternatives = []
        self._alternative_index = -1
        self._clear_preedit()
        self._set_state(SuggestionState.IDLE)

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
        self._marks_by_step.clear()
        self._remember_marks()

    def set_ai_marks_visible(self, visible: bool) -> None:
        """Show or hide the tint on AI-written text (View ▸ Show AI Marks); the provenance is kept either way."""
        self._ai_marks_visible = bool(visible)
        self._refresh_provenance()

    def ai_marks_visible(self) -> bool:
        """Whether AI-written text is tinted."""
        return self._ai_marks_visible

    def shutdown(self) -> None:
        """Stop timers and cancel any running generation (call before the editor goes away)."""
        self._timer.stop()
        self.dismiss_suggestion()
        self.reject_rewrite()
        self._cancel_token_choices()

    # -- continuation alternatives ---------------------------------------------------------------------------

    def suggestion_alternatives(self) -> list[str]:
        """The continuations generated at this cursor position so far (the shown one is at
        :meth:`suggestion_alternative_index`)."""
        return list(self._alternatives)

    def suggestion_alternative_index(self) -> int:
        return self._alternative_index

    def next_suggestion(self) -> bool:
        """Show the next continuation alternative; past the last one, generate a new one (another seed)."""
        if self._request is not None and not self._request.done:
            return False
        position = self.textCursor().position()
        if self._alternatives and self._alternative_prefix_position == position:
            if self._alternative_index + 1 < len(self._alternatives):
                self._alternative_index += 1
                self._ghost = self._alternatives[self._alternative_index]
                self._ghost_position = position
                self._show_ghost()
                return True
            return self._start_request(explicit=True, seed=len(self._alternatives) + 1)
        return self._start_request(explicit=True, seed=1)

    def previous_suggestion(self) -> bool:
        """Show the previous continuation alternative; False at the first."""
        position = self.textCursor().position()
        if self._alternative_prefix_position != position or not self._alternatives:
            return False
        if self._request is not None and not self._request.done:
            # a new alternative is on its way: drop it and go back to the one shown before it
            request, self._request = self._request, None
            request.done = True
            if request.handle is not None:
                _cancel(request.handle)
        elif self._alternative_index <= 0:
            return False
        else:
            self._alternative_index -= 1
        self._ghost = self._alternatives[self._alternative_index]
        self._ghost_position = position
        self._set_state(SuggestionState.IDLE)
        self._show_ghost()
        return True

    def _keep_alternative(self) -> None:
        if self._alternative_prefix_position != self._ghost_position:
            self._alternatives, self._alternative_index = [], -1
            self._alternative_prefix_position = self._ghost_position
        self._alternatives.append(self._ghost)
        self._alternative_index = len(self._alternatives) - 1

    # -- token choices ---------------------------------------------------------------------------------------

    def set_token_choices_provider(self, provider: TokenChoicesProvider | None) -> None:
        """Use ``provider`` for "Other words here…" on AI-written words (None turns it off)."""
        self._cancel_token_choices()
        self._token_choices_provider = provider

    def token_choices_span(self, position: int | None = None) -> tuple[int, int] | None:
        """The ``(start, end)`` of :meth:`document_text` that a token choice at ``position`` (a document
        position; default the cursor) would replace, or None when no AI-written word is there."""
        text = self.document_text()
        qt_position = self.textCursor().position() if position is None else position
        return ai_word_span(text, self.ai_ranges(), qt_to_py_index(text, qt_position))

    def show_token_choices(self, position: int | None = None) -> bool:
        """Ask for the model's other likely words at the AI-written word at ``position`` (default the cursor)
        and pop them up there (Alt+Down); False when there is no such word or no provider."""
        provider = self._token_choices_provider
        span = self.token_choices_span(position)
        if provider is None or span is None or self.isReadOnly():
            return False
        self.dismiss_suggestion()
        self.reject_rewrite()
        self._cancel_token_choices()
        text = self.document_text()
        start, end = span
        revision = self.document().revision()

        def show(choices: Sequence[tuple[str, float]]) -> None:
            self._token_choices_handle = None
            if self.document().revision() != revision or not self.isVisible():
                return  # the text changed meanwhile: these choices are for text that is gone
            menu = TokenChoicesMenu(choices, self)
            menu.chosen.connect(lambda token: self.apply_token_choice(start, end, token))
            self.token_choices_shown.emit(menu)
            cursor = QTextCursor(self.document())
            cursor.setPosition(py_to_qt_index(text, start))
            rect = self.cursorRect(cursor)
            menu.popup(self.viewport().mapToGlobal(rect.bottomLeft()))
            menu.aboutToHide.connect(menu.deleteLater)

        def failed(message: str) -> None:
            self._token_choices_handle = None
            self.token_choices_failed.emit(message)

        try:
            self._token_choices_handle = provider.start_token_choices(text[:start], text[end:], show, failed)
        except Exception as exc:  # a broken provider must never break editing
            log.exception("start_token_choices failed")
            failed(str(exc) or type(exc).__name__)
            return False
        return True

    def apply_token_choice(self, start: int, end: int, token: str) -> bool:
        """Replace ``[start, end)`` of :meth:`document_text` with ``token`` as one undo step marked as AI
        text, then stream a new continuation from there as ghost text (Tab accepts)."""
        text = self.document_text()
        if not token or not 0 <= start <= end <= len(text) or self.isReadOnly():
            return False
        self.dismiss_suggestion()
        self._replace_as_ai(py_to_qt_index(text, start), py_to_qt_index(text, end), token)
        self._start_request(explicit=True)
        return True

    def _cancel_token_choices(self) -> None:
        handle, self._token_choices_handle = self._token_choices_handle, None
        if handle is not None:
            _cancel(handle)

    # -- selection actions shown as a diff -------------------------------------------------------------------

    def set_rewrite_provider(self, provider: RewriteProvider | None) -> None:
        """Use ``provider`` for selection actions (None turns them off)."""
        if provider is not self._rewrite_provider:
            self.reject_rewrite()
            self._rewrite_provider = provider
        self.instruction_action.setEnabled(provider is not None)

    def set_rewrite_menu_filler(self, filler: Callable[[QMenu], object] | None) -> None:
        """``filler(menu)`` adds the Rewrite actions to the context menu's Rewrite submenu."""
        self._rewrite_menu_filler = filler

    def rewrite_session(self) -> RewriteSession | None:
        """The selection action shown as a diff right now, if any."""
        return self._rewrite

    def start_rewrite(self, action: WritingAction, seed: int | None = None) -> bool:
        """Run ``action`` on the selection and show the result as a diff; False without selection or
        provider. The document does not change until :meth:`accept_rewrite`."""
        provider = self._rewrite_provider
        cursor = self.textCursor()
        if provider is None or self.isReadOnly() or not cursor.hasSelection():
            if provider is not None and not cursor.hasSelection():
                self.rewrite_status.emit("Select the text to rewrite first")
            return False
        self.reject_rewrite()
        self._timer.stop()
        self.dismiss_suggestion()
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        session = RewriteSession(self, self.document_text(), provider, action, start, end, seed=seed)
        if not session.selected.strip():
            session.deleteLater()
            self.rewrite_status.emit("Select some text first (the selection is only whitespace)")
            return False
        self._rewrite = session
        session.changed.connect(lambda: self._show_rewrite(session))
        session.status.connect(self.rewrite_status)
        self._internal_edit += 1
        try:
            cursor.setPosition(end)
            self.setTextCursor(cursor)  # the selection highlight would hide the diff
        finally:
            self._internal_edit -= 1
        self.rewrite_active_changed.emit(True)
        session.generate()
        return True

    def accept_rewrite(self) -> bool:
        """Replace the selection with the shown alternative as one undo step, marked as AI-written."""
        session = self._rewrite
        if session is None:
            return False
        text = session.current_text()
        if not text:
            return False
        self._end_rewrite()
        self._replace_as_ai(session.start, session.end, text)
        self.rewrite_accepted.emit(text)
        self.rewrite_status.emit(f"{session.action.label}: accepted")
        return True

    def reject_rewrite(self) -> bool:
        """Drop the diff (cancelling its generation); the document stays exactly as it was."""
        if self._rewrite is None:
            return False
        self._end_rewrite()
        self.rewrite_status.emit("")
        return True

    def cancel_rewrite(self) -> bool:
        """Stop the running generation and close the diff (Esc)."""
        return self.reject_rewrite()

    def regenerate_rewrite(self) -> bool:
        """Write another alternative (a new seed) and show it."""
        return self._rewrite.generate() if self._rewrite is not None else False

    def next_alternative(self) -> bool:
        """Alt+]: the next rewrite alternative, or the next continuation alternative."""
        if self._rewrite is not None:
            self._rewrite.next_alternative()
            return True
        return self.next_suggestion()

    def previous_alternative(self) -> bool:
        """Alt+[: the previous rewrite alternative, or the previous continuation alternative."""
        if self._rewrite is not None:
            return self._rewrite.previous_alternative()
        return self.previous_suggestion()

    def open_inline_prompt(
        self,
        placeholder: str,
        on_submit: Callable[[str], object],
        on_save: Callable[[str], object] | None = None,
    ) -> InlinePrompt:
        """Show the small inline prompt; ``on_submit(text)`` runs on Enter (with the selection kept)."""
        if self._prompt is None:
            self._prompt = InlinePrompt(self.viewport())
            self._prompt.submitted.connect(self._on_prompt_submitted)
            self._prompt.saved.connect(self._on_prompt_saved)
        self._prompt_submit, self._prompt_save = on_submit, on_save
        self._prompt.open(placeholder, savable=on_save is not None)
        return self._prompt

    def _ask_instruction(self) -> None:
        from studio.writing.actions import UserActions, instruction_action

        def save(text: str) -> None:
            label = text if len(text) <= 40 else text[:39].rstrip() + "…"
            try:
                UserActions().save(label, text)
            except (OSError, ValueError) as exc:
                self.rewrite_status.emit(f"Could not save the action: {exc}")
            else:
                self.rewrite_status.emit(f"Saved \u201c{label}\u201d in Rewrite \u203a My Actions")

        if not self.textCursor().hasSelection():
            self.rewrite_status.emit("Select the text to rewrite first, then press Ctrl+K")
            return
        kind = self._rewrite_provider.model_kind() if self._rewrite_provider is not None else "base"
        hint = (
            "Tell the AI what to do with the selection (Enter runs, Esc closes)"
            if kind == "instruct"
            else "A short instruction for the selection, e.g. \u201cMake it shorter\u201d (base model; Enter runs)"
        )
        self.open_inline_prompt(
            hint,
            lambda text: self.start_rewrite(instruction_action(text)),
            on_save=save,
        )

    def _on_prompt_submitted(self, text: str) -> None:
        if self._prompt_submit is not None:
            self._prompt_submit(text)

    def _on_prompt_saved(self, text: str) -> None:
        if self._prompt_save is not None:
            self._prompt_save(text)

    def _end_rewrite(self) -> None:
        session, self._rewrite = self._rewrite, None
        if session is None:
            return
        session.close()
        session.deleteLater()
        self._rewrite_overlay = []
        self._clear_preedit()
        self._apply_extra_selections()
        self.rewrite_active_changed.emit(False)

    def _show_rewrite(self, session: RewriteSession) -> None:
        if session is not self._rewrite:
            return
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text_color = palette.color(QPalette.ColorRole.Text)
        removed = QTextCharFormat()
        removed.setFontStrikeOut(True)
        removed.setForeground(mix(text_color, QColor(200, 40, 40), 0.55))
        removed.setBackground(mix(base, QColor(220, 50, 50), 0.14))
        kept = QTextCharFormat()  # the old text as a whole: dimmed, the removed words struck on top
        kept.setForeground(mix(text_color, base, 0.45))
        pending = QTextCharFormat()
        pending.setBackground(mix(base, palette.color(QPalette.ColorRole.Highlight), 0.18))
        inserted = QTextCharFormat()
        inserted.setForeground(text_color)
        inserted.setBackground(mix(base, QColor(40, 170, 80), 0.22))
        same = QTextCharFormat()
        same.setForeground(text_color)
        same.setBackground(mix(base, QColor(40, 170, 80), 0.07))
        note = QTextCharFormat()
        note.setForeground(mix(text_color, base, 0.5))
        note.setFontItalic(True)

        current = session.current
        new_text = session.current_text()
        overlay: list[tuple[int, int, QTextCharFormat]] = []
        preedit = ""
        ranges: list[tuple[int, int, QTextCharFormat]] = []
        if not new_text:
            overlay.append((session.start, session.end, pending))
            if current is not None and current.running:
                message = "rewriting…"
            elif current is not None and current.state is RewriteState.FAILED:
                message = "failed (Alt+] tries again, Esc closes)"
            else:
                message = "no text came back (Alt+] tries again, Esc closes)"
            preedit = f" \u27e8{message}\u27e9"
            ranges.append((0, utf16_len(preedit), note))
        else:
            overlay.append((session.start, session.end, kept))
            position = session.start
            for op, piece in session.diff():
                length = utf16_len(piece)
                if op == "insert":
                    ranges.append((utf16_len(preedit), length, inserted))
                    preedit += piece
                    continue
                if op == "delete":
                    overlay.append((position, position + length, removed))
                position += length
                if op == "equal":
                    ranges.append((utf16_len(preedit), length, same))
                    preedit += piece
            separator = "" if session.selected[-1:].isspace() else " "
            ranges = [(start + len(separator), length, fmt) for start, length, fmt in ranges]
            preedit = separator + preedit.rstrip("\n")
            if current is not None and current.running:
                ranges.append((utf16_len(preedit), 2, note))
                preedit += " \u2026"
        self._rewrite_overlay = []
        for start, end, fmt in overlay:
            if end > start:
                selection = QTextEdit.ExtraSelection()
                cursor = QTextCursor(self.document())
                cursor.setPosition(start)
                cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                selection.cursor = cursor  # type: ignore[misc]
                selection.format = fmt  # type: ignore[misc]
                self._rewrite_overlay.append(selection)
        self._apply_extra_selections()
        anchor = session.end
        text = self.document_text()
        end_index = qt_to_py_index(text, session.end)
        trailing = len(text[:end_index]) - len(text[:end_index].rstrip("\n"))
        anchor -= trailing
        self._set_preedit(anchor, preedit.replace("\n", "\u2028"), ranges)

    def _replace_as_ai(self, start: int, end: int, text: str) -> None:
        """Replace ``[start, end)`` with ``text`` as one undo step and mark it as AI text."""
        self._remember_marks()
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
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
        self._remember_marks()
        self.ensureCursorVisible()

    # -- AI marks across undo and redo -----------------------------------------------------------------------

    def _remember_marks(self) -> None:
        """Remember the AI marks of the current text at the current undo step (undo/redo brings them back)."""
        self._marks_by_step[self.document().availableUndoSteps()] = (
            hash(self.document_text()),
            self._provenance.ranges(),
        )

    def _on_contents_changed(self) -> None:
        if self._internal_edit or not (self._marks_by_step or self._provenance):
            return
        step = self.document().availableUndoSteps()
        remembered = self._marks_by_step.get(step)
        if remembered is not None and remembered[0] == hash(self.document_text()):
            if remembered[1] != self._provenance.ranges():
                self._provenance.clear()
                for low, high in remembered[1]:
                    self._provenance.add(low, high)
                self._refresh_provenance()
            return
        if not self.document().availableRedoSteps():
            # a new edit: the steps after this one are gone from the undo stack
            self._marks_by_step = {k: v for k, v in self._marks_by_step.items() if k < step}
        self._remember_marks()

    # -- requests --------------------------------------------------------------------------------------------

    def _update_action(self) -> None:
        self.suggest_action.setEnabled(self._suggestions_enabled and self._provider is not None)

    def _restart_timer(self) -> None:
        if self._suggestions_enabled and self._provider is not None and not self.isReadOnly():
            self._timer.start()

    def _on_pause(self) -> None:
        if self.isVisible() and self._request is None and not self._ghost:
            self._start_request(explicit=False)

    def _start_request(self, explicit: bool, seed: int | None = None) -> bool:
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
        alternatives, index = self._alternatives, self._alternative_index
        self.dismiss_suggestion()
        if seed is not None and self._alternative_prefix_position == cursor.position():
            self._alternatives, self._alternative_index = alternatives, index
        request = _Request()
        self._request = request
        self._ghost_position = cursor.position()
        self._set_state(SuggestionState.WAITING)
        try:
            callbacks = (
                lambda text: self._on_tokens(request, text),
                lambda: self._on_finished(request),
                lambda message: self._on_failed(request, message),
            )
            if seed is not None and _accepts_seed(provider):
                handle = provider.start_continuation(prefix, suffix, *callbacks, seed=seed)  # type: ignore[call-arg]
            else:
                handle = provider.start_continuation(prefix, suffix, *callbacks)
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
        self._show_ghost()

    def _on_finished(self, request: _Request) -> None:
        if request is not self._request or request.done:
            return
        request.done = True
        if not self._ghost.strip():
            # nothing worth showing: say so (state ``empty`` until the next request or cursor move)
            self._request = None
            self._ghost = ""
            self._clear_preedit()
            self._set_state(SuggestionState.EMPTY)
            self.suggestion_empty.emit()
        else:
            self._keep_alternative()
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
        self._clear_preedit()
        position = self.textCursor().position()
        self._replace_as_ai(position, position, text)

    def _on_contents_change(self, position: int, removed: int, added: int) -> None:
        if self._provenance.apply_change(position, removed, added):
            self._refresh_provenance()
        if not self._internal_edit and (self._request is not None or self._ghost):
            self.dismiss_suggestion()
        if not self._internal_edit and self._rewrite is not None:
            self._end_rewrite()  # the text under the diff changed: the diff no longer applies

    def _on_cursor_moved(self) -> None:
        if self._internal_edit:
            return
        self._timer.stop()
        if self._state is SuggestionState.EMPTY:
            self._set_state(SuggestionState.IDLE)
        if self._rewrite is not None:
            self.reject_rewrite()
        if self._request is None and not self._ghost:
            return
        cursor = self.textCursor()
        if cursor.hasSelection() or cursor.position() != self._ghost_position:
            self.dismiss_suggestion()

    def _refresh_provenance(self) -> None:
        tint = ai_tint(self.palette())
        fmt = QTextCharFormat()
        fmt.setBackground(tint)
        fmt.setProperty(QTextFormat.Property.UserProperty, "ai")
        selections = []
        for start, end in self._provenance.ranges() if self._ai_marks_visible else []:
            selection = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor  # type: ignore[misc]
            selection.format = fmt  # type: ignore[misc]
            selections.append(selection)
        self._provenance_selections = selections
        self._apply_extra_selections()

    def _apply_extra_selections(self) -> None:
        self.setExtraSelections([*self._provenance_selections, *self._rewrite_overlay])

    # -- events ----------------------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        """Claim the suggest shortcut, and Tab, Esc and accept-word while a suggestion shows, before window
        shortcuts see them (a window action on the same keys would otherwise make the shortcut ambiguous)."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and (
                self._is_suggest_shortcut(event)
                or self._is_instruction_shortcut(event)
                or matches_shortcut(self.redo_action, event)
                or _alternative_step(event) != 0
                or self._is_token_choices_key(event)
                or (self._ghost and self._is_suggestion_key(event))
                or (self._request is not None and event.key() == Qt.Key.Key_Escape)
                or (self._rewrite is not None and self._is_rewrite_key(event))
            )
        ):
            event.accept()
            return True
        return super().event(event)

    def _is_instruction_shortcut(self, event: QKeyEvent) -> bool:
        shortcut = self.instruction_action.shortcut()
        pressed = QKeySequence(event.keyCombination())
        return not shortcut.isEmpty() and shortcut.matches(pressed) == QKeySequence.SequenceMatch.ExactMatch

    def _is_token_choices_key(self, event: QKeyEvent) -> bool:
        """Alt+Down on an AI-written word (with a provider set)."""
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        return (
            event.key() == Qt.Key.Key_Down
            and modifiers == Qt.KeyboardModifier.AltModifier
            and self._token_choices_provider is not None
            and not self.textCursor().hasSelection()
            and self.token_choices_span() is not None
        )

    @staticmethod
    def _is_rewrite_key(event: QKeyEvent) -> bool:
        plain = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == Qt.KeyboardModifier.NoModifier
        return plain and event.key() in (
            Qt.Key.Key_Tab,
            Qt.Key.Key_Return,
            Qt.Key.Key_Enter,
            Qt.Key.Key_Escape,
        )

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
        if self._is_token_choices_key(event):
            self.show_token_choices()
            return
        step = _alternative_step(event)
        if step:
            if step > 0:
                self.next_alternative()
            else:
                self.previous_alternative()
            return
        if self._rewrite is not None:
            if key in (Qt.Key.Key_Tab, Qt.Key.Key_Return, Qt.Key.Key_Enter) and plain:
                self.accept_rewrite()
                return
            if key == Qt.Key.Key_Escape and plain:
                self.reject_rewrite()
                return
            if key not in _MODIFIER_KEYS:
                self.reject_rewrite()  # any other key: back to plain editing, the document untouched
        if self._is_instruction_shortcut(event):
            if self.instruction_action.isEnabled():
                self.instruction_action.trigger()
            return
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
        if matches_shortcut(self.redo_action, event) and not self.isReadOnly():
            self.redo()
        else:
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
        self._clear_preedit()
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
        self._show_ghost()
        return True

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:  # noqa: N802 (Qt override)
        """Composed input (IME) counts as typing."""
        revision = self.document().revision()
        super().inputMethodEvent(event)
        if self.document().revision() != revision:
            self._restart_timer()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        """A click dismisses the suggestion (even one that leaves the cursor where it was) and the diff."""
        self.dismiss_suggestion()
        self.reject_rewrite()
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
        if event.type() == QEvent.Type.FontChange:
            self.setTabStopDistance(4 * self.fontMetrics().horizontalAdvance(" "))
            self.resizeEvent(QResizeEvent(self.size(), self.size()))
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

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 (Qt override)
        """The usual edit menu, plus the Rewrite actions when text is selected and a menu filler is set."""
        menu = self.createStandardContextMenu(event.pos())
        clicked = self.cursorForPosition(event.pos()).position()
        if (
            self._token_choices_provider is not None
            and not self.textCursor().hasSelection()
            and self.token_choices_span(clicked) is not None
        ):
            first = menu.actions()[0] if menu.actions() else None
            choices = QAction("Other Words Here…", menu)
            choices.setShortcut(QKeySequence(Qt.Modifier.ALT | Qt.Key.Key_Down))
            choices.setStatusTip(
                "The model's other likely words at this AI-written word; pick one to rewrite from it"
            )
            choices.triggered.connect(lambda: self.show_token_choices(clicked))
            menu.insertAction(first, choices)  # type: ignore[arg-type]
            menu.insertSeparator(first)  # type: ignore[arg-type]
        if (
            self._rewrite_menu_filler is not None
            and self.textCursor().hasSelection()
            and not self.isReadOnly()
        ):
            menu.addSeparator()
            self._rewrite_menu_filler(menu.addMenu("Rewrite"))
        menu.exec(event.globalPos())
        menu.deleteLater()

    # -- text shown in the layout but not in the document (ghost text, the rewrite's new text) ---------------

    def _set_preedit(self, position: int, text: str, ranges: list[tuple[int, int, QTextCharFormat]]) -> None:
        """Show ``text`` at document ``position`` in the block's pre-edit area: the lines below move down, the
        document does not change (no contents signal, no new revision). ``ranges`` are ``(start, length,
        format)`` within ``text``."""
        block = self.document().findBlock(position)
        layout = block.layout() if block.isValid() else None
        if layout is None:
            return
        if self._preedit_block is not None and self._preedit_block != block:
            self._clear_preedit()
        highlighting = _without_preedit(layout)
        in_block = position - block.position()
        layout.setPreeditArea(in_block, text)
        formats = _around_preedit(highlighting, in_block, utf16_len(text))
        for start, length, fmt in ranges:
            if length > 0:
                item = QTextLayout.FormatRange()
                item.start, item.length, item.format = in_block + start, length, fmt
                formats.append(item)
        layout.setFormats(formats)
        self._preedit_block = block
        self._relayout(block)

    def _clear_preedit(self) -> None:
        block, self._preedit_block = self._preedit_block, None
        if block is None or not block.isValid():
            return
        layout = block.layout()
        if layout is None or not layout.preeditAreaText():
            return
        highlighting = _without_preedit(layout)
        layout.setPreeditArea(-1, "")
        layout.setFormats(highlighting)
        self._relayout(block)

    def _relayout(self, block: QTextBlock) -> None:
        # markContentsDirty lays the block out again; its signals would report a change of the text (to the
        # highlighter, the journal, the counters) although only the pre-edit text changed
        document = self.document()
        blocked = document.blockSignals(True)
        try:
            document.markContentsDirty(block.position(), block.length())
        finally:
            document.blockSignals(blocked)
        self.viewport().update()

    def _show_ghost(self) -> None:
        if not self._ghost or self._ghost_position < 0:
            self._clear_preedit()
            return
        palette = self.palette()
        ghost_format = QTextCharFormat()
        ghost_format.setForeground(
            mix(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base), 0.55)
        )
        text = self._ghost.replace("\n", "\u2028")
        self._set_preedit(self._ghost_position, text, [(0, utf16_len(text), ghost_format)])


def _suggest_shortcut() -> QKeySequence:
    # On macOS "Ctrl" means Command and Cmd+Space is Spotlight; Meta is the physical Control key there.
    if sys.platform == "darwin":
        return QKeySequence(Qt.Modifier.META | Qt.Key.Key_Space)
    return QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Space)


_MODIFIER_KEYS = frozenset(
    {Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta, Qt.Key.Key_AltGr}
)


def _alternative_step(event: QKeyEvent) -> int:
    """+1 for Alt+] (next alternative), -1 for Alt+[ (previous), 0 for any other key."""
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if modifiers != Qt.KeyboardModifier.AltModifier:
        return 0
    return {Qt.Key.Key_BracketRight: 1, Qt.Key.Key_BracketLeft: -1}.get(Qt.Key(event.key()), 0)


def _without_preedit(layout: QTextLayout) -> list[QTextLayout.FormatRange]:
    """The layout's formats (the highlighting) in block-text positions, without those of its pre-edit text."""
    position, length = layout.preeditAreaPosition(), utf16_len(layout.preeditAreaText())
    if not length:
        return list(layout.formats())
    plain = []
    for item in layout.formats():
        start, end = item.start, item.start + item.length
        if start >= position and end <= position + length:
            continue  # ours: it formats the pre-edit text
        if start >= position + length:
            start -= length
            end -= length
        elif end > position:
            end = max(start, end - length)
        copy = QTextLayout.FormatRange()
        copy.start, copy.length, copy.format = start, end - start, item.format
        plain.append(copy)
    return plain


def _around_preedit(
    formats: list[QTextLayout.FormatRange], position: int, length: int
) -> list[QTextLayout.FormatRange]:
    """Block-text formats moved to layout positions around ``length`` pre-edit characters at ``position``
    (as QSyntaxHighlighter does it)."""
    moved = []
    for item in formats:
        copy = QTextLayout.FormatRange()
        copy.start, copy.length, copy.format = item.start, item.length, item.format
        if copy.start >= position:
            copy.start += length
        elif copy.start + copy.length > position:
            copy.length += length
        moved.append(copy)
    return moved


def _accepts_seed(provider: ContinuationProvider) -> bool:
    import inspect

    try:
        return "seed" in inspect.signature(provider.start_continuation).parameters
    except (TypeError, ValueError):
        return False


def _cancel(handle: ContinuationHandle) -> None:
    try:
        handle.cancel()
    except Exception:  # cancelling must never break editing
        log.exception("cancelling a continuation failed")
