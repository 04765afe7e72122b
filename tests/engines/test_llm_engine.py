"""The real LLM engine on the default Gemma 3 270M model, in-process."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.engines import llm as llm_module
from studio.engines.host import run_job
from studio.engines.llm import ALIGNED_CHUNK, LlmEngine, fit_to_context
from studio.engines.protocol import CancelToken, EngineEvent, EventKind
from studio.engines.results import CANCELLED_FINISH, CompletionResult, LoadResult
from studio.engines.text_requests import ChatRequest, CompletionRequest, LoadModelRequest

pytestmark = pytest.mark.llm

GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ message['role'] }}\n"
    "{{ message['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

LONG_TEXT = " ".join(
    f"Chapter {i}. The lighthouse keeper climbed the stairs again, counting every step as the storm rose."
    for i in range(120)
)


def run(engine: LlmEngine, request: object, cancel: CancelToken | None = None) -> list[EngineEvent]:
    return list(run_job(engine, request, cancel or CancelToken()))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine(default_model_file: Path) -> Iterator[LlmEngine]:
    engine = LlmEngine()
    events = run(
        engine, LoadModelRequest("load", model_path=str(default_model_file), n_ctx=4096, n_threads=2)
    )
    assert events[-1].kind is EventKind.RESULT, events[-1]
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def instruct_model_file(default_model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model with a chat template added to its metadata (an 'instruct' GGUF)."""
    target = tmp_path_factory.mktemp("instruct") / "gemma-chat.gguf"
    script = Path(sys.executable).with_name("gguf-new-metadata")
    subprocess.run(
        [str(script), "--chat-template", GEMMA_TEMPLATE, str(default_model_file), str(target)],
        check=True,
        capture_output=True,
        input=b"y\n",
    )
    return target


def test_load_reports_a_base_model(default_model_file: Path) -> None:
    engine = LlmEngine()
    events = run(
        engine, LoadModelRequest("load", model_path=str(default_model_file), n_ctx=2048, n_threads=2)
    )
    kinds = [event.kind for event in events]
    assert kinds[0] is EventKind.STARTED
    assert EventKind.PROGRESS in kinds
    final = events[-1]
    assert final.kind is EventKind.RESULT and isinstance(final.result, LoadResult)
    assert final.result.model_kind == "base"
    assert final.result.architecture == "gemma3"
    assert final.result.n_ctx == 2048
    assert all(event.job_id == "load" for event in events)
    engine.close()


def test_completion_streams_tokens(engine: LlmEngine) -> None:
    events = run(engine, CompletionRequest("c1", prompt="The capital of France is", max_tokens=12, seed=1))
    token_events = [event for event in events if event.kind is EventKind.TOKENS]
    assert len(token_events) >= 3
    final = events[-1]
    assert final.kind is EventKind.RESULT and isinstance(final.result, CompletionResult)
    assert final.text == final.result.text == "".join(event.text for event in token_events)
    assert final.result.completion_tokens == 12
    assert final.text.strip()


def test_same_seed_same_text_cached_or_not(engine: LlmEngine) -> None:
    prompt = LONG_TEXT[:1500] + " Then, at the top,"

    def complete(seed: int) -> str:
        return run(engine, CompletionRequest("s", prompt=prompt, max_tokens=16, seed=seed, temperature=0.9))[
            -1
        ].text

    first = complete(7)
    assert complete(7) == first  # prompt fully cached
    run(engine, CompletionRequest("other", prompt=LONG_TEXT[:700], max_tokens=4))  # partly shared prefix
    assert complete(7) == first
    assert engine._llm is not None
    engine._llm.reset()
    assert complete(7) == first  # nothing cached
    assert {complete(seed) for seed in (1, 2, 3)} != {first}


