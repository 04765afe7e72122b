"""Fixtures of the writing tests: a tiny random-weight GGUF with a chat template (an 'instruct' model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.testing.chat_gguf import write_chat_gguf


@pytest.fixture(scope="session")
def chat_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chat_gguf(tmp_path_factory.mktemp("chat") / "tiny-chat.gguf")
