"""The engine plumbing (EngineClient → spawned process → EngineHost → engine) with the model-free fake engine:
streaming, cancel, failures, crashes and restarts, in seconds. The real engines have their own tests."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator

import pytest

from studio.engines import host, protocol
from studio.engines.client import EngineClient
from studio.engines.protocol import CancelToken, EngineEvent, ErrorInfo, EventKind, new_job_id
from studio.testing.fake_engine import KIND, FakeEngine, FakeRequest, FakeResult

WAIT_S = 60  # generous: a spawned process on a loaded machine; nothing here is a speed claim


class Collector:
    """Receives a client's events on its reader thread; the test reads each job's events in order."""

    def __init__(self) -> None:
        self.events: queue.Queue[EngineEvent] = queue.Queue()
        self._pending: dict[str, list[EngineEvent]] = {}

    def _next(self, job_id: str) -> EngineEvent:
        while not self._pending.get(job_id):
            event = self.events.get(timeout=WAIT_S)
            self._pending.setdefault(event.job_id, []).append(event)
        return self._pending[job_id].pop(0)

    def until(self, job_id: str, kind: EventKind | None = None) -> list[EngineEvent]:
        """The events of ``job_id`` up to the first of ``kind`` (default: up to its terminal event)."""
        seen: list[EngineEvent] = []
        while True:
            seen.append(self._next(job_id))
            if seen[-1].kind is kind or seen[-1].kind.is_terminal:
                return seen


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def client(collector: Collector) -> Iterator[EngineClient]:
    client = EngineClient(KIND, collector.events.put)
    yield client
    client.shutdown()


def kinds(events: list[EngineEvent]) -> list[EventKind]:
    return [event.kind for event in events]


def test_tokens_stream_in_order_from_a_separate_process(client: EngineClient, collector: Collector) -> None:
    request = FakeRequest(new_job_id(), tokens=("Once", " upon", " a", " time"))
    assert client.submit(request) == request.job_id
    events = collector.until(request.job_id)
    assert kinds(events) == [EventKind.STARTED, *[EventKind.TOKENS] * 4, EventKind.RESULT]
    assert [event.text for event in events if event.kind is EventKind.TOKENS] == [
        "Once",
        " upon",
        " a",
        " time",
    ]
    assert events[-1].text == "Once upon a time"
    assert events[-1].result == FakeResult("Once upon a time", client.pid or 0, 1)
    assert client.pid != os.getpid()
    assert client.running_jobs == frozenset()


def test_cancel_stops_a_running_job_and_the_process_serves_the_next(
    client: EngineClient, collector: Collector
) -> None:
    held = FakeRequest(new_job_id(), tokens=("a",), hold=True)
    client.submit(held)
    collector.until(held.job_id, EventKind.TOKENS)
    assert client.running_jobs == {held.job_id}
    client.cancel(held.job_id)
    final = collector.until(held.job_id)[-1]
    assert final.kind is EventKind.CANCELLED
    pid = client.pid
    after = FakeRequest(new_job_id(), tokens=("b",))
    client.submit(after)
    events = collector.until(after.job_id)
    assert events[-1].kind is EventKind.RESULT and events[-1].text == "b"
    assert events[-1].result == FakeResult("b", pid or 0, 2)


def test_a_queued_job_cancelled_before_it_starts_never_runs(
    client: EngineClient, collector: Collector
) -> None:
    running = FakeRequest(new_job_id(), tokens=("a",), hold=True)
    queued = FakeRequest(new_job_id(), tokens=("never",))
    client.submit(running)
    collector.until(running.job_id, EventKind.TOKENS)
    client.submit(queued)
    client.cancel(queued.job_id)
    client.cancel(running.job_id)
    assert kinds(collector.until(running.job_id)) == [EventKind.CANCELLED]
    assert kinds(collector.until(queued.job_id)) == [EventKind.CANCELLED]


@pytest.mark.parametrize(
    ("request_options", "message"),
    [
        ({"fail": "That model file is not a diffusion model."}, "That model file is not a diffusion model."),
        ({"bug": True}, "RuntimeError: a bug in the fake engine"),
    ],
)
def test_a_failing_job_ends_with_its_message_and_the_process_lives_on(
    client: EngineClient, collector: Collector, request_options: dict[str, object], message: str
) -> None:
    failing = FakeRequest(new_job_id(), tokens=("x",), **request_options)  # type: ignore[arg-type]
    client.submit(failing)
    events = collector.until(failing.job_id)
    assert kinds(events) == [EventKind.STARTED, EventKind.TOKENS, EventKind.ERROR]
    assert events[-1].text == message
    assert events[-1].error == ErrorInfo()  # a failed job, not a dead engine
    pid = client.pid
    ok = FakeRequest(new_job_id(), tokens=("y",))
    client.submit(ok)
    assert collector.until(ok.job_id)[-1].kind is EventKind.RESULT
    assert client.pid == pid and client.restarts == 0


def test_an_engine_that_ends_without_a_result_gets_one_from_the_host(
    client: EngineClient, collector: Collector
) -> None:
    request = FakeRequest(new_job_id(), tokens=("a", "b"), finish=False)
    client.submit(request)
    events = collector.until(request.job_id)
    assert kinds(events)[-1] is EventKind.RESULT and events[-1].text == ""


def test_a_crash_ends_every_running_job_with_an_error_and_the_next_request_starts_a_fresh_process(
    client: EngineClient, collector: Collector
) -> None:
    crashing = FakeRequest(new_job_id(), tokens=("one", "two", "three"), crash_after=2)
    waiting = FakeRequest(new_job_id(), tokens=("queued",))
    client.submit(crashing)
    first_pid = client.pid
    client.submit(waiting)
    events = collector.until(crashing.job_id)
    assert [event.text for event in events if event.kind is EventKind.TOKENS] == ["one", "two"]
    final = events[-1]
    assert final.kind is EventKind.ERROR and final.error is not None
    assert final.error.engine_crashed and final.error.exit_reported
    assert "stopped unexpectedly" in final.text and "Your documents are safe" in final.text
    if hasattr(os, "WEXITSTATUS"):  # POSIX: the exit reason names the signal
        assert "SIGKILL" in final.text
    assert kinds(collector.until(waiting.job_id)) == [EventKind.ERROR]
    assert not client.is_alive and client.running_jobs == frozenset()

    again = FakeRequest(new_job_id(), tokens=("back",))
    client.submit(again)
    events = collector.until(again.job_id)
    assert events[-1].kind is EventKind.RESULT and events[-1].text == "back"
    fresh = events[-1].result
    assert isinstance(fresh, FakeResult) and fresh.pid not in (first_pid, os.getpid())
    assert fresh.jobs == 1  # a fresh engine
    assert client.restarts == 1


def test_the_preload_request_runs_first_in_every_fresh_process(collector: Collector) -> None:
    preloads: list[FakeRequest] = []

    def preload() -> FakeRequest:
        preloads.append(FakeRequest(new_job_id(), tokens=("loaded",)))
        return preloads[-1]

    preloaded = EngineClient(KIND, collector.events.put, preload=preload)
    try:
        crashing = FakeRequest(new_job_id(), crash_after=0)
        preloaded.submit(crashing)
        assert collector.until(preloads[0].job_id)[-1].text == "loaded"
        assert collector.until(crashing.job_id)[-1].kind is EventKind.ERROR
        after = FakeRequest(new_job_id(), tokens=("next",))
        preloaded.submit(after)
        assert len(preloads) == 2
        assert collector.until(preloads[1].job_id)[-1].result.jobs == 1
        assert collector.until(after.job_id)[-1].result.jobs == 2
    finally:
        preloaded.shutdown()


def test_shutdown_ends_a_running_job_as_cancelled(client: EngineClient, collector: Collector) -> None:
    held = FakeRequest(new_job_id(), tokens=("a",), hold=True)
    client.submit(held)
    collector.until(held.job_id, EventKind.TOKENS)
    client.shutdown()
    assert collector.until(held.job_id)[-1].kind is EventKind.CANCELLED
    assert not client.is_alive


def test_run_job_in_process_turns_exceptions_and_cancel_into_events() -> None:
    engine = FakeEngine()
    cancelled_before = CancelToken()
    cancelled_before.cancel()
    job = FakeRequest(new_job_id(), tokens=("a",))
    assert kinds(list(host.run_job(engine, job, cancelled_before))) == [EventKind.CANCELLED]
    assert engine.jobs == 0
    failing = FakeRequest(new_job_id(), fail="no such file")
    assert list(host.run_job(engine, failing, CancelToken()))[-1] == protocol.error(
        failing.job_id, "no such file"
    )


def test_an_unknown_engine_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine kind: 'nope'"):
        host.create_engine("nope")
    assert isinstance(host.create_engine(KIND), FakeEngine)


def test_jobs_of_a_dead_process_get_their_error_even_when_a_new_process_started_first(
    client: EngineClient, collector: Collector
) -> None:
    held = FakeRequest(new_job_id(), tokens=("a",), hold=True)
    client.submit(held)
    collector.until(held.job_id, EventKind.TOKENS)
    after = FakeRequest(new_job_id(), tokens=("b",))
    # holding the client's lock keeps its reader thread from cleaning up after the dead process until a new
    # request has started the next one: the order a user's next request can take
    with client._lock:
        client.kill()
        deadline = time.monotonic() + WAIT_S
        while client.is_alive:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        client.submit(after)
    final = collector.until(held.job_id)[-1]
    assert final.kind is EventKind.ERROR and final.error is not None and final.error.engine_crashed
    assert collector.until(after.job_id)[-1].text == "b"
    assert client.running_jobs == frozenset()
