"""Canvas tools driven with real mouse and key events on the workspace's view."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.canvas.document import Layer
from studio.canvas.geometry import Rect
from studio.canvas.selection import Selection
from studio.ui.canvas.workspace import CanvasWorkspace
from studio.ui.dialogs import ScriptedDialogs

NO_MODIFIER = Qt.KeyboardModifier.NoModifier
LEFT = Qt.MouseButton.LeftButton


def make_workspace(qtbot: QtBot, dialogs: ScriptedDialogs | None = None) -> CanvasWorkspace:
    workspace = CanvasWorkspace(dialogs=dialogs or ScriptedDialogs())
    qtbot.addWidget(workspace)
    workspace.resize(1100, 760)
    workspace.show()
    qtbot.waitExposed(workspace)
    workspace.activateWindow()
    workspace.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is workspace.view)  # shortcuts need the active window
    workspace.view.set_zoom(1.0)
    workspace.view.center_on(256, 256)
    return workspace


def at(workspace: CanvasWorkspace, x: float, y: float) -> QPoint:
    point = workspace.view.canvas_to_widget((x, y))
    return QPoint(round(point.x()), round(point.y()))


def drag(
    qtbot: QtBot,
    workspace: CanvasWorkspace,
    points: list[tuple[float, float]],
    modifiers: Qt.KeyboardModifier = NO_MODIFIER,
) -> None:
    viewport = workspace.view.viewport()
    qtbot.mousePress(viewport, LEFT, modifiers, at(workspace, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(viewport, at(workspace, *point))
    qtbot.mouseRelease(viewport, LEFT, modifiers, at(workspace, *points[-1]))


def click(qtbot: QtBot, workspace: CanvasWorkspace, x: float, y: float) -> None:
    qtbot.mouseClick(workspace.view.viewport(), LEFT, NO_MODIFIER, at(workspace, x, y))


def key(qtbot: QtBot, workspace: CanvasWorkspace, sequence: str) -> None:
    """Press a shortcut on the canvas view (through Qt's shortcut machinery)."""
    from PySide6.QtGui import QKeySequence

    combination = QKeySequence(sequence)[0]
    workspace.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is workspace.view)
    qtbot.keyClick(workspace.view, combination.key(), combination.keyboardModifiers())


