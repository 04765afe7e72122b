"""The Generate panel's commands and messages are on screen at every window size (issue 10): the buttons are
not scrolled out of sight or clipped, at 800×600 and at 1366×768, and the window works from 800 px wide.
At small heights the right-hand column favours the Generate panel: the prompt shows at least three lines,
the commands and the whole message stay in sight, and the candidates strip stays usable."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from studio.settings import Settings
from studio.ui.canvas.candidates_strip import MIN_THUMBNAIL_SIDE
from studio.ui.canvas.generate_panel import PROMPT_MIN_LINES, GeneratePanel
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
        qtbot.waitUntil(lambda button=button: on_screen(window, button))  # once the layout has settled
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


LAPTOP_SIZES = [(800, 600), (1024, 768), (1280, 720), (1280, 800), (1366, 768), (1440, 900), (1920, 1080)]


def in_panel_view(window: MainWindow, widget: QWidget) -> bool:
    """Shown whole (see :func:`on_screen`) and inside the visible part of the scroll area around the Generate
    panel: in sight without scrolling."""
    viewport = window.generate_panel.parentWidget()
    assert viewport is not None
    top_left = widget.mapTo(viewport, QPoint(0, 0))
    return on_screen(window, widget) and viewport.rect().contains(QRect(top_left, widget.size()))


def prompt_lines_shown(window: MainWindow) -> float:
    """How many lines of text the prompt box shows, counting only its visible part."""
    edit = window.generate_panel.prompt_edit
    viewport = edit.viewport()
    if not on_screen(window, edit):
        return 0.0
    text_height = viewport.visibleRegion().boundingRect().height() - 2 * edit.document().documentMargin()
    return text_height / edit.fontMetrics().lineSpacing()


def commands_in_sight(window: MainWindow) -> bool:
    panel = window.generate_panel
    widgets = (panel.generate_button, panel.vary_button, panel.cancel_button, panel.message_label)
    return all(in_panel_view(window, widget) for widget in widgets)


@pytest.mark.parametrize("size", LAPTOP_SIZES)
def test_prompt_commands_and_message_in_sight_at_laptop_sizes(qtbot: QtBot, size: tuple[int, int]) -> None:
    window = make_window(qtbot, *size)
    panel = window.generate_panel
    panel.show_message("Image model: tiny.safetensors")
    qtbot.waitUntil(lambda: commands_in_sight(window))
    assert prompt_lines_shown(window) >= PROMPT_MIN_LINES
    # the settings below the prompt scroll, and show at least a few lines of them
    assert panel.settings_scroller.viewport().height() >= 3 * panel.fontMetrics().lineSpacing()
    assert window.canvas.view.width() >= 400  # the canvas keeps a usable width
    assert on_screen(window, window.canvas.layers_panel.list)


def test_the_column_favours_generate_at_800_by_600(qtbot: QtBot) -> None:
    """At 800×600 the Layers box and the candidates strip take compact sizes, not the Generate panel's."""
    window = make_window(qtbot, 800, 600)
    panel = window.generate_panel
    qtbot.waitUntil(lambda: commands_in_sight(window))
    assert prompt_lines_shown(window) >= PROMPT_MIN_LINES
    # a long message takes the room it needs, in sight, without losing the prompt or the commands
    panel.generate_action.trigger()  # no image model chosen: a message of several lines
    qtbot.waitUntil(lambda: "No image model chosen" in panel.message)
    assert panel.message_label.heightForWidth(panel.message_label.width()) > 2 * panel.fontMetrics().height()
    qtbot.waitUntil(lambda: commands_in_sight(window))
    qtbot.waitUntil(
        lambda: (
            panel.message_label.height() >= panel.message_label.heightForWidth(panel.message_label.width())
        )
    )
    assert prompt_lines_shown(window) >= PROMPT_MIN_LINES
    # results arrive: the strip shows them, usable, and the Generate panel keeps its commands in sight
    strip = window.candidates
    for colour in ("red", "green", "blue"):
        image = QImage(512, 512, QImage.Format.Format_RGB32)
        image.fill(QColor(colour))
        strip.add_candidate(image, colour)
    panel.show_message("3 candidates")
    qtbot.waitUntil(lambda: on_screen(window, strip.list) and commands_in_sight(window))
    assert strip.thumbnail_side() >= MIN_THUMBNAIL_SIDE
    first = strip.list.visualItemRect(strip.list.item(0))
    assert strip.list.viewport().rect().contains(first)  # a whole thumbnail, not cut off
    apply_button = next(b for b in strip.findChildren(QWidget) if b.accessibleName() == "Apply")
    assert on_screen(window, apply_button)
    assert prompt_lines_shown(window) >= PROMPT_MIN_LINES
    strip.discard_all()
    qtbot.waitUntil(lambda: not strip.list.isVisible())  # an empty strip gives its room back


def test_a_dragged_handle_keeps_the_users_sizes(qtbot: QtBot) -> None:
    window = make_window(qtbot, 1366, 768)
    column = window.canvas.side_column
    qtbot.waitUntil(lambda: commands_in_sight(window))
    layers_height = column.sizes()[0]
    column.moveSplitter(layers_height + 60, 1)  # as a drag of the first handle does
    assert column.user_sized
    qtbot.waitUntil(lambda: column.sizes()[0] == layers_height + 60)
    window.resize(1366, 740)
    qtbot.waitUntil(lambda: window.height() == 740)
    assert column.sizes()[0] == layers_height + 60  # Generate took the shrinking