def test_prefix_reuse_evaluates_only_new_tokens(engine: LlmEngine) -> None:
    base = LONG_TEXT[:6000]
    first = run(engine, CompletionRequest("p1", prompt=base, max_tokens=2))[-1]
    assert first.result.prompt_tokens > 1000
    second = run(engine, CompletionRequest("p2", prompt=base + " and then", max_tokens=2))[-1]
    assert second.result.prompt_tokens > first.result.prompt_tokens
    assert second.result.prompt_tokens_evaluated <= 8
    # seeded requests reuse only the reproducibly decoded part of the cache: at most one chunk more
    run(engine, CompletionRequest("p3", prompt=base + " and then", max_tokens=2, seed=3))
    seeded = run(engine, CompletionRequest("p4", prompt=base + " and then she", max_tokens=2, seed=3))[-1]
    assert seeded.result.prompt_tokens_evaluated <= ALIGNED_CHUNK + 4
    assert seeded.result.prompt_tokens_evaluated < seeded.result.prompt_tokens // 4


def test_cancel_during_prompt_processing(engine: LlmEngine, caplog: pytest.LogCaptureFixture) -> None:
    assert engine._llm is not None
    engine._llm.reset()
    cancel = CancelToken()
    request = CompletionRequest("long", prompt=LONG_TEXT * 2, max_tokens=8)
    events: list[EngineEvent] = []
    caplog.set_level(logging.DEBUG, logger="studio.llama_cpp")
    for event in run_job(engine, request, cancel):
        events.append(event)
        if event.kind is EventKind.STARTED:
            threading.Timer(0.3, cancel.cancel).start()
    final = events[-1]
    assert final.kind is EventKind.CANCELLED
    # llama.cpp reports the aborted decode; a user's cancel is no error, so those lines are debug
    llama_lines = [record for record in caplog.records if record.name == "studio.llama_cpp"]
    assert any("decode" in record.getMessage() for record in llama_lines), caplog.text
    assert [record.getMessage() for record in llama_lines if record.levelno >= logging.WARNING] == []
    assert not any(event.kind is EventKind.TOKENS for event in events)
    # llama.cpp's abort callback stopped the prompt part-way: not all of it is in the cache
    partial, start = final.result, events[0].start
    assert isinstance(partial, CompletionResult) and start is not None
    assert partial.finish_reason == CANCELLED_FINISH and partial.text == ""
    assert partial.cached_tokens < start.prompt_tokens == partial.prompt_tokens
    # and the engine is fine afterwards
    after = run(engine, CompletionRequest("after", prompt="Hello there,", max_tokens=4))
    assert after[-1].kind is EventKind.RESULT
    assert not llm_module._user_abort.is_set()  # llama.cpp's errors of later jobs are errors again


def test_cancel_during_generation(engine: LlmEngine) -> None:
    cancel = CancelToken()
    events: list[EngineEvent] = []
    for event in run_job(engine, CompletionRequest("gen", prompt="Once upon a time", max_tokens=200), cancel):
        events.append(event)
        if event.kind is EventKind.TOKENS:
            cancel.cancel()
    assert events[-1].kind is EventKind.CANCELLED
    token_events = [event for event in events if event.kind is EventKind.TOKENS]
    assert len(token_events) == 1


def test_requests_before_a_model_is_loaded_fail_clearly() -> None:
    events = run(LlmEngine(), CompletionRequest("x", prompt="Hi"))
    assert events[-1].kind is EventKind.ERROR
    assert "No language model is loaded" in events[-1].text


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"GGUF\x03\x00\x00\x00" + b"\xff" * 40])
def test_invalid_files_give_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.gguf"
    path.write_bytes(content)
    events = run(LlmEngine(), LoadModelRequest("bad", model_path=str(path)))
    assert events[-1].kind is EventKind.ERROR
    assert events[-1].text.startswith("Cannot load broken.gguf:")


