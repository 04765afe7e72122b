"""Find and replace in the Write workspace: the find bar driven with qtbot on real editors."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.find_replace import FindError, FindOptions, find_all
from studio.ui.write.workspace import WriteWorkspace

TEXT = "The cat sat. A Cat scattered the cats.\nCAT café 🐈 cat\n"


def editor_with(workspace: WriteWorkspace, text: str) -> MarkdownEditor:
    editor = workspace.new_document()
    editor.setPlainText(text)
    cursor = editor.textCursor()
    cursor.setPosition(0)
    editor.setTextCursor(cursor)
    return editor


def focus(qtbot: QtBot, editor: MarkdownEditor) -> None:
    editor.window().activateWindow()
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)


def selected(editor: MarkdownEditor) -> tuple[int, int, str]:
    cursor = editor.textCursor()
    return cursor.selectionStart(), cursor.selectionEnd(), cursor.selectedText()


def test_options_match_case_whole_word_and_regex() -> None:
    spans = lambda options: [(m.start(), m.group()) for m in find_all(TEXT, options)]  # noqa: E731
    assert [g for _s, g in spans(FindOptions("cat"))] == ["cat", "Cat", "cat", "cat", "CAT", "cat"]
    assert [g for _s, g in spans(FindOptions("cat", match_case=True))] == ["cat", "cat", "cat", "cat"]
    assert [g for _s, g in spans(FindOptions("cat", whole_word=True))] == ["cat", "Cat", "CAT", "cat"]
    assert [g for _s, g in spans(FindOptions(r"c\w+s\b", regex=True))] == ["cats"]
    # plain text is not a pattern: the dot is a dot
    assert spans(FindOptions("t.", match_case=True)) == [(TEXT.index("t."), "t.")]
    assert find_all(TEXT, FindOptions("")) == []
    with pytest.raises(FindError, match="Invalid regular expression"):
        find_all(TEXT, FindOptions("(cat", regex=True))


def test_ctrl_f_finds_next_and_previous_with_wrap(qtbot: QtBot, workspace: WriteWorkspace) -> None:
    editor = editor_with(workspace, TEXT)
    focus(qtbot, editor)
    qtbot.keyClick(editor, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    bar = workspace.find_bar
    assert bar.isVisible() and not bar.replace_visible()
    assert bar.find_edit.hasFocus()
    bar.word_box.setChecked(True)
    qtbot.keyClicks(bar.find_edit, "cat")
    # typing found the first whole word "cat" from the cursor
    assert selected(editor) == (4, 7, "cat")
    qtbot.keyClick(bar.find_edit, Qt.Key.Key_Return)
    assert selected(editor)[2] == "Cat"
    assert bar.status.text() == "2 of 4"
    qtbot.keyClick(bar.find_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert selected(editor) == (4, 7, "cat")
    # before the first match: back to the last one, past the emoji (two UTF-16 units)
    assert bar.find_previous()
    start, _end, text = selected(editor)
    assert text == "cat" and start == len(TEXT.encode("utf-16-le")) // 2 - 4
    assert "wrapped" in bar.status.text()
    assert bar.find_next()
    assert selected(editor) == (4, 7, "cat")
    bar.case_box.setChecked(True)
    assert bar.status.text() == "1 of 2"
    qtbot.keyClick(bar.find_edit, Qt.Key.Key_Escape)
    assert not bar.isVisible()
    qtbot.waitUntil(editor.hasFocus)


def test_replace_all_is_one_undo_step(qtbot: QtBot, workspace: WriteWorkspace) -> None:
    editor = editor_with(workspace, TEXT)
    focus(qtbot, editor)
    qtbot.keyClick(editor, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    bar = workspace.find_bar
    assert bar.isVisible() and bar.replace_visible()
    bar.regex_box.setChecked(True)
    bar.find_edit.setText(r"\b(c)at(s?)\b")
    bar.replace_edit.setText(r"\1og\2")
    assert bar.replace_all() == 5
    assert editor.document_text() == "The cog sat. A Cog scattered the cogs.\nCog café 🐈 cog\n"
    assert bar.status.text() == "Replaced 5 matches"
    editor.undo()
    assert editor.document_text() == TEXT
    editor.redo()
    assert "cogs" in editor.document_text()


def test_replace_current_replaces_the_selected_match_only(qtbot: QtBot, workspace: WriteWorkspace) -> None:
    editor = editor_with(workspace, "one two one two one")
    workspace.find_bar.show_replace()
    bar = workspace.find_bar
    bar.find_edit.setText("one")
    bar.replace_edit.setText("1")
    assert selected(editor) == (0, 3, "one")
    qtbot.keyClick(bar.replace_edit, Qt.Key.Key_Return)
    assert editor.document_text() == "1 two one two one"
    assert selected(editor)[2] == "one"  # the next match is selected, not replaced yet
    assert bar.replace_current()
    assert editor.document_text() == "1 two 1 two one"
    editor.undo()
    assert editor.document_text() == "1 two one two one"


def test_invalid_regex_says_so_and_changes_nothing(qtbot: QtBot, workspace: WriteWorkspace) -> None:
    editor = editor_with(workspace, TEXT)
    bar = workspace.find_bar
    bar.show_replace()
    bar.regex_box.setChecked(True)
    bar.find_edit.setText("(cat")
    assert bar.status.text() == "Invalid regular expression"
    assert "missing )" in bar.status.toolTip()
    assert bar.replace_all() == 0 and not bar.find_next()
    bar.find_edit.setText("(cat)")
    bar.replace_edit.setText(r"\2")  # no such group
    assert bar.replace_all() == 0
    assert bar.status.text() == "Invalid replacement"
    assert editor.document_text() == TEXT
    assert not editor.document().isUndoAvailable()


def test_find_seeds_from_the_selection_and_f3_finds_again(qtbot: QtBot, workspace: WriteWorkspace) -> None:
    editor = editor_with(workspace, "alpha beta alpha")
    cursor = editor.textCursor()
    cursor.setPosition(0)
    cursor.movePosition(QTextCursor.MoveOperation.EndOfWord, QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    workspace.find_action.trigger()
    assert workspace.find_bar.find_edit.text() == "alpha"
    focus(qtbot, editor)
    qtbot.keyClick(editor, Qt.Key.Key_F3)
    assert selected(editor) == (11, 16, "alpha")
