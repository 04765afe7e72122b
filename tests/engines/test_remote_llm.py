"""The remote LLM backend against a real OpenAI-compatible server: llama-cpp-python's own
(``python -m llama_cpp.server``) on loopback, serving the default Gemma 3 270M model."""

from __future__ import annotations

import argparse
import queue
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from studio.cli import main
from studio.cli_remote import EXIT_ERROR, run_text_remote
from studio.engines.client import EngineClient
from studio.engines.host import run_job
from studio.engines.llm import LlmEngine
from studio.engines.protocol import CancelToken, EngineEvent, EngineRequest, EventKind, new_job_id
from studio.engines.remote_llm import RemoteLlmBackend
from studio.engines.remote_requests import ConnectServerRequest
from studio.engines.results import CANCELLED_FINISH, CompletionResult, ServerLoadResult
from studio.engines.text_requests import ChatRequest, CompletionRequest, LoadModelRequest

pytestmark = pytest.mark.llm

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python's [server] extra is not installed")


if TYPE_CHECKING:
    from tests.engines.llama_server import LlamaServer


def run(
    backend: RemoteLlmBackend | LlmEngine, request: EngineRequest, cancel: CancelToken | None = None
) -> list[EngineEvent]:
    return list(run_job(backend, request, cancel or CancelToken()))


def connected(url: str, model_kind: str = "") -> RemoteLlmBackend:
    backend = RemoteLlmBackend()
    events = run(backend, ConnectServerRequest("connect", url=url, model_kind=model_kind))
    assert events[-1].kind is EventKind.RESULT, events[-1]
    return backend


def completion_of(events: list[EngineEvent]) -> CompletionResult:
    final = events[-1]
    assert final.kind is EventKind.RESULT, final
    assert isinstance(final.result, CompletionResult)
    streamed = "".join(event.text for event in events if event.kind is EventKind.TOKENS)
    assert streamed == final.result.text == final.text
    return final.result


def test_connect_reports_the_servers_model(llama_server: LlamaServer, default_model_file: Path) -> None:
    backend = RemoteLlmBackend()
    events = run(backend, ConnectServerRequest("connect", url=f"127.0.0.1:{llama_server.port}/v1/"))
    assert [event.kind for event in events] == [EventKind.STARTED, EventKind.PROGRESS, EventKind.RESULT]
    loaded = events[-1].result
    assert isinstance(loaded, ServerLoadResult)
    # llama-cpp-python's server names its model by the path it was started with
    assert loaded.model_name == str(default_model_file)
    assert loaded.models == (str(default_model_file),)
    assert loaded.server_url == loaded.model_path == llama_server.url
    assert loaded.architecture == "remote"
    assert loaded.model_kind == "instruct"  # this server does not say, and servers mostly serve chat models
    assert loaded.server_kind == "openai-compatible"  # it has no llama.cpp /props
    assert backend.server == loaded
    backend.close()


def test_completion_streams_what_the_same_model_says_locally(
    llama_server: LlamaServer, default_model_file: Path
) -> None:
    backend = connected(llama_server.url)
    local = LlmEngine()
    assert run(local, LoadModelRequest("load", model_path=str(default_model_file), n_ctx=1024))[-1].result
    try:
        for prompt in ("The capital of France is", "Once upon a time, there was a little"):
            request = CompletionRequest("c", prompt=prompt, max_tokens=10, temperature=0.0, seed=1)
            events = run(backend, request)
            assert events[0].kind is EventKind.STARTED
            remote = completion_of(events)
            assert len([event for event in events if event.kind is EventKind.TOKENS]) > 1  # streamed
            assert remote.finish_reason == "length"
            assert remote.completion_tokens == 10
            assert remote.text.strip()
            # greedy decoding: the server's answer is the local engine's, token for token (over a few tokens:
            # the two decode the prompt in batches of other shapes, which can flip a near tie later on)
            assert remote.text == completion_of(run(local, request)).text
    finally:
        local.close()
        backend.close()


