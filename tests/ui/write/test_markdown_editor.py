"""The Markdown editor's ghost-text suggestions, driven by a scripted provider that plays the engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QColor, QKeySequence, QPalette, QTextCursor
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.markdown_highlighter import contrast_ratio

if TYPE_CHECKING:
    from tests.ui.write.conftest import ContinuationCall, MakeEditor, ScriptedProvider


@pytest.fixture
def editor(make_editor: MakeEditor, provider: ScriptedProvider) -> MarkdownEditor:
    return make_editor(continuation=provider)


def set_text(editor: MarkdownEditor, text: str, cursor_at: int | None = None) -> None:
    editor.setPlainText(text)
    if cursor_at is None:
        editor.moveCursor(QTextCursor.MoveOperation.End)
    else:
        cursor = editor.textCursor()
        cursor.setPosition(cursor_at)
        editor.setTextCursor(cursor)


def suggest(
    editor: MarkdownEditor, provider: ScriptedProvider, *tokens: str, finish: bool = True
) -> ContinuationCall:
    assert editor.request_suggestion()
    call = provider.last
    for token in tokens:
        call.on_tokens(token)
    if finish:
        call.on_finished()
    return call


def test_pause_in_typing_requests_continuation_with_prefix_and_suffix(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Once upon\n\nThe end.", cursor_at=len("Once upon"))
    states: list[str] = []
    editor.suggestion_state_changed.connect(states.append)
    qtbot.keyClicks(editor, " a time")
    assert provider.calls == []  # still typing: the 60 s pause has not passed

    editor.set_suggestion_delay(30)
    qtbot.keyClicks(editor, ",")
    qtbot.waitUntil(lambda: len(provider.calls) == 1)
    call = provider.last
    assert call.prefix == "Once upon a time,"
    assert call.suffix == "\n\nThe end."
    assert editor.suggestion_state() == "waiting"

    call.on_tokens(" there")
    call.on_tokens(" lived a fox")
    assert editor.suggestion_state() == "streaming"
    assert editor.ghost_text() == " there lived a fox"
    assert editor.toPlainText() == "Once upon a time,\n\nThe end."
    call.on_finished()
    assert editor.suggestion_state() == "idle"
    assert editor.ghost_text() == " there lived a fox"
    assert states == ["waiting", "streaming", "idle"]


def test_no_request_while_disabled_or_with_selection(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Some text")
    editor.set_suggestions_enabled(False)
    assert not editor.request_suggestion()
    assert not editor.suggest_action.isEnabled()
    editor.set_suggestions_enabled(True)
    editor.selectAll()
    assert not editor.request_suggestion()
    assert provider.calls == []


def test_shortcut_action_requests_on_demand(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Hello")
    assert editor.suggest_action.text() == "Suggest Continuation"
    assert editor.suggest_action.shortcut().toString() in ("Ctrl+Space", "Meta+Space")
    qtbot.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    assert len(provider.calls) == 1
    assert provider.last.prefix == "Hello"
    assert editor.toPlainText() == "Hello"


def test_shortcut_wins_over_a_window_action_on_the_same_keys(
    qtbot: QtBot, provider: ScriptedProvider
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    window_action = QAction("Suggest (window)", window)
    window_action.setShortcut(QKeySequence("Ctrl+Space"))
    window_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    window_triggers: list[bool] = []
    window_action.triggered.connect(window_triggers.append)
    window.addAction(window_action)
    editor = MarkdownEditor(window)
    editor.set_continuation_provider(provider)
    layout = QVBoxLayout(window)
    layout.addWidget(editor)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    editor.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is editor)  # shortcuts only work in the active window
    set_text(editor, "Hello")
    qtbot.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    assert len(provider.calls) == 1
    assert window_triggers == []


def test_ghost_text_is_painted_but_not_in_document(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider, tmp_path: Path
) -> None:
    text = (
        "# Chapter One\n\nThe night was *dark* and `quiet`. She walked to the door and\n\n> A quote\n- item"
    )
    set_text(editor, text, cursor_at=text.index("\n\n> A quote"))
    caret = editor.cursorRect()
    before = editor.viewport().grab().toImage()

    suggest(
        editor,
        provider,
        " opened it slowly, letting the cold air spill",
        " into the hallway.\nOutside, all was still.",
    )
    assert editor.toPlainText() == text
    assert editor.document_text() == text
    assert editor.grab().save(str(tmp_path / "ghost.png"))  # kept with the test run, to look at
    after = editor.viewport().grab().toImage()

    # Grey pixels appear right of the caret on its line, and on the row below (the wrapped/second line).
    base = editor.palette().color(QPalette.ColorRole.Base)
    text_color = editor.palette().color(QPalette.ColorRole.Text)

    def inked(image_row: int, x_from: int, x_to: int) -> list[QColor]:
        return [
            after.pixelColor(x, image_row)
            for x in range(x_from, x_to)
            if after.pixelColor(x, image_row) != before.pixelColor(x, image_row)
            and after.pixelColor(x, image_row) != base
        ]

    mid = caret.center().y()
    ghost_ink = inked(mid, caret.right() + 2, editor.viewport().width()) + inked(
        mid + caret.height(), 0, editor.viewport().width()
    )
    assert ghost_ink, "no ghost text painted after the caret"
    assert inked(mid + 2 * caret.height(), 0, editor.viewport().width()), "no ghost text on the rows below"
    # Ghost ink is lighter than the document's text colour (grey, not black).
    darkest = min(ghost_ink, key=lambda c: c.lightness())
    assert darkest.lightness() > text_color.lightness() + 40


def test_multi_line_ghost_text_moves_the_lines_below_down(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    text = "First paragraph ends here\n\nThe next paragraph."
    set_text(editor, text, cursor_at=len("First paragraph ends here"))
    below = editor.document().findBlockByNumber(2)
    top_before = editor.blockBoundingGeometry(below).top()
    suggest(editor, provider, " and goes on.\nA second line.\nA third line.")
    assert editor.document_text() == text
    assert editor.blockBoundingGeometry(below).top() >= top_before + 2 * editor.fontMetrics().height()
    editor.dismiss_suggestion()
    assert editor.blockBoundingGeometry(below).top() == top_before
    assert editor.document_text() == text


def test_tab_accepts_all_and_one_undo_removes_it(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Title\n")
    qtbot.keyClicks(editor, "It was")
    suggest(editor, provider, " a dark", " and stormy night.\nRain fell.")
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == "Title\nIt was a dark and stormy night.\nRain fell."
    assert editor.ghost_text() == ""
    assert editor.textCursor().position() == len(editor.toPlainText())
    assert editor.ai_ranges() == [(len("Title\nIt was"), len(editor.toPlainText()))]

    editor.undo()
    assert editor.toPlainText() == "Title\nIt was"
    assert editor.ai_ranges() == []


def test_tab_without_suggestion_inserts_tab(qtbot: QtBot, editor: MarkdownEditor) -> None:
    set_text(editor, "a")
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == "a\t"


def test_ctrl_right_accepts_next_word(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "She said")
    suggest(editor, provider, " hello, world again")
    qtbot.keyClick(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == "She said hello"
    assert editor.ghost_text() == ", world again"
    qtbot.keyClick(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == "She said hello, world"
    assert editor.ghost_text() == " again"
    assert editor.ai_ranges() == [(8, 21)]  # adjacent word accepts merge into one range

    editor.undo()
    assert editor.toPlainText() == "She said hello,"


def test_escape_dismisses_and_cancels_running_generation(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Text")
    call = suggest(editor, provider, " more", finish=False)
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert editor.ghost_text() == ""
    assert call.handle.cancelled == 1
    assert editor.suggestion_state() == "idle"
    call.on_tokens(" late tokens")  # arrives after cancel: ignored
    assert editor.ghost_text() == ""
    assert editor.toPlainText() == "Text"


def test_matching_typing_consumes_and_keeps_the_rest(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "The cat")
    call = suggest(editor, provider, " sat on", finish=False)
    qtbot.keyClicks(editor, " sa")
    assert editor.toPlainText() == "The cat sa"
    assert editor.ghost_text() == "t on"
    assert call.handle.cancelled == 0
    call.on_tokens(" the mat.")
    assert editor.ghost_text() == "t on the mat."
    call.on_finished()
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == "The cat sat on the mat."
    assert editor.ai_ranges() == [(10, 23)]  # only the accepted part; the typed " sa" is the user's


def test_matching_enter_consumes_newline(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Line one")
    suggest(editor, provider, "\nLine two")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert editor.toPlainText() == "Line one\n"
    assert editor.ghost_text() == "Line two"


def test_mismatching_typing_dismisses_and_cancels(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "The cat")
    call = suggest(editor, provider, " sat", finish=False)
    qtbot.keyClicks(editor, "s")
    assert editor.ghost_text() == ""
    assert call.handle.cancelled == 1
    assert editor.toPlainText() == "The cats"


def test_cursor_move_and_click_dismiss(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Hello there")
    call = suggest(editor, provider, " friend", finish=False)
    qtbot.keyClick(editor, Qt.Key.Key_Left)
    assert editor.ghost_text() == ""
    assert call.handle.cancelled == 1

    editor.moveCursor(QTextCursor.MoveOperation.End)
    suggest(editor, provider, " friend")
    qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert editor.ghost_text() == ""


def test_modifier_key_alone_keeps_suggestion(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Hello")
    suggest(editor, provider, " world")
    qtbot.keyClick(editor, Qt.Key.Key_Control)
    qtbot.keyClick(editor, Qt.Key.Key_Shift)
    assert editor.ghost_text() == " world"


def test_programmatic_document_change_dismisses(editor: MarkdownEditor, provider: ScriptedProvider) -> None:
    set_text(editor, "Hello")
    call = suggest(editor, provider, " world", finish=False)
    cursor = QTextCursor(editor.document())
    cursor.insertText("Oh. ")
    assert editor.ghost_text() == ""
    assert call.handle.cancelled == 1


def test_suggestion_for_a_position_left_behind_is_dropped(
    qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "First line\nSecond line")
    call = suggest(editor, provider, finish=False)
    editor.blockSignals(True)  # even if the editor missed the move, the late tokens must not land
    editor.moveCursor(QTextCursor.MoveOperation.Start)
    editor.blockSignals(False)
    call.on_tokens(" and more")
    assert editor.ghost_text() == ""
    assert call.handle.cancelled == 1

    editor.moveCursor(QTextCursor.MoveOperation.End)
    first = suggest(editor, provider, finish=False)
    second = suggest(editor, provider, finish=False)  # a new request supersedes the old one
    assert first.handle.cancelled == 1
    first.on_tokens(" stale")
    second.on_tokens(" fresh")
    assert editor.ghost_text() == " fresh"


def test_failure_clears_and_reports(editor: MarkdownEditor, provider: ScriptedProvider) -> None:
    set_text(editor, "Hello")
    failures: list[str] = []
    editor.suggestion_failed.connect(failures.append)
    call = suggest(editor, provider, " wor", finish=False)
    call.on_failed("model crashed")
    assert failures == ["model crashed"]
    assert editor.ghost_text() == ""
    assert editor.suggestion_state() == "idle"


def test_provenance_follows_edits(qtbot: QtBot, editor: MarkdownEditor, provider: ScriptedProvider) -> None:
    set_text(editor, "Intro. ")
    suggest(editor, provider, "The AI wrote this.")
    editor.accept_suggestion()
    assert editor.ai_ranges() == [(7, 25)]
    assert editor.toPlainText()[7:25] == "The AI wrote this."

    cursor = QTextCursor(editor.document())
    cursor.insertText(">> ")  # before the range: it shifts
    assert editor.ai_ranges() == [(10, 28)]

    qtbot.keyClicks(editor, " Mine.")  # typing right after the range is not AI text
    assert editor.ai_ranges() == [(10, 28)]

    cursor.setPosition(10 + len("The AI"))
    cursor.insertText(" (human)")  # inside: splits the range
    text = editor.toPlainText()
    assert [text[s:e] for s, e in editor.ai_ranges()] == ["The AI", " wrote this."]

    cursor.setPosition(10)
    cursor.setPosition(14, QTextCursor.MoveMode.KeepAnchor)
    cursor.removeSelectedText()  # cut the start of the first range
    text = editor.toPlainText()
    assert [text[s:e] for s, e in editor.ai_ranges()] == ["AI", " wrote this."]
    assert editor.extraSelections()  # shown subtly in the view


def test_provenance_and_prefix_use_python_indices_with_emoji(
    editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "Smile 😀 then")
    call = suggest(editor, provider, " laugh")
    assert call.prefix == "Smile 😀 then"
    editor.accept_suggestion()
    text = editor.toPlainText()
    [(start, end)] = editor.ai_ranges()
    assert text[start:end] == " laugh"


def test_accepting_multiline_suggestion_with_crlf_tokens(
    editor: MarkdownEditor, provider: ScriptedProvider
) -> None:
    set_text(editor, "A")
    suggest(editor, provider, "\r", "\nB\r\nC")
    assert editor.ghost_text() == "\nB\nC"
    editor.accept_suggestion()
    assert editor.toPlainText() == "A\nB\nC"
    assert editor.document().blockCount() == 3


def test_highlighter_colours_work_on_light_and_dark_palettes(qtbot: QtBot, editor: MarkdownEditor) -> None:
    set_text(editor, "# Heading\nsome **bold** and `code`\n")
    light = QPalette(QColor("#202020"), QColor("#f0f0f0"))
    light.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    light.setColor(QPalette.ColorRole.Text, QColor("#111111"))
    dark = QPalette(QColor("#e0e0e0"), QColor("#2b2b2b"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e8e8e8"))
    dark.setColor(QPalette.ColorRole.Link, QColor("#0000ff"))  # a default link blue unreadable on dark
    for palette in (light, dark):
        editor.setPalette(palette)
        base = palette.color(QPalette.ColorRole.Base)
        heading_block = editor.document().findBlockByNumber(0)
        heading = [r for r in heading_block.layout().formats() if r.start <= 2 < r.start + r.length]
        assert heading and heading[0].format.fontWeight() >= 700
        assert contrast_ratio(heading[0].format.foreground().color(), base) >= 4.5
        link = editor._highlighter.format_for("link")
        assert contrast_ratio(link.foreground().color(), base) >= 4.5
        body = editor.document().findBlockByNumber(1).layout().formats()
        bold = [r for r in body if r.start <= len("some **") < r.start + r.length]
        code = [r for r in body if r.start <= len("some **bold** and `") < r.start + r.length]
        assert bold and bold[0].format.fontWeight() >= 700
        assert code and code[0].format.background().color() != base
