"""Ghost-text extras: an empty continuation says so, and Alt+] / Alt+[ cycle continuation alternatives."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from studio.ui.write.editor import MarkdownEditor

if TYPE_CHECKING:
    from tests.ui.write.conftest import MakeEditor, ScriptedProvider


@pytest.fixture
def editor(make_editor: MakeEditor, provider: ScriptedProvider) -> MarkdownEditor:
    return make_editor("Once upon a time", continuation=provider)


def test_whitespace_only_continuation_says_so(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    states: list[str] = []
    editor.suggestion_state_changed.connect(states.append)
    assert editor.request_suggestion()
    with qtbot.waitSignal(editor.suggestion_empty):
        provider.calls[0].on_tokens("  \n ")
        provider.calls[0].on_finished()
    assert editor.suggestion_state() == "empty" and states[-1] == "empty"
    assert editor.ghost_text() == "" and editor.document_text() == "Once upon a time"
    qtbot.keyClicks(editor, ",")
    assert editor.suggestion_state() == "idle"


def test_alt_brackets_cycle_continuation_alternatives(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    editor.request_suggestion()
    provider.calls[0].on_tokens(" there was a fox.")
    provider.calls[0].on_finished()
    qtbot.keyClick(editor, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.AltModifier)
    assert len(provider.calls) == 2 and provider.calls[1].seed is not None
    assert provider.calls[1].prefix == provider.calls[0].prefix
    provider.calls[1].on_tokens(" lived a queen.")
    provider.calls[1].on_finished()
    assert editor.ghost_text() == " lived a queen."
    assert editor.suggestion_alternatives() == [" there was a fox.", " lived a queen."]
    qtbot.keyClick(editor, Qt.Key.Key_BracketLeft, Qt.KeyboardModifier.AltModifier)
    assert editor.ghost_text() == " there was a fox."
    qtbot.keyClick(editor, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.AltModifier)
    assert editor.ghost_text() == " lived a queen." and len(provider.calls) == 2  # kept, not regenerated
    qtbot.keyClick(editor, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.AltModifier)
    assert len(provider.calls) == 3 and provider.calls[2].seed not in (None, provider.calls[1].seed)
    qtbot.keyClick(editor, Qt.Key.Key_BracketLeft, Qt.KeyboardModifier.AltModifier)  # cancels the running one
    assert provider.calls[2].handle.cancelled == 1 and editor.ghost_text() == " lived a queen."
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.document_text() == "Once upon a time lived a queen."
    assert editor.document().findBlockByNumber(0).layout().preeditAreaText() == ""
