"""Image ▸ Crop to Selection, Canvas Size… and Image Size… on a real document, answered by ScriptedDialogs."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.canvas.geometry import Rect
from studio.ui.canvas.image_commands import ImageCommands
from studio.ui.dialogs import ScriptedDialogs

KEEP: list[QWidget] = []


def make(qtbot: QtBot, dialogs: ScriptedDialogs) -> tuple[ImageCommands, CanvasDocument]:
    owner = QWidget()
    qtbot.addWidget(owner)
    document = CanvasDocument(64, 48, background=(255, 255, 255))
    document.add_layer("Dot", np.zeros((48, 64, 4), dtype=np.uint8))
    with document.edit_pixels(document.active_layer, Rect(10, 10, 4, 4)) as pixels:
        pixels[...] = (255, 0, 0, 255)
    document.history.clear()
    commands = ImageCommands(owner, lambda: document, dialogs)
    KEEP.append(owner)  # the actions belong to the owner widget
    return commands, document


def test_crop_to_selection_action(qtbot: QtBot) -> None:
    commands, document = make(qtbot, ScriptedDialogs())
    commands.refresh()
    assert not commands.crop_action.isEnabled()
    with qtbot.waitSignal(commands.failed) as blocker:
        commands.crop_to_selection()
    assert "Select" in blocker.args[0]
    document.select_rect(Rect(8, 8, 10, 10))
    commands.refresh()
    assert commands.crop_action.isEnabled()
    commands.crop_action.trigger()
    assert document.size == (10, 10) and document.active_layer.content_bounds() == Rect(2, 2, 4, 4)
    document.history.undo()
    assert document.size == (64, 48)


def test_canvas_size_asks_for_size_and_anchor(qtbot: QtBot) -> None:
    dialogs = ScriptedDialogs(resize_canvas=lambda w, h: (w + 36, h + 52, (1.0, 1.0)))
    commands, document = make(qtbot, dialogs)
    commands.canvas_size_action.trigger()
    assert dialogs.asked == [("resize_canvas", (64, 48))]
    assert document.size == (100, 100)
    assert document.active_layer.content_bounds() == Rect(46, 62, 4, 4)  # anchored bottom right
    dialogs.answers.resize_canvas = None  # cancelled: nothing changes
    assert not commands.resize_canvas()
    assert document.history.undo_steps == 1


def test_image_size_scales_with_the_chosen_resampling(qtbot: QtBot) -> None:
    dialogs = ScriptedDialogs(resize_image=(128, 96, "nearest"))
    commands, document = make(qtbot, dialogs)
    commands.image_size_action.trigger()
    assert document.size == (128, 96)
    assert document.active_layer.content_bounds() == Rect(20, 20, 8, 8)
    assert document.history.undo_label == "Image size"
    dialogs.answers.resize_image = (0, 10, "nearest")
    with qtbot.waitSignal(commands.failed) as blocker:
        commands.image_size_action.trigger()
    assert "at least 1×1" in blocker.args[0]
