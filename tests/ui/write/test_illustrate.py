"""Illustrate Passage on the real engines: the default Gemma writes the image prompt, the tiny diffusion
pipeline makes the pictures, Insert saves images/<name>.png with Studio's provenance and puts
``![alt](images/<name>.png)`` after the passage as one undo step."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.canvas.generation import GenerateSettings
from studio.canvas.png_metadata import (
    TRAINED_ALGORITHMIC_MEDIA,
    read_digital_source_type,
    read_generation_info,
)
from studio.engines.protocol import EngineEvent, EventKind, new_job_id
from studio.engines.text_requests import LoadModelRequest
from studio.ui.jobs import JobRunner, JobState
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.illustrate import IllustrateDialog, default_image_settings
from studio.writing.illustration import UNTITLED_MESSAGE

if TYPE_CHECKING:
    from tests.ui.write.conftest import MakeEditor

WAIT_MS = 240_000
TEXT = "# Harbour\n\nThe storm passed, and the fishermen stood silent on the quay.\n\nThe end.\n"
PASSAGE = "The storm passed, and the fishermen stood silent on the quay."


def pump(until: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not until():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.01)


@pytest.fixture(scope="module")
def runner(qapp: QApplication) -> Iterator[JobRunner]:
    runner = JobRunner()
    yield runner
    runner.shutdown()


@pytest.fixture
def editor(make_editor: MakeEditor) -> MarkdownEditor:
    return make_editor(TEXT, select=PASSAGE)


def load_gemma(runner: JobRunner, model: Path) -> None:
    load = runner.run(LoadModelRequest(new_job_id(), model_path=str(model), n_ctx=2048))
    pump(lambda: load.is_done)
    assert load.state is JobState.DONE, load.message


def tiny_settings(tiny_pipeline: Path) -> GenerateSettings:
    return replace(
        default_image_settings(str(tiny_pipeline)), steps=2, num_candidates=2, resolution=64, seed=11
    )


@pytest.mark.llm
@pytest.mark.diffusion
def test_gemma_writes_the_prompt_the_pipeline_draws_and_insert_saves_and_links_the_picture(
    qtbot: QtBot,
    runner: JobRunner,
    editor: MarkdownEditor,
    default_model_file: Path,
    tiny_pipeline: Path,
    tmp_path: Path,
) -> None:
    load_gemma(runner, default_model_file)
    document = tmp_path / "story.md"
    document.write_text(TEXT, encoding="utf-8")

    dialog = IllustrateDialog(
        runner, editor, str(document), image_settings=tiny_settings(tiny_pipeline), seed=5
    )
    qtbot.addWidget(dialog)
    dialog.resize(800, 600)
    dialog.show()
    assert dialog.passage_view.toPlainText() == PASSAGE
    assert dialog.is_writing_prompt
    qtbot.waitUntil(lambda: not dialog.is_writing_prompt, timeout=WAIT_MS)
    written = dialog.prompt
    assert written, dialog.message_label.text()
    assert "\n" not in dialog.prompt_edit.toPlainText()
    assert dialog.generate_button.isEnabled()

    dialog.prompt_edit.setPlainText(written + ", watercolour")  # the prompt is the user's to edit
    qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    assert dialog.is_generating
    qtbot.waitUntil(lambda: not dialog.is_generating, timeout=WAIT_MS)
    assert len(dialog.pictures) == 2, dialog.message_label.text()
    assert dialog.strip.count() == 2
    assert dialog.insert_button.isEnabled()
    assert not dialog.grab().isNull()

    dialog.strip.select(1)
    picked = dialog.pictures[1]
    assert picked.params["prompt"] == written + ", watercolour"
    qtbot.mouseClick(dialog.insert_button, Qt.MouseButton.LeftButton)

    saved = dialog.saved
    assert saved is not None, dialog.message_label.text()
    assert saved.path.parent == tmp_path / "images"
    assert saved.path.is_file()
    assert read_digital_source_type(saved.path) == TRAINED_ALGORITHMIC_MEDIA
    info = read_generation_info(saved.path)
    assert info is not None
    assert (info.prompt, info.seed) == (written + ", watercolour", picked.params["seed"])
    assert info.model == picked.params["model"]

    link = f"![{saved.alt}](images/{saved.path.name})"
    assert saved.markdown == link
    assert editor.document_text() == TEXT.replace(PASSAGE, f"{PASSAGE}\n\n{link}")
    editor.document().undo()
    assert editor.document_text() == TEXT  # one undo step
    assert not dialog.isVisible()


@pytest.mark.diffusion
def test_an_untitled_document_is_asked_to_be_saved_and_nothing_changes(
    qtbot: QtBot, runner: JobRunner, editor: MarkdownEditor, tiny_pipeline: Path, tmp_path: Path
) -> None:
    dialog = IllustrateDialog(
        runner, editor, None, image_settings=tiny_settings(tiny_pipeline), write_prompt=False
    )
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.generate_button.isEnabled()  # no prompt yet
    dialog.prompt_edit.setPlainText("a harbour after a storm")
    qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_generating, timeout=WAIT_MS)
    assert len(dialog.pictures) == 2, dialog.message_label.text()

    qtbot.mouseClick(dialog.insert_button, Qt.MouseButton.LeftButton)
    assert dialog.saved is None
    assert dialog.message_label.text() == UNTITLED_MESSAGE
    assert dialog.isVisible()
    assert editor.document_text() == TEXT
    assert list(tmp_path.iterdir()) == []


def test_without_an_image_model_generate_says_what_to_do(
    qtbot: QtBot, runner: JobRunner, editor: MarkdownEditor
) -> None:
    dialog = IllustrateDialog(runner, editor, None, write_prompt=False)
    qtbot.addWidget(dialog)
    dialog.prompt_edit.setPlainText("a harbour")
    assert dialog.generate() is None
    assert "No image model chosen" in dialog.message_label.text()
    assert not dialog.is_generating


@pytest.mark.llm
def test_cancel_stops_the_prompt_and_write_again_restarts_it(
    qtbot: QtBot, runner: JobRunner, editor: MarkdownEditor, default_model_file: Path
) -> None:
    load_gemma(runner, default_model_file)
    dialog = IllustrateDialog(runner, editor, None, seed=5)
    qtbot.addWidget(dialog)
    job = dialog.prompt_job
    assert job is not None
    assert dialog.cancel_button.isEnabled()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.is_writing_prompt
    assert dialog.message_label.text() == "Stopped writing the prompt."
    qtbot.waitUntil(lambda: job.is_done, timeout=WAIT_MS)
    assert job.state in (JobState.CANCELLED, JobState.DONE)  # a very fast model may finish first
    assert dialog.rewrite_button.isEnabled()
    qtbot.mouseClick(dialog.rewrite_button, Qt.MouseButton.LeftButton)
    assert dialog.is_writing_prompt
    qtbot.waitUntil(lambda: not dialog.is_writing_prompt, timeout=WAIT_MS)
    assert dialog.prompt, dialog.message_label.text()


@pytest.mark.diffusion
def test_cancel_while_drawing_keeps_the_pictures_finished_before(
    qtbot: QtBot, runner: JobRunner, editor: MarkdownEditor, tiny_pipeline: Path
) -> None:
    settings = replace(tiny_settings(tiny_pipeline), steps=40, num_candidates=2, seed=7)
    dialog = IllustrateDialog(runner, editor, None, image_settings=settings, write_prompt=False)
    qtbot.addWidget(dialog)
    dialog.prompt_edit.setPlainText("a harbour after a storm")
    finals: list[EngineEvent] = []

    def on_event(event: EngineEvent) -> None:
        if event.kind is EventKind.PREVIEW and event.step is not None and event.step.final:
            finals.append(event)

    runner.event_received.connect(on_event)
    try:
        dialog.generate()
        qtbot.waitUntil(lambda: bool(finals), timeout=WAIT_MS)  # the first picture is done
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        assert not dialog.is_generating
        assert dialog.generate_button.isEnabled()
        qtbot.waitUntil(lambda: not runner.running_jobs, timeout=WAIT_MS)
    finally:
        runner.event_received.disconnect(on_event)
    assert [picture.params["seed"] for picture in dialog.pictures] == [7]
    assert dialog.strip.count() == 1
    assert "kept the pictures" in dialog.message_label.text()
    assert dialog.insert_button.isEnabled()
