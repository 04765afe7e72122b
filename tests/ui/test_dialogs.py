"""The one dialogs interface: the real Qt dialogs, the scripted stand-in, and the main window asking through it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import QApplication, QCheckBox, QFileDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from studio.settings import Settings
from studio.ui.dialogs import (
    ANSWER_NAMES,
    Dialogs,
    QtDialogs,
    ScriptedDialogs,
    UnexpectedQuestion,
    UnsavedChoice,
)
from studio.ui.main_window import CANVAS_INDEX, MainWindow


def test_an_unscripted_question_fails_loudly_naming_it() -> None:
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD)
    assert dialogs.unsaved_changes("notes.md") is UnsavedChoice.DISCARD
    with pytest.raises(UnexpectedQuestion, match=r"restore_work\(\['notes\.md'\],\)"):
        dialogs.restore_work(["notes.md"])
    assert dialogs.asked == [("unsaved_changes", ("notes.md",)), ("restore_work", (["notes.md"],))]


def test_an_unknown_answer_name_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match=r"unsaved_change\b.*known: unsaved_changes"):
        ScriptedDialogs(unsaved_change=UnsavedChoice.SAVE)


def test_lenient_dialogs_answer_cancel_to_unscripted_questions() -> None:
    dialogs = ScriptedDialogs(strict=False)
    assert dialogs.unsaved_canvas("Untitled") is UnsavedChoice.CANCEL
    assert dialogs.canvas_save_path() is None
    assert dialogs.canvas_size() is None
    assert dialogs.overwrite_changed_file("changed") is False
    assert dialogs.colour(QColor(1, 2, 3)) is None
    assert dialogs.questions() == [
        "unsaved_canvas",
        "canvas_save_path",
        "canvas_size",
        "overwrite_changed_file",
        "colour",
    ]


def test_answers_are_values_or_functions_of_the_question(tmp_path: Path) -> None:
    dialogs = ScriptedDialogs(
        untitled_save_path=lambda title: tmp_path / f"{title}.md",
        image_model_path=lambda folder, start: "" if folder else str(tmp_path / "m.safetensors"),
        canvas_size=(640, 480),
        resize_canvas=lambda width, height: (width * 2, height, (0.5, 0)),
        resize_image=(32, 24, "lanczos"),
        colour=lambda current: QColor(current.red(), 200, 0),
    )
    assert dialogs.untitled_save_path("Untitled 1") == str(tmp_path / "Untitled 1.md")
    assert dialogs.image_model_path(False, "") == str(tmp_path / "m.safetensors")
    assert dialogs.image_model_path(True, "") is None  # an empty path is a cancel
    assert dialogs.canvas_size() == (640, 480)
    assert dialogs.resize_canvas(100, 50) == (200, 50, (0.5, 0.0))
    assert dialogs.resize_image(64, 48) == (32, 24, "lanczos")
    colour = dialogs.colour(QColor(9, 9, 9))
    assert colour is not None and colour.getRgb() == (9, 200, 0, 255)


def test_every_question_has_a_real_dialog_and_a_scripted_answer() -> None:
    asked = {name for name in dir(Dialogs) if not name.startswith("_")}
    assert asked == set(ANSWER_NAMES)
    for name in asked:
        assert callable(getattr(QtDialogs, name)) and callable(getattr(ScriptedDialogs, name))


def answer_modal_box(button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Click ``button`` on the message box that is about to block (polling until it is up)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(0, click)


@pytest.mark.parametrize(
    ("ask", "button", "expected"),
    [
        (lambda d: d.unsaved_changes("notes.md"), QMessageBox.StandardButton.Discard, UnsavedChoice.DISCARD),
        (lambda d: d.unsaved_canvas("photo.png"), QMessageBox.StandardButton.Cancel, UnsavedChoice.CANCEL),
        (lambda d: d.restore_work(["notes.md"]), QMessageBox.StandardButton.Yes, True),
        (
            lambda d: d.overwrite_changed_file("notes.md changed on disk."),
            QMessageBox.StandardButton.No,
            False,
        ),
        (
            lambda d: d.load_too_big("notes.md-model.gguf", "Needs about 9 GiB but only 2 GiB is free."),
            QMessageBox.StandardButton.No,
            False,
        ),
    ],
)
def test_the_qt_dialogs_ask_with_a_message_box(
    qtbot: QtBot, ask: Callable[[QtDialogs], object], button: QMessageBox.StandardButton, expected: object
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    seen: list[str] = []
    answer_modal_box(button, seen)
    assert ask(QtDialogs(parent)) == expected
    assert len(seen) == 1 and ("notes.md" in seen[0] or "photo.png" in seen[0])


def test_the_main_window_asks_its_injected_dialogs_before_closing_modified_work(qtbot: QtBot) -> None:
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.CANCEL)
    window = MainWindow(Settings(suggestions_enabled=False), dialogs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    editor = window.write.current_editor()
    assert editor is not None
    editor.moveCursor(QTextCursor.MoveOperation.End)
    editor.insertPlainText("words worth asking about")
    window.close_action.trigger()  # File ▸ Close on Write
    assert dialogs.asked == [("unsaved_changes", ("Untitled 1",))]
    assert window.write.current_editor() is editor  # cancelled: still open

    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    window.canvas.document.add_layer("Sketch")
    dialogs.answers.unsaved_canvas = UnsavedChoice.CANCEL
    assert not window.close()  # the canvas question comes first, and cancelling keeps the window
    assert dialogs.questions()[-1] == "unsaved_canvas"
    assert dialogs.asked[-1][1] == (window.canvas.title,)

    dialogs.answers.unsaved_canvas = UnsavedChoice.DISCARD
    dialogs.answers.unsaved_changes = UnsavedChoice.DISCARD
    assert window.close()
    assert dialogs.questions()[-2:] == ["unsaved_canvas", "unsaved_changes"]


@pytest.mark.parametrize("ai_marks", [True, False])
def test_the_export_dialog_asks_for_a_file_and_whether_to_tint_ai_text(
    qtbot: QtBot, tmp_path: Path, ai_marks: bool
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    seen: list[str] = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(20, answer)
            return
        box = next(b for b in dialog.findChildren(QCheckBox) if "AI-written" in b.text())
        seen.append(f"{box.isEnabled()} {box.isChecked()}")
        box.setChecked(ai_marks)
        dialog.selectNameFilter("PDF (*.pdf)")
        dialog.selectFile(str(tmp_path / "story"))
        dialog.accept()

    QTimer.singleShot(0, answer)
    answer_given = QtDialogs(parent).export_document("story.md", str(tmp_path / "story.html"), True)
    assert seen == ["True True"]  # offered, and on by default when the document has AI text
    assert answer_given == (str(tmp_path / "story.pdf"), ai_marks)
