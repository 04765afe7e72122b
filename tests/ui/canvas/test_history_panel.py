"""The History panel lists the document's generations and re-applies, loads and re-runs them."""

from __future__ import annotations

import numpy as np
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.canvas.generation import add_generated_layer, plan_generation
from studio.canvas.geometry import Rect
from studio.canvas.ora import load_ora, ora_bytes
from studio.canvas.png_metadata import GenerationInfo
from studio.canvas.selection import Selection
from studio.ui.canvas.history_panel import RECORD_ID_ROLE, HistoryPanel

PARAMS = {
    "prompt": "a lighthouse at dusk",
    "seed": 42,
    "steps": 6,
    "cfg": 2.0,
    "sampler": "Euler",
    "model": "tiny",
}


def document_with_history() -> CanvasDocument:
    doc = CanvasDocument(64, 64, background=(255, 255, 255))
    for seed, colour in ((42, (255, 0, 0)), (43, (0, 0, 255))):
        plan = plan_generation(doc, Selection.rectangle(Rect(8, 8, 24, 24)), 64, feather=0)
        rgb = np.zeros((plan.model_size[1], plan.model_size[0], 3), dtype=np.uint8)
        rgb[:, :] = colour
        add_generated_layer(doc, plan, rgb, {**PARAMS, "seed": seed})
    return doc


def make_panel(qtbot: QtBot, document: CanvasDocument) -> HistoryPanel:
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.set_document(document)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_lists_newest_first_and_follows_the_log(qtbot: QtBot) -> None:
    doc = document_with_history()
    panel = make_panel(qtbot, doc)
    assert panel.list.count() == 2
    assert "seed 43" in panel.list.item(0).text() and "seed 42" in panel.list.item(1).text()
    assert "a lighthouse at dusk" in panel.list.item(0).toolTip()
    assert not panel.reapply_button.isEnabled()
    doc.generation_log.remove(str(panel.list.item(0).data(RECORD_ID_ROLE)))
    assert panel.list.count() == 1
    # A document opened from .ora brings its history along.
    panel.set_document(load_ora(ora_bytes(document_with_history())))
    assert panel.list.count() == 2
    assert len(doc.generation_log.changed) == 0  # the old document is let go


def test_reapply_load_settings_and_rerun(qtbot: QtBot) -> None:
    doc = document_with_history()
    panel = make_panel(qtbot, doc)
    doc.history.undo()
    doc.history.undo()
    assert len(doc.layers) == 1
    panel.list.setCurrentRow(1)  # seed 42, red
    panel.reapply_button.click()
    assert len(doc.layers) == 2 and tuple(doc.active_layer.pixels[16, 16]) == (255, 0, 0, 255)
    assert doc.history.undo_label == "Re-apply generation"
    with qtbot.waitSignal(panel.load_settings_requested) as loaded:
        panel.load_button.click()
    info = loaded.args[0]
    assert isinstance(info, GenerationInfo) and (info.prompt, info.seed, info.steps) == (
        "a lighthouse at dusk",
        42,
        6,
    )
    with qtbot.waitSignal(panel.rerun_requested) as rerun:
        panel.rerun_button.click()
    assert rerun.args[0]["seed"] == 42 and rerun.args[0]["sampler"] == "Euler"
    panel.list.setCurrentRow(-1)
    assert not panel.rerun_button.isEnabled()
