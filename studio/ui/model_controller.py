"""The LLM model's lifecycle in the GUI: loading, status, crash handling and safe-mode retries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from studio.engines import llm_safe_mode
from studio.engines.protocol import EngineEvent, EngineRequest, EventKind, new_job_id
from studio.engines.remote_requests import ConnectServerRequest, ServerUrlError, parse_server_url
from studio.engines.results import LoadResult, ServerLoadResult
from studio.engines.text_requests import LoadModelRequest
from studio.models.default_model import DEFAULT_MODEL_NAME
from studio.models.fit import Verdict, check_fit
from studio.models.model_settings import CHAT_TEMPLATE, Sampling, clean_settings, sampling_for
from studio.models.registry import LLM, ModelRegistry
from studio.models.servers import ServerChoice, record_server
from studio.settings import Settings
from studio.ui.dialogs import Dialogs
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
        dialogs: Dialogs | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.models = models
        self._settings = settings
        self._dialogs = dialogs  # asks "load anyway?" for a model too big for the free memory
        saved = settings()
        # serving from this server instead of a local model; remembered in the settings across restarts
        self._server: ServerChoice | None = (
            ServerChoice(saved.server_url, saved.server_api_key_env, saved.server_model)
            if saved.server_url
            else None
        )
        self._previous_server: ServerChoice | None = None
        self._is_active = is_active  # False once the window closed (and stopped its engines)
        self.status = ModelStatus(self)
        self._previous_model_path = settings().model_path
        self.status.name = (
            self._server.status_name
            if self._server is not None
            else Path(settings().model_path).name or DEFAULT_MODEL_NAME
        )
        self._model_job: JobHandle[Any] | None = None
        self._safe_mode_models: set[str] = set()  # crashed while loading in this session: load in safe mode
        self._gave_up_models: dict[str, str] = {}  # crashed even in safe mode (path -> why): not reloaded
        self._safe_mode_notice = ""  # shown when the safe-mode load that follows a crash succeeds
        self.runner.set_preload("llm", self._make_load_request)
        self.runner.event_received.connect(self._on_engine_event)

    @property
    def settings(self) -> Settings:
        return self._settings()

    @property
    def server(self) -> ServerChoice | None:
        """The server serving instead of a local model (None: the local model ``settings.model_path``)."""
        return self._server

    @server.setter
    def server(self, choice: ServerChoice | None) -> None:
        self._server = choice
        settings = self.settings
        settings.server_url = choice.url if choice is not None else ""
        settings.server_api_key_env = choice.api_key_env if choice is not None else ""
        settings.server_model = choice.model if choice is not None else ""

    def start_engine(self) -> None:
        """Start the LLM engine process in the background (it loads the chosen model)."""
        self.runner.start_engine("llm")

    def sampling(self) -> Sampling:
        """How suggestions, rewrites and the assistant sample: the active local model's stored settings
        (Models window) when it has some, else the global temperature."""
        path = self.settings.model_path
        entry = self.models.get(path) if self.server is None and path else None
        return sampling_for(entry, self.settings.temperature)

    def load_request(self) -> LoadModelRequest | ConnectServerRequest:
        """A request to connect to the chosen server, or to load the chosen model with its context size and
        threads (its own settings when the Models window stored some, else the global ones) and its chat template
        override; in safe mode when
        the model crashed the engine on this machine before."""
        if self.server is not None:
            return self.server.request(new_job_id())
        path = self.settings.model_path
        n_ctx, n_threads = self.settings.context_size, self.settings.threads
        chat_template = ""
        entry = self.models.get(path) if path else None
        if entry is not None and entry.engine == LLM and entry.settings:
            own = clean_settings(entry)
            n_ctx, n_threads = int(own["context"]), int(own["threads"])
            chat_template = str(own[CHAT_TEMPLATE])
        request = LoadModelRequest(
            new_job_id(),
            model_path=path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            safe_mode=path in self._safe_mode_models,
            chat_template=chat_template,
        )
        return llm_safe_mode.with_safe_mode_if_remembered(request, llm_safe_mode.SafeModeStore())

    def _make_load_request(self) -> LoadModelRequest | ConnectServerRequest | None:
        why = None if self.server is not None else self._gave_up_models.get(self.settings.model_path)
        if why is not None:
            # it crashed even in safe mode: a fresh engine process starts without it (no crash loop)
            self.error.emit(why)
            return None
        request = self.load_request()
        generic: EngineRequest[Any] = request
        self._track_model_job(self.runner.track(generic, self._job_label(request)))
        return request

    @staticmethod
    def _job_label(request: object) -> str:
        return "Connecting to server" if isinstance(request, ConnectServerRequest) else "Loading model"

    def _track_model_job(self, handle: JobHandle[Any]) -> None:
        self._model_job = handle
        status = self.status
        status.state = ModelState.LOADING
        status.name = self._model_display_name(handle.request)
        status.progress = 0.0
        status.message = "Connecting…" if isinstance(handle.request, ConnectServerRequest) else "Loading…"

        def on_progress(fraction: float | None, message: str) -> None:
            status.progress = fraction
            status.message = message

        def on_success(loaded: LoadResult) -> None:
            if isinstance(loaded, ServerLoadResult):
                self._server_ready(loaded)
                return
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
                # the previous model (or server) still serves: keep using it
                self.server = self._previous_server
                self.settings.model_path = self._previous_model_path
                self.models_changed.emit()
                previous = self.server.status_name if self.server is not None else info.model_name
                status.name = previous or status.name
                status.message = message
                status.state = ModelState.READY
                return
            if isinstance(request, ConnectServerRequest):
                self.server = None  # the next engine start loads the local model again
                self.models_changed.emit()
            status.message = message
            status.state = ModelState.ERROR

        def on_cancelled() -> None:
            status.state = ModelState.NOT_LOADED

        handle.on_progress(on_progress).on_success(on_success).on_failure(on_failure).on_cancelled(
            on_cancelled
        )

    def _server_ready(self, loaded: ServerLoadResult) -> None:
        status = self.status
        server = self.server
        if server is not None:
            server = server.connected_to(loaded.model_name)
            self.server = server
            record_server(self.models, server, loaded.models, loaded.model_kind)
            self.models_changed.emit()
        status.model_kind = loaded.model_kind
        status.model_path = loaded.model_path
        status.name = server.status_name if server is not None else loaded.model_name
        status.progress = 1.0
        context = f", {loaded.n_ctx} tokens of context" if loaded.n_ctx else ""
        status.message = (
            f"{loaded.model_kind} model on {loaded.server_kind} server {loaded.server_url}{context}"
        )
        status.state = ModelState.READY

    @staticmethod
    def _model_display_name(request: object) -> str:
        if isinstance(request, ConnectServerRequest):
            return ServerChoice(request.url, request.api_key_env, request.model).status_name
        path = getattr(request, "model_path", "")
        return Path(path).name if path else DEFAULT_MODEL_NAME

    def load_model(self, path: str) -> None:
        """Make ``path`` (empty: the default model) the active model and load it (leaving a server)."""
        self._previous_model_path = self.settings.model_path
        self._previous_server = self.server
        self.server = None
        self.settings.model_path = path
        self._send_load()

    def reload(self) -> None:
        """Load the active model (or connect to the active server) again, e.g. after its settings changed."""
        if self.server is not None:
            self.connect_server(self.server.url, self.server.api_key_env, self.server.model)
        else:
            self.load_model(self.settings.model_path)

    def load_model_checked(self, path: str) -> bool:
        """:meth:`load_model`, after asking "load anyway?" (through the dialogs) when a registered model looks
        too big for the memory free now; False when the user declined."""
        entry = self.models.get(path) if path else None
        if entry is not None and entry.engine == LLM and self._dialogs is not None:
            fit = check_fit(entry)
            if fit.verdict is Verdict.TOO_BIG and not self._dialogs.load_too_big(
                entry.display_name, fit.message
            ):
                return False
        self.load_model(path)
        return True

    def connect_server(self, url: str, api_key_env: str = "", model: str = "") -> bool:
        """Serve completions and chats from the OpenAI-compatible server at ``url`` (``model``: one of its
        models, empty: the first it lists) instead of a local model, through the same engine as a local load.
        False (and an error) when ``url`` is no usable server URL."""
        try:
            address = parse_server_url(url)
        except ServerUrlError as exc:
            self.error.emit(str(exc))
            return False
        self._previous_model_path = self.settings.model_path
        self._previous_server = self.server
        self.server = ServerChoice(address.url, api_key_env.strip(), model.strip())
        self._send_load()
        return True

    def _send_load(self) -> None:
        self.models_changed.emit()
        client = self.runner.client("llm")
        if client.is_alive:
            request: EngineRequest[Any] = self.load_request()
            self._track_model_job(self.runner.run(request, self._job_label(request)))
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
