"""The Generate panel: prompt and settings for the canvas's image generation, Generate / Vary / Cancel.

The panel only collects settings and shows state; :class:`~studio.ui.canvas.generation_controller.
GenerationController` listens to its signals and runs the jobs. ``show_generation_info`` shows the settings
read from an opened image, and "Use these settings" copies them into the fields.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRegularExpression, QSize, Qt, Signal
from PySide6.QtGui import QAction, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.canvas.generation import GenerateSettings
from studio.canvas.lora_tags import LoraTag, find_lora_tags, match_lora_tags, remove_lora_tags
from studio.canvas.png_metadata import GenerationInfo
from studio.engines.image_requests import MAX_SEED, MAX_SIDE, MIN_SIDE
from studio.engines.schedulers import SCHEDULER_SPECS, scheduler_for_sampler
from studio.engines.sd_checkpoint import model_path_problem
from studio.models.registry import DIFFUSION, ModelKind, ModelRegistry
from studio.ui.actions import make_action
from studio.ui.canvas.lora_list import LoraList
from studio.ui.dialogs import Dialogs, QtDialogs

DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 7.0
DEFAULT_CANDIDATES = 2
DEFAULT_STRENGTH = 0.5
MAX_CANDIDATES = 8
SETTINGS_MIN_HEIGHT = 24  # about a line: at small sizes a long message takes the room first
PROMPT_MIN_LINES = 3  # the prompt box never shows fewer lines, at any window size
PROMPT_LINES = 4  # what the prompt box asks for before the settings below it get more room
PROMPT_MAX_LINES = 6


class _PromptEdit(QPlainTextEdit):
    """A text box that asks for a few lines of height (a plain text edit asks for a dozen)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(super().sizeHint().width(), _text_height(self, PROMPT_LINES))


class _FitsAnyHeight(QWidget):
    """Holds the panel's rows without asking for a height that depends on the width.

    A scroll area around the panel (the main window puts it in one) makes a widget whose layout has
    height-for-width (word-wrapped labels do) as tall as that height, i.e. as tall as the whole settings
    form, which pushed the buttons below the fold. Saying no lets the panel take the visible height: the
    settings scroll inside it and the buttons and messages stay in sight.
    """

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return False


