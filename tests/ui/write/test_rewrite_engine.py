"""The inline diff on the real engine (default Gemma 270M in the engine process): a rewrite streams into the
diff and is accepted as AI text; Esc while it streams cancels the engine job."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.engines.protocol import new_job_id
from studio.engines.text_requests import LoadModelRequest
from studio.ui.jobs import JobHandle, JobRunner, JobState
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.rewrite import EngineRewriteProvider, RewriteState
from studio.writing.actions import builtin_action

if TYPE_CHECKING:
    from tests.ui.write.conftest import MakeEditor

pytestmark = pytest.mark.llm

WAIT_S = 240
TEXT = "# Harbour\n\nThe storm passed, and the fishermen stood silent on the quay.\n\nThe end."
SELECTED = "The storm passed, and the fishermen stood silent on the quay."


def pump(until: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not until():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.01)


class RecordingProvider(EngineRewriteProvider):
    """The engine provider, keeping the job handles so the test can see how each job ended."""

    def __init__(self, runner: JobRunner) -> None:
        super().__init__(runner, lambda: "base")
        self.handles: list[JobHandle] = []

    def start_rewrite(self, plan, on_tokens, on_finished, on_failed):  # type: ignore[no-untyped-def]
        handle = super().start_rewrite(plan, on_tokens, on_finished, on_failed)
        self.handles.append(handle)  # type: ignore[arg-type]
        return handle


@pytest.fixture(scope="module")
def runner(qapp: QApplication, default_model_file: Path) -> Iterator[JobRunner]:
    runner = JobRunner()
    load = runner.run(LoadModelRequest(new_job_id(), model_path=str(default_model_file), n_ctx=2048))
    pump(lambda: load.is_done)
    assert load.state is JobState.DONE, load.message
    yield runner
    runner.shutdown()


@pytest.fixture
def editor(make_editor: MakeEditor, runner: JobRunner) -> MarkdownEditor:
    return make_editor(TEXT, size=(800, 600), select=SELECTED)


def test_a_real_rewrite_streams_into_the_diff_and_is_accepted_as_ai_text(
    qtbot: QtBot, editor: MarkdownEditor, runner: JobRunner
) -> None:
    provider = RecordingProvider(runner)
    editor.set_rewrite_provider(provider)
    text = ""
    session = None
    for seed in (1, 2, 3):  # a 270M base model may answer with nothing; Regenerate is what a user does then
        if editor.rewrite_session() is None:
            assert editor.start_rewrite(builtin_action("shorten"), seed=seed)
        else:
            editor.regenerate_rewrite()
        session = editor.rewrite_session()
        assert session is not None
        pump(lambda session=session: not session.is_running())  # type: ignore[misc]
        assert editor.document_text() == TEXT  # untouched while the diff shows
        text = session.current_text()
        if text:
            break
    assert (
        text
        and session is not None
        and session.current is not None
        and session.current.state is RewriteState.READY
    )
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    document = editor.document_text()
    assert document == TEXT.replace(SELECTED, text)
    start = document.index(text)
    assert (start, start + len(text)) in editor.ai_ranges()


def test_esc_while_streaming_cancels_the_engine_job(
    qtbot: QtBot, editor: MarkdownEditor, runner: JobRunner
) -> None:
    provider = RecordingProvider(runner)
    editor.set_rewrite_provider(provider)
    assert editor.start_rewrite(builtin_action("expand"), seed=4)
    handle = provider.handles[0]
    pump(lambda: bool(handle.text) or handle.is_done)
    assert not handle.is_done, "the job ended before the test could cancel it"
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert editor.rewrite_session() is None
    pump(lambda: handle.is_done)
    assert handle.state is JobState.CANCELLED
    assert editor.document_text() == TEXT
