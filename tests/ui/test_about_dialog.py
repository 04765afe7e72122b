"""Help ▸ About: the system report shows at once, fills in from the real child process, copies to the
clipboard, survives a failing child, and never brings model libraries into the GUI process."""

from __future__ import annotations

import os
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from studio import __version__
from studio.cpu import cpu_info
from studio.system_info import PENDING
from studio.ui.about_dialog import AboutDialog
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import MainWindow

WAIT_MS = 240_000
HEAVY = ("torch", "diffusers", "llama_cpp", "transformers")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def open_dialog(qtbot: QtBot, command: list[str] | None = None) -> AboutDialog:
    dialog = AboutDialog(command=command)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_report_shows_at_once_and_fills_in_from_the_child_process(qtbot: QtBot) -> None:
    # other tests in this process may have imported model libraries themselves: only new ones count
    already_imported = {m for m in HEAVY if m in sys.modules}
    dialog = open_dialog(qtbot)
    text = dialog.text_view.toPlainText()
    assert text.startswith(f"Studio {__version__} system information")
    assert f"\nmodel: {cpu_info().model}\n" in text
    assert f"system info: {PENDING}" in text
    assert dialog.checking
    assert "Checking" in dialog.status_label.text()

    qtbot.waitUntil(lambda: not dialog.checking, timeout=WAIT_MS)
    text = dialog.text_view.toPlainText()
    assert PENDING not in text
    assert "\nsystem info: CPU :" in text, text
    assert "\ncpu capability: unavailable" not in text
    assert dialog.status_label.text() == ""
    assert [m for m in HEAVY if m in sys.modules and m not in already_imported] == []


def test_copy_puts_the_plain_text_on_the_clipboard(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, python("import time; time.sleep(60)"))
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().text()
    assert copied == dialog.report.to_text() == dialog.text_view.toPlainText()
    assert f"model: {cpu_info().model}" in copied
    assert "Copied" in dialog.status_label.text()
    dialog.reject()


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (
            python("import sys; sys.stderr.write('probe exploded\\n'); sys.exit(3)"),
            "unavailable (the check process exited with status 3: probe exploded)",
        ),
        (
            python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"),
            "unavailable (the check process crashed",
        ),
        (python("print('hello')"), "unavailable (the check process printed no report"),
        (["/nonexistent/studio-system-info"], "unavailable (could not start the check process"),
    ],
)
def test_a_failing_child_leaves_what_the_dialog_has_and_says_why(
    qtbot: QtBot, command: list[str], reason: str
) -> None:
    dialog = open_dialog(qtbot, command)
    qtbot.waitUntil(lambda: not dialog.checking, timeout=WAIT_MS)
    text = dialog.text_view.toPlainText()
    assert f"\nmodel: {cpu_info().model}\n" in text
    assert f"\nsystem info: {reason}" in text, text
    assert PENDING not in text
    assert dialog.status_label.text().startswith("Could not check llama.cpp and torch:")
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == text


def test_closing_while_checking_stops_the_child(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, python("import time; time.sleep(120)"))
    process = dialog._process
    assert process is not None
    qtbot.waitUntil(lambda: process.processId() > 0, timeout=WAIT_MS)
    pid = process.processId()
    dialog.reject()
    assert not dialog.checking
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_help_about_opens_the_dialog(qtbot: QtBot) -> None:
    window = MainWindow(dialogs=ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    about = next(
        action
        for menu in window.menuBar().findChildren(type(window.models_menu))
        for action in menu.actions()
        if action.text() == "&About Studio"
    )
    about.trigger()
    dialog = window.findChild(AboutDialog)
    assert dialog is not None and dialog.isVisible()
    assert f"model: {cpu_info().model}" in dialog.text_view.toPlainText()
    dialog.reject()
    window.close()
