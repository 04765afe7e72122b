"""Live mode with the real diffusion engine on the tiny pipeline: debounced jobs, cancel, preview, apply."""

from __future__ import annotations

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.engines.image_requests import ImageRequest
from studio.ui.canvas.live_mode import LiveMode
from studio.ui.canvas.workspace import CanvasWorkspace
from studio.ui.jobs import JobState

pytestmark = pytest.mark.diffusion

WAIT_MS = 180_000


def painted_document() -> CanvasDocument:
    document = CanvasDocument(64, 64, background=(40, 90, 160))
    pixels = np.zeros((64, 64, 4), dtype=np.uint8)
    pixels[:, :, 0] = np.linspace(0, 255, 64, dtype=np.uint8)[None, :]
    pixels[:, :, 3] = 255
    document.set_layer_pixels(document.active_layer, pixels, "Fill")
    return document


def stroke(document: CanvasDocument, value: int) -> None:
    """A paint stroke: a band of colour on the active layer (one undo step), then the canvas's signal."""
    pixels = document.layer(document.active_layer).pixels.copy()
    pixels[20:40, :, 1] = value
    pixels[20:40, :, 3] = 255
    document.set_layer_pixels(document.active_layer, pixels, "Brush")


def test_live_previews_newest_only_and_apply_adds_one_undo_step(qtbot: QtBot, make_rig) -> None:
    document = painted_document()
    rig = make_rig(document)
    live = LiveMode(rig.controller, delay_ms=50, parent=rig.window)
    live.strength = 0.6
    changes: list[bool] = []
    live.enabled_changed.connect(changes.append)

    live.set_enabled(True)
    assert live.enabled and changes == [True]
    qtbot.waitUntil(lambda: live.job is not None, timeout=WAIT_MS)  # the pause after turning on
    first = live.job
    assert first is not None
    request = first.request
    assert isinstance(request, ImageRequest)
    assert (request.mode, request.strength) == ("img2img", 0.6)

    layer_before = document.layer(document.active_layer).pixels.copy()
    stroke(document, 200)
    live.schedule()
    stroke(document, 120)
    live.schedule()  # two quick strokes: one job for both, after the pause
    assert live.is_pending
    qtbot.waitUntil(lambda: live.job is not first and live.job is not None, timeout=WAIT_MS)
    newest = live.job
    assert newest is not None
    assert live.jobs_started == 2  # the two strokes made one job, not two
    qtbot.waitUntil(lambda: live.result is not None, timeout=WAIT_MS)
    rig.wait_idle(qtbot)
    assert live.job is None and newest.state is JobState.DONE
    assert first.state in (JobState.CANCELLED, JobState.DONE)  # cancelled, unless it beat the cancel
    # only the newest job's result is previewed, made from the pixels after both strokes
    assert live.result is not None
    assert live.result.plan.init_image is not None
    assert live.result.plan.init_image[30, 0, 1] == 120  # made after the second stroke
    assert rig.previews and rig.previews[-1].rect is not None and rig.previews[-1].image is not None

    # the document is untouched until Apply
    painted = document.layer(document.active_layer).pixels
    assert not np.array_equal(painted, layer_before)
    layers_before = len(document.layers)
    assert document.layer(document.active_layer).pixels[30, 0, 1] == 120

    layer = live.apply()
    assert layer is not None
    assert len(document.layers) == layers_before + 1
    assert layer.provenance is not None and layer.provenance["ai_generated"] is True
    assert layer.provenance["parameters"].get("strength") == 0.6
    assert live.result is None and rig.previews[-1].rect is None  # preview cleared
    document.history.undo()
    assert len(document.layers) == layers_before  # one undo step

    live.set_enabled(False)
    assert changes == [True, False]


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
    assert live.apply() is None and len(document.layers) == 1


def test_panel_live_button_and_workspace_edits_drive_live(qtbot: QtBot, make_rig) -> None:
    """Wired as the main window wires it: the Live button, the canvas's edits, Apply live result."""
    workspace = CanvasWorkspace()
    qtbot.addWidget(workspace)
    document = workspace.new_canvas(64, 64)
    rig = make_rig(document)
    panel = rig.panel
    live = LiveMode(rig.controller, delay_ms=20, parent=rig.window)
    panel.live_toggled.connect(live.set_enabled)
    panel.apply_live_requested.connect(live.apply)
    live.result_changed.connect(lambda: panel.set_live_result_available(live.result is not None))
    workspace.content_changed.connect(live.schedule)
    assert not panel.apply_live_button.isEnabled()

    panel.live_button.click()
    assert live.enabled and panel.live_action.isChecked()
    stroke(document, 180)  # the empty layer gave nothing to vary; the stroke's history step triggers Live
    qtbot.waitUntil(lambda: live.result is not None, timeout=WAIT_MS)
    assert panel.apply_live_button.isEnabled()
    layers_before = len(document.layers)
    panel.apply_live_button.click()
    assert len(document.layers) == layers_before + 1
    assert live.result is None and not panel.apply_live_button.isEnabled()

    panel.live_button.click()
    assert not live.enabled and not panel.live_action.isChecked()
    rig.wait_idle(qtbot)
    assert live.result is None and rig.previews[-1].rect is None
