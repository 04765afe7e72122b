"""Upscale ×2 on the canvas: one :class:`~studio.engines.upscale_requests.UpscaleRequest` job with the Generate
panel's prompt, model and LoRAs, its progress and cancel in the panel, and the result applied only when the
job succeeds (:func:`studio.canvas.upscale.apply_upscale`: canvas ×2 plus the re-detailed layer, one undo
step). A cancelled or failed job leaves the canvas untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from studio.canvas.document import CanvasDocument, Layer
from studio.canvas.errors import CanvasError, ImageLoadError
from studio.canvas.image_io import load_image
from studio.canvas.upscale import UPSCALE_LABEL, UpscaleSource, apply_upscale, upscale_source
from studio.engines.protocol import new_job_id
from studio.engines.results import ImageResult
from studio.engines.upscale_requests import UpscaleRequest
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.jobs import JobHandle, JobRunner

log = logging.getLogger(__name__)

DEFAULT_UPSCALE_STRENGTH = 0.3
NO_MODEL_MESSAGE = "Upscale ×2 re-details the image with the image model: choose one first."


class UpscaleController(QObject):
    """Runs Upscale ×2 for the current canvas; ``applied`` carries the new layer."""

    applied = Signal(object)

    def __init__(
        self,
        runner: JobRunner,
        document_provider: Callable[[], CanvasDocument | None],
        panel: GeneratePanel,
        busy: Callable[[], bool] = lambda: False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.document_provider = document_provider
        self.panel = panel
        self._busy = busy  # another job (a generation) holds the panel
        self._job: JobHandle[ImageResult] | None = None
        self._source: UpscaleSource | None = None
        self._document: CanvasDocument | None = None
        self.strength = DEFAULT_UPSCALE_STRENGTH
        panel.cancel_requested.connect(self.cancel)

    @property
    def is_running(self) -> bool:
        return self._job is not None

    def upscale(self) -> JobHandle[ImageResult] | None:
        """Start Upscale ×2 of the visible canvas; returns the job, or None with the reason shown in the panel."""
        if self._job is not None or self._busy():
            self.panel.show_message("Already running a job: wait for it or cancel it first.")
            return None
        document = self.document_provider()
        if document is None:
            self.panel.show_error("Open or create a canvas first.")
            return None
        settings = self.panel.settings()
        if not settings.model_path:
            self.panel.show_error(NO_MODEL_MESSAGE)
            return None
        try:
            source = upscale_source(document)
        except CanvasError as exc:
            self.panel.show_error(str(exc))
            return None
        request = UpscaleRequest(
            new_job_id(),
            image=source.png,
            prompt=settings.prompt,
            negative_prompt=settings.negative_prompt,
            scale=source.scale,
            steps=settings.steps,
            guidance=settings.guidance,
            strength=self.strength,
            seed=settings.seed,
            scheduler=settings.scheduler,
            model_path=settings.model_path,
            loras=settings.loras,
        )
        problem = request.problem()
        if problem is not None:
            self.panel.show_error(problem[0].upper() + problem[1:] + ".")
            return None
        handle = self.runner.run(request, UPSCALE_LABEL)
        self._job, self._source, self._document = handle, source, document
        self.panel.set_running(True)
        self.panel.show_message(f"{UPSCALE_LABEL}…")
        handle.on_progress(lambda fraction, message: self._on_progress(handle, fraction, message))
        handle.on_success(lambda result: self._on_success(handle, result))
        handle.on_failure(lambda message: self._on_failure(handle, message))
        handle.on_cancelled(lambda: self._on_cancelled(handle))
        return handle

    def cancel(self) -> None:
        """Stop the running upscale; the canvas stays as it was."""
        handle = self._job
        if handle is None:
            return
        handle.cancel()
        self._end()
        self.panel.show_message("Upscale cancelled; the image is unchanged.")

    def _end(self) -> None:
        self._job = None
        self.panel.set_running(False)

    def _on_progress(self, handle: JobHandle[ImageResult], fraction: float | None, message: str) -> None:
        if handle is self._job:
            self.panel.set_progress(fraction, message)

    def _on_success(self, handle: JobHandle[ImageResult], result: ImageResult | None) -> None:
        if handle is not self._job:
            return
        source, document = self._source, self._document
        self._end()
        if result is None or not result.images or source is None or document is None:
            self.panel.show_error("The engine sent no image.")
            return
        try:
            upscaled = load_image(result.images[0])[:, :, :3]
            layer: Layer = apply_upscale(document, source, upscaled, dict(result.first))
        except (CanvasError, ImageLoadError) as exc:
            self.panel.show_error(str(exc))
            return
        width, height = document.size
        self.panel.set_progress(1.0)
        self.panel.show_message(f"Upscaled to {width}×{height} (layer “{layer.name}”; Undo takes it back).")
        self.applied.emit(layer)

    def _on_failure(self, handle: JobHandle[ImageResult], message: str) -> None:
        if handle is self._job:
            self._end()
            self.panel.show_error(message or "Upscale failed.")

    def _on_cancelled(self, handle: JobHandle[ImageResult]) -> None:
        if handle is self._job:
            self._end()
            self.panel.show_message("Upscale cancelled; the image is unchanged.")


__all__ = ["UpscaleController"]
