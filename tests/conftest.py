"""Shared fixtures: every test runs offscreen with its own settings and data dirs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_app_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point Studio's config and data dirs at fresh temp dirs so tests never touch the real ones."""
    root = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(root / "config"))
    monkeypatch.setenv("STUDIO_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield root
