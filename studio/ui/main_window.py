"""Studio's main window: the Write and Canvas workspaces, menus, and the status bar."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QToolButton,
    QWidget,
)

from studio.canvas.errors import CanvasError
from studio.canvas.image_io import CANVAS_SUFFIXES
from studio.canvas.png_metadata import GenerationInfo
from studio.documents.text_document import ChangedOnDiskError, DocumentError
from studio.engines.protocol import EngineEvent
from studio.models.default_model import DEFAULT_MODEL_NAME
from studio.models.model_settings import stored_image_settings, stored_precision
from studio.models.registry import DIFFUSION, LLM, ModelRegistry
from studio.models.servers import recent_servers, server_choice
from studio.settings import Settings, load_settings, save_settings
from studio.ui.actions import WorkspaceActions, make_action
from studio.ui.canvas.candidates_strip import CandidatesStrip
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.canvas.generation_controller import GenerationController
from studio.ui.canvas.live_mode import LiveMode
from studio.ui.canvas.upscale_controller import UpscaleController
from studio.ui.canvas.workspace import DEFAULT_CANVAS_SIZE, CanvasWorkspace
from studio.ui.dialogs import Dialogs, QtDialogs, UnsavedChoice
from studio.ui.jobs import JobHandle, JobRunner
from studio.ui.model_controller import ModelController
from studio.ui.model_status import ModelState
from studio.ui.models_window import ModelsWindow
from studio.ui.settings_dialog import SettingsDialog
from studio.ui.write.assistant_panel import AssistantDock, AssistantPanel
from studio.ui.write.continuation import EngineContinuationProvider
from studio.ui.write.export import ExportError
from studio.ui.write.illustrate import IllustrateDialog, illustrate_shortcut
from studio.ui.write.prompt_view import PromptView
from studio.ui.write.recent_files import LIST_ENTRY, RecentFilesMenu, forget, remember
from studio.ui.write.rewrite import EngineRewriteProvider
from studio.ui.write.story_notes_panel import StoryNotesController, StoryNotesDock
from studio.ui.write.token_choices import EngineTokenChoicesProvider
from studio.ui.write.warm_up import CacheWarmer
from studio.ui.write.workspace import (
    DEFAULT_FONT_SIZE,
    MAX_FONT_SIZE,
    MIN_FONT_SIZE,
    WriteWorkspace,
    default_editor_font,
)
from studio.ui.write.write_status import WriteStatus

log = logging.getLogger(__name__)

MAX_RECENT_MODELS = 9
WRITE_INDEX, CANVAS_INDEX = 0, 1


def mark_list_entry(action: QAction) -> None:
    """Mark ``action`` as an entry of a list in a menu (see :data:`LIST_ENTRY`)."""
    action.setProperty(LIST_ENTRY, True)


def set_shortcut(action: QAction, keys: str) -> None:
    """Give ``action`` the shortcut ``keys`` and say it in its tool tip."""
    action.setShortcut(QKeySequence(keys))
    native = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{action.statusTip() or action.text().replace('&', '')} ({native})")


class JobStatusWidget(QWidget):
    """Status bar part showing the running job: label, progress bar and Cancel."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setAccessibleName("Running job")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Job progress")
        self.progress.setFixedWidth(140)
        self.progress.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setAccessibleName("Cancel the running job")
        self.cancel_button.setToolTip("Cancel the running job (Ctrl+.)")
        self.cancel_button.clicked.connect(self.cancel_current)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button)
        self._current: JobHandle | None = None
        runner.jobs_changed.connect(self.refresh)
        runner.event_received.connect(self._on_event)
        self.refresh()

    @property
    def current(self) -> JobHandle | None:
        return self._current

    def cancel_current(self) -> None:
        if self._current is not None:
            self._current.cancel()

    def _on_event(self, event: EngineEvent) -> None:
        if self._current is not None and event.job_id == self._current.job_id:
            self._show_progress(self._current)

    def _show_progress(self, handle: JobHandle) -> None:
        if handle.progress is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(round(handle.progress * 100))
        self.label.setText(handle.message or handle.label)

    def refresh(self) -> None:
        running = self._runner.running_jobs
        self._current = running[-1] if running else None
        self.setVisible(self._current is not None)
        if self._current is not None:
            self._show_progress(self._current)


