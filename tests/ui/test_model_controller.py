"""ModelController on its own (no main window), with the real LLM engine process on the default model and a
real OpenAI-compatible server (``python -m llama_cpp.server``) serving the same model."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from studio.engines.protocol import new_job_id
from studio.engines.remote_requests import ConnectServerRequest
from studio.engines.results import CompletionResult
from studio.engines.text_requests import CompletionRequest, LoadModelRequest
from studio.models.registry import LLM, SERVER, ModelEntry, ModelRegistry
from studio.models.servers import ServerChoice, server_models
from studio.settings import Settings
from studio.ui.dialogs import ScriptedDialogs
from studio.ui.jobs import JobRunner
from studio.ui.model_controller import ModelController
from studio.ui.model_status import ModelState

WAIT_MS = 240_000


def served_models(url: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/v1/models", timeout=10) as answer:
        return [str(item["id"]) for item in json.load(answer)["data"]]


@pytest.mark.llm
def test_a_refused_model_is_reported_and_the_loaded_one_keeps_serving(
    qtbot: QtBot, runner: JobRunner, tmp_path: Path
) -> None:
    settings = Settings(suggestions_enabled=False)
    controller = ModelController(runner, ModelRegistry(), lambda: settings, lambda: True)
    errors: list[str] = []
    rebuilds: list[None] = []
    controller.error.connect(errors.append)
    controller.models_changed.connect(lambda: rebuilds.append(None))
    status = controller.status

    controller.start_engine()
    assert status.state is ModelState.LOADING
    qtbot.waitUntil(lambda: status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS)
    assert status.state is ModelState.READY, status.message
    assert status.model_kind == "base"
    assert "tokens of context" in status.message
    assert errors == []

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 100)
    controller.load_model(str(bad))
    assert settings.model_path == str(bad)
    assert rebuilds  # the menus learn of the new active model at once
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert "broken.gguf" in errors[0]
    qtbot.waitUntil(lambda: status.state is ModelState.READY, timeout=WAIT_MS)
    assert settings.model_path == ""  # the default model still serves, and is the active one again
    assert status.message == errors[0]
    assert controller.models.entries() == []


def complete(qtbot: QtBot, runner: JobRunner, prompt: str) -> str:
    results: list[CompletionResult] = []
    failures: list[str] = []
    request = CompletionRequest(new_job_id(), prompt=prompt, max_tokens=8, temperature=0.0)
    runner.run(request, "Complete").on_success(results.append).on_failure(failures.append)
    qtbot.waitUntil(lambda: bool(results or failures), timeout=WAIT_MS)
    assert not failures, failures
    return results[0].text


def test_load_request_uses_the_models_own_context_and_threads(qtbot: QtBot, tmp_path: Path) -> None:
    runner = JobRunner()
    registry = ModelRegistry(tmp_path / "models.json")
    own = registry.add(ModelEntry(path=str(tmp_path / "own.gguf"), engine=LLM, context_length=8192))
    registry.set_settings(own.path, {"context": 2048, "threads": 3})
    plain = registry.add(ModelEntry(path=str(tmp_path / "plain.gguf"), engine=LLM))
    settings = Settings(model_path=own.path, context_size=4096, threads=1)
    controller = ModelController(runner, registry, lambda: settings, lambda: True)

    request = controller.load_request()
    assert (getattr(request, "n_ctx", None), getattr(request, "n_threads", None)) == (2048, 3)
    settings.model_path = plain.path  # no settings of its own: the global ones
    request = controller.load_request()
    assert (getattr(request, "n_ctx", None), getattr(request, "n_threads", None)) == (4096, 1)
    settings.model_path = str(tmp_path / "unregistered.gguf")
    request = controller.load_request()
    assert (getattr(request, "n_ctx", None), getattr(request, "n_threads", None)) == (4096, 1)
    runner.shutdown()


def test_load_request_carries_the_models_chat_template_override(qtbot: QtBot, tmp_path: Path) -> None:
    runner = JobRunner()
    registry = ModelRegistry(tmp_path / "models.json")
    own = registry.add(ModelEntry(path=str(tmp_path / "own.gguf"), engine=LLM))
    registry.set_settings(own.path, {"chat_template": "{{ messages[0]['content'] }}\n"})
    settings = Settings(model_path=own.path)
    controller = ModelController(runner, registry, lambda: settings, lambda: True)
    request = controller.load_request()
    assert isinstance(request, LoadModelRequest)
    assert request.chat_template == "{{ messages[0]['content'] }}\n"
    registry.set_settings(own.path, {"chat_template": " \n"})  # blank: the model's own template
    request = controller.load_request()
    assert isinstance(request, LoadModelRequest) and request.chat_template == ""
    runner.shutdown()


@pytest.mark.llm
def test_a_model_too_big_for_the_memory_loads_only_when_the_user_says_so(
    qtbot: QtBot, runner: JobRunner, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "models.json")
    huge = registry.add(ModelEntry(path=str(tmp_path / "huge.gguf"), engine=LLM, size_bytes=10**16))
    settings = Settings(suggestions_enabled=False)
    dialogs = ScriptedDialogs(load_too_big=False)
    controller = ModelController(runner, registry, lambda: settings, lambda: True, dialogs=dialogs)
    errors: list[str] = []
    controller.error.connect(errors.append)

    assert controller.load_model_checked(huge.path) is False
    assert dialogs.questions() == ["load_too_big"]
    name, message = dialogs.asked[0][1]
    assert name == "huge.gguf"
    assert "GB" in str(message)
    assert settings.model_path == ""  # nothing changed, nothing started
    assert not runner.client("llm").is_alive

    dialogs.answers.load_too_big = True
    assert controller.load_model_checked(huge.path) is True
    assert settings.model_path == huge.path
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)  # the engine tried it: the file does not exist
    assert "huge.gguf" in errors[0]


@pytest.mark.llm
def test_connect_to_a_server_serves_completions_from_it_then_a_local_model_again(
    qtbot: QtBot, runner: JobRunner, llama_server: Any, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "models.json")
    settings = Settings(suggestions_enabled=False)
    controller = ModelController(runner, registry, lambda: settings, lambda: True)
    status = controller.status
    errors: list[str] = []
    controller.error.connect(errors.append)
    models = served_models(llama_server.url)

    assert controller.connect_server(f"{llama_server.url}/v1/") is True  # the engine starts with the connect
    assert status.state is ModelState.LOADING
    assert status.message == "Connecting…"
    qtbot.waitUntil(lambda: status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS)
    assert status.state is ModelState.READY, status.message
    assert errors == []
    assert controller.server is not None and controller.server.model == models[0]
    assert status.name == f"Server: {Path(models[0]).name} @ 127.0.0.1:{llama_server.port}"
    assert status.model_path == llama_server.url
    assert llama_server.url in status.message
    assert status.model_kind in ("base", "instruct")
    remembered = registry.entries(SERVER)
    assert [entry.path for entry in remembered] == [llama_server.url]
    assert server_models(remembered[0]) == models
    assert registry.entries() == []  # a server is no model file
    assert complete(qtbot, runner, "The capital of France is").strip()

    controller.load_model("")  # back to the local default model
    assert controller.server is None
    qtbot.waitUntil(lambda: status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS)
    assert status.state is ModelState.READY, status.message
    assert not status.name.startswith("Server:")
    assert status.model_path != llama_server.url and "tokens of context" in status.message
    assert complete(qtbot, runner, "The capital of France is").strip()

    assert controller.connect_server(llama_server.url, model=models[0]) is True  # and to the server again
    qtbot.waitUntil(
        lambda: status.name.startswith("Server:") and status.state is ModelState.READY, timeout=WAIT_MS
    )
    assert errors == []


@pytest.mark.llm
def test_an_unreachable_server_is_an_error_and_the_local_model_loads_after(
    qtbot: QtBot, runner: JobRunner, free_port: Callable[[], int], tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    registry = ModelRegistry(tmp_path / "models.json")
    settings = Settings(suggestions_enabled=False)
    controller = ModelController(runner, registry, lambda: settings, lambda: True)
    status = controller.status
    errors: list[str] = []
    controller.error.connect(errors.append)

    assert controller.connect_server("not a url at all://") is False
    assert len(errors) == 1 and "http" in errors[0]
    assert not runner.client("llm").is_alive

    controller.connect_server(f"http://127.0.0.1:{port}")
    qtbot.waitUntil(lambda: status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS)
    assert status.state is ModelState.ERROR
    assert f"127.0.0.1:{port}" in errors[-1]
    assert status.message == errors[-1]
    assert controller.server is None
    assert registry.entries(SERVER) == []  # only servers that answered are remembered

    controller.load_model("")
    qtbot.waitUntil(lambda: status.state is ModelState.READY, timeout=WAIT_MS)
    assert "tokens of context" in status.message


def test_the_chosen_server_is_remembered_in_the_settings_across_restarts(runner: JobRunner) -> None:
    settings = Settings()
    controller = ModelController(runner, ModelRegistry(), lambda: settings, lambda: True)
    controller.server = ServerChoice("http://127.0.0.1:8080", "STUDIO_KEY", "gemma.gguf")
    assert (settings.server_url, settings.server_api_key_env, settings.server_model) == (
        "http://127.0.0.1:8080",
        "STUDIO_KEY",
        "gemma.gguf",
    )

    restarted = ModelController(
        runner, ModelRegistry(), lambda: Settings.from_dict(settings.to_dict()), lambda: True
    )
    request = restarted.load_request()
    assert isinstance(request, ConnectServerRequest)
    assert (request.url, request.api_key_env, request.model) == (
        "http://127.0.0.1:8080",
        "STUDIO_KEY",
        "gemma.gguf",
    )
    assert "gemma.gguf" in restarted.status.name

    controller.server = None  # a local model again
    assert settings.server_url == settings.server_api_key_env == settings.server_model == ""
    assert isinstance(
        ModelController(runner, ModelRegistry(), lambda: settings, lambda: True).load_request(),
        LoadModelRequest,
    )
