"""Ghost-text continuations for the Write workspace, from the LLM engine."""

from __future__ import annotations

from collections.abc import Callable

from studio.engines.protocol import new_job_id
from studio.engines.text_requests import CompletionRequest
from studio.settings import Settings
from studio.ui.jobs import JobHandle, JobRunner


class EngineContinuationProvider:
    """Ghost-text continuations from the LLM engine, for the Write workspace's editors."""

    def __init__(self, runner: JobRunner, settings: Callable[[], Settings]) -> None:
        self._runner = runner
        self._settings = settings

    def start_continuation(
        self,
        prefix: str,
        suffix: str,
        on_tokens: Callable[[str], None],
        on_finished: Callable[[], None],
        on_failed: Callable[[str], None],
    ) -> JobHandle:
        settings = self._settings()
        request = CompletionRequest(
            new_job_id(),
            prompt=prefix,
            suffix=suffix,
            max_tokens=settings.suggestion_max_tokens,
            temperature=settings.temperature,
            stop=("\n\n",),
        )
        return (
            self._runner.run(request, "Suggesting")
            .on_tokens(on_tokens)
            .on_success(lambda _result: on_finished())
            .on_failure(on_failed)
        )
