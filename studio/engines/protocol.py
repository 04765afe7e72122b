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
from dataclasses import dataclass
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
class ErrorInfo:
    """What an ``error`` event says beyond its message.

    ``engine_crashed``: the engine process died while the job ran. ``exitcode`` is then how it ended (negative:
    the signal), None when it did not exit (it stopped responding); ``exit_reported`` False means the client
    did not say how it ended (any death counts as a crash then). ``model_kept``: a failed load left the
    previous model (``model_name``) loaded and serving.
    """

    engine_crashed: bool = False
    exitcode: int | None = None
    exit_reported: bool = False
    model_kept: bool = False
    model_name: str = ""

    @classmethod
    def crash(cls, exitcode: int | None) -> ErrorInfo:
        """The engine process died with ``exitcode`` (None: it did not exit)."""
        return cls(engine_crashed=True, exitcode=exitcode, exit_reported=True)


@dataclass(frozen=True, slots=True)
class StartInfo:
    """What a ``started`` event says about its job; each engine fills the fields that apply to it.

    A model load names its ``model_path`` (empty: the default model); a completion the number of
    ``prompt_tokens`` it evaluates and whether it ``used_fim`` (fill-in-the-middle); a chat the loaded model's
    ``model_kind`` (``instruct`` or ``base``); an image job its ``image_mode`` and ``candidates``.
    """

    model_path: str = ""
    prompt_tokens: int = 0
    used_fim: bool = False
    model_kind: str = ""
    image_mode: str = ""
    candidates: int = 0


@dataclass(frozen=True, slots=True)
class StepInfo:
    """Where a diffusion job stands, on its ``progress`` and ``preview`` events: denoising step ``step`` of
    ``steps`` (1-based) of candidate ``candidate`` (0-based). A step preview says how it was made
    (``preview_kind``: ``latent`` or ``taesd``); a ``final`` preview is a finished candidate, made from
    ``seed``."""

    step: int = 0
    steps: int = 0
    candidate: int = 0
    preview_kind: str = ""
    final: bool = False
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One event of a job.

    ``text`` holds the new text of a ``tokens`` event and the message of ``error``/``progress`` events;
    ``progress`` is 0..1 or None when unknown; ``image`` is PNG bytes for previews and image results;
    ``result`` is a ``result`` event's typed result (the type its request declares; None for requests without
    one) and a ``cancelled`` event's partial result (what the job finished before it stopped, same type; None
    when nothing). The typed extras: ``start`` on ``started`` events, ``step`` on a diffusion job's progress
    and previews, ``error`` on every ``error`` event.
    """

    kind: EventKind
    job_id: str
    text: str = ""
    progress: float | None = None
    image: bytes | None = None
    result: Any = None
    start: StartInfo | None = None
    step: StepInfo | None = None
    error: ErrorInfo | None = None


def started(job_id: str, info: StartInfo | None = None) -> EngineEvent:
    return EngineEvent(EventKind.STARTED, job_id, start=info or StartInfo())


def progress(
    job_id: str, fraction: float | None, message: str = "", step: StepInfo | None = None
) -> EngineEvent:
    return EngineEvent(EventKind.PROGRESS, job_id, text=message, progress=fraction, step=step)


def tokens(job_id: str, text: str) -> EngineEvent:
    return EngineEvent(EventKind.TOKENS, job_id, text=text)


def preview(
    job_id: str, png: bytes, fraction: float | None = None, step: StepInfo | None = None
) -> EngineEvent:
    return EngineEvent(EventKind.PREVIEW, job_id, progress=fraction, image=png, step=step)


def result(job_id: str, value: Any = None, *, text: str = "", image: bytes | None = None) -> EngineEvent:
    """A job's result event; ``value`` is its typed result (see :mod:`studio.engines.results`)."""
    return EngineEvent(EventKind.RESULT, job_id, text=text, image=image, result=value)


def error(job_id: str, message: str, info: ErrorInfo | None = None) -> EngineEvent:
    """A job's error event: ``message`` is for the user, ``info`` says more (see :class:`ErrorInfo`)."""
    return EngineEvent(EventKind.ERROR, job_id, text=message, error=info or ErrorInfo())


def cancelled(job_id: str, partial: Any = None) -> EngineEvent:
    """A job's cancelled event; ``partial`` is what it finished before it stopped (its result type) or None."""
    return EngineEvent(EventKind.CANCELLED, job_id, result=partial)


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
    # model files: inspect (header check + SHA-256) and hub downloads, each kind in its own process
    "models": "studio.models.service:ModelFilesEngine",
    "downloads": "studio.models.service:ModelFilesEngine",
    # no model: streams given tokens, fails or crashes on request, for fast tests of the plumbing
    "fake": "studio.testing.fake_engine:FakeEngine",
}
