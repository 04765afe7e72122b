"""The engine process: receives requests over a pipe, runs them on a worker thread, sends events back.

This module is the ``target`` of a process started with the *spawn* method; the GUI never imports the
engine implementations, only this host does, inside the engine process.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

from studio.engines import protocol
from studio.engines.protocol import (
    CancelToken,
    Engine,
    EngineError,
    EngineEvent,
    EngineRequest,
    JobCancelled,
)

log = logging.getLogger(__name__)

# Messages from client to host: ("run", request) | ("cancel", job_id) | ("shutdown", None)
RUN = "run"
CANCEL = "cancel"
SHUTDOWN = "shutdown"


def create_engine(kind: str) -> Engine:
    """Import and instantiate the engine of ``kind`` (only ever called inside the engine process)."""
    target = protocol.ENGINE_FACTORIES.get(kind)
    if target is None:
        raise ValueError(f"unknown engine kind: {kind!r}")
    module_name, _, class_name = target.partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class()
    return engine


def run_job(engine: Engine, request: EngineRequest, cancel: CancelToken) -> Any:
    """Run one request to its end, yielding events; exceptions become ``error``/``cancelled`` events."""
    job_id = request.job_id
    if cancel.is_cancelled:
        yield protocol.cancelled(job_id)
        return
    try:
        ended = False
        for event in engine.handle(request, cancel):
            yield event
            if event.kind.is_terminal:
                ended = True
                break
        if not ended:
            yield protocol.cancelled(job_id) if cancel.is_cancelled else protocol.result(job_id)
    except JobCancelled:
        yield protocol.cancelled(job_id)
    except EngineError as exc:
        yield protocol.error(job_id, str(exc))
    except MemoryError:
        yield protocol.error(job_id, "Out of memory while running this job.")
    except Exception as exc:  # an engine bug must not kill the process: report it
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        yield protocol.error(job_id, f"{type(exc).__name__}: {exc}")


class EngineHost:
    """Serves one engine in the current process: a reader loop and one worker thread."""

    def __init__(self, kind: str, connection: Connection) -> None:
        self.kind = kind
        self._connection = connection
        self._send_lock = threading.Lock()
        self._requests: queue.Queue[EngineRequest | None] = queue.Queue()
        self._tokens: dict[str, CancelToken] = {}
        self._tokens_lock = threading.Lock()
        self._engine: Engine | None = None

    def send(self, event: EngineEvent) -> None:
        with self._send_lock:
            self._connection.send(event)

    def _token_for(self, job_id: str) -> CancelToken:
        with self._tokens_lock:
            return self._tokens.setdefault(job_id, CancelToken())

    def _worker(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                return
            cancel = self._token_for(request.job_id)
            try:
                if self._engine is None:
                    self._engine = create_engine(self.kind)
                for event in run_job(self._engine, request, cancel):
                    self.send(event)
            except (BrokenPipeError, EOFError, OSError):
                return
            except Exception as exc:
                self.send(protocol.error(request.job_id, f"The {self.kind} engine failed to start: {exc}"))
            finally:
                with self._tokens_lock:
                    self._tokens.pop(request.job_id, None)

    def serve(self) -> None:
        """Run until the client says shutdown or goes away."""
        worker = threading.Thread(target=self._worker, name=f"{self.kind}-engine-worker", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    command, payload = self._connection.recv()
                except (EOFError, OSError):
                    break
                if command == RUN:
                    self._token_for(payload.job_id)
                    self._requests.put(payload)
                elif command == CANCEL:
                    with self._tokens_lock:
                        token = self._tokens.get(payload)
                    if token is not None:
                        token.cancel()
                elif command == SHUTDOWN:
                    break
        finally:
            with self._tokens_lock:
                for token in self._tokens.values():
                    token.cancel()
            self._requests.put(None)
            worker.join(timeout=5)
            if self._engine is not None:
                self._engine.close()


def engine_process_main(kind: str, connection: Connection, log_level: int = logging.WARNING) -> None:
    """Entry point of an engine process."""
    logging.basicConfig(level=log_level, format=f"[{kind} engine] %(levelname)s %(name)s: %(message)s")
    EngineHost(kind, connection).serve()
