"""Running engine jobs from the GUI: one fluent way, with every callback on the main thread.

``JobRunner.run(request)`` returns a :class:`JobHandle` typed by the request's result
(``JobHandle[CompletionResult]`` for a ``CompletionRequest``); chain ``.on_tokens(...)``, ``.on_success(...)``
(with the typed result), ``.on_failure(...)``. Engine events arrive on a reader thread, are queued, and are drained on the GUI thread
by a timer that coalesces consecutive token events, so a fast engine never floods the event loop.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

from PySide6.QtCore import QObject, QTimer, Signal

from studio.engines import protocol
from studio.engines.client import EngineClient
from studio.engines.protocol import EngineEvent, EngineRequest, EventKind

log = logging.getLogger(__name__)

POLL_INTERVAL_MS = 15

R = TypeVar("R")


class JobState(StrEnum):
    """Where a job stands: running until its terminal event."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobHandle(Generic[R]):
    """A job submitted through :class:`JobRunner`; callbacks run on the GUI thread. ``result`` is the typed
    result once the job is done."""

    def __init__(self, runner: JobRunner, request: EngineRequest[R], label: str) -> None:
        self.runner = runner
        self.request = request
        self.label = label
        self.state = JobState.RUNNING
        self.progress: float | None = None
        self.message = ""
        self.text = ""
        self.last_event: EngineEvent | None = None
        self.result: R | None = None
        self._callbacks: dict[EventKind | str, list[Callable[..., Any]]] = {}

    @property
    def job_id(self) -> str:
        return self.request.job_id

    @property
    def is_done(self) -> bool:
        return self.state is not JobState.RUNNING

    def _add(self, key: EventKind | str, callback: Callable[..., Any]) -> JobHandle[R]:
        self._callbacks.setdefault(key, []).append(callback)
        return self

    def on_tokens(self, callback: Callable[[str], Any]) -> JobHandle[R]:
        """``callback(new_text)`` for streamed text."""
        return self._add(EventKind.TOKENS, callback)

    def on_progress(self, callback: Callable[[float | None, str], Any]) -> JobHandle[R]:
        """``callback(fraction_or_none, message)``."""
        return self._add(EventKind.PROGRESS, callback)

    def on_preview(self, callback: Callable[[EngineEvent], Any]) -> JobHandle[R]:
        return self._add(EventKind.PREVIEW, callback)

    def on_success(self, callback: Callable[[R], Any]) -> JobHandle[R]:
        """``callback(result)`` with the job's typed result (``EngineEvent.result``; the full event is
        ``last_event``)."""
        return self._add(EventKind.RESULT, callback)

    def on_failure(self, callback: Callable[[str], Any]) -> JobHandle[R]:
        """``callback(message)`` when the job ends with an error (engine crashes included)."""
        return self._add(EventKind.ERROR, callback)

    def on_cancelled(self, callback: Callable[[], Any]) -> JobHandle[R]:
        return self._add(EventKind.CANCELLED, callback)

    def on_finished(self, callback: Callable[[JobHandle[R]], Any]) -> JobHandle[R]:
        """``callback(handle)`` after whichever terminal event."""
        return self._add("finished", callback)

    def cancel(self) -> None:
        """Ask the engine to stop this job at once."""
        if not self.is_done:
            self.runner.cancel(self.job_id)

    def _dispatch(self, event: EngineEvent) -> None:
        self.last_event = event
        kind = event.kind
        if kind is EventKind.TOKENS:
            self.text += event.text
            args: tuple[Any, ...] = (event.text,)
        elif kind is EventKind.PROGRESS:
            self.progress, self.message = event.progress, event.text
            args = (event.progress, event.text)
        elif kind is EventKind.ERROR:
            self.state, self.message = JobState.FAILED, event.text
            args = (event.text,)
        elif kind is EventKind.CANCELLED:
            self.state = JobState.CANCELLED
            args = ()
        elif kind is EventKind.RESULT:
            self.state = JobState.DONE
            self.result = cast(R, event.result)
            args = (self.result,)
        elif kind is EventKind.PREVIEW:
            args = (event,)
        else:
            return
        for callback in self._callbacks.get(kind, []):
            self._call(callback, *args)
        if kind.is_terminal:
            for callback in self._callbacks.get("finished", []):
                self._call(callback, self)
            self._callbacks.clear()

    @staticmethod
    def _call(callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("job callback failed")


def coalesce(events: list[EngineEvent]) -> list[EngineEvent]:
    """Merge runs of token events of the same job into one event."""
    merged: list[EngineEvent] = []
    for event in events:
        last = merged[-1] if merged else None
        if (
            last is not None
            and event.kind is EventKind.TOKENS
            and last.kind is EventKind.TOKENS
            and last.job_id == event.job_id
        ):
            merged[-1] = EngineEvent(EventKind.TOKENS, event.job_id, text=last.text + event.text)
        else:
            merged.append(event)
    return merged


class JobRunner(QObject):
    """Owns one :class:`EngineClient` per engine kind and turns their events into main-thread calls."""

    event_received = Signal(object)  # every (coalesced) EngineEvent, after the handle's callbacks
    jobs_changed = Signal()  # a job started or ended

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._events: queue.SimpleQueue[EngineEvent] = queue.SimpleQueue()
        self._clients: dict[str, EngineClient] = {}
        self._preloads: dict[str, Callable[[], EngineRequest[Any] | None]] = {}
        self._handles: dict[str, JobHandle[Any]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self.process_events)
        self._timer.start()

    def set_preload(self, kind: str, factory: Callable[[], EngineRequest[Any] | None]) -> None:
        """``factory()`` makes the first request of every fresh engine process of ``kind``."""
        self._preloads[kind] = factory

    def client(self, kind: str) -> EngineClient:
        if kind not in self._clients:
            self._clients[kind] = EngineClient(
                kind, self._events.put, preload=lambda: self._run_preload(kind)
            )
        return self._clients[kind]

    def _run_preload(self, kind: str) -> EngineRequest[Any] | None:
        factory = self._preloads.get(kind)
        return factory() if factory is not None else None

    def start_engine(self, kind: str) -> None:
        """Start the engine process of ``kind`` in the background (it runs its preload request)."""
        self.client(kind).start()

    def run(self, request: EngineRequest[R], label: str = "") -> JobHandle[R]:
        """Submit ``request`` to its engine; returns the handle to chain callbacks on."""
        handle = JobHandle(self, request, label or type(request).__name__)
        self._handles[request.job_id] = handle
        try:
            self.client(request.engine_kind).submit(request)
        except RuntimeError as exc:
            self._events.put(protocol.error(request.job_id, str(exc)))
        self.jobs_changed.emit()
        return handle

    def track(self, request: EngineRequest[R], label: str) -> JobHandle[R]:
        """A handle for a request submitted elsewhere (a preload), so its events reach callbacks."""
        handle = JobHandle(self, request, label)
        self._handles[request.job_id] = handle
        return handle

    def cancel(self, job_id: str) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
            self.client(handle.request.engine_kind).cancel(job_id)

    def handle(self, job_id: str) -> JobHandle[Any] | None:
        return self._handles.get(job_id)

    @property
    def running_jobs(self) -> list[JobHandle[Any]]:
        return [handle for handle in self._handles.values() if not handle.is_done]

    def process_events(self) -> None:
        """Drain queued engine events and dispatch them (the timer calls this; tests may too)."""
        batch: list[EngineEvent] = []
        while True:
            try:
                batch.append(self._events.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return
        ended = False
        for event in coalesce(batch):
            handle = self._handles.get(event.job_id)
            if handle is not None:
                handle._dispatch(event)
                if event.kind.is_terminal:
                    del self._handles[event.job_id]
                    ended = True
            self.event_received.emit(event)
        if ended:
            self.jobs_changed.emit()

    def shutdown(self) -> None:
        """Stop every engine process."""
        self._timer.stop()
        for client in self._clients.values():
            client.shutdown()
