"""Panels the main window connects: the Canvas history panel and the Write rewrite status."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from studio.canvas.png_metadata import GenerationInfo
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import MainWindow


def make_window(qtbot: QtBot) -> MainWindow:
    window = MainWindow(None, ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_history_load_settings_fills_the_generate_panel(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    info = GenerationInfo.from_settings({"prompt": "a lighthouse at dusk", "seed": 1234, "steps": 7})
    window.canvas.history_panel.load_settings_requested.emit(info)
    panel = window.generate_panel
    assert panel.prompt_edit.toPlainText() == "a lighthouse at dusk"
    assert panel.steps_spin.value() == 7
    window.write.set_suggestions_enabled(False)
    window.close()


def test_rewrite_and_empty_suggestion_messages_reach_the_status_bar(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    editor = window.write.current_editor()
    assert editor is not None
    editor.rewrite_status.emit("Rewriting: Shorten…")
    assert window.statusBar().currentMessage() == "Rewriting: Shorten…"
    editor.rewrite_status.emit("")
    assert window.statusBar().currentMessage() == ""
    editor.suggestion_empty.emit()
    assert "suggested nothing" in window.statusBar().currentMessage()
    # another tab's editor does not speak for the current one
    other = editor
    window.write.new_document()
    other.rewrite_status.emit("from a hidden tab")
    assert window.statusBar().currentMessage() != "from a hidden tab"
    window.write.set_suggestions_enabled(False)
    window.close()


def test_illustrate_passage_opens_on_the_selection_of_a_saved_document(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtGui import QTextCursor

    from studio.ui.write.illustrate import IllustrateDialog

    window = make_window(qtbot)
    story = tmp_path / "story.md"
    story.write_text("The keeper climbed the stairs. The lamp was cold.\n", encoding="utf-8")
    assert window.open_path(str(story))
    editor = window.write.current_editor()
    assert editor is not None
    # no selection: it says what to do instead
    window.illustrate_action.trigger()
    assert "Select the passage" in window.error_label.text()
    assert window.findChild(IllustrateDialog) is None
    cursor = editor.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(len("The keeper climbed the stairs."), QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    window.rewrite_menu.aboutToShow.emit()
    assert window.illustrate_action in window.rewrite_menu.actions()
    window.illustrate_action.trigger()
    dialog = window.findChild(IllustrateDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.passage == "The keeper climbed the stairs."
    dialog.reject()
    assert editor.document_text() == story.read_text(encoding="utf-8")
    window.write.set_suggestions_enabled(False)
    window.close()
