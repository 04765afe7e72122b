"""The transform tool, driven with real mouse and key events on a canvas view: move, scale, rotate,
Enter applies (one undo step), Esc cancels (nothing recorded)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.canvas.geometry import Rect
from studio.ui.canvas.tools import ToolOptions
from studio.ui.canvas.transform_tool import TransformTool
from studio.ui.canvas.view import CanvasView

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier


def make_view(qtbot: QtBot) -> tuple[CanvasView, CanvasDocument, TransformTool]:
    document = CanvasDocument(200, 200, background=(255, 255, 255))
    layer = document.add_layer("Square")
    with document.edit_pixels(layer, Rect(50, 50, 40, 40)) as pixels:
        pixels[...] = (0, 0, 255, 255)
    document.history.clear()
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.set_document(document)
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view)
    view.set_zoom(1.0)
    view.center_on(100, 100)
    tool = TransformTool(ToolOptions())
    view.set_tool(tool)
    return view, document, tool


def at(view: CanvasView, x: float, y: float) -> QPoint:
    point = view.canvas_to_widget((x, y))
    return QPoint(round(point.x()), round(point.y()))


def drag(qtbot: QtBot, view: CanvasView, start: tuple[float, float], end: tuple[float, float]) -> None:
    viewport = view.viewport()
    qtbot.mousePress(viewport, LEFT, NONE, at(view, *start))
    sx, sy = start
    ex, ey = end
    for step in range(1, 5):
        qtbot.mouseMove(viewport, at(view, sx + (ex - sx) * step / 4, sy + (ey - sy) * step / 4))
    qtbot.mouseRelease(viewport, LEFT, NONE, at(view, *end))


def test_drag_inside_moves_live_and_enter_applies_one_undo_step(qtbot: QtBot) -> None:
    view, document, tool = make_view(qtbot)
    drag(qtbot, view, (70, 70), (100, 90))
    assert tool.active and document.history.in_stroke
    layer = document.active_layer
    assert layer.content_bounds() == Rect(80, 70, 40, 40)  # shown live
    assert tool.overlay_bounds(view) is not None
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert not tool.active and not document.history.in_stroke
    assert layer.content_bounds() == Rect(80, 70, 40, 40)
    assert document.history.undo_steps == 1 and document.history.undo_label == "Transform"
    document.history.undo()
    assert layer.content_bounds() == Rect(50, 50, 40, 40)
    document.history.redo()
    assert (layer.pixels[70:110, 80:120] == (0, 0, 255, 255)).all()


def test_escape_cancels_and_records_nothing(qtbot: QtBot) -> None:
    view, document, tool = make_view(qtbot)
    before = document.active_layer.pixels.copy()
    drag(qtbot, view, (70, 70), (150, 150))
    assert not np.array_equal(document.active_layer.pixels, before)
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not tool.active and np.array_equal(document.active_layer.pixels, before)
    assert document.history.undo_steps == 0


def test_corner_handle_scales_and_outside_drag_rotates(qtbot: QtBot) -> None:
    view, document, tool = make_view(qtbot)
    # The bottom-right corner handle, dragged 20 px out: scaled about the centre (70, 70) by 1.5.
    drag(qtbot, view, (90, 90), (100, 100))
    assert tool.transform.scale_x == 1.5 and tool.transform.scale_y == 1.5
    assert document.active_layer.content_bounds() == Rect(40, 40, 60, 60)
    # Dragging outside the box rotates about its centre: a quarter turn from the right to below.
    drag(qtbot, view, (150, 70), (70, 150))
    assert abs(tool.transform.angle - 90.0) < 1.0
    qtbot.keyClick(view, Qt.Key.Key_Enter)
    assert document.history.undo_steps == 1
    assert tuple(document.active_layer.pixels[70, 70]) == (0, 0, 255, 255)


def test_transform_of_a_selection_moves_the_selection_and_switching_tools_applies(qtbot: QtBot) -> None:
    view, document, tool = make_view(qtbot)
    document.select_rect(Rect(50, 50, 20, 40))  # the left half of the square
    document.history.clear()
    drag(qtbot, view, (60, 70), (160, 70))
    view.set_tool(None)  # another tool: the transform is kept
    assert not tool.active
    assert document.selection is not None and document.selection.bounds() == Rect(150, 50, 20, 40)
    pixels = document.active_layer.pixels
    assert pixels[50:90, 50:70, 3].sum() == 0 and (pixels[50:90, 70:90] == (0, 0, 255, 255)).all()
    assert document.history.undo_steps == 1
    document.history.undo()
    assert document.selection.bounds() == Rect(50, 50, 20, 40)


def test_an_empty_layer_is_refused_with_a_message(qtbot: QtBot) -> None:
    view, document, tool = make_view(qtbot)
    document.add_layer("Empty")
    with qtbot.waitSignal(view.tool_failed) as blocker:
        qtbot.mousePress(view.viewport(), LEFT, NONE, at(view, 70, 70))
    qtbot.mouseRelease(view.viewport(), LEFT, NONE, at(view, 70, 70))
    assert "nothing to transform" in blocker.args[0]
    assert not tool.active and not document.history.in_stroke


def test_deleting_the_layer_mid_transform_ends_it_quietly(qtbot: QtBot) -> None:
    view, document, tool = make_view(qtbot)
    drag(qtbot, view, (70, 70), (90, 90))
    assert tool.active
    square = document.active_layer
    document.delete_layer(square)  # e.g. from the layers panel, inside the open step
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert not tool.active and not document.history.in_stroke
    assert square.id not in [layer.id for layer in document.layers]
