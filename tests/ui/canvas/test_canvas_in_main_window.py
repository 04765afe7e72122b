"""The canvas features that need the main window's wiring: another image clears the candidates, and the
History panel's Load settings fills the Generate panel (issue 10)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from studio.canvas.generation import add_generated_layer, plan_generation
from studio.canvas.geometry import Rect
from studio.canvas.selection import Selection
from studio.settings import Settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import CANVAS_INDEX, MainWindow


def make_window(qtbot: QtBot) -> MainWindow:
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, unsaved_canvas=UnsavedChoice.DISCARD)
    window = MainWindow(Settings(suggestions_enabled=False), dialogs)
    qtbot.addWidget(window)
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_another_image_clears_the_candidates(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    image = QImage(32, 32, QImage.Format.Format_RGBA8888)
    image.fill(QColor(255, 0, 0))
    window.candidates.add_candidate(image, "a candidate")
    assert window.candidates.count() == 1
    window.canvas.new_canvas(64, 64)
    assert window.candidates.count() == 0


def test_history_load_settings_fills_the_generate_panel(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    document = window.canvas.document
    plan = plan_generation(document, Selection.rectangle(Rect(0, 0, 64, 64)), 64, feather=0)
    rgb = np.zeros((plan.model_size[1], plan.model_size[0], 3), dtype=np.uint8)
    add_generated_layer(
        document, plan, rgb, {"prompt": "a quiet harbour", "seed": 99, "steps": 7, "cfg": 3.0}
    )
    history = window.canvas.history_panel
    assert history.list.count() == 1
    history.list.setCurrentRow(0)
    history.load_button.click()
    panel = window.generate_panel
    assert panel.prompt_edit.toPlainText() == "a quiet harbour"
    assert panel.seed() == 99 and panel.steps_spin.value() == 7
