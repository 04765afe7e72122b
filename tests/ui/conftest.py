"""Fixtures of the UI tests: a main window, a job runner, the hub stand-in, and a real OpenAI-compatible server (``python -m llama_cpp.server``,
started by tests/engines/llama_server.py) serving the default model."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from studio.settings import Settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.jobs import JobRunner
from studio.ui.main_window import MainWindow


def _test_helper(path: str) -> ModuleType:
    """The helper module at ``tests/<path>`` (tests are not a package), as ``studio_tests_<its name>``."""
    file = Path(__file__).parent.parent / path
    name = f"studio_tests_{file.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[JobRunner]:
    """A job runner, shut down (engine processes ended) after the test."""
    runner = JobRunner()
    yield runner
    runner.shutdown()


@pytest.fixture(scope="session")
def hub_stand_in() -> ModuleType:
    """tests/models/hub_stand_in.py: tiny model files and a local stand-in for the Hugging Face hub."""
    return _test_helper("models/hub_stand_in.py")


@pytest.fixture
def main_window(qtbot: QtBot) -> MainWindow:
    """A shown main window without suggestions, whose dialogs discard unsaved text and canvas."""
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, unsaved_canvas=UnsavedChoice.DISCARD)
    window = MainWindow(Settings(suggestions_enabled=False), dialogs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Finds a free loopback port: a server URL where nothing listens."""
    return _test_helper("engines/llama_server.py").free_port  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def llama_server(default_model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``python -m llama_cpp.server`` on the default model, one per test module (``url``, ``port``); skips
    when llama-cpp-python's ``[server]`` extra is missing."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python's [server] extra is not installed")
    started = _test_helper("engines/llama_server.py").LlamaServer(
        default_model_file, tmp_path_factory.mktemp("llama-server") / "server.log"
    )
    yield started
    started.stop()
