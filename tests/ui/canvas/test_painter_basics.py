"""The painter's basics in the Canvas workspace, driven like a user: the fill tool with its tolerance, the
transform tool, merge down, crop, canvas and image size from the actions; each undone in one step."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.canvas.geometry import Rect
from studio.ui.canvas.workspace import CanvasWorkspace
from studio.ui.dialogs import ScriptedDialogs

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier


def make_workspace(qtbot: QtBot, dialogs: ScriptedDialogs | None = None) -> CanvasWorkspace:
    workspace = CanvasWorkspace(dialogs=dialogs or ScriptedDialogs())
    qtbot.addWidget(workspace)
    workspace.resize(1100, 760)
    workspace.show()
    qtbot.waitExposed(workspace)
    workspace.activateWindow()
    workspace.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is workspace.view)
    workspace.view.set_zoom(1.0)
    workspace.view.center_on(256, 256)
    return workspace


def at(workspace: CanvasWorkspace, x: float, y: float) -> QPoint:
    point = workspace.view.canvas_to_widget((x, y))
    return QPoint(round(point.x()), round(point.y()))


def key(qtbot: QtBot, workspace: CanvasWorkspace, sequence: str) -> None:
    combination = QKeySequence(sequence)[0]
    workspace.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is workspace.view)
    qtbot.keyClick(workspace.view, combination.key(), combination.keyboardModifiers())


def two_reds(workspace: CanvasWorkspace) -> None:
    """The layer: left half (200, 0, 0), right half (210, 0, 0)."""
    document = workspace.document
    pixels = np.zeros((512, 512, 4), dtype=np.uint8)
    pixels[:, :256] = (200, 0, 0, 255)
    pixels[:, 256:] = (210, 0, 0, 255)
    document.set_layer_pixels(document.active_layer, pixels)
    document.history.clear()


def test_fill_tool_uses_the_tolerance_from_the_options_bar(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    two_reds(workspace)
    key(qtbot, workspace, "G")
    assert workspace.current_tool.name == "fill"
    bar = workspace.options_bar
    assert bar.tolerance_spin.isVisible() and not bar.size_spin.isVisible()
    workspace.options.set_colour((0, 0, 255, 255))
    bar.tolerance_spin.setValue(5)
    qtbot.mouseClick(workspace.view.viewport(), LEFT, NONE, at(workspace, 100, 100))
    pixels = workspace.document.active_layer.pixels
    assert tuple(pixels[100, 100]) == (0, 0, 255, 255) and tuple(pixels[100, 400]) == (210, 0, 0, 255)
    assert workspace.document.history.undo_label == "Fill"
    workspace.undo_action.trigger()
    assert tuple(workspace.document.active_layer.pixels[100, 100]) == (200, 0, 0, 255)
    bar.tolerance_spin.setValue(10)
    assert workspace.options.tolerance == 10
    qtbot.mouseClick(workspace.view.viewport(), LEFT, NONE, at(workspace, 100, 100))
    assert (workspace.document.active_layer.pixels[:, :, 2] == 255).all()


def test_transform_tool_moves_and_enter_applies(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = document.add_layer("Square")
    with document.edit_pixels(layer, Rect(100, 100, 50, 50)) as pixels:
        pixels[...] = (0, 128, 0, 255)
    document.history.clear()
    key(qtbot, workspace, "T")
    assert workspace.current_tool.name == "transform"
    viewport = workspace.view.viewport()
    qtbot.mousePress(viewport, LEFT, NONE, at(workspace, 120, 120))
    qtbot.mouseMove(viewport, at(workspace, 150, 140))
    qtbot.mouseMove(viewport, at(workspace, 180, 160))
    qtbot.mouseRelease(viewport, LEFT, NONE, at(workspace, 180, 160))
    key(qtbot, workspace, "Return")
    assert layer.content_bounds() == Rect(160, 140, 50, 50)
    assert document.history.undo_steps == 1
    workspace.undo_action.trigger()
    assert layer.content_bounds() == Rect(100, 100, 50, 50)
    # Esc cancels a transform in progress.
    qtbot.mousePress(viewport, LEFT, NONE, at(workspace, 120, 120))
    qtbot.mouseMove(viewport, at(workspace, 300, 300))
    qtbot.mouseRelease(viewport, LEFT, NONE, at(workspace, 300, 300))
    key(qtbot, workspace, "Esc")
    assert layer.content_bounds() == Rect(100, 100, 50, 50)
    assert document.history.redo_steps == 1  # nothing new was recorded


def test_undo_during_a_transform_applies_it_first(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = document.add_layer("Square")
    with document.edit_pixels(layer, Rect(100, 100, 50, 50)) as pixels:
        pixels[...] = (0, 128, 0, 255)
    document.history.clear()
    workspace.set_tool("transform")
    viewport = workspace.view.viewport()
    qtbot.mousePress(viewport, LEFT, NONE, at(workspace, 120, 120))
    qtbot.mouseMove(viewport, at(workspace, 140, 120))
    qtbot.mouseRelease(viewport, LEFT, NONE, at(workspace, 140, 120))
    assert workspace.undo()  # the transform is applied, then undone
    assert layer.content_bounds() == Rect(100, 100, 50, 50) and not document.history.in_stroke
    assert document.history.redo_steps == 1


def test_merge_down_crop_and_sizes_from_the_actions(qtbot: QtBot) -> None:
    dialogs = ScriptedDialogs(resize_canvas=(600, 600, (0.0, 0.0)), resize_image=(300, 300, "nearest"))
    workspace = make_workspace(qtbot, dialogs)
    document = workspace.document
    top = document.add_layer("Top")
    with document.edit_pixels(top, Rect(10, 10, 20, 20)) as pixels:
        pixels[...] = (255, 255, 0, 255)
    panel = workspace.layers_panel
    assert panel.merge_down_action in workspace.actions()
    panel.merge_down_action.trigger()
    assert len(document.layers) == 1 and tuple(document.layers[0].pixels[15, 15]) == (255, 255, 0, 255)
    workspace.undo_action.trigger()
    assert len(document.layers) == 2

    commands = workspace.image_commands
    assert all(action in workspace.actions() for action in commands.actions())
    assert not commands.crop_action.isEnabled()
    document.select_rect(Rect(5, 5, 40, 30))
    assert commands.crop_action.isEnabled()
    commands.crop_action.trigger()
    assert document.size == (40, 30) and top.content_bounds() == Rect(5, 5, 20, 20)
    workspace.undo_action.trigger()
    assert document.size == (512, 512)

    commands.canvas_size_action.trigger()
    assert document.size == (600, 600) and top.content_bounds() == Rect(10, 10, 20, 20)
    commands.image_size_action.trigger()
    assert document.size == (300, 300) and top.content_bounds() == Rect(5, 5, 10, 10)
    assert dialogs.questions() == ["resize_canvas", "resize_image"]
    workspace.undo_action.trigger()
    workspace.undo_action.trigger()
    assert document.size == (512, 512)


def test_history_panel_follows_the_workspace_document(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    assert workspace.side_tabs.tabText(1) == "History"
    assert workspace.side_panels()[0] is workspace.layers_panel
    workspace.new_canvas(64, 64)
    assert workspace.history_panel.list.count() == 0
    assert len(workspace.document.generation_log.changed) == 1
