"""Suggestions with story notes and cache warm-up, on the real engine with the default Gemma model: the engine
gets the assembled prompt, a warm-up makes the next suggestion evaluate only a few prompt tokens, and a real
request cancels a running warm-up."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.engines.protocol import new_job_id
from studio.engines.results import CompletionResult
from studio.engines.text_requests import CompletionRequest, LoadModelRequest
from studio.settings import Settings
from studio.ui.jobs import JobRunner, JobState
from studio.ui.write.continuation import EngineContinuationProvider
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.warm_up import CacheWarmer
from studio.writing.story_notes import GlossaryEntry, StoryNotes

pytestmark = pytest.mark.llm

WAIT_MS = 240_000
SENTENCES = (
    "The harbour smelled of tar and rain, and the gulls argued over the nets.",
    "Mira counted the crates twice, because the first count never matched the ledger.",
    "Down the quay a boy was singing a song about a drowned bell.",
    "Nobody had seen the lighthouse keeper since the storm in early spring.",
    "The ropes creaked whenever the tide turned, like an old door in a cold house.",
)


def long_story(paragraphs: int = 28) -> str:
    return "".join(
        f"{SENTENCES[n % 5]} {SENTENCES[(n * 3 + 1) % 5]} It was day {n}.\n\n" for n in range(paragraphs)
    )


def pump(until: Callable[[], bool], timeout_ms: int = WAIT_MS) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while not until():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.01)


@pytest.fixture(scope="module")
def runner(qapp: QApplication, default_model_file: Path) -> Iterator[JobRunner]:
    runner = JobRunner()
    load = runner.run(LoadModelRequest(new_job_id(), model_path=str(default_model_file), n_ctx=4096))
    pump(lambda: load.is_done)
    assert load.state is JobState.DONE, load.message
    yield runner
    runner.shutdown()


def finished(provider: EngineContinuationProvider, before: CompletionResult | None) -> Callable[[], bool]:
    return lambda: provider.last_result is not None and provider.last_result is not before


def test_a_warm_up_leaves_the_next_suggestion_only_a_few_tokens_to_evaluate(
    qtbot: QtBot, runner: JobRunner
) -> None:
    settings = Settings(suggestion_max_tokens=4, temperature=0.0)
    notes = StoryNotes(memory="A quiet story about a harbour town.", authors_note="Keep it calm.")
    provider = EngineContinuationProvider(runner, lambda: settings, lambda: notes)
    editor = MarkdownEditor()
    qtbot.addWidget(editor)
    editor.setPlainText(long_story())
    editor.set_continuation_provider(provider)
    editor.show()
    warmer = CacheWarmer(provider, lambda: editor)
    warmer.document_changed()  # the document opened: its cursor is at the start, so its end is warmed
    pump(lambda: provider.last_warm_up is not None)
    assert provider.last_warm_up is not None
    assert provider.last_warm_up.prompt_tokens_evaluated > 400

    editor.moveCursor(editor.textCursor().MoveOperation.End)
    assert editor.request_suggestion()
    pump(finished(provider, None))
    assert provider.last_result is not None and provider.last_prompt is not None
    assert provider.last_result.prompt_tokens > 400
    assert provider.last_result.prompt_tokens_evaluated <= 4
    assert provider.last_prompt.text.startswith("A quiet story about a harbour town.\n\n")

    # without a warm-up, a new head (the memory edited) is evaluated cold
    notes = StoryNotes(memory="A loud story about a mountain village.", authors_note="Keep it calm.")
    before = provider.last_result
    editor.dismiss_suggestion()
    assert editor.request_suggestion()
    pump(finished(provider, before))
    assert provider.last_result.prompt_tokens_evaluated > 400


def test_a_real_request_cancels_a_running_warm_up(qtbot: QtBot, runner: JobRunner) -> None:
    settings = Settings(suggestion_max_tokens=4, temperature=0.0)
    provider = EngineContinuationProvider(runner, lambda: settings)
    text = "A different opening, so nothing is cached.\n\n" + long_story(30)
    warm = provider.warm(text, "")
    assert warm is not None and provider.warming
    assert provider.warm(text, "") is None  # the same prompt is never warmed twice
    tokens: list[str] = []
    done: list[bool] = []
    provider.start_continuation(text, "", tokens.append, lambda: done.append(True), pytest.fail)
    assert not provider.warming
    pump(lambda: bool(done))
    assert warm.state is JobState.CANCELLED
    assert provider.last_result is not None and provider.last_result.prompt_tokens > 400
    assert provider.warm(text, "") is None  # the suggestion's prompt is in the cache now


def test_the_suggestion_prompt_carries_the_notes_and_glossary_entries_near_the_cursor(
    qtbot: QtBot, runner: JobRunner
) -> None:
    settings = Settings(suggestion_max_tokens=4, temperature=0.0)
    notes = StoryNotes(
        memory="Memory line.",
        glossary=(
            GlossaryEntry("Mira", ("Mira",), "The harbour master."),
            GlossaryEntry("Oskar", ("Oskar",), "A smuggler."),
        ),
    )
    provider = EngineContinuationProvider(runner, lambda: settings, lambda: notes)
    sent: list[object] = []
    provider.prompt_assembled.connect(sent.append)
    provider.start_continuation("Mira looked at the sea and", "", lambda _t: None, lambda: None, pytest.fail)
    pump(finished(provider, None))
    prompt = provider.last_prompt
    assert prompt is not None and sent == [prompt]
    assert prompt.text == "Memory line.\n\n[Mira: The harbour master.]\nMira looked at the sea and"
    assert provider.last_result is not None
    # the engine really got the notes: more tokens than the bare sentence (about 7) could make
    assert provider.last_result.prompt_tokens >= 15


def test_any_other_engine_job_cancels_a_running_warm_up_and_none_starts_beside_one(
    qtbot: QtBot, runner: JobRunner
) -> None:
    settings = Settings(suggestion_max_tokens=4, temperature=0.0)
    provider = EngineContinuationProvider(runner, lambda: settings)
    text = "Yet another opening, so nothing is cached.\n\n" + long_story(30)
    warm = provider.warm(text, "")
    assert warm is not None
    other = runner.run(
        CompletionRequest(new_job_id(), prompt="The assistant asks.", max_tokens=2), "Answering"
    )
    assert not provider.warming
    assert provider.warm(text + "More.", "") is None  # not while the other job runs
    pump(lambda: other.is_done)
    assert other.state is JobState.DONE
    assert warm.state is JobState.CANCELLED