def test_truncated_model_gives_a_clear_error(default_model_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "half.gguf"
    with default_model_file.open("rb") as source:
        path.write_bytes(source.read(default_model_file.stat().st_size // 2))
    events = run(LlmEngine(), LoadModelRequest("half", model_path=str(path)))
    assert events[-1].kind is EventKind.ERROR
    assert "truncated" in events[-1].text


def test_instruct_model_with_chat_template(instruct_model_file: Path) -> None:
    engine = LlmEngine()
    loaded = run(
        engine, LoadModelRequest("load", model_path=str(instruct_model_file), n_ctx=1024, n_threads=2)
    )
    assert loaded[-1].result.model_kind == "instruct"
    events = run(engine, ChatRequest("chat", messages=(("user", "Say hello."),), max_tokens=8, seed=1))
    assert events[-1].kind is EventKind.RESULT
    assert events[-1].result.completion_tokens >= 1
    # plain completion works on instruct models too (ghost text)
    assert run(engine, CompletionRequest("c", prompt="Roses are", max_tokens=4))[-1].kind is EventKind.RESULT
    engine.close()


@pytest.fixture(scope="session")
def fim_model_file(default_model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model with fill-in-the-middle token ids declared in its metadata."""
    target = tmp_path_factory.mktemp("fim") / "gemma-fim.gguf"
    script = Path(sys.executable).with_name("gguf-new-metadata")
    command = [str(script), str(default_model_file), str(target)]
    for name, token_id in (("fim_pre", "7"), ("fim_suf", "8"), ("fim_mid", "9")):
        command[1:1] = ["--special-token-by-id", name, token_id]
    subprocess.run(command, check=True, capture_output=True, input=b"y\n")
    return target


def test_fill_in_the_middle_prompt_when_the_model_has_fim_tokens(
    fim_model_file: Path, engine: LlmEngine
) -> None:
    fim = LlmEngine()
    loaded = run(fim, LoadModelRequest("load", model_path=str(fim_model_file), n_ctx=1024, n_threads=2))
    assert loaded[-1].result.supports_fim is True
    events = run(
        fim,
        CompletionRequest(
            "f", prompt="def add(a, b):\n    return", suffix="\n\nprint(add(1, 2))\n", max_tokens=4, seed=1
        ),
    )
    start = events[0].start
    assert start is not None and start.used_fim is True
    assert fim._llm is not None
    prompt = list(fim._llm.input_ids[: start.prompt_tokens])
    assert prompt[1] == 7 and prompt[-1] == 9 and 8 in prompt
    assert events[-1].kind is EventKind.RESULT
    # without text after the cursor it is a plain continuation
    plain = run(fim, CompletionRequest("p", prompt="Roses are", max_tokens=2))
    assert plain[0].start is not None and plain[0].start.used_fim is False
    fim.close()
    # and the default model has no FIM tokens: the suffix is ignored
    ignored = run(engine, CompletionRequest("n", prompt="A", suffix="B", max_tokens=1))[0].start
    assert ignored is not None and ignored.used_fim is False


def test_chat_on_a_base_model_uses_a_transcript(engine: LlmEngine) -> None:
    events = run(engine, ChatRequest("chat", messages=(("user", "Name a colour."),), max_tokens=6, seed=2))
    assert events[-1].kind is EventKind.RESULT
    assert events[-1].text


def test_fit_to_context_cuts_in_stable_chunks() -> None:
    tokens = list(range(1000))
    fitted = fit_to_context(tokens, budget=600, keep_head=1, chunk=150)
    assert len(fitted) <= 600
    assert fitted[0] == 0 and fitted[-1] == 999
    # appending a few tokens keeps the same cut point, so the cached prefix stays valid
    longer = fit_to_context([*tokens, 1000, 1001], budget=600, keep_head=1, chunk=150)
    assert longer[: len(fitted)] == fitted


def test_long_documents_are_fitted_to_the_context(engine: LlmEngine) -> None:
    events = run(engine, CompletionRequest("fit", prompt=LONG_TEXT * 3, max_tokens=4))
    assert events[-1].kind is EventKind.RESULT
    assert events[-1].result.prompt_tokens <= 4096 - 4
