"""Selection actions shown as an inline diff, driven by a provider that plays the engine.

The requests are built by the real builder; the test feeds their tokens by hand, which makes the streaming,
cancel and alternative cases exact."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.rewrite import RewriteState
from studio.ui.write.rewrite_commands import RewriteCommands
from studio.writing.actions import UserActions, builtin_action

if TYPE_CHECKING:
    from tests.ui.write.conftest import MakeEditor, RewriteCall, ScriptedRewrites

TEXT = "# Notes\n\nThe old man walked slowly down the road.\n\nThe end."
SELECTED = "The old man walked slowly down the road."


@pytest.fixture
def editor(make_editor: MakeEditor, rewrites: ScriptedRewrites) -> MarkdownEditor:
    widget = make_editor(TEXT, size=(800, 600), rewrites=rewrites, select=SELECTED)
    widget.set_ai_ranges([(TEXT.index("The end"), len(TEXT))])
    return widget


def select(editor: MarkdownEditor, text: str) -> None:
    start = editor.document_text().index(text)
    cursor = editor.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(start + len(text), QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)


def stream(call: RewriteCall, *pieces: str, finish: bool = True) -> None:
    for piece in pieces:
        call.on_tokens(piece)
    if finish:
        call.on_finished()


def test_diff_streams_without_touching_the_document_and_reject_keeps_it_bit_identical(
    qtbot: QtBot, editor: MarkdownEditor, rewrites: ScriptedRewrites, tmp_path: Path
) -> None:
    editor.document().setModified(False)
    revision = editor.document().revision()
    changes: list[int] = []
    editor.document().contentsChanged.connect(lambda: changes.append(1))
    undo_steps = editor.document().availableUndoSteps()
    assert editor.start_rewrite(builtin_action("rewrite"))
    call = rewrites.calls[0]
    assert call.plan.request.prompt.endswith('Text: """' + SELECTED + '"""\nRevision: """')  # type: ignore[union-attr]
    stream(call, "The young man", " walked quickly", ' down the road."""')
    session = editor.rewrite_session()
    assert session is not None and session.current_text() == "The young man walked quickly down the road."
    pieces = session.diff()
    assert ("delete", "old") in pieces and ("insert", "young") in pieces
    block = editor.document().findBlockByNumber(2)
    assert block.layout().preeditAreaText().endswith("The young man walked quickly down the road.")
    assert editor.document_text() == TEXT
    assert editor.grab().save(str(tmp_path / "diff-800x600.png"))  # kept with the test run, to look at
    editor.resize(1366, 768)
    assert editor.grab().save(str(tmp_path / "diff-1366x768.png"))

    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert editor.rewrite_session() is None
    assert editor.document_text() == TEXT
    assert not editor.document().isModified()
    assert editor.document().revision() == revision and not changes  # nobody was told of a change
    assert editor.document().availableUndoSteps() == undo_steps
    assert not editor.document().findBlockByNumber(2).layout().preeditAreaText()
    assert editor.ai_ranges() == [(TEXT.index("The end"), len(TEXT))]


def test_accept_is_one_undo_step_marks_ai_and_redo_brings_the_mark_back(
    qtbot: QtBot, editor: MarkdownEditor, rewrites: ScriptedRewrites
) -> None:
    editor.start_rewrite(builtin_action("shorten"))
    stream(rewrites.calls[0], "Revision: The man walked.")
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    expected = TEXT.replace(SELECTED, "The man walked.")
    assert editor.document_text() == expected
    start = expected.index("The man walked.")
    end_mark = (expected.index("The end"), len(expected))
    assert editor.ai_ranges() == [(start, start + len("The man walked.")), end_mark]

    editor.undo()
    assert editor.document_text() == TEXT
    assert editor.ai_ranges() == [(TEXT.index("The end"), len(TEXT))]
    editor.redo()
    assert editor.document_text() == expected
    assert editor.ai_ranges() == [(start, start + len("The man walked.")), end_mark]

    # typing after it, then undoing past the accept and redoing everything brings the marks back too
    cursor = editor.textCursor()
    cursor.setPosition(len("# Notes"))
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "!")
    editor.undo()
    editor.undo()
    assert editor.document_text() == TEXT
    editor.redo()
    editor.redo()
    assert editor.document_text() == expected.replace("# Notes", "# Notes!")
    assert editor.ai_ranges() == [
        (start + 1, start + 1 + len("The man walked.")),
        (end_mark[0] + 1, end_mark[1] + 1),
    ]


def test_enter_accepts_and_typing_rejects(
    qtbot: QtBot, editor: MarkdownEditor, rewrites: ScriptedRewrites
) -> None:
    editor.start_rewrite(builtin_action("simplify"))
    stream(rewrites.calls[0], "A man walked.")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert "A man walked." in editor.document_text()

    select(editor, "The end.")
    editor.start_rewrite(builtin_action("expand"))
    stream(rewrites.calls[1], "The very end.")
    before = editor.document_text()
    qtbot.keyClick(editor, Qt.Key.Key_Right)  # any other key: the diff goes, the document stays
    assert editor.rewrite_session() is None
    assert editor.document_text() == before


