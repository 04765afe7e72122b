"""Live mode with the real diffusion engine on the tiny pipeline: the selection (or the canvas) of what the user
sees, one fast candidate, step previews then the result in place, stale jobs cancelled, apply as one layer."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.canvas.geometry import Rect
from studio.engines.image_requests import ImageRequest
from studio.engines.protocol import EngineEvent
from studio.engines.results import ImageResult
from studio.ui.canvas.live_mode import LiveMode
from studio.ui.canvas.workspace import CanvasWorkspace
from studio.ui.jobs import JobState

pytestmark = pytest.mark.diffusion

WAIT_MS = 180_000


def painted_document() -> CanvasDocument:
    """A gradient on the background layer and an empty layer above it, active: Live works on what the user
    sees, not on the active layer."""
    document = CanvasDocument(64, 64, background=(40, 90, 160))
    pixels = np.zeros((64, 64, 4), dtype=np.uint8)
    pixels[:, :, 0] = np.linspace(0, 255, 64, dtype=np.uint8)[None, :]
    pixels[:, :, 3] = 255
    document.set_layer_pixels(document.active_layer, pixels, "Fill")
    document.add_layer("Empty")
    return document


def stroke(document: CanvasDocument, value: int) -> None:
    """A paint stroke: a band of colour on the background layer (one undo step)."""
    target = document.layers[0]
    pixels = target.pixels.copy()
    pixels[20:40, :, 1] = value
    pixels[20:40, :, 3] = 255
    document.set_layer_pixels(target, pixels, "Brush")


def rgba(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 4].reshape(
        image.height(), image.width(), 4
    )


def watch(live: LiveMode) -> list[str]:
    """``"step"`` for each step preview shown and ``"result"`` for each new result, in order."""
    events: list[str] = []
    live.step_previewed.connect(lambda _step: events.append("step"))
    live.result_changed.connect(lambda: events.append("result" if live.result is not None else "cleared"))
    return events


def test_live_without_selection_previews_steps_then_the_whole_canvas(qtbot: QtBot, make_rig) -> None:
    document = painted_document()
    rig = make_rig(document)
    rig.panel.candidates_spin.setValue(4)  # Live makes one image whatever the panel says
    rig.panel.steps_spin.setValue(4)
    live = LiveMode(rig.controller, delay_ms=20, parent=rig.window)
    live.strength = 0.6
    events = watch(live)

    live.set_enabled(True)
    qtbot.waitUntil(lambda: live.job is not None, timeout=WAIT_MS)
    job = live.job
    assert job is not None
    request = job.request
    assert isinstance(request, ImageRequest)
    assert (request.mode, request.strength, request.num_candidates) == ("img2img", 0.6, 1)
    assert request.fast_decode and request.preview_every == 1
    qtbot.waitUntil(lambda: live.result is not None, timeout=WAIT_MS)

    assert events[0] == "step" and events[-1] == "result"  # step previews reached the view first
    assert events.count("result") == 1
    result = job.result
    assert isinstance(result, ImageResult) and len(result.images) == 1
    assert result.candidates[0]["decode"] == "vae"  # the tiny model has no TAESD: the engine fell back
    # the step previews and the result cover the whole canvas, fully opaque
    shown = [call for call in rig.previews if call.image is not None]
    assert len(shown) >= 2
    assert all(call.rect == document.bounds for call in shown)
    final = rgba(shown[-1].image)
    assert final.shape == (64, 64, 4) and (final[:, :, 3] == 255).all()
    # made from what the user sees (the composite), not the empty active layer
    assert live.result is not None and live.result.plan.init_image is not None
    assert np.array_equal(live.result.plan.init_image, document.composite()[:, :, :3])
    assert rig.panel.message.startswith("Live: canvas 64×64 ready (seed 7)")
    assert len(document.layers) == 2  # only a preview


def test_live_on_a_selection_changes_only_the_selection(qtbot: QtBot, make_rig) -> None:
    document = painted_document()
    document.select_polygon([(4, 6), (60, 10), (44, 60), (8, 50)])
    selection = document.selection
    assert selection is not None
    bounds = selection.bounds()
    assert bounds is not None
    rig = make_rig(document)
    live = LiveMode(rig.controller, delay_ms=20, parent=rig.window)
    live.strength = 0.8

    live.set_enabled(True)
    qtbot.waitUntil(lambda: live.result is not None, timeout=WAIT_MS)
    assert rig.previews[-1].rect == bounds
    image = rig.previews[-1].image
    assert image is not None
    preview = rgba(image)
    assert preview.shape == (bounds.height, bounds.width, 4)
    outside = selection.mask_for(bounds) == 0
    assert outside.any() and (preview[outside] == 0).all()  # transparent outside the selection
    assert (preview[:, :, 3] == 255).any()

    before = document.composite()
    layer = live.apply()
    assert layer is not None
    after = document.composite()
    mask = document.selection_mask()
    assert mask is not None
    assert np.array_equal(after[mask == 0], before[mask == 0])
    assert not np.array_equal(after[mask > 0], before[mask > 0])
    content = layer.content_bounds()
    assert content is not None and bounds.contains(content)
    live.set_enabled(False)


def test_a_newer_request_cancels_the_older_at_once(qtbot: QtBot, make_rig) -> None:
    document = painted_document()
    rig = make_rig(document)
    live = LiveMode(rig.controller, delay_ms=10_000, parent=rig.window)  # only run_now starts jobs here
    live.strength = 0.6
    live.set_enabled(True)
    stroke(document, 200)
    first = live.run_now()
    stroke(document, 120)
    second = live.run_now()
    assert first is not None and second is not None and live.job is second
    assert live.jobs_started == 2
    newest_previews: list[EngineEvent] = []
    second.on_preview(newest_previews.append)
    shown: list[int] = []
    live.step_previewed.connect(shown.append)

    qtbot.waitUntil(lambda: live.result is not None, timeout=WAIT_MS)
    rig.wait_idle(qtbot)
    assert second.state is JobState.DONE and live.job is None
    assert first.state in (JobState.CANCELLED, JobState.DONE)  # cancelled, unless it beat the cancel
    # only the newest job's previews and result reached the view, made after the second stroke
    assert len(shown) == len(newest_previews) >= 1
    assert live.result is not None and live.result.plan.init_image is not None
    assert live.result.plan.init_image[30, 0, 1] == 120
    live.set_enabled(False)


def test_turning_live_off_cancels_and_clears_the_preview(qtbot: QtBot, make_rig) -> None:
    document = painted_document()
    rig = make_rig(document)
    live = LiveMode(rig.controller, delay_ms=20, parent=rig.window)
    live.set_enabled(True)
    qtbot.waitUntil(lambda: live.result is not None, timeout=WAIT_MS)
    assert rig.previews[-1].image is not None

    live.schedule()
    qtbot.waitUntil(lambda: live.job is not None, timeout=WAIT_MS)
    running = live.job
    assert running is not None
    live.set_enabled(False)
    assert live.job is None and live.result is None and not live.is_pending
    assert rig.previews[-1].rect is None and rig.previews[-1].image is None
    rig.wait_idle(qtbot)
    assert running.state in (JobState.CANCELLED, JobState.DONE)
    assert live.result is None  # a job finishing after Live went off shows nothing
    assert rig.previews[-1].rect is None
    assert live.apply() is None and len(document.layers) == 2


def test_apply_adds_one_undoable_layer_and_starts_no_live_job(qtbot: QtBot, make_rig) -> None:
    """Wired as the main window wires it: the Live button, the canvas's edits, Apply live result."""
    workspace = CanvasWorkspace()
    qtbot.addWidget(workspace)
    document = workspace.new_canvas(64, 64)
    stroke(document, 180)
    rig = make_rig(document)
    panel = rig.panel
    live = LiveMode(rig.controller, delay_ms=20, parent=rig.window)
    live.strength = 0.5
    panel.live_toggled.connect(live.set_enabled)
    panel.apply_live_requested.connect(live.apply)
    live.result_changed.connect(lambda: panel.set_live_result_available(live.result is not None))
    workspace.content_changed.connect(live.schedule)
    assert not panel.apply_live_button.isEnabled()

    panel.live_button.click()
    assert live.enabled and panel.live_action.isChecked()
    qtbot.waitUntil(lambda: live.result is not None, timeout=WAIT_MS)
    rig.wait_idle(qtbot)
    assert panel.apply_live_button.isEnabled()
    started = live.jobs_started
    layers_before = len(document.layers)

    panel.apply_live_button.click()
    assert len(document.layers) == layers_before + 1
    layer = document.layers[-1]
    assert layer.provenance is not None and layer.provenance["ai_generated"] is True
    assert layer.provenance["parameters"].get("strength") == 0.5
    assert live.result is None and not panel.apply_live_button.isEnabled()
    assert rig.previews[-1].rect is None  # the preview became the layer
    # the new layer is a canvas change, but not one Live re-imagines
    assert not live.is_pending and live.job is None and live.jobs_started == started

    document.history.undo()
    assert len(document.layers) == layers_before  # one undo step
    assert live.is_pending  # any other edit (an undo too) still starts Live after the pause
    qtbot.waitUntil(lambda: live.jobs_started == started + 1, timeout=WAIT_MS)

    panel.live_button.click()
    assert not live.enabled and not panel.live_action.isChecked()
    rig.wait_idle(qtbot)
    assert live.result is None and rig.previews[-1].rect is None
    assert live.jobs_started == started + 1


def test_live_needs_part_of_the_canvas_selected(qtbot: QtBot, make_rig) -> None:
    document = painted_document()
    document.select_rect(Rect(100, 100, 10, 10))
    rig = make_rig(document)
    live = LiveMode(rig.controller, delay_ms=10_000, parent=rig.window)
    live.set_enabled(True)
    assert live.run_now() is None
    assert "outside the canvas" in rig.panel.message and live.jobs_started == 0
