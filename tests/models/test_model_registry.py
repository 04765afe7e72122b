"""The model registry in Studio's data folder."""

from __future__ import annotations

import json
from pathlib import Path

from studio import paths
from studio.models.registry import DIFFUSION, LLM, ModelRegistry


def test_records_models_most_recent_first(tmp_path: Path) -> None:
    first = tmp_path / "a.gguf"
    first.write_bytes(b"x" * 10)
    second = tmp_path / "b.gguf"
    second.write_bytes(b"y" * 20)
    registry = ModelRegistry()
    assert registry.path.parent == paths.data_dir()
    registry.record(str(first), LLM, model_kind="base")
    registry.record(str(second), LLM, name="B model", model_kind="instruct")
    registry.record(str(tmp_path / "sd"), DIFFUSION, family="sd15")
    assert [entry.path for entry in registry.entries(LLM)] == [str(second), str(first)]
    registry.record(str(first), LLM)
    reloaded = ModelRegistry()
    entries = reloaded.entries(LLM)
    assert [entry.path for entry in entries] == [str(first), str(second)]
    assert entries[0].size_bytes == 10 and entries[0].details == {"model_kind": "base"}
    assert entries[1].name == "B model"
    assert [entry.details["family"] for entry in reloaded.entries(DIFFUSION)] == ["sd15"]
    assert reloaded.remove(str(second)) and not reloaded.remove(str(second))
    assert [entry.path for entry in ModelRegistry().entries(LLM)] == [str(first)]
    assert ModelRegistry().entries(LLM)[0].exists
    first.unlink()
    assert not ModelRegistry().entries(LLM)[0].exists


def test_a_broken_registry_file_starts_empty_and_is_rewritten() -> None:
    path = paths.data_dir() / "models.json"
    path.write_text("{not json", encoding="utf-8")
    registry = ModelRegistry()
    assert registry.entries() == []
    registry.record("/models/x.gguf")
    assert json.loads(path.read_text(encoding="utf-8"))["models"][0]["path"] == "/models/x.gguf"
    path.write_text(
        json.dumps({"models": [{"path": 3}, {"path": "/ok.gguf", "bogus": 1}, "junk"]}), encoding="utf-8"
    )
    assert [entry.path for entry in ModelRegistry().entries()] == ["/ok.gguf"]
