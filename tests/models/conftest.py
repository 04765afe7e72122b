"""Fixtures for the model manager: a tiny valid GGUF and a local stand-in for the Hugging Face hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def model_files(hub_stand_in: ModuleType) -> ModuleType:
    """The helper module that writes tiny model files (tests/models/hub_stand_in.py)."""
    return hub_stand_in


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory, hub_stand_in: ModuleType) -> Path:
    """A valid 3 MB llama-architecture GGUF with a chat template."""
    return hub_stand_in.write_tiny_gguf(tmp_path_factory.mktemp("tiny-gguf") / "tiny.gguf")


@pytest.fixture
def stand_in(tiny_gguf: Path, hub_stand_in: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The stand-in hub serving ``acme/tiny``: ``tiny.gguf`` (LFS, via the CDN), ``plain.gguf`` (a plain git
    file), ``cut.gguf`` (the first GET breaks off after 1.5 MB) and ``bad.gguf`` (announced with a wrong
    SHA-256); HF_ENDPOINT points at it."""
    module = hub_stand_in
    data = tiny_gguf.read_bytes()
    server = module.HubStandIn(
        {
            ("acme/tiny", "tiny.gguf"): module.HubFile(data),
            ("acme/tiny", "plain.gguf"): module.HubFile(data, lfs=False),
            ("acme/tiny", "cut.gguf"): module.HubFile(data, cut=1_500_000),
            ("acme/tiny", "bad.gguf"): module.HubFile(data, announced_sha256="0" * 64),
        }
    ).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_taesd(tmp_path_factory: pytest.TempPathFactory, hub_stand_in: ModuleType) -> Path:
    """A tiny random-weight TAESD folder (``AutoencoderTiny``, config.json + safetensors)."""
    return hub_stand_in.write_tiny_taesd(tmp_path_factory.mktemp("tiny-taesd") / "taesd")
