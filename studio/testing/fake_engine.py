"""A tiny engine for tests of the engine plumbing (host, client, job runner): no model, runs in milliseconds.

It streams the tokens it is given, honours cancel between tokens, and on request fails, raises an engine bug
or kills its own process. It stands in for the plumbing only: what the real engines do is tested on them.
Registered as engine kind ``"fake"`` in :data:`studio.engines.protocol.ENGINE_FACTORIES`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from studio.engines import protocol
from studio.engines.protocol import CancelToken, EngineError, EngineEvent, EngineRequest

KIND = "fake"
HOLD_LIMIT_S = 60.0
"""How long a ``hold`` job waits for its cancel before it gives up (so a broken test cannot hang forever)."""


@dataclass(frozen=True, slots=True)
class FakeResult:
    """A finished fake job: its joined ``text``, the engine process's ``pid`` and how many ``jobs`` that
    engine has run (1 on a fresh process)."""

    text: str
    pid: int
    jobs: int


@dataclass(frozen=True, slots=True)
class FakeRequest(EngineRequest[FakeResult]):
    """Stream ``tokens``, then end as asked.

    ``hold``: after the tokens, wait until the job is cancelled. ``fail``: end with this :class:`EngineError`
    message. ``bug``: raise a ``RuntimeError`` (an engine bug). ``crash_after``: kill the engine process after
    that many tokens. ``finish``: send the result event (else the host ends the job). ``delay_s``: pause
    before each token.
    """

    engine_kind: ClassVar[str] = KIND
    tokens: tuple[str, ...] = ()
    hold: bool = False
    fail: str = ""
    bug: bool = False
    crash_after: int | None = None
    finish: bool = True
    delay_s: float = 0.0


def kill_this_process() -> None:
    """End the current process at once, the way a crash in native model code would (no core file)."""
    if hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(70)  # Windows: no SIGKILL


class FakeEngine:
    """The engine of kind ``"fake"``; its results (:class:`FakeResult`) name the engine process."""

    def __init__(self) -> None:
        self.jobs = 0

    def handle(self, request: EngineRequest[Any], cancel: CancelToken) -> Iterator[EngineEvent]:
        if not isinstance(request, FakeRequest):
            raise EngineError(f"the fake engine cannot run a {type(request).__name__}")
        self.jobs += 1
        job_id, pid = request.job_id, os.getpid()
        yield protocol.started(job_id)
        for index, text in enumerate(request.tokens):
            if request.crash_after == index:
                kill_this_process()
            if request.delay_s:
                time.sleep(request.delay_s)
            if cancel.is_cancelled:
                yield protocol.cancelled(job_id)
                return
            yield protocol.tokens(job_id, text)
        if request.crash_after is not None:
            kill_this_process()
        if request.hold:
            deadline = time.monotonic() + HOLD_LIMIT_S
            while not cancel.is_cancelled and time.monotonic() < deadline:
                time.sleep(0.005)
            yield protocol.cancelled(job_id)
            return
        if request.fail:
            raise EngineError(request.fail)
        if request.bug:
            raise RuntimeError("a bug in the fake engine")
        if request.finish:
            text = "".join(request.tokens)
            yield protocol.result(job_id, FakeResult(text, pid, self.jobs), text=text)

    def close(self) -> None:
        pass
