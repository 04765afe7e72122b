"""The Assistant panel: ask about the document or the selection, read the streamed answer, insert it.

Base models get a transcript-style prompt (a plain completion that ends at the next question); instruct models
get chat messages that the engine renders with the model's own chat template (:class:`ChatRequest`). Stop
cancels the answer at once; the partial text stays shown.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.engines.protocol import new_job_id
from studio.engines.results import CompletionResult
from studio.engines.text_requests import ChatRequest, CompletionRequest
from studio.models.model_settings import Sampling
from studio.settings import Settings
from studio.ui.jobs import JobHandle, JobRunner
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.ghost_text import qt_to_py_index, utf16_len
from studio.ui.write.story_notes_panel import PanelDock
from studio.writing.context import (
    ASSISTANT_STOP,
    assistant_context,
    assistant_messages,
    assistant_transcript,
    prompt_budget,
)
from studio.writing.story_notes import StoryNotes

ANSWER_MAX_TOKENS = 256
SCOPE_SELECTION = 0
SCOPE_DOCUMENT = 1


class AssistantPanel(QWidget):
    """Questions about the current document, answered by the loaded model.

    ``current_editor()`` is the editor asked about, ``model_kind()`` is ``"instruct"`` or ``"base"`` (the
    model status's ``model_kind``; anything else counts as base), ``notes()`` the document's story notes.
    """

    answer_finished = Signal(object)
    """An answer ended: its :class:`CompletionResult` (None when it was stopped or failed)."""

    def __init__(
        self,
        runner: JobRunner,
        settings: Callable[[], Settings],
        current_editor: Callable[[], MarkdownEditor | None],
        model_kind: Callable[[], str],
        notes: Callable[[], StoryNotes] = StoryNotes,
        parent: QWidget | None = None,
        sampling: Callable[[], Sampling] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("assistant_panel")
        self._runner = runner
        self._settings = settings
        # the active model's sampling settings (default: the global temperature)
        self._sampling = sampling or (lambda: Sampling(temperature=self._settings().temperature))
        self._current_editor = current_editor
        self._model_kind = model_kind
        self._notes = notes
        self._handle: JobHandle[CompletionResult] | None = None
        self.answer = ""
        self.last_request: CompletionRequest | ChatRequest | None = None

        self.kind_label = QLabel(self)
        self.kind_label.setObjectName("assistant_kind")
        self.kind_label.setWordWrap(True)
        self.scope_combo = QComboBox(self)
        self.scope_combo.setObjectName("assistant_scope")
        self.scope_combo.addItems(["About the selection", "About the whole document"])
        self.question_edit = QLineEdit(self)
        self.question_edit.setObjectName("assistant_question")
        self.question_edit.setPlaceholderText("What happens in chapter 2? Give me three titles…")
        self.question_edit.setClearButtonEnabled(True)
        self.ask_button = QPushButton("&Ask", self)
        self.ask_button.setObjectName("assistant_ask")
        self.ask_button.setDefault(True)
        self.stop_button = QPushButton("&Stop", self)
        self.stop_button.setObjectName("assistant_stop")
        self.answer_view = QPlainTextEdit(self)
        self.answer_view.setObjectName("assistant_answer")
        self.answer_view.setReadOnly(True)
        self.answer_view.setPlaceholderText("The answer appears here as it is written.")
        self.status_label = QLabel(self)
        self.status_label.setObjectName("assistant_status")
        self.status_label.setWordWrap(True)
        self.insert_button = QPushButton("&Insert at Cursor", self)
        self.insert_button.setObjectName("assistant_insert")
        self.insert_button.setToolTip(
            "Insert the answer into the document at the cursor, marked as AI-written"
        )

        ask_row = QHBoxLayout()
        ask_row.addWidget(self.question_edit, 1)
        ask_row.addWidget(self.ask_button)
        ask_row.addWidget(self.stop_button)
        answer_row = QHBoxLayout()
        answer_row.addWidget(self.status_label, 1)
        answer_row.addWidget(self.insert_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.kind_label)
        layout.addWidget(self.scope_combo)
        layout.addLayout(ask_row)
        layout.addWidget(self.answer_view, 1)
        layout.addLayout(answer_row)

        self.ask_button.clicked.connect(self.ask)
        self.question_edit.returnPressed.connect(self.ask)
        self.stop_button.clicked.connect(self.stop)
        self.insert_button.clicked.connect(self.insert_at_cursor)
        self.refresh()

    # -- state -----------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while an answer is being written."""
        return self._handle is not None and not self._handle.is_done

    def is_instruct(self) -> bool:
        return self._model_kind() == "instruct"

    def refresh(self) -> None:
        """Bring the wording and buttons up to date (the model kind, the selection, a running answer)."""
        if self.is_instruct():
            self.kind_label.setText("Instruct model: questions go through its chat template.")
        else:
            self.kind_label.setText(
                "Base model: it continues a question-and-answer transcript, so keep questions simple."
            )
        editor = self._current_editor()
        has_selection = editor is not None and editor.textCursor().hasSelection()
        if not self.busy:
            self.scope_combo.setCurrentIndex(SCOPE_SELECTION if has_selection else SCOPE_DOCUMENT)
        self.ask_button.setEnabled(not self.busy and editor is not None)
        self.stop_button.setEnabled(self.busy)
        self.insert_button.setEnabled(not self.busy and bool(self.answer.strip()) and editor is not None)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() == Qt.Key.Key_Escape and self.busy:
            self.stop()  # Esc stops the answer, wherever the focus is in the panel
            event.accept()
            return
        super().keyPressEvent(event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.refresh()

    # -- asking ----------------------------------------------------------------------------------------------

    def ask(self, question: str | None = None) -> bool:
        """Ask ``question`` (default: the question field) about the scope chosen; False when it cannot start."""
        question = (question if isinstance(question, str) else self.question_edit.text()).strip()
        editor = self._current_editor()
        if self.busy or editor is None:
            return False
        if not question:
            self.status_label.setText("Type a question first.")
            return False
        text = editor.document_text()
        cursor = editor.textCursor()
        selection = ""
        if self.scope_combo.currentIndex() == SCOPE_SELECTION and cursor.hasSelection():
            start = qt_to_py_index(text, cursor.selectionStart())
            end = qt_to_py_index(text, cursor.selectionEnd())
            selection = text[start:end]
        settings = self._settings()
        sampling = self._sampling()
        notes = self._notes()
        budget = prompt_budget(settings.context_size, ANSWER_MAX_TOKENS)
        context = assistant_context(text, selection, notes, budget, question)
        request: CompletionRequest | ChatRequest
        if self.is_instruct():
            request = ChatRequest(
                new_job_id(),
                messages=assistant_messages(question, context, notes),
                max_tokens=ANSWER_MAX_TOKENS,
                temperature=sampling.temperature,
                top_k=sampling.top_k,
                top_p=sampling.top_p,
                min_p=sampling.min_p,
            )
        else:
            request = CompletionRequest(
                new_job_id(),
                prompt=assistant_transcript(question, context, notes),
                max_tokens=ANSWER_MAX_TOKENS,
                temperature=sampling.temperature,
                top_k=sampling.top_k,
                top_p=sampling.top_p,
                min_p=sampling.min_p,
                stop=ASSISTANT_STOP,
            )
        self.last_request = request
        self.answer = ""
        self.answer_view.clear()
        left_out = (
            f" ({context.left_out:,} characters of the document did not fit)" if context.left_out else ""
        )
        self.status_label.setText("Writing the answer…" + left_out)
        handle = self._runner.run(request, "Answering")
        self._handle = handle
        handle.on_tokens(self._on_tokens).on_success(self._on_success).on_failure(self._on_failure)
        handle.on_cancelled(self._on_cancelled)
        self.refresh()
        return True

    def stop(self) -> None:
        """Stop the answer being written (what came so far stays)."""
        if self._handle is not None and not self._handle.is_done:
            self._handle.cancel()

    def _on_tokens(self, text: str) -> None:
        if not self.answer:
            text = text.lstrip()
        self.answer += text
        cursor = QTextCursor(self.answer_view.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.answer_view.ensureCursorVisible()

    def _on_success(self, result: CompletionResult) -> None:
        self._ended("" if self.answer.strip() else "The model gave no answer; try asking differently.")
        self.answer_finished.emit(result)

    def _on_failure(self, message: str) -> None:
        self._ended(f"The answer failed: {message}")
        self.answer_finished.emit(None)

    def _on_cancelled(self) -> None:
        self._ended("Stopped.")
        self.answer_finished.emit(None)

    def _ended(self, message: str) -> None:
        self._handle = None
        self.answer = self.answer.rstrip()
        self.status_label.setText(message)
        self.refresh()

    # -- using the answer ------------------------------------------------------------------------------------

    def insert_at_cursor(self) -> bool:
        """Insert the answer at the editor's cursor (after the selection, if any) as one undo step, marked as
        AI-written; False when there is nothing to insert."""
        editor = self._current_editor()
        answer = self.answer.strip()
        if editor is None or not answer or self.busy:
            return False
        cursor = editor.textCursor()
        position = cursor.selectionEnd()
        cursor.setPosition(position)
        cursor.beginEditBlock()
        cursor.insertText(answer)
        cursor.endEditBlock()
        editor.setTextCursor(cursor)
        text = editor.document_text()
        start = qt_to_py_index(text, position)
        editor.set_ai_ranges(
            [*editor.ai_ranges(), (start, qt_to_py_index(text, position + utf16_len(answer)))]
        )
        editor.setFocus()
        self.status_label.setText("Inserted at the cursor.")
        return True


class AssistantDock(PanelDock):
    """A dock holding the :class:`AssistantPanel`; its ``toggle_action`` shows it with the focus on the
    question field (and hides it when the question field already has the focus)."""

    def __init__(self, panel: AssistantPanel, parent: QWidget | None = None) -> None:
        super().__init__(
            "Assistant",
            panel,
            "&Assistant",
            "Ctrl+Shift+A",
            "Ask the model about the document or the selection",
            parent,
        )
        self.setObjectName("assistant_dock")
        self.panel = panel

    def wants_focus(self) -> bool:
        return not self.panel.question_edit.hasFocus()

    def focus_panel(self) -> None:
        self.panel.refresh()
        self.panel.question_edit.setFocus()
