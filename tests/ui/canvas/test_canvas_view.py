"""The canvas view: composite drawing, dirty-rect updates, zoom, pan, selection and preview overlays."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.canvas.geometry import Rect
from studio.ui.canvas.qimage import qimage_to_rgba, rgba_to_qimage
from studio.ui.canvas.view import BACKGROUND, CanvasView, selection_outline


def make_view(qtbot: QtBot, document: CanvasDocument | None = None) -> CanvasView:
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(700, 560)
    view.set_document(document if document is not None else CanvasDocument(200, 100, background=(255, 0, 0)))
    view.show()
    qtbot.waitExposed(view)
    return view


def widget_point(view: CanvasView, x: float, y: float) -> QPoint:
    point = view.canvas_to_widget((x, y))
    return QPoint(round(point.x()), round(point.y()))


def shown_colour(view: CanvasView, x: float, y: float) -> tuple[int, int, int]:
    """The colour the viewport shows at canvas position ``(x, y)``."""
    image = view.viewport().grab().toImage()
    point = widget_point(view, x, y)
    colour = QColor(image.pixel(point))
    return colour.red(), colour.green(), colour.blue()


def test_composite_is_drawn_over_a_checkerboard(qtbot: QtBot) -> None:
    document = CanvasDocument(200, 100)
    with document.edit_pixels(document.active_layer, Rect(0, 0, 100, 100)) as pixels:
        pixels[...] = (0, 0, 255, 255)
    view = make_view(qtbot, document)
    view.set_zoom(2.0)
    view.center_on(100, 50)
    assert shown_colour(view, 50.5, 50.5) == (0, 0, 255)
    # The transparent half shows the checkerboard: light and dark cells, not the background.
    colours = {shown_colour(view, x + 0.5, 50.5) for x in range(120, 140)}
    assert (204, 204, 204) in colours and (153, 153, 153) in colours
    # Outside the canvas: the workspace background.
    assert shown_colour(view, -20, 50) == (BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue())


def test_pixel_changes_update_the_cached_composite_and_the_screen(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    document = view.document
    assert document is not None
    assert shown_colour(view, 10.5, 10.5) == (255, 0, 0)
    with document.edit_pixels(document.active_layer, Rect(5, 5, 20, 20)) as pixels:
        pixels[...] = (0, 255, 0, 255)
    composite = view.composite_image()
    assert composite is not None
    assert composite.pixelColor(10, 10).getRgb() == (0, 255, 0, 255)
    assert composite.pixelColor(40, 40).getRgb() == (255, 0, 0, 255)
    assert shown_colour(view, 10.5, 10.5) == (0, 255, 0)

    document.set_layer_visible(document.active_layer, False)  # a layer change rebuilds the composite
    assert view.composite_image().pixelColor(10, 10).alpha() == 0  # type: ignore[union-attr]
    document.history.undo()
    assert shown_colour(view, 10.5, 10.5) == (0, 255, 0)


def test_half_transparent_layers_are_composited(qtbot: QtBot) -> None:
    document = CanvasDocument(50, 50, background=(0, 0, 0))
    document.add_layer("white", np.full((50, 50, 4), 255, dtype=np.uint8), opacity=0.5)
    view = make_view(qtbot, document)
    red, green, blue = shown_colour(view, 25.5, 25.5)
    assert abs(red - 128) <= 1 and red == green == blue


def test_coordinate_mapping_round_trips(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.set_zoom(3.0)
    for point in ((0.0, 0.0), (12.5, 80.25), (-40.0, 130.0)):
        back = view.widget_to_canvas(view.canvas_to_widget(point))
        assert back.x() == pytest.approx(point[0]) and back.y() == pytest.approx(point[1])
    a, b = view.canvas_to_widget((10, 10)), view.canvas_to_widget((20, 10))
    assert b.x() - a.x() == pytest.approx(30.0)
    rect = view.canvas_rect_to_widget(Rect(0, 0, 10, 5))
    assert (rect.width(), rect.height()) == (30.0, 15.0)


def test_zoom_actions_fit_and_actual_size(qtbot: QtBot) -> None:
    view = make_view(qtbot, CanvasDocument(2000, 1000))
    # Fitted on show: the whole canvas is inside the viewport.
    canvas = view.canvas_rect_to_widget(Rect(0, 0, 2000, 1000))
    assert view.viewport().rect().contains(canvas.toAlignedRect())
    assert view.zoom < 1
    fitted = view.zoom

    view.zoom_in()
    assert view.zoom > fitted
    view.zoom_out()
    view.zoom_out()
    assert view.zoom < fitted
    view.actual_size()
    assert view.zoom == 1.0
    view.fit_to_window()
    assert view.zoom == pytest.approx(fitted)

    zooms: list[float] = []
    view.zoom_changed.connect(zooms.append)
    for _ in range(40):
        view.zoom_in()
    assert view.zoom == 32.0
    assert zooms[-1] == 32.0


def test_ctrl_wheel_zooms_around_the_pointer(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.set_zoom(1.0)
    anchor = widget_point(view, 30, 40)
    under = view.widget_to_canvas(anchor)
    _wheel(view, anchor, 120, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == pytest.approx(1.25)
    after = view.widget_to_canvas(anchor)
    assert after.x() == pytest.approx(under.x(), abs=1) and after.y() == pytest.approx(under.y(), abs=1)

    origin = view.origin()
    _wheel(view, anchor, -120, Qt.KeyboardModifier.NoModifier)  # a plain wheel scrolls
    assert view.zoom == pytest.approx(1.25)
    assert view.origin().y() < origin.y()


def _wheel(view: CanvasView, pos: QPoint, delta: int, modifiers: Qt.KeyboardModifier) -> None:
    from PySide6.QtGui import QWheelEvent

    event = QWheelEvent(
        QPointF(pos),
        QPointF(view.viewport().mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


def test_space_drag_and_middle_drag_pan_without_painting(qtbot: QtBot) -> None:
    from studio.ui.canvas.tools import BrushTool, ToolOptions

    view = make_view(qtbot, CanvasDocument(400, 400))
    view.set_tool(BrushTool(ToolOptions()))
    view.set_zoom(4.0)
    viewport = view.viewport()
    view.setFocus()

    origin = view.origin()
    qtbot.keyPress(view, Qt.Key.Key_Space)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=QPoint(300, 300))
    qtbot.mouseMove(viewport, QPoint(250, 280))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(250, 280))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert view.origin() - origin == QPointF(-50, -20)

    origin = view.origin()
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(200, 200))
    qtbot.mouseMove(viewport, QPoint(230, 260))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(230, 260))
    assert view.origin() - origin == QPointF(30, 60)
    assert view.document is not None
    assert not view.document.active_layer.pixels.any()  # panning never painted
    assert view.document.history.undo_steps == 0

    view.horizontalScrollBar().setValue(view.horizontalScrollBar().value() + 15)
    assert view.origin().x() == origin.x() + 30 - 15


def test_canvas_clicked_reports_canvas_coordinates(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.set_zoom(2.0)
    with qtbot.waitSignal(view.canvas_clicked) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=widget_point(view, 20.25, 30.25))
    x, y = blocker.args
    assert x == pytest.approx(20.25, abs=0.5) and y == pytest.approx(30.25, abs=0.5)


def test_preview_overlay_is_drawn_inside_and_past_the_canvas(qtbot: QtBot) -> None:
    view = make_view(qtbot)  # 200×100, red
    view.set_zoom(2.0)
    view.center_on(100, 50)
    preview = np.zeros((40, 60, 4), dtype=np.uint8)
    preview[...] = (0, 200, 255, 255)
    region = Rect(-30, 20, 120, 80)  # reaches past the left and bottom edges; drawn scaled 2×
    view.set_preview(region, rgba_to_qimage(preview))
    assert view.preview_region == region
    assert shown_colour(view, 40, 50) == (0, 200, 255)
    assert shown_colour(view, -20, 40) == (0, 200, 255)  # left of the canvas
    assert shown_colour(view, 40, 95) == (0, 200, 255)
    assert shown_colour(view, 40, 10) == (255, 0, 0)  # above the region: the canvas itself
    assert shown_colour(view, 150, 50) == (255, 0, 0)

    view.set_preview(None, None)
    assert view.preview_region is None
    assert shown_colour(view, 40, 50) == (255, 0, 0)
    assert shown_colour(view, -20, 40) == (BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue())


def test_selection_overlay_reaches_past_the_canvas_edge(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    document = view.document
    assert document is not None
    view.set_zoom(2.0)
    view.center_on(150, 50)
    background = (BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue())
    assert shown_colour(view, 230, 50) == background
    document.select_rect(Rect(150, 20, 120, 60))  # 70 px past the right edge
    assert shown_colour(view, 230, 50) != background  # tinted outside the canvas
    inside = shown_colour(view, 170, 50)
    assert inside != (255, 0, 0)  # tinted on the canvas
    assert shown_colour(view, 100, 50) == (255, 0, 0)  # not selected: untouched
    document.clear_selection()
    assert shown_colour(view, 230, 50) == background


def test_selection_outline_follows_the_mask() -> None:
    from studio.canvas.selection import Selection

    outline = selection_outline(Selection.rectangle(Rect(-5, 2, 10, 4)))
    bounds = outline.boundingRect()
    assert (bounds.left(), bounds.top(), bounds.width(), bounds.height()) == (-5, 2, 10, 4)
    assert selection_outline(Selection.empty()).isEmpty()


def test_qimage_round_trip() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (7, 9, 4), dtype=np.uint8)
    image = rgba_to_qimage(pixels)
    assert (image.width(), image.height()) == (9, 7)
    assert np.array_equal(qimage_to_rgba(image), pixels)
    odd = QImage(3, 2, QImage.Format.Format_RGB888)  # padded rows
    odd.fill(QColor(10, 20, 30))
    assert qimage_to_rgba(odd)[1, 2].tolist() == [10, 20, 30, 255]


def test_a_fitted_canvas_stays_fitted_when_the_window_grows_until_the_user_zooms(qtbot: QtBot) -> None:
    view = CanvasView()
    qtbot.addWidget(view)
    view.set_document(CanvasDocument(200, 200))
    view.resize(150, 150)  # laid out small first, as while a window is being built
    view.show()
    qtbot.waitExposed(view)
    small = view.zoom
    view.resize(600, 600)
    qtbot.waitUntil(lambda: view.zoom > small * 2)
    view.actual_size()
    view.resize(500, 500)
    assert view.zoom == 1.0
