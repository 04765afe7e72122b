"""Fixtures of the Write tests: scripted continuation and rewrite providers whose answers the test feeds by
hand through the recorded callbacks, and editors set up the way the tests need them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from studio.models.model_settings import Sampling
from studio.ui.dialogs import ScriptedDialogs
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.workspace import WriteWorkspace
from studio.writing.rewrite import RewritePlan


@dataclass
class ScriptedHandle:
    """The handle of one request: counts its cancels."""

    cancelled: int = 0

    def cancel(self) -> None:
        self.cancelled += 1


@dataclass
class ContinuationCall:
    prefix: str
    suffix: str
    on_tokens: Callable[[str], None]
    on_finished: Callable[[], None]
    on_failed: Callable[[str], None]
    seed: int | None = None
    handle: ScriptedHandle = field(default_factory=ScriptedHandle)


class ScriptedProvider:
    """A ContinuationProvider that records each request (with its seed); the test feeds the tokens."""

    def __init__(self) -> None:
        self.calls: list[ContinuationCall] = []

    def start_continuation(
        self,
        prefix: str,
        suffix: str,
        on_tokens: Callable[[str], None],
        on_finished: Callable[[], None],
        on_failed: Callable[[str], None],
        seed: int | None = None,
    ) -> ScriptedHandle:
        self.calls.append(ContinuationCall(prefix, suffix, on_tokens, on_finished, on_failed, seed))
        return self.calls[-1].handle

    @property
    def last(self) -> ContinuationCall:
        return self.calls[-1]


@dataclass
class RewriteCall:
    plan: RewritePlan
    on_tokens: Callable[[str], None]
    on_finished: Callable[[], None]
    on_failed: Callable[[str], None]
    handle: ScriptedHandle = field(default_factory=ScriptedHandle)


class ScriptedRewrites:
    """A RewriteProvider for a ``kind`` model (``base`` or ``instruct``) that records each rewrite."""

    def __init__(self, kind: str = "base") -> None:
        self.kind = kind
        self.calls: list[RewriteCall] = []

    def model_kind(self) -> str:
        return self.kind

    def sampling(self) -> Sampling:
        return Sampling()

    def start_rewrite(
        self,
        plan: RewritePlan,
        on_tokens: Callable[[str], None],
        on_finished: Callable[[], None],
        on_failed: Callable[[str], None],
    ) -> ScriptedHandle:
        self.calls.append(RewriteCall(plan, on_tokens, on_finished, on_failed))
        return self.calls[-1].handle


MakeEditor = Callable[..., MarkdownEditor]
"""``make_editor(text="", *, size=(520, 260), continuation=None, rewrites=None, token_choices=None,
select="")``: see the ``make_editor`` fixture."""


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def rewrites() -> ScriptedRewrites:
    return ScriptedRewrites()


@pytest.fixture
def make_editor(qtbot: QtBot) -> MakeEditor:
    """Makes a shown, focused editor holding ``text`` with the given providers; suggestions come only when
    asked (``request_suggestion``) unless a test lowers the delay. The cursor is at the end, or ``select``
    (a piece of ``text``) is selected."""

    def make(
        text: str = "",
        *,
        size: tuple[int, int] = (520, 260),
        continuation: Any = None,
        rewrites: Any = None,
        token_choices: Any = None,
        select: str = "",
    ) -> MarkdownEditor:
        widget = MarkdownEditor()
        qtbot.addWidget(widget)
        widget.resize(*size)
        widget.set_suggestion_delay(60_000)
        if continuation is not None:
            widget.set_continuation_provider(continuation)
        if rewrites is not None:
            widget.set_rewrite_provider(rewrites)
        if token_choices is not None:
            widget.set_token_choices_provider(token_choices)
        widget.setPlainText(text)
        widget.show()
        qtbot.waitExposed(widget)
        widget.activateWindow()
        widget.setFocus()
        cursor = widget.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if select:
            start = text.index(select)
            cursor.setPosition(start)
            cursor.setPosition(start + len(select), QTextCursor.MoveMode.KeepAnchor)
        widget.setTextCursor(cursor)
        return widget

    return make


@pytest.fixture
def dialogs() -> ScriptedDialogs:
    """Answers nothing until a test scripts it: any question fails the test."""
    return ScriptedDialogs()


@pytest.fixture
def workspace(qtbot: QtBot, dialogs: ScriptedDialogs) -> Iterator[WriteWorkspace]:
    """A shown Write workspace asking ``dialogs``."""
    widget = WriteWorkspace(dialogs=dialogs)
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    # stop its journal timers: a snapshot written later would land in the next test's recovery folder
    widget.shutdown()
