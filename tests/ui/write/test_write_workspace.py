"""The Write workspace: tabs bound to exact documents, saving, closing, autosave and recovery."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from studio import paths
from studio.documents import BinaryFileError, ChangedOnDiskError, RecoveryStore
from studio.ui.dialogs import ScriptedDialogs, UnexpectedQuestion, UnsavedChoice
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.workspace import WriteWorkspace

if TYPE_CHECKING:
    from tests.ui.write.conftest import ScriptedProvider


def type_at_end(editor: MarkdownEditor, text: str) -> None:
    editor.moveCursor(QTextCursor.MoveOperation.End)
    editor.insertPlainText(text)


def tab_titles(workspace: WriteWorkspace) -> list[str]:
    tabs = workspace.tab_widget
    return [tabs.tabText(i) for i in range(tabs.count())]


def test_new_document_title_marks_changes(workspace: WriteWorkspace) -> None:
    editor = workspace.new_document()
    assert workspace.current_editor() is editor
    assert tab_titles(workspace) == ["Untitled 1"]
    assert not workspace.has_unsaved_changes()
    type_at_end(editor, "Hello")
    assert tab_titles(workspace) == ["Untitled 1 *"]
    assert workspace.has_unsaved_changes()
    assert workspace.open_paths() == []


def test_open_edit_save_keeps_exact_bytes(workspace: WriteWorkspace, tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    original = b"# Title\r\n\r\nLine\rmixed\nend"
    path.write_bytes(original)
    editor = workspace.open_path(path)
    assert editor.toPlainText() == "# Title\n\nLine\nmixed\nend"
    assert workspace.open_paths() == [str(path)]
    assert tab_titles(workspace) == ["story.md"]

    assert workspace.save_current()
    assert path.read_bytes() == original  # unedited: byte-identical

    type_at_end(editor, "!")
    assert tab_titles(workspace) == ["story.md *"]
    assert workspace.save_current()
    # Edited: every line gets the dominant CRLF, and no final newline is added.
    assert path.read_bytes() == b"# Title\r\n\r\nLine\r\nmixed\r\nend!"
    assert tab_titles(workspace) == ["story.md"]
    assert not workspace.has_unsaved_changes()


def test_no_break_spaces_survive_an_edited_save(workspace: WriteWorkspace, tmp_path: Path) -> None:
    path = tmp_path / "nbsp.md"
    path.write_bytes("10\u00a0km\n".encode())
    editor = workspace.open_path(path)
    type_at_end(editor, "x")
    workspace.save_current()
    assert path.read_bytes() == "10\u00a0km\nx".encode()


def test_open_errors_raise_and_add_no_tab(workspace: WriteWorkspace, tmp_path: Path) -> None:
    binary = tmp_path / "a.md"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(BinaryFileError):
        workspace.open_path(binary)
    assert workspace.tab_widget.count() == 0


def test_opening_twice_switches_to_the_open_tab(workspace: WriteWorkspace, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "b.md").write_text("b")
    first = workspace.open_path(tmp_path / "a.md")
    workspace.open_path(tmp_path / "b.md")
    assert workspace.open_path(tmp_path / "a.md") is first
    assert workspace.current_editor() is first
    assert workspace.tab_widget.count() == 2


def test_opening_replaces_an_untouched_untitled_tab(workspace: WriteWorkspace, tmp_path: Path) -> None:
    workspace.new_document()
    (tmp_path / "a.md").write_text("a")
    workspace.open_path(tmp_path / "a.md")
    assert tab_titles(workspace) == ["a.md"]


def test_untitled_save_needs_a_path(workspace: WriteWorkspace, tmp_path: Path) -> None:
    editor = workspace.new_document()
    type_at_end(editor, "Draft\n")
    assert workspace.save_current() is False
    assert workspace.save_current_as(tmp_path / "draft.md")
    assert (tmp_path / "draft.md").read_bytes() == b"Draft\n"
    assert workspace.current_path() == str(tmp_path / "draft.md")
    assert tab_titles(workspace) == ["draft.md"]


def test_changed_on_disk_needs_overwrite(workspace: WriteWorkspace, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("mine\n")
    editor = workspace.open_path(path)
    type_at_end(editor, "more")
    path.write_text("theirs\n")
    with pytest.raises(ChangedOnDiskError):
        workspace.save_current()
    assert path.read_text() == "theirs\n"
    assert workspace.has_unsaved_changes()
    workspace.save_current(overwrite=True)
    assert path.read_text() == "mine\nmore"


def test_close_asks_about_unsaved_changes(
    workspace: WriteWorkspace, dialogs: ScriptedDialogs, tmp_path: Path
) -> None:
    path = tmp_path / "a.md"
    path.write_text("text\n")
    editor = workspace.open_path(path)
    type_at_end(editor, "edit")
    asked: list[str] = []
    answers = [UnsavedChoice.CANCEL, UnsavedChoice.SAVE]

    def answer(title: str) -> UnsavedChoice:
        asked.append(title)
        return answers.pop(0)

    dialogs.answers.unsaved_changes = answer
    assert workspace.close_current() is False
    assert workspace.tab_widget.count() == 1
    assert workspace.close_current() is True
    assert asked == ["a.md", "a.md"]
    assert path.read_text() == "text\nedit"
    assert workspace.tab_widget.count() == 0
    assert workspace.current_editor() is None


def test_close_discard_and_untitled_save(
    workspace: WriteWorkspace, dialogs: ScriptedDialogs, tmp_path: Path
) -> None:
    type_at_end(workspace.new_document(), "throw away")
    type_at_end(workspace.new_document(), "keep me")
    dialogs.answers.unsaved_changes = lambda title: (
        UnsavedChoice.SAVE if title == "Untitled 2" else UnsavedChoice.DISCARD
    )
    dialogs.answers.untitled_save_path = tmp_path / "kept.md"
    assert workspace.close_all()
    assert (tmp_path / "kept.md").read_text() == "keep me"
    assert workspace.tab_widget.count() == 0
    assert dialogs.asked == [
        ("unsaved_changes", ("Untitled 2",)),
        ("untitled_save_path", ("Untitled 2",)),
        ("unsaved_changes", ("Untitled 1",)),
    ]


def test_an_unscripted_question_fails_loudly_and_the_document_stays(
    workspace: WriteWorkspace, dialogs: ScriptedDialogs
) -> None:
    type_at_end(workspace.new_document(), "not asked about yet")
    with pytest.raises(UnexpectedQuestion, match="unsaved_changes"):
        workspace.close_current()
    assert workspace.tab_widget.count() == 1
    assert dialogs.questions() == ["unsaved_changes"]


def test_unedited_then_reverted_document_closes_without_asking(workspace: WriteWorkspace) -> None:
    editor = workspace.new_document()
    type_at_end(editor, "x")
    editor.textCursor().deletePreviousChar()
    assert editor.document().isModified()
    assert editor.toPlainText() == ""
    assert workspace.close_current()


def test_autosave_snapshots_and_save_discards(
    qtbot: QtBot, workspace: WriteWorkspace, tmp_path: Path
) -> None:
    path = tmp_path / "a.md"
    path.write_text("saved\n")
    editor = workspace.open_path(path)
    type_at_end(editor, "unsaved")  # journalled by itself within about a second
    recovery = paths.recovery_dir()
    qtbot.waitUntil(lambda: list(recovery.glob("*.txt")) != [])
    [snapshot] = list(recovery.glob("*.txt"))
    assert snapshot.read_text(encoding="utf-8") == "saved\nunsaved"
    workspace.save_current()
    assert list(recovery.glob("*.txt")) == []


def test_crash_recovery_restores_text_over_original(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "novel.md"
    path.write_bytes(b"Chapter 1\r\n")
    crashed = WriteWorkspace()
    qtbot.addWidget(crashed)
    type_at_end(crashed.open_path(path), "It was a dark night.")
    type_at_end(crashed.new_document(), "Loose notes")
    crashed.autosave_now()
    crashed.recovery_store.end_session()  # the process is gone; its snapshots stay behind

    later = WriteWorkspace()
    qtbot.addWidget(later)
    entries = later.recoverable_documents()
    assert sorted(e.title for e in entries) == ["Untitled 1", "novel.md"]
    for entry in entries:
        later.restore_recovered(entry)
    editors = {later.tab_widget.tabText(i): later.editors()[i] for i in range(later.tab_widget.count())}
    novel = editors["novel.md *"]
    assert novel.toPlainText() == "Chapter 1\nIt was a dark night."
    assert editors["Untitled 1 *"].toPlainText() == "Loose notes"
    # Restored snapshots belong to the new session now: nobody else is offered them.
    assert RecoveryStore().recoverable() == []

    novel.undo()  # the disk version is the undo baseline
    assert novel.toPlainText() == "Chapter 1\n"
    novel.redo()
    later.tab_widget.setCurrentWidget(novel)
    later.save_current()
    assert path.read_bytes() == b"Chapter 1\r\nIt was a dark night."


def test_provider_delay_and_state_reach_editors(
    qtbot: QtBot, workspace: WriteWorkspace, provider: ScriptedProvider
) -> None:
    workspace.set_continuation_provider(provider)
    workspace.set_suggestion_delay(10)
    states: list[str] = []
    workspace.suggestion_state_changed.connect(states.append)
    editor = workspace.new_document()
    assert editor.suggestion_delay() == 10
    editor.setFocus()
    qtbot.keyClicks(editor, "Once")
    qtbot.waitUntil(lambda: [call.prefix for call in provider.calls] == ["Once"])
    assert states[-1] == "waiting"

    workspace.set_suggestions_enabled(False)
    assert not editor.suggestions_enabled()
    assert workspace.new_document().suggestions_enabled() is False
    assert states[-1] == "idle"


def test_recovered_document_whose_file_vanished_is_recreated_on_save(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "gone.md"
    path.write_text("old\n")
    crashed = WriteWorkspace()
    qtbot.addWidget(crashed)
    type_at_end(crashed.open_path(path), "new")
    crashed.autosave_now()
    crashed.recovery_store.end_session()
    path.unlink()

    later = WriteWorkspace()
    qtbot.addWidget(later)
    [entry] = later.recoverable_documents()
    editor = later.restore_recovered(entry)
    assert editor.toPlainText() == "old\nnew"
    assert later.current_path() == str(path)
    assert later.save_current()
    assert path.read_text() == "old\nnew"
    assert later.recoverable_documents() == []


def test_ai_text_marks_survive_save_and_reopen_but_not_outside_edits(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text("Once upon a time", encoding="utf-8")
    workspace = WriteWorkspace()
    qtbot.addWidget(workspace)
    editor = workspace.open_path(path)
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    editor.insertPlainText(" there was a lighthouse.")
    editor.set_ai_ranges([(16, 40)])
    assert workspace.save_current()
    workspace.close_current()

    again = WriteWorkspace()
    qtbot.addWidget(again)
    reopened = again.open_path(path)
    assert reopened.ai_ranges() == [(16, 40)]
    again.close_current()

    path.write_text("Once upon a time there was a lighthouse, edited elsewhere.", encoding="utf-8")
    third = WriteWorkspace()
    qtbot.addWidget(third)
    assert third.open_path(path).ai_ranges() == []


def test_an_empty_document_teaches_the_ai_keys(qtbot: QtBot, workspace: WriteWorkspace) -> None:
    from PySide6.QtGui import QImage

    editor = workspace.new_document()
    hint = editor.placeholderText()
    for key in ("Ctrl+Space", "Tab", "Ctrl+K"):
        assert key in hint
    qtbot.waitExposed(editor)

    def inked_rows() -> int:
        image = editor.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
        base = image.pixel(2, 2)
        return sum(
            any(image.pixel(x, y) != base for x in range(0, image.width(), 2)) for y in range(image.height())
        )

    shown = inked_rows()
    assert shown > 20  # the hint's lines are painted on the empty page
    editor.setPlainText("x")
    assert inked_rows() < shown / 3  # typing replaces the hint
    editor.clear()
    assert inked_rows() == shown


def test_editor_font_and_ai_marks_reach_every_editor(qtbot: QtBot, workspace: WriteWorkspace) -> None:
    from PySide6.QtGui import QFont

    first = workspace.new_document()
    font = QFont(workspace.editor_font())
    font.setPointSize(19)
    workspace.set_editor_font(font)
    second = workspace.new_document()
    assert first.font().pointSize() == second.font().pointSize() == 19
    assert first.tabStopDistance() == pytest.approx(4 * first.fontMetrics().horizontalAdvance(" "), abs=1)
    second.setPlainText("human AI")
    second.set_ai_ranges([(6, 8)])
    assert len(second.extraSelections()) == 1
    workspace.set_ai_marks_visible(False)
    assert second.extraSelections() == [] and second.ai_ranges() == [(6, 8)]
    third = workspace.new_document()
    assert not third.ai_marks_visible()
    workspace.set_ai_marks_visible(True)
    assert len(second.extraSelections()) == 1
