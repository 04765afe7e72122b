"""LLM speed through Studio's engine process against plain llama-cpp-python, side by side in one run.

    python bench/bench_llm.py [--model PATH] [--threads N] [--tokens N] [--repeats N]

Prints (1) generation speed through Studio's engine (engine process and IPC included) and through
llama-cpp-python called directly, same model, threads, prompt and seed, with their ratio; (2) time to the
first ghost-text token after typing a few characters at the end of a 2,000-token document, with and without
prefix reuse; (3) the first suggestion after opening a 2,000-token document, cold and after the background
warm-up; (4) time to the first streamed token of a Rewrite of a 200-word selection in a 2,000-token document
(the UI's own builder, studio.writing.rewrite.build_rewrite); (5) continuation alternatives per second (other
seeds, from the cached prefix); (6) token choices (top-k next tokens) at an AI-written word, on the cached prefix
and cold.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.cpu import default_threads
from studio.engines.client import EngineClient
from studio.engines.protocol import EngineEvent, EngineRequest, EventKind, new_job_id
from studio.engines.results import CompletionResult, TopTokensResult
from studio.engines.text_requests import CompletionRequest, LoadModelRequest, TopTokensRequest
from studio.models.default_model import ensure_default_model

PROMPTS = [
    "The old lighthouse keeper climbed the stairs one last time and",
    "In the quiet village at the edge of the forest, the baker",
    "She opened the letter slowly, knowing that whatever it said,",
]
DOCUMENT_SENTENCE = "The lighthouse keeper climbed the stairs again, counting every step as the storm rose. "


class StudioEngine:
    def __init__(self, model: Path, threads: int, n_ctx: int) -> None:
        self.events: queue.Queue[EngineEvent] = queue.Queue()
        self.client = EngineClient("llm", self.events.put)
        load = LoadModelRequest(new_job_id(), model_path=str(model), n_ctx=n_ctx, n_threads=threads)
        self.client.submit(load)
        self._wait(load.job_id)

    def _wait(self, job_id: str, first_token: bool = False) -> tuple[EngineEvent, float | None]:
        started = time.perf_counter()
        first: float | None = None
        while True:
            event = self.events.get(timeout=600)
            if event.job_id != job_id:
                continue
            if event.kind is EventKind.TOKENS and first is None:
                first = time.perf_counter() - started
            if event.kind is EventKind.ERROR:
                raise SystemExit(event.text)
            if event.kind.is_terminal:
                return event, first

    def submit(self, request: EngineRequest[Any]) -> tuple[EngineEvent, float, float | None]:
        """Run ``request``: its final event, seconds until then, seconds to its first streamed tokens."""
        started = time.perf_counter()
        self.client.submit(request)
        event, first = self._wait(request.job_id)
        return event, time.perf_counter() - started, first

    def complete(self, request: CompletionRequest) -> tuple[CompletionResult, float, float | None]:
        started = time.perf_counter()
        self.client.submit(request)
        event, first = self._wait(request.job_id)
        if not isinstance(event.result, CompletionResult):
            raise SystemExit(f"the engine sent no completion result: {event}")
        return event.result, time.perf_counter() - started, first

    def close(self) -> None:
        self.client.shutdown()


def bench_throughput(model: Path, threads: int, tokens: int, repeats: int) -> None:
    from studio.engines.llm import RepackChoosingLlama
    from studio.engines.llm_safe_mode import weight_repacking

    # the same weight-repacking choice as the engine (off on AMX CPUs, where repacked weights crash)
    plain = RepackChoosingLlama(
        str(model),
        n_ctx=2048,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
        use_extra_bufts=weight_repacking(False),
    )
    studio = StudioEngine(model, threads, 2048)
    plain_rates: list[float] = []
    studio_rates: list[float] = []
    for repeat in range(repeats):
        for index, prompt in enumerate(PROMPTS):
            seed = 100 + repeat * 10 + index
            started = time.perf_counter()
            count = 0
            for _chunk in plain.create_completion(
                prompt,
                max_tokens=tokens,
                temperature=0.7,
                top_k=40,
                top_p=0.95,
                min_p=0.05,
                repeat_penalty=1.1,
                seed=seed,
                stream=True,
            ):
                count += 1
            plain_rates.append(count / (time.perf_counter() - started))
            request = CompletionRequest(
                new_job_id(), prompt=prompt, max_tokens=tokens, seed=seed, temperature=0.7
            )
            completed, elapsed, _first = studio.complete(request)
            studio_rates.append(completed.completion_tokens / elapsed)
    studio.close()
    plain.close()
    plain_median, studio_median = statistics.median(plain_rates), statistics.median(studio_rates)
    print(
        f"Generation, {tokens} tokens, {threads} threads, median of {len(plain_rates)} runs (prompt included):"
    )
    print(f"  llama-cpp-python directly : {plain_median:6.1f} tokens/s")
    print(f"  Studio engine process     : {studio_median:6.1f} tokens/s")
    print(f"  ratio Studio / direct     : {studio_median / plain_median:6.2f}")


def bench_first_token(model: Path, threads: int, repeats: int) -> None:
    studio = StudioEngine(model, threads, 4096)
    document = DOCUMENT_SENTENCE * 124  # about 2,000 Gemma tokens
    warm = CompletionRequest(new_job_id(), prompt=document, max_tokens=1)
    completed, _elapsed, _first = studio.complete(warm)
    document_tokens = completed.prompt_tokens
    with_reuse: list[float] = []
    without_reuse: list[float] = []
    evaluated_with: list[int] = []
    typed = document
    for _ in range(repeats):
        typed += "and "
        for reuse, results in ((True, with_reuse), (False, without_reuse)):
            if reuse:
                # make sure the cache holds the document as it was before the keystrokes
                studio.complete(CompletionRequest(new_job_id(), prompt=typed[:-4], max_tokens=1))
            request = CompletionRequest(new_job_id(), prompt=typed, max_tokens=8, reuse_cache=reuse)
            completed, elapsed, first = studio.complete(request)
            results.append(first if first is not None else elapsed)
            if reuse:
                evaluated_with.append(completed.prompt_tokens_evaluated)
    studio.close()
    print(
        f"Time to first ghost-text token, typing at the end of a {document_tokens}-token document "
        f"(median of {repeats}):"
    )
    print(
        f"  with prefix reuse    : {statistics.median(with_reuse):6.3f} s "
        f"({statistics.median(evaluated_with):.0f} prompt tokens evaluated)"
    )
    print(f"  without prefix reuse : {statistics.median(without_reuse):6.3f} s ({document_tokens} evaluated)")
    print(
        f"  speed-up             : {statistics.median(without_reuse) / statistics.median(with_reuse):6.1f}x"
    )


def bench_warm_up(model: Path, threads: int, repeats: int) -> None:
    """First suggestion after opening a 2,000-token document: cold, and after the background warm-up that
    studio.ui.write.warm_up.CacheWarmer runs (a one-token completion over the same assembled prompt)."""
    from studio.writing.context import assemble_prompt, prompt_budget
    from studio.writing.story_notes import StoryNotes

    studio = StudioEngine(model, threads, 4096)
    notes = StoryNotes(memory="A story about a lighthouse keeper. Past tense.", authors_note="Keep it tense.")
    prompt = assemble_prompt(DOCUMENT_SENTENCE * 124, "", notes, prompt_budget(4096, 24)).text
    cold: list[float] = []
    warmed: list[float] = []
    warm_ups: list[float] = []
    evaluated: list[int] = []
    prompt_tokens = 0
    for _ in range(repeats):
        request = CompletionRequest(new_job_id(), prompt=prompt, max_tokens=24, reuse_cache=False)
        completed, elapsed, first = studio.complete(request)
        cold.append(first if first is not None else elapsed)
        prompt_tokens = completed.prompt_tokens
        warm_up = CompletionRequest(new_job_id(), prompt=prompt, max_tokens=1, reuse_cache=False)
        warm_ups.append(studio.complete(warm_up)[1])
        completed, elapsed, first = studio.complete(
            CompletionRequest(new_job_id(), prompt=prompt, max_tokens=24)
        )
        warmed.append(first if first is not None else elapsed)
        evaluated.append(completed.prompt_tokens_evaluated)
    studio.close()
    print(f"First suggestion after opening a {prompt_tokens}-token document (median of {repeats}):")
    print(f"  cold (no warm-up)          : {statistics.median(cold):6.3f} s ({prompt_tokens} evaluated)")
    print(
        f"  after the warm-up          : {statistics.median(warmed):6.3f} s "
        f"({statistics.median(evaluated):.0f} evaluated; the warm-up itself took "
        f"{statistics.median(warm_ups):.2f} s in the background)"
    )
    print(f"  speed-up                   : {statistics.median(cold) / statistics.median(warmed):6.1f}x")


def bench_rewrite_first_token(model: Path, threads: int, repeats: int) -> None:
    """A Rewrite of a 200-word selection in a 2,000-token document, as the editor sends it: the engine holds
    the document's ghost-text prompt when the rewrite starts (its few-shot prompt is evaluated from scratch),
    then Regenerate asks again with another seed."""
    from studio.writing.actions import builtin_action
    from studio.writing.rewrite import build_rewrite

    studio = StudioEngine(model, threads, 4096)
    document = DOCUMENT_SENTENCE * 124
    words = document.split(" ")
    middle = len(words) // 2
    selected = " ".join(words[middle : middle + 200])
    start = document.index(selected)
    before, after = document[:start], document[start + len(selected) :]
    first_times: list[float] = []
    regenerate_times: list[float] = []
    prompt_tokens = 0
    for repeat in range(repeats):
        studio.complete(CompletionRequest(new_job_id(), prompt=document, max_tokens=4, seed=repeat))
        for seed, results in ((1, first_times), (2, regenerate_times)):
            plan = build_rewrite(builtin_action("rewrite"), selected, before=before, after=after, seed=seed)
            event, elapsed, first = studio.submit(plan.request)
            results.append(first if first is not None else elapsed)
            if isinstance(event.result, CompletionResult):
                prompt_tokens = event.result.prompt_tokens
    studio.close()
    print(
        f"Rewrite of a {len(selected.split())}-word selection in a 2,000-token document, time to the first "
        f"streamed token (median of {repeats}; base-model prompt of {prompt_tokens} tokens):"
    )
    print(f"  right after ghost text (prompt not cached) : {statistics.median(first_times):6.3f} s")
    print(f"  Regenerate (same prompt, another seed)     : {statistics.median(regenerate_times):6.3f} s")
    print(
        f"  ratio first / regenerate                   : "
        f"{statistics.median(first_times) / statistics.median(regenerate_times):6.1f}x"
    )


def bench_alternatives(model: Path, threads: int, count: int) -> None:
    """Continuation alternatives (Alt+]): one after another with seeds 1..count from the cached prefix."""
    studio = StudioEngine(model, threads, 4096)
    document = DOCUMENT_SENTENCE * 124 + "When he reached the top,"
    studio.complete(CompletionRequest(new_job_id(), prompt=document, max_tokens=1))
    started = time.perf_counter()
    tokens = 0
    evaluated: list[int] = []
    firsts: list[float] = []
    for seed in range(1, count + 1):
        request = CompletionRequest(new_job_id(), prompt=document, max_tokens=24, seed=seed, stop=("\n\n",))
        completed, elapsed, first = studio.complete(request)
        tokens += completed.completion_tokens
        evaluated.append(completed.prompt_tokens_evaluated)
        firsts.append(first if first is not None else elapsed)
    elapsed = time.perf_counter() - started
    studio.close()
    print(f"Continuation alternatives (24 tokens each, seeds 1-{count}) on a 2,000-token document:")
    print(
        f"  alternatives per second : {count / elapsed:6.2f} ({elapsed / count:.2f} s each, "
        f"{tokens / elapsed:.1f} tokens/s overall)"
    )
    print(
        f"  first token of each     : {statistics.median(firsts):6.3f} s median "
        f"({statistics.median(evaluated):.0f} prompt tokens evaluated)"
    )


def bench_token_choices(model: Path, threads: int, repeats: int, k: int = 10) -> None:
    """Token choices at an AI-written word: right after the continuation was written (the prompt up to the
    word is cached) and cold (another document evaluated in between)."""
    studio = StudioEngine(model, threads, 4096)
    document = DOCUMENT_SENTENCE * 124 + "When he reached the top,"
    other = "A different story about a baker. " * 20
    cached: list[float] = []
    cold: list[float] = []
    evaluated_cached: list[int] = []
    prompt_tokens = 0
    for repeat in range(repeats):
        completed, _elapsed, _first = studio.complete(
            CompletionRequest(new_job_id(), prompt=document, max_tokens=16, seed=repeat + 1)
        )
        words = completed.text.split(" ")
        at = document + " ".join(words[: max(1, len(words) // 2)]).rstrip()
        event, elapsed, _first = studio.submit(TopTokensRequest(new_job_id(), prompt=at, k=k))
        if not isinstance(event.result, TopTokensResult):
            raise SystemExit(f"the engine sent no token choices: {event}")
        cached.append(elapsed)
        evaluated_cached.append(event.result.prompt_tokens_evaluated)
        prompt_tokens = event.result.prompt_tokens
        studio.complete(CompletionRequest(new_job_id(), prompt=other, max_tokens=1, reuse_cache=False))
        _event, elapsed, _first = studio.submit(TopTokensRequest(new_job_id(), prompt=at, k=k))
        cold.append(elapsed)
    studio.close()
    print(
        f"Token choices (top {k}) at an AI-written word of a {prompt_tokens}-token prompt (median of {repeats}):"
    )
    print(
        f"  on the cached prefix : {statistics.median(cached):6.3f} s "
        f"({statistics.median(evaluated_cached):.0f} prompt tokens evaluated)"
    )
    print(f"  cold                 : {statistics.median(cold):6.3f} s ({prompt_tokens} evaluated)")
    print(f"  speed-up             : {statistics.median(cold) / statistics.median(cached):6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="", help="GGUF model (default: the embedded Gemma 3 270M)")
    parser.add_argument(
        "--threads", type=int, default=default_threads(), help="default: one per physical core"
    )
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--alternatives", type=int, default=5, help="continuation alternatives to time")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated parts to run: throughput, first-token, warm-up, rewrite, alternatives, choices",
    )
    args = parser.parse_args()
    model = Path(args.model) if args.model else ensure_default_model()
    print(f"Model: {model.name}; CPU threads: {args.threads}; machine: {os.cpu_count()} cores")
    parts = {part.strip() for part in args.only.split(",") if part.strip()}

    def wanted(name: str) -> bool:
        return not parts or name in parts

    if wanted("throughput"):
        bench_throughput(model, args.threads, args.tokens, args.repeats)
    if wanted("first-token"):
        bench_first_token(model, args.threads, args.repeats)
    if wanted("warm-up"):
        bench_warm_up(model, args.threads, args.repeats)
    if wanted("rewrite"):
        bench_rewrite_first_token(model, args.threads, args.repeats)
    if wanted("alternatives"):
        bench_alternatives(model, args.threads, args.alternatives)
    if wanted("choices"):
        bench_token_choices(model, args.threads, args.repeats)


if __name__ == "__main__":
    main()
