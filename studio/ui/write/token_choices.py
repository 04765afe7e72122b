"""Token choices: at an AI-written word, the model's most likely next tokens at that point, to pick another.

:func:`ai_word_span` finds where the choice applies (from the word's leading spaces to the end of its AI-written
run), :class:`EngineTokenChoicesProvider` asks the LLM engine for the candidates (a :class:`TopTokensRequest`
on the same prompt a suggestion there would get, so the engine reuses its cached prefix), and
:class:`TokenChoicesMenu` shows them with their probabilities. The editor replaces the run with the picked
token (one undo step, marked as AI text) and streams a new continuation from there as ghost text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QWidget

from studio.engines.protocol import new_job_id
from studio.engines.results import TopTokensResult
from studio.engines.text_requests import TopTokensRequest
from studio.ui.jobs import JobHandle, JobRunner
from studio.ui.write.ghost_text import ContinuationHandle

DEFAULT_CHOICES = 10

_WORD = re.compile(r"\w+|[^\w\s]+")


class TokenChoicesProvider(Protocol):
    """Something that lists the model's likely next tokens after ``prefix`` (``suffix`` follows the cursor)."""

    def start_token_choices(
        self,
        prefix: str,
        suffix: str,
        on_result: Callable[[Sequence[tuple[str, float]]], None],
        on_failed: Callable[[str], None],
    ) -> ContinuationHandle:
        """Start the request; ``on_result`` gets ``(text, probability)`` pairs, most likely first. Callbacks
        arrive on the GUI thread."""
        ...


def ai_word_span(text: str, ai_ranges: Sequence[tuple[int, int]], position: int) -> tuple[int, int] | None:
    """The span token choices at ``position`` replace: from the start of the AI-written word there (with the
    spaces before it, which belong to the token) to the end of its AI-written run. None when ``position``
    is not on an AI-written word. Indexes are of ``text``."""
    for low, high in ai_ranges:
        if not low <= position <= high:
            continue
        for match in _WORD.finditer(text, low, high):
            if match.start() <= position <= match.end():
                start = match.start()
                while start > 0 and text[start - 1] in " \t":
                    start -= 1
                if start == 0:
                    return None  # no text before the word: nothing for the model to go on
                return start, high
    return None


def format_choice(text: str, probability: float) -> str:
    """A menu label: the token with its whitespace made visible, and its probability in per cent."""
    shown = text.replace("\n", "↵").replace("\t", "→")
    if not shown.strip():
        shown = "␣" * len(shown) if shown else "(end of text)"
    elif shown.startswith(" "):
        shown = "·" + shown[1:]
    shown = shown.replace("&", "&&")
    return f"{shown}\t{probability * 100:.1f} %"


class TokenChoicesMenu(QMenu):
    """A popup of token candidates; ``chosen`` sends the picked token's text."""

    chosen = Signal(str)

    def __init__(self, choices: Sequence[tuple[str, float]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Other words here")
        self.setToolTipsVisible(True)
        title = self.addAction("Other words here (model probability)")
        title.setEnabled(False)
        self.addSeparator()
        for text, probability in choices:
            if not text:
                continue
            action = self.addAction(format_choice(text, probability))
            action.setToolTip(f"Write {text!r} here and continue from it")
            action.triggered.connect(lambda _checked=False, token=text: self.chosen.emit(token))
        if len(self.actions()) > 2:
            self.setActiveAction(self.actions()[2])

    def choice_texts(self) -> list[str]:
        """The menu's labels, in order (for tests and accessibility checks)."""
        return [action.text() for action in self.actions()[2:]]


class EngineTokenChoicesProvider(QObject):
    """Token choices from the LLM engine. ``assemble(prefix, suffix)`` gives the prompt text a suggestion at
    that cursor would get (the continuation provider's, story notes included); ``before_request`` runs first
    (to cancel a warm-up, say)."""

    def __init__(
        self,
        runner: JobRunner,
        assemble: Callable[[str, str], str] | None = None,
        before_request: Callable[[], object] | None = None,
        k: int = DEFAULT_CHOICES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._assemble = assemble
        self._before_request = before_request
        self._k = k
        self.last_result: TopTokensResult | None = None

    def start_token_choices(
        self,
        prefix: str,
        suffix: str,
        on_result: Callable[[Sequence[tuple[str, float]]], None],
        on_failed: Callable[[str], None],
    ) -> JobHandle[TopTokensResult]:
        if self._before_request is not None:
            self._before_request()
        prompt = self._assemble(prefix, suffix) if self._assemble is not None else prefix
        request = TopTokensRequest(new_job_id(), prompt=prompt, suffix=suffix, k=self._k)

        def finished(result: TopTokensResult) -> None:
            self.last_result = result
            on_result(result.tokens)

        return self._runner.run(request, "Token choices").on_success(finished).on_failure(on_failed)
