"""ModelController on its own (no main window), with the real LLM engine process on the default model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from studio.models.registry import ModelRegistry
from studio.settings import Settings
from studio.ui.jobs import JobRunner
from studio.ui.model_controller import ModelController
from studio.ui.model_status import ModelState

pytestmark = pytest.mark.llm

WAIT_MS = 240_000


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[JobRunner]:
    runner = JobRunner()
    yield runner
    runner.shutdown()


def test_a_refused_model_is_reported_and_the_loaded_one_keeps_serving(
    qtbot: QtBot, runner: JobRunner, tmp_path: Path
) -> None:
    settings = Settings(suggestions_enabled=False)
    controller = ModelController(runner, ModelRegistry(), lambda: settings, lambda: True)
    errors: list[str] = []
    rebuilds: list[None] = []
    controller.error.connect(errors.append)
    controller.models_changed.connect(lambda: rebuilds.append(None))
    status = controller.status

    controller.start_engine()
    assert status.state is ModelState.LOADING
    qtbot.waitUntil(lambda: status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS)
    assert status.state is ModelState.READY, status.message
    assert status.model_kind == "base"
    assert "tokens of context" in status.message
    assert errors == []

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 100)
    controller.load_model(str(bad))
    assert settings.model_path == str(bad)
    assert rebuilds  # the menus learn of the new active model at once
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert "broken.gguf" in errors[0]
    qtbot.waitUntil(lambda: status.state is ModelState.READY, timeout=WAIT_MS)
    assert settings.model_path == ""  # the default model still serves, and is the active one again
    assert status.message == errors[0]
    assert controller.models.entries() == []