class GeneratePanel(QWidget):
    """Prompt, settings, image model, Generate / Vary / Cancel, progress and messages."""

    generate_requested = Signal()
    vary_requested = Signal()
    cancel_requested = Signal()
    upscale_requested = Signal()
    live_toggled = Signal(bool)
    apply_live_requested = Signal()
    model_changed = Signal(str)  # the chosen image model's path

    def __init__(self, parent: QWidget | None = None, dialogs: Dialogs | None = None) -> None:
        super().__init__(parent)
        self._dialogs: Dialogs = dialogs if dialogs is not None else QtDialogs(self)
        self.setAccessibleName("Generate panel")
        self._model_path = ""
        self._model_default_size = 0
        # a model's stored settings (Models window), taken when it is chosen
        self._model_settings: Callable[[str], dict[str, Any] | None] = lambda _path: None
        # the registered LoRA files, where "Use these settings" finds the LoRAs a prompt's tags name
        self._lora_files: Callable[[], Sequence[str]] = registered_lora_files
        self._loaded_info: GenerationInfo | None = None
        self._running = False
        self._settings_body: QWidget | None = None

        # model
        self.model_label = QLabel("No image model chosen")
        self.model_label.setAccessibleName("Image model")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choose_model_action = self._make_action(
            "Choose Image &Model…",
            "Ctrl+Alt+M",
            self.choose_model,
            "Choose an image model: a .safetensors checkpoint or a diffusers folder",
        )
        # The dialog takes files and folders alike; this older command (still in the Models menu) opens it too.
        self.choose_model_folder_action = self._make_action(
            "Choose Image Model &Folder…",
            "Ctrl+Alt+Shift+M",
            lambda: self.choose_model(folder=True),
            "Choose an image model: a diffusers folder or a .safetensors checkpoint",
        )
        self.choose_model_button = QToolButton()
        self.choose_model_button.setText("Choose model…")
        self.choose_model_button.setAccessibleName("Choose image model")
        self.choose_model_button.setToolTip(
            "Choose a .safetensors checkpoint or a diffusers folder (Ctrl+Alt+M)"
        )
        self.choose_model_button.clicked.connect(lambda: self.choose_model())

        # prompts
        self.prompt_edit = _PromptEdit()
        self.prompt_edit.setAccessibleName("Prompt")
        self.prompt_edit.setPlaceholderText("Describe the image… (Ctrl+Return generates)")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setMinimumHeight(_text_height(self.prompt_edit, PROMPT_MIN_LINES))
        self.prompt_edit.setMaximumHeight(_text_height(self.prompt_edit, PROMPT_MAX_LINES))
        self.prompt_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.negative_edit = QPlainTextEdit()
        self.negative_edit.setAccessibleName("Negative prompt")
        self.negative_edit.setPlaceholderText("What to avoid (optional)")
        self.negative_edit.setTabChangesFocus(True)
        self.negative_edit.setMaximumHeight(56)

        # settings
        self.steps_spin = QSpinBox()
        self.steps_spin.setAccessibleName("Steps")
        self.steps_spin.setRange(1, 500)
        self.steps_spin.setValue(DEFAULT_STEPS)
        self.guidance_spin = QDoubleSpinBox()
        self.guidance_spin.setAccessibleName("Guidance (CFG scale)")
        self.guidance_spin.setRange(0.0, 50.0)
        self.guidance_spin.setSingleStep(0.5)
        self.guidance_spin.setDecimals(1)
        self.guidance_spin.setValue(DEFAULT_GUIDANCE)
        self.seed_edit = QLineEdit()
        self.seed_edit.setAccessibleName("Seed")
        self.seed_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,19}"), self))
        self.seed_edit.setPlaceholderText("random")
        self.random_seed_check = QCheckBox("Random")
        self.random_seed_check.setAccessibleName("Random seed")
        self.random_seed_check.setToolTip("Use a new random seed for every generation")
        self.random_seed_check.toggled.connect(self._update_seed_enabled)
        self.random_seed_check.setChecked(True)
        self.new_seed_action = self._make_action(
            "New &Seed", "Ctrl+Alt+D", self.pick_new_seed, "Pick a new random seed and keep it"
        )
        self.new_seed_button = QToolButton()
        # not setDefaultAction: the action's longer text would come back on its next change and widen the panel
        self.new_seed_button.setText("New")
        self.new_seed_button.setToolTip(self.new_seed_action.toolTip())
        self.new_seed_button.clicked.connect(self.new_seed_action.trigger)
        self.new_seed_action.enabledChanged.connect(self.new_seed_button.setEnabled)
        self.new_seed_button.setAccessibleName("New seed")
        self.resolution_spin = QSpinBox()
        self.resolution_spin.setAccessibleName("Resolution")
        self.resolution_spin.setToolTip(
            "Long side of the image the model makes; Auto: the model's native size. The result is always "
            "scaled into the selection."
        )
        self.resolution_spin.setRange(0, MAX_SIDE)
        self.resolution_spin.setSingleStep(64)
        self.resolution_spin.setSpecialValueText("Auto")
        self.resolution_spin.setSuffix(" px")
        self.scheduler_combo = QComboBox()
        self.scheduler_combo.setAccessibleName("Sampler")
        for key, spec in SCHEDULER_SPECS.items():
            self.scheduler_combo.addItem(spec.label, key.value)
        self.candidates_spin = QSpinBox()
        self.candidates_spin.setAccessibleName("Number of candidates")
        self.candidates_spin.setRange(1, MAX_CANDIDATES)
        self.candidates_spin.setValue(DEFAULT_CANDIDATES)
        self.strength_spin = QDoubleSpinBox()
        self.strength_spin.setAccessibleName("Vary strength")
        self.strength_spin.setToolTip("How much Vary changes the layer: 0.3 subtle, 0.5 medium, 0.8 strong")
        self.strength_spin.setRange(0.05, 1.0)
        self.strength_spin.setSingleStep(0.05)
        self.strength_spin.setDecimals(2)
        self.strength_spin.setValue(DEFAULT_STRENGTH)
        self.fast_decode_check = QCheckBox("Fast decode (drafts)")
        self.fast_decode_check.setAccessibleName("Fast decode")
        self.set_fast_decode_available(False)
        self.lora_list = LoraList(self)
        self.lora_list.error.connect(self.show_error)

        # commands
        self.generate_action = self._make_action(
            "&Generate", "Ctrl+Return", self.generate_requested.emit, "Generate into the selection or canvas"
        )
        self.vary_action = self._make_action(
            "&Vary Layer",
            "Ctrl+Shift+Return",
            self.vary_requested.emit,
            "Make a variation of the active layer",
        )
        self.upscale_action = self._make_action(
            "&Upscale ×2",
            "Ctrl+Alt+Shift+U",
            self.upscale_requested.emit,
            "Double the image size and re-detail it in tiles with the image model (SD upscale)",
        )
        self.cancel_action = self._make_action(
            "&Cancel Generation", "Esc", self.cancel_requested.emit, "Cancel the running generation"
        )
        self.live_action = self._make_action(
            "&Live Painting",
            "Ctrl+Alt+L",
            lambda: None,  # toggled carries the state
            "While on, each pause in painting regenerates the selection (or the canvas) at the Vary strength, "
            "previewed in place",
        )
        self.live_action.setCheckable(True)
        self.live_action.toggled.connect(self.live_toggled.emit)
        self.apply_live_action = self._make_action(
            "&Apply Live Result",
            "Ctrl+Alt+Return",
            self.apply_live_requested.emit,
            "Add the live preview as a new layer",
        )
        self.apply_live_action.setEnabled(False)
        # Esc only while the focus is in the panel: on the canvas it belongs to the tools.
        self.cancel_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.generate_button = self._button(self.generate_action, "Generate")
        self.generate_button.setDefault(True)
        self.vary_button = self._button(self.vary_action, "Vary")
        self.cancel_button = self._button(self.cancel_action, "Cancel")
        self.live_button = self._button(self.live_action, "Live")
        self.live_button.setCheckable(True)
        self.live_button.clicked.disconnect()
        self.live_button.toggled.connect(self.live_action.setChecked)
        self.live_action.toggled.connect(self.live_button.setChecked)
        self.apply_live_button = self._button(self.apply_live_action, "Apply live result")
        self.apply_live_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.progress_bar.setAccessibleName("Generation progress")
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(8)
        self.message_label = QLabel()
        self.message_label.setAccessibleName("Generation message")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # settings read from an image
        self.info_box = QGroupBox("Loaded from image")
        self.info_box.setAccessibleName("Settings loaded from an image")
        self.info_label = QLabel()
        self.info_label.setAccessibleName("Loaded image settings")
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_info_action = self._make_action(
            "&Use These Settings", "Ctrl+Alt+U", self.use_loaded_settings, "Use the image's settings"
        )
        self.use_info_button = self._button(self.use_info_action, "Use these settings")
        info_layout = QVBoxLayout(self.info_box)
        info_layout.addWidget(self.info_label)
        info_layout.addWidget(self.use_info_button, 0, Qt.AlignmentFlag.AlignRight)
        self.info_box.setVisible(False)

        self._build_layout()
        self.set_running(False)

    # -- building ---------------------------------------------------------------------------------------

    def _make_action(self, text: str, shortcut: str, slot: object, description: str) -> QAction:
        return make_action(self, text, slot, shortcut=shortcut, description=description)  # type: ignore[arg-type]

    @staticmethod
    def _button(action: QAction, text: str) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(text)
        button.setToolTip(action.toolTip())
        button.clicked.connect(action.trigger)
        action.enabledChanged.connect(button.setEnabled)
        return button

    def _build_layout(self) -> None:
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(self.choose_model_button)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_edit, 1)
        seed_row.addWidget(self.random_seed_check)
        seed_row.addWidget(self.new_seed_button)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Guidance", self.guidance_spin)
        form.addRow("Seed", seed_row)
        form.addRow("Resolution", self.resolution_spin)
        form.addRow("Sampler", self.scheduler_combo)
        form.addRow("Candidates", self.candidates_spin)
        form.addRow("Vary strength", self.strength_spin)
        form.addRow("LoRAs", self.lora_list)
        form.addRow("", self.fast_decode_check)
        # The settings scroll; the model, the prompt, the commands and the messages never leave the screen.
        body = QWidget()
        body.setAccessibleName("Generation settings")
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.setSpacing(4)
        body_layout.addWidget(QLabel("Negative prompt"))
        body_layout.addWidget(self.negative_edit)
        body_layout.addLayout(form)
        body_layout.addWidget(self.info_box)
        body_layout.addStretch(1)
        self.settings_scroller = QScrollArea()
        self.settings_scroller.setAccessibleName("Generation settings")
        self.settings_scroller.setWidget(body)
        self._settings_body = body
        self.settings_scroller.setWidgetResizable(True)
        self.settings_scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.settings_scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.settings_scroller.setMinimumWidth(
            body.minimumSizeHint().width() + self.settings_scroller.verticalScrollBar().sizeHint().width()
        )
        self.settings_scroller.setMinimumHeight(SETTINGS_MIN_HEIGHT)
        prompt_label = QLabel("Prompt")
        prompt_label.setBuddy(self.prompt_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.vary_button, 1)
        buttons.addWidget(self.cancel_button, 1)
        live_row = QHBoxLayout()
        live_row.addWidget(self.live_button, 1)
        live_row.addWidget(self.apply_live_button, 2)
        content = _FitsAnyHeight()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(model_row)
        layout.addWidget(prompt_label)
        layout.addWidget(self.prompt_edit)
        layout.addWidget(self.settings_scroller, 1)
        layout.addLayout(buttons)
        layout.addLayout(live_row)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.message_label)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(content)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """The least height that shows the model, prompt, commands and the whole message at this width (a
        wrapped label's own hint guesses its width)."""
        hint = super().minimumSizeHint()
        extra = 0
        for label in (self.model_label, self.message_label):
            if label.isVisibleTo(self) and label.text() and label.width() > 0:
                extra += max(0, label.heightForWidth(label.width()) - label.minimumSizeHint().height())
        return QSize(hint.width(), hint.height() + extra)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Room for every setting without scrolling (a scroll area's own hint stops at a few lines)."""
        hint = super().sizeHint()
        if self._settings_body is None:  # asked while the panel is being built
            return hint
        scroller = self.settings_scroller
        body = self._settings_body.sizeHint().height() + 2 * scroller.frameWidth()
        return QSize(hint.width(), hint.height() + max(0, body - scroller.sizeHint().height()))

    # -- settings ---------------------------------------------------------------------------------------

    @property
    def model_path(self) -> str:
        """The chosen image model (a ``.safetensors`` file or a diffusers folder), or ``""``."""
        return self._model_path

    def seed(self) -> int:
        """The seed to use: -1 when random (or the field is empty)."""
        text = self.seed_edit.text().strip()
        if self.random_seed_check.isChecked() or not text:
            return -1
        return min(int(text), MAX_SEED)

    def set_seed(self, seed: int | None) -> None:
        """Fix the seed (None: go back to random seeds)."""
        if seed is None or seed < 0:
            self.random_seed_check.setChecked(True)
            return
        self.seed_edit.setText(str(min(seed, MAX_SEED)))
        self.random_seed_check.setChecked(False)

    def pick_new_seed(self) -> None:
        """Put a new random seed in the field and keep it fixed."""
        self.set_seed(secrets.randbelow(2**32))

    def scheduler(self) -> str:
        return str(self.scheduler_combo.currentData())

    def set_scheduler(self, scheduler: str) -> None:
        index = self.scheduler_combo.findData(str(scheduler))
        if index >= 0:
            self.scheduler_combo.setCurrentIndex(index)

    def resolution(self) -> int:
        """The resolution override (long side, a multiple of 8), or 0 for auto."""
        value = self.resolution_spin.value()
        return 0 if value == 0 else max(MIN_SIDE, value // 8 * 8)

    def native_resolution(self) -> int:
        """The long side the model should make: the override, else the model's native size, else 512."""
        return self.resolution() or self._model_default_size or 512

    def settings(self) -> GenerateSettings:
        """The fields' values."""
        return GenerateSettings(
            prompt=self.prompt_edit.toPlainText().strip(),
            negative_prompt=self.negative_edit.toPlainText().strip(),
            steps=self.steps_spin.value(),
            guidance=self.guidance_spin.value(),
            seed=self.seed(),
            scheduler=self.scheduler(),
            num_candidates=self.candidates_spin.value(),
            strength=self.strength_spin.value(),
            resolution=self.resolution(),
            model_path=self._model_path,
            fast_decode=self.fast_decode_check.isEnabled() and self.fast_decode_check.isChecked(),
            loras=self.lora_list.loras(),
        )

    # -- image model ------------------------------------------------------------------------------------

    def choose_model(self, folder: bool = False) -> None:
        """Ask for a model and make it the image model."""
        start = str(Path(self._model_path).parent) if self._model_path else ""
        path = self._dialogs.image_model_path(folder, start)
        if path:
            self.set_model_path(path)

    def set_model_path(self, path: str, *, notify: bool = True) -> bool:
        """Make ``path`` the image model; shows why not and returns False when it cannot be one.

        ``notify`` emits ``model_changed`` (the controller then loads the model at once); restore a saved
        choice with ``notify=False`` and the model loads with the first generation."""
        problem = model_path_problem(path)
        if problem is not None:
            self.show_error(f"Cannot use this image model: {problem}.")
            return False
        chosen = path != self._model_path
        self._model_path = path
        self._model_default_size = 0
        self.set_fast_decode_available(False)  # known once the model has loaded
        name = Path(path).name
        self.model_label.setText(name)
        self.model_label.setToolTip(path)
        own = self._model_settings(path) if chosen else None
        if own:
            self.apply_model_settings(own)
        self.show_message(f"Image model: {name}" + (" (its own settings)" if own else ""))
        if notify:
            self.model_changed.emit(path)
        return True

    def set_model_settings_source(self, source: Callable[[str], dict[str, Any] | None]) -> None:
        """Where a model's stored settings come from (None or empty: it has none); a newly chosen model's
        steps, guidance, sampler and size fill the fields, which the user can change afterwards."""
        self._model_settings = source

    def set_lora_files_source(self, source: Callable[[], Sequence[str]]) -> None:
        """Where the known LoRA files come from (default: the model registry's LoRAs, read when asked)."""
        self._lora_files = source

    def apply_model_settings(self, values: dict[str, Any]) -> None:
        """Set steps, guidance, sampler and resolution (the long side of width × height) from ``values``
        (:mod:`studio.models.model_settings` keys); keys it lacks keep their fields."""
        if "steps" in values:
            self.steps_spin.setValue(int(values["steps"]))
        if "guidance" in values:
            self.guidance_spin.setValue(float(values["guidance"]))
        if "scheduler" in values:
            self.set_scheduler(str(values["scheduler"]))
        side = max(int(values.get("width", 0)), int(values.get("height", 0))) // 8 * 8
        if side:
            self.resolution_spin.setValue(max(MIN_SIDE, min(MAX_SIDE, side)))

    def set_fast_decode_available(self, available: bool) -> None:
        """Offer fast decoding only when the loaded model has a TAESD to decode with."""
        self.fast_decode_check.setEnabled(available)
        self.fast_decode_check.setToolTip(
            "Decode with the model's TAESD: much faster, a little less detail (drafts, Live mode)"
            if available
            else "Fast decode needs a TAESD decoder for this model's family: get one once in Models ▸ "
            "Download… ▸ TAESD (SD 1.x/2.x) or TAESDXL (SDXL), or put a taesd folder next to the model"
        )

    def set_model_info(self, name: str, description: str = "", default_size: int = 0) -> None:
        """Show what the engine said about the loaded model; ``default_size`` becomes the auto resolution."""
        self._model_default_size = default_size if default_size >= MIN_SIDE else 0
        self.model_label.setText(f"{name} — {description}" if description else name)

    # -- state ------------------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._running

    def set_live_result_available(self, available: bool) -> None:
        """Enable “Apply live result” while Live mode has a result previewed."""
        self.apply_live_action.setEnabled(available)

    def set_running(self, running: bool) -> None:
        """Switch between idle (Generate / Vary) and running (Cancel, progress)."""
        self._running = running
        self.generate_action.setEnabled(not running)
        self.vary_action.setEnabled(not running)
        self.upscale_action.setEnabled(not running)
        self.cancel_action.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.generate_button.setEnabled(not running)
        self.vary_button.setEnabled(not running)
        self.progress_bar.setVisible(running)
        if running:
            self.progress_bar.setRange(0, 0)

    def set_progress(self, fraction: float | None, message: str = "") -> None:
        """Show progress (None: busy without a known fraction)."""
        if fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 100)
            self.progress_bar.setValue(round(max(0.0, min(1.0, fraction)) * 100))
        if message:
            self.show_message(message)

    @property
    def message(self) -> str:
        return self.message_label.text()

    @property
    def message_is_error(self) -> bool:
        return bool(self.message_label.property("error"))

    def show_message(self, text: str) -> None:
        self.message_label.setProperty("error", False)
        self.message_label.setStyleSheet("")
        self.message_label.setText(text)

    def show_error(self, text: str) -> None:
        """Show a failure in red, in the panel (never a modal dialog)."""
        self.message_label.setProperty("error", True)
        self.message_label.setStyleSheet("color: #d32f2f;")
        self.message_label.setText(text)

    # -- settings read from an image --------------------------------------------------------------------

    def show_generation_info(self, info: GenerationInfo | None) -> None:
        """Show the settings read from an opened image (None hides the box)."""
        self._loaded_info = info
        self.info_box.setVisible(info is not None)
        if info is None:
            return
        lines = [f"<b>Prompt:</b> {_escape(info.prompt) or '<i>none</i>'}"]
        if info.negative_prompt:
            lines.append(f"<b>Negative:</b> {_escape(info.negative_prompt)}")
        details = [
            f"{label}: {value}"
            for label, value in (
                ("Steps", info.steps),
                ("CFG", info.cfg),
                ("Seed", info.seed),
                ("Size", f"{info.width}×{info.height}" if info.width and info.height else None),
                ("Sampler", info.sampler),
                ("Model", info.model),
            )
            if value not in (None, "")
        ]
        if details:
            lines.append(_escape(", ".join(details)))
        lines.append(f"<i>From {_escape(_SOURCE_NAMES.get(info.source, info.source))}</i>")
        self.info_label.setText("<br>".join(lines))

    def use_loaded_settings(self) -> None:
        """Copy the loaded image's settings into the fields (the model is only named, never switched)."""
        info = self._loaded_info
        if info is None:
            return
        self.load_generation_info(info)

    def load_generation_info(self, info: GenerationInfo) -> None:
        """Set the fields from ``info``; fields it does not have keep their values. LoRAs named without a
        file (A1111's ``<lora:name:weight>`` prompt tags) are looked up by name among the registered LoRA files
        and those already in the LoRA list; the tags of those found leave the prompt and their files fill the
        list."""
        loras, found_tags, missing = self._loras_of(info)
        self.prompt_edit.setPlainText(remove_lora_tags(info.prompt, found_tags))
        self.negative_edit.setPlainText(info.negative_prompt)
        if info.steps is not None:
            self.steps_spin.setValue(max(1, min(500, info.steps)))
        if info.cfg is not None:
            self.guidance_spin.setValue(max(0.0, min(50.0, info.cfg)))
        if info.seed is not None and info.seed >= 0:
            self.set_seed(info.seed)
        scheduler = scheduler_for_sampler(info.sampler)
        if scheduler is not None:
            self.set_scheduler(scheduler)
        if info.width and info.height:
            side = max(info.width, info.height) // 8 * 8
            self.resolution_spin.setValue(max(MIN_SIDE, min(MAX_SIDE, side)))
        notes: list[str] = []
        if loras or missing:
            notes.extend(problem.rstrip(".") for problem in self.lora_list.set_loras(loras))
        if missing:
            notes.append(
                f"LoRA not found: {', '.join(missing)} — add {'it' if len(missing) == 1 else 'them'} in the LoRA list"
            )
        if info.sampler and scheduler is None:
            notes.append(
                f"sampler “{info.sampler}” is not available, kept {self.scheduler_combo.currentText()}"
            )
        if info.model and Path(self._model_path).stem != Path(info.model).stem:
            notes.append(f"it was made with the model “{info.model}”")
        self.show_message("Loaded the image's settings" + (f" ({'; '.join(notes)})" if notes else "") + ".")

    def _loras_of(self, info: GenerationInfo) -> tuple[list[tuple[str, float]], list[str], list[str]]:
        """``info``'s LoRAs as ``(path, weight)``, the names found by looking them up, and those not found."""
        loras: list[tuple[str, float]] = []
        unplaced: list[LoraTag] = []
        for entry in info.loras:
            name = str(entry.get("name") or "")
            if entry.get("path"):
                loras.append((str(entry["path"]), _weight(entry.get("weight"))))
            else:
                unplaced.append(LoraTag(name, _weight(entry.get("weight")), str(entry.get("tag") or "")))
        listed = {str(entry.get("name") or "").casefold() for entry in info.loras}
        unplaced.extend(tag for tag in find_lora_tags(info.prompt) if tag.key not in listed)
        if not unplaced:
            return loras, [], []
        try:
            known = list(self._lora_files())
        except OSError:
            known = []
        known.extend(path for path, _weight in self.lora_list.loras())  # added by hand, as the message asks
        found, missing = match_lora_tags(unplaced, known)
        missing_keys = {tag.key for tag in missing}
        found_names = [tag.name for tag in unplaced if tag.key not in missing_keys]
        return loras + found, found_names, [tag.name or "?" for tag in missing]

    def _update_seed_enabled(self, random: bool) -> None:
        self.seed_edit.setEnabled(not random)


_SOURCE_NAMES = {"a1111": "AUTOMATIC1111", "comfyui": "ComfyUI", "invokeai": "InvokeAI", "studio": "Studio"}


def registered_lora_files() -> list[str]:
    """The LoRA files in the model registry (read afresh), most recently used first."""
    return [entry.path for entry in ModelRegistry().entries(DIFFUSION) if entry.model_kind is ModelKind.LORA]


def _weight(value: object) -> float:
    """A LoRA weight from loaded settings (1 when missing or not a number)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1.0


def _text_height(edit: QPlainTextEdit, lines: int) -> int:
    """The height at which ``edit`` shows ``lines`` lines of its font."""
    margin = edit.document().documentMargin()
    return round(lines * edit.fontMetrics().lineSpacing() + 2 * margin) + 2 * edit.frameWidth()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
