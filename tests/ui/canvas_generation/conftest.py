"""Fixtures of the canvas generation UI tests: the tiny pipeline folder and one shared diffusion engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.canvas.geometry import Rect
from studio.ui.canvas.candidates_strip import CandidatesStrip
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.canvas.generation_controller import GenerationController
from studio.ui.jobs import JobRunner

WAIT_MS = 180_000


@pytest.fixture(scope="session")
def diffusion_runner(qapp: QApplication, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobRunner]:
    """One JobRunner (and so one diffusion engine process) shared by the tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_DATA_DIR", str(tmp_path_factory.mktemp("engine-data")))
        runner = JobRunner()
        runner.start_engine("diffusion")  # the process inherits this environment
    yield runner
    runner.shutdown()


@dataclass
class PreviewCall:
    rect: Rect | None
    image: QImage | None
    running: bool


@dataclass
class Rig:
    """A panel, a strip and a controller over one document, with every preview call recorded."""

    window: QWidget
    panel: GeneratePanel
    strip: CandidatesStrip
    controller: GenerationController
    runner: JobRunner
    document: CanvasDocument
    tiny_model: Path
    previews: list[PreviewCall] = field(default_factory=list)

    def wait_done(self, qtbot: QtBot) -> None:
        qtbot.waitUntil(lambda: not self.controller.is_running, timeout=WAIT_MS)

    def wait_idle(self, qtbot: QtBot) -> None:
        """Until the engine has finished every job (a cancelled one too)."""
        qtbot.waitUntil(lambda: not self.runner.running_jobs, timeout=WAIT_MS)


def build_rig(
    qtbot: QtBot, runner: JobRunner, document: CanvasDocument, tiny_model: Path, model: Path | None
) -> Rig:
    window = QWidget()
    window.setWindowTitle("Generate")
    panel = GeneratePanel()
    strip = CandidatesStrip()
    layout = QVBoxLayout(window)
    layout.addWidget(panel)
    layout.addWidget(strip)
    holder: dict[str, Rig] = {}

    def preview_target(rect: Rect | None, image: QImage | None) -> None:
        rig = holder["rig"]
        rig.previews.append(PreviewCall(rect, image, rig.controller.is_running))

    controller = GenerationController(
        runner, lambda: holder["rig"].document, preview_target, panel, strip, parent=window
    )
    rig = Rig(window, panel, strip, controller, runner, document, tiny_model)
    holder["rig"] = rig
    qtbot.addWidget(window)
    window.resize(420, 760)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # window shortcuts (Ctrl+Return…) need an active window
    if model is not None:
        panel.set_model_path(str(model), notify=False)
    panel.prompt_edit.setPlainText("a red fox in the snow")
    panel.steps_spin.setValue(2)
    panel.resolution_spin.setValue(64)
    panel.candidates_spin.setValue(1)
    panel.set_seed(7)
    return rig


RigFactory = Callable[..., Rig]


@pytest.fixture()
def make_rig(qtbot: QtBot, diffusion_runner: JobRunner, tiny_pipeline: Path) -> RigFactory:
    """``make_rig(document, model=tiny_pipeline)``: a shown panel + strip + controller on the shared engine."""

    def factory(document: CanvasDocument, model: Path | None = tiny_pipeline) -> Rig:
        return build_rig(qtbot, diffusion_runner, document, tiny_pipeline, model)

    return factory
