"""Choosing an image model with stored settings (Models window) fills the Generate panel's steps, guidance,
sampler and resolution once; the user can change them afterwards, and re-choosing the same model keeps them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pytestqt.qtbot import QtBot

from studio.engines.schedulers import Scheduler
from studio.models.model_settings import stored_image_settings
from studio.models.registry import DIFFUSION, ModelEntry, ModelRegistry
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.dialogs import ScriptedDialogs


def test_choosing_a_model_with_stored_settings_fills_the_fields_once(qtbot: QtBot, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models.json")
    own = tmp_path / "own.safetensors"
    plain = tmp_path / "plain.safetensors"
    for model in (own, plain):
        model.write_bytes(b"x")
        registry.add(ModelEntry(path=str(model), engine=DIFFUSION))
    registry.set_settings(
        str(own),
        {"steps": 9, "guidance": 3.5, "scheduler": Scheduler.EULER_A.value, "width": 640, "height": 771},
    )
    panel = GeneratePanel(dialogs=ScriptedDialogs())
    qtbot.addWidget(panel)
    panel.set_model_settings_source(lambda path: stored_image_settings(registry.get(path)))
    before = panel.settings()

    assert panel.set_model_path(str(plain), notify=False)
    assert panel.settings() == dataclasses.replace(before, model_path=str(plain))  # no stored settings

    assert panel.set_model_path(str(own), notify=False)
    chosen = panel.settings()
    assert (chosen.steps, chosen.guidance, chosen.scheduler, chosen.resolution) == (
        9,
        3.5,
        Scheduler.EULER_A.value,
        768,  # the long side, a multiple of 8
    )
    assert "its own settings" in panel.message

    panel.steps_spin.setValue(30)  # the user's change stays ...
    assert panel.set_model_path(str(own), notify=False)  # ... when the same model is chosen again
    assert panel.settings().steps == 30
