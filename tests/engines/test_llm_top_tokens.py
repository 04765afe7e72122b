"""Token choices from the real LLM engine on the default Gemma 3 270M model, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.engines.host import run_job
from studio.engines.llm import ALIGNED_CHUNK, LlmEngine
from studio.engines.protocol import CancelToken, EngineEvent, EventKind
from studio.engines.results import CompletionResult, TopTokensResult
from studio.engines.text_requests import CompletionRequest, LoadModelRequest, TopTokensRequest

pytestmark = pytest.mark.llm

PROMPT = "The old lighthouse keeper climbed the stairs one last time and"


def run(engine: LlmEngine, request: object) -> list[EngineEvent]:
    return list(run_job(engine, request, CancelToken()))  # type: ignore[arg-type]


def top_tokens(engine: LlmEngine, prompt: str, k: int = 10) -> TopTokensResult:
    final = run(engine, TopTokensRequest("top", prompt=prompt, k=k))[-1]
    assert final.kind is EventKind.RESULT, final
    assert isinstance(final.result, TopTokensResult)
    return final.result


@pytest.fixture(scope="module")
def engine(default_model_file: Path) -> Iterator[LlmEngine]:
    engine = LlmEngine()
    events = run(
        engine, LoadModelRequest("load", model_path=str(default_model_file), n_ctx=2048, n_threads=2)
    )
    assert events[-1].kind is EventKind.RESULT, events[-1]
    yield engine
    engine.close()


def test_top_tokens_are_probabilities_in_descending_order(engine: LlmEngine) -> None:
    result = top_tokens(engine, PROMPT, k=12)
    assert len(result.tokens) == 12
    probabilities = [probability for _text, probability in result.tokens]
    assert all(0.0 < p <= 1.0 for p in probabilities)
    assert sum(probabilities) <= 1.0 + 1e-9
    assert probabilities == sorted(probabilities, reverse=True)
    assert len({text for text, _p in result.tokens}) == len(result.tokens)
    assert any(text.strip() for text, _p in result.tokens)


def test_the_most_likely_token_is_what_greedy_completion_writes_first(engine: LlmEngine) -> None:
    for prompt in (PROMPT, "Once upon a time, in a quiet town by the sea,", "def add(a, b):\n    return"):
        run(engine, CompletionRequest("other", prompt="Something else entirely.", max_tokens=2))
        choices = top_tokens(engine, prompt)
        final = run(
            engine,
            CompletionRequest("greedy", prompt=prompt, max_tokens=1, temperature=0.0, reuse_cache=False),
        )[-1]
        assert isinstance(final.result, CompletionResult)
        assert final.result.text == choices.tokens[0][0], (prompt, choices.tokens[:3])


def test_top_tokens_reuse_the_cached_prefix(engine: LlmEngine) -> None:
    text = PROMPT + " looked out at the sea for a long while"
    run(engine, CompletionRequest("doc", prompt=text, max_tokens=4, seed=3))
    result = top_tokens(engine, PROMPT)
    assert result.prompt_tokens_evaluated == 1  # the last prompt token only: its logits are read
    assert result.prompt_tokens > 10
    again = top_tokens(engine, PROMPT)
    assert again.tokens == result.tokens


def test_top_tokens_need_a_prompt_and_a_model(engine: LlmEngine) -> None:
    final = run(engine, TopTokensRequest("empty", prompt="", k=5))[-1]
    assert final.kind is EventKind.ERROR and "text before" in final.text
    final = run(LlmEngine(), TopTokensRequest("none", prompt="Hello", k=5))[-1]
    assert final.kind is EventKind.ERROR and "No language model" in final.text


def test_a_seeded_prompt_after_another_one_is_reused_by_the_next_seed(engine: LlmEngine) -> None:
    """Regenerate (same prompt, another seed) right after a prompt that shared only its first token with the
    cached one re-evaluates only the tail after the last whole chunk, and the same seed still gives the same
    text as a fresh run."""
    document = " ".join(f"Line {i}: the keeper climbed the stairs." for i in range(60))
    run(engine, CompletionRequest("doc", prompt=document, max_tokens=2, seed=1))
    rewrite = "Instruction: rewrite this.\nText: " + " ".join(f"word{i}" for i in range(150))
    first = run(engine, CompletionRequest("r1", prompt=rewrite, max_tokens=4, seed=1))[-1].result
    again = run(engine, CompletionRequest("r2", prompt=rewrite, max_tokens=4, seed=2))[-1].result
    fresh = run(engine, CompletionRequest("r3", prompt=rewrite, max_tokens=4, seed=2, reuse_cache=False))
    assert isinstance(first, CompletionResult) and isinstance(again, CompletionResult)
    assert first.prompt_tokens > 2 * ALIGNED_CHUNK
    assert again.prompt_tokens_evaluated <= ALIGNED_CHUNK < first.prompt_tokens // 2
    assert isinstance(fresh[-1].result, CompletionResult) and fresh[-1].result.text == again.text
