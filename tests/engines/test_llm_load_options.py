"""How the LLM engine loads a model: weight repacking on or off, safe mode, the warm-up decode, threads.

Real Gemma 3 270M, in-process (the crash hook only ever runs in an engine process).
"""

from __future__ import annotations

import logging
import queue
import signal
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from studio.cpu import has_amx, physical_cores
from studio.engines import llm_safe_mode
from studio.engines.client import EngineClient
from studio.engines.host import run_job
from studio.engines.llm import TEST_CRASH_ENV, WARM_UP_TEXT, LlmEngine
from studio.engines.protocol import CancelToken, EngineEvent, ErrorInfo, EventKind, new_job_id
from studio.engines.text_requests import CompletionRequest, LoadModelRequest

pytestmark = pytest.mark.llm

PROMPT = "The lighthouse keeper climbed the stairs one last time and"


def run(engine: LlmEngine, request: object) -> list[EngineEvent]:
    return list(run_job(engine, request, CancelToken()))  # type: ignore[arg-type]


def load(engine: LlmEngine, path: Path, **options: object) -> EngineEvent:
    final = run(engine, LoadModelRequest("load", model_path=str(path), n_ctx=1024, **options))[-1]  # type: ignore[arg-type]
    assert final.kind is EventKind.RESULT, final
    return final


def complete(engine: LlmEngine, seed: int) -> str:
    final = run(engine, CompletionRequest("c", prompt=PROMPT, max_tokens=24, seed=seed, temperature=0.9))[-1]
    assert final.kind is EventKind.RESULT, final
    return final.text


@pytest.fixture
def engine() -> Iterator[LlmEngine]:
    engine = LlmEngine()
    yield engine
    engine.close()


@pytest.mark.parametrize("repack", [True, False])
def test_weight_repacking_can_be_forced_on_and_off(
    engine: LlmEngine,
    default_model_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    repack: bool,
) -> None:
    if repack and has_amx():
        pytest.skip("repacking on an AMX CPU can crash pip's native llama.cpp build (GCC 12), in-process")
    monkeypatch.setenv(llm_safe_mode.REPACK_ENV, "1" if repack else "0")
    with caplog.at_level(logging.DEBUG, logger="studio.llama_cpp"):
        final = load(engine, default_model_file, n_threads=2)
    assert final.result.weight_repacking is repack
    assert final.result.safe_mode is False
    assert engine._llm is not None
    assert engine._llm.model_params.use_extra_bufts is repack
    # llama.cpp's load log names the buffers that hold the weights: repacked ones are CPU_REPACK
    assert ("CPU_REPACK" in caplog.text) is repack
    assert complete(engine, 3).strip()


def test_repacked_and_plain_weights_are_the_same_model(
    engine: LlmEngine, default_model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not bit-identical (the repacked kernels round differently: logits differ by up to about 1 on
    Gemma 270M, so sampled text soon diverges), but the same model: the greedy next token agrees."""
    if has_amx():
        pytest.skip("repacking on an AMX CPU can crash pip's native llama.cpp build (GCC 12), in-process")
    first_tokens = []
    for repack in ("1", "0"):
        monkeypatch.setenv(llm_safe_mode.REPACK_ENV, repack)
        load(engine, default_model_file, n_threads=2)
        greedy = run(engine, CompletionRequest("g", prompt=PROMPT, max_tokens=1, temperature=0.0))[-1]
        first_tokens.append(greedy.text)
    assert first_tokens[0].strip()
    assert first_tokens[0] == first_tokens[1]


def test_safe_mode_loads_without_repacking(
    engine: LlmEngine, default_model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(llm_safe_mode.REPACK_ENV, raising=False)
    final = load(engine, default_model_file, safe_mode=True)
    assert final.result.safe_mode is True
    assert final.result.weight_repacking is False
    assert engine._llm is not None and engine._llm.model_params.use_extra_bufts is False
    assert complete(engine, 5).strip()


def test_the_warm_up_decode_runs_in_the_load_and_leaves_the_cache_empty(
    engine: LlmEngine, default_model_file: Path
) -> None:
    load(engine, default_model_file, n_threads=2)
    llm = engine._llm
    assert llm is not None
    # the KV cache still holds the positions the warm-up decoded (a batch, then one token alone); the
    # engine's view of the cache is empty, so they are overwritten by the first real prompt
    warmed_up = llama_cpp.llama_memory_seq_pos_max(llama_cpp.llama_get_memory(llm._ctx.ctx), 0) + 1
    assert warmed_up == len(llm.tokenize(WARM_UP_TEXT, add_bos=True, special=False)) >= 4
    assert llm.n_tokens == 0
    first = run(engine, CompletionRequest("c", prompt=PROMPT, max_tokens=4, seed=1))[-1]
    assert first.result.prompt_tokens_evaluated == first.result.prompt_tokens
    again = run(engine, CompletionRequest("c", prompt=PROMPT + " then", max_tokens=4))[-1]
    assert again.result.prompt_tokens_evaluated < again.result.prompt_tokens // 2  # prefix reuse intact


def test_threads_default_to_one_per_physical_core(engine: LlmEngine, default_model_file: Path) -> None:
    final = load(engine, default_model_file, n_threads=0)
    assert final.result.n_threads == physical_cores()
    assert engine._llm is not None
    assert engine._llm.context_params.n_threads == physical_cores()
    assert engine._llm.context_params.n_threads_batch == physical_cores()
    assert load(engine, default_model_file, n_threads=1).result.n_threads == 1


def test_the_crash_hook_kills_the_engine_process_unless_in_safe_mode(
    default_model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_CRASH_ENV, "1")
    events: queue.Queue[EngineEvent] = queue.Queue()
    client = EngineClient("llm", events.put)

    def until_end(job_id: str) -> EngineEvent:
        while True:
            event = events.get(timeout=300)
            if event.job_id == job_id and event.kind.is_terminal:
                return event

    try:
        plain = LoadModelRequest(new_job_id(), model_path=str(default_model_file))
        client.submit(plain)
        crashed = until_end(plain.job_id)
        assert crashed.kind is EventKind.ERROR
        assert crashed.error == ErrorInfo.crash(-signal.SIGSEGV)
        assert llm_safe_mode.is_crash(crashed)
        safe = LoadModelRequest(new_job_id(), model_path=str(default_model_file), safe_mode=True)
        client.submit(safe)
        loaded = until_end(safe.job_id)
        assert loaded.kind is EventKind.RESULT, loaded
        assert loaded.result.safe_mode is True
        assert client.restarts == 1
    finally:
        client.shutdown()
