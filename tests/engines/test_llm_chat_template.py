"""A chat template override (Models window) on the tiny chat GGUF: the engine chats with it, through
llama-cpp-python's Jinja sandbox, and counts the model as instruct; a broken one fails the load clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.engines.host import run_job
from studio.engines.llm import LlmEngine
from studio.engines.protocol import CancelToken, EngineEvent, EventKind
from studio.engines.text_requests import ChatRequest, LoadModelRequest
from studio.testing.chat_gguf import CHAT_TEMPLATE, SYSTEM_REJECTED, write_chat_gguf


def run(engine: LlmEngine, request: object) -> list[EngineEvent]:
    return list(run_job(engine, request, CancelToken()))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def templateless_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chat_gguf(tmp_path_factory.mktemp("chat") / "no-template.gguf", chat_template="")


def test_an_override_makes_a_model_without_a_template_chat_with_it(templateless_model: Path) -> None:
    engine = LlmEngine()
    try:
        plain = run(engine, LoadModelRequest("plain", model_path=str(templateless_model), n_ctx=512))
        assert plain[-1].result.model_kind == "base"
        loaded = run(
            engine,
            LoadModelRequest(
                "load", model_path=str(templateless_model), n_ctx=512, chat_template=CHAT_TEMPLATE
            ),
        )
        assert loaded[-1].kind is EventKind.RESULT, loaded[-1].text
        assert loaded[-1].result.model_kind == "instruct"
        chat = run(engine, ChatRequest("chat", messages=(("user", "Hi."),), max_tokens=4, seed=1))
        assert chat[-1].kind is EventKind.RESULT
        # the template really ran: it rejects a system message
        rejected = run(engine, ChatRequest("sys", messages=(("system", "Be brief."), ("user", "Hi."))))
        assert rejected[-1].kind is EventKind.ERROR and SYSTEM_REJECTED in rejected[-1].text
    finally:
        engine.close()


def test_a_broken_template_fails_the_load_with_a_clear_message(templateless_model: Path) -> None:
    engine = LlmEngine()
    try:
        events = run(
            engine,
            LoadModelRequest(
                "load", model_path=str(templateless_model), n_ctx=512, chat_template="{% for %}"
            ),
        )
        assert events[-1].kind is EventKind.ERROR
        assert "chat template" in events[-1].text and "no-template.gguf" in events[-1].text
    finally:
        engine.close()