def test_completion_stops_at_a_stop_string(llama_server: LlamaServer) -> None:
    backend = connected(llama_server.url)
    request = CompletionRequest(
        "c", prompt="def fibonacci(n):", max_tokens=32, temperature=0.0, stop=("return",)
    )
    result = completion_of(run(backend, request))
    assert "return" not in result.text
    assert result.finish_reason == "stop"
    backend.close()


def test_chat_streams_through_chat_completions(llama_server: LlamaServer) -> None:
    backend = connected(llama_server.url)
    request = ChatRequest("chat", messages=(("user", "What is the capital of France?"),), max_tokens=12)
    events = run(backend, request)
    assert events[0].kind is EventKind.STARTED
    assert events[0].start is not None and events[0].start.model_kind == "instruct"
    # a base model without a chat template answers little through the chat endpoint; the protocol holds
    result = completion_of(events)
    assert result.finish_reason in ("stop", "length")
    backend.close()


def test_chat_on_a_base_model_is_a_transcript_completion(llama_server: LlamaServer) -> None:
    backend = connected(llama_server.url, model_kind="base")
    request = ChatRequest(
        "chat", messages=(("user", "What is the capital of France?"),), max_tokens=12, temperature=0.0
    )
    events = run(backend, request)
    assert events[0].start is not None and events[0].start.model_kind == "base"
    assert "Paris" in completion_of(events).text
    backend.close()


def test_cancel_mid_stream_ends_the_job_and_the_server_serves_on(llama_server: LlamaServer) -> None:
    backend = connected(llama_server.url)
    cancel = CancelToken()
    events: list[EngineEvent] = []
    tokens_after_cancel = 0
    for event in run_job(
        backend, CompletionRequest("long", prompt="Once upon a time", max_tokens=400), cancel
    ):
        events.append(event)
        if event.kind is EventKind.TOKENS:
            if cancel.is_cancelled:
                tokens_after_cancel += 1
            elif sum(e.kind is EventKind.TOKENS for e in events) == 3:
                cancel.cancel()
    final = events[-1]
    assert final.kind is EventKind.CANCELLED
    assert tokens_after_cancel == 0  # the stream is closed at the next chunk, not drained
    partial = final.result
    assert isinstance(partial, CompletionResult)
    assert partial.finish_reason == CANCELLED_FINISH
    assert partial.text == "".join(e.text for e in events if e.kind is EventKind.TOKENS)
    assert partial.completion_tokens == 3
    # the same backend (a fresh connection) and the server go on
    after = completion_of(
        run(backend, CompletionRequest("next", prompt="The capital of France is", max_tokens=8))
    )
    assert after.text.strip()
    backend.close()


def test_server_killed_mid_stream_is_an_error_and_the_caller_goes_on(
    default_model_file: Path, tmp_path: Path, start_llama_server: Callable[[Path, Path], LlamaServer]
) -> None:
    doomed = start_llama_server(default_model_file, tmp_path / "server.log")
    try:
        backend = connected(doomed.url)
        events: list[EngineEvent] = []
        for event in run_job(
            backend, CompletionRequest("c", prompt="Once upon a time", max_tokens=400), CancelToken()
        ):
            events.append(event)
            if event.kind is EventKind.TOKENS and len(events) == 3:
                doomed.process.kill()
                doomed.process.wait(timeout=30)
        final = events[-1]
        assert final.kind is EventKind.ERROR
        assert "closed the connection in the middle of the answer" in final.text
        assert doomed.url in final.text
        # the backend still answers: with a clear error now that nothing listens
        again = run(backend, CompletionRequest("again", prompt="Hello", max_tokens=4))
        assert again[-1].kind is EventKind.ERROR
        assert "connection was refused" in again[-1].text
        backend.close()
    finally:
        doomed.stop()


