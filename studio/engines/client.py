"""The GUI-side (and CLI-side) handle of an engine process. Qt-free.

``EngineClient`` starts the engine process with the *spawn* method, sends requests, and delivers every event
to a callback from its reader thread. If the process dies, each running job gets an ``error`` event and the
next request starts a fresh process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from studio.engines import host, protocol
from studio.engines.protocol import EngineEvent, EngineRequest, ErrorInfo

log = logging.getLogger(__name__)

EventCallback = Callable[[EngineEvent], None]


def describe_exit(exitcode: int | None) -> str:
    """A user-readable reason for an engine process exit code."""
    if exitcode is None:
        return "it stopped responding"
    if exitcode < 0:
        import signal

        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"it was stopped by {name}"
    return f"it exited with status {exitcode}"


class EngineClient:
    """Talks to one engine process of one kind; restarts it on demand after a crash."""

    def __init__(
        self,
        kind: str,
        on_event: EventCallback,
        preload: Callable[[], EngineRequest | None] | None = None,
    ) -> None:
        """``preload`` makes the first request of every fresh process (e.g. loading the chosen model)."""
        self.kind = kind
        self._on_event = on_event
        self._preload = preload
        self._lock = threading.RLock()
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._reader: threading.Thread | None = None
        self._running_jobs: dict[str, BaseProcess] = {}  # job id -> the process running it
        self._closing = False
        self._started_once = False
        self.restarts = 0

    @property
    def is_alive(self) -> bool:
        with self._lock:
            return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    @property
    def running_jobs(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._running_jobs)

    def start(self) -> None:
        """Start the engine process now if it is not running (returns without waiting for it to load)."""
        with self._lock:
            if self._process is not None and self._process.is_alive():
                return
            self._start_locked()

    def _start_locked(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        process = context.Process(
            target=host.engine_process_main,
            args=(self.kind, child_end, logging.getLogger().getEffectiveLevel()),
            name=f"studio-{self.kind}-engine",
            daemon=True,
        )
        process.start()
        child_end.close()
        if self._started_once:
            self.restarts += 1
        self._started_once = True
        self._process = process
        self._connection = parent_end
        self._closing = False
        self._reader = threading.Thread(
            target=self._read_events,
            args=(process, parent_end),
            name=f"{self.kind}-engine-reader",
            daemon=True,
        )
        self._reader.start()
        if self._preload is not None:
            request = self._preload()
            if request is not None:
                self._send_locked(host.RUN, request)
                self._running_jobs[request.job_id] = process

    def submit(self, request: EngineRequest) -> str:
        """Send ``request`` to the engine (starting a process if needed); returns its job id."""
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start_locked()
            assert self._process is not None
            self._running_jobs[request.job_id] = self._process
            try:
                self._send_locked(host.RUN, request)
            except OSError as exc:
                self._running_jobs.pop(request.job_id, None)
                raise RuntimeError(f"Could not reach the {self.kind} engine: {exc}") from exc
        return request.job_id

    def cancel(self, job_id: str) -> None:
        """Ask the engine to stop ``job_id``; a ``cancelled`` event follows (if it was still running)."""
        with self._lock:
            if job_id in self._running_jobs and self._connection is not None:
                with contextlib.suppress(OSError):
                    self._send_locked(host.CANCEL, job_id)

    def _send_locked(self, command: str, payload: object) -> None:
        assert self._connection is not None
        self._connection.send((command, payload))

    def _read_events(self, process: BaseProcess, connection: Connection) -> None:
        while True:
            try:
                event: EngineEvent = connection.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # an unpicklable event: report, keep reading
                log.error("bad event from %s engine: %s", self.kind, exc)
                continue
            if event.kind.is_terminal:
                with self._lock:
                    self._running_jobs.pop(event.job_id, None)
            self._deliver(event)
        process.join(timeout=5)
        with self._lock:
            # a request may have started the next process already: only this process's jobs are orphaned
            orphaned = sorted(job_id for job_id, owner in self._running_jobs.items() if owner is process)
            for job_id in orphaned:
                del self._running_jobs[job_id]
            closing = self._closing and self._process is process
            if self._process is process:
                self._process = None
                self._connection = None
        connection.close()
        if closing:
            for job_id in orphaned:
                self._deliver(protocol.cancelled(job_id))
            return
        reason = describe_exit(process.exitcode)
        for job_id in orphaned:
            self._deliver(
                protocol.error(
                    job_id,
                    f"The {self.kind} engine process stopped unexpectedly ({reason}). "
                    "Your documents are safe; the next request starts a fresh engine.",
                    ErrorInfo.crash(process.exitcode),
                )
            )

    def _deliver(self, event: EngineEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("event callback failed for %s", event)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the engine process (politely, then by force)."""
        with self._lock:
            process, connection = self._process, self._connection
            self._closing = True
            if process is None:
                return
            if connection is not None:
                with contextlib.suppress(OSError):
                    connection.send((host.SHUTDOWN, None))
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(timeout)
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)

    def kill(self) -> None:
        """Kill the engine process abruptly (used by tests and by 'Restart engine')."""
        with self._lock:
            process = self._process
        if process is not None and process.is_alive():
            process.kill()
