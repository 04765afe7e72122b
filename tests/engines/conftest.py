"""Fixtures of the engine tests: a real OpenAI-compatible server (``python -m llama_cpp.server``, started by
tests/engines/llama_server.py) on the default model, and a free loopback port where nothing listens."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.engines.llama_server import LlamaServer


def _llama_server_module() -> ModuleType:
    """tests/engines/llama_server.py (tests are not a package), loaded once as ``studio_tests_llama_server``."""
    name = "studio_tests_llama_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("llama_server.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Finds a free loopback port: a server URL where nothing listens."""
    return _llama_server_module().free_port  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def start_llama_server() -> Callable[[Path, Path], LlamaServer]:
    """Starts ``python -m llama_cpp.server`` on a model (logging to a file); the caller stops it."""
    return _llama_server_module().LlamaServer  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def llama_server(
    default_model_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
    start_llama_server: Callable[[Path, Path], LlamaServer],
) -> Iterator[LlamaServer]:
    """``python -m llama_cpp.server`` on the default model, one per test module (``url``, ``port``, ``model``)."""
    started = start_llama_server(default_model_file, tmp_path_factory.mktemp("llama-server") / "server.log")
    yield started
    started.stop()
