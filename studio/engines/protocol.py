"""The one protocol every engine speaks: a request in, a stream of typed events out.

Requests and events are plain picklable dataclasses; every event carries the id of its job. An engine is a
generator of events that checks its :class:`CancelToken` between yields. A request class names the type of its
job's result (``EngineRequest[ResultT]``, the dataclasses of :mod:`studio.engines.results`); the ``result``
event carries that object in ``EngineEvent.result``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

ResultT = TypeVar("ResultT")


class EventKind(StrEnum):
    """What happened to a job."""

    STARTED = "started"
    PROGRESS = "progress"
    TOKENS = "tokens"
    PREVIEW = "preview"
    RESULT = "result"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for the last event a job sends (result, error or cancelled)."""
        return self in (EventKind.RESULT, EventKind.ERROR, EventKind.CANCELLED)


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One event of a job.

    ``text`` holds the new text of a ``tokens`` event and the message of ``error``/``progress`` events;
    ``progress`` is 0..1 or None when unknown; ``image`` is PNG bytes for previews and image results;
    ``result`` is a ``result`` event's typed result (the type its request declares; None for requests without
    one); ``data`` carries the loose extras of other events (a preview's step, an error's ``engine_crashed``,
    the candidates a cancelled image job finished; plain picklable values only).
    """

    kind: EventKind
    job_id: str
    text: str = ""
    progress: float | None = None
    image: bytes | None = None
    data: dict[str, Any] = field(default_factory=dict)
    result: Any = None


def started(job_id: str, **data: Any) -> EngineEvent:
    return EngineEvent(EventKind.STARTED, job_id, data=data)


def progress(job_id: str, fraction: float | None, message: str = "", **data: Any) -> EngineEvent:
    return EngineEvent(EventKind.PROGRESS, job_id, text=message, progress=fraction, data=data)


def tokens(job_id: str, text: str) -> EngineEvent:
    return EngineEvent(EventKind.TOKENS, job_id, text=text)


def preview(job_id: str, png: bytes, fraction: float | None = None, **data: Any) -> EngineEvent:
    return EngineEvent(EventKind.PREVIEW, job_id, progress=fraction, image=png, data=data)


def result(
    job_id: str, value: Any = None, *, text: str = "", image: bytes | None = None, **data: Any
) -> EngineEvent:
    """A job's result event; ``value`` is its typed result (see :mod:`studio.engines.results`)."""
    return EngineEvent(EventKind.RESULT, job_id, text=text, image=image, data=data, result=value)


def error(job_id: str, message: str, **data: Any) -> EngineEvent:
    return EngineEvent(EventKind.ERROR, job_id, text=message, data=data)


def cancelled(job_id: str, **data: Any) -> EngineEvent:
    return EngineEvent(EventKind.CANCELLED, job_id, data=data)


def new_job_id() -> str:
    """A fresh, unique job id."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class EngineRequest(Generic[ResultT]):
    """Base of all requests. ``engine_kind`` names the engine process that serves it; ``ResultT`` is the type of
    its job's result (``EngineEvent.result``)."""

    engine_kind: ClassVar[str] = ""
    job_id: str


class CancelToken:
    """Set from any thread; checked by engines between steps (and by llama.cpp's abort callback)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def is_cancelled(self) -> bool:
        return self._event.is_set()


class JobCancelled(Exception):
    """Raised inside an engine to stop a job at once; the host turns it into a ``cancelled`` event."""


class EngineError(Exception):
    """A failure with a message meant for the user (bad model file, bad input)."""


class Engine(Protocol):
    """An engine: turns each request into a stream of events. Not required to be thread-safe."""

    def handle(self, request: EngineRequest[Any], cancel: CancelToken) -> Iterator[EngineEvent]: ...

    def close(self) -> None: ...


# Engine kinds and where their implementation lives; resolved only inside the engine process, so the GUI
# process never imports model code.
ENGINE_FACTORIES: dict[str, str] = {
    "llm": "studio.engines.llm:LlmEngine",
    "diffusion": "studio.engines.diffusion:DiffusionEngine",
    # no model: streams given tokens, fails or crashes on request, for fast tests of the plumbing
    "fake": "studio.testing.fake_engine:FakeEngine",
}
