"""The main window when llama.cpp crashes the engine while loading: one restart in safe mode, remembered.

The crash is simulated by the engine's test hook (``STUDIO_TEST_CRASH_ON_FIRST_DECODE``): the real engine
process dies of SIGSEGV in the load's warm-up decode, as it does on CPUs where llama.cpp's kernels crash.
"""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from studio.engines.llm import TEST_CRASH_ENV
from studio.engines.llm_safe_mode import SAFE_MODE_NOTICE, SAFE_MODE_REMEMBERED, SafeModeStore
from studio.engines.protocol import new_job_id
from studio.engines.text_requests import CompletionRequest
from studio.settings import Settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.jobs import JobState
from studio.ui.main_window import MainWindow
from studio.ui.model_status import ModelState

pytestmark = pytest.mark.llm

WAIT_MS = 240_000


def make_window(qtbot: QtBot) -> MainWindow:
    window = MainWindow(
        Settings(suggestions_enabled=False), ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD)
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def wait_loaded(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(
        lambda: window.model_status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS
    )


def complete(qtbot: QtBot, window: MainWindow) -> tuple[JobState, str]:
    """Run a short completion through the window's runner; (final state, text or error message)."""
    handle = window.runner.run(
        CompletionRequest(new_job_id(), prompt="The capital of France is", max_tokens=4, seed=1)
    )
    qtbot.waitUntil(lambda: handle.is_done, timeout=WAIT_MS)
    return handle.state, handle.text if handle.state is JobState.DONE else handle.message


def test_a_crash_while_loading_restarts_in_safe_mode_and_is_remembered(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_CRASH_ENV, "1")
    window = make_window(qtbot)
    window.start_engines()
    wait_loaded(qtbot, window)
    assert window.model_status.state == ModelState.READY, window.model_status.message
    client = window.runner.client("llm")
    assert client.restarts == 1  # one crash, one restart
    assert window.model_status.message == SAFE_MODE_NOTICE
    assert window.statusBar().currentMessage() == SAFE_MODE_NOTICE
    assert window.model_label.toolTip() == SAFE_MODE_NOTICE
    assert "ready" in window.model_label.text()
    assert SafeModeStore().needs_safe_mode("")
    state, text = complete(qtbot, window)
    assert state is JobState.DONE and text.strip()
    window.close()

    # the next start loads the model in safe mode directly: no crash, no restart, a quiet note
    again = make_window(qtbot)
    again.start_engines()
    wait_loaded(qtbot, again)
    assert again.model_status.state == ModelState.READY, again.model_status.message
    assert again.runner.client("llm").restarts == 0
    assert again.model_status.message.endswith(SAFE_MODE_REMEMBERED)
    assert again.statusBar().currentMessage() == ""
    assert not again.error_label.isVisible()
    again.close()


def test_a_crash_in_safe_mode_too_gives_an_error_and_no_restart_loop(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_CRASH_ENV, "always")
    window = make_window(qtbot)
    window.start_engines()
    wait_loaded(qtbot, window)
    assert window.model_status.state == ModelState.ERROR
    assert "even in safe mode" in window.model_status.message
    assert window.error_label.isVisible()
    assert "even in safe mode" in window.error_label.text()
    client = window.runner.client("llm")
    assert client.restarts == 1
    assert not client.is_alive
    # a later request starts a fresh engine that does not load the model again: an error, not a crash
    state, message = complete(qtbot, window)
    assert state is JobState.FAILED
    assert "No language model is loaded" in message
    assert client.restarts == 2
    assert client.is_alive
    assert window.model_status.state == ModelState.ERROR
    window.close()
