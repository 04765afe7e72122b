"""Generation speed through Studio's remote path against a plain client of the same server, in one run.

    python bench/bench_remote.py [--server URL] [--model PATH] [--threads N] [--tokens N] [--repeats N]

Without ``--server`` it starts llama-cpp-python's server (``python -m llama_cpp.server``, its ``[server]``
extra) on loopback with the default Gemma 3 270M (or ``--model``). Same prompts, seeds and sampling on both
sides, alternating: (1) Studio's :class:`~studio.engines.remote_llm.RemoteLlmBackend` (through the LLM engine
process when the engine delegates ``ConnectServerRequest``, in-process as ``studio text --server`` otherwise)
and (2) the server's own client (the ``openai`` package when installed, else a raw streaming HTTP request).
Prints each side's median tokens/s (prompt included, request to last token) and their ratio. The server's own
compute dominates both sides, so run it on a quiet machine: other processes competing for the server's cores
swing the ratio far more than the client does (the server's log shows the per-token eval time moving).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.engines.client import EngineClient
from studio.engines.host import run_job
from studio.engines.protocol import CancelToken, EngineEvent, EngineRequest, EventKind, new_job_id
from studio.engines.remote_llm import RemoteLlmBackend
from studio.engines.remote_requests import ConnectServerRequest, parse_server_url
from studio.engines.results import CompletionResult
from studio.engines.text_requests import CompletionRequest
from studio.models.default_model import ensure_default_model

PROMPTS = [
    "The old lighthouse keeper climbed the stairs one last time and",
    "In the quiet village at the edge of the forest, the baker",
    "She opened the letter slowly, knowing that whatever it said,",
]

Complete = Callable[[str, int, int], int]  # (prompt, max_tokens, seed) -> completion tokens received


def start_server(model: Path, threads: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"),
            *("--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads)),
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited; its log: {log}")
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=5) as answer:
                if json.load(answer)["data"]:
                    return process, url
        except OSError:
            time.sleep(0.25)
    process.kill()
    raise SystemExit("llama_cpp.server did not start within 180 s")


class StudioRemote:
    """Studio's remote path: the LLM engine process if it serves ConnectServerRequest, else in-process."""

    def __init__(self, url: str, api_key_env: str) -> None:
        self.events: queue.Queue[EngineEvent] = queue.Queue()
        self.client: EngineClient | None = EngineClient("llm", self.events.put)
        connect = ConnectServerRequest(new_job_id(), url=url, api_key_env=api_key_env)
        self.client.submit(connect)
        final = self._wait(connect.job_id)
        self.backend: RemoteLlmBackend | None = None
        self.via = "LLM engine process"
        if final.kind is not EventKind.RESULT:
            if "cannot handle ConnectServerRequest" not in final.text:
                raise SystemExit(final.text)
            self.client.shutdown()
            self.client = None
            self.backend = RemoteLlmBackend()
            final = list(run_job(self.backend, connect, CancelToken()))[-1]
            if final.kind is not EventKind.RESULT:
                raise SystemExit(final.text)
            self.via = "in-process backend (the engine does not delegate yet)"
        self.model = final.result.model_name

    def _wait(self, job_id: str) -> EngineEvent:
        while True:
            event = self.events.get(timeout=600)
            if event.job_id == job_id and event.kind.is_terminal:
                return event

    def _run(self, request: EngineRequest[CompletionResult]) -> EngineEvent:
        if self.client is not None:
            self.client.submit(request)
            return self._wait(request.job_id)
        assert self.backend is not None
        return list(run_job(self.backend, request, CancelToken()))[-1]

    def complete(self, prompt: str, max_tokens: int, seed: int) -> int:
        request = CompletionRequest(
            new_job_id(), prompt=prompt, max_tokens=max_tokens, seed=seed, temperature=0.7
        )
        final = self._run(request)
        if not isinstance(final.result, CompletionResult) or final.kind is not EventKind.RESULT:
            raise SystemExit(f"Studio's remote path failed: {final.text}")
        return final.result.completion_tokens

    def close(self) -> None:
        if self.client is not None:
            self.client.shutdown()
        if self.backend is not None:
            self.backend.close()


