"""The Generate panel's commands and messages are on screen at every window size (issue 10): the buttons are
not scrolled out of sight or clipped, at 800×600 and at 1366×768, and the window works from 800 px wide."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from studio.settings import Settings
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import CANVAS_INDEX, MainWindow


def make_window(qtbot: QtBot, width: int, height: int) -> MainWindow:
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, unsaved_canvas=UnsavedChoice.DISCARD)
    window = MainWindow(Settings(suggestions_enabled=False), dialogs)
    qtbot.addWidget(window)
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.size().width() == width and window.size().height() == height)
    return window


def on_screen(window: MainWindow, widget: QWidget) -> bool:
    """Shown whole: visible, not clipped by a scroll area or splitter, and inside the window."""
    if not widget.isVisible():
        return False
    region = widget.visibleRegion()
    if region.isEmpty() or region.boundingRect() != widget.rect():
        return False
    top_left = widget.mapTo(window, QPoint(0, 0))
    return window.rect().contains(QRect(top_left, widget.size()))


@pytest.mark.parametrize("size", [(800, 600), (1366, 768)])
def test_generate_vary_cancel_and_messages_are_visible(qtbot: QtBot, size: tuple[int, int]) -> None:
    window = make_window(qtbot, *size)
    panel = window.generate_panel
    for button in (panel.generate_button, panel.vary_button, panel.cancel_button):
        assert on_screen(window, button), f"{button.text()} is not fully visible at {size}"
    panel.generate_action.trigger()  # no image model chosen: the panel says so, in sight
    qtbot.waitUntil(lambda: "No image model chosen" in panel.message)
    qtbot.waitUntil(lambda: on_screen(window, panel.message_label))
    assert window.width() == size[0]  # the window was not forced wider than asked
    # The settings scroll up and down inside the panel, never cut off at the right.
    scroller = panel.settings_scroller
    body = scroller.widget()
    assert body.minimumSizeHint().width() <= scroller.viewport().width()
    assert body.width() <= scroller.viewport().width()
    scroller.ensureWidgetVisible(panel.new_seed_button)
    qtbot.waitUntil(lambda: on_screen(window, panel.new_seed_button))  # scrolled to, and whole
    panel.new_seed_action.setEnabled(False)
    panel.new_seed_action.setEnabled(True)
    assert panel.new_seed_button.text() == "New"  # its action's longer text would widen the panel


def test_the_window_works_from_800_pixels_wide(qtbot: QtBot) -> None:
    window = make_window(qtbot, 800, 600)
    assert window.minimumSizeHint().width() <= 800
    assert on_screen(window, window.canvas.view)
    assert window.canvas.view.width() >= 300  # room to paint
    assert on_screen(window, window.canvas.layers_panel.list)


def test_fast_decode_is_offered_only_when_the_model_can(qtbot: QtBot, tmp_path: Path) -> None:
    panel = GeneratePanel(dialogs=ScriptedDialogs())
    qtbot.addWidget(panel)
    assert not panel.fast_decode_check.isEnabled() and not panel.settings().fast_decode
    panel.set_fast_decode_available(True)
    panel.fast_decode_check.setChecked(True)
    assert panel.settings().fast_decode
    model = tmp_path / "other.safetensors"
    model.write_bytes(b"x")
    panel.set_model_path(str(model), notify=False)  # another model: unknown until it loads
    assert not panel.fast_decode_check.isEnabled() and not panel.settings().fast_decode
