"""Fixtures of the UI tests: a job runner, and a real OpenAI-compatible server (``python -m llama_cpp.server``,
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

from studio.ui.jobs import JobRunner


def _llama_server_module() -> ModuleType:
    """tests/engines/llama_server.py as a module (tests are not a package)."""
    name = "studio_tests_llama_server"
    if name not in sys.modules:
        path = Path(__file__).parent.parent / "engines" / "llama_server.py"
        spec = importlib.util.spec_from_file_location(name, path)
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
def free_port() -> Callable[[], int]:
    """Finds a free loopback port: a server URL where nothing listens."""
    return _llama_server_module().free_port  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def llama_server(default_model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``python -m llama_cpp.server`` on the default model, one per test module (``url``, ``port``); skips
    when llama-cpp-python's ``[server]`` extra is missing."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python's [server] extra is not installed")
    started = _llama_server_module().LlamaServer(
        default_model_file, tmp_path_factory.mktemp("llama-server") / "server.log"
    )
    yield started
    started.stop()
