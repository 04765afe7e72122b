"""The model registry in Studio's data folder: round trip, migration from version 1, rename, remove."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio import paths
from studio.models.model_settings import clean_settings, default_settings
from studio.models.registry import (
    DIFFUSION,
    LLM,
    ModelEntry,
    ModelKind,
    ModelRegistry,
    RegistryError,
)


def test_records_models_most_recent_first(tmp_path: Path) -> None:
    first = tmp_path / "a.gguf"
    first.write_bytes(b"x" * 10)
    second = tmp_path / "b.gguf"
    second.write_bytes(b"y" * 20)
    registry = ModelRegistry()
    assert registry.path.parent == paths.data_dir()
    registry.record(str(first), LLM, model_kind="base")
    registry.record(str(second), LLM, name="B model", model_kind="instruct", quirk=1)
    registry.record(str(tmp_path / "sd"), DIFFUSION, family="sd15")
    assert [entry.path for entry in registry.entries(LLM)] == [str(second), str(first)]
    registry.record(str(first), LLM)
    reloaded = ModelRegistry()
    entries = reloaded.entries(LLM)
    assert [entry.path for entry in entries] == [str(first), str(second)]
    assert entries[0].size_bytes == 10 and entries[0].model_kind is ModelKind.BASE
    assert (
        entries[1].name == "B model"
        and entries[1].kind == "instruct"
        and entries[1].details == {"model_kind": "instruct", "quirk": 1}
    )
    assert [entry.model_kind for entry in reloaded.entries(DIFFUSION)] == [ModelKind.SD15]
    assert reloaded.remove(str(second)) and not reloaded.remove(str(second))
    assert second.exists(), "removing an imported model must leave its file alone"
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
        json.dumps(
            {
                "version": 2,
                "models": [{"path": 3}, {"path": "/ok.gguf", "size_bytes": "big", "bogus": 1}, "junk"],
            }
        ),
        encoding="utf-8",
    )
    entries = ModelRegistry().entries()
    assert [entry.path for entry in entries] == ["/ok.gguf"] and entries[0].size_bytes == 0


# Written by the registry as it was before the model manager (version 1), byte for byte in its layout.
VERSION_1_FILE: dict[str, object] = {
    "version": 1,
    "models": [
        {
            "path": "/home/me/models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
            "engine": "llm",
            "name": "Qwen2.5 0.5B Instruct",
            "details": {"model_kind": "instruct", "architecture": "qwen2"},
            "size_bytes": 491400032,
            "last_used": 1790000000.5,
        },
        {
            "path": "/home/me/models/dreamshaper.safetensors",
            "engine": "diffusion",
            "name": "dreamshaper.safetensors",
            "details": {"family": "sdxl", "note": "kept"},
            "size_bytes": 6938040682,
            "last_used": 1790000100.0,
        },
    ],
}


def test_a_version_1_registry_is_migrated_and_the_old_file_kept() -> None:
    path = paths.data_dir() / "models.json"
    path.write_text(json.dumps(VERSION_1_FILE, indent=2) + "\n", encoding="utf-8")
    registry = ModelRegistry()
    llm = registry.get("/home/me/models/qwen2.5-0.5b-instruct-q4_k_m.gguf")
    image = registry.get("/home/me/models/dreamshaper.safetensors")
    assert llm is not None and image is not None
    assert (llm.kind, llm.architecture, llm.name, llm.size_bytes) == (
        "instruct",
        "qwen2",
        "Qwen2.5 0.5B Instruct",
        491400032,
    )
    assert llm.details == {"model_kind": "instruct", "architecture": "qwen2"}  # kept for older readers
    assert llm.last_used == 1790000000.5 and not llm.downloaded
    assert (image.engine, image.model_kind, image.details["note"]) == (DIFFUSION, ModelKind.SDXL, "kept")
    assert [entry.path for entry in registry.entries()] == [image.path, llm.path]
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["version"] == 2 and written["models"][0]["kind"] == "instruct"
    assert json.loads((paths.data_dir() / "models.v1.json").read_text(encoding="utf-8")) == VERSION_1_FILE
    again = ModelRegistry()
    assert again.get(llm.path) == llm


def test_fields_of_a_newer_studio_survive_a_round_trip(tmp_path: Path) -> None:
    path = paths.data_dir() / "models.json"
    item = {"path": "/m.gguf", "engine": "llm", "name": "M", "kind": "base", "future_field": {"a": [1]}}
    path.write_text(json.dumps({"version": 3, "models": [item]}), encoding="utf-8")
    registry = ModelRegistry()
    registry.rename("/m.gguf", "  Renamed   model ")
    written = json.loads(path.read_text(encoding="utf-8"))["models"][0]
    assert written["future_field"] == {"a": [1]} and written["name"] == "Renamed model"


def test_rename_sticks_and_bad_names_are_refused() -> None:
    registry = ModelRegistry()
    registry.record("/m.gguf", LLM, name="Header name")
    registry.rename("/m.gguf", "Mine")
    registry.record("/m.gguf", LLM, name="Header name")  # a later load keeps the user's name
    assert ModelRegistry().get("/m.gguf").name == "Mine"  # type: ignore[union-attr]
    with pytest.raises(RegistryError, match="empty"):
        registry.rename("/m.gguf", "   ")
    with pytest.raises(RegistryError, match="no model"):
        registry.rename("/other.gguf", "x")
    assert registry.find("Mine") is registry.get("/m.gguf")


def test_removing_a_downloaded_model_deletes_its_file_but_never_one_outside_the_models_folder(
    tmp_path: Path,
) -> None:
    folder = paths.models_dir() / "acme--tiny"
    folder.mkdir()
    downloaded = folder / "tiny.gguf"
    downloaded.write_bytes(b"GGUF")
    outside = tmp_path / "mine.gguf"
    outside.write_bytes(b"GGUF")
    registry = ModelRegistry()
    registry.add(ModelEntry(path=str(downloaded), downloaded=True, sha256="ab" * 32))
    registry.add(ModelEntry(path=str(outside), downloaded=True))  # a damaged flag must not delete user files
    assert registry.find("abababab") is registry.get(str(downloaded))
    assert registry.remove(str(downloaded)) and registry.remove(str(outside))
    assert not downloaded.exists() and not folder.exists()
    assert outside.exists()
    assert ModelRegistry().entries() == []


def test_add_keeps_history_and_settings_of_a_known_model() -> None:
    registry = ModelRegistry()
    registry.record("/m.gguf", LLM, name="Old")
    registry.set_settings("/m.gguf", {"context": 2048})
    used = registry.get("/m.gguf").last_used  # type: ignore[union-attr]
    registry.add(ModelEntry(path="/m.gguf", name="Header", kind="instruct", sha256="c" * 64))
    entry = ModelRegistry().get("/m.gguf")
    assert entry is not None
    assert (entry.name, entry.kind, entry.settings, entry.last_used) == (
        "Header",
        "instruct",
        {"context": 2048},
        used,
    )


def test_settings_are_cleaned_against_the_model() -> None:
    llm = ModelEntry(path="/m.gguf", context_length=2048, settings={"context": 99999, "temperature": "hot"})
    values = clean_settings(llm)
    assert values["context"] == 2048 and values["temperature"] == 0.7 and values["threads"] == 0
    turbo = ModelEntry(path="/sd_xl_turbo_1.0.safetensors", engine=DIFFUSION, kind="sdxl")
    defaults = default_settings(turbo)
    assert (defaults["steps"], defaults["guidance"], defaults["scheduler"], defaults["width"]) == (
        2,
        0.0,
        "turbo",
        1024,
    )
    lcm = ModelEntry(path="/x/lcm-dreamshaper.safetensors", engine=DIFFUSION, kind="sd15")
    assert default_settings(lcm)["scheduler"] == "lcm"
    cleaned = clean_settings(lcm, {"width": 517, "precision": "float8", "scheduler": "nope", "steps": 0})
    assert (cleaned["width"], cleaned["precision"], cleaned["scheduler"], cleaned["steps"]) == (
        512,
        "auto",
        "lcm",
        1,
    )
