"""Ghost-text continuations for the Write workspace, from the LLM engine, with the document's story notes.

The prompt is assembled by :func:`studio.writing.context.assemble_prompt` (memory on top, glossary entries
and the author's note a few lines before the cursor, the document's start cut when it does not fit), so its
head stays the same while the writer types and the engine keeps reusing its cached prefix.

:meth:`EngineContinuationProvider.warm` evaluates a prompt ahead of time (a one-token completion) so the
first suggestion in a freshly opened long document only evaluates what changed since. A suggestion, or any other
job submitted to the LLM engine (the assistant, a rewrite, a model load), cancels a running warm-up, and a warm-up
never starts while another LLM job runs; what a cancelled warm-up evaluated so far stays cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from studio.engines.protocol import EngineEvent, EventKind, new_job_id
from studio.engines.results import CompletionResult
from studio.engines.text_requests import CompletionRequest
from studio.models.model_settings import Sampling
from studio.settings import Settings
from studio.ui.jobs import JobHandle, JobRunner
from studio.writing.context import AssembledPrompt, assemble_prompt, prompt_budget
from studio.writing.story_notes import StoryNotes

log = logging.getLogger(__name__)

STOP = ("\n\n",)


class EngineContinuationProvider(QObject):
    """Ghost-text continuations from the LLM engine, for the Write workspace's editors.

    ``notes()`` gives the story notes of the document being continued (the current one; default none) and
    ``context_tokens()`` the loaded model's context size (default: the setting).
    """

    prompt_assembled = Signal(object)
    """An :class:`AssembledPrompt` was sent to the engine for a suggestion."""
    result_ready = Signal(object)
    """A suggestion finished: its :class:`CompletionResult`."""
    warm_up_finished = Signal(object)
    """A warm-up finished: its :class:`CompletionResult`."""

    def __init__(
        self,
        runner: JobRunner,
        settings: Callable[[], Settings],
        notes: Callable[[], StoryNotes] | None = None,
        context_tokens: Callable[[], int] | None = None,
        parent: QObject | None = None,
        sampling: Callable[[], Sampling] | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._settings = settings
        # the active model's sampling settings (default: the global temperature)
        self._sampling = sampling or (lambda: Sampling(temperature=self._settings().temperature))
        self._notes: Callable[[], StoryNotes] = notes or StoryNotes
        self._context_tokens = context_tokens
        self._request: JobHandle[CompletionResult] | None = None
        self._warm_up: JobHandle[CompletionResult] | None = None
        self._warm_text = ""
        self._own_jobs: set[str] = set()
        self.last_prompt: AssembledPrompt | None = None
        self.last_result: CompletionResult | None = None
        self.last_warm_up: CompletionResult | None = None
        runner.event_received.connect(self._on_engine_event)
        runner.jobs_changed.connect(self._on_jobs_changed)

    def set_notes_source(self, notes: Callable[[], StoryNotes]) -> None:
        """Where the current document's story notes come from."""
        self._notes = notes

    def set_context_tokens_source(self, context_tokens: Callable[[], int] | None) -> None:
        """Where the loaded model's context size comes from (None: the context size setting)."""
        self._context_tokens = context_tokens

    def budget(self) -> int:
        """The estimated tokens a suggestion's prompt may take."""
        settings = self._settings()
        context = self._context_tokens() if self._context_tokens is not None else settings.context_size
        return prompt_budget(context, settings.suggestion_max_tokens)

    def assemble(self, prefix: str, suffix: str, notes: StoryNotes | None = None) -> AssembledPrompt:
        """The prompt a suggestion at this cursor gets (what the model sees)."""
        return assemble_prompt(prefix, suffix, self._notes() if notes is None else notes, self.budget())

    def start_continuation(
        self,
        prefix: str,
        suffix: str,
        on_tokens: Callable[[str], None],
        on_finished: Callable[[], None],
        on_failed: Callable[[str], None],
        seed: int | None = None,
    ) -> JobHandle[CompletionResult]:
        """Stream a continuation of ``prefix`` (see :class:`studio.ui.write.ghost_text.ContinuationProvider`);
        ``seed`` makes it reproducible (alternatives)."""
        self.cancel_warm_up()
        settings = self._settings()
        sampling = self._sampling()
        prompt = self.assemble(prefix, suffix)
        request = CompletionRequest(
            new_job_id(),
            prompt=prompt.text,
            suffix=suffix,
            max_tokens=settings.suggestion_max_tokens,
            temperature=sampling.temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            seed=seed,
            stop=STOP,
        )
        self.last_prompt = prompt
        self._warm_text = prompt.text
        self.prompt_assembled.emit(prompt)
        handle = self._run(request, "Suggesting")
        self._request = handle
        return (
            handle.on_tokens(on_tokens)
            .on_success(lambda result: self._finished(result, on_finished))
            .on_failure(on_failed)
        )

    def _run(self, request: CompletionRequest, label: str) -> JobHandle[CompletionResult]:
        self._own_jobs.add(request.job_id)
        handle = self._runner.run(request, label)
        return handle.on_finished(lambda ended: self._own_jobs.discard(ended.job_id))

    def _finished(self, result: CompletionResult, on_finished: Callable[[], None]) -> None:
        self.last_result = result
        self.result_ready.emit(result)
        on_finished()

    # -- warming the cache -----------------------------------------------------------------------------------

    @property
    def warming(self) -> bool:
        """True while a warm-up runs."""
        return self._warm_up is not None and not self._warm_up.is_done

    def warm(self, prefix: str, suffix: str = "") -> JobHandle[CompletionResult] | None:
        """Evaluate the prompt a suggestion at this cursor would get, in the background, so that suggestion
        only evaluates what changed since. Returns None when nothing needs doing or it would be in the way:
        another LLM job runs, or the engine already holds this prompt (the last one sent starts with it)."""
        if any(handle.request.engine_kind == "llm" for handle in self._runner.running_jobs):
            return None
        prompt = self.assemble(prefix, suffix)
        if not prompt.text.strip() or self._warm_text.startswith(prompt.text):
            return None
        self.cancel_warm_up()
        sampling = self._sampling()
        request = CompletionRequest(
            new_job_id(),
            prompt=prompt.text,
            suffix=suffix,
            max_tokens=1,
            temperature=sampling.temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            stop=STOP,
        )
        self._warm_text = prompt.text
        handle = self._run(request, "Warming up")
        self._warm_up = handle
        handle.on_success(self._warmed).on_failure(lambda message: self._warm_failed(handle, message))
        handle.on_cancelled(lambda: self._warm_failed(handle, "cancelled"))
        return handle

    def cancel_warm_up(self) -> None:
        """Stop a running warm-up (what it evaluated so far stays cached)."""
        if self._warm_up is not None:
            self._warm_up.cancel()
            self._warm_up = None

    def _on_jobs_changed(self) -> None:
        warm_up = self._warm_up
        if warm_up is None or warm_up.is_done:
            return
        for handle in self._runner.running_jobs:
            if handle.request.engine_kind == "llm" and handle is not warm_up:
                self.cancel_warm_up()  # another job for the engine (the assistant, a rewrite) goes first
                return

    def _on_engine_event(self, event: EngineEvent) -> None:
        if event.kind is not EventKind.STARTED or event.job_id in self._own_jobs:
            return
        handle = self._runner.handle(event.job_id)
        if handle is not None and handle.request.engine_kind == "llm":
            self._warm_text = ""  # another job (the assistant, a rewrite) replaced the engine's cached prompt

    def _warmed(self, result: CompletionResult) -> None:
        self.last_warm_up = result
        self.warm_up_finished.emit(result)

    def _warm_failed(self, handle: JobHandle[CompletionResult], message: str) -> None:
        log.debug("warm-up ended early: %s", message)
        if self._warm_up is handle:  # not cancelled by a newer request: its prompt is not (all) in the cache
            self._warm_up = None
            self._warm_text = ""
