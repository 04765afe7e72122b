"""When the cache warmer asks for a warm-up: a document becoming current (its end, when the cursor is at the
start), a far cursor jump, never for small moves or while warming is off. The warm-up itself, on the real
engine, is tested in test_continuation.py."""

from __future__ import annotations

from typing import cast

from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from studio.ui.write.continuation import EngineContinuationProvider
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.warm_up import FAR_JUMP_CHARS, WARM_DELAY_MS, CacheWarmer

TEXT = "".join(f"Line {n} of a long document about the sea.\n" for n in range(400))


class RecordingProvider:
    """Records what would be warmed (the engine side is tested in test_continuation.py)."""

    def __init__(self) -> None:
        self.warmed: list[tuple[str, str]] = []

    def warm(self, prefix: str, suffix: str = "") -> object:
        self.warmed.append((prefix, suffix))
        return object()


def make(qtbot: QtBot, enabled: list[bool]) -> tuple[MarkdownEditor, RecordingProvider, CacheWarmer]:
    editor = MarkdownEditor()
    qtbot.addWidget(editor)
    editor.setPlainText(TEXT)
    provider = RecordingProvider()
    warmer = CacheWarmer(cast(EngineContinuationProvider, provider), lambda: editor, lambda: enabled[0])
    return editor, provider, warmer


def test_an_opened_document_warms_its_end_and_far_jumps_warm_again(qtbot: QtBot) -> None:
    editor, provider, warmer = make(qtbot, [True])
    warmer.document_changed()
    qtbot.waitUntil(lambda: len(provider.warmed) == 1, timeout=5 * WARM_DELAY_MS)
    assert provider.warmed == [(TEXT, "")]

    cursor = editor.textCursor()
    cursor.setPosition(len(TEXT) - 100)
    editor.setTextCursor(cursor)  # a short move: the warm prompt already covers it
    qtbot.wait(3 * WARM_DELAY_MS)
    assert len(provider.warmed) == 1

    cursor.setPosition(len(TEXT) - FAR_JUMP_CHARS - 500)
    editor.setTextCursor(cursor)
    qtbot.waitUntil(lambda: len(provider.warmed) == 2, timeout=5 * WARM_DELAY_MS)
    split = len(TEXT) - FAR_JUMP_CHARS - 500
    assert provider.warmed[1] == (TEXT[:split], TEXT[split:])


def test_nothing_is_warmed_while_warming_is_off(qtbot: QtBot) -> None:
    enabled = [False]
    editor, provider, warmer = make(qtbot, enabled)
    warmer.document_changed()
    qtbot.wait(3 * WARM_DELAY_MS)
    assert provider.warmed == []
    editor.set_suggestions_enabled(False)
    enabled[0] = True
    assert not warmer.warm_now()  # suggestions are off in this editor
    editor.set_suggestions_enabled(True)
    editor.moveCursor(QTextCursor.MoveOperation.End)
    assert warmer.warm_now()
    assert provider.warmed == [(TEXT, "")]
