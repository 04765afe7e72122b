"""Every selection action through the real LLM engine: the default Gemma 270M (base, few-shot prompts) and a
tiny random-weight GGUF whose chat template llama.cpp really renders (instruct path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.engines.host import run_job
from studio.engines.llm import LlmEngine
from studio.engines.protocol import CancelToken, EngineEvent, EventKind
from studio.engines.text_requests import ChatRequest, LoadModelRequest
from studio.testing.chat_gguf import SYSTEM_REJECTED
from studio.writing.actions import BUILTIN_ACTIONS, WritingAction, builtin_action, instruction_action
from studio.writing.rewrite import BASE_STOPS, build_rewrite

pytestmark = pytest.mark.llm

SELECTION = "The storm passed, and the fishermen stood silent on the quay."
ACTIONS = [a.with_value(a.asks_for, "French") if a.asks_for else a for a in BUILTIN_ACTIONS] + [
    instruction_action("Turn it into a question.")
]


def run(engine: LlmEngine, request: object) -> list[EngineEvent]:
    return list(run_job(engine, request, CancelToken()))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gemma(default_model_file: Path) -> Iterator[LlmEngine]:
    engine = LlmEngine()
    events = run(
        engine, LoadModelRequest("load", model_path=str(default_model_file), n_ctx=2048, n_threads=2)
    )
    assert events[-1].kind is EventKind.RESULT and events[-1].result.model_kind == "base"
    yield engine
    engine.close()


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_every_action_writes_clean_text_on_the_default_base_model(
    gemma: LlmEngine, action: WritingAction
) -> None:
    text = ""
    for seed in (1, 2, 3):  # a 270M base model may answer a prompt with nothing; another seed then
        plan = build_rewrite(action, SELECTION, before="It was late. ", model_kind="base", seed=seed)
        events = run(gemma, plan.request)
        assert events[-1].kind is EventKind.RESULT, events[-1]
        text = plan.result(events[-1].result.text)
        if text.strip():
            break
    assert text.strip(), f"{action.name}: no text in three seeds"
    assert not any(stop.strip() in text for stop in BASE_STOPS)  # no echoed labels or delimiters
    assert not text.lower().startswith(("revision:", "text:", "instruction:"))


def test_same_seed_gives_the_same_rewrite(gemma: LlmEngine) -> None:
    first = build_rewrite(builtin_action("rewrite"), SELECTION, seed=42)
    again = build_rewrite(builtin_action("rewrite"), SELECTION, seed=42)
    assert run(gemma, first.request)[-1].result.text == run(gemma, again.request)[-1].result.text


def test_chat_path_renders_the_models_template(chat_model_file: Path) -> None:
    engine = LlmEngine()
    try:
        loaded = run(
            engine, LoadModelRequest("load", model_path=str(chat_model_file), n_ctx=1024, n_threads=2)
        )
        assert loaded[-1].kind is EventKind.RESULT and loaded[-1].result.model_kind == "instruct"
        plan = build_rewrite(builtin_action("shorten"), SELECTION, model_kind="instruct", seed=5)
        assert isinstance(plan.request, ChatRequest)
        events = run(engine, plan.request)
        assert events[-1].kind is EventKind.RESULT, events[-1]
        assert events[-1].result.completion_tokens > 0
        # the template really ran: it rejects a system turn, which the builder never sends
        rejected = run(engine, ChatRequest("sys", messages=(("system", "x"), ("user", "hi")), max_tokens=4))
        assert rejected[-1].kind is EventKind.ERROR and SYSTEM_REJECTED in rejected[-1].text
    finally:
        engine.close()