def plain_client(url: str, model: str, api_key: str) -> tuple[str, Complete]:
    """The server's own client: ``openai`` when installed, else a raw streaming POST (urllib)."""
    base = parse_server_url(url).url + "/v1"
    sampling = {"temperature": 0.7, "top_p": 0.95}
    extra = {"top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1, "cache_prompt": True}
    try:
        import openai
    except ImportError:
        pass
    else:
        client = openai.OpenAI(base_url=base, api_key=api_key or "none")

        def with_openai(prompt: str, max_tokens: int, seed: int) -> int:
            stream = client.completions.create(
                model=model,
                prompt=prompt,
                max_tokens=max_tokens,
                seed=seed,
                stream=True,
                extra_body=extra,
                **sampling,
            )
            return sum(1 for chunk in stream if chunk.choices and chunk.choices[0].text)

        return "openai package", with_openai

    def with_urllib(prompt: str, max_tokens: int, seed: int) -> int:
        body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "seed": seed, "stream": True}
        request = urllib.request.Request(
            f"{base}/completions",
            data=json.dumps({**body, **sampling, **extra}).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {api_key}"} if api_key else {}),
            },
        )
        count = 0
        with urllib.request.urlopen(request, timeout=600) as answer:
            for line in answer:
                if line.startswith(b"data: ") and not line.startswith(b"data: [DONE]"):
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    count += 1 if choices[0].get("text") else 0
        return count

    return "raw HTTP (urllib; the openai package is not installed)", with_urllib


def rate(complete: Complete, prompt: str, tokens: int, seed: int) -> float:
    started = time.perf_counter()
    count = complete(prompt, tokens, seed)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server", default="", help="a running OpenAI-compatible server (default: start one)"
    )
    parser.add_argument("--api-key-env", default="", help="with --server: the variable holding its API key")
    parser.add_argument(
        "--model", default="", help="GGUF model for the started server (default: Gemma 3 270M)"
    )
    parser.add_argument("--threads", type=int, default=2, help="the started server's CPU threads")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    process: subprocess.Popen[bytes] | None = None
    url = args.server
    if not url:
        model = Path(args.model) if args.model else ensure_default_model()
        log = Path(tempfile.mkdtemp(prefix="bench-remote-")) / "server.log"
        print(f"Starting llama_cpp.server: {model.name}, {args.threads} threads, {os.cpu_count()} cores")
        process, url = start_server(model, args.threads, log)
    try:
        studio = StudioRemote(url, args.api_key_env)
        label, plain = plain_client(
            url, studio.model, os.environ.get(args.api_key_env, "") if args.api_key_env else ""
        )
        print(f"Server: {url}, model {studio.model}; Studio via {studio.via}; reference: {label}")
        plain(PROMPTS[0], 4, 1)  # warm-up (first request loads caches)
        studio.complete(PROMPTS[0], 4, 1)
        studio_rates: list[float] = []
        plain_rates: list[float] = []
        for repeat in range(args.repeats):
            for index, prompt in enumerate(PROMPTS):
                seed = 100 + repeat * 10 + index
                pair = [(plain, plain_rates), (studio.complete, studio_rates)]
                for complete, rates in pair if (repeat + index) % 2 == 0 else reversed(pair):
                    rates.append(rate(complete, prompt, args.tokens, seed))
        studio.close()
    finally:
        if process is not None:
            process.kill()
            process.wait()
    plain_median, studio_median = statistics.median(plain_rates), statistics.median(studio_rates)
    print(f"Generation, {args.tokens} tokens, median of {len(plain_rates)} runs each (prompt included):")
    print(f"  server's own client      : {plain_median:6.1f} tokens/s")
    print(f"  Studio remote path       : {studio_median:6.1f} tokens/s")
    print(f"  ratio Studio / own client: {studio_median / plain_median:6.2f}")


if __name__ == "__main__":
    main()
