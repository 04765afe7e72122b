"""Selection actions in the editor: a rewrite streams in place as an inline diff over the selection.

:class:`RewriteSession` runs one action on one selection: each alternative is its own engine job with its own
seed, generated on demand and kept for cycling. The editor shows the session's diff (the selection with removed
words struck through, the new text after it with inserted words tinted) without changing the document until
the user accepts.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLineEdit, QToolButton, QWidget

from studio.engines.results import CompletionResult
from studio.models.model_settings import Sampling
from studio.ui.write.ghost_text import ContinuationHandle, normalize_tokens
from studio.writing.actions import WritingAction
from studio.writing.prompts import PromptError
from studio.writing.rewrite import INSTRUCT, RewritePlan, build_rewrite
from studio.writing.word_diff import Op, word_diff

if TYPE_CHECKING:
    from studio.ui.jobs import JobRunner

log = logging.getLogger(__name__)


class RewriteProvider(Protocol):
    """Runs rewrite requests: the engine in the app, anything with the same callbacks in tests."""

    def model_kind(self) -> str:
        """``base`` or ``instruct``: the kind of the loaded model (``base`` when unknown)."""
        ...

    def sampling(self) -> Sampling:
        """The loaded model's sampling settings (``own`` False: none of its own)."""
        ...

    def start_rewrite(
        self,
        plan: RewritePlan,
        on_tokens: Callable[[str], None],
        on_finished: Callable[[], None],
        on_failed: Callable[[str], None],
    ) -> ContinuationHandle:
        """Start ``plan.request``; callbacks arrive on the GUI thread, ending with one of the last two."""
        ...


class EngineRewriteProvider:
    """Rewrites through the LLM engine's job runner; ``model_kind`` says which kind of model is loaded."""

    def __init__(
        self,
        runner: JobRunner,
        model_kind: Callable[[], str],
        sampling: Callable[[], Sampling] = Sampling,
    ) -> None:
        self._runner = runner
        self._model_kind = model_kind
        self._sampling = sampling

    def model_kind(self) -> str:
        return self._model_kind() or "base"

    def sampling(self) -> Sampling:
        return self._sampling()

    def start_rewrite(
        self,
        plan: RewritePlan,
        on_tokens: Callable[[str], None],
        on_finished: Callable[[], None],
        on_failed: Callable[[str], None],
    ) -> ContinuationHandle:
        def finished(_result: CompletionResult) -> None:
            on_finished()

        handle = self._runner.run(plan.request, plan.action.label)
        handle.on_tokens(on_tokens).on_success(finished).on_failure(on_failed)
        return handle


class RewriteState(StrEnum):
    """Where the shown alternative stands."""

    WAITING = "waiting"
    STREAMING = "streaming"
    READY = "ready"
    EMPTY = "empty"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(eq=False)
class Alternative:
    """One generated revision: its seed, the model's raw output so far, and where it stands."""

    seed: int
    plan: RewritePlan | None = None
    raw: str = ""
    state: RewriteState = RewriteState.WAITING
    error: str = ""
    handle: ContinuationHandle | None = None
    after_cr: bool = False

    @property
    def text(self) -> str:
        """The replacement text (cleaned)."""
        return self.plan.result(self.raw) if self.plan is not None else ""

    @property
    def running(self) -> bool:
        return self.state in (RewriteState.WAITING, RewriteState.STREAMING)


