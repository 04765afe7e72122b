"""Typing is journalled to the recovery folder within about a second, in the background, and failures are shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from studio import paths
from studio.documents import RecoveryStore
from studio.settings import Settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import MainWindow
from studio.ui.write.workspace import AUTOSAVE_DEBOUNCE_MS, AUTOSAVE_MAX_DELAY_MS, WriteWorkspace

WAIT_MS = 10_000


def make_workspace(
    qtbot: QtBot, store: RecoveryStore | None = None, dialogs: ScriptedDialogs | None = None
) -> WriteWorkspace:
    workspace = WriteWorkspace(recovery_store=store, dialogs=dialogs or ScriptedDialogs())
    qtbot.addWidget(workspace)
    workspace.resize(600, 400)
    workspace.show()
    qtbot.waitExposed(workspace)
    return workspace


def snapshot_texts(folder: Path) -> list[str]:
    """The texts of the complete snapshots (text and metadata both written) in ``folder``."""
    return sorted(entry.read_text() for entry in RecoveryStore(folder).entries())


def snapshot_files(folder: Path) -> list[str]:
    return sorted(path.name for pattern in ("*.txt", "*.json") for path in folder.glob(pattern))


def test_typing_is_journalled_without_autosave_now(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    editor = workspace.new_document()
    editor.setFocus()
    qtbot.keyClicks(editor, "The words I must not lose")
    recovery = paths.recovery_dir()
    qtbot.waitUntil(lambda: snapshot_texts(recovery) == ["The words I must not lose"], timeout=WAIT_MS)
    [entry] = RecoveryStore(recovery).entries()
    assert entry.title == "Untitled 1"

    qtbot.keyClicks(editor, ", ever.")  # later changes replace the snapshot
    qtbot.waitUntil(lambda: snapshot_texts(recovery) == ["The words I must not lose, ever."], timeout=WAIT_MS)


def test_continuous_typing_is_journalled_before_it_pauses(qtbot: QtBot) -> None:
    """A pure debounce would wait for a pause; the first change is journalled while typing goes on."""
    workspace = make_workspace(qtbot)
    editor = workspace.new_document()
    editor.setFocus()
    prose = "It was a bright cold day in April, and the clocks were striking thirteen. " * 4
    typed: list[str] = []

    def type_one() -> None:
        if len(typed) == len(prose):
            typist.stop()
            return
        typed.append(prose[len(typed)])
        qtbot.keyClicks(editor, typed[-1])

    # One key every 100 ms keeps restarting the debounce: without the maximum delay nothing would be written
    # until the 30 s of typing are over.
    assert AUTOSAVE_DEBOUNCE_MS > 100
    typist = QTimer()
    typist.setInterval(100)
    typist.timeout.connect(type_one)
    typist.start()
    recovery = paths.recovery_dir()
    qtbot.waitUntil(lambda: snapshot_texts(recovery) != [], timeout=WAIT_MS)
    still_typing = typist.isActive()
    typist.stop()
    assert still_typing
    [text] = snapshot_texts(recovery)
    assert text and "".join(typed).startswith(text)


def test_save_discards_the_snapshot_and_no_late_write_brings_it_back(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "chapter.md"
    path.write_text("Saved.\n", encoding="utf-8")
    workspace = make_workspace(qtbot)
    editor = workspace.open_path(path)
    editor.setFocus()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, "First draft")
    recovery = paths.recovery_dir()
    qtbot.waitUntil(lambda: snapshot_texts(recovery) == ["Saved.\nFirst draft"], timeout=WAIT_MS)

    qtbot.keyClicks(editor, ", second draft")  # journalling of this is pending (or running) when we save
    assert workspace.save_current()
    assert snapshot_files(recovery) == []
    qtbot.wait(2 * (AUTOSAVE_DEBOUNCE_MS + AUTOSAVE_MAX_DELAY_MS))  # let every pending timer fire
    assert snapshot_files(recovery) == []
    assert path.read_text(encoding="utf-8") == "Saved.\nFirst draft, second draft"

    # Changed again, then undone back to what is on disk: the snapshot comes, then goes.
    qtbot.keyClicks(editor, "!")
    qtbot.waitUntil(
        lambda: snapshot_texts(recovery) == ["Saved.\nFirst draft, second draft!"], timeout=WAIT_MS
    )
    editor.undo()
    assert not editor.document().isModified()
    qtbot.waitUntil(lambda: snapshot_files(recovery) == [], timeout=WAIT_MS)


def test_closing_a_document_discards_its_snapshot(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot, dialogs=ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD))
    editor = workspace.new_document()
    editor.setFocus()
    qtbot.keyClicks(editor, "scratch")
    recovery = paths.recovery_dir()
    qtbot.waitUntil(lambda: snapshot_texts(recovery) == ["scratch"], timeout=WAIT_MS)
    qtbot.keyClicks(editor, " more")
    assert workspace.close_current()
    qtbot.wait(2 * (AUTOSAVE_DEBOUNCE_MS + AUTOSAVE_MAX_DELAY_MS))
    assert snapshot_files(recovery) == []


def test_a_failed_write_is_reported_once_until_a_write_works(
    qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the recovery folder's parent should be")
    recovery = blocker / "recovery"
    workspace = make_workspace(qtbot, RecoveryStore(recovery))
    failures: list[str] = []
    workspace.autosave_failed.connect(failures.append)
    editor = workspace.new_document()
    editor.setFocus()
    qtbot.keyClicks(editor, "Lost?")
    qtbot.waitUntil(lambda: len(failures) == 1, timeout=WAIT_MS)
    assert "Could not write a recovery copy of Untitled 1" in failures[0]

    attempts = caplog.text.count("recovery write failed")
    qtbot.keyClicks(editor, " Still failing.")
    qtbot.waitUntil(lambda: caplog.text.count("recovery write failed") > attempts, timeout=WAIT_MS)
    workspace.autosave_now()
    assert len(failures) == 1  # no second message while it keeps failing

    blocker.unlink()
    recovery.mkdir(parents=True)
    qtbot.keyClicks(editor, " Works again.")
    qtbot.waitUntil(
        lambda: snapshot_texts(recovery) == ["Lost? Still failing. Works again."], timeout=WAIT_MS
    )

    shutil.rmtree(blocker)
    blocker.write_text("broken again")
    qtbot.keyClicks(editor, " Broken again.")
    qtbot.waitUntil(lambda: len(failures) == 2, timeout=WAIT_MS)


def test_the_main_window_shows_a_failed_recovery_write(qtbot: QtBot) -> None:
    window = MainWindow(
        Settings(suggestions_enabled=False), ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD)
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    recovery = paths.recovery_dir()
    shutil.rmtree(recovery)
    recovery.write_text("a file where the recovery folder should be")
    editor = window.write.current_editor()
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "Unprotected words")
    qtbot.waitUntil(window.error_label.isVisible, timeout=WAIT_MS)
    assert "Could not write a recovery copy" in window.error_label.text()
    window.close()
