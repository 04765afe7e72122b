"""The LLM model's lifecycle in the GUI: loading, status, crash handling and safe-mode retries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from studio.engines import llm_safe_mode
from studio.engines.protocol import EngineEvent, EventKind, new_job_id
from studio.engines.results import LoadResult
from studio.engines.text_requests import LoadModelRequest
from studio.models.default_model import DEFAULT_MODEL_NAME
from studio.models.registry import LLM, ModelRegistry
from studio.settings import Settings
from studio.ui.jobs import JobHandle, JobRunner
from studio.ui.model_status import ModelState, ModelStatus

SAFE_MODE_NOTICE_MS = 60_000
"""How long the status bar shows the notice after a crash was survived in safe mode."""


class ModelController(QObject):
    """Loads the active LLM model through ``runner`` and keeps :attr:`status` up to date.

    It is the runner's preload factory for the ``llm`` engine; a model that crashes the engine while loading
    is loaded once more in safe mode (:mod:`studio.engines.llm_safe_mode`), and one that crashes even then is
    not loaded again in this session.
    """

    error = Signal(str)
    """A failure to show the user."""
    notice = Signal(str, int)
    """A note for the status bar, and for how many milliseconds to show it."""
    models_changed = Signal()
    """The active model or the known models changed (menus listing them need rebuilding)."""

    def __init__(
        self,
        runner: JobRunner,
        models: ModelRegistry,
        settings: Callable[[], Settings],
        is_active: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.models = models
        self._settings = settings
        self._is_active = is_active  # False once the window closed (and stopped its engines)
        self.status = ModelStatus(self)
        self._previous_model_path = settings().model_path
        self.status.name = Path(settings().model_path).name or DEFAULT_MODEL_NAME
        self._model_job: JobHandle[LoadResult] | None = None
        self._safe_mode_models: set[str] = set()  # crashed while loading in this session: load in safe mode
        self._gave_up_models: dict[str, str] = {}  # crashed even in safe mode (path -> why): not reloaded
        self._safe_mode_notice = ""  # shown when the safe-mode load that follows a crash succeeds
        self.runner.set_preload("llm", self._make_load_request)
        self.runner.event_received.connect(self._on_engine_event)

    @property
    def settings(self) -> Settings:
        return self._settings()

    def start_engine(self) -> None:
        """Start the LLM engine process in the background (it loads the chosen model)."""
        self.runner.start_engine("llm")

    def load_request(self) -> LoadModelRequest:
        """A request to load the chosen model with the current context size and threads; in safe mode when
        the model crashed the engine on this machine before."""
        path = self.settings.model_path
        request = LoadModelRequest(
            new_job_id(),
            model_path=path,
            n_ctx=self.settings.context_size,
            n_threads=self.settings.threads,
            safe_mode=path in self._safe_mode_models,
        )
        return llm_safe_mode.with_safe_mode_if_remembered(request, llm_safe_mode.SafeModeStore())

    def _make_load_request(self) -> LoadModelRequest | None:
        why = self._gave_up_models.get(self.settings.model_path)
        if why is not None:
            # it crashed even in safe mode: a fresh engine process starts without it (no crash loop)
            self.error.emit(why)
            return None
        request = self.load_request()
        self._track_model_job(self.runner.track(request, "Loading model"))
        return request

    def _track_model_job(self, handle: JobHandle[LoadResult]) -> None:
        self._model_job = handle
        status = self.status
        status.state = ModelState.LOADING
        status.name = self._model_display_name(handle.request)
        status.progress = 0.0
        status.message = "Loading…"

        def on_progress(fraction: float | None, message: str) -> None:
            status.progress = fraction
            status.message = message

        def on_success(loaded: LoadResult) -> None:
            requested = getattr(handle.request, "model_path", "")
            if requested:
                self.models.record(
                    requested,
                    LLM,
                    name=loaded.model_name,
                    model_kind=loaded.model_kind,
                    architecture=loaded.architecture,
                )
                self.models_changed.emit()
            status.model_kind = loaded.model_kind
            status.model_path = loaded.model_path
            status.name = loaded.model_name or status.name
            status.progress = 1.0
            status.message = f"{loaded.model_kind} model, {loaded.n_ctx} tokens of context"
            if loaded.safe_mode:
                notice, self._safe_mode_notice = self._safe_mode_notice, ""
                status.message = notice or f"{status.message}. {llm_safe_mode.SAFE_MODE_REMEMBERED}"
                if notice:
                    self.notice.emit(notice, SAFE_MODE_NOTICE_MS)
            status.state = ModelState.READY

        def restart_in_safe_mode() -> None:
            if self._is_active():
                self.runner.start_engine("llm")

        def on_failure(message: str) -> None:
            event = handle.last_event
            request = handle.request
            if event is not None and isinstance(request, LoadModelRequest) and llm_safe_mode.is_crash(event):
                if llm_safe_mode.retry_after_crash(request, event, llm_safe_mode.SafeModeStore()) is not None:
                    # the engine died in the load (its warm-up decode): load once more, in safe mode
                    self._safe_mode_models.add(request.model_path)
                    self._safe_mode_notice = llm_safe_mode.SAFE_MODE_NOTICE
                    status.message = (
                        "The model crashed on this computer's processor; restarting in safe mode…"
                    )
                    QTimer.singleShot(0, self, restart_in_safe_mode)
                    return
                message = llm_safe_mode.crashed_in_safe_mode_message(event)
                self._gave_up_models[request.model_path] = message
            self.error.emit(message)
            info = event.error if event is not None else None
            if info is not None and info.model_kept:
                # the previous model still serves: keep using it
                self.settings.model_path = self._previous_model_path
                self.models_changed.emit()
                status.name = info.model_name or status.name
                status.message = message
                status.state = ModelState.READY
                return
            status.message = message
            status.state = ModelState.ERROR

        def on_cancelled() -> None:
            status.state = ModelState.NOT_LOADED

        handle.on_progress(on_progress).on_success(on_success).on_failure(on_failure).on_cancelled(
            on_cancelled
        )

    @staticmethod
    def _model_display_name(request: object) -> str:
        path = getattr(request, "model_path", "")
        return Path(path).name if path else DEFAULT_MODEL_NAME

    def load_model(self, path: str) -> None:
        """Make ``path`` (empty: the default model) the active model and load it."""
        self._previous_model_path = self.settings.model_path
        self.settings.model_path = path
        self.models_changed.emit()
        client = self.runner.client("llm")
        if client.is_alive:
            self._track_model_job(self.runner.run(self.load_request(), "Loading model"))
        else:
            self.runner.start_engine("llm")

    def _on_engine_event(self, event: EngineEvent) -> None:
        if event.kind is EventKind.ERROR and (
            self._model_job is None or event.job_id != self._model_job.job_id
        ):
            self.error.emit(event.text)
            if event.error is not None and event.error.engine_crashed:
                self.status.state = ModelState.NOT_LOADED
                self.status.message = "The engine stopped; it restarts with the next request."
