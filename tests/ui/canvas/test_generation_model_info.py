"""What the Generate panel shows once the real diffusion engine has loaded the tiny pipeline: the precision
it chose, why, and whether Fast decode is offered; Reload sends the same model's load again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.engines.results import PipelineLoadResult
from studio.ui.canvas.candidates_strip import CandidatesStrip
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.canvas.generation_controller import GenerationController
from studio.ui.jobs import JobRunner

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


def test_loaded_model_shows_precision_and_offers_fast_decode_only_with_a_taesd(
    qtbot: QtBot, runner: JobRunner, tiny_pipeline: Path
) -> None:
    window = QWidget()
    panel = GeneratePanel()
    strip = CandidatesStrip()
    layout = QVBoxLayout(window)
    layout.addWidget(panel)
    layout.addWidget(strip)
    qtbot.addWidget(window)
    document = CanvasDocument(64, 64)
    controller = GenerationController(runner, lambda: document, lambda *_: None, panel, strip, parent=window)
    assert controller.reload_model() is None  # nothing loaded yet

    assert panel.set_model_path(str(tiny_pipeline))  # notifies: the controller loads it now
    qtbot.waitUntil(lambda: "px" in panel.model_label.text(), timeout=WAIT_MS)
    handle = controller.load_model(str(tiny_pipeline))
    assert handle is not None
    qtbot.waitUntil(lambda: handle.result is not None, timeout=WAIT_MS)
    loaded = handle.result
    assert isinstance(loaded, PipelineLoadResult)
    if loaded.precision_label:
        assert loaded.precision_label in panel.model_label.text()
    if loaded.precision_reason:
        assert loaded.precision_reason in panel.model_label.toolTip()
    assert panel.fast_decode_check.isEnabled() == loaded.taesd

    again = controller.reload_model()
    assert again is not None and again.request.model_path == str(tiny_pipeline)
    qtbot.waitUntil(lambda: again.result is not None, timeout=WAIT_MS)
