"""Write ▸ Illustrate Passage: the LLM writes an image prompt for the selected passage (shown, editable), the
diffusion engine makes pictures of it with the chosen image model, and the picked one is saved into the
document's ``images/`` folder (with Studio's provenance metadata) and inserted after the passage as a
Markdown image, one undo step.

Generation follows the canvas's rule: a generation never loads a model, so the model's load job goes first
(through ``load_model``, the canvas controller's :meth:`GenerationController.load_model` in the app, so the
canvas knows what is loaded), and the image job is sent once it is in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QResizeEvent, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.canvas.errors import ImageLoadError
from studio.canvas.generation import GenerateSettings, model_size_for, settings_request
from studio.canvas.image_io import load_image
from studio.engines.image_requests import LoadPipelineRequest
from studio.engines.protocol import EngineEvent, new_job_id
from studio.engines.results import CompletionResult, ImageResult, PipelineLoadResult
from studio.engines.schedulers import Scheduler
from studio.models.registry import ModelRegistry
from studio.models.taesd import registered_taesd
from studio.ui.canvas.candidates_strip import CandidatesStrip
from studio.ui.canvas.qimage import rgba_to_qimage
from studio.ui.jobs import JobHandle, JobRunner
from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.ghost_text import py_to_qt_index, qt_to_py_index
from studio.writing.illustration import (
    IllustrationError,
    SavedIllustration,
    clean_image_prompt,
    image_prompt_request,
    insertion,
    save_illustration,
)
from studio.writing.prompts import PromptError
from studio.writing.rewrite import BASE, INSTRUCT

log = logging.getLogger(__name__)

ModelLoader = Callable[[str], JobHandle | None]

SHORTCUT = "Ctrl+Alt+P"  # P for picture (Ctrl+Alt+I is the Canvas's Image Size)
DEFAULT_SIDE = 512
SHAPES = (("Square", 1, 1), ("Landscape (4:3)", 4, 3), ("Portrait (3:4)", 3, 4), ("Wide (16:9)", 16, 9))
NO_MODEL_MESSAGE = (
    "No image model chosen: pick one in the Canvas (Choose model…) or in the Models menu, then generate."
)


def default_image_settings(model_path: str) -> GenerateSettings:
    """The Generate panel's defaults for ``model_path`` (when no panel is there to ask)."""
    return GenerateSettings(
        prompt="",
        negative_prompt="",
        steps=20,
        guidance=7.0,
        seed=-1,
        scheduler=Scheduler.DEFAULT.value,
        num_candidates=2,
        strength=1.0,
        resolution=0,
        model_path=model_path,
    )


@dataclass(eq=False)
class Picture:
    """One generated candidate: its pixels and the engine's parameters (prompt, seed, model...)."""

    rgb: np.ndarray
    params: dict[str, Any]


def _rgba(png: bytes) -> np.ndarray:
    return np.ascontiguousarray(load_image(png))


