"""The Assistant panel on the real engine: a base model (the default Gemma) answers from a transcript-style
prompt, streamed, and the answer goes in at the cursor as one AI-marked undo step; Stop cancels; an instruct
model (the default one given a chat template) is asked through a ChatRequest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.engines.protocol import new_job_id
from studio.engines.results import CompletionResult
from studio.engines.text_requests import ChatRequest, CompletionRequest, LoadModelRequest
from studio.settings import Settings
from studio.ui.jobs import JobRunner, JobState
from studio.ui.write.assistant_panel import AssistantDock, AssistantPanel
from studio.ui.write.editor import MarkdownEditor
from studio.writing.story_notes import StoryNotes

if TYPE_CHECKING:
    from tests.ui.write.conftest import MakeEditor

pytestmark = pytest.mark.llm

WAIT_MS = 240_000
STORY = (
    "Chapter 1\n\nMira was the captain of the Heron, a small fishing boat.\n\n"
    "Chapter 2\n\nIn chapter two, Mira sails to the island and finds the lost bell.\n\n"
)
CHAT_TEMPLATE = (
    "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "<start_of_turn>model\n"
)


def load(runner: JobRunner, model: Path, qtbot: QtBot) -> None:
    handle = runner.run(LoadModelRequest(new_job_id(), model_path=str(model), n_ctx=2048))
    qtbot.waitUntil(lambda: handle.is_done, timeout=WAIT_MS)
    assert handle.state is JobState.DONE, handle.message


@pytest.fixture
def editor(make_editor: MakeEditor) -> MarkdownEditor:
    return make_editor(STORY)


def make_panel(qtbot: QtBot, runner: JobRunner, editor: MarkdownEditor, kind: str) -> AssistantPanel:
    settings = Settings(temperature=0.0)
    panel = AssistantPanel(
        runner, lambda: settings, lambda: editor, lambda: kind, lambda: StoryNotes(memory="A sea story.")
    )
    dock = AssistantDock(panel)
    qtbot.addWidget(dock)
    dock.show()
    return panel


def test_a_base_model_answers_streamed_and_the_answer_goes_in_at_the_cursor(
    qtbot: QtBot, runner: JobRunner, editor: MarkdownEditor, default_model_file: Path
) -> None:
    load(runner, default_model_file, qtbot)
    panel = make_panel(qtbot, runner, editor, "base")
    assert "Base model" in panel.kind_label.text()
    assert panel.scope_combo.currentText() == "About the whole document"
    pieces: list[str] = []
    panel.answer_view.textChanged.connect(lambda: pieces.append(panel.answer_view.toPlainText()))
    results: list[object] = []
    panel.answer_finished.connect(results.append)

    qtbot.keyClicks(panel.question_edit, "Who is the captain of the Heron?")
    qtbot.keyClick(panel.question_edit, Qt.Key.Key_Return)
    assert panel.busy and panel.stop_button.isEnabled() and not panel.insert_button.isEnabled()
    request = panel.last_request
    assert isinstance(request, CompletionRequest)
    assert request.prompt.startswith("### About the work\nA sea story.\n\n### Document\nChapter 1")
    assert request.prompt.endswith("Question: Who is the captain of the Heron?\nAnswer:")
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert isinstance(results[0], CompletionResult)
    answer = panel.answer
    assert answer and panel.answer_view.toPlainText().strip() == answer
    assert len(pieces) >= 2  # it arrived in pieces, while being written
    assert panel.insert_button.isEnabled()

    before = editor.document_text()
    qtbot.mouseClick(panel.insert_button, Qt.MouseButton.LeftButton)
    assert editor.document_text() == before + answer
    assert editor.ai_ranges() == [(len(before), len(before) + len(answer))]
    editor.undo()  # one undo step takes it out again
    assert editor.document_text() == before


def test_asking_about_the_selection_and_stopping(
    qtbot: QtBot, runner: JobRunner, editor: MarkdownEditor, default_model_file: Path
) -> None:
    load(runner, default_model_file, qtbot)
    cursor = editor.textCursor()
    start = STORY.index("In chapter two")
    cursor.setPosition(start)
    cursor.setPosition(
        start + len("In chapter two, Mira sails to the island"), QTextCursor.MoveMode.KeepAnchor
    )
    editor.setTextCursor(cursor)
    panel = make_panel(qtbot, runner, editor, "base")
    assert panel.scope_combo.currentText() == "About the selection"
    assert panel.ask("Where does Mira sail?")
    request = panel.last_request
    assert isinstance(request, CompletionRequest)
    assert "### Selected passage\nIn chapter two, Mira sails to the island\n" in request.prompt
    handle = runner.handle(request.job_id)
    assert handle is not None
    qtbot.keyClick(panel.question_edit, Qt.Key.Key_Escape)  # Esc stops it
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
    assert handle.state is JobState.CANCELLED
    assert panel.status_label.text() == "Stopped."
    assert panel.ask_button.isEnabled()


def test_an_instruct_model_is_asked_through_its_chat_template(
    qtbot: QtBot, runner: JobRunner, editor: MarkdownEditor, default_model_file: Path, tmp_path: Path
) -> None:
    instruct = tmp_path / "gemma-chat.gguf"
    script = Path(sys.executable).with_name("gguf-new-metadata")
    subprocess.run(
        [str(script), "--chat-template", CHAT_TEMPLATE, str(default_model_file), str(instruct)],
        check=True,
        capture_output=True,
        input=b"y\n",
    )
    load(runner, instruct, qtbot)
    panel = make_panel(qtbot, runner, editor, "instruct")
    assert "chat template" in panel.kind_label.text()
    results: list[object] = []
    panel.answer_finished.connect(results.append)
    assert panel.ask("Give me a title.")
    request = panel.last_request
    assert isinstance(request, ChatRequest)
    (role, _), (user, text) = request.messages
    assert (role, user) == ("system", "user")
    assert "My document:\n\nChapter 1" in text and text.endswith("My question: Give me a title.")
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert isinstance(results[0], CompletionResult)
    assert results[0].completion_tokens > 0
    QApplication.processEvents()
