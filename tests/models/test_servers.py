"""Remembered servers in the model registry: kept apart from model files, round trip through the file."""

from __future__ import annotations

import json
from pathlib import Path

from studio.models.registry import LLM, SERVER, ModelEntry, ModelRegistry
from studio.models.servers import ServerChoice, recent_servers, record_server, server_choice, server_models


def test_a_server_is_remembered_apart_from_model_files_and_survives_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    registry = ModelRegistry(path)
    registry.add(ModelEntry(path=str(tmp_path / "local.gguf"), engine=LLM))
    choice = ServerChoice("http://10.0.0.5:8000", "VLLM_KEY", "qwen2.5-7b")
    record_server(registry, choice, ("qwen2.5-7b", "llama-3.1-8b"), "instruct")

    again = ModelRegistry(path)
    assert [entry.path for entry in again.entries()] == [str(tmp_path / "local.gguf")]  # model files only
    servers = recent_servers(again)
    assert [entry.path for entry in servers] == ["http://10.0.0.5:8000"]
    assert servers[0].engine == SERVER and servers[0].name == "qwen2.5-7b" and servers[0].size_bytes == 0
    assert server_choice(servers[0]) == choice
    assert server_models(servers[0]) == ["qwen2.5-7b", "llama-3.1-8b"]
    stored = json.loads(path.read_text(encoding="utf-8"))["models"]
    assert "VLLM_KEY" in json.dumps(stored)  # the variable's name, never a key

    record_server(again, choice.connected_to("llama-3.1-8b"), ("qwen2.5-7b", "llama-3.1-8b"), "instruct")
    assert len(recent_servers(again)) == 1  # one entry per server URL, with the model used last
    assert server_choice(recent_servers(again)[0]).model == "llama-3.1-8b"
    assert again.remove("http://10.0.0.5:8000") and recent_servers(again) == []


def test_a_server_choice_names_itself_for_the_status_bar() -> None:
    assert (
        ServerChoice("http://127.0.0.1:8080", model="gemma").status_name == "Server: gemma @ 127.0.0.1:8080"
    )
    assert (
        ServerChoice("https://gpu.example.org/v1").status_name == "Server: first model @ gpu.example.org:443"
    )
    served_file = ServerChoice("http://127.0.0.1:8080", model="/srv/models/gemma-3-270m-Q8_0.gguf")
    assert served_file.status_name == "Server: gemma-3-270m-Q8_0.gguf @ 127.0.0.1:8080"
    assert (
        ServerChoice("http://h:1", model="Qwen/Qwen2.5-7B-Instruct").model_label == "Qwen/Qwen2.5-7B-Instruct"
    )
    request = ServerChoice("http://h:1", "KEY", "m").request("job")
    assert (request.job_id, request.url, request.api_key_env, request.model) == (
        "job",
        "http://h:1",
        "KEY",
        "m",
    )
