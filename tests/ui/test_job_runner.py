"""JobRunner: engine events reach JobHandle callbacks on the GUI thread, token runs coalesced; cancel, failure
and engine crashes end jobs, and the next job starts a fresh engine process. Uses the model-free fake engine."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pytestqt.qtbot import QtBot

from studio.engines import protocol
from studio.engines.image_requests import GenerationMode, ImageRequest
from studio.engines.protocol import EngineEvent, EventKind, new_job_id
from studio.engines.results import CompletionResult
from studio.testing.fake_engine import KIND, FakeRequest, FakeResult
from studio.ui.jobs import JobHandle, JobRunner, JobState, coalesce

WAIT_MS = 60_000  # generous: a spawned process on a loaded machine; nothing here is a speed claim


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[JobRunner]:
    runner = JobRunner()
    yield runner
    runner.shutdown()


class Calls:
    """Records every callback of one handle, with the thread it ran on."""

    def __init__(self, handle: JobHandle) -> None:
        self.tokens: list[str] = []
        self.results: list[object] = []
        self.failures: list[str] = []
        self.cancelled = 0
        self.finished: list[JobHandle] = []
        self.threads: set[threading.Thread] = set()
        handle.on_tokens(self._record(self.tokens.append))
        handle.on_success(self._record(self.results.append))
        handle.on_failure(self._record(self.failures.append))
        handle.on_cancelled(self._record(self._cancel))
        handle.on_finished(self._record(self.finished.append))

    def _cancel(self) -> None:
        self.cancelled += 1

    def _record(self, callback: Callable[..., object]) -> Callable[..., None]:
        def record(*args: object) -> None:
            self.threads.add(threading.current_thread())
            callback(*args)

        return record


def wait_until_the_engine_is_done(runner: JobRunner, handle: JobHandle) -> None:
    """Block without running the Qt event loop until the engine has sent the job's last event, so every event
    waits in the runner's queue (the runner's timer cannot drain it meanwhile)."""
    client = runner.client(KIND)
    deadline = time.monotonic() + WAIT_MS / 1000
    while handle.job_id in client.running_jobs:
        assert time.monotonic() < deadline, "the fake engine never finished"
        time.sleep(0.01)


def client_pid(runner: JobRunner) -> int:
    pid = runner.client(KIND).pid
    assert pid is not None
    return pid


def test_a_stream_of_tokens_reaches_the_callbacks_as_one_coalesced_call(
    qtbot: QtBot, runner: JobRunner
) -> None:
    tokens = tuple(f"t{index} " for index in range(50))
    handle = runner.run(FakeRequest(new_job_id(), tokens=tokens), label="fifty tokens")
    calls = Calls(handle)
    received: list[EngineEvent] = []
    runner.event_received.connect(received.append)
    assert [job.label for job in runner.running_jobs] == ["fifty tokens"]
    wait_until_the_engine_is_done(runner, handle)
    with qtbot.waitSignal(runner.jobs_changed, timeout=WAIT_MS):
        pass
    assert calls.tokens == ["".join(tokens)]
    assert [event.kind for event in received] == [EventKind.STARTED, EventKind.TOKENS, EventKind.RESULT]
    assert handle.state is JobState.DONE and handle.text == "".join(tokens)
    assert calls.results == [FakeResult("".join(tokens), client_pid(runner), 1)]  # the fake's typed result
    assert calls.finished == [handle] and calls.failures == [] and calls.cancelled == 0
    assert calls.threads == {threading.main_thread()}
    assert runner.running_jobs == [] and runner.handle(handle.job_id) is None


def test_on_success_gets_the_typed_result_the_request_declares(qtbot: QtBot, runner: JobRunner) -> None:
    handle: JobHandle[FakeResult] = runner.run(FakeRequest(new_job_id(), tokens=("a", "b")))
    results: list[FakeResult] = []
    handle.on_success(results.append)
    qtbot.waitUntil(lambda: handle.is_done, timeout=WAIT_MS)
    assert handle.result is not None and results == [handle.result] and handle.state is JobState.DONE
    assert handle.result.text == "ab" and handle.result.jobs == 1


def test_typed_results_and_modes_survive_the_trip_through_pickle() -> None:
    completed = CompletionResult("text", "length", 5, 2, 7, 3, 0.5, 10.0)
    event = protocol.result("job", completed, text=completed.text)
    again = pickle.loads(pickle.dumps(event))
    assert again.result == completed and isinstance(again.result, CompletionResult)
    assert (again.start, again.step, again.error) == (None, None, None)  # only the result, typed
    request = ImageRequest("job", mode="inpaint")  # type: ignore[arg-type]  # a plain string, as the CLI may pass
    assert request.mode is GenerationMode.INPAINT
    assert pickle.loads(pickle.dumps(request)).mode is GenerationMode.INPAINT
    assert ImageRequest("job", mode="sketch").problem() == (  # type: ignore[arg-type]
        "unknown mode 'sketch' (choose from txt2img, img2img, inpaint, outpaint)"
    )


def test_coalesce_merges_only_consecutive_tokens_of_one_job() -> None:
    a, b = new_job_id(), new_job_id()
    events = [
        EngineEvent(EventKind.TOKENS, a, text="x"),
        EngineEvent(EventKind.TOKENS, a, text="y"),
        EngineEvent(EventKind.TOKENS, b, text="1"),
        EngineEvent(EventKind.TOKENS, a, text="z"),
        EngineEvent(EventKind.PROGRESS, a, text="half", progress=0.5),
        EngineEvent(EventKind.TOKENS, a, text="w"),
    ]
    assert [(event.kind, event.job_id, event.text) for event in coalesce(events)] == [
        (EventKind.TOKENS, a, "xy"),
        (EventKind.TOKENS, b, "1"),
        (EventKind.TOKENS, a, "z"),
        (EventKind.PROGRESS, a, "half"),
        (EventKind.TOKENS, a, "w"),
    ]


def test_cancel_ends_the_job_once_and_the_engine_serves_the_next(qtbot: QtBot, runner: JobRunner) -> None:
    handle = runner.run(FakeRequest(new_job_id(), tokens=("a", "b"), hold=True))
    calls = Calls(handle)
    qtbot.waitUntil(lambda: handle.text == "ab", timeout=WAIT_MS)
    assert not handle.is_done
    with qtbot.waitSignal(runner.jobs_changed, timeout=WAIT_MS):
        handle.cancel()
    assert handle.state is JobState.CANCELLED and calls.cancelled == 1
    assert calls.finished == [handle] and calls.results == [] and calls.failures == []
    handle.cancel()  # a finished job ignores another cancel
    pid = runner.client(KIND).pid

    after = runner.run(FakeRequest(new_job_id(), tokens=("next",)))
    qtbot.waitUntil(lambda: after.is_done, timeout=WAIT_MS)
    assert after.state is JobState.DONE and after.text == "next"
    assert after.result is not None and after.result.pid == pid


def test_a_failing_job_reaches_on_failure_with_the_engine_message(qtbot: QtBot, runner: JobRunner) -> None:
    handle = runner.run(FakeRequest(new_job_id(), tokens=("partial",), fail="The model file is damaged."))
    calls = Calls(handle)
    qtbot.waitUntil(lambda: handle.is_done, timeout=WAIT_MS)
    assert handle.state is JobState.FAILED
    assert calls.failures == ["The model file is damaged."] and handle.message == "The model file is damaged."
    assert calls.tokens == ["partial"] and calls.results == [] and calls.finished == [handle]


def test_an_engine_crash_fails_the_job_and_the_next_job_gets_a_fresh_process(
    qtbot: QtBot, runner: JobRunner
) -> None:
    crashed = runner.run(FakeRequest(new_job_id(), tokens=("a", "b", "c"), crash_after=1))
    calls = Calls(crashed)
    qtbot.waitUntil(lambda: crashed.is_done, timeout=WAIT_MS)
    assert crashed.state is JobState.FAILED and calls.tokens == ["a"]
    assert len(calls.failures) == 1 and "stopped unexpectedly" in calls.failures[0]
    crash = crashed.last_event.error if crashed.last_event is not None else None
    assert crash is not None and crash.engine_crashed and crash.exit_reported
    assert runner.running_jobs == []

    fresh = runner.run(FakeRequest(new_job_id(), tokens=("again",)))
    qtbot.waitUntil(lambda: fresh.is_done, timeout=WAIT_MS)
    assert fresh.state is JobState.DONE and fresh.text == "again"
    assert fresh.result is not None and fresh.result.jobs == 1
    assert runner.client(KIND).restarts == 1


def test_a_preload_runs_in_every_fresh_process_and_a_tracked_handle_gets_its_events(
    qtbot: QtBot, runner: JobRunner
) -> None:
    tracked: list[JobHandle] = []

    def preload() -> FakeRequest:
        request = FakeRequest(new_job_id(), tokens=("model loaded",))
        tracked.append(runner.track(request, "Loading the model"))
        return request

    runner.set_preload(KIND, preload)
    runner.start_engine(KIND)
    qtbot.waitUntil(lambda: len(tracked) == 1 and tracked[0].is_done, timeout=WAIT_MS)
    assert tracked[0].state is JobState.DONE and tracked[0].text == "model loaded"
    runner.client(KIND).kill()
    qtbot.waitUntil(lambda: not runner.client(KIND).is_alive, timeout=WAIT_MS)
    job = runner.run(FakeRequest(new_job_id(), tokens=("after",)))
    qtbot.waitUntil(lambda: job.is_done and len(tracked) == 2 and tracked[1].is_done, timeout=WAIT_MS)
    assert job.state is JobState.DONE and job.result is not None and job.result.jobs == 2