class MainWindow(QMainWindow):
    """The application window. Every question to the user goes through ``dialogs`` (real dialogs by default;
    tests pass :class:`~studio.ui.dialogs.ScriptedDialogs`), shared with the workspaces and panels."""

    def __init__(self, settings: Settings | None = None, dialogs: Dialogs | None = None) -> None:
        super().__init__()
        self.dialogs: Dialogs = dialogs if dialogs is not None else QtDialogs(self)
        self.settings = settings if settings is not None else load_settings()
        self.setWindowTitle("Studio")
        self.setAccessibleName("Studio")
        self.resize(1100, 750)
        self.runner = JobRunner(self)
        self.models = ModelRegistry()
        self._models_window: ModelsWindow | None = None
        self._current_document_index = 0
        # not after the window closed (and stopped its engines): no restart in safe mode
        self.model_controller = ModelController(
            self.runner, self.models, lambda: self.settings, self.isVisible, parent=self, dialogs=self.dialogs
        )
        self.model_status = self.model_controller.status
        self.model_controller.error.connect(self.show_error)
        self.model_controller.notice.connect(self.statusBar().showMessage)
        self.model_controller.models_changed.connect(self._rebuild_models_menu)

        self.workspaces = QTabWidget()
        self.workspaces.setDocumentMode(True)
        self.workspaces.setAccessibleName("Workspaces")
        self.write = WriteWorkspace(dialogs=self.dialogs)
        self.canvas = CanvasWorkspace(dialogs=self.dialogs)
        self.workspaces.addTab(self.write, "Write")
        self.workspaces.addTab(self.canvas, "Canvas")
        self.setCentralWidget(self.workspaces)
        self._build_generation()

        self._build_story_tools()
        self._apply_editor_settings()
        self.write.current_document_changed.connect(self._update_title)
        self.write.autosave_failed.connect(self.show_error)
        self.workspaces.currentChanged.connect(self._update_title)
        self.write_actions = WorkspaceActions("write")
        self.canvas_actions = WorkspaceActions("canvas")
        self.workspaces.currentChanged.connect(self._update_workspace_commands)
        self.canvas.path_changed.connect(self._update_title)

        self._build_status_bar()
        self._build_menus()
        self.model_status.changed.connect(self._update_model_label)
        self._update_model_label()
        self._apply_editor_font()
        self._apply_ai_marks()
        self._restore_session()

    def _build_generation(self) -> None:
        self.generate_panel = GeneratePanel(dialogs=self.dialogs)
        self.candidates = CandidatesStrip()
        scroller = QScrollArea()
        scroller.setWidget(self.generate_panel)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroller.setMinimumWidth(
            self.generate_panel.minimumSizeHint().width() + scroller.verticalScrollBar().sizeHint().width()
        )
        scroller.setAccessibleName("Generate panel")
        self.canvas.add_side_panel(scroller, "Generate")
        self.canvas.add_side_panel(self.candidates, "Candidates")
        self.generation = GenerationController(
            self.runner,
            lambda: self.canvas.document,
            self.canvas.view.set_preview,
            self.generate_panel,
            self.candidates,
            parent=self,
        )
        self.generation.model_precision = lambda path: stored_precision(self.models.get(path))
        self.upscale = UpscaleController(
            self.runner,
            lambda: self.canvas.document,
            self.generate_panel,
            busy=lambda: self.generation.is_running,
            parent=self,
        )
        self.generate_panel.upscale_requested.connect(self.upscale.upscale)
        self.live = LiveMode(self.generation, parent=self)
        self.generate_panel.live_toggled.connect(self.live.set_enabled)
        self.generate_panel.apply_live_requested.connect(self.live.apply)
        self.live.enabled_changed.connect(self.generate_panel.live_action.setChecked)
        self.live.result_changed.connect(
            lambda: self.generate_panel.set_live_result_available(self.live.result is not None)
        )
        self.canvas.content_changed.connect(self.live.schedule)
        self.canvas.document_changed.connect(lambda: self.live.set_enabled(False))
        self.generate_panel.set_model_settings_source(
            lambda path: stored_image_settings(self.models.get(path))
        )
        if self.settings.image_model_path:
            self.generate_panel.set_model_path(self.settings.image_model_path, notify=False)
        self.generate_panel.model_changed.connect(self._on_image_model_changed)
        self.canvas.document_changed.connect(self.generation.clear_preview)
        self.canvas.generation_info_found.connect(self.generate_panel.show_generation_info)
        self.canvas.failed.connect(self.show_error)

        # another image: its candidates belong to the old one (issue 10)
        self.canvas.document_changed.connect(self.candidates.discard_all)
        history = self.canvas.history_panel
        history.load_settings_requested.connect(self.generate_panel.load_generation_info)
        history.rerun_requested.connect(self._rerun_generation)

    def _build_story_tools(self) -> None:
        """Story notes, the continuation provider that reads them, cache warm-up, the prompt view and the
        Assistant (the docks start hidden; the View menu shows them)."""
        self.story_notes = StoryNotesController(
            self.write.current_editor, self.write.current_path, parent=self
        )
        self.story_notes.problem.connect(self.show_error)
        self.write.current_document_changed.connect(self.story_notes.document_changed)
        self.continuation = EngineContinuationProvider(
            self.runner,
            lambda: self.settings,
            self.story_notes.current_notes,
            parent=self,
            sampling=self.model_controller.sampling,
        )
        self.write.set_continuation_provider(self.continuation)
        # the same prompt as a suggestion at that point (story notes included): the engine reuses its cached prefix
        self.write.set_token_choices_provider(
            EngineTokenChoicesProvider(
                self.runner,
                lambda prefix, suffix: self.continuation.assemble(prefix, suffix).text,
                self.continuation.cancel_warm_up,
                parent=self,
            )
        )
        self.write.set_rewrite_provider(
            EngineRewriteProvider(
                self.runner, lambda: self.model_status.model_kind, self.model_controller.sampling
            )
        )
        self.write.rewrite_status.connect(self._show_rewrite_status)
        self.cache_warmer = CacheWarmer(
            self.continuation,
            self.write.current_editor,
            lambda: self.settings.suggestions_enabled and self.model_status.state is ModelState.READY,
            parent=self,
        )
        self.write.current_document_changed.connect(self.cache_warmer.document_changed)
        self.story_notes.notes_changed.connect(self.cache_warmer.schedule)
        self.model_status.changed.connect(
            lambda: self.cache_warmer.schedule() if self.model_status.state is ModelState.READY else None
        )
        self.prompt_view = PromptView(self.write.current_editor, self.continuation.assemble)
        self.story_notes_dock = StoryNotesDock(self.story_notes, self.prompt_view, self)
        self.assistant_dock = AssistantDock(
            AssistantPanel(
                self.runner,
                lambda: self.settings,
                self.write.current_editor,
                lambda: self.model_status.model_kind,
                self.story_notes.current_notes,
                sampling=self.model_controller.sampling,
            ),
            self,
        )
        for dock in (self.story_notes_dock, self.assistant_dock):
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            dock.hide()  # shown from the View menu (Ctrl+Shift+L, Ctrl+Shift+A)
        self.tabifyDockWidget(self.story_notes_dock, self.assistant_dock)
        for dock in (self.story_notes_dock, self.assistant_dock):
            dock.visibilityChanged.connect(partial(self._widen_dock, dock))
        self.model_status.changed.connect(self.assistant_dock.panel.refresh)

    def _fill_rewrite_menu(self) -> None:
        self.write.rewrite_commands.fill_menu(self.rewrite_menu)
        self.rewrite_menu.addSeparator()
        self.rewrite_menu.addAction(self.illustrate_action)

    def illustrate_passage(self) -> None:
        """Rewrite ▸ Illustrate Passage…: a picture for the selected passage, saved next to the document."""
        editor = self.write.current_editor()
        if editor is None:
            return
        if not editor.textCursor().hasSelection():
            self.show_error("Select the passage to illustrate first.")
            return
        if self.write.current_path() is None and not self.save_document_as():
            return  # the picture goes into images/ next to the document: it needs a file first
        dialog = IllustrateDialog(
            self.runner,
            editor,
            self.write.current_path(),
            model_kind=self.model_status.model_kind,
            image_settings=self.generate_panel.settings(),  # the chosen image model, steps, sampler, candidates
            load_model=self.generation.load_model,  # so the Canvas knows which model is loaded
            parent=self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.inserted.connect(
            lambda saved: self.statusBar().showMessage(
                f"Inserted {saved.path.name} (in {saved.path.parent})", 8000
            )
        )
        dialog.open()

    def _widen_dock(self, dock: QDockWidget, visible: bool) -> None:
        """A side panel opens wide enough for its content, up to 40% of the window (the editor keeps the rest)."""
        if not visible or dock.isFloating():
            return
        wanted = min(dock.widget().sizeHint().width() + 24, int(self.width() * 0.4))
        if dock.width() < wanted:
            self.resizeDocks([dock], [wanted], Qt.Orientation.Horizontal)

    def _show_rewrite_status(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, 10000)
        else:
            self.statusBar().clearMessage()

    def _rerun_generation(self, params: dict[str, object]) -> None:
        """History ▸ Re-run: the recorded settings and seed into the Generate panel, then Generate."""
        self.generate_panel.load_generation_info(GenerationInfo.from_settings(params))
        self.generation.generate()

    def _on_image_model_changed(self, path: str) -> None:
        self.settings.image_model_path = path
        if path:
            self.models.record(path, DIFFUSION)
        # queued: the menu must not be cleared while one of its actions is still emitting triggered
        QTimer.singleShot(0, self._rebuild_models_menu)

    # engine and model

    def start_engines(self) -> None:
        """Start the LLM engine process in the background (it loads the chosen model)."""
        self.model_controller.start_engine()

    def load_model(self, path: str) -> None:
        """Make ``path`` (empty: the default model) the active model and load it."""
        self.model_controller.load_model(path)

    def load_model_checked(self, path: str) -> bool:
        """:meth:`load_model`, after asking when a registered model looks too big for the free memory."""
        return self.model_controller.load_model_checked(path)

    def show_error(self, message: str) -> None:
        """Tell the user about a failure without blocking (status bar, in red)."""
        self.error_label.setText(message)
        self.error_label.setToolTip(message)
        self.error_label.setVisible(True)
        self._error_timer.start()

    # status bar

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.error_label = QLabel()
        self.error_label.setAccessibleName("Error message")
        self.error_label.setStyleSheet("color: #d32f2f;")
        self.error_label.setVisible(False)
        self._error_timer = QTimer(self)
        self._error_timer.setSingleShot(True)
        self._error_timer.setInterval(15000)
        self._error_timer.timeout.connect(lambda: self.error_label.setVisible(False))
        bar.addWidget(self.error_label, 1)
        self.write_status = WriteStatus(self.write.current_editor)
        self.write.current_document_changed.connect(self.write_status.document_changed)
        bar.addPermanentWidget(self.write_status)
        self.job_status = JobStatusWidget(self.runner)
        bar.addPermanentWidget(self.job_status)
        self.model_label = QLabel()
        self.model_label.setAccessibleName("Active model")
        bar.addPermanentWidget(self.model_label)

    def _update_model_label(self) -> None:
        status = self.model_status
        state = str(status.state)
        if status.state is ModelState.LOADING and status.progress is not None:
            state = f"loading {round(status.progress * 100)}%"
        self.model_label.setText(f"{status.name or DEFAULT_MODEL_NAME}: {state}")
        self.model_label.setToolTip(status.message)

    # menus

    def _action(
        self,
        text: str,
        shortcut: QKeySequence | QKeySequence.StandardKey | str,
        slot: Callable[[], object],
        description: str = "",
    ) -> QAction:
        return make_action(self, text, slot, shortcut=shortcut, description=description)

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(
            self._action("&New Document", QKeySequence.StandardKey.New, self.new_document, "New document")
        )
        file_menu.addAction(
            self._action(
                "&Open…", QKeySequence.StandardKey.Open, self.open_document_dialog, "Open a document"
            )
        )
        self.recent_menu = RecentFilesMenu(self)
        self.recent_menu.open_requested.connect(self.open_recent)
        self.recent_menu.clear_requested.connect(self.clear_recent_files)
        file_menu.addMenu(self.recent_menu)
        self._update_recent_menu()
        file_menu.addAction(
            self._action("&Save", QKeySequence.StandardKey.Save, self.save_document, "Save the document")
        )
        file_menu.addAction(
            self._action(
                "Save &As…", "Ctrl+Shift+S", self.save_document_as, "Save the document under a new name"
            )
        )
        self.close_action = self._action(
            "&Close", QKeySequence.StandardKey.Close, self.close_current, "Close the document"
        )
        file_menu.addAction(self.close_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("New &Canvas…", "Ctrl+Alt+N", self.new_canvas, "New canvas"))
        export_action = self._action(
            "&Export PNG…", "Ctrl+E", self.export_png, "Export the canvas as a PNG image"
        )
        self.canvas_actions.add(export_action)
        file_menu.addAction(export_action)
        self.export_document_action = self._action(
            "&Export Document…",
            "Ctrl+E",
            self.export_document,
            "Export the document as HTML, ODT or PDF, with or without AI marks",
        )
        self.write_actions.add(self.export_document_action)
        file_menu.addAction(self.export_document_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", "Ctrl+Q", self.close, "Quit Studio"))

        edit_menu = menus.addMenu("&Edit")
        write = self.write
        for action in (
            write.undo_action,
            write.redo_action,
            write.cut_action,
            write.copy_action,
            write.paste_action,
            write.select_all_action,
        ):
            edit_menu.addAction(action)
        edit_menu.addSeparator()
        for action in write.find_actions():
            edit_menu.addAction(action)
        # Canvas: pixels and selection
        canvas = self.canvas
        for action in (
            canvas.undo_action,
            canvas.redo_action,
            canvas.cut_action,
            canvas.copy_action,
            canvas.paste_action,
            canvas.erase_selection_action,
            canvas.select_all_action,
            canvas.deselect_action,
            canvas.invert_action,
        ):
            edit_menu.addAction(action)
        edit_menu.addSeparator()
        edit_menu.addAction(write.suggest_action)
        self.suggestions_action = self._action(
            "Suggest While &Typing",
            "Ctrl+Shift+Space",
            self._toggle_suggestions,
            "Suggest continuations while typing",
        )
        self.suggestions_action.setCheckable(True)
        self.suggestions_action.setChecked(self.settings.suggestions_enabled)
        self.write_actions.add(write.actions(), self.suggestions_action)
        edit_menu.addAction(self.suggestions_action)
        edit_menu.addAction(
            self._action("Cancel &Job", "Ctrl+.", self.job_status.cancel_current, "Cancel the running job")
        )
        edit_menu.addSeparator()
        edit_menu.addAction(
            self._action(
                "&Settings…",
                QKeySequence.StandardKey.Preferences
                if not QKeySequence(QKeySequence.StandardKey.Preferences).isEmpty()
                else "Ctrl+,",
                self.open_settings,
                "Settings",
            )
        )

        view_menu = menus.addMenu("&View")
        view_menu.addAction(
            self._action(
                "&Write",
                "Ctrl+1",
                lambda: self.workspaces.setCurrentIndex(WRITE_INDEX),
                "Show the Write workspace",
            )
        )
        view_menu.addAction(
            self._action(
                "C&anvas",
                "Ctrl+2",
                lambda: self.workspaces.setCurrentIndex(CANVAS_INDEX),
                "Show the Canvas workspace",
            )
        )
        view_menu.addAction(
            self._action(
                "&Full Screen",
                QKeySequence.StandardKey.FullScreen
                if not QKeySequence(QKeySequence.StandardKey.FullScreen).isEmpty()
                else "F11",
                self._toggle_full_screen,
                "Full screen",
            )
        )
        view_menu.addSeparator()
        self.zoom_in_action = make_action(
            self,
            "Zoom &In",
            lambda: self.zoom_editor(1),
            shortcut=["Ctrl+=", "Ctrl++"],
            description="Make the editor's text larger",
        )
        self.zoom_out_action = self._action(
            "Zoom &Out", "Ctrl+-", lambda: self.zoom_editor(-1), "Make the editor's text smaller"
        )
        self.zoom_reset_action = self._action(
            "&Reset Zoom", "Ctrl+0", lambda: self.zoom_editor(0), "The editor's text at its chosen size"
        )
        self.font_action = self._action(
            "Editor &Font…", "Ctrl+Shift+F", self.choose_editor_font, "Choose the editor's font and size"
        )
        self.ai_marks_action = self._action(
            "Show &AI Marks",
            "Ctrl+Shift+H",
            self._toggle_ai_marks,
            "Tint the text the AI wrote (accepted suggestions and rewrites); the status bar's AI share "
            "label shows the tint",
        )
        self.ai_marks_action.setCheckable(True)
        self.ai_marks_action.setChecked(self.settings.show_ai_marks)
        write_view = (
            self.zoom_in_action,
            self.zoom_out_action,
            self.zoom_reset_action,
            self.font_action,
            self.ai_marks_action,
        )
        for action in write_view:
            view_menu.addAction(action)
        self.write_actions.add(*write_view)
        view_menu.addSeparator()
        set_shortcut(self.story_notes_dock.show_prompt_action, "Ctrl+Shift+P")
        view_menu.addAction(self.story_notes_dock.toggle_action)
        view_menu.addAction(self.story_notes_dock.show_prompt_action)
        view_menu.addAction(self.assistant_dock.toggle_action)
        self.write_actions.add(
            self.story_notes_dock.toggle_action,
            self.story_notes_dock.show_prompt_action,
            self.assistant_dock.toggle_action,
        )

        self.rewrite_menu = rewrite_menu = menus.addMenu("&Rewrite")
        self.illustrate_action = make_action(
            self,
            "&Illustrate Passage…",
            self.illustrate_passage,
            shortcut=illustrate_shortcut(),
            description="Let the model write an image prompt for the selected passage, generate it with the image "
            "model and insert the picked picture after the passage (saved in an images folder next to the document)",
        )
        rewrite_menu.aboutToShow.connect(self._fill_rewrite_menu)
        self.write_actions.add(
            self.write.rewrite_commands.actions(), self.illustrate_action, rewrite_menu.menuAction()
        )

        self.image_menu = image_menu = menus.addMenu("&Image")
        panel = self.generate_panel
        for action in (
            panel.generate_action,
            panel.vary_action,
            panel.upscale_action,
            panel.new_seed_action,
            panel.use_info_action,
        ):
            image_menu.addAction(action)
        image_menu.addSeparator()
        in_edit_menu = set(edit_menu.actions())
        layer_actions = self.canvas.layers_panel.actions_list()
        for action in self.canvas.actions():
            if action not in in_edit_menu and action not in layer_actions:
                image_menu.addAction(action)
        self.layer_menu = layer_menu = menus.addMenu("&Layer")
        for action in layer_actions:
            layer_menu.addAction(action)
        self.canvas_actions.add(
            self.canvas.actions(),
            panel.actions(),
            self.candidates.actions(),
            image_menu.menuAction(),
            layer_menu.menuAction(),
        )

        self.models_menu = menus.addMenu("&Models")
        self._rebuild_models_menu()

        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self._action("&About Studio", "F1", self.show_about, "About Studio"))
        self._update_workspace_commands()

    def _update_workspace_commands(self, *_args: object) -> None:
        """Show and arm the commands of the visible workspace only (its menus, its shortcuts)."""
        on_canvas = self.canvas_active
        self.write_actions.set_active(not on_canvas)
        self.canvas_actions.set_active(on_canvas)
        self.write_status.setVisible(not on_canvas)
        # only the visible workspace sets the window's minimum size (the Canvas's side panels need more room)
        for page in (self.write, self.canvas):
            current = page is self.workspaces.currentWidget()
            policy = QSizePolicy.Policy.Preferred if current else QSizePolicy.Policy.Ignored
            page.setSizePolicy(policy, policy)
        what = "canvas" if on_canvas else "document"
        self.close_action.setStatusTip(f"Close the {what}")
        self.close_action.setToolTip(f"Close the {what}")
        for dock in (self.story_notes_dock, self.assistant_dock):
            if on_canvas:
                dock.setProperty("shown_on_write", dock.isVisible())
                dock.hide()
            elif dock.property("shown_on_write"):
                dock.show()

    def _rebuild_models_menu(self) -> None:
        menu = self.models_menu
        for action in menu.actions():
            self.removeAction(action)
        menu.clear()
        menu.addAction(
            self._action(
                "&Manage Models…",
                "Ctrl+Shift+M",
                self.show_models_window,
                "Import, check, download and remove models",
            )
        )
        menu.addSeparator()
        default = self._action(
            f"{DEFAULT_MODEL_NAME} (default)",
            "Ctrl+Alt+0",
            lambda: self.load_model(""),
            "Use the default model",
        )
        default.setCheckable(True)
        serving = self.model_controller.server
        default.setChecked(not self.settings.model_path and serving is None)
        menu.addAction(default)
        known = [entry.path for entry in self.models.entries(LLM) if entry.exists]
        if self.settings.model_path and self.settings.model_path not in known:
            known.insert(0, self.settings.model_path)
        for index, path in enumerate(known[:MAX_RECENT_MODELS], start=1):
            action = self._action(
                Path(path).name,
                f"Ctrl+Alt+{index}",
                partial(self.load_model_checked, path),
                f"Use the model {Path(path).name}",
            )
            action.setCheckable(True)
            action.setChecked(path == self.settings.model_path and serving is None)
            action.setStatusTip(path)
            menu.addAction(action)
        menu.addSection("Servers")
        for entry in recent_servers(self.models)[:MAX_RECENT_MODELS]:
            choice = server_choice(entry)
            server = menu.addAction(
                choice.status_name,
                partial(self.model_controller.connect_server, choice.url, choice.api_key_env, choice.model),
            )
            server.setCheckable(True)
            server.setChecked(serving is not None and serving.url == choice.url)
            server.setStatusTip(choice.url)
            server.setObjectName("server")
            mark_list_entry(server)
        menu.addAction(
            self._action(
                "Connect to &Server…",
                "Ctrl+Alt+S",
                self.connect_to_server,
                "Use a model on an OpenAI-compatible server",
            )
        )
        menu.addSection("Image model")
        image_path = self.settings.image_model_path
        known_images = [entry.path for entry in self.models.entries(DIFFUSION) if entry.exists]
        if image_path and image_path not in known_images:
            known_images.insert(0, image_path)
        if not known_images:
            none = menu.addAction("No image model chosen")
            none.setEnabled(False)
            mark_list_entry(none)
        for path in known_images[:MAX_RECENT_MODELS]:
            action = menu.addAction(Path(path).name, partial(self.generate_panel.set_model_path, path))
            action.setCheckable(True)
            action.setChecked(path == image_path)
            action.setStatusTip(path)
            action.setObjectName("image_model")
            mark_list_entry(action)
        menu.addAction(self.generate_panel.choose_model_action)
        menu.addSeparator()
        menu.addAction(
            self._action(
                "&Open Model File…", "Ctrl+Shift+O", self.open_model_dialog, "Open a GGUF model file"
            )
        )
        menu.addAction(
            self._action(
                "&Reload Model",
                "Ctrl+Shift+R",
                self.model_controller.reload,
                "Reload the active model",
            )
        )

    def show_models_window(self) -> None:
        """The model manager (one window, raised when already open)."""
        if self._models_window is None:
            window = ModelsWindow(
                self.models,
                self.runner,
                parent=self,
                controller=self.model_controller,
                house_dialogs=self.dialogs,
            )
            window.models_changed.connect(self._rebuild_models_menu)
            window.use_model.connect(self._use_model_from_manager)
            self._models_window = window
        self._models_window.refresh()
        self._models_window.show()
        self._models_window.raise_()
        self._models_window.activateWindow()

    def connect_to_server(self) -> None:
        """Models ▸ Connect to Server…: ask in the Models window, connect through the model controller."""
        self.show_models_window()
        if self._models_window is not None:
            self._models_window.connect_to_server()

    def _use_model_from_manager(self, path: str, engine: str) -> None:
        if engine == "diffusion":
            self.generate_panel.set_model_path(path)  # notifies _on_image_model_changed
        else:
            self.load_model(path)

    # commands

    def new_document(self) -> None:
        self.workspaces.setCurrentIndex(WRITE_INDEX)
        self.write.new_document()

    def open_document_dialog(self) -> None:
        path = self.dialogs.open_path()
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open a document (``.md``/``.txt``) in Write or an image (``.ora``/PNG/JPEG/WebP) on the Canvas;
        errors are shown, never raised."""
        if Path(path).suffix.lower() in CANVAS_SUFFIXES:
            return self.open_image(path)
        self.workspaces.setCurrentIndex(WRITE_INDEX)
        try:
            self.write.open_path(path)
        except Exception as exc:
            self.show_error(f"Cannot open {Path(path).name}: {exc}")
            return False
        self.remember_recent(path)
        return True

    # recent files

    def recent_files(self) -> list[str]:
        """File ▸ Open Recent, newest first."""
        return list(self.settings.recent_files)

    def remember_recent(self, path: str) -> None:
        """Put ``path`` first in File ▸ Open Recent."""
        self.settings.recent_files = remember(self.recent_files(), path)
        self._update_recent_menu()

    def open_recent(self, path: str) -> bool:
        """Open a recent file; one that is gone is taken off the list, with a message."""
        if not Path(path).exists():
            self.settings.recent_files = forget(self.recent_files(), path)
            self._update_recent_menu()
            self.show_error(
                f"{Path(path).name} is no longer in {Path(path).parent}: removed from Open Recent."
            )
            return False
        return self.open_path(path)

    def clear_recent_files(self) -> None:
        self.settings.recent_files = []
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        if hasattr(self, "recent_menu"):
            self.recent_menu.set_paths(self.recent_files())

    # export and appearance

    def export_document(self) -> bool:
        """File ▸ Export Document: the current document as HTML, ODT or PDF (asked), with or without AI marks."""
        editor = self.write.current_editor()
        if editor is None:
            return False
        title = self.write.current_title()
        source = self.write.current_path()
        start = str(Path(source).with_suffix(".html")) if source else str(Path.home() / f"{title}.html")
        answer = self.dialogs.export_document(title, start, bool(editor.ai_ranges()))
        if answer is None:
            return False
        path, ai_marks = answer
        try:
            fmt = self.write.export_current(path, ai_marks=ai_marks)
        except (ExportError, DocumentError) as exc:
            self.show_error(str(exc))
            return False
        marks = " with AI marks" if ai_marks else ""
        self.statusBar().showMessage(f"Exported {Path(path).name} ({fmt.value.upper()}{marks})", 8000)
        return True

    def zoom_editor(self, steps: int) -> None:
        """View ▸ Zoom In (1), Zoom Out (-1) or Reset Zoom (0) for the editor; remembered."""
        size = self.settings.editor_font_size or DEFAULT_FONT_SIZE
        zoom = self.settings.editor_zoom + steps if steps else 0
        zoom = max(MIN_FONT_SIZE - size, min(MAX_FONT_SIZE - size, zoom))
        self.settings.editor_zoom = zoom
        self._apply_editor_font()
        self.statusBar().showMessage(f"Editor text {size + zoom} pt", 3000)
        self._save_settings_quietly()

    def choose_editor_font(self) -> None:
        """View ▸ Editor Font: the font and size (the zoom goes back to none); remembered."""
        font = self.dialogs.editor_font(self.write.editor_font())
        if font is None:
            return
        self.settings.editor_font_family = font.family()
        size = max(MIN_FONT_SIZE, min(MAX_FONT_SIZE, round(font.pointSizeF())))
        self.settings.editor_font_size = size
        self.settings.editor_zoom = 0
        self._apply_editor_font()
        self._save_settings_quietly()

    def _apply_editor_font(self) -> None:
        font = default_editor_font()
        family = self.settings.editor_font_family
        if family:
            font.setFamily(family)
        size = (self.settings.editor_font_size or DEFAULT_FONT_SIZE) + self.settings.editor_zoom
        font.setPointSize(max(MIN_FONT_SIZE, min(MAX_FONT_SIZE, size)))
        self.write.set_editor_font(font)

    def _toggle_ai_marks(self) -> None:
        shown = self.ai_marks_action.isChecked()
        self.settings.show_ai_marks = shown
        self._apply_ai_marks()
        self._save_settings_quietly()

    def _apply_ai_marks(self) -> None:
        shown = bool(self.settings.show_ai_marks)
        self.write.set_ai_marks_visible(shown)
        self.write_status.set_ai_marks_shown(shown)

    def _save_settings_quietly(self) -> None:
        try:
            save_settings(self.settings)
        except OSError as exc:
            log.warning("could not save settings: %s", exc)

    def open_image(self, path: str) -> bool:
        """Open an image or OpenRaster file on the Canvas (asking about unsaved canvas changes first)."""
        self.workspaces.setCurrentIndex(CANVAS_INDEX)
        if not self._canvas_may_be_replaced():
            return False
        try:
            self.canvas.open_path(path)
        except CanvasError as exc:
            self.show_error(f"Cannot open {Path(path).name}: {exc}")
            return False
        self.remember_recent(path)
        return True

    def new_canvas(self) -> None:
        size = self.dialogs.canvas_size()
        if size is None or not self._canvas_may_be_replaced():
            return
        self.workspaces.setCurrentIndex(CANVAS_INDEX)
        self.canvas.new_canvas(*size)

    def export_png(self) -> bool:
        path = self.dialogs.export_png_path()
        if not path:
            return False
        try:
            self.canvas.export_png(path)
        except CanvasError as exc:
            self.show_error(f"Could not export: {exc}")
            return False
        return True

    def _canvas_may_be_replaced(self) -> bool:
        if not self.canvas.is_modified:
            return True
        choice = self.dialogs.unsaved_canvas(self.canvas.title)
        if choice == UnsavedChoice.SAVE:
            return self.save_canvas()
        return choice == UnsavedChoice.DISCARD

    def save_canvas(self, new_name: bool = False) -> bool:
        """Save the canvas as OpenRaster (asking for a name when it has none, or always with ``new_name``)."""
        try:
            if not new_name and self.canvas.path is not None:
                self.canvas.save()
                return True
            path = self.dialogs.canvas_save_path()
            if not path:
                return False
            self.canvas.save_as(path)
        except CanvasError as exc:
            self.show_error(f"Could not save the canvas: {exc}")
            return False
        return True

    @property
    def canvas_active(self) -> bool:
        return self.workspaces.currentIndex() == CANVAS_INDEX

    def save_document(self) -> bool:
        """Save the current document or canvas (asking for a name when it has none); errors are shown."""
        if self.canvas_active:
            return self.save_canvas()
        try:
            if self.write.save_current():
                return True
        except ChangedOnDiskError as exc:
            if not self.dialogs.overwrite_changed_file(str(exc)):
                return False
            return self._save_reporting(lambda: self.write.save_current(overwrite=True))
        except DocumentError as exc:
            self.show_error(f"Could not save: {exc} Your text is still here and in the recovery folder.")
            return False
        if self.write.current_editor() is None:
            return False
        return self.save_document_as()

    def save_document_as(self) -> bool:
        if self.canvas_active:
            return self.save_canvas(new_name=True)
        path = self.dialogs.save_document_path()
        if not path:
            return False
        saved = self._save_reporting(lambda: self.write.save_current_as(path))
        if saved:
            self.remember_recent(path)
        return saved

    def _save_reporting(self, save: Callable[[], object]) -> bool:
        try:
            save()
        except (DocumentError, OSError) as exc:
            self.show_error(f"Could not save: {exc} Your text is still here and in the recovery folder.")
            return False
        return True

    def close_current(self) -> bool:
        """File ▸ Close: close what the visible workspace shows (the canvas, or the current document)."""
        if self.canvas_active:
            return self.close_canvas()
        self.close_document()
        return True

    def close_canvas(self) -> bool:
        """Close the canvas (asking about unsaved changes first); a new blank canvas takes its place."""
        if not self._canvas_may_be_replaced():
            return False
        self.canvas.new_canvas(*DEFAULT_CANVAS_SIZE)
        return True

    def close_document(self) -> None:
        try:
            self.write.close_current()
        except (DocumentError, OSError) as exc:
            self.show_error(f"Could not save before closing: {exc} The document stays open.")

    def _toggle_suggestions(self) -> None:
        self.settings.suggestions_enabled = self.suggestions_action.isChecked()
        self._apply_editor_settings()

    def _apply_editor_settings(self) -> None:
        self.write.set_suggestion_delay(self.settings.suggestion_delay_ms)
        self.write.set_suggestions_enabled(self.settings.suggestions_enabled)

    def _toggle_full_screen(self) -> None:
        self.setWindowState(self.windowState() ^ Qt.WindowState.WindowFullScreen)

    def open_model_dialog(self) -> None:
        path = self.dialogs.llm_model_path()
        if path:
            self.load_model_checked(path)

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, new: Settings) -> None:
        """Use ``new`` settings; reload the model when its context size or threads changed."""
        reload_model = (new.context_size, new.threads) != (self.settings.context_size, self.settings.threads)
        reload_image_model = new.image_precision != self.settings.image_precision
        self.settings = new
        self.suggestions_action.setChecked(new.suggestions_enabled)
        self._apply_editor_settings()
        save_settings(self.settings)
        if reload_model and self.runner.client("llm").is_alive and self.model_controller.server is None:
            self.load_model(new.model_path)  # context and threads belong to local models
        if reload_image_model:
            self.generation.reload_model()  # the engine reloads only when the precision it picks differs

    def show_about(self) -> None:
        """Help ▸ About: the version and the system report for bug reports, with a Copy button."""
        from studio.ui.about_dialog import AboutDialog

        dialog = AboutDialog(self, settings=self.settings)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _update_title(self, *_args: object) -> None:
        """The window title names what is being worked on: the current document or the canvas."""
        name = self.canvas.title if self.canvas_active else self.write.current_title()
        self.setWindowTitle(f"{name} — Studio" if name else "Studio")

    # session

    def _restore_session(self) -> None:
        settings = self.settings
        if settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode("ascii")))
        if settings.window_state:
            self.restoreState(QByteArray.fromBase64(settings.window_state.encode("ascii")))
        recent = list(settings.recent_files)
        for path in settings.open_documents:
            if Path(path).is_file():
                self.open_path(path)
        settings.recent_files = recent  # reopening the session is not opening files anew
        self._update_recent_menu()
        current = settings.current_document
        if 0 <= current < len(settings.open_documents):
            self.write.set_current_path(settings.open_documents[current])
        self._offer_recovery()
        if not self.write.editors():
            self.write.new_document()
        self.workspaces.setCurrentIndex(CANVAS_INDEX if settings.workspace == "canvas" else WRITE_INDEX)

    def _offer_recovery(self) -> None:
        """Offer the unsaved work a crashed session left behind."""
        entries = self.write.recoverable_documents()
        if not entries:
            return
        if not self.dialogs.restore_work([entry.title for entry in entries]):
            for entry in entries:
                self.write.discard_recovered(entry)
            return
        for entry in entries:
            try:
                self.write.restore_recovered(entry)
            except (DocumentError, OSError) as exc:
                self.show_error(f"Could not restore {entry.title}: {exc}")

    def save_session(self, open_documents: list[str] | None = None) -> None:
        """Remember geometry, open documents and workspace in the settings file."""
        settings = self.settings
        settings.window_geometry = bytes(self.saveGeometry().toBase64().data()).decode("ascii")
        settings.window_state = bytes(self.saveState().toBase64().data()).decode("ascii")
        settings.open_documents = list(self.write.open_paths() if open_documents is None else open_documents)
        live = open_documents is None
        settings.current_document = (
            max(0, self.write.current_index()) if live else self._current_document_index
        )
        settings.workspace = "canvas" if self.workspaces.currentIndex() == CANVAS_INDEX else "write"
        try:
            save_settings(settings)
        except OSError as exc:
            log.warning("could not save settings: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._canvas_may_be_replaced():
            event.ignore()
            return
        open_documents = list(self.write.open_paths())
        self._current_document_index = max(0, self.write.current_index())
        canvas_file = self.canvas.path or self.canvas.source_path
        if canvas_file is not None:
            open_documents.append(str(canvas_file))
        self.story_notes.save_now()
        try:
            closed = self.write.close_all()
        except (DocumentError, OSError) as exc:
            self.show_error(f"Could not save before quitting: {exc}")
            closed = False
        if not closed:
            event.ignore()
            return
        self.save_session(open_documents)
        self.write.shutdown()
        self.generation.cancel()
        self.continuation.cancel_warm_up()
        self.runner.shutdown()
        event.accept()
