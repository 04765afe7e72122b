"""Fixtures of the UI tests: a main window and a job runner (the hub stand-in and the llama.cpp server are in
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from studio.settings import Settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.jobs import JobRunner
from studio.ui.main_window import MainWindow


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[JobRunner]:
    """A job runner, shut down (engine processes ended) after the test."""
    runner = JobRunner()
    yield runner
    runner.shutdown()


@pytest.fixture
def main_window(qtbot: QtBot) -> MainWindow:
    """A shown main window without suggestions, whose dialogs discard unsaved text and canvas."""
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, unsaved_canvas=UnsavedChoice.DISCARD)
    window = MainWindow(Settings(suggestions_enabled=False), dialogs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window