def test_brush_stroke_paints_and_one_undo_restores_exactly(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = document.active_layer
    rng = np.random.default_rng(1)
    start = rng.integers(0, 256, (512, 512, 4), dtype=np.uint8)
    document.set_layer_pixels(layer, start)
    document.history.clear()
    document.history.mark_clean()
    workspace.options.set_colour((255, 0, 0, 255))
    workspace.options.set_size(10)
    workspace.options.set_hardness(1.0)
    key(qtbot, workspace, "B")
    assert workspace.current_tool.name == "brush"

    drag(qtbot, workspace, [(100, 100), (150, 100), (200, 100), (200, 150)])
    painted = layer.pixels
    assert painted[100, 125].tolist() == [255, 0, 0, 255]
    assert painted[125, 200].tolist() == [255, 0, 0, 255]
    assert np.array_equal(painted[300:, :], start[300:, :])  # far away: untouched
    assert document.history.undo_steps == 1
    assert workspace.is_modified
    assert workspace.view.composite_image().pixelColor(125, 100).getRgb() == (255, 0, 0, 255)  # type: ignore[union-attr]

    key(qtbot, workspace, "Ctrl+Z")
    assert np.array_equal(layer.pixels, start)
    assert not workspace.is_modified
    key(qtbot, workspace, "Ctrl+Shift+Z")
    assert layer.pixels[100, 125].tolist() == [255, 0, 0, 255]


def test_eraser_erases_to_transparency(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = document.active_layer
    document.set_layer_pixels(layer, np.full((512, 512, 4), 200, dtype=np.uint8))
    workspace.options.set_size(20)
    workspace.options.set_hardness(1.0)
    key(qtbot, workspace, "E")
    assert workspace.current_tool.name == "eraser"
    drag(qtbot, workspace, [(50, 300), (120, 300)])
    assert layer.pixels[300, 80, 3] == 0
    assert layer.pixels[300, 80, :3].tolist() == [200, 200, 200]
    assert layer.pixels[350, 80, 3] == 200
    workspace.undo()
    assert (layer.pixels == 200).all()


def test_brush_respects_the_selection_and_refuses_hidden_layers(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    document.select_rect(Rect(0, 0, 100, 512))
    workspace.options.set_size(8)
    drag(qtbot, workspace, [(50, 50), (150, 50)])
    pixels = document.active_layer.pixels
    assert pixels[50, 60, 3] == 255
    assert pixels[50, 130, 3] == 0  # outside the selection

    document.set_layer_visible(document.active_layer, False)
    before = document.active_layer.pixels.copy()
    with qtbot.waitSignal(workspace.failed) as blocker:
        drag(qtbot, workspace, [(50, 200), (90, 200)])
    assert "hidden" in blocker.args[0]
    assert np.array_equal(document.active_layer.pixels, before)
    assert not document.history.in_stroke


def test_rectangle_select_replace_add_subtract_and_click_to_deselect(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    key(qtbot, workspace, "M")
    assert workspace.current_tool.name == "rect_select"
    drag(qtbot, workspace, [(100, 100), (150, 130), (200, 160)])
    assert document.selection == Selection.rectangle(Rect(100, 100, 100, 60))

    drag(qtbot, workspace, [(300, 300), (340, 340)], Qt.KeyboardModifier.ShiftModifier)
    mask = document.selection_mask()
    assert mask is not None and mask[120, 150] == 1 and mask[320, 320] == 1

    drag(qtbot, workspace, [(90, 90), (150, 170)], Qt.KeyboardModifier.AltModifier)
    mask = document.selection_mask()
    assert mask is not None and mask[120, 120] == 0 and mask[120, 180] == 1 and mask[320, 320] == 1

    click(qtbot, workspace, 400, 50)
    assert document.selection is None
    # Each selection is one undo step.
    workspace.undo()
    assert document.selection is not None and document.selection.bounds() == Rect(150, 100, 190, 240)


def test_selection_dragged_past_the_edge_keeps_its_outside_part(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    workspace.view.set_zoom(0.5)
    workspace.view.center_on(256, 256)
    workspace.set_tool("rect_select")
    drag(qtbot, workspace, [(400, 380), (560, 470), (640, 600)])
    selection = document.selection
    assert selection is not None
    assert selection.bounds() == Rect(400, 380, 240, 220)
    assert selection.reaches_outside(512, 512)
    drag(qtbot, workspace, [(40, 40), (-60, -30)], Qt.KeyboardModifier.ShiftModifier)
    bounds = document.selection.bounds()  # type: ignore[union-attr]
    assert bounds is not None and (bounds.x, bounds.y) == (-60, -30)


def test_feathered_rectangle_selection_is_soft(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    workspace.set_tool("rect_select")
    workspace.options_bar.feather_spin.setValue(6)
    assert workspace.options.feather == 6
    drag(qtbot, workspace, [(100, 100), (200, 200)])
    mask = workspace.document.selection_mask()
    assert mask is not None
    assert mask[150, 150] == pytest.approx(1.0, abs=0.01)
    assert 0.2 < mask[150, 100] < 0.8  # the edge is soft
    assert workspace.document.history.undo_steps == 1


def test_lasso_by_dragging_and_by_clicking_corners(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    key(qtbot, workspace, "L")
    assert workspace.current_tool.name == "lasso_select"
    outline = [(100.0, 100.0), (200.0, 100.0), (200.0, 200.0), (100.0, 200.0)]
    path = [p for a, b in zip(outline, [*outline[1:], outline[0]], strict=True) for p in _line(a, b)]
    drag(qtbot, workspace, path)
    mask = document.selection_mask()
    assert mask is not None
    assert mask[150, 150] == 1 and mask[250, 150] == 0 and mask[150, 250] == 0

    # Clicked corners, closed by clicking the first point again; Shift adds.
    viewport = workspace.view.viewport()
    corners = [(300, 300), (400, 300), (350, 400)]
    qtbot.mouseClick(viewport, LEFT, Qt.KeyboardModifier.ShiftModifier, at(workspace, *corners[0]))
    for corner in corners[1:]:
        click(qtbot, workspace, *corner)
    assert workspace.current_tool.busy
    click(qtbot, workspace, *corners[0])
    assert not workspace.current_tool.busy
    mask = document.selection_mask()
    assert mask is not None and mask[150, 150] == 1 and mask[330, 350] == 1 and mask[390, 310] == 0

    # Double-click closes; Enter closes; Escape cancels.
    for corner in [(20, 20), (80, 20), (50, 80)]:
        click(qtbot, workspace, *corner)
    qtbot.mouseDClick(viewport, LEFT, NO_MODIFIER, at(workspace, 50, 80))  # the second click's event
    mask = document.selection_mask()
    assert mask is not None and mask[40, 50] == 1 and mask[150, 150] == 0

    for corner in [(300, 20), (400, 20), (350, 80)]:
        click(qtbot, workspace, *corner)
    qtbot.keyClick(workspace.view, Qt.Key.Key_Return)
    mask = document.selection_mask()
    assert mask is not None and mask[40, 350] == 1

    steps = document.history.undo_steps
    for corner in [(20, 300), (80, 300), (50, 380)]:
        click(qtbot, workspace, *corner)
    qtbot.keyClick(workspace.view, Qt.Key.Key_Escape)
    assert not workspace.current_tool.busy
    assert document.history.undo_steps == steps


def _line(a: tuple[float, float], b: tuple[float, float], steps: int = 10) -> list[tuple[float, float]]:
    return [(a[0] + (b[0] - a[0]) * t / steps, a[1] + (b[1] - a[1]) * t / steps) for t in range(steps)]


def test_lasso_past_the_canvas_edge(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    workspace.view.set_zoom(0.5)
    workspace.view.center_on(256, 256)
    workspace.set_tool("lasso_select")
    for corner in [(450, 100), (700, 100), (700, 300)]:
        click(qtbot, workspace, *corner)
    qtbot.keyClick(workspace.view, Qt.Key.Key_Return)
    selection = workspace.document.selection
    assert selection is not None and selection.reaches_outside(512, 512)
    bounds = selection.bounds()
    assert bounds is not None and bounds.right >= 698


def test_move_tool_drags_the_layer_in_one_undo_step(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = document.active_layer
    with document.edit_pixels(layer, Rect(100, 100, 50, 40)) as pixels:
        pixels[...] = (0, 0, 255, 255)
    before = layer.pixels.copy()
    key(qtbot, workspace, "V")
    assert workspace.current_tool.name == "move"
    steps = document.history.undo_steps
    drag(qtbot, workspace, [(120, 120), (150, 130), (190, 150)])
    assert layer.content_bounds() == Rect(170, 130, 50, 40)
    assert layer.pixels[140, 180].tolist() == [0, 0, 255, 255]
    assert layer.pixels[110, 110, 3] == 0
    assert document.history.undo_steps == steps + 1

    qtbot.keyClick(workspace.view, Qt.Key.Key_Left)
    qtbot.keyClick(workspace.view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert layer.content_bounds() == Rect(169, 140, 50, 40)

    workspace.undo()
    workspace.undo()
    workspace.undo()
    assert np.array_equal(layer.pixels, before)


def test_move_past_the_edge_and_back_keeps_the_pixels(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = document.active_layer
    with document.edit_pixels(layer, Rect(400, 200, 60, 60)) as pixels:
        pixels[...] = (10, 200, 30, 255)
    workspace.set_tool("move")
    # Dragged well past the right edge, then back within the same drag: nothing is lost.
    drag(qtbot, workspace, [(420, 220), (600, 220), (440, 240)])
    assert layer.content_bounds() == Rect(420, 220, 60, 60)


def test_colour_picker_sets_the_brush_colour(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    with document.edit_pixels(document.active_layer, Rect(0, 0, 100, 100)) as pixels:
        pixels[...] = (12, 34, 56, 255)
    key(qtbot, workspace, "I")
    assert workspace.current_tool.name == "picker"
    click(qtbot, workspace, 50, 50)
    assert workspace.options.colour == (12, 34, 56, 255)
    assert workspace.options_bar.colour_button.accessibleDescription() == QColor(12, 34, 56).name()
    click(qtbot, workspace, 300, 300)  # transparent: keeps the colour
    assert workspace.options.colour == (12, 34, 56, 255)
    assert document.history.undo_steps == 1  # picking is not an edit


def test_tool_keys_brush_size_keys_and_selection_shortcuts(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    for shortcut, name in (("E", "eraser"), ("M", "rect_select"), ("L", "lasso_select"), ("V", "move")):
        key(qtbot, workspace, shortcut)
        assert workspace.current_tool.name == name
        assert workspace.tool_actions[name].isChecked()
        assert workspace.options_bar.tool_label.text() == workspace.current_tool.label.replace("&", "")
    key(qtbot, workspace, "B")
    assert workspace.options_bar.size_spin.isVisible()
    assert not workspace.options_bar.feather_spin.isVisible()

    workspace.options.set_size(20)
    key(qtbot, workspace, "]")
    assert workspace.options.size > 20
    assert workspace.options_bar.size_spin.value() == round(workspace.options.size)
    key(qtbot, workspace, "[")
    key(qtbot, workspace, "[")
    assert workspace.options.size < 20

    document.select_rect(Rect(10, 10, 50, 50))
    key(qtbot, workspace, "Ctrl+Shift+I")
    mask = document.selection_mask()
    assert mask is not None and mask[20, 20] == 0 and mask[200, 200] == 1
    key(qtbot, workspace, "Ctrl+D")
    assert document.selection is None
    key(qtbot, workspace, "Ctrl+A")
    assert document.selection == Selection.rectangle(Rect(0, 0, 512, 512))


def test_options_bar_edits_the_options(qtbot: QtBot) -> None:
    dialogs = ScriptedDialogs()
    workspace = make_workspace(qtbot, dialogs)
    bar = workspace.options_bar
    bar.size_spin.setValue(55)
    bar.hardness_spin.setValue(30)
    bar.opacity_spin.setValue(40)
    options = workspace.options
    assert (options.size, options.hardness, options.opacity) == (55, 0.3, 0.4)
    assert bar.size_slider.value() == 55
    brush = options.brush()
    assert (brush.size, brush.hardness, brush.opacity) == (55, 0.3, 0.4)

    dialogs.answers.colour = QColor(1, 2, 3)
    qtbot.mouseClick(bar.colour_button, LEFT)
    assert options.colour == (1, 2, 3, 255)
    dialogs.answers.colour = None
    qtbot.mouseClick(bar.colour_button, LEFT)  # cancelled: unchanged
    assert options.colour == (1, 2, 3, 255)
    assert [(name, arguments[0].getRgb()) for name, arguments in dialogs.asked] == [  # type: ignore[attr-defined]
        ("colour", (0, 0, 0, 255)),  # each question starts from the current colour
        ("colour", (1, 2, 3, 255)),
    ]


def test_undo_during_a_drag_finishes_it_first(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = document.active_layer
    viewport = workspace.view.viewport()
    qtbot.mousePress(viewport, LEFT, NO_MODIFIER, at(workspace, 100, 100))
    qtbot.mouseMove(viewport, at(workspace, 150, 100))
    assert document.history.in_stroke
    assert workspace.undo()
    assert not layer.pixels.any()
    qtbot.mouseRelease(viewport, LEFT, NO_MODIFIER, at(workspace, 150, 100))
    assert not document.history.in_stroke


# -- the painter's basics: fill, transform, merge, crop, sizes (issue 10) --------------------------------


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
    qtbot.mouseClick(workspace.view.viewport(), LEFT, NO_MODIFIER, at(workspace, 100, 100))
    pixels = workspace.document.active_layer.pixels
    assert tuple(pixels[100, 100]) == (0, 0, 255, 255) and tuple(pixels[100, 400]) == (210, 0, 0, 255)
    assert workspace.document.history.undo_label == "Fill"
    workspace.undo_action.trigger()
    assert tuple(workspace.document.active_layer.pixels[100, 100]) == (200, 0, 0, 255)
    bar.tolerance_spin.setValue(10)
    assert workspace.options.tolerance == 10
    qtbot.mouseClick(workspace.view.viewport(), LEFT, NO_MODIFIER, at(workspace, 100, 100))
    assert (workspace.document.active_layer.pixels[:, :, 2] == 255).all()


def square_layer(workspace: CanvasWorkspace) -> Layer:
    """A new layer with a 50 px green square at (100, 100), and an empty history."""
    document = workspace.document
    layer = document.add_layer("Square")
    with document.edit_pixels(layer, Rect(100, 100, 50, 50)) as pixels:
        pixels[...] = (0, 128, 0, 255)
    document.history.clear()
    return layer


def test_transform_tool_moves_and_enter_applies(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = square_layer(workspace)
    key(qtbot, workspace, "T")
    assert workspace.current_tool.name == "transform"
    viewport = workspace.view.viewport()
    qtbot.mousePress(viewport, LEFT, NO_MODIFIER, at(workspace, 120, 120))
    qtbot.mouseMove(viewport, at(workspace, 150, 140))
    qtbot.mouseMove(viewport, at(workspace, 180, 160))
    qtbot.mouseRelease(viewport, LEFT, NO_MODIFIER, at(workspace, 180, 160))
    key(qtbot, workspace, "Return")
    assert layer.content_bounds() == Rect(160, 140, 50, 50)
    assert document.history.undo_steps == 1
    workspace.undo_action.trigger()
    assert layer.content_bounds() == Rect(100, 100, 50, 50)
    # Esc cancels a transform in progress.
    qtbot.mousePress(viewport, LEFT, NO_MODIFIER, at(workspace, 120, 120))
    qtbot.mouseMove(viewport, at(workspace, 300, 300))
    qtbot.mouseRelease(viewport, LEFT, NO_MODIFIER, at(workspace, 300, 300))
    key(qtbot, workspace, "Esc")
    assert layer.content_bounds() == Rect(100, 100, 50, 50)
    assert document.history.redo_steps == 1  # nothing new was recorded


def test_undo_during_a_transform_applies_it_first(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    layer = square_layer(workspace)
    workspace.set_tool("transform")
    viewport = workspace.view.viewport()
    qtbot.mousePress(viewport, LEFT, NO_MODIFIER, at(workspace, 120, 120))
    qtbot.mouseMove(viewport, at(workspace, 140, 120))
    qtbot.mouseRelease(viewport, LEFT, NO_MODIFIER, at(workspace, 140, 120))
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


def test_the_status_line_follows_the_tool(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    assert "brush 24 px" in workspace.status_label.text()
    workspace.set_tool("fill")
    assert "brush" not in workspace.status_label.text()
