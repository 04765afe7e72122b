"""The Models window: every LLM and image model Studio knows, whether it fits in memory now, and the jobs that
import, verify and download models (run in engine processes through the :class:`JobRunner`).

Reading headers, hashing and downloading never happen in the GUI process: the window sends
:mod:`studio.models.requests` jobs and writes what comes back into the shared :class:`ModelRegistry`.
Questions to the user go through a :class:`ModelDialogs` (tests script their answers); its "load anyway?"
question is the house :class:`~studio.ui.dialogs.Dialogs`' ``load_too_big`` when the window is given one.
"Connect to Server…" sends the server through the :class:`~studio.ui.model_controller.ModelController`, the
same path as a local model's load.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkReply, QNetworkRequest
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.engines.protocol import new_job_id
from studio.engines.remote_requests import ServerUrlError, keyring_api_key, parse_server_url, store_api_key
from studio.engines.schedulers import SCHEDULERS
from studio.models.curated import CuratedFile, curated_files
from studio.models.fit import Fit, Verdict, available_memory, check_fit, format_bytes
from studio.models.hub import RemoteFile
from studio.models.model_settings import (
    CHAT_TEMPLATE,
    FEW_STEP_PRESETS,
    IMAGE_SETTINGS,
    LLM_SETTINGS,
    PRECISIONS,
    clean_settings,
    few_step_preset,
)
from studio.models.registry import DECODER, DIFFUSION, ModelEntry, ModelKind, ModelRegistry, RegistryError
from studio.models.requests import DownloadModelRequest, InspectModelRequest, ListRepoFilesRequest
from studio.models.servers import ServerChoice, recent_servers, server_choice, server_models
from studio.models.taesd import FAMILY_LABELS, serves
from studio.ui.dialogs import Dialogs, QtDialogs
from studio.ui.jobs import JobHandle, JobRunner
from studio.ui.model_controller import ModelController
from studio.ui.model_status import ModelState

COLUMNS = (
    "Name",
    "Kind",
    "Memory now",
    "Size",
    "Parameters",
    "Quantization",
    "Context",
    "Architecture",
    "Licence",
    "Last used",
    "Origin",
    "SHA-256",
    "Path",
)
SETTING_LABELS = {
    "context": "&Context (tokens):",
    "threads": "&Threads (0 = automatic):",
    "temperature": "&Temperature:",
    "top_k": "Top &k:",
    "top_p": "Top &p:",
    "min_p": "&Min p:",
    "max_tokens": "Ma&x new tokens:",
    "steps": "&Steps:",
    "guidance": "&Guidance:",
    "scheduler": "S&cheduler:",
    "width": "&Width:",
    "height": "&Height:",
    "precision": "&Precision:",
}
VERDICT_COLOURS = {Verdict.TOO_BIG: QColor("#b3261e"), Verdict.TIGHT: QColor("#a15c00")}


@dataclass(frozen=True)
class DownloadChoice:
    """What the user chose to download."""

    repo_id: str
    filename: str
    revision: str = "main"
    filenames: tuple[str, ...] = ()  # several files into one folder (a TAESD); ``filename`` is its weights


class ModelDialogs(Protocol):
    """The questions the Models window asks; ``None``/False when the user cancelled."""

    def model_path(self, folder: bool) -> str | None: ...

    def new_name(self, current: str) -> str | None: ...

    def confirm(self, title: str, message: str) -> bool: ...

    def download_choice(self, runner: JobRunner) -> DownloadChoice | None: ...

    def server_choice(self, recent: list[ModelEntry]) -> ServerChoice | None: ...

    def load_too_big(self, name: str, message: str) -> bool: ...


class QtModelDialogs:
    """Real modal dialogs; "load anyway?" goes to the house ``dialogs`` (real ones when None)."""

    def __init__(self, parent: QWidget, dialogs: Dialogs | None = None) -> None:
        self._parent = parent
        self._house: Dialogs = dialogs if dialogs is not None else QtDialogs(parent)

    def model_path(self, folder: bool) -> str | None:
        if folder:
            path = QFileDialog.getExistingDirectory(
                self._parent, "Import a Diffusers Model Folder or a TAESD Folder"
            )
        else:
            path, _ = QFileDialog.getOpenFileName(
                self._parent, "Import a Model File", "", "Models (*.gguf *.safetensors);;All files (*)"
            )
        return path or None

    def new_name(self, current: str) -> str | None:
        name, accepted = QInputDialog.getText(self._parent, "Rename Model", "New name:", text=current)
        return name if accepted else None

    def confirm(self, title: str, message: str) -> bool:
        answer = QMessageBox.question(self._parent, title, message)
        return answer == QMessageBox.StandardButton.Yes

    def download_choice(self, runner: JobRunner) -> DownloadChoice | None:
        dialog = DownloadDialog(runner, self._parent)
        return dialog.choice() if dialog.exec() else None

    def server_choice(self, recent: list[ModelEntry]) -> ServerChoice | None:
        dialog = ServerDialog(recent, self._parent)
        return dialog.choice() if dialog.exec() else None

    def load_too_big(self, name: str, message: str) -> bool:
        return self._house.load_too_big(name, message)


def _fit_text(fit: Fit) -> str:
    marks = {
        Verdict.FITS: ", fits",
        Verdict.TIGHT: ", tight",
        Verdict.TOO_BIG: ", too big",
        Verdict.UNKNOWN: "",
    }
    size = format_bytes(fit.estimate.total) if fit.estimate.total else "?"
    return f"{'≥' if not fit.estimate.complete else '≈'}{size}{marks[fit.verdict]}"


def format_count(count: int) -> str:
    """A parameter count for people: 268 M, 3.2 B, 1,280."""
    if count >= 1e9:
        return f"{count / 1e9:.1f} B"
    if count >= 1e6:
        return f"{count / 1e6:,.0f} M"
    return f"{count:,}" if count else ""


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "never"


def _cells(entry: ModelEntry, fit: Fit) -> list[str]:
    return [
        entry.display_name,
        entry.model_kind.label,
        _fit_text(fit),
        format_bytes(entry.size_bytes) if entry.size_bytes else "",
        format_count(entry.parameters),
        entry.quantization,
        f"{entry.context_length:,}" if entry.context_length else "",
        entry.architecture,
        entry.license,
        _when(entry.last_used),
        "downloaded" if entry.source else ("Studio's copy" if entry.downloaded else "imported"),
        entry.sha256[:12],
        entry.path,
    ]


class JobRow(QWidget):
    """One running job: what it does, its progress and a Cancel button."""

    def __init__(self, label: str, handle: JobHandle[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.handle = handle
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.label = QLabel(label)
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setAccessibleName(f"Progress of {label}")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName(f"Cancel {label}")
        self.cancel_button.clicked.connect(handle.cancel)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.bar, 1)
        bar_row.addWidget(self.cancel_button)
        layout.addWidget(self.label)
        layout.addLayout(bar_row)
        handle.on_progress(self.show_progress)

    def show_progress(self, fraction: float | None, message: str) -> None:
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(fraction * 1000))
        if message:
            self.label.setText(message)


class ModelSettingsForm(QWidget):
    """The per-model settings of one model, saved into the registry as they change."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry: ModelEntry | None = None
        self._loading = False
        self.fields: dict[str, QWidget] = {}
        self.stack = QStackedWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.empty = QLabel("Select a model to see its settings.")
        self.empty.setWordWrap(True)
        self.stack.addWidget(self.empty)

        llm = QWidget()
        llm_form = QFormLayout(llm)
        for key, spec in LLM_SETTINGS.items():
            llm_form.addRow(SETTING_LABELS[key], self._number(key, spec))
        self.chat_template = QPlainTextEdit()
        self.chat_template.setObjectName(CHAT_TEMPLATE)
        self.chat_template.setAccessibleName("Chat template")
        self.chat_template.setPlaceholderText(
            "This model has no chat template (a base model: completion only). Type one to chat with it."
        )
        self.chat_template.setMaximumHeight(110)
        self.chat_template.setToolTip(
            "The model's chat template (Jinja), from its GGUF header. Edit it to override it: the model uses "
            "your template from its next load. Studio renders it in a sandbox. Empty or unchanged: the "
            "model's own."
        )
        self.chat_template.textChanged.connect(self._save)
        llm_form.addRow(QLabel("Chat template (rendered in a sandbox; edits apply on the next load):"))
        llm_form.addRow(self.chat_template)
        self.stack.addWidget(llm)

        image = QWidget()
        image_form = QFormLayout(image)
        for key, spec in IMAGE_SETTINGS.items():
            image_form.addRow(SETTING_LABELS[key], self._number(key, spec))
        self.preset_button = QPushButton("Use Few-Step Preset")
        self.preset_button.setToolTip("Steps, guidance and scheduler for LCM / Turbo models")
        self.preset_button.clicked.connect(self.apply_preset)
        image_form.addRow("", self.preset_button)
        self.stack.addWidget(image)
        self.llm_page, self.image_page = llm, image

    def _number(self, key: str, spec: tuple[Any, ...]) -> QWidget:
        widget: QWidget
        if len(spec) == 2:
            combo = QComboBox()
            combo.addItems(list(SCHEDULERS if key == "scheduler" else PRECISIONS))
            combo.currentTextChanged.connect(self._save)
            widget = combo
        elif isinstance(spec[0], float):
            box = QDoubleSpinBox()
            box.setRange(spec[1], spec[2])
            box.setSingleStep(0.05 if spec[2] <= 2 else 0.5)
            box.setDecimals(2)
            box.valueChanged.connect(self._save)
            widget = box
        else:
            spin = QSpinBox()
            spin.setRange(spec[1], spec[2])
            spin.setSingleStep(256 if key == "context" else 8 if key in ("width", "height") else 1)
            spin.valueChanged.connect(self._save)
            widget = spin
        widget.setObjectName(key)
        widget.setAccessibleName(key.replace("_", " "))
        self.fields[key] = widget
        return widget

    def show_entry(self, entry: ModelEntry | None) -> None:
        self.entry = entry
        if entry is None:
            self.stack.setCurrentWidget(self.empty)
            return
        if entry.engine == DECODER:
            family = FAMILY_LABELS.get(serves(entry), serves(entry) or "its family")
            self.empty.setText(
                f"A TAESD decoder has no settings: every {family} model without a TAESD of its own uses it "
                "for Fast decode, Live mode and previews."
            )
            self.stack.setCurrentWidget(self.empty)
            return
        self.empty.setText("Select a model to see its settings.")
        self._loading = True
        try:
            for key, value in clean_settings(entry).items():
                self._set(key, value)
            if entry.engine == DIFFUSION:
                self.preset_button.setEnabled(few_step_preset(entry) is not None)
                self.stack.setCurrentWidget(self.image_page)
            else:
                context = self.fields["context"]
                assert isinstance(context, QSpinBox)
                context.setMaximum(entry.context_length or LLM_SETTINGS["context"][2])
                own = clean_settings(entry)[CHAT_TEMPLATE]
                self.chat_template.setPlainText(own or self._model_template())
                self.stack.setCurrentWidget(self.llm_page)
        finally:
            self._loading = False

    def values(self) -> dict[str, Any]:
        table = IMAGE_SETTINGS if self.entry is not None and self.entry.engine == DIFFUSION else LLM_SETTINGS
        values: dict[str, Any] = {}
        for key in table:
            widget = self.fields[key]
            if isinstance(widget, QComboBox):
                values[key] = widget.currentText()
            elif isinstance(widget, QSpinBox | QDoubleSpinBox):
                values[key] = widget.value()
        if table is LLM_SETTINGS:
            text = self.chat_template.toPlainText()
            values[CHAT_TEMPLATE] = text if text.strip() and text != self._model_template() else ""
        return values

    def _model_template(self) -> str:
        """The chat template in the selected model's header ("" when none)."""
        return str(self.entry.details.get("chat_template", "")) if self.entry is not None else ""

    def apply_preset(self) -> None:
        if self.entry is None:
            return
        preset = few_step_preset(self.entry)
        if preset is None:
            return
        self.show_entry(self.entry)
        for key, value in FEW_STEP_PRESETS[preset].items():
            self._set(key, value)

    def _set(self, key: str, value: Any) -> None:
        if key == CHAT_TEMPLATE:
            return  # shown by show_entry: the override, else the model's own
        widget = self.fields[key]
        if isinstance(widget, QComboBox):
            widget.setCurrentText(str(value))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(float(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))

    def _save(self, *_args: object) -> None:
        if not self._loading and self.entry is not None:
            self.changed.emit()


