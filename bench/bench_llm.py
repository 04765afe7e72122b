"""LLM speed through Studio's engine process against plain llama-cpp-python, side by side in one run.

    python bench/bench_llm.py [--model PATH] [--threads N] [--tokens N] [--repeats N]

Prints (1) generation speed through Studio's engine (engine process and IPC included) and through
llama-cpp-python called directly, same model, threads, prompt and seed, with their ratio; (2) time to the
first ghost-text token after typing a few characters at the end of a 2,000-token document, with and without
prefix reuse.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.cpu import default_threads
from studio.engines.client import EngineClient
from studio.engines.protocol import EngineEvent, EventKind, new_job_id
from studio.engines.results import CompletionResult
from studio.engines.text_requests import CompletionRequest, LoadModelRequest
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
    args = parser.parse_args()
    model = Path(args.model) if args.model else ensure_default_model()
    print(f"Model: {model.name}; CPU threads: {args.threads}; machine: {os.cpu_count()} cores")
    bench_throughput(model, args.threads, args.tokens, args.repeats)
    bench_first_token(model, args.threads, args.repeats)


if __name__ == "__main__":
    main()