def test_wrong_path_on_a_real_server_says_so(llama_server: LlamaServer) -> None:
    events = run(RemoteLlmBackend(), ConnectServerRequest("connect", url=f"{llama_server.url}/not/here"))
    assert events[-1].kind is EventKind.ERROR
    assert "HTTP 404" in events[-1].text
    assert "OpenAI-compatible" in events[-1].text


def test_unknown_model_lists_the_servers_models(llama_server: LlamaServer, default_model_file: Path) -> None:
    events = run(RemoteLlmBackend(), ConnectServerRequest("connect", url=llama_server.url, model="gpt-9"))
    assert events[-1].kind is EventKind.ERROR
    assert "no model 'gpt-9'" in events[-1].text
    assert str(default_model_file) in events[-1].text


def cli_args(server_url: str, prompt: str, **options: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "prompt": prompt,
        "server": server_url,
        "api_key_env": "",
        "model": "",
        "max_tokens": 8,
        "temperature": 0.0,
        "seed": 1,
    }
    values.update(options)
    return argparse.Namespace(**values)


def test_cli_streams_a_completion_from_the_server(
    llama_server: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_text_remote(cli_args(llama_server.url, "The capital of France is")) == 0
    out = capsys.readouterr().out
    assert out.startswith(" the capital of France")
    assert out.endswith("\n")


def test_cli_reports_an_unreachable_server(
    capsys: pytest.CaptureFixture[str], free_port: Callable[[], int]
) -> None:
    assert run_text_remote(cli_args(f"http://127.0.0.1:{free_port()}", "Hello")) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("studio: error: Cannot reach the server at http://127.0.0.1:")


GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ message['role'] }}\n"
    "{{ message['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture(scope="module")
def instruct_server(
    default_model_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
    start_llama_server: Callable[[Path, Path], LlamaServer],
) -> Iterator[LlamaServer]:
    """The server on the default model with a chat template added to its metadata (an 'instruct' GGUF)."""
    folder = tmp_path_factory.mktemp("instruct-server")
    model = folder / "gemma-chat.gguf"
    script = Path(sys.executable).with_name("gguf-new-metadata")
    subprocess.run(
        [str(script), "--chat-template", GEMMA_TEMPLATE, str(default_model_file), str(model)],
        check=True,
        capture_output=True,
        input=b"y\n",
    )
    started = start_llama_server(model, folder / "server.log")
    yield started
    started.stop()


def test_chat_answers_what_the_same_instruct_model_says_locally(instruct_server: LlamaServer) -> None:
    backend = connected(instruct_server.url)
    local = LlmEngine()
    loaded = run(local, LoadModelRequest("load", model_path=str(instruct_server.model), n_ctx=1024))[
        -1
    ].result
    assert loaded.model_kind == "instruct"
    try:
        request = ChatRequest(
            "chat",
            messages=(("user", "Name three colours."),),
            max_tokens=4,  # the base weights echo the question, then pick among near ties
            temperature=0.0,
        )
        events = run(backend, request)
        remote = completion_of(events)
        assert len([event for event in events if event.kind is EventKind.TOKENS]) > 1
        assert remote.text.strip()
        # the server renders the model's own chat template, as the local engine does
        assert remote.text == completion_of(run(local, request)).text
    finally:
        local.close()
        backend.close()


# through the LLM engine process, as the app and the ghost text use it


class EngineEvents:
    """An :class:`EngineClient` of the LLM engine process and the events it delivered."""

    def __init__(self) -> None:
        self.queue: queue.Queue[EngineEvent] = queue.Queue()
        self.client = EngineClient("llm", self.queue.put)

    def events_of(
        self, request: EngineRequest, on_event: Callable[[EngineEvent], None] | None = None
    ) -> list[EngineEvent]:
        self.client.submit(request)
        events: list[EngineEvent] = []
        while not events or not events[-1].kind.is_terminal:
            event = self.queue.get(timeout=300)
            if event.job_id == request.job_id:
                events.append(event)
                if on_event is not None:
                    on_event(event)
        return events


@pytest.fixture
def engine() -> Iterator[EngineEvents]:
    events = EngineEvents()
    yield events
    events.client.shutdown()


