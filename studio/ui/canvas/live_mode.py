"""Live painting: while on, each pause in painting regenerates the selection (or the canvas) and previews it.

Every change to the canvas calls :meth:`LiveMode.schedule`; after ``delay_ms`` without another change, what the
user sees (the composited visible canvas) over the selection's bounds, or the whole canvas without a selection,
goes to the engine as an image-to-image job at ``strength`` (:func:`~studio.canvas.generation.plan_live`):
one candidate, fast decode and a preview every step (:func:`~studio.canvas.generation.live_request`). A newer
request cancels the older one at once; the newest job's step previews and then its result show in place over
the region, blended through the selection. The result stays a preview (the document is untouched) until
:meth:`LiveMode.apply` adds it as one undoable layer with its provenance; that layer does not start another
live job. Jobs run on the :class:`JobRunner`; the canvas never waits for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Property, QObject, QTimer, Signal

from studio.canvas.document import CanvasDocument, Layer
from studio.canvas.errors import CanvasError, ImageLoadError
from studio.canvas.generation import (
    GenerationPlan,
    add_generated_layer,
    blend_region,
    live_request,
    plan_live,
)
from studio.engines.protocol import EngineEvent
from studio.engines.results import ImageResult
from studio.ui.canvas.generation_controller import GenerationController, _decode_rgb
from studio.ui.jobs import JobHandle

log = logging.getLogger(__name__)

DEFAULT_DELAY_MS = 400


@dataclass(eq=False)
class LiveResult:
    """The newest live image and what it was made for."""

    plan: GenerationPlan
    document: CanvasDocument
    rgb: np.ndarray
    params: dict[str, Any]


def describe_region(plan: GenerationPlan) -> str:
    """``"selection 128×96"`` or ``"canvas 512×512"``: what a live plan regenerates."""
    whole = plan.region.size == plan.source_size
    return f"{'canvas' if whole else 'selection'} {plan.region.width}×{plan.region.height}"


class LiveMode(QObject):
    """Debounced live img2img of the selection (or the canvas) through a :class:`GenerationController`'s
    engine."""

    enabled_changed = Signal(bool)
    result_changed = Signal()  # a new live result is previewed, or the last one was cleared/applied
    step_previewed = Signal(int)  # a step preview of the running live job is shown (its step number)

    def __init__(
        self,
        controller: GenerationController,
        delay_ms: int = DEFAULT_DELAY_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.strength: float | None = None  # None: the panel's Vary strength
        self.result: LiveResult | None = None
        self.jobs_started = 0
        self._enabled = False
        self._applying = False
        self._job: JobHandle | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.run_now)

    # -- state ------------------------------------------------------------------------------------------

    def _get_enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """Turn Live on (starts a first job after the pause) or off (cancels and clears the preview)."""
        enabled = bool(enabled)
        if enabled == self._enabled:
            return
        self._enabled = enabled
        if enabled:
            self.schedule()
        else:
            self._timer.stop()
            self._cancel_job()
            self._clear_result()
        self.enabled_changed.emit(enabled)

    enabled = Property(bool, _get_enabled, set_enabled, notify=enabled_changed)  # type: ignore[arg-type]

    @property
    def job(self) -> JobHandle | None:
        """The running live job, or None."""
        return self._job

    @property
    def is_pending(self) -> bool:
        """Whether a change waits for its pause."""
        return self._timer.isActive()

    # -- running ----------------------------------------------------------------------------------------

    def schedule(self) -> None:
        """The canvas changed: (re)start the pause; the job starts when it ends. Applying the live result
        (:meth:`apply`) changes the canvas too, but starts nothing."""
        if self._enabled and not self._applying:
            self._timer.start()

    def run_now(self) -> JobHandle | None:
        """Cancel the running live job and start one on the current pixels; None with the reason shown."""
        self._timer.stop()
        if not self._enabled:
            return None
        self._cancel_job()
        panel = self.controller.panel
        document = self.controller.document_provider()
        settings = panel.settings()
        if document is None or not settings.model_path:
            panel.show_message("Live: open a canvas and choose an image model.")
            return None
        strength = self.strength if self.strength is not None else settings.strength
        try:
            plan = plan_live(document, strength, panel.native_resolution())
        except CanvasError as exc:
            panel.show_message(f"Live: {exc}.")
            return None
        request = live_request(plan, settings)
        problem = request.problem()
        if problem is not None:
            panel.show_error(f"Live: {problem}.")
            return None
        self.controller.ensure_model(settings.model_path)
        handle = self.controller.runner.run(request, "Live")
        self._job = handle
        self.jobs_started += 1
        what = describe_region(plan)
        self._say(f"Live: {what} at strength {strength:.2f}…")
        handle.on_preview(lambda event: self._on_preview(handle, plan, event))
        handle.on_success(lambda result: self._on_success(handle, plan, document, result))
        handle.on_failure(lambda message: self._on_failure(handle, message))
        handle.on_cancelled(lambda: self._on_done(handle))
        return handle

    def _say(self, text: str) -> None:
        """A Live message in the panel, unless a Generate job's progress owns it."""
        if not self.controller.is_running:
            self.controller.panel.show_message(text)

    def _cancel_job(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.cancel()

    def _on_done(self, handle: JobHandle) -> None:
        """Cancelled from elsewhere (the status bar's Cancel): the last result shows again."""
        if self._job is handle:
            self._job = None
            self._show_result()

    def _on_failure(self, handle: JobHandle, message: str) -> None:
        if self._job is handle:
            self._job = None
            self._show_result()
            self.controller.panel.show_error(f"Live: {message or 'generation failed.'}")

    def _show_result(self) -> None:
        """Show the newest result in place again (a failed or cancelled job's step previews covered it)."""
        result = self.result
        if self.controller.is_running:
            return  # a Generate job's previews own the canvas preview
        if result is None:
            self.controller.clear_preview()
        else:
            self.controller.show_plan_preview(result.plan, blend_region(result.plan, result.rgb))

    def _on_preview(self, handle: JobHandle, plan: GenerationPlan, event: EngineEvent) -> None:
        if self._job is not handle or self.controller.is_running:
            return  # stale, or a Generate job's previews own the canvas preview
        if self.controller.show_event_preview(plan, event):
            step = event.step.step if event.step is not None else 0
            self.step_previewed.emit(step)

    def _on_success(
        self, handle: JobHandle, plan: GenerationPlan, document: CanvasDocument, result: ImageResult | None
    ) -> None:
        if self._job is not handle:
            return  # an older job that finished before its cancel arrived
        self._job = None
        if result is None or not result.images:
            return
        try:
            rgb = _decode_rgb(result.images[0])
        except ImageLoadError as exc:
            log.warning("undecodable live image: %s", exc)
            return
        params = dict(result.candidates[0]) if result.candidates else {}
        self.result = LiveResult(plan, document, rgb, params)
        self.controller.show_plan_preview(plan, blend_region(plan, rgb))
        self.result_changed.emit()
        seed = params.get("seed")
        seed_text = f" (seed {seed})" if isinstance(seed, int) else ""
        self._say(f"Live: {describe_region(plan)} ready{seed_text}. Ctrl+Alt+Return adds it as a layer.")

    # -- applying ---------------------------------------------------------------------------------------

    def apply(self) -> Layer | None:
        """Add the newest live result as a layer (one undo step); None with the reason shown."""
        result = self.result
        panel = self.controller.panel
        if result is None:
            panel.show_message("No live result yet.")
            return None
        document = self.controller.document_provider()
        if document is not result.document or document.size != result.plan.source_size:
            self._clear_result()
            panel.show_error("The live result was made for another canvas; paint again.")
            return None
        self._applying = True  # the new layer is a canvas change, but not one to re-imagine
        try:
            layer = add_generated_layer(document, result.plan, result.rgb, result.params)
        except CanvasError as exc:
            panel.show_error(str(exc))
            return None
        finally:
            self._applying = False
        self._clear_result()
        panel.show_message(f"Added the layer “{layer.name}”.")
        return layer

    def _clear_result(self) -> None:
        had = self.result is not None
        self.result = None
        if not self.controller.is_running:  # else a Generate job's previews own the canvas preview
            self.controller.clear_preview()
        if had:
            self.result_changed.emit()
