"""Redo answers both Ctrl+Y and Ctrl+Shift+Z (and the platform's own Redo keys) in both workspaces, pressed
as a user presses them in the real main window."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence, QTextCursor
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from studio.ui.main_window import CANVAS_INDEX, WRITE_INDEX, MainWindow


def press(qtbot: QtBot, widget: QWidget, keys: str) -> None:
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget)
    qtbot.keySequence(widget, QKeySequence(keys))


@pytest.mark.parametrize("keys", ["Ctrl+Y", "Ctrl+Shift+Z"])
def test_write_redoes_on_both_keys(qtbot: QtBot, main_window: MainWindow, keys: str) -> None:
    main_window.workspaces.setCurrentIndex(WRITE_INDEX)
    editor = main_window.write.current_editor()
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "abc")
    editor.moveCursor(QTextCursor.MoveOperation.Start)  # a second undo step
    qtbot.keyClicks(editor, "x")
    assert editor.document_text() == "xabc"
    press(qtbot, editor, "Ctrl+Z")
    press(qtbot, editor, "Ctrl+Z")
    assert editor.document_text() == ""
    press(qtbot, editor, keys)
    assert editor.document_text() == "abc"  # one press, one step
    press(qtbot, editor, keys)
    assert editor.document_text() == "xabc"
    menu_keys = [sequence.toString() for sequence in main_window.write.redo_action.shortcuts()]
    assert set(menu_keys) >= {"Ctrl+Y", "Ctrl+Shift+Z"} and len(menu_keys) == len(set(menu_keys))  # each once
    main_window.close()


@pytest.mark.parametrize("keys", ["Ctrl+Y", "Ctrl+Shift+Z"])
def test_canvas_redoes_on_both_keys(qtbot: QtBot, main_window: MainWindow, keys: str) -> None:
    main_window.workspaces.setCurrentIndex(CANVAS_INDEX)
    canvas = main_window.canvas
    layers = len(canvas.document.layers)
    canvas.layers_panel.add_action.trigger()
    assert len(canvas.document.layers) == layers + 1
    press(qtbot, canvas.view, "Ctrl+Z")
    assert len(canvas.document.layers) == layers
    press(qtbot, canvas.view, keys)
    assert len(canvas.document.layers) == layers + 1
    assert canvas.document.history.redo_steps == 0
    main_window.close()


def test_redo_keys_reach_only_the_visible_workspace(qtbot: QtBot, main_window: MainWindow) -> None:
    main_window.workspaces.setCurrentIndex(CANVAS_INDEX)
    canvas = main_window.canvas
    layers = len(canvas.document.layers)
    canvas.layers_panel.add_action.trigger()
    press(qtbot, canvas.view, "Ctrl+Z")
    main_window.workspaces.setCurrentIndex(WRITE_INDEX)
    editor = main_window.write.current_editor()
    assert editor is not None
    for keys in ("Ctrl+Y", "Ctrl+Shift+Z"):
        press(qtbot, editor, keys)
    assert len(canvas.document.layers) == layers  # the hidden Canvas redid nothing
    assert canvas.document.history.redo_steps == 1
    assert editor.document_text() == ""
    main_window.close()
