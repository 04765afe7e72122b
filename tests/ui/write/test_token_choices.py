"""Token choices in the editor: Alt+Down on an AI-written word lists the model's other likely words there;
picking one replaces the text from that word on (one undo step, marked as AI text) and streams a new
continuation from it as ghost text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from studio.engines.protocol import new_job_id
from studio.engines.text_requests import LoadModelRequest
from studio.ui.jobs import JobRunner, JobState
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.token_choices import (
    EngineTokenChoicesProvider,
    TokenChoicesMenu,
    ai_word_span,
    format_choice,
)

if TYPE_CHECKING:
    from tests.ui.write.conftest import MakeEditor

HUMAN = "The keeper climbed the stairs"
AI = " and looked out at the sea."
AFTER = "\n\nThe end."
WAIT_MS = 240_000
CHOICES = ((" and", 0.41), (" to", 0.22), (",", 0.08), ("\n", 0.02))


@dataclass
class Handle:
    cancelled: int = 0

    def cancel(self) -> None:
        self.cancelled += 1


@dataclass
class ChoicesCall:
    prefix: str
    suffix: str
    on_result: Callable[[Sequence[tuple[str, float]]], None]
    on_failed: Callable[[str], None]
    handle: Handle = field(default_factory=Handle)


class Recorder:
    """Records token-choice and continuation requests; the test answers them."""

    def __init__(self) -> None:
        self.choices: list[ChoicesCall] = []
        self.continuations: list[tuple[str, str, Callable[[str], None], Callable[[], None]]] = []

    def start_token_choices(self, prefix, suffix, on_result, on_failed):  # type: ignore[no-untyped-def]
        self.choices.append(ChoicesCall(prefix, suffix, on_result, on_failed))
        return self.choices[-1].handle

    def start_continuation(self, prefix, suffix, on_tokens, on_finished, on_failed):  # type: ignore[no-untyped-def]
        self.continuations.append((prefix, suffix, on_tokens, on_finished))
        return Handle()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def editor(make_editor: MakeEditor, recorder: Recorder) -> MarkdownEditor:
    widget = make_editor(HUMAN + AI + AFTER, size=(640, 320), continuation=recorder, token_choices=recorder)
    widget.set_ai_ranges([(len(HUMAN), len(HUMAN + AI))])
    return widget


def put_cursor(editor: MarkdownEditor, position: int) -> None:
    cursor = editor.textCursor()
    cursor.setPosition(position)
    editor.setTextCursor(cursor)


def test_the_span_runs_from_the_word_and_its_spaces_to_the_end_of_the_ai_text() -> None:
    text = HUMAN + AI + AFTER
    ranges = [(len(HUMAN), len(HUMAN + AI))]
    looked = text.index("looked")
    assert ai_word_span(text, ranges, looked + 2) == (looked - 1, len(HUMAN + AI))
    assert ai_word_span(text, ranges, len(HUMAN) + 2) == (len(HUMAN), len(HUMAN + AI))
    assert ai_word_span(text, ranges, text.index("stairs")) is None  # written by the human
    assert ai_word_span("Hello there", [(0, 5)], 2) is None  # nothing before the word


def test_labels_show_whitespace_and_per_cent() -> None:
    assert format_choice(" and", 0.41) == "·and\t41.0 %"
    assert format_choice("\n", 0.02) == "↵\t2.0 %"
    assert format_choice("R&D", 0.5).startswith("R&&D")


def test_picking_a_word_replaces_the_rest_marks_it_ai_and_one_undo_restores(
    qtbot: QtBot, editor: MarkdownEditor, recorder: Recorder
) -> None:
    looked = (HUMAN + AI).index("looked")
    put_cursor(editor, looked + 3)
    menus: list[TokenChoicesMenu] = []
    editor.token_choices_shown.connect(menus.append)
    qtbot.keyClick(editor, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert len(recorder.choices) == 1
    call = recorder.choices[0]
    assert call.prefix == HUMAN + " and"
    assert call.suffix == AFTER
    call.on_result(CHOICES)
    assert len(menus) == 1
    menu = menus[0]
    assert menu.choice_texts() == [format_choice(text, p) for text, p in CHOICES]
    qtbot.waitUntil(menu.isVisible)
    to = next(action for action in menu.actions() if action.text().startswith("·to"))
    to.trigger()
    menu.close()

    assert editor.document_text() == HUMAN + " and to" + AFTER
    assert editor.ai_ranges() == [(len(HUMAN), len(HUMAN + " and to"))]
    # the continuation streams from the picked word, as ghost text (the document is unchanged until Tab)
    prefix, suffix, on_tokens, on_finished = recorder.continuations[-1]
    assert (prefix, suffix) == (HUMAN + " and to", AFTER)
    on_tokens(" see the boats come home.")
    on_finished()
    assert editor.ghost_text() == " see the boats come home."
    assert editor.document_text() == HUMAN + " and to" + AFTER

    editor.undo()
    assert editor.document_text() == HUMAN + AI + AFTER
    assert editor.ai_ranges() == [(len(HUMAN), len(HUMAN + AI))]
    assert editor.ghost_text() == ""
    editor.redo()
    assert editor.document_text() == HUMAN + " and to" + AFTER
    assert editor.ai_ranges() == [(len(HUMAN), len(HUMAN + " and to"))]


def test_accepting_the_new_continuation_keeps_it_all_ai(
    qtbot: QtBot, editor: MarkdownEditor, recorder: Recorder
) -> None:
    start, end = len(HUMAN), len(HUMAN + AI)
    assert editor.apply_token_choice(start, end, " but")
    _prefix, _suffix, on_tokens, on_finished = recorder.continuations[-1]
    on_tokens(" the sea was empty.")
    on_finished()
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.document_text() == HUMAN + " but the sea was empty." + AFTER
    assert editor.ai_ranges() == [(start, len(HUMAN + " but the sea was empty."))]
    editor.undo()
    editor.undo()
    assert editor.document_text() == HUMAN + AI + AFTER


def test_alt_down_on_human_text_asks_nothing(
    qtbot: QtBot, editor: MarkdownEditor, recorder: Recorder
) -> None:
    put_cursor(editor, HUMAN.index("stairs") + 2)
    qtbot.keyClick(editor, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert recorder.choices == []
    assert not editor.show_token_choices()
    assert editor.document_text() == HUMAN + AI + AFTER


def test_choices_for_text_that_changed_meanwhile_are_dropped(
    qtbot: QtBot, editor: MarkdownEditor, recorder: Recorder
) -> None:
    put_cursor(editor, len(HUMAN + AI) - 3)
    failures: list[str] = []
    editor.token_choices_failed.connect(failures.append)
    menus: list[TokenChoicesMenu] = []
    editor.token_choices_shown.connect(menus.append)
    assert editor.show_token_choices()
    qtbot.keyClicks(editor, "x")
    recorder.choices[0].on_result(CHOICES)
    assert menus == []
    assert editor.show_token_choices(len(HUMAN) + 2)
    recorder.choices[1].on_failed("Token choices are not supported by this server")
    assert failures == ["Token choices are not supported by this server"]


@pytest.mark.llm
def test_the_engine_provider_lists_real_choices_and_a_pick_applies(
    qtbot: QtBot, default_model_file: Path
) -> None:
    runner = JobRunner()
    try:
        load = runner.run(LoadModelRequest(new_job_id(), model_path=str(default_model_file), n_ctx=2048))
        qtbot.waitUntil(lambda: load.is_done, timeout=WAIT_MS)
        assert load.state is JobState.DONE, load.message
        prompts: list[tuple[str, str]] = []

        def assemble(prefix: str, suffix: str) -> str:
            prompts.append((prefix, suffix))
            return "Memory: a story about a lighthouse.\n\n" + prefix

        provider = EngineTokenChoicesProvider(runner, assemble, k=6)
        editor = MarkdownEditor()
        qtbot.addWidget(editor)
        editor.set_suggestion_delay(60_000)
        editor.set_token_choices_provider(provider)
        editor.setPlainText(HUMAN + AI + AFTER)
        editor.set_ai_ranges([(len(HUMAN), len(HUMAN + AI))])
        editor.show()
        qtbot.waitExposed(editor)
        menus: list[TokenChoicesMenu] = []
        editor.token_choices_shown.connect(menus.append)
        assert editor.show_token_choices(len(HUMAN) + 2)
        qtbot.waitUntil(lambda: bool(menus), timeout=WAIT_MS)
        assert prompts == [(HUMAN, AFTER)]
        assert provider.last_result is not None and len(provider.last_result.tokens) == 6
        token, probability = next(pair for pair in provider.last_result.tokens if pair[0].strip())
        label = format_choice(token, probability)
        next(action for action in menus[0].actions() if action.text() == label).trigger()
        menus[0].close()
        assert editor.document_text() == HUMAN + token + AFTER
        assert editor.ai_ranges() == [(len(HUMAN), len(HUMAN + token))]
        editor.undo()
        assert editor.document_text() == HUMAN + AI + AFTER
        editor.shutdown()
    finally:
        runner.shutdown()
