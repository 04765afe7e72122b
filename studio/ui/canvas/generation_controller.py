"""Runs the canvas's image generation: plan from the selection, engine job, in-place previews, candidates.

``generate()`` follows the selection (:func:`studio.canvas.generation.plan_generation`: txt2img, inpaint or
outpaint); ``vary()`` makes an img2img variation of the active layer. Every preview the engine sends is shown
in place through ``preview_target(rect, image)`` (``rect`` in the canvas's *current* coordinates, so it may
reach past the edge while outpainting; ``(None, None)`` clears the preview). Results go to the
:class:`CandidatesStrip` with the plan they were made for, so applying one after other edits still lands in
the right place; applying adds one undoable layer named ``"{prompt} ({seed})"`` carrying its provenance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from studio.canvas.document import CanvasDocument, Layer
from studio.canvas.errors import CanvasError, ImageLoadError
from studio.canvas.generation import (
    GenerateSettings,
    GenerationMode,
    GenerationPlan,
    add_generated_layer,
    blend_region,
    image_request,
    layer_name,
    plan_generation,
    plan_variation,
)
from studio.canvas.geometry import Rect
from studio.canvas.image_io import load_image
from studio.engines.image_requests import ImageRequest, LoadPipelineRequest
from studio.engines.protocol import EngineEvent, new_job_id
from studio.engines.results import ImageResult, PipelineLoadResult
from studio.models.registry import ModelRegistry
from studio.models.taesd import family_of_kind, registered_taesd
from studio.ui.canvas.candidates_strip import CandidatesStrip
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.jobs import JobHandle, JobRunner, JobState

log = logging.getLogger(__name__)

PreviewTarget = Callable[[Rect | None, QImage | None], None]
DocumentProvider = Callable[[], CanvasDocument | None]
TaesdLookup = Callable[[str, str], str]


def registry_taesd(model_path: str, family: str = "") -> str:
    """The registered TAESD (Studio's model registry, read now: ``studio models`` may have added one) that the
    image model at ``model_path`` should load with; "" when it has its own beside it or none fits."""
    return registered_taesd(ModelRegistry(), model_path, family)


NO_MODEL_MESSAGE = (
    "No image model chosen. Click “Choose model…” and pick a Stable Diffusion .safetensors checkpoint "
    "or a diffusers model folder."
)
_JOB_LABELS = {
    GenerationMode.TEXT_TO_IMAGE: "Generating image",
    GenerationMode.IMAGE_TO_IMAGE: "Varying layer",
    GenerationMode.INPAINT: "Inpainting",
    GenerationMode.OUTPAINT: "Outpainting",
}


@dataclass(eq=False)
class Candidate:
    """One generated image with everything needed to apply it later."""

    plan: GenerationPlan
    document: CanvasDocument
    rgb: np.ndarray  # the model's output, H×W×3 uint8
    params: dict[str, Any]  # the engine's parameters of this image (prompt, seed, steps, cfg, model…)

    @property
    def seed(self) -> int | None:
        seed = self.params.get("seed")
        return seed if isinstance(seed, int) else None

    @property
    def prompt(self) -> str:
        return str(self.params.get("prompt") or "")


@dataclass(eq=False)
class _Job:
    handle: JobHandle
    plan: GenerationPlan
    document: CanvasDocument


def _qimage(pixels: np.ndarray) -> QImage:
    """A QImage copy of an ``H×W×3`` or ``H×W×4`` ``uint8`` array."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, channels = pixels.shape
    image_format = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(pixels.tobytes(), width, height, channels * width, image_format).copy()


def _decode_rgb(png: bytes) -> np.ndarray:
    return np.ascontiguousarray(load_image(png)[:, :, :3])


class GenerationController(QObject):
    """Connects a :class:`GeneratePanel` and a :class:`CandidatesStrip` to the diffusion engine and the
    canvas document."""

    def __init__(
        self,
        runner: JobRunner,
        document_provider: DocumentProvider,
        preview_target: PreviewTarget,
        panel: GeneratePanel,
        strip: CandidatesStrip,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.document_provider = document_provider
        self.preview_target = preview_target
        self.panel = panel
        self.strip = strip
        self.candidates: list[Candidate] = []
        self.last_request: ImageRequest | None = None
        self.last_plan: GenerationPlan | None = None
        self._job: _Job | None = None
        self._cancelled: dict[str, _Job] = {}
        self._model_job: JobHandle[PipelineLoadResult] | None = None
        self._model_engine_starts = -1  # the diffusion client's restarts when the model job was sent
        # a model's own precision (the Models window's per-model settings); "" for the Settings' choice
        self.model_precision: Callable[[str], str] = lambda _path: ""
        # ``(model path, family)`` -> the TAESD folder to load with it ("": none, or its own beside it); the
        # family ("sd", "sdxl") is "" before the load, then what the engine found
        self.model_taesd: TaesdLookup = registry_taesd
        self._preview_shown = False
        panel.generate_requested.connect(self.generate)
        panel.vary_requested.connect(self.vary)
        panel.cancel_requested.connect(self.cancel)
        panel.model_changed.connect(self.load_model)
        strip.candidate_selected.connect(self.preview_candidate)
        strip.candidate_applied.connect(self.apply)
        strip.candidate_discarded.connect(self._on_discarded)
        strip.candidates_cleared.connect(self._on_cleared)
        runner.event_received.connect(self._on_runner_event)

    # -- state ------------------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._job is not None

    @property
    def job(self) -> JobHandle | None:
        """The running generation job, or None."""
        return self._job.handle if self._job is not None else None

    # -- image model ------------------------------------------------------------------------------------

    def load_model(self, path: str, taesd_path: str | None = None) -> JobHandle | None:
        """Load ``path`` in the diffusion engine now (in the background) and show what it is; the panel
        checked the path when it was chosen, the engine refuses a bad one with a message.

        A model without a TAESD of its own gets the registered one of its family (``taesd_path``, default:
        :attr:`model_taesd`); when the engine finds the family differs from the registry's (or the registry
        did not know it), the load is sent again with the right one (the engine only swaps the TAESD)."""
        if taesd_path is None:
            taesd_path = self.model_taesd(path, "")
        request = LoadPipelineRequest(
            new_job_id(), model_path=path, precision=self.model_precision(path), taesd_path=taesd_path
        )
        handle = self.runner.run(request, "Loading image model")
        self._model_job = handle
        self._model_engine_starts = self.runner.client(LoadPipelineRequest.engine_kind).restarts

        def current() -> bool:
            return self._model_job is handle

        def on_progress(fraction: float | None, message: str) -> None:
            if not current() or not message:
                return
            if self.is_running:  # the load a generation waits for
                self.panel.set_progress(fraction, message)
            else:
                self.panel.show_message(message)

        def on_success(loaded: PipelineLoadResult) -> None:
            if not current():
                return
            size = loaded.default_size
            parts = (loaded.family_name, f"{size} px" if size else "", loaded.precision_label)
            details = ", ".join(part for part in parts if part)
            self.panel.set_model_info(loaded.model or path, details, size)
            self.panel.model_label.setToolTip(
                "\n".join(part for part in (loaded.model_path or path, loaded.precision_reason) if part)
            )
            self.panel.set_fast_decode_available(loaded.taesd)
            if not self.is_running:
                self.panel.show_message(f"Image model ready: {loaded.model or path}")
            family = family_of_kind(loaded.model_family)
            if family and (request.taesd_path or not loaded.taesd):
                wanted = self.model_taesd(path, family)
                if wanted != request.taesd_path:
                    self.load_model(path, wanted)

        def on_failure(message: str) -> None:
            if current():
                self.panel.show_error(f"The image model could not be loaded: {message}")

        handle.on_progress(on_progress).on_success(on_success).on_failure(on_failure)
        return handle

    def reload_model(self) -> JobHandle | None:
        """Send the loaded model's load again (e.g. after Settings ▸ Image precision changed: the engine
        reloads only when the precision it picks differs); None when no model was loaded."""
        job = self._model_job
        request = job.request if job is not None else None
        if not isinstance(request, LoadPipelineRequest) or not request.model_path:
            return None
        return self.load_model(request.model_path)

    def _model_loaded_or_loading(self, path: str) -> bool:
        """Whether the diffusion engine has ``path`` loaded, or will have once the current model job ends:
        that job loads it, did not fail, and ran in the engine process still alive."""
        job = self._model_job
        request = job.request if job is not None else None
        if not isinstance(request, LoadPipelineRequest) or request.model_path != path:
            return False
        if job is None or job.state not in (JobState.RUNNING, JobState.DONE):
            return False
        client = self.runner.client(LoadPipelineRequest.engine_kind)
        return client.is_alive and client.restarts == self._model_engine_starts

    def ensure_model(self, path: str) -> None:
        """Send ``path``'s load first unless the engine has it loaded or loading (generation never loads)."""
        if not self._model_loaded_or_loading(path):
            self.load_model(path)

    # -- generating -------------------------------------------------------------------------------------

    def generate(self) -> JobHandle | None:
        """Generate into the selection (or the whole canvas); returns the job, or None with the reason shown
        in the panel."""
        settings = self._settings_for_job()
        document = self._document()
        if settings is None or document is None:
            return None
        try:
            plan = plan_generation(document, document.selection, self.panel.native_resolution())
        except CanvasError as exc:
            self.panel.show_error(str(exc))
            return None
        return self._submit(plan, document, settings)

    def vary(self) -> JobHandle | None:
        """Make an img2img variation of the active layer with the panel's strength."""
        settings = self._settings_for_job()
        document = self._document()
        if settings is None or document is None:
            return None
        try:
            plan = plan_variation(
                document, document.active_layer, settings.strength, self.panel.native_resolution()
            )
        except CanvasError as exc:
            self.panel.show_error(str(exc))
            return None
        return self._submit(plan, document, settings)

    def cancel(self) -> None:
        """Stop the running generation at once and clear its preview (finished candidates are kept)."""
        job = self._job
        if job is None:
            return
        self._cancelled[job.handle.job_id] = job
        job.handle.cancel()
        self._end_job()
        self.clear_preview()
        self.panel.show_message("Cancelled.")

    def _settings_for_job(self) -> GenerateSettings | None:
        if self._job is not None:
            self.panel.show_message("Already generating: wait for it or cancel it first.")
            return None
        settings = self.panel.settings()
        if not settings.model_path:
            self.panel.show_error(NO_MODEL_MESSAGE)
            return None
        return settings

    def _document(self) -> CanvasDocument | None:
        document = self.document_provider()
        if document is None:
            self.panel.show_error("Open or create a canvas first.")
        return document

    def _submit(
        self, plan: GenerationPlan, document: CanvasDocument, settings: GenerateSettings
    ) -> JobHandle | None:
        request = image_request(plan, settings, preview_every=1)
        problem = request.problem()
        if problem is not None:
            self.panel.show_error(problem[0].upper() + problem[1:] + ".")
            return None
        self.last_request, self.last_plan = request, plan
        if not self._model_loaded_or_loading(settings.model_path):
            self.load_model(settings.model_path)  # generation never loads: the load job goes first
        handle = self.runner.run(request, _JOB_LABELS[plan.mode])
        job = _Job(handle, plan, document)
        self._job = job
        self.panel.set_running(True)
        self.panel.show_message(f"{_JOB_LABELS[plan.mode]}…")
        handle.on_progress(lambda fraction, message: self._on_progress(job, fraction, message))
        handle.on_preview(lambda event: self._on_preview(job, event))
        handle.on_success(lambda result: self._on_success(job, result))
        handle.on_failure(lambda message: self._on_failure(job, message))
        handle.on_cancelled(lambda: self._on_cancelled(job))
        return handle

    def _end_job(self) -> None:
        self._job = None
        self.panel.set_running(False)

    def _on_progress(self, job: _Job, fraction: float | None, message: str) -> None:
        if job is self._job:
            self.panel.set_progress(fraction, message)

    def _on_preview(self, job: _Job, event: EngineEvent) -> None:
        if job is self._job:
            self.show_event_preview(job.plan, event)

    def _on_success(self, job: _Job, result: ImageResult | None) -> None:
        if job is not self._job:
            return
        self._end_job()
        first = self._add_candidates(job, result.images, result.candidates) if result is not None else None
        if first is None:
            self.clear_preview()
            self.panel.show_error("The engine sent no image.")
            return
        seeds = [candidate.seed for candidate in self.candidates[first:]]
        count = len(seeds)
        seed_text = f"seed {seeds[0]}" if count == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
        self.panel.set_progress(1.0)
        self.panel.show_message(
            f"{count} image{'s' if count != 1 else ''} ({seed_text}). Click one to preview it; "
            "double-click or Enter adds it as a layer."
        )
        self.strip.select(first)

    def _on_failure(self, job: _Job, message: str) -> None:
        if job is not self._job:
            return
        self._end_job()
        self.clear_preview()
        model_job = self._model_job
        if model_job is not None and model_job.state is JobState.FAILED:  # say why, not only "not loaded"
            message = f"The image model could not be loaded: {model_job.message}"
        self.panel.show_error(message or "Image generation failed.")

    def _on_cancelled(self, job: _Job) -> None:
        """Cancelled from elsewhere (the status bar's Cancel); its finished candidates still arrive."""
        if job is not self._job:
            return
        self._cancelled[job.handle.job_id] = job
        self._end_job()
        self.clear_preview()
        self.panel.show_message("Cancelled.")

    def _on_runner_event(self, event: EngineEvent) -> None:
        """Keep what a cancelled job had finished (its ``cancelled`` event carries them as a partial
        :class:`ImageResult`)."""
        if not event.kind.is_terminal:
            return
        job = self._cancelled.pop(event.job_id, None)
        if job is None:
            return
        partial = event.result  # a cancelled job's partial ImageResult, or the result that beat the cancel
        if not isinstance(partial, ImageResult):
            return
        if self._add_candidates(job, partial.images, partial.candidates) is not None:
            self.panel.show_message("Cancelled; kept the images finished before.")

    def _add_candidates(
        self, job: _Job, images: Sequence[bytes], params: Sequence[Mapping[str, Any]]
    ) -> int | None:
        """Decode a result's images into candidates; returns the index of the first new one."""
        if len(params) != len(images):
            params = [{} for _ in images]
        first = len(self.candidates)
        for png, values in zip(images, params, strict=True):
            try:
                rgb = _decode_rgb(png)
            except ImageLoadError as exc:
                log.warning("undecodable result image: %s", exc)
                continue
            candidate = Candidate(job.plan, job.document, rgb, dict(values))
            self.candidates.append(candidate)
            self.strip.add_candidate(_qimage(rgb), _describe(candidate))
        if len(self.candidates) == first:
            return None
        return first

    # -- previews ---------------------------------------------------------------------------------------

    def _show_preview(self, plan: GenerationPlan, rgba: np.ndarray) -> None:
        dx, dy = plan.content_offset
        self._preview_shown = True
        self.preview_target(plan.region.translated(-dx, -dy), _qimage(rgba))

    def show_plan_preview(self, plan: GenerationPlan, rgba: np.ndarray) -> None:
        """Show ``rgba`` (the plan's region, blended) in place, e.g. Live mode's latest result."""
        self._show_preview(plan, rgba)

    def show_event_preview(self, plan: GenerationPlan, event: EngineEvent) -> bool:
        """Show an engine ``preview`` event's image over ``plan``'s region, blended as applying it would;
        False (nothing shown) when it carries no decodable image."""
        if not event.image:
            return False
        try:
            rgb = _decode_rgb(event.image)
        except ImageLoadError:
            log.warning("undecodable preview image")
            return False
        self._show_preview(plan, blend_region(plan, rgb))
        return True

    def clear_preview(self) -> None:
        """Remove the in-place preview (call it when the canvas shows another document)."""
        if self._preview_shown:
            self._preview_shown = False
            self.preview_target(None, None)

    def candidate_preview(self, index: int) -> tuple[Rect, np.ndarray]:
        """Where candidate ``index`` would land (current canvas coordinates) and its RGBA pixels there,
        blended exactly as applying it will."""
        candidate = self.candidates[index]
        plan = candidate.plan
        dx, dy = plan.content_offset
        return plan.region.translated(-dx, -dy), blend_region(plan, candidate.rgb)

    def preview_candidate(self, index: int) -> None:
        """Show candidate ``index`` in place (-1: clear the preview)."""
        if self._job is not None:
            return  # the running job's previews own the canvas preview
        if not 0 <= index < len(self.candidates):
            self.clear_preview()
            return
        problem = self._apply_problem(self.candidates[index])
        if problem is not None:
            self.clear_preview()
            self.panel.show_error(problem)
            return
        rect, rgba = self.candidate_preview(index)
        self._preview_shown = True
        self.preview_target(rect, _qimage(rgba))

    def _apply_problem(self, candidate: Candidate) -> str | None:
        document = self.document_provider()
        if document is not candidate.document:
            return "This result was made for another canvas."
        if document.size != candidate.plan.source_size:
            return "The canvas changed size since this result was made; generate again."
        return None

    # -- candidates -------------------------------------------------------------------------------------

    def apply(self, index: int) -> Layer | None:
        """Add candidate ``index`` as a new layer (one undo step); returns it, or None with the reason
        shown."""
        if not 0 <= index < len(self.candidates):
            return None
        candidate = self.candidates[index]
        problem = self._apply_problem(candidate)
        if problem is not None:
            self.panel.show_error(problem)
            return None
        try:
            layer = add_generated_layer(candidate.document, candidate.plan, candidate.rgb, candidate.params)
        except CanvasError as exc:
            self.panel.show_error(str(exc))
            return None
        self.strip.select(-1)
        self.clear_preview()
        self.panel.show_message(f"Added the layer “{layer.name}”.")
        return layer

    def _on_discarded(self, index: int) -> None:
        if 0 <= index < len(self.candidates):
            del self.candidates[index]

    def _on_cleared(self) -> None:
        self.candidates.clear()
        self.clear_preview()


def _describe(candidate: Candidate) -> str:
    params = candidate.params
    details = ", ".join(
        f"{label} {params[key]}".strip()
        for label, key in (
            ("Seed", "seed"),
            ("Steps", "steps"),
            ("CFG", "cfg"),
            ("", "sampler"),
            ("", "model"),
        )
        if params.get(key) not in (None, "")
    )
    return f"{layer_name(candidate.prompt, candidate.seed)}\n{details}"