class RewriteSession(QObject):
    """One action on one selection ``[start, end)`` (Qt positions) of an editor's exact ``text``; the editor is
    the session's parent."""

    changed = Signal()
    """The shown alternative's text or state changed (the editor repaints the diff)."""
    status = Signal(str)
    """A line for the status bar."""

    def __init__(
        self,
        editor: QObject,
        text: str,
        provider: RewriteProvider,
        action: WritingAction,
        start: int,
        end: int,
        seed: int | None = None,
    ) -> None:
        super().__init__(editor)
        self.provider = provider
        self.action = action
        self.start = start
        self.end = end
        self._text_before_start = self._py(text, start)
        self.selected = text[self._text_before_start : self._py(text, end)]
        self.before = text[: self._text_before_start]
        self.after = text[self._py(text, end) :]
        self.model_kind = provider.model_kind() or "base"
        self.base_seed = seed if seed is not None else random.randrange(1, 2**31 - 1024)
        self.alternatives: list[Alternative] = []
        self.index = -1
        self.closed = False

    @staticmethod
    def _py(text: str, qt_position: int) -> int:
        from studio.ui.write.ghost_text import qt_to_py_index

        return qt_to_py_index(text, qt_position)

    # -- alternatives ----------------------------------------------------------------------------------------

    @property
    def current(self) -> Alternative | None:
        return self.alternatives[self.index] if 0 <= self.index < len(self.alternatives) else None

    def current_text(self) -> str:
        current = self.current
        return current.text if current is not None else ""

    def is_running(self) -> bool:
        return any(alternative.running for alternative in self.alternatives)

    def generate(self) -> bool:
        """Start a new alternative (with the next seed) and show it; False when it could not start."""
        if self.closed:
            return False
        self._stop_running()
        alternative = Alternative(seed=self.base_seed + len(self.alternatives))
        self.alternatives.append(alternative)
        self.index = len(self.alternatives) - 1
        try:
            alternative.plan = build_rewrite(
                self.action,
                self.selected,
                before=self.before,
                after=self.after,
                model_kind=self.model_kind,
                seed=alternative.seed,
                sampling=self.provider.sampling(),
            )
        except (PromptError, ValueError) as exc:
            self._fail(alternative, str(exc))
            return False
        self._announce()
        self.changed.emit()
        try:
            alternative.handle = self.provider.start_rewrite(
                alternative.plan,
                lambda piece: self._on_tokens(alternative, piece),
                lambda: self._on_finished(alternative),
                lambda message: self._fail(alternative, message),
            )
        except Exception as exc:  # a broken provider must never break editing
            log.exception("start_rewrite failed")
            self._fail(alternative, str(exc) or type(exc).__name__)
            return False
        return True

    def next_alternative(self) -> None:
        """Show the next alternative, generating it when the last one is shown."""
        if self.index + 1 < len(self.alternatives):
            self._stop_running()
            self.index += 1
            self._announce()
            self.changed.emit()
        else:
            self.generate()

    def previous_alternative(self) -> bool:
        """Show the previous alternative; False at the first."""
        if self.index <= 0:
            return False
        self._stop_running()
        self.index -= 1
        self._announce()
        self.changed.emit()
        return True

    def cancel(self) -> None:
        """Stop the running generation (what it wrote so far is kept as a stopped alternative)."""
        self._stop_running()
        self._announce()
        self.changed.emit()

    def close(self) -> None:
        """End the session: stop any generation; the editor clears the diff."""
        self._stop_running()
        self.closed = True

    def _stop_running(self) -> None:
        for alternative in self.alternatives:
            if alternative.running:
                alternative.state = RewriteState.STOPPED
                if alternative.handle is not None:
                    try:
                        alternative.handle.cancel()
                    except Exception:  # cancelling must never break editing
                        log.exception("cancelling a rewrite failed")

    # -- callbacks -------------------------------------------------------------------------------------------

    def _on_tokens(self, alternative: Alternative, piece: str) -> None:
        if self.closed or not alternative.running:
            return
        piece, alternative.after_cr = normalize_tokens(piece, alternative.after_cr)
        if not piece:
            return
        alternative.raw += piece
        if alternative.state is RewriteState.WAITING:
            alternative.state = RewriteState.STREAMING
            self._announce()
        if alternative is self.current:
            self.changed.emit()

    def _on_finished(self, alternative: Alternative) -> None:
        if self.closed or not alternative.running:
            return
        alternative.state = RewriteState.READY if alternative.text.strip() else RewriteState.EMPTY
        if alternative is self.current:
            self._announce()
            self.changed.emit()

    def _fail(self, alternative: Alternative, message: str) -> None:
        if self.closed or (alternative.state not in (RewriteState.WAITING, RewriteState.STREAMING)):
            return
        alternative.state = RewriteState.FAILED
        alternative.error = message
        if alternative is self.current:
            self._announce()
            self.changed.emit()

    # -- wording ---------------------------------------------------------------------------------------------

    def describe(self) -> str:
        """The status line for the shown alternative; the wording follows the model kind."""
        current = self.current
        if current is None:
            return ""
        count = f"{self.index + 1}/{len(self.alternatives)}"
        label = self.action.label
        model = "instruct model" if self.model_kind == INSTRUCT else "base model, few-shot prompt"
        if current.state is RewriteState.WAITING:
            return f"{label}: reading the text ({model})… Esc cancels"
        if current.state is RewriteState.STREAMING:
            return f"{label}: writing alternative {count} ({model})… Esc cancels"
        if current.state is RewriteState.FAILED:
            return f"{label} failed: {current.error}"
        if current.state is RewriteState.EMPTY:
            hint = (
                "try another with Alt+]"
                if self.model_kind == INSTRUCT
                else "small base models miss often: Alt+]"
            )
            return f"{label}: the model returned no text ({hint}); Esc closes"
        stopped = " (stopped)" if current.state is RewriteState.STOPPED else ""
        return (
            f"{label}: alternative {count}{stopped}. Tab or Enter accepts, Esc rejects, Alt+] / Alt+[ cycles"
        )

    def _announce(self) -> None:
        self.status.emit(self.describe())

    # -- the diff --------------------------------------------------------------------------------------------

    def diff(self) -> list[tuple[Op, str]]:
        """Word-level pieces from the selection to the shown alternative (all ``delete`` while nothing came)."""
        return word_diff(self.selected, self.current_text())


