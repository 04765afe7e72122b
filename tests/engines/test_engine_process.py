"""The engine process: spawned, streaming over a pipe, surviving crashes of the model code."""

from __future__ import annotations

import os
import queue
import signal
from pathlib import Path

import pytest

from studio.engines.client import EngineClient, describe_exit
from studio.engines.protocol import EngineEvent, ErrorInfo, EventKind, new_job_id
from studio.engines.results import CANCELLED_FINISH, CompletionResult
from studio.engines.text_requests import CompletionRequest, LoadModelRequest

pytestmark = pytest.mark.llm

TIMEOUT = 300


class Collector:
    def __init__(self) -> None:
        self.events: queue.Queue[EngineEvent] = queue.Queue()

    def until_end(self, job_id: str) -> list[EngineEvent]:
        seen = []
        while True:
            event = self.events.get(timeout=TIMEOUT)
            if event.job_id != job_id:
                continue
            seen.append(event)
            if event.kind.is_terminal:
                return seen

    def until(self, job_id: str, kind: EventKind) -> list[EngineEvent]:
        seen = []
        while True:
            event = self.events.get(timeout=TIMEOUT)
            if event.job_id == job_id:
                seen.append(event)
                if event.kind is kind or event.kind.is_terminal:
                    return seen


def load_request(model: Path) -> LoadModelRequest:
    return LoadModelRequest(new_job_id(), model_path=str(model), n_ctx=2048, n_threads=2)


def test_streaming_through_the_engine_process(default_model_file: Path) -> None:
    collector = Collector()
    client = EngineClient("llm", collector.events.put)
    try:
        load = load_request(default_model_file)
        client.submit(load)
        assert collector.until_end(load.job_id)[-1].kind is EventKind.RESULT
        assert client.pid is not None and client.pid != os.getpid()
        request = CompletionRequest(new_job_id(), prompt="The sea was", max_tokens=10, seed=4)
        client.submit(request)
        events = collector.until_end(request.job_id)
        assert events[0].kind is EventKind.STARTED
        assert sum(event.kind is EventKind.TOKENS for event in events) >= 2
        assert events[-1].kind is EventKind.RESULT
        assert events[-1].text
    finally:
        client.shutdown()
    assert not client.is_alive


def test_cancel_through_the_engine_process(default_model_file: Path) -> None:
    collector = Collector()
    client = EngineClient("llm", collector.events.put)
    try:
        client.submit(load_request(default_model_file))
        request = CompletionRequest(new_job_id(), prompt="Once upon a time", max_tokens=300)
        client.submit(request)
        seen = collector.until(request.job_id, EventKind.TOKENS)
        assert seen[-1].kind is EventKind.TOKENS
        client.cancel(request.job_id)
        final = collector.until_end(request.job_id)[-1]
        assert final.kind is EventKind.CANCELLED
        partial = final.result
        assert isinstance(partial, CompletionResult) and partial.finish_reason == CANCELLED_FINISH
        assert 0 < partial.completion_tokens < 300 and partial.text
    finally:
        client.shutdown()


def test_killed_engine_ends_the_job_with_an_error_and_restarts(default_model_file: Path) -> None:
    collector = Collector()
    client = EngineClient("llm", collector.events.put, preload=lambda: load_request(default_model_file))
    try:
        client.start()
        first_pid = client.pid
        request = CompletionRequest(new_job_id(), prompt="The road went on", max_tokens=400)
        client.submit(request)
        assert collector.until(request.job_id, EventKind.TOKENS)[-1].kind is EventKind.TOKENS
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        final = collector.until_end(request.job_id)[-1]
        assert final.kind is EventKind.ERROR
        assert "stopped unexpectedly" in final.text and "SIGKILL" in final.text
        assert final.error == ErrorInfo.crash(-signal.SIGKILL)
        # the next request starts a fresh process, which loads the model again first (preload)
        retry = CompletionRequest(new_job_id(), prompt="The road went on", max_tokens=4)
        client.submit(retry)
        done = collector.until_end(retry.job_id)[-1]
        assert done.kind is EventKind.RESULT
        # the typed result crossed the process boundary intact
        assert isinstance(done.result, CompletionResult) and done.result.text == done.text
        assert 1 <= done.result.completion_tokens <= 4
        assert client.pid != first_pid
        assert client.restarts == 1
    finally:
        client.shutdown()


def test_segfault_in_the_engine_process_is_reported(default_model_file: Path) -> None:
    collector = Collector()
    client = EngineClient("llm", collector.events.put, preload=lambda: load_request(default_model_file))
    try:
        client.start()
        request = CompletionRequest(new_job_id(), prompt="x", max_tokens=500)
        client.submit(request)
        collector.until(request.job_id, EventKind.STARTED)
        assert client.pid is not None
        os.kill(client.pid, signal.SIGSEGV)
        final = collector.until_end(request.job_id)[-1]
        assert final.kind is EventKind.ERROR
        assert "SIGSEGV" in final.text
    finally:
        client.shutdown()


def test_describe_exit() -> None:
    assert describe_exit(-9) == "it was stopped by SIGKILL"
    assert describe_exit(3) == "it exited with status 3"