class ModelsWindow(QWidget):
    """The model manager. ``use_model(path, engine)`` asks the main window to load a model (after the fit
    check); ``models_changed`` says the registry changed (the Models menu rebuilds). "Connect to Server…" goes
    through ``controller`` (disabled without one). ``house_dialogs``: the main window's :class:`Dialogs`, which
    ask "load anyway?" when ``dialogs`` is not given."""

    use_model = Signal(str, str)
    models_changed = Signal()

    def __init__(
        self,
        registry: ModelRegistry,
        runner: JobRunner,
        dialogs: ModelDialogs | None = None,
        parent: QWidget | None = None,
        available_memory: Callable[[], int | None] | None = None,
        controller: ModelController | None = None,
        house_dialogs: Dialogs | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Models")
        self.setAccessibleName("Models")
        self.registry = registry
        self.runner = runner
        self.dialogs: ModelDialogs = dialogs or QtModelDialogs(self, house_dialogs)
        self.controller = controller
        self._connecting: ServerChoice | None = None  # a connection whose outcome this window reports
        self._available = available_memory
        self.jobs: list[JobHandle[Any]] = []
        self._reading: set[str] = set()  # paths whose headers are being read
        self._entries: list[ModelEntry] = []
        self.resize(1100, 680)

        layout = QVBoxLayout(self)
        buttons = QHBoxLayout()
        self.import_button = QPushButton("&Import")
        import_menu = QMenu(self.import_button)
        self.import_file_action = QAction("Model &File (GGUF or .safetensors)…", self)
        self.import_file_action.triggered.connect(lambda: self.import_model(folder=False))
        self.import_folder_action = QAction("Diffusers or TAESD &Folder…", self)
        self.import_folder_action.setToolTip(
            "A diffusers model folder (model_index.json), or a TAESD decoder folder (config.json and "
            ".safetensors) that gives every model of its family fast decode"
        )
        self.import_folder_action.triggered.connect(lambda: self.import_model(folder=True))
        self.copy_action = QAction("&Copy Into Studio's Models Folder", self)
        self.copy_action.setCheckable(True)
        self.copy_action.setToolTip("Off: the model stays where it is and Studio only remembers it")
        import_menu.addActions([self.import_file_action, self.import_folder_action])
        import_menu.addSeparator()
        import_menu.addAction(self.copy_action)
        self.import_button.setMenu(import_menu)
        self.download_button = QPushButton("&Download…")
        self.rename_button = QPushButton("&Rename…")
        self.remove_button = QPushButton("Re&move")
        self.verify_button = QPushButton("&Verify")
        self.use_button = QPushButton("&Use Model")
        self.server_button = QPushButton("Connect to &Server…")
        self.server_button.setToolTip(
            "Use a model served by an OpenAI-compatible server (llama.cpp, vLLM, Ollama, LM Studio) for Write"
        )
        self.server_button.setEnabled(controller is not None)
        self.server_button.clicked.connect(lambda: self.connect_to_server())
        self.download_button.clicked.connect(self.download)
        self.rename_button.clicked.connect(self.rename_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.verify_button.clicked.connect(self.verify_selected)
        self.use_button.clicked.connect(self.use_selected)
        for widget in (
            self.import_button,
            self.download_button,
            self.rename_button,
            self.remove_button,
            self.verify_button,
            self.server_button,
        ):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        self.memory_label = QLabel()
        buttons.addWidget(self.use_button)
        layout.addLayout(buttons)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setAccessibleName("Models")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.use_selected())

        details_box = QGroupBox("Details")
        details_form = QFormLayout(details_box)
        self.detail_fields: dict[str, QLineEdit] = {}
        for label in ("Name", "Kind", "Path", "SHA-256", "Source", "Checked"):
            field = QLineEdit()
            field.setReadOnly(True)
            field.setAccessibleName(label)
            field.setMinimumWidth(80)
            self.detail_fields[label] = field
            details_form.addRow(f"{label}:", field)
        self.fit_label = QLabel()
        self.fit_label.setWordWrap(True)
        self.fit_label.setAccessibleName("Memory estimate")
        details_form.addRow("Memory:", self.fit_label)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b3261e;")
        details_form.addRow(self.problem_label)
        self.settings_form = ModelSettingsForm()
        self.settings_form.changed.connect(self._settings_changed)
        settings_box = QGroupBox("Settings for this model")
        settings_layout = QVBoxLayout(settings_box)
        settings_layout.addWidget(self.settings_form)
        lower = QWidget()
        lower_layout = QHBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(details_box, 1)
        lower_layout.addWidget(settings_box, 1)
        scroll = QScrollArea()
        scroll.setWidget(lower)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)

        self.jobs_area = QVBoxLayout()
        layout.addLayout(self.jobs_area)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Status")
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.memory_label, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(bottom)
        if controller is not None:
            controller.status.changed.connect(self._server_status_changed)
            controller.error.connect(self._server_error)
        self.refresh()

    # table

    def available_memory(self) -> int | None:
        return self._available() if self._available is not None else available_memory()

    def refresh(self, select: str | None = None) -> None:
        """Rebuild the table from the registry (keeping or setting the selection)."""
        current = select or (self.selected.path if self.selected is not None else None)
        self._entries = self.registry.entries()
        available = self.available_memory()
        self.memory_label.setText(f"Free memory now: {format_bytes(available)}" if available else "")
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            fit = check_fit(entry, available=available) if available else check_fit(entry)
            for column, text in enumerate(_cells(entry, fit)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.path)
                if COLUMNS[column] == "Memory now":
                    item.setToolTip(fit.message)
                    if fit.verdict in VERDICT_COLOURS:
                        item.setForeground(VERDICT_COLOURS[fit.verdict])
                elif COLUMNS[column] == "Name":
                    if entry.problem or not entry.exists:
                        item.setForeground(VERDICT_COLOURS[Verdict.TOO_BIG])
                        item.setToolTip(entry.problem or "The file is missing")
                    else:
                        item.setToolTip(entry.path)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        for column, width in ((0, 260), (2, 160), (COLUMNS.index("Path"), 400)):
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), width))
        row = next((index for index, entry in enumerate(self._entries) if entry.path == current), 0)
        if self._entries:
            self.table.selectRow(row)
        self._selection_changed()

    @property
    def selected(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._entries):
            return None
        return self._entries[rows[0].row()]

    def select(self, path: str) -> None:
        for row, entry in enumerate(self._entries):
            if entry.path == path:
                self.table.selectRow(row)

    def _selection_changed(self) -> None:
        entry = self.selected
        for button in (self.rename_button, self.remove_button, self.verify_button, self.use_button):
            button.setEnabled(entry is not None)
        if entry is not None and entry.model_kind in (ModelKind.LORA, ModelKind.TAESD):
            self.use_button.setEnabled(False)
        self.settings_form.show_entry(entry)
        self._show_details(entry)

    def _show_details(self, entry: ModelEntry | None) -> None:
        if entry is None:
            for field in self.detail_fields.values():
                field.clear()
            self.fit_label.setText("")
            self.problem_label.setText(
                "No models yet. Import… a GGUF, a .safetensors checkpoint, a diffusers folder or a TAESD "
                "folder, or Download… one of the suggested small models."
            )
            self.problem_label.setStyleSheet("")
            return
        fit = check_fit(entry, self.settings_form.values(), self.available_memory())
        values = {
            "Name": entry.display_name,
            "Kind": f"{entry.model_kind.label}{', ' + entry.architecture if entry.architecture else ''}",
            "Path": entry.path,
            "SHA-256": entry.sha256 or "not hashed yet (Verify)",
            "Source": entry.source or ("copied by Studio" if entry.downloaded else "imported in place"),
            "Checked": _when(entry.checked),
        }
        for label, value in values.items():
            field = self.detail_fields[label]
            field.setText(value)
            field.setCursorPosition(0)
            field.setToolTip(value)
        colour = VERDICT_COLOURS.get(fit.verdict)
        self.fit_label.setText(fit.message)
        self.fit_label.setStyleSheet(f"color: {colour.name()};" if colour else "")
        problems = [entry.problem] if entry.problem else []
        if not entry.exists:
            problems.append("The file is missing.")
        self.problem_label.setStyleSheet("color: #b3261e;")
        self.problem_label.setText(" ".join(problems))

    def _settings_changed(self) -> None:
        entry = self.settings_form.entry
        if entry is None:
            return
        self.registry.set_settings(entry.path, self.settings_form.values())
        self._show_details(entry)
        row = next((index for index, item in enumerate(self._entries) if item.path == entry.path), None)
        if row is not None:
            fit = check_fit(entry, available=self.available_memory())
            cell = self.table.item(row, COLUMNS.index("Memory now"))
            if cell is not None:
                cell.setText(_fit_text(fit))
                cell.setToolTip(fit.message)

    # jobs

    def _track(self, handle: JobHandle[Any], label: str) -> JobHandle[Any]:
        row = JobRow(label, handle, self)
        self.jobs_area.addWidget(row)
        self.jobs.append(handle)

        def finished(_handle: JobHandle[Any]) -> None:
            self.jobs.remove(handle)
            self.jobs_area.removeWidget(row)
            row.deleteLater()

        handle.on_failure(self._failed)
        handle.on_cancelled(lambda: self._say(f"{label}: cancelled."))
        handle.on_finished(finished)
        return handle

    def _failed(self, message: str) -> None:
        self._say(message, error=True)

    def _say(self, message: str, error: bool = False) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("color: #b3261e;" if error else "")

    def import_model(self, folder: bool = False, path: str | None = None) -> JobHandle[ModelEntry] | None:
        """Ask for a model file (or folder), check and hash it in the models engine, then register it."""
        path = path or self.dialogs.model_path(folder)
        if not path:
            return None
        copy = self.copy_action.isChecked()
        request = InspectModelRequest(new_job_id(), path=path, copy=copy)
        handle = self.runner.run(request, f"Import {Path(path).name}")

        def imported(entry: ModelEntry) -> None:
            self.registry.add(entry)
            self.refresh(select=entry.path)
            self._say(f"Imported {entry.display_name}" + (" (copied into Studio's folder)." if copy else "."))
            self.models_changed.emit()

        handle.on_success(imported)
        return self._track(handle, f"Importing {Path(path).name}")

    def verify_selected(self) -> JobHandle[ModelEntry] | None:
        """Re-hash and re-check the selected model."""
        entry = self.selected
        if entry is None:
            return None
        handle = self.runner.run(InspectModelRequest(new_job_id(), path=entry.path, known=entry))

        def verified(fresh: ModelEntry) -> None:
            if self.registry.get(entry.path) is None:
                return
            self.registry.apply_verify(entry.path, fresh)
            if fresh.problem:
                self._say(f"{entry.display_name}: {fresh.problem}", error=True)
            else:
                self._say(f"{entry.display_name} verified: header fine, SHA-256 {fresh.sha256[:12]}….")
            self.refresh(select=entry.path)

        handle.on_success(verified)
        return self._track(handle, f"Verifying {entry.display_name}")

    def rename_selected(self) -> None:
        entry = self.selected
        if entry is None:
            return
        name = self.dialogs.new_name(entry.display_name)
        if name is None:
            return
        try:
            self.registry.rename(entry.path, name)
        except RegistryError as exc:
            self._say(str(exc), error=True)
            return
        self.refresh(select=entry.path)
        self.models_changed.emit()

    def remove_selected(self) -> None:
        entry = self.selected
        if entry is None:
            return
        if entry.downloaded:
            message = (
                f"Remove {entry.display_name} and delete its file ({format_bytes(entry.size_bytes)}) from "
                f"Studio's models folder?\n\n{entry.path}"
            )
        else:
            message = (
                f"Remove {entry.display_name} from the list?\n\nThe file stays where it is:\n{entry.path}"
            )
        if not self.dialogs.confirm("Remove Model", message):
            return
        self.registry.remove(entry.path)
        self._say(f"Removed {entry.display_name}" + (" and deleted its file." if entry.downloaded else "."))
        self.refresh()
        self.models_changed.emit()

    def download(self, choice: DownloadChoice | None = None) -> JobHandle[ModelEntry] | None:
        """Ask what to download (curated list or any repo/file) and download it in the downloads engine."""
        choice = choice or self.dialogs.download_choice(self.runner)
        if choice is None:
            return None
        request = DownloadModelRequest(
            new_job_id(),
            repo_id=choice.repo_id,
            filename=choice.filename,
            revision=choice.revision,
            filenames=choice.filenames,
        )
        what = choice.repo_id if choice.filenames else choice.filename
        handle = self.runner.run(request, f"Download {what}")

        def downloaded(entry: ModelEntry) -> None:
            self.registry.add(entry)
            self.refresh(select=entry.path)
            self._say(f"Downloaded {entry.display_name}; size and SHA-256 match the hub.")
            self.models_changed.emit()

        handle.on_success(downloaded)
        return self._track(handle, f"Downloading {what}")

    def use_selected(self) -> None:
        """Ask the main window to load the selected model, after warning when it would not fit."""
        entry = self.selected
        if entry is None or entry.model_kind in (ModelKind.LORA, ModelKind.TAESD):
            return
        if not entry.exists:
            self._say(f"{entry.display_name}: the file is missing ({entry.path}).", error=True)
            return
        fit = check_fit(entry, available=self.available_memory())
        if fit.verdict is Verdict.TOO_BIG and not self.dialogs.load_too_big(entry.display_name, fit.message):
            return
        self.use_model.emit(entry.path, entry.engine)

    # servers

    def connect_to_server(self, choice: ServerChoice | None = None) -> bool:
        """Ask which server (URL, API-key variable, model; recent ones offered) and connect to it through the
        model controller; the outcome shows in this window's status line and the main window's status bar."""
        if self.controller is None:
            return False
        choice = choice or self.dialogs.server_choice(recent_servers(self.registry))
        if choice is None:
            return False
        self._connecting = choice
        self._say(f"Connecting to {choice.url}…")
        if not self.controller.connect_server(choice.url, choice.api_key_env, choice.model):
            self._connecting = None
            return False
        return True

    def _server_status_changed(self) -> None:
        controller = self.controller
        if self._connecting is None or controller is None:
            return
        status = controller.status
        if status.state is ModelState.READY and controller.server is not None:
            self._connecting = None
            self._say(f"Connected. {status.name}: {status.message}.")
        elif status.state is ModelState.ERROR:
            self._connecting = None
            self._say(status.message, error=True)

    def _server_error(self, message: str) -> None:
        if self._connecting is not None:
            self._connecting = None
            self._say(message, error=True)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Read the registry file again: ``studio models`` may have changed it while the window was hidden."""
        super().showEvent(event)
        self.registry.reload()
        self.refresh()
        self.read_unchecked_headers()

    def read_unchecked_headers(self) -> list[JobHandle[ModelEntry]]:
        """Read the headers of models that were only ever opened (the menus record just their path), so their
        kind, context and memory estimate show; no hashing (Verify does that)."""
        handles = []
        for entry in self.registry.entries():
            if entry.checked or entry.path in self._reading or not entry.exists:
                continue
            self._reading.add(entry.path)
            request = InspectModelRequest(new_job_id(), path=entry.path, hash_file=False)
            handle = self.runner.run(request, f"Read {Path(entry.path).name}")

            def read(fresh: ModelEntry, path: str = entry.path) -> None:
                if self.registry.get(path) is None:
                    return
                if fresh.problem:
                    self.registry.update(path, problem=fresh.problem, checked=fresh.checked)
                else:
                    fresh.path = path  # as recorded (the job resolves symlinks)
                    self.registry.add(fresh)
                self.refresh()

            def failed(message: str, name: str = entry.display_name) -> None:
                # the engine failed, not the file: say so, record nothing (the next showing tries again)
                self._say(f"Could not read {name}: {message}", error=True)

            def done(_handle: JobHandle[ModelEntry], path: str = entry.path) -> None:
                self._reading.discard(path)

            handle.on_success(read).on_failure(failed).on_finished(done)
            handles.append(handle)
        return handles


class DownloadDialog(QDialog):
    """Choose a download: a curated model (with its size and whether it fits) or any repository's file."""

    def __init__(
        self, runner: JobRunner, parent: QWidget | None = None, curated: list[CuratedFile] | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download a Model")
        self.runner = runner
        self.curated = curated if curated is not None else curated_files()
        self.tabs = QTabWidget()
        layout = QVBoxLayout(self)
        note = QLabel(
            "Studio stays offline except while a download you start runs. Files go to Studio's models folder "
            "and are checked against the hub's size and SHA-256. Read each model's licence."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.tabs, 1)

        self.list = QTableWidget(len(self.curated), 6)
        self.list.setHorizontalHeaderLabels(
            ["Model", "Quantization", "Size", "Memory now", "Licence", "Repository / file"]
        )
        self.list.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        available = available_memory()
        self.list.setAccessibleName("Suggested models")
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.verticalHeader().setVisible(False)
        for row, item in enumerate(self.curated):
            kind = {DIFFUSION: "image", DECODER: "fast decode"}.get(item.engine, "text")
            # before the download only the size is known: a lower bound (the header adds the KV cache)
            fit = check_fit(
                ModelEntry(path=item.filename, engine=item.engine, size_bytes=item.size), available=available
            )
            cells = [
                f"{item.model} ({kind})",
                item.quantization,
                f"~{format_bytes(item.size)}",
                _fit_text(fit),
                item.license,
                item.location,
            ]
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(fit.message if column == 3 else item.about)
                if column == 3 and fit.verdict in VERDICT_COLOURS:
                    cell.setForeground(VERDICT_COLOURS[fit.verdict])
                self.list.setItem(row, column, cell)
        self.list.resizeColumnsToContents()
        self.list.horizontalHeader().setStretchLastSection(True)
        self.list.doubleClicked.connect(lambda _index: self.accept())
        self.tabs.addTab(self.list, "&Suggested")

        custom = QWidget()
        form = QFormLayout(custom)
        self.repo = QLineEdit()
        self.repo.setPlaceholderText("owner/name, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF")
        self.repo.setAccessibleName("Repository")
        self.revision = QLineEdit("main")
        self.revision.setAccessibleName("Revision")
        self.file = QComboBox()
        self.file.setEditable(True)
        self.file.setAccessibleName("File")
        file_edit = self.file.lineEdit()
        if file_edit is not None:
            file_edit.setPlaceholderText("the .gguf or .safetensors file")
        self.list_button = QPushButton("&List Files")
        self.list_button.clicked.connect(self.list_files)
        repo_row = QHBoxLayout()
        repo_row.addWidget(self.repo, 1)
        repo_row.addWidget(self.list_button)
        repo_label = QLabel("&Repository:")
        repo_label.setBuddy(self.repo)
        form.addRow(repo_label, repo_row)
        form.addRow("Re&vision:", self.revision)
        form.addRow("&File:", self.file)
        self.list_status = QLabel()
        self.list_status.setWordWrap(True)
        form.addRow("", self.list_status)
        self.tabs.addTab(custom, "&Other Repository")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.download_button = self.buttons.addButton("&Download", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        if self.curated:
            self.list.selectRow(0)
        self.resize(760, 420)

    def list_files(self) -> JobHandle[list[RemoteFile]] | None:
        """Ask the hub (in the downloads engine) which model files the repository has."""
        repo = self.repo.text().strip()
        if not repo:
            self.list_status.setText("Type a repository first.")
            return None
        self.list_status.setText(f"Asking the hub about {repo}…")
        self.list_button.setEnabled(False)
        request = ListRepoFilesRequest(
            new_job_id(), repo_id=repo, revision=self.revision.text().strip() or "main"
        )
        handle = self.runner.run(request, f"List {repo}")

        def listed(files: list[RemoteFile]) -> None:
            self.file.clear()
            for item in files:
                size = f" ({format_bytes(item.size)})" if item.size else ""
                self.file.addItem(f"{item.filename}{size}", item.filename)
            self.list_status.setText(
                f"{len(files)} model files." if files else "No .gguf or .safetensors files."
            )

        def failed(message: str) -> None:
            self.list_status.setText(message)

        handle.on_success(listed).on_failure(failed).on_finished(lambda _h: self.list_button.setEnabled(True))
        return handle

    def choice(self) -> DownloadChoice | None:
        """What the user picked, or None when the custom tab is incomplete."""
        if self.tabs.currentIndex() == 0:
            rows = self.list.selectionModel().selectedRows()
            if not rows:
                return None
            item = self.curated[rows[0].row()]
            return DownloadChoice(item.repo_id, item.filename, filenames=item.filenames)
        repo = self.repo.text().strip()
        data = self.file.currentData()
        filename = (
            str(data) if data and self.file.currentText().startswith(str(data)) else self.file.currentText()
        )
        filename = filename.strip()
        if not repo or not filename:
            return None
        return DownloadChoice(repo, filename, self.revision.text().strip() or "main")

    def accept(self) -> None:
        if self.choice() is None:
            self.list_status.setText("Choose a repository and a file.")
            return
        super().accept()


class ServerDialog(QDialog):
    """Choose a server: its URL (recent ones offered), the environment variable holding its API key, and the
    model (listed from the server's ``/v1/models`` on request; empty: the server's first model)."""

    def __init__(self, recent: list[ModelEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to Server")
        self.recent = recent
        self._network = QNetworkAccessManager(self)
        self._reply: QNetworkReply | None = None
        layout = QVBoxLayout(self)
        note = QLabel(
            "Write's suggestions, rewrites and the assistant can use a model served by an OpenAI-compatible "
            "server (llama.cpp's llama-server, vLLM, Ollama, LM Studio). The text you send goes to that server."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        form = QFormLayout()
        self.url = QComboBox()
        self.url.setEditable(True)
        self.url.setAccessibleName("Server URL")
        self.url.setMinimumWidth(320)
        for entry in recent:
            self.url.addItem(entry.path)
        url_edit = self.url.lineEdit()
        if url_edit is not None:
            url_edit.setPlaceholderText("http://127.0.0.1:8080")
        self.url.activated.connect(self._recent_chosen)
        self.key_env = QLineEdit()
        self.key_env.setAccessibleName("API key variable")
        self.key_env.setPlaceholderText("e.g. OPENAI_API_KEY (empty: the system keyring, or no key)")
        self.key_env.setToolTip(
            "The name of an environment variable that holds the key; Studio never stores it"
        )
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName("API key for the keyring")
        self.key.setPlaceholderText("optional: kept in the system keyring for this server")
        self.key.setToolTip("Typed here, the key goes to the system keyring (not to Studio's files)")
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setAccessibleName("Model")
        model_edit = self.model.lineEdit()
        if model_edit is not None:
            model_edit.setPlaceholderText("empty: the server's first model")
        self.list_button = QPushButton("&List Models")
        self.list_button.clicked.connect(self.list_models)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.list_button)
        for text, field in (
            ("Server &URL:", self.url),
            ("API &key variable:", self.key_env),
            ("API key (ke&yring):", self.key),
        ):
            label = QLabel(text)
            label.setBuddy(field)
            form.addRow(label, field)
        model_label = QLabel("&Model:")
        model_label.setBuddy(self.model)
        form.addRow(model_label, model_row)
        self.list_status = QLabel()
        self.list_status.setWordWrap(True)
        self.list_status.setAccessibleName("Server status")
        form.addRow("", self.list_status)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = self.buttons.addButton("&Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        if recent:
            self._recent_chosen(0)
        self.resize(560, 240)

    def _recent_chosen(self, index: int) -> None:
        if not 0 <= index < len(self.recent):
            return
        entry = self.recent[index]
        choice = server_choice(entry)
        self.key_env.setText(choice.api_key_env)
        self.model.clear()
        self.model.addItems(server_models(entry))
        self.model.setEditText(choice.model)

    def _api_key(self, url: str) -> str:
        name = self.key_env.text().strip()
        if name:
            return os.environ.get(name, "")
        return self.key.text().strip() or keyring_api_key(url)

    def list_models(self) -> QNetworkReply | None:
        """Ask the server (in the background) which models it serves, and offer them."""
        try:
            address = parse_server_url(self.url.currentText())
        except ServerUrlError as exc:
            self.list_status.setText(str(exc))
            return None
        name = self.key_env.text().strip()
        if name and name not in os.environ:
            self.list_status.setText(f"The environment variable {name} is not set.")
            return None
        host = f"[{address.host}]" if ":" in address.host else address.host
        request = QNetworkRequest(QUrl(f"{address.scheme}://{host}:{address.port}{address.path('models')}"))
        request.setTransferTimeout(15_000)
        key = self._api_key(address.url)
        if key:
            request.setRawHeader(b"Authorization", f"Bearer {key}".encode())
        self.list_status.setText(f"Asking {address.url} for its models…")
        self.list_button.setEnabled(False)
        reply = self._network.get(request)
        self._reply = reply
        reply.finished.connect(lambda: self._listed(reply, address.url))
        return reply

    def _listed(self, reply: QNetworkReply, url: str) -> None:
        self.list_button.setEnabled(True)
        reply.deleteLater()
        if self._reply is reply:
            self._reply = None
        if reply.error() != QNetworkReply.NetworkError.NoError:
            self.list_status.setText(f"Could not reach {url}: {reply.errorString()}")
            return
        body = bytes(reply.readAll().data())
        try:
            data = json.loads(body.decode("utf-8"))["data"]
            models = [str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")]
        except (ValueError, KeyError, TypeError):
            self.list_status.setText(f"{url} answered something that is not an OpenAI-compatible model list.")
            return
        typed = self.model.currentText()
        self.model.clear()
        self.model.addItems(models)
        if typed in models:
            self.model.setCurrentText(typed)
        counted = f"{len(models)} model{'s' if len(models) != 1 else ''}"
        self.list_status.setText(f"{counted}: choose one." if models else "The server lists no model.")

    def choice(self) -> ServerChoice | None:
        """What the user chose, or None when the URL is not a usable server URL."""
        try:
            address = parse_server_url(self.url.currentText())
        except ServerUrlError:
            return None
        return ServerChoice(address.url, self.key_env.text().strip(), self.model.currentText().strip())

    def accept(self) -> None:
        try:
            address = parse_server_url(self.url.currentText())
        except ServerUrlError as exc:
            self.list_status.setText(str(exc))
            return
        key = self.key.text().strip()
        if key and not self._store_key(address.url, key):
            return
        super().accept()

    def _store_key(self, url: str, key: str) -> bool:
        try:
            from keyring.errors import KeyringError

            store_api_key(url, key)
        except ImportError:
            self.list_status.setText(
                "The keyring package is not installed: put the key in an environment variable and name it above."
            )
            return False
        except (KeyringError, RuntimeError) as exc:
            self.list_status.setText(
                f"The system keyring could not keep the key ({exc}). Put it in an environment variable and "
                "name it above."
            )
            return False
        self.key.clear()
        return True