class InlinePrompt(QFrame):
    """The small prompt of a free instruction (Ctrl+K) or an action's value (Translate to…), over the editor.

    Enter runs it, Esc closes it; "Save" keeps a free instruction as one of the user's own actions.
    """

    submitted = Signal(str)
    saved = Signal(str)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("rewrite_prompt")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.line = QLineEdit(self)
        self.line.setAccessibleName("Instruction")
        self.line.setClearButtonEnabled(True)
        layout.addWidget(self.line, 1)
        self.save_button = QToolButton(self)
        self.save_button.setText("Save as Action")
        self.save_button.setToolTip("Keep this instruction in the Rewrite menu")
        self.save_button.clicked.connect(self._save)
        layout.addWidget(self.save_button)
        self.line.returnPressed.connect(self._submit)
        self.hide()

    def open(self, placeholder: str, *, savable: bool, text: str = "") -> None:
        """Show the prompt at the top of the editor's viewport, focused."""
        self.line.setPlaceholderText(placeholder)
        self.line.setText(text)
        self.save_button.setVisible(savable)
        parent = self.parentWidget()
        if parent is not None:
            width = min(parent.width() - 16, 640)
            self.setGeometry((parent.width() - width) // 2, 8, width, self.sizeHint().height())
        self.show()
        self.raise_()
        self.line.setFocus()

    def keyPressEvent(self, event: object) -> None:  # noqa: N802 (Qt override)
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape:
            self.close_prompt()
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]

    def close_prompt(self) -> None:
        self.hide()
        parent = self.parentWidget()
        owner = parent.parentWidget() if parent is not None else None
        if owner is not None:
            owner.setFocus()

    def _submit(self) -> None:
        text = self.line.text().strip()
        if text:
            self.close_prompt()
            self.submitted.emit(text)

    def _save(self) -> None:
        text = self.line.text().strip()
        if text:
            self.saved.emit(text)
