"""Commands belong to a workspace: menus and shortcuts act on what the user sees, and the Edit menu's
clipboard commands work on the canvas (through the real system clipboard)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from studio.canvas.geometry import Rect
from studio.ui.canvas.qimage import qimage_to_rgba, rgba_to_qimage
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import CANVAS_INDEX, LIST_ENTRY, WRITE_INDEX, MainWindow


def menu(window: MainWindow, title: str) -> QMenu:
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == title:
            found = action.menu()
            assert isinstance(found, QMenu)
            return found
    raise AssertionError(f"no {title} menu")


def shown_texts(menu_: QMenu) -> list[str]:
    return [
        action.text().replace("&", "")
        for action in menu_.actions()
        if action.isVisible() and not action.isSeparator()
    ]


def menu_bar_titles(window: MainWindow) -> list[str]:
    return [action.text().replace("&", "") for action in window.menuBar().actions() if action.isVisible()]


def pattern(width: int, height: int, seed: int = 3) -> np.ndarray:
    """Random RGBA pixels with every alpha value, including fully transparent and half-transparent."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[0, 0, 3] = 0
    pixels[0, 1, 3] = 128
    return pixels


def test_menus_show_the_commands_of_the_visible_workspace(main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(WRITE_INDEX)
    assert menu_bar_titles(window) == ["File", "Edit", "View", "Rewrite", "Models", "Help"]
    assert "Export PNG…" not in shown_texts(menu(window, "File"))
    rewrite = menu(window, "Rewrite")
    rewrite.aboutToShow.emit()  # filled when opened
    instruction = next(a for a in rewrite.actions() if a.text() == "Edit with Instruction…")
    assert instruction.shortcut().toString() == "Ctrl+K"
    edit = shown_texts(menu(window, "Edit"))
    assert "Suggest Continuation" in edit and "Deselect" not in edit
    assert edit.count("Undo") == 1 and edit.count("Paste") == 1

    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    assert menu_bar_titles(window) == ["File", "Edit", "View", "Image", "Layer", "Models", "Help"]
    assert "Generate" in shown_texts(menu(window, "Image"))
    assert "Merge Down" in shown_texts(menu(window, "Layer"))
    assert "Merge Down" not in shown_texts(menu(window, "Image"))
    assert "Export PNG…" in shown_texts(menu(window, "File"))
    edit = shown_texts(menu(window, "Edit"))
    assert "Suggest Continuation" not in edit and "Deselect" in edit
    assert edit.count("Undo") == 1 and edit.count("Paste") == 1 and edit.count("Cut") == 1
    window.close()


def test_shortcuts_are_unique_within_each_workspace(main_window: MainWindow) -> None:
    window = main_window
    for index in (WRITE_INDEX, CANVAS_INDEX):
        window.workspaces.setCurrentIndex(index)
        actions = [
            action
            for menu_ in window.menuBar().findChildren(QMenu)
            for action in menu_.actions()
            if action.isVisible()
            and not action.isSeparator()
            and action.menu() is None
            and not action.property(LIST_ENTRY)
        ]
        assert len(actions) >= 20
        shortcuts = [action.shortcut().toString() for action in actions]
        assert all(shortcuts), [action.text() for action in actions if action.shortcut().isEmpty()]
        assert len(shortcuts) == len(set(shortcuts)), sorted(shortcuts)
        for action in actions:
            assert action.objectName() and action.statusTip(), action.text()
    assert window.job_status.cancel_button.accessibleName()
    window.close()


def test_ctrl_return_while_writing_starts_no_generation(qtbot: QtBot, main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(WRITE_INDEX)
    editor = window.write.current_editor()
    assert editor is not None
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    fired: list[bool] = []
    window.generate_panel.generate_action.triggered.connect(lambda: fired.append(True))
    layers_before = len(window.canvas.document.layers)
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert fired == [] and window.runner.running_jobs == []
    assert len(window.canvas.document.layers) == layers_before
    # the same keys on the Canvas do reach Generate (so the check above could fail)
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    window.canvas.view.setFocus()
    qtbot.waitUntil(window.canvas.view.hasFocus)
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert len(fired) == 1
    window.close()


def test_canvas_shortcuts_do_not_fire_while_writing(qtbot: QtBot, main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(WRITE_INDEX)
    editor = window.write.current_editor()
    assert editor is not None
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    layers_before = len(window.canvas.document.layers)
    new_layer = window.canvas.layers_panel.add_action
    for sequence in new_layer.shortcuts():
        qtbot.keySequence(editor, sequence)
    assert len(window.canvas.document.layers) == layers_before
    assert not new_layer.isVisible()
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    assert new_layer.isVisible() and new_layer.isEnabled()
    window.close()


def test_file_close_on_the_canvas_closes_the_canvas_not_the_document(
    main_window: MainWindow, tmp_path: Path
) -> None:
    text = tmp_path / "notes.md"
    text.write_text("notes\n", encoding="utf-8")
    window = main_window
    assert window.open_path(str(text))
    image = tmp_path / "photo.png"
    Image.new("RGBA", (40, 30), (200, 10, 10, 255)).save(image)
    assert window.open_path(str(image))
    window.canvas.document.add_layer("Sketch")  # an unsaved change
    dialogs = window.dialogs
    assert isinstance(dialogs, ScriptedDialogs)
    dialogs.answers.unsaved_canvas = UnsavedChoice.CANCEL
    window.close_action.trigger()
    assert dialogs.asked == [("unsaved_canvas", ("photo.png",))]
    assert window.canvas.title == "photo.png"  # cancelled: nothing closed
    dialogs.answers.unsaved_canvas = UnsavedChoice.DISCARD
    window.close_action.trigger()
    assert window.canvas.title == "Untitled" and not window.canvas.is_modified
    assert window.workspaces.currentIndex() == CANVAS_INDEX
    assert str(text) in window.write.open_paths()  # the Write document is still open
    # on Write, File ▸ Close closes the document
    window.workspaces.setCurrentIndex(WRITE_INDEX)
    window.close_action.trigger()
    assert str(text) not in window.write.open_paths()
    window.close()


def test_copy_and_paste_round_trip_on_the_canvas(main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    canvas = window.canvas
    canvas.new_canvas(64, 48)
    document = canvas.document
    pixels = pattern(64, 48)
    document.set_layer_pixels(document.active_layer, pixels)
    document.select_rect(Rect(10, 5, 20, 12))
    canvas.copy_action.trigger()
    copied = qimage_to_rgba(QGuiApplication.clipboard().image())
    np.testing.assert_array_equal(copied, pixels[5:17, 10:30])

    layers_before = len(document.layers)
    canvas.paste_action.trigger()
    assert len(document.layers) == layers_before + 1
    pasted = document.active_layer
    assert pasted.name == "Pasted"
    np.testing.assert_array_equal(pasted.pixels[5:17, 10:30], pixels[5:17, 10:30])  # at the selection
    outside = pasted.pixels.copy()
    outside[5:17, 10:30] = 0
    assert not outside.any()
    assert document.history.undo_label == "Paste"
    canvas.undo_action.trigger()
    assert len(document.layers) == layers_before
    window.close()


def test_copy_without_selection_copies_the_whole_layer(main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    canvas = window.canvas
    canvas.new_canvas(32, 24)
    pixels = pattern(32, 24, seed=5)
    canvas.document.set_layer_pixels(canvas.document.active_layer, pixels)
    assert canvas.copy()
    np.testing.assert_array_equal(qimage_to_rgba(QGuiApplication.clipboard().image()), pixels)
    # pasted with no selection into a canvas of the same size: exactly over the original
    layer = canvas.paste()
    assert layer is not None
    np.testing.assert_array_equal(layer.pixels, pixels)
    window.close()


def test_cut_erases_the_selection_in_one_undo_step(main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    canvas = window.canvas
    canvas.new_canvas(40, 40)
    document = canvas.document
    pixels = pattern(40, 40, seed=7)
    layer = document.active_layer
    document.set_layer_pixels(layer, pixels)
    document.select_rect(Rect(4, 6, 10, 8))
    steps = document.history.undo_steps
    canvas.cut_action.trigger()
    np.testing.assert_array_equal(qimage_to_rgba(QGuiApplication.clipboard().image()), pixels[6:14, 4:14])
    assert not layer.pixels[6:14, 4:14, 3].any()
    untouched = np.ones((40, 40), dtype=bool)
    untouched[6:14, 4:14] = False
    np.testing.assert_array_equal(layer.pixels[untouched], pixels[untouched])
    assert document.history.undo_steps == steps + 1
    canvas.undo_action.trigger()
    np.testing.assert_array_equal(layer.pixels, pixels)
    window.close()


def test_paste_takes_images_from_other_apps_and_image_files(main_window: MainWindow, tmp_path: Path) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    canvas = window.canvas
    canvas.new_canvas(50, 40)
    clipboard = QGuiApplication.clipboard()
    # another app's image: any QImage format; placed at the selection's top-left
    foreign = pattern(8, 6, seed=11)
    image = rgba_to_qimage(foreign).convertToFormat(QImage.Format.Format_ARGB32)
    clipboard.setImage(image)
    canvas.document.select_rect(Rect(20, 30, 4, 4))
    layer = canvas.paste()
    assert layer is not None
    np.testing.assert_array_equal(layer.pixels[30:36, 20:28], foreign)
    # a file copied in a file manager
    path = tmp_path / "stamp.png"
    stamp = pattern(5, 7, seed=13)
    Image.fromarray(stamp, "RGBA").save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    clipboard.setMimeData(mime)
    canvas.document.select_rect(Rect(1, 2, 3, 3))
    layer = canvas.paste()
    assert layer is not None
    np.testing.assert_array_equal(layer.pixels[2:9, 1:6], stamp)
    window.close()


def test_paste_of_text_on_the_canvas_gives_a_message_and_changes_nothing(
    main_window: MainWindow, tmp_path: Path
) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    canvas = window.canvas
    QGuiApplication.clipboard().setText("just some words")
    layers_before = len(canvas.document.layers)
    steps = canvas.document.history.undo_steps
    canvas.paste_action.trigger()
    assert len(canvas.document.layers) == layers_before
    assert canvas.document.history.undo_steps == steps
    assert window.error_label.isVisible() and "no image" in window.error_label.text()
    # a file that is not an image, copied in a file manager
    notes = tmp_path / "notes.txt"
    notes.write_text("words", encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(notes))])
    QGuiApplication.clipboard().setMimeData(mime)
    canvas.paste_action.trigger()
    assert len(canvas.document.layers) == layers_before
    assert "notes.txt" in window.error_label.text()
    window.close()


def test_paste_without_selection_lands_in_the_middle_of_what_is_visible(main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    canvas = window.canvas
    canvas.new_canvas(64, 48)
    canvas.fit_action.trigger()  # the whole canvas is visible, centred
    QGuiApplication.clipboard().setImage(rgba_to_qimage(np.full((6, 8, 4), 255, dtype=np.uint8)))
    layer = canvas.paste()
    assert layer is not None
    bounds = layer.content_bounds()
    assert bounds is not None and bounds.size == (8, 6)
    assert abs(bounds.x - 28) <= 1 and abs(bounds.y - 21) <= 1
    window.close()


def test_the_canvas_fits_an_800_by_600_window(qtbot: QtBot, main_window: MainWindow) -> None:
    window = main_window
    window.resize(800, 600)
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    qtbot.waitUntil(lambda: window.canvas.view.isVisible())
    assert window.width() <= 800  # the tool options scroll instead of widening the window
    for panel in window.canvas.side_panels():
        assert panel.width() >= panel.minimumSizeHint().width(), panel.accessibleName()
    window.close()


def test_edit_menu_on_write_acts_on_the_current_document(main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(WRITE_INDEX)
    editor = window.write.current_editor()
    assert editor is not None
    edit = [action for action in menu(window, "Edit").actions() if action.isVisible()]
    assert window.write.paste_action in edit and window.canvas.paste_action not in edit
    QGuiApplication.clipboard().setText("pasted words")
    window.write.paste_action.trigger()
    assert editor.toPlainText() == "pasted words"
    window.write.select_all_action.trigger()
    window.write.cut_action.trigger()
    assert editor.toPlainText() == "" and QGuiApplication.clipboard().text() == "pasted words"
    window.write.undo_action.trigger()
    assert editor.toPlainText() == "pasted words"
    window.close()


def test_clipboard_keys_in_the_prompt_box_edit_text_not_pixels(qtbot: QtBot, main_window: MainWindow) -> None:
    window = main_window
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    prompt = window.generate_panel.prompt_edit
    prompt.setFocus()
    qtbot.waitUntil(prompt.hasFocus)
    QGuiApplication.clipboard().setText("a lighthouse")
    layers_before = len(window.canvas.document.layers)
    qtbot.keyClick(prompt, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert prompt.toPlainText() == "a lighthouse"
    assert len(window.canvas.document.layers) == layers_before and not window.error_label.isVisible()
    # in the canvas view the same keys paste pixels
    QGuiApplication.clipboard().setImage(rgba_to_qimage(pattern(4, 4)))
    window.canvas.view.setFocus()
    qtbot.waitUntil(window.canvas.view.hasFocus)
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(window.canvas.document.layers) == layers_before + 1
    window.close()
