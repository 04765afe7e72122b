"""A writer's basics in the main window: Open Recent, zoom and font, AI marks, export, the current tab."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from studio.settings import load_settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import MainWindow
from studio.ui.write.workspace import DEFAULT_FONT_SIZE


def make_window(qtbot: QtBot, dialogs: ScriptedDialogs | None = None) -> MainWindow:
    window = MainWindow(None, dialogs or ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def close_window(window: MainWindow) -> None:
    window.write.set_suggestions_enabled(False)
    window.close()


def documents(tmp_path: Path, *names: str) -> list[str]:
    paths = []
    for name in names:
        path = tmp_path / name
        path.write_text(f"# {name}\n", encoding="utf-8")
        paths.append(str(path))
    return paths


def recent_entries(window: MainWindow) -> list[str]:
    return [
        action.statusTip() for action in window.recent_menu.actions() if action.objectName() == "recent_file"
    ]


def test_open_recent_lists_newest_first_and_prunes_missing_files(qtbot: QtBot, tmp_path: Path) -> None:
    one, two = documents(tmp_path, "one.md", "two.md")
    window = make_window(qtbot)
    assert window.open_path(one) and window.open_path(two) and window.open_path(one)
    assert recent_entries(window) == [one, two]
    Path(two).unlink()
    assert not window.open_recent(two)
    assert "two.md" in window.error_label.text() and "removed from Open Recent" in window.error_label.text()
    assert recent_entries(window) == [one]
    # chosen from the menu it opens (here: switches to the open tab)
    window.write.new_document()
    next(a for a in window.recent_menu.actions() if a.objectName() == "recent_file").trigger()
    assert window.write.current_path() == one
    close_window(window)
    again = make_window(qtbot)
    assert again.write.open_paths() == [one]
    assert recent_entries(again) == [one]
    next(a for a in again.recent_menu.actions() if a.objectName() == "clear_recent_files").trigger()
    assert recent_entries(again) == []
    close_window(again)


def test_current_tab_comes_back(qtbot: QtBot, tmp_path: Path) -> None:
    paths = documents(tmp_path, "a.md", "b.md", "c.md")
    window = make_window(qtbot)
    for path in [*paths, paths[0]]:
        assert window.open_path(path)
    window.write.set_current_path(paths[1])
    close_window(window)
    assert load_settings().current_document == 1
    again = make_window(qtbot)
    assert again.write.open_paths() == paths
    assert again.write.current_path() == paths[1]
    # as they were opened, not as they were restored
    assert again.recent_files() == [paths[0], paths[2], paths[1]]
    assert again.windowTitle() == "b.md — Studio"
    close_window(again)


def test_zoom_and_font_are_applied_and_remembered(qtbot: QtBot) -> None:
    window = make_window(
        qtbot, ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, editor_font=QFont("Serif", 15))
    )
    editor = window.write.current_editor()
    assert editor is not None
    assert editor.font().pointSize() == DEFAULT_FONT_SIZE
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    qtbot.keyClick(editor, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert editor.font().pointSize() == DEFAULT_FONT_SIZE + 1  # Ctrl+= zooms once, typed nothing
    assert editor.document_text() == ""
    window.zoom_in_action.trigger()
    assert editor.font().pointSize() == DEFAULT_FONT_SIZE + 2
    window.zoom_out_action.trigger()
    assert editor.font().pointSize() == DEFAULT_FONT_SIZE + 1
    qtbot.keyClick(editor, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert editor.font().pointSize() == DEFAULT_FONT_SIZE
    for _ in range(200):
        window.zoom_out_action.trigger()
    assert editor.font().pointSize() == 6  # never unreadably small
    window.font_action.trigger()
    assert window.dialogs.questions()[-1] == "editor_font"  # type: ignore[attr-defined]
    assert editor.font().pointSize() == 15 and editor.font().family() == QFont("Serif", 15).family()
    window.zoom_in_action.trigger()
    assert editor.font().pointSize() == 16
    close_window(window)
    again = make_window(qtbot)
    editor = again.write.current_editor()
    assert editor is not None
    assert editor.font().pointSize() == 16 and editor.font().family() == QFont("Serif", 15).family()
    close_window(again)


def test_ai_marks_toggle_and_legend(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    editor = window.write.current_editor()
    assert editor is not None
    editor.setPlainText("I wrote this. The AI wrote this.")
    editor.set_ai_ranges([(14, 32)])
    window.write_status.refresh()
    assert window.write_status.ai_label.text() == "AI-written 56%"
    assert "background-color" in window.write_status.ai_label.styleSheet()
    assert window.ai_marks_action.isChecked()
    window.ai_marks_action.trigger()
    assert not window.ai_marks_action.isChecked()
    assert window.write_status.ai_label.styleSheet() == ""
    assert not editor.ai_marks_visible()
    assert editor.ai_ranges() == [(14, 32)]  # hidden, not forgotten
    close_window(window)
    again = make_window(qtbot)
    assert not again.ai_marks_action.isChecked()
    close_window(again)


def test_export_from_the_file_menu(qtbot: QtBot, tmp_path: Path) -> None:
    target = tmp_path / "out.html"
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, export_document=(target, True))
    window = make_window(qtbot, dialogs)
    editor = window.write.current_editor()
    assert editor is not None
    editor.setPlainText("Mine. Theirs.")
    editor.set_ai_ranges([(6, 13)])
    assert window.export_document_action.isVisible()
    window.export_document_action.trigger()
    assert dialogs.asked[-1][0] == "export_document" and dialogs.asked[-1][1][2] is True
    assert 'background-color:#dbe7fb;">Theirs.</span>' in target.read_text(encoding="utf-8")
    assert "Exported out.html (HTML with AI marks)" in window.statusBar().currentMessage()
    dialogs.answers.export_document = (tmp_path / "out.doc", False)
    assert not window.export_document()
    assert ".html, .odt or .pdf" in window.error_label.text()
    assert editor.document_text() == "Mine. Theirs."
    close_window(window)


def test_find_keys_work_in_the_window_and_only_on_write(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    editor = window.write.current_editor()
    assert editor is not None
    editor.setPlainText("alpha beta")
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    qtbot.keyClick(editor, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    bar = window.write.find_bar
    assert bar.isVisible() and bar.replace_visible()
    edit_menu = window.menuBar().actions()[1].menu()
    assert isinstance(edit_menu, QMenu)
    assert "Find…" in [a.text().replace("&", "") for a in edit_menu.actions()]
    window.workspaces.setCurrentIndex(1)
    assert not window.write.find_action.isVisible() and not window.export_document_action.isVisible()
    close_window(window)


def test_write_fits_small_windows_and_its_side_panel_opens_wide_enough(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.resize(800, 600)
    # the Canvas's side column does not set Write's minimum size
    assert window.minimumSizeHint().width() < 500 and window.minimumSizeHint().height() < 480
    window.story_notes_dock.toggle_action.trigger()
    qtbot.waitUntil(window.story_notes_dock.isVisible)
    panel = window.story_notes_dock.widget()
    qtbot.waitUntil(lambda: window.story_notes_dock.width() >= min(panel.sizeHint().width(), 320))
    editor = window.write.current_editor()
    assert editor is not None and editor.width() >= 380  # the text keeps most of the window
    window.workspaces.setCurrentIndex(1)
    assert not window.story_notes_dock.isVisible()
    assert window.minimumSizeHint().width() > 500  # on the Canvas its side column counts again
    window.workspaces.setCurrentIndex(0)
    assert window.story_notes_dock.isVisible()
    close_window(window)
