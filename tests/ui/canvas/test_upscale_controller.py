"""Upscale ×2 from the canvas with the real diffusion engine on the tiny pipeline: the canvas doubles with the
re-detailed layer on top (one undo step); a cancel mid-way leaves the canvas untouched; no model, no job."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.canvas.upscale_controller import UpscaleController
from studio.ui.jobs import JobRunner, JobState

pytestmark = pytest.mark.diffusion
WAIT_MS = 180_000


@pytest.fixture
def runner(qapp: QApplication, tmp_path: Path) -> Iterator[JobRunner]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_DATA_DIR", str(tmp_path / "engine-data"))
        runner = JobRunner()
        runner.start_engine("diffusion")
    yield runner
    runner.shutdown()


def painted(width: int = 64, height: int = 48) -> CanvasDocument:
    document = CanvasDocument(width, height)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 4, y * 5, np.full_like(x, 90), np.full_like(x, 255)], axis=-1).astype(np.uint8)
    document.add_layer("paint", pixels)
    return document


def loaded_panel(qtbot: QtBot, runner: JobRunner, model: Path) -> GeneratePanel:
    from studio.engines.image_requests import LoadPipelineRequest
    from studio.engines.protocol import new_job_id

    panel = GeneratePanel()
    qtbot.addWidget(panel)
    assert panel.set_model_path(str(model), notify=False)
    panel.prompt_edit.setPlainText("sharp details")
    panel.steps_spin.setValue(4)
    load = runner.run(LoadPipelineRequest(new_job_id(), model_path=str(model)), "Loading")
    qtbot.waitUntil(lambda: load.state is not JobState.RUNNING, timeout=WAIT_MS)
    assert load.state is JobState.DONE
    return panel


def test_upscale_doubles_the_canvas_in_one_undo_step(
    qtbot: QtBot, runner: JobRunner, tiny_pipeline: Path
) -> None:
    panel = loaded_panel(qtbot, runner, tiny_pipeline)
    document = painted()
    before = document.composite().copy()
    controller = UpscaleController(runner, lambda: document, panel)
    controller.strength = 0.5
    handle = controller.upscale()
    assert handle is not None and panel.is_running
    with qtbot.waitSignal(controller.applied, timeout=WAIT_MS) as applied:
        pass
    assert document.size == (128, 96) and not panel.is_running
    layer = applied.args[0]
    assert layer.name.startswith("Upscale ×2") and layer.provenance["ai_generated"]
    assert "128×96" in panel.message
    document.history.undo()
    assert document.size == (64, 48) and np.array_equal(document.composite(), before)


def test_cancel_mid_way_leaves_the_canvas_untouched(
    qtbot: QtBot, runner: JobRunner, tiny_pipeline: Path
) -> None:
    panel = loaded_panel(qtbot, runner, tiny_pipeline)
    document = painted()
    before = document.composite().copy()
    layers = len(document.layers)
    controller = UpscaleController(runner, lambda: document, panel)
    controller.strength = 1.0
    panel.steps_spin.setValue(40)
    handle = controller.upscale()
    assert handle is not None
    qtbot.waitUntil(lambda: handle.progress is not None and handle.progress > 0, timeout=WAIT_MS)
    panel.cancel_requested.emit()
    assert not controller.is_running and "unchanged" in panel.message
    qtbot.waitUntil(lambda: handle.state is not JobState.RUNNING, timeout=WAIT_MS)
    qtbot.wait(200)
    assert document.size == (64, 48) and np.array_equal(document.composite(), before)
    assert len(document.layers) == layers
    assert handle.result is None


def test_no_model_no_job(qtbot: QtBot, runner: JobRunner) -> None:
    panel = GeneratePanel()
    qtbot.addWidget(panel)
    controller = UpscaleController(runner, painted, panel)
    assert controller.upscale() is None and panel.message_is_error and "choose one" in panel.message
