"""The active model's stored sampling settings (Models window) reach the requests suggestions, rewrites and the
Assistant send; without any, the global temperature does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from studio.engines.results import CompletionResult
from studio.engines.text_requests import CompletionRequest
from studio.models.model_settings import Sampling
from studio.models.registry import LLM, ModelEntry, ModelRegistry
from studio.settings import Settings
from studio.ui.jobs import JobRunner
from studio.ui.model_controller import ModelController
from studio.ui.model_status import ModelState
from studio.ui.write.continuation import EngineContinuationProvider
from studio.writing.actions import builtin_action
from studio.writing.rewrite import build_rewrite

WAIT_MS = 240_000


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[JobRunner]:
    runner = JobRunner()
    yield runner
    runner.shutdown()


def test_sampling_is_the_models_own_when_stored_else_the_global_temperature(
    qtbot: QtBot, runner: JobRunner, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "models.json")
    own = registry.add(ModelEntry(path=str(tmp_path / "own.gguf"), engine=LLM))
    registry.set_settings(own.path, {"temperature": 0, "top_k": 7, "top_p": 0.5, "min_p": 2})
    plain = registry.add(ModelEntry(path=str(tmp_path / "plain.gguf"), engine=LLM))
    settings = Settings(model_path=own.path, temperature=1.3)
    controller = ModelController(runner, registry, lambda: settings, lambda: True)

    assert controller.sampling() == Sampling(temperature=0.0, top_k=7, top_p=0.5, min_p=1.0, own=True)
    settings.model_path = plain.path
    assert controller.sampling() == Sampling(temperature=1.3)
    settings.model_path = ""  # the embedded default model: never registered with settings
    assert controller.sampling() == Sampling(temperature=1.3)


def test_a_rewrite_takes_the_models_sampling_with_careful_actions_capped() -> None:
    hot = Sampling(temperature=1.5, top_k=5, top_p=0.6, min_p=0.1, own=True)
    plan = build_rewrite(builtin_action("rewrite"), "The cat sat.", sampling=hot)
    request = plan.request
    assert (request.temperature, request.top_k, request.top_p, request.min_p) == (1.5, 5, 0.6, 0.1)
    careful = build_rewrite(builtin_action("fix-spelling"), "Teh cat sat.", sampling=hot).request
    assert careful.temperature == 0.2 and careful.top_k == 5
    assert build_rewrite(builtin_action("rewrite"), "The cat sat.").request.temperature == 0.8


@pytest.mark.llm
def test_a_suggestion_sends_the_registered_models_temperature(
    qtbot: QtBot, runner: JobRunner, tmp_path: Path, default_model_file: Path
) -> None:
    registry = ModelRegistry(tmp_path / "models.json")
    registry.add(ModelEntry(path=str(default_model_file), engine=LLM))
    registry.set_settings(str(default_model_file), {"temperature": 0})
    settings = Settings(model_path=str(default_model_file), temperature=1.5, suggestion_max_tokens=8)
    controller = ModelController(runner, registry, lambda: settings, lambda: True)
    controller.start_engine()
    qtbot.waitUntil(lambda: controller.status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS)
    assert controller.status.state is ModelState.READY, controller.status.message
    provider = EngineContinuationProvider(runner, lambda: settings, sampling=controller.sampling)

    texts: list[str] = []
    for seed in (1, 2):
        results: list[CompletionResult] = []
        failures: list[str] = []
        handle = provider.start_continuation(
            "Once upon a time", "", lambda _tokens: None, lambda: None, failures.append, seed=seed
        )
        handle.on_success(results.append)
        assert isinstance(handle.request, CompletionRequest)
        assert handle.request.temperature == 0.0  # the model's own, not the global 1.5
        qtbot.waitUntil(lambda: bool(results or failures), timeout=WAIT_MS)  # noqa: B023
        assert not failures, failures
        texts.append(results[0].text)
    assert texts[0] == texts[1]  # greedy: the seed changes nothing