class IllustrateDialog(QDialog):
    """Illustrate the passage selected in ``editor``: prompt, generate, pick, insert."""

    inserted = Signal(object)  # the SavedIllustration, after the Markdown went into the document

    def __init__(
        self,
        runner: JobRunner,
        editor: MarkdownEditor,
        document_path: str | None,
        *,
        model_kind: str = BASE,
        image_settings: GenerateSettings | None = None,
        load_model: ModelLoader | None = None,
        write_prompt: bool = True,
        seed: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Illustrate Passage")
        self.setAccessibleName("Illustrate Passage")
        self.runner = runner
        self.editor = editor
        self.document_path = document_path
        self.model_kind = INSTRUCT if model_kind == INSTRUCT else BASE
        self.image_settings = image_settings or default_image_settings("")
        self._load_model = load_model
        self.pictures: list[Picture] = []
        self.saved: SavedIllustration | None = None
        self.prompt_job: JobHandle[CompletionResult] | None = None
        self.image_job: JobHandle[ImageResult] | None = None
        self._load_job: JobHandle | None = None
        self._prompt_raw = ""
        self._shown: QImage | None = None
        self._cancelled_jobs: set[str] = set()  # their finished pictures still arrive with the cancel
        self._seed = seed  # the prompt's sampling seed (None: a new one each time)
        cursor = editor.textCursor()
        text = editor.document_text()
        self._start = qt_to_py_index(text, cursor.selectionStart())
        self._end = qt_to_py_index(text, cursor.selectionEnd())
        self.passage = text[self._start : self._end]
        self._build()
        runner.event_received.connect(self._on_runner_event)
        self._update_buttons()
        if write_prompt and self.passage.strip():
            self.write_prompt()
        elif not self.passage.strip():
            self.show_error("Select the passage to illustrate first.")

    # -- layout -----------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.passage_view = QPlainTextEdit(self.passage.strip())
        self.passage_view.setReadOnly(True)
        self.passage_view.setAccessibleName("Passage")
        self.passage_view.setMaximumHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setAccessibleName("Image prompt")
        self.prompt_edit.setPlaceholderText("What the picture shows (the model writes a first version)")
        self.prompt_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.prompt_edit.textChanged.connect(self._update_buttons)
        self.rewrite_button = QPushButton("Write &Again")
        self.rewrite_button.setToolTip("Let the language model write another prompt for the passage")
        self.rewrite_button.clicked.connect(self.write_prompt)

        self.shape_combo = QComboBox()
        self.shape_combo.setAccessibleName("Shape")
        for label, width, height in SHAPES:
            self.shape_combo.addItem(label, (width, height))
        model = self.image_settings.model_path
        self.model_label = QLabel(Path(model).name if model else "no image model chosen")
        self.model_label.setAccessibleName("Image model")
        self.model_label.setToolTip(model)
        self.generate_button = QPushButton("&Generate")
        self.generate_button.setToolTip("Make pictures of the prompt with the image model")
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop writing the prompt or making pictures")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)

        self.picture_label = QLabel("The pictures appear here.")
        self.picture_label.setAccessibleName("Picture")
        self.picture_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture_label.setMinimumSize(160, 120)
        self.picture_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.picture_label.setStyleSheet("QLabel { border: 1px solid palette(mid); }")
        self.strip = CandidatesStrip()
        self.strip.candidate_selected.connect(self._show_picture)
        self.strip.candidate_applied.connect(lambda _index: self.insert())
        self.strip.candidate_discarded.connect(self._on_discarded)
        self.strip.candidates_cleared.connect(self._on_cleared)
        self.strip.apply_action.setText("&Insert")
        for button in self.strip.findChildren(QToolButton):
            if button.defaultAction() is self.strip.apply_action:
                button.setText("Insert")
                button.setAccessibleName("Insert candidate")

        self.message_label = QLabel()
        self.message_label.setAccessibleName("Message")
        self.message_label.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.insert_button = self.buttons.addButton("&Insert", QDialogButtonBox.ButtonRole.AcceptRole)
        self.insert_button.setToolTip(
            "Save the picked picture into the images folder next to the document and insert it after the "
            "passage"
        )
        self.insert_button.clicked.connect(self.insert)
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.reject)

        form = QGridLayout()
        form.addWidget(QLabel("Passage:"), 0, 0, Qt.AlignmentFlag.AlignTop)
        form.addWidget(self.passage_view, 0, 1, 1, 2)
        prompt_label = QLabel("Image &prompt:")
        prompt_label.setBuddy(self.prompt_edit)
        form.addWidget(prompt_label, 1, 0, Qt.AlignmentFlag.AlignTop)
        form.addWidget(self.prompt_edit, 1, 1)
        form.addWidget(self.rewrite_button, 1, 2, Qt.AlignmentFlag.AlignTop)
        form.setColumnStretch(1, 1)
        run_row = QHBoxLayout()
        shape_label = QLabel("&Shape:")
        shape_label.setBuddy(self.shape_combo)
        run_row.addWidget(shape_label)
        run_row.addWidget(self.shape_combo)
        run_row.addWidget(QLabel("Model:"))
        run_row.addWidget(self.model_label, 1)
        run_row.addWidget(self.generate_button)
        run_row.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.picture_label, 1)
        layout.addWidget(self.strip)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.resize(760, 640)

    # -- state ------------------------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        return " ".join(self.prompt_edit.toPlainText().split())

    @property
    def is_writing_prompt(self) -> bool:
        return self.prompt_job is not None

    @property
    def is_generating(self) -> bool:
        return self.image_job is not None or self._load_job is not None

    def _update_buttons(self) -> None:
        busy = self.is_writing_prompt or self.is_generating
        has_passage = bool(self.passage.strip())
        self.rewrite_button.setEnabled(has_passage and not self.is_generating)
        self.generate_button.setEnabled(bool(self.prompt) and not busy)
        self.cancel_button.setEnabled(busy)
        self.insert_button.setEnabled(bool(self.pictures) and not busy)
        self.prompt_edit.setReadOnly(self.is_writing_prompt)

    def show_message(self, text: str) -> None:
        self.message_label.setStyleSheet("")
        self.message_label.setText(text)

    def show_error(self, text: str) -> None:
        self.message_label.setStyleSheet("QLabel { color: palette(highlight); font-weight: bold; }")
        self.message_label.setText(text)

    def _set_progress(self, fraction: float | None, message: str = "") -> None:
        if fraction is None:
            self.progress.setRange(0, 0)  # busy
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(round(max(0.0, min(1.0, fraction)) * 100))
        if message:
            self.show_message(message)

    # -- the image prompt -------------------------------------------------------------------------------

    def write_prompt(self) -> JobHandle[CompletionResult] | None:
        """Ask the language model for an image prompt; it streams into the prompt box."""
        if self.prompt_job is not None:
            self.prompt_job.cancel()
            self.prompt_job = None
        try:
            plan = image_prompt_request(self.passage, model_kind=self.model_kind, seed=self._seed)
        except (ValueError, PromptError) as exc:
            self.show_error(str(exc))
            return None
        handle = self.runner.run(plan.request, "Writing an image prompt")
        self.prompt_job = handle
        self._prompt_raw = ""
        self.prompt_edit.clear()
        self._set_progress(None, "The language model is writing a prompt for the picture…")

        def current() -> bool:
            return self.prompt_job is handle

        def on_tokens(piece: str) -> None:
            if current():
                self._prompt_raw += piece
                self.prompt_edit.setPlainText(clean_image_prompt(self._prompt_raw, self.model_kind))

        def on_success(result: CompletionResult) -> None:
            if not current():
                return
            text = clean_image_prompt(self._prompt_raw or result.text, self.model_kind)
            self.prompt_edit.setPlainText(text)
            self._end_prompt()
            if text:
                self.show_message("Edit the prompt if you like, then Generate.")
            else:
                self.show_error("The model wrote no prompt: write one yourself, or Write Again.")

        def on_failure(message: str) -> None:
            if current():
                self._end_prompt()
                self.show_error(f"No prompt was written: {message}" if message else "No prompt was written.")

        def on_cancelled() -> None:
            if current():
                self._end_prompt()
                self.show_message("Stopped writing the prompt.")

        handle.on_tokens(on_tokens).on_success(on_success).on_failure(on_failure)
        handle.on_cancelled(on_cancelled)
        self._update_buttons()
        return handle

    def _end_prompt(self) -> None:
        self.prompt_job = None
        self._set_progress(0.0)
        self._update_buttons()

    # -- generating -------------------------------------------------------------------------------------

    def generate(self) -> JobHandle | None:
        """Load the image model (a no-op in the engine when it is loaded), then make the pictures."""
        if self.is_generating:
            return None
        prompt = self.prompt
        if not prompt:
            self.show_error("Write a prompt first.")
            return None
        path = self.image_settings.model_path
        if not path:
            self.show_error(NO_MODEL_MESSAGE)
            return None
        if self.prompt_job is not None:  # the user's own words win over a prompt still streaming
            job, self.prompt_job = self.prompt_job, None
            job.cancel()
        if self._load_model is not None:
            load = self._load_model(path)
        else:
            taesd = registered_taesd(ModelRegistry(), path)  # previews: the registered TAESD of its family
            request = LoadPipelineRequest(new_job_id(), model_path=path, taesd_path=taesd)
            load = self.runner.run(request, "Loading image model")
        if load is None:
            self.show_error("The image model could not be loaded.")
            return None
        self._load_job = load
        self._set_progress(None, "Loading the image model…")

        def on_loaded(loaded: PipelineLoadResult) -> None:
            if self._load_job is load:
                self._load_job = None
                self.model_label.setText(loaded.model or Path(path).name)
                self._submit(prompt, loaded.default_size)

        def on_failure(message: str) -> None:
            if self._load_job is load:
                self._load_job = None
                self._set_progress(0.0)
                self._update_buttons()
                self.show_error(f"The image model could not be loaded: {message}")

        load.on_success(on_loaded).on_failure(on_failure)
        load.on_cancelled(lambda: on_failure("cancelled"))
        self._update_buttons()
        return load

    def _model_size(self, native: int) -> tuple[int, int]:
        width, height = self.shape_combo.currentData() or (1, 1)
        side = self.image_settings.resolution or native or DEFAULT_SIDE
        return model_size_for(int(width) * 64, int(height) * 64, side)

    def _submit(self, prompt: str, native: int) -> JobHandle[ImageResult] | None:
        settings = replace(self.image_settings, prompt=prompt)
        width, height = self._model_size(native)
        request = settings_request(settings, (width, height))
        problem = request.problem()
        if problem is not None:
            self._set_progress(0.0)
            self._update_buttons()
            self.show_error(problem[0].upper() + problem[1:] + ".")
            return None
        handle = self.runner.run(request, "Illustrating a passage")
        self.image_job = handle

        def current() -> bool:
            return self.image_job is handle

        def on_progress(fraction: float | None, message: str) -> None:
            if current():
                self._set_progress(fraction, message)

        def on_preview(event: EngineEvent) -> None:
            if current() and event.image:
                try:
                    self._show_image(rgba_to_qimage(_rgba(event.image)))
                except ImageLoadError:
                    log.warning("undecodable preview image")

        def on_success(result: ImageResult) -> None:
            if current():
                self._end_generation()
                self._add_pictures(result)

        def on_failure(message: str) -> None:
            if current():
                self._end_generation()
                self.show_error(message or "Image generation failed.")

        def on_cancelled() -> None:
            if current():
                self._cancelled_jobs.add(handle.job_id)
                self._end_generation()
                self.show_message("Cancelled.")

        handle.on_progress(on_progress).on_preview(on_preview).on_success(on_success)
        handle.on_failure(on_failure).on_cancelled(on_cancelled)
        self._set_progress(0.0, f"Making {settings.num_candidates} picture(s) of {width}×{height}…")
        self._update_buttons()
        return handle

    def _end_generation(self) -> None:
        self.image_job = None
        self._set_progress(0.0)
        self._update_buttons()

    def _add_pictures(self, result: ImageResult) -> None:
        params = list(result.candidates)
        if len(params) != len(result.images):
            params = [{} for _ in result.images]
        first = len(self.pictures)
        for png, values in zip(result.images, params, strict=True):
            try:
                rgba = _rgba(png)
            except ImageLoadError as exc:
                log.warning("undecodable result image: %s", exc)
                continue
            self.pictures.append(Picture(np.ascontiguousarray(rgba[:, :, :3]), dict(values)))
            seed = values.get("seed")
            self.strip.add_candidate(rgba_to_qimage(rgba), f"Seed {seed}" if seed is not None else "")
        if len(self.pictures) == first:
            self.show_error("The engine sent no picture.")
            return
        self.strip.select(first)
        self._update_buttons()
        self.show_message("Pick a picture, then Insert (or double-click it).")

    def _on_runner_event(self, event: EngineEvent) -> None:
        """Keep the pictures a cancelled job had finished (its ``cancelled`` event carries them)."""
        if not event.kind.is_terminal or event.job_id not in self._cancelled_jobs:
            return
        self._cancelled_jobs.discard(event.job_id)
        if isinstance(event.result, ImageResult) and event.result.images:
            self._add_pictures(event.result)
            self.show_message("Cancelled; kept the pictures finished before.")

    def cancel(self) -> None:
        """Stop writing the prompt or making pictures (the pictures already made stay)."""
        if self.prompt_job is not None:
            job, self.prompt_job = self.prompt_job, None
            job.cancel()
            self.show_message("Stopped writing the prompt.")
        if self.image_job is not None:
            image_job, self.image_job = self.image_job, None
            self._cancelled_jobs.add(image_job.job_id)
            image_job.cancel()
            self.show_message("Cancelled.")
        if self._load_job is not None:
            self._load_job = None  # the model keeps loading for later; only this wait ends
            self.show_message("Cancelled.")
        self._set_progress(0.0)
        self._update_buttons()

    # -- pictures ---------------------------------------------------------------------------------------

    def _show_image(self, image: QImage) -> None:
        self._shown = image
        size = self.picture_label.size()
        pixmap = QPixmap.fromImage(image).scaled(
            size.width() - 4,
            size.height() - 4,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.picture_label.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._shown is not None:
            self._show_image(self._shown)

    def _show_picture(self, index: int) -> None:
        if 0 <= index < len(self.pictures) and not self.is_generating:
            rgb = self.pictures[index].rgb
            rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, dtype=np.uint8)])
            self._show_image(rgba_to_qimage(rgba))

    def _on_discarded(self, index: int) -> None:
        if 0 <= index < len(self.pictures):
            del self.pictures[index]
        self._update_buttons()

    def _on_cleared(self) -> None:
        self.pictures.clear()
        self._shown = None
        self.picture_label.clear()
        self.picture_label.setText("The pictures appear here.")
        self._update_buttons()

    def selected_index(self) -> int:
        """The picked picture (the only one when there is one), or -1."""
        index = self.strip.current_index()
        if index < 0 and len(self.pictures) == 1:
            return 0
        return index

    # -- inserting --------------------------------------------------------------------------------------

    def _passage_end(self, text: str) -> int | None:
        """Where the passage ends in the document now (it may have moved while the dialog was open)."""
        if text[self._start : self._end] == self.passage:
            return self._end
        found = text.find(self.passage) if self.passage else -1
        return found + len(self.passage) if found >= 0 else None

    def insert(self) -> SavedIllustration | None:
        """Save the picked picture next to the document and insert its Markdown after the passage (one undo
        step); the dialog closes. None, with the reason shown, when that cannot be done."""
        if self.is_generating:
            return None
        index = self.selected_index()
        if not 0 <= index < len(self.pictures):
            self.show_error("Pick a picture first.")
            return None
        text = self.editor.document_text()
        end = self._passage_end(text)
        if end is None:
            self.show_error("The passage changed in the document: close this and select it again.")
            return None
        picture = self.pictures[index]
        try:
            saved = save_illustration(self.document_path, picture.rgb, picture.params, passage=self.passage)
        except IllustrationError as exc:
            self.show_error(str(exc))
            return None
        position, inserted = insertion(text, end, saved.markdown)
        cursor = QTextCursor(self.editor.document())
        cursor.setPosition(py_to_qt_index(text, position))
        cursor.beginEditBlock()
        cursor.insertText(inserted)
        cursor.endEditBlock()
        self.editor.setTextCursor(cursor)
        self.editor.ensureCursorVisible()
        self.saved = saved
        self.inserted.emit(saved)
        self.accept()
        return saved

    def done(self, result: int) -> None:
        """Closing stops what still runs."""
        if self.prompt_job is not None or self.image_job is not None or self._load_job is not None:
            self.cancel()
        super().done(result)


def illustrate_shortcut() -> QKeySequence:
    """Write ▸ Illustrate Passage…'s key."""
    return QKeySequence(SHORTCUT)