def test_esc_while_streaming_cancels_the_job(
    qtbot: QtBot, editor: MarkdownEditor, rewrites: ScriptedRewrites
) -> None:
    editor.start_rewrite(builtin_action("rewrite"))
    call = rewrites.calls[0]
    stream(call, "The young", finish=False)
    session = editor.rewrite_session()
    assert (
        session is not None
        and session.current is not None
        and session.current.state is RewriteState.STREAMING
    )
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert call.handle.cancelled == 1
    assert editor.rewrite_session() is None
    call.on_tokens(" man")  # late tokens of the cancelled job change nothing
    call.on_finished()
    assert editor.document_text() == TEXT


def test_alternatives_have_their_own_seeds_and_are_kept(
    qtbot: QtBot, editor: MarkdownEditor, rewrites: ScriptedRewrites
) -> None:
    editor.start_rewrite(builtin_action("rewrite"), seed=100)
    stream(rewrites.calls[0], "First version.")
    qtbot.keyClick(editor, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.AltModifier)
    assert len(rewrites.calls) == 2
    stream(rewrites.calls[1], "Second version.")
    session = editor.rewrite_session()
    assert session is not None
    assert [c.plan.request.seed for c in rewrites.calls] == [100, 101]
    assert session.current_text() == "Second version."
    qtbot.keyClick(editor, Qt.Key.Key_BracketLeft, Qt.KeyboardModifier.AltModifier)
    assert session.current_text() == "First version."
    qtbot.keyClick(editor, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.AltModifier)
    assert session.current_text() == "Second version." and len(rewrites.calls) == 2  # kept, not regenerated
    editor.regenerate_rewrite()
    assert len(rewrites.calls) == 3 and rewrites.calls[2].plan.request.seed == 102
    rewrites.calls[2].on_finished()  # nothing came back
    assert session.current is not None and session.current.state is RewriteState.EMPTY
    assert "no text" in session.describe()
    assert not editor.accept_rewrite()
    qtbot.keyClick(editor, Qt.Key.Key_BracketLeft, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert "Second version." in editor.document_text()


def test_instruct_models_get_a_chat_request_and_instruct_wording(
    qtbot: QtBot, editor: MarkdownEditor, rewrites: ScriptedRewrites
) -> None:
    chat = rewrites
    chat.kind = "instruct"
    statuses: list[str] = []
    editor.rewrite_status.connect(statuses.append)
    editor.start_rewrite(builtin_action("tone-formal"))
    request = chat.calls[0].plan.request
    assert request.messages[0][0] == "user" and SELECTED in request.messages[0][1]  # type: ignore[union-attr]
    assert "formal" in request.messages[0][1]  # type: ignore[union-attr]
    stream(chat.calls[0], "Sure! Here is the revised text:\n\nThe elderly gentleman proceeded down the road.")
    assert editor.rewrite_session().current_text() == "The elderly gentleman proceeded down the road."  # type: ignore[union-attr]
    assert any("instruct model" in line for line in statuses)


def test_ctrl_k_prompt_runs_and_saves_a_free_instruction(
    qtbot: QtBot, editor: MarkdownEditor, rewrites: ScriptedRewrites
) -> None:
    qtbot.keyClick(editor, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    prompt = editor.findChild(type(editor.open_inline_prompt("x", print)))
    assert prompt is not None and prompt.isVisible()
    editor.reject_rewrite()
    qtbot.keyClick(editor, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(prompt.line, "Make it sound like a pirate")
    prompt.save_button.click()
    assert [a.label for a in UserActions().actions()] == ["Make it sound like a pirate"]
    qtbot.keyClick(prompt.line, Qt.Key.Key_Return)
    assert not prompt.isVisible()
    assert rewrites.calls and "Make it sound like a pirate" in rewrites.calls[0].plan.instruction


def test_rewrite_commands_menu_lists_actions_and_saved_ones(qtbot: QtBot, editor: MarkdownEditor) -> None:
    from PySide6.QtWidgets import QMenu

    UserActions().save("Pirate", "Make it sound like a pirate")
    commands = RewriteCommands(editor, lambda: editor)
    menu = commands.fill_menu(QMenu())
    titles = [a.text() for a in menu.actions()]
    assert "Shorten" in titles and "Change Tone" in titles and "Describe" in titles and "My Actions" in titles
    commands.action_commands["shorten"].trigger()
    assert editor.rewrite_session() is not None and editor.rewrite_session().action.name == "shorten"  # type: ignore[union-attr]


def test_redo_after_undoing_to_before_any_marks_brings_the_mark_back(
    qtbot: QtBot, rewrites: ScriptedRewrites
) -> None:
    editor = MarkdownEditor()
    qtbot.addWidget(editor)
    editor.set_rewrite_provider(rewrites)
    editor.show()
    editor.setFocus()
    qtbot.keyClicks(editor, "Hi there. Old words.")
    select(editor, "Old words.")
    editor.start_rewrite(builtin_action("rewrite"))
    stream(rewrites.calls[0], "New words.")
    assert editor.accept_rewrite()
    while editor.document().isUndoAvailable():
        editor.undo()
    assert editor.document_text() == ""
    while editor.document().isRedoAvailable():
        editor.redo()
    assert editor.document_text() == "Hi there. New words."
    assert editor.ai_ranges() == [(10, 20)]