def test_the_engine_process_serves_completions_from_a_server(
    llama_server: LlamaServer, engine: EngineEvents
) -> None:
    connect = engine.events_of(ConnectServerRequest(new_job_id(), url=llama_server.url))
    assert isinstance(connect[-1].result, ServerLoadResult), connect[-1]
    request = CompletionRequest(
        new_job_id(), prompt="The capital of France is", max_tokens=8, temperature=0.0
    )
    result = completion_of(engine.events_of(request))
    assert result.text.startswith(" the capital of France")
    chat = ChatRequest(new_job_id(), messages=(("user", "Hello"),), max_tokens=4)
    assert engine.events_of(chat)[-1].kind is EventKind.RESULT

    cancel_after: list[int] = []
    long = CompletionRequest(new_job_id(), prompt="Once upon a time", max_tokens=400)

    def cancel_at_third_token(event: EngineEvent) -> None:
        if event.kind is EventKind.TOKENS:
            cancel_after.append(1)
            if len(cancel_after) == 3:
                engine.client.cancel(long.job_id)

    cancelled = engine.events_of(long, cancel_at_third_token)
    assert cancelled[-1].kind is EventKind.CANCELLED
    assert isinstance(cancelled[-1].result, CompletionResult)
    assert cancelled[-1].result.completion_tokens < 400
    again = CompletionRequest(new_job_id(), prompt="The capital of France is", max_tokens=8, temperature=0.0)
    assert completion_of(engine.events_of(again)).text == result.text


def test_a_dead_server_is_an_error_and_the_engine_lives_on(
    default_model_file: Path,
    tmp_path: Path,
    engine: EngineEvents,
    start_llama_server: Callable[[Path, Path], LlamaServer],
    free_port: Callable[[], int],
) -> None:
    doomed = start_llama_server(default_model_file, tmp_path / "server.log")
    try:
        assert (
            engine.events_of(ConnectServerRequest(new_job_id(), url=doomed.url))[-1].kind is EventKind.RESULT
        )
        pid = engine.client.pid

        def kill_at_second_token(event: EngineEvent) -> None:
            if event.kind is EventKind.TOKENS and doomed.process.poll() is None:
                doomed.process.kill()
                doomed.process.wait(timeout=30)

        request = CompletionRequest(new_job_id(), prompt="Once upon a time", max_tokens=400)
        final = engine.events_of(request, kill_at_second_token)[-1]
        assert final.kind is EventKind.ERROR
        assert "closed the connection in the middle of the answer" in final.text
        assert final.error is not None and not final.error.engine_crashed
        assert engine.client.is_alive and engine.client.pid == pid
    finally:
        doomed.stop()
    # a failed connect keeps the server connected before as the model (it is gone, but still the choice)
    failed = engine.events_of(ConnectServerRequest(new_job_id(), url=f"http://127.0.0.1:{free_port()}"))[-1]
    assert failed.kind is EventKind.ERROR and "connection was refused" in failed.text
    assert failed.error is not None and failed.error.model_kept
    # and a local model takes over again
    load = engine.events_of(LoadModelRequest(new_job_id(), model_path=str(default_model_file), n_ctx=1024))
    assert load[-1].kind is EventKind.RESULT and load[-1].result.architecture == "gemma3"
    local = CompletionRequest(new_job_id(), prompt="The capital of France is", max_tokens=8, temperature=0.0)
    assert completion_of(engine.events_of(local)).text.startswith(" the capital of France")


def test_studio_text_with_server_streams_from_it(
    llama_server: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "text",
        "--server",
        llama_server.url,
        "--max-tokens",
        "6",
        "--temperature",
        "0",
        "The capital of France is",
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(" the capital of France")


def test_studio_text_api_key_env_needs_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["text", "--api-key-env", "STUDIO_TEST_KEY", "Hello"]) == 2
    assert "--api-key-env goes with --server" in capsys.readouterr().err
