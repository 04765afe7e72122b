"""Canvas tools (brush, eraser, rectangle and lasso select, move layer, colour picker; fill and transform live
in their own modules), their shared options, and the options bar.

A tool gets the view's mouse and key events in canvas coordinates (:class:`ToolEvent`) and edits the
view's document through the Qt-free canvas core; it sees the view only as a :class:`ToolHost`. Each brush stroke, selection
and layer move is one undo step. Tools raise :class:`CanvasError` to refuse an edit; the view reports it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.painting import (
    MAX_BRUSH_SIZE,
    MAX_TOLERANCE,
    Brush,
    Stroke,
    pick_colour,
    translate_layer,
)
from studio.canvas.selection import Selection, SelectionMode
from studio.ui.canvas.qimage import qcolor_to_rgba, rgba_to_qcolor
from studio.ui.dialogs import Dialogs, QtDialogs

MAX_SIZE = 1000
MAX_FEATHER = 200.0
CLOSE_DISTANCE = 8.0  # viewport pixels from the first lasso point that close the lasso
LASSO_STEP = 2.0  # viewport pixels between freehand lasso points
DRAG_DISTANCE = 6.0  # viewport pixels a press must travel to be a freehand drag rather than a click


@dataclass(frozen=True)
class ToolEvent:
    """A mouse event as a tool sees it: canvas and widget position, buttons and modifiers."""

    pos: QPointF
    widget_pos: QPointF
    button: Qt.MouseButton
    buttons: Qt.MouseButton
    modifiers: Qt.KeyboardModifier


class ToolHost(Protocol):
    """What a tool needs from the view it works in (a :class:`~studio.ui.canvas.view.CanvasView` is one)."""

    @property
    def document(self) -> CanvasDocument | None: ...

    @property
    def zoom(self) -> float: ...

    def canvas_to_widget(self, point: QPointF | tuple[float, float]) -> QPointF: ...

    def canvas_rect_to_widget(self, rect: Rect | QRectF) -> QRectF: ...


DEFAULT_TOLERANCE = 32


class ToolOptions(QObject):
    """Settings shared by the tools: brush size, hardness, opacity and colour, selection feather, and the
    fill tolerance and whether fills sample every visible layer."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._size = 24.0
        self._hardness = 0.8
        self._opacity = 1.0
        self._colour: tuple[int, int, int, int] = (0, 0, 0, 255)
        self._feather = 0.0
        self._tolerance = DEFAULT_TOLERANCE
        self._sample_merged = False

    @property
    def size(self) -> float:
        """Brush diameter in canvas pixels."""
        return self._size

    def set_size(self, size: float) -> None:
        self._set("_size", float(min(MAX_SIZE, max(1.0, size))))

    @property
    def hardness(self) -> float:
        return self._hardness

    def set_hardness(self, hardness: float) -> None:
        self._set("_hardness", float(min(1.0, max(0.0, hardness))))

    @property
    def opacity(self) -> float:
        return self._opacity

    def set_opacity(self, opacity: float) -> None:
        self._set("_opacity", float(min(1.0, max(0.0, opacity))))

    @property
    def colour(self) -> tuple[int, int, int, int]:
        return self._colour

    def set_colour(self, colour: tuple[int, int, int, int] | QColor) -> None:
        rgba = qcolor_to_rgba(colour) if isinstance(colour, QColor) else tuple(int(v) for v in colour)
        if len(rgba) == 3:
            rgba = (*rgba, 255)
        self._set("_colour", (rgba[0], rgba[1], rgba[2], rgba[3]))

    @property
    def feather(self) -> float:
        """Feather radius (pixels) applied to new selections."""
        return self._feather

    def set_feather(self, feather: float) -> None:
        self._set("_feather", float(min(MAX_FEATHER, max(0.0, feather))))

    @property
    def tolerance(self) -> int:
        """How far (0..255, per channel) a colour may differ and still be filled."""
        return self._tolerance

    def set_tolerance(self, tolerance: int) -> None:
        self._set("_tolerance", int(min(MAX_TOLERANCE, max(0, tolerance))))

    @property
    def sample_merged(self) -> bool:
        """True when fills look at every visible layer instead of the active one."""
        return self._sample_merged

    def set_sample_merged(self, sample_merged: bool) -> None:
        self._set("_sample_merged", bool(sample_merged))

    def brush(self, eraser: bool = False) -> Brush:
        """The brush these options describe."""
        return Brush(
            size=min(MAX_BRUSH_SIZE, self._size),
            color=self._colour,
            hardness=self._hardness,
            opacity=self._opacity,
            eraser=eraser,
        )

    def grow_size(self) -> None:
        """One step bigger (``]``)."""
        self.set_size(_size_step(self._size, +1))

    def shrink_size(self) -> None:
        """One step smaller (``[``)."""
        self.set_size(_size_step(self._size, -1))

    def _set(self, name: str, value: object) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self.changed.emit()


def _size_step(size: float, direction: int) -> float:
    step = 1.0 if size < 10 else 2.0 if size < 30 else 5.0 if size < 100 else 20.0
    if direction < 0:
        step = 1.0 if size <= 10 else 2.0 if size <= 30 else 5.0 if size <= 100 else 20.0
    return size + direction * step


def selection_mode(modifiers: Qt.KeyboardModifier) -> SelectionMode:
    """Shift adds, Alt (or Ctrl) subtracts, Shift+Alt intersects, nothing replaces."""
    shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
    subtract = bool(modifiers & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ControlModifier))
    if shift and subtract:
        return SelectionMode.INTERSECT
    if shift:
        return SelectionMode.ADD
    if subtract:
        return SelectionMode.SUBTRACT
    return SelectionMode.REPLACE


def _cosmetic(colour: QColor, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, 1, style)
    pen.setCosmetic(True)
    return pen


class CanvasTool:
    """Base class: every handler does nothing."""

    name = ""
    label = ""
    shortcut = ""
    description = ""

    def __init__(self, options: ToolOptions) -> None:
        self.options = options

    def cursor(self) -> QCursor:
        return QCursor(Qt.CursorShape.CrossCursor)

    def activate(self, view: ToolHost) -> None:
        """The tool became current in ``view``."""

    def deactivate(self, view: ToolHost) -> None:
        """Another tool became current."""

    def press(self, view: ToolHost, event: ToolEvent) -> None: ...

    def move(self, view: ToolHost, event: ToolEvent) -> None: ...

    def release(self, view: ToolHost, event: ToolEvent) -> None: ...

    def double_click(self, view: ToolHost, event: ToolEvent) -> None: ...

    def key_press(self, view: ToolHost, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> bool:
        """Handle a key; True when it was used."""
        return False

    def leave(self, view: ToolHost) -> None:
        """The pointer left the view."""

    def cancel(self, view: ToolHost) -> None:
        """Stop what is in progress (an open stroke is finished, not lost)."""

    @property
    def busy(self) -> bool:
        """True while a drag or an unfinished lasso is in progress."""
        return False

    def paint_overlay(self, view: ToolHost, painter: QPainter) -> None:
        """Draw feedback in viewport coordinates."""

    def overlay_bounds(self, view: ToolHost) -> QRectF | None:
        """The viewport area :meth:`paint_overlay` draws in, or None."""
        return None


def _document(view: ToolHost) -> CanvasDocument:
    document = view.document
    if document is None:
        raise CanvasError("There is no canvas")
    return document


class BrushTool(CanvasTool):
    """Paints round dabs with the options' colour, size and hardness; one stroke = one undo step."""

    name = "brush"
    label = "&Brush"
    shortcut = "B"
    description = "Brush: paint on the active layer"
    eraser = False

    def __init__(self, options: ToolOptions) -> None:
        super().__init__(options)
        self._stroke: Stroke | None = None
        self._hover: QPointF | None = None

    @property
    def busy(self) -> bool:
        return self._stroke is not None

    def press(self, view: ToolHost, event: ToolEvent) -> None:
        document = _document(view)
        layer = document.active_layer
        if not layer.visible:
            raise CanvasError(f"The layer “{layer.name}” is hidden; show it to paint on it")
        self._hover = event.widget_pos
        self._stroke = Stroke(document, layer, self.options.brush(self.eraser))
        self._stroke.move_to(event.pos.x(), event.pos.y())

    def move(self, view: ToolHost, event: ToolEvent) -> None:
        self._hover = event.widget_pos
        if self._stroke is not None and event.buttons & Qt.MouseButton.LeftButton:
            self._stroke.line_to(event.pos.x(), event.pos.y())

    def release(self, view: ToolHost, event: ToolEvent) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is not None:
            try:
                stroke.line_to(event.pos.x(), event.pos.y())
            finally:
                stroke.finish()

    def cancel(self, view: ToolHost) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is not None:
            stroke.finish()

    def leave(self, view: ToolHost) -> None:
        self._hover = None

    def _circle(self, view: ToolHost) -> QRectF | None:
        if self._hover is None:
            return None
        radius = max(1.0, self.options.size * view.zoom / 2)
        return QRectF(self._hover.x() - radius, self._hover.y() - radius, 2 * radius, 2 * radius)

    def paint_overlay(self, view: ToolHost, painter: QPainter) -> None:
        circle = self._circle(view)
        if circle is None or circle.width() < 4:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_cosmetic(QColor(0, 0, 0, 200)))
        painter.drawEllipse(circle)
        painter.setPen(_cosmetic(QColor(255, 255, 255, 200)))
        painter.drawEllipse(circle.adjusted(1, 1, -1, -1))

    def overlay_bounds(self, view: ToolHost) -> QRectF | None:
        return self._circle(view)


class EraserTool(BrushTool):
    """Erases to transparency with the brush's size and hardness."""

    name = "eraser"
    label = "&Eraser"
    shortcut = "E"
    description = "Eraser: erase the active layer to transparency"
    eraser = True


class _SelectTool(CanvasTool):
    def _commit(self, view: ToolHost, shape: Selection, mode: SelectionMode, label: str) -> None:
        feather = self.options.feather
        if feather > 0 and not shape.is_empty:
            shape = shape.feathered(feather)
        _document(view).combine_selection(shape, mode, label)


class RectSelectTool(_SelectTool):
    """Drag a rectangle (it may reach past the canvas edge: that asks for outpainting)."""

    name = "rect_select"
    label = "&Rectangle Select"
    shortcut = "M"
    description = "Rectangle select: drag a rectangle (Shift adds, Alt subtracts)"

    def __init__(self, options: ToolOptions) -> None:
        super().__init__(options)
        self._start: QPointF | None = None
        self._current: QPointF | None = None
        self._mode = SelectionMode.REPLACE

    @property
    def busy(self) -> bool:
        return self._start is not None

    def press(self, view: ToolHost, event: ToolEvent) -> None:
        self._start = self._current = event.pos
        self._mode = selection_mode(event.modifiers)

    def move(self, view: ToolHost, event: ToolEvent) -> None:
        if self._start is not None and event.buttons & Qt.MouseButton.LeftButton:
            self._current = event.pos

    def release(self, view: ToolHost, event: ToolEvent) -> None:
        if self._start is None:
            return
        self._current = event.pos
        rect = self.rect()
        self._start = self._current = None
        if rect is None or rect.is_empty:
            if self._mode is SelectionMode.REPLACE:
                _document(view).clear_selection()
            return
        self._commit(view, Selection.rectangle(rect), self._mode, "Rectangle select")

    def rect(self) -> Rect | None:
        """The rectangle being dragged, in whole canvas pixels."""
        if self._start is None or self._current is None:
            return None
        a, b = self._start, self._current
        return Rect.from_bounds(
            round(min(a.x(), b.x())),
            round(min(a.y(), b.y())),
            round(max(a.x(), b.x())),
            round(max(a.y(), b.y())),
        )

    def key_press(self, view: ToolHost, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> bool:
        if key == Qt.Key.Key_Escape and self._start is not None:
            self.cancel(view)
            return True
        return False

    def cancel(self, view: ToolHost) -> None:
        self._start = self._current = None

    def overlay_bounds(self, view: ToolHost) -> QRectF | None:
        rect = self.rect()
        return None if rect is None else view.canvas_rect_to_widget(rect)

    def paint_overlay(self, view: ToolHost, painter: QPainter) -> None:
        bounds = self.overlay_bounds(view)
        if bounds is None:
            return
        painter.setBrush(QColor(70, 140, 255, 40))
        painter.setPen(_cosmetic(QColor(255, 255, 255)))
        painter.drawRect(bounds)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_cosmetic(QColor(0, 0, 0), Qt.PenStyle.DashLine))
        painter.drawRect(bounds)


class LassoSelectTool(_SelectTool):
    """Drag a freehand outline, or click corner after corner (double-click, Enter or a click on the first
    point closes it; Esc cancels; Backspace removes the last point)."""

    name = "lasso_select"
    label = "&Lasso Select"
    shortcut = "L"
    description = "Lasso select: drag an outline or click its corners (Shift adds, Alt subtracts)"

    def __init__(self, options: ToolOptions) -> None:
        super().__init__(options)
        self._points: list[QPointF] = []
        self._hover: QPointF | None = None
        self._dragging = False
        self._dragged = False
        self._press_at = QPointF()
        self._mode = SelectionMode.REPLACE

    @property
    def busy(self) -> bool:
        return bool(self._points)

    @property
    def points(self) -> list[tuple[float, float]]:
        """The lasso's points so far (canvas coordinates)."""
        return [(p.x(), p.y()) for p in self._points]

    def press(self, view: ToolHost, event: ToolEvent) -> None:
        self._hover = event.pos
        self._dragging, self._dragged = True, False
        self._press_at = event.widget_pos
        if not self._points:
            self._mode = selection_mode(event.modifiers)
            self._points = [event.pos]
            return
        first = view.canvas_to_widget(self._points[0])
        if len(self._points) >= 3 and _distance(first, event.widget_pos) <= CLOSE_DISTANCE:
            self._dragging = False
            self.finish(view)
            return
        self._points.append(event.pos)

    def move(self, view: ToolHost, event: ToolEvent) -> None:
        self._hover = event.pos
        if self._dragging and self._points and event.buttons & Qt.MouseButton.LeftButton:
            last = view.canvas_to_widget(self._points[-1])
            if _distance(last, event.widget_pos) >= LASSO_STEP:
                self._points.append(event.pos)
            if _distance(self._press_at, event.widget_pos) >= DRAG_DISTANCE:
                self._dragged = True

    def release(self, view: ToolHost, event: ToolEvent) -> None:
        if not self._dragging:
            return
        self._dragging = False
        if self._dragged:
            self._points.append(event.pos)
            if len(self._points) >= 3:
                self.finish(view)
            else:
                self.cancel(view)

    def double_click(self, view: ToolHost, event: ToolEvent) -> None:
        self.finish(view)

    def key_press(self, view: ToolHost, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._points:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish(view)
        elif key == Qt.Key.Key_Escape:
            self.cancel(view)
        elif key == Qt.Key.Key_Backspace:
            self._points.pop()
        else:
            return False
        return True

    def finish(self, view: ToolHost) -> None:
        """Close the lasso and select its inside (fewer than three points select nothing)."""
        points, mode = self.points, self._mode
        self.cancel(view)
        if len(points) >= 3:
            self._commit(view, Selection.polygon(points), mode, "Lasso select")

    def cancel(self, view: ToolHost) -> None:
        self._points = []
        self._dragging = self._dragged = False

    def leave(self, view: ToolHost) -> None:
        self._hover = None

    def _widget_points(self, view: ToolHost) -> list[QPointF]:
        points = [view.canvas_to_widget(p) for p in self._points]
        if points and self._hover is not None and not self._dragging:
            points.append(view.canvas_to_widget(self._hover))
        return points

    def overlay_bounds(self, view: ToolHost) -> QRectF | None:
        points = self._widget_points(view)
        if not points:
            return None
        return (
            QPolygonF(points)
            .boundingRect()
            .adjusted(-CLOSE_DISTANCE, -CLOSE_DISTANCE, CLOSE_DISTANCE, CLOSE_DISTANCE)
        )

    def paint_overlay(self, view: ToolHost, painter: QPainter) -> None:
        points = self._widget_points(view)
        if not points:
            return
        polygon = QPolygonF(points)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(_cosmetic(QColor(255, 255, 255)))
        painter.drawPolyline(polygon)
        painter.setPen(_cosmetic(QColor(0, 0, 0), Qt.PenStyle.DashLine))
        painter.drawPolyline(polygon)
        first = points[0]
        painter.setBrush(QColor(255, 255, 255))
        painter.setPen(_cosmetic(QColor(0, 0, 0)))
        painter.drawEllipse(first, 3.5, 3.5)


def _distance(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


class MoveTool(CanvasTool):
    """Drag the active layer's pixels (one undo step); arrow keys nudge it by 1 px (10 with Shift)."""

    name = "move"
    label = "&Move Layer"
    shortcut = "V"
    description = "Move: drag the active layer"

    def __init__(self, options: ToolOptions) -> None:
        super().__init__(options)
        self._start: QPointF | None = None
        self._layer_id: str | None = None
        self._original: np.ndarray | None = None
        self._bounds: Rect | None = None
        self._placed: Rect | None = None
        self.offset = (0, 0)

    @property
    def busy(self) -> bool:
        return self._start is not None

    def cursor(self) -> QCursor:
        return QCursor(Qt.CursorShape.SizeAllCursor)

    def press(self, view: ToolHost, event: ToolEvent) -> None:
        document = _document(view)
        layer = document.active_layer
        self._bounds = layer.content_bounds()
        if self._bounds is None:
            return  # nothing to move
        self._start = event.pos
        self._layer_id = layer.id
        self._original = layer.pixels[self._bounds.slices].copy()
        self._placed = self._bounds
        self.offset = (0, 0)
        document.history.begin_stroke("Move layer")

    def move(self, view: ToolHost, event: ToolEvent) -> None:
        if self._start is None or not event.buttons & Qt.MouseButton.LeftButton:
            return
        offset = (round(event.pos.x() - self._start.x()), round(event.pos.y() - self._start.y()))
        if offset != self.offset:
            self._place(view, offset)

    def release(self, view: ToolHost, event: ToolEvent) -> None:
        if self._start is None:
            return
        try:
            self.move(view, event)
        finally:
            self._end(view)

    def _place(self, view: ToolHost, offset: tuple[int, int]) -> None:
        document = _document(view)
        original = self._original
        assert self._bounds is not None and self._placed is not None and self._layer_id is not None
        assert original is not None
        canvas = document.bounds
        target = self._bounds.translated(*offset)
        dirty = self._placed.united(target).intersected(canvas)
        if not dirty.is_empty:
            with document.edit_pixels(self._layer_id, dirty, "Move layer") as pixels:
                pixels[...] = 0
                inside = target.intersected(dirty)
                if not inside.is_empty:
                    source = inside.translated(-target.x, -target.y)
                    pixels[inside.translated(-dirty.x, -dirty.y).slices] = original[source.slices]
        self._placed = target
        self.offset = offset

    def _end(self, view: ToolHost) -> None:
        if self._start is None:
            return
        self._start = None
        self._original = None
        document = view.document
        if document is not None and document.history.in_stroke:
            document.history.end_stroke()

    def cancel(self, view: ToolHost) -> None:
        self._end(view)

    def key_press(self, view: ToolHost, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> bool:
        steps = {
            Qt.Key.Key_Left: (-1, 0),
            Qt.Key.Key_Right: (1, 0),
            Qt.Key.Key_Up: (0, -1),
            Qt.Key.Key_Down: (0, 1),
        }
        if key not in steps or self._start is not None:
            return False
        scale = 10 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1
        dx, dy = steps[key]
        document = _document(view)
        translate_layer(document, document.active_layer, dx * scale, dy * scale)
        return True


class ColourPickerTool(CanvasTool):
    """Click or drag to take the brush colour from the visible image."""

    name = "picker"
    label = "Colour &Picker"
    shortcut = "I"
    description = "Colour picker: take the brush colour from the image"

    def press(self, view: ToolHost, event: ToolEvent) -> None:
        self._pick(view, event.pos)

    def move(self, view: ToolHost, event: ToolEvent) -> None:
        if event.buttons & Qt.MouseButton.LeftButton:
            self._pick(view, event.pos)

    def _pick(self, view: ToolHost, pos: QPointF) -> None:
        document = _document(view)
        if not document.bounds.contains_point(pos.x(), pos.y()):
            return
        r, g, b, a = pick_colour(document, pos.x(), pos.y())
        if a > 0:
            self.options.set_colour((r, g, b, 255))


TOOL_CLASSES: tuple[type[CanvasTool], ...] = (
    BrushTool,
    EraserTool,
    RectSelectTool,
    LassoSelectTool,
    MoveTool,
    ColourPickerTool,
)


# -- icons ------------------------------------------------------------------------------------------------


def tool_icon(name: str, colour: QColor | None = None) -> QIcon:
    """A simple drawn icon for a tool or a layer command."""
    colour = colour or QApplication.palette().windowText().color()
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    pen = QPen(colour, 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    _ICON_PAINTERS.get(name, _paint_unknown)(painter, colour)
    painter.end()
    return QIcon(pixmap)


def _paint_brush(painter: QPainter, colour: QColor) -> None:
    painter.drawLine(QPointF(52, 10), QPointF(28, 36))
    path = QPainterPath(QPointF(28, 34))
    path.cubicTo(QPointF(18, 30), QPointF(12, 40), QPointF(14, 48))
    path.cubicTo(QPointF(12, 54), QPointF(8, 56), QPointF(6, 56))
    path.cubicTo(QPointF(20, 60), QPointF(32, 50), QPointF(30, 38))
    path.closeSubpath()
    painter.setBrush(colour)
    painter.drawPath(path)


def _paint_eraser(painter: QPainter, colour: QColor) -> None:
    painter.translate(32, 32)
    painter.rotate(-40)
    painter.drawRoundedRect(QRectF(-24, -12, 48, 24), 4, 4)
    painter.setBrush(colour)
    painter.drawRoundedRect(QRectF(-24, -12, 18, 24), 4, 4)


def _paint_rect_select(painter: QPainter, colour: QColor) -> None:
    painter.setPen(QPen(colour, 4, Qt.PenStyle.DashLine))
    painter.drawRect(QRectF(10, 14, 44, 36))


def _paint_lasso(painter: QPainter, colour: QColor) -> None:
    painter.setPen(QPen(colour, 4, Qt.PenStyle.DashLine))
    painter.drawEllipse(QRectF(8, 10, 48, 30))
    painter.setPen(QPen(colour, 4))
    path = QPainterPath(QPointF(20, 38))
    path.cubicTo(QPointF(14, 48), QPointF(26, 52), QPointF(20, 60))
    painter.drawPath(path)


def _paint_move(painter: QPainter, colour: QColor) -> None:
    painter.drawLine(QPointF(32, 6), QPointF(32, 58))
    painter.drawLine(QPointF(6, 32), QPointF(58, 32))
    painter.setBrush(colour)
    for angle in (0, 90, 180, 270):
        painter.save()
        painter.translate(32, 32)
        painter.rotate(angle)
        painter.drawPolygon(QPolygonF([QPointF(0, -28), QPointF(-8, -18), QPointF(8, -18)]))
        painter.restore()


def _paint_picker(painter: QPainter, colour: QColor) -> None:
    painter.drawLine(QPointF(10, 54), QPointF(36, 28))
    painter.setBrush(colour)
    painter.drawEllipse(QRectF(36, 8, 20, 20))
    painter.drawLine(QPointF(30, 22), QPointF(42, 34))


def _paint_fill(painter: QPainter, colour: QColor) -> None:
    # a tipped bucket pouring a drop
    painter.drawPolygon(QPolygonF([QPointF(14, 26), QPointF(34, 10), QPointF(54, 32), QPointF(34, 50)]))
    painter.drawLine(QPointF(24, 18), QPointF(14, 8))
    painter.setBrush(colour)
    painter.drawEllipse(QRectF(8, 40, 12, 16))


def _paint_transform(painter: QPainter, colour: QColor) -> None:
    painter.drawRect(QRectF(14, 14, 36, 36))
    painter.setBrush(colour)
    for x, y in ((14, 14), (50, 14), (50, 50), (14, 50)):
        painter.drawRect(QRectF(x - 5, y - 5, 10, 10))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawArc(QRectF(22, 2, 20, 20), 30 * 16, 120 * 16)


def _paint_group(painter: QPainter, colour: QColor) -> None:
    painter.drawPolyline(
        QPolygonF(
            [
                QPointF(6, 52),
                QPointF(6, 14),
                QPointF(24, 14),
                QPointF(30, 20),
                QPointF(58, 20),
                QPointF(58, 52),
                QPointF(6, 52),
            ]
        )
    )


def _paint_plus(painter: QPainter, colour: QColor) -> None:
    painter.drawLine(QPointF(32, 12), QPointF(32, 52))
    painter.drawLine(QPointF(12, 32), QPointF(52, 32))


def _paint_delete(painter: QPainter, colour: QColor) -> None:
    painter.drawRect(QRectF(18, 20, 28, 36))
    painter.drawLine(QPointF(12, 20), QPointF(52, 20))
    painter.drawLine(QPointF(26, 12), QPointF(38, 12))
    painter.drawLine(QPointF(28, 28), QPointF(28, 48))
    painter.drawLine(QPointF(36, 28), QPointF(36, 48))


def _paint_duplicate(painter: QPainter, colour: QColor) -> None:
    painter.drawRect(QRectF(10, 10, 30, 30))
    painter.drawRect(QRectF(24, 24, 30, 30))


def _paint_up(painter: QPainter, colour: QColor) -> None:
    painter.drawLine(QPointF(32, 54), QPointF(32, 12))
    painter.drawPolyline(QPolygonF([QPointF(14, 30), QPointF(32, 12), QPointF(50, 30)]))


def _paint_down(painter: QPainter, colour: QColor) -> None:
    painter.drawLine(QPointF(32, 10), QPointF(32, 52))
    painter.drawPolyline(QPolygonF([QPointF(14, 34), QPointF(32, 52), QPointF(50, 34)]))


def _paint_unknown(painter: QPainter, colour: QColor) -> None:
    painter.drawEllipse(QRectF(16, 16, 32, 32))


_ICON_PAINTERS: dict[str, Callable[[QPainter, QColor], None]] = {
    "brush": _paint_brush,
    "eraser": _paint_eraser,
    "rect_select": _paint_rect_select,
    "lasso_select": _paint_lasso,
    "move": _paint_move,
    "picker": _paint_picker,
    "fill": _paint_fill,
    "transform": _paint_transform,
    "group": _paint_group,
    "add": _paint_plus,
    "delete": _paint_delete,
    "duplicate": _paint_duplicate,
    "up": _paint_up,
    "down": _paint_down,
}


# -- options bar ------------------------------------------------------------------------------------------


class ColourButton(QToolButton):
    """A swatch of the brush colour; clicking asks ``dialogs`` for a colour."""

    def __init__(
        self, options: ToolOptions, parent: QWidget | None = None, dialogs: Dialogs | None = None
    ) -> None:
        super().__init__(parent)
        self._options = options
        self._dialogs: Dialogs = dialogs if dialogs is not None else QtDialogs(self)
        self.setAccessibleName("Brush colour")
        self.setToolTip("Brush colour (click to choose)")
        self.setFixedSize(40, 24)
        self.clicked.connect(self.choose)
        options.changed.connect(self._refresh)
        self._refresh()

    def _refresh(self) -> None:
        colour = rgba_to_qcolor(self._options.colour)
        pixmap = QPixmap(30, 16)
        pixmap.fill(colour)
        painter = QPainter(pixmap)
        painter.setPen(QColor(0, 0, 0, 160))
        painter.drawRect(0, 0, 29, 15)
        painter.end()
        self.setIcon(QIcon(pixmap))
        self.setIconSize(pixmap.size())
        self.setAccessibleDescription(colour.name())

    def choose(self) -> None:
        colour = self._dialogs.colour(rgba_to_qcolor(self._options.colour))
        if colour is not None:
            self._options.set_colour(colour)


class ToolOptionsBar(QWidget):
    """Size, hardness, opacity and colour for the brush and eraser; feather for the selection tools."""

    def __init__(
        self, options: ToolOptions, parent: QWidget | None = None, dialogs: Dialogs | None = None
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName("Tool options")
        self._options = options
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(6)
        self.tool_label = QLabel()
        self.tool_label.setMinimumWidth(110)
        font = self.tool_label.font()
        font.setBold(True)
        self.tool_label.setFont(font)
        layout.addWidget(self.tool_label)

        self.size_label = QLabel("Size")
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(1, MAX_SIZE)
        self.size_slider.setFixedWidth(120)
        self.size_slider.setAccessibleName("Brush size slider")
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, MAX_SIZE)
        self.size_spin.setSuffix(" px")
        self.size_spin.setAccessibleName("Brush size")
        self.size_spin.setToolTip("Brush size ([ and ] change it)")
        self.hardness_label = QLabel("Hardness")
        self.hardness_spin = QSpinBox()
        self.hardness_spin.setRange(0, 100)
        self.hardness_spin.setSuffix(" %")
        self.hardness_spin.setAccessibleName("Brush hardness")
        self.opacity_label = QLabel("Opacity")
        self.opacity_spin = QSpinBox()
        self.opacity_spin.setRange(1, 100)
        self.opacity_spin.setSuffix(" %")
        self.opacity_spin.setAccessibleName("Brush opacity")
        self.colour_label = QLabel("Colour")
        self.colour_button = ColourButton(options, dialogs=dialogs)
        self.feather_label = QLabel("Feather")
        self.feather_spin = QDoubleSpinBox()
        self.feather_spin.setRange(0.0, MAX_FEATHER)
        self.feather_spin.setDecimals(1)
        self.feather_spin.setSuffix(" px")
        self.feather_spin.setAccessibleName("Selection feather")
        self.feather_spin.setToolTip("Soften the edge of new selections by this many pixels")
        self.mode_hint = QLabel("Shift: add · Alt: subtract · Shift+Alt: intersect")
        self.mode_hint.setEnabled(False)
        self.tolerance_label = QLabel("Tolerance")
        self.tolerance_spin = QSpinBox()
        self.tolerance_spin.setRange(0, MAX_TOLERANCE)
        self.tolerance_spin.setAccessibleName("Fill tolerance")
        self.tolerance_spin.setToolTip(
            "How different a colour may be and still be filled (0: the same colour only)"
        )
        self.sample_merged_check = QCheckBox("All layers")
        self.sample_merged_check.setAccessibleName("Fill samples all layers")
        self.sample_merged_check.setToolTip(
            "Find the area to fill in what all visible layers show (Shift+click)"
        )
        self.transform_hint = QLabel(
            "Drag: move · handles: scale · outside: rotate · Enter applies · Esc cancels"
        )
        self.transform_hint.setEnabled(False)
        for widget in (
            self.size_label,
            self.size_slider,
            self.size_spin,
            self.hardness_label,
            self.hardness_spin,
            self.opacity_label,
            self.opacity_spin,
            self.colour_label,
            self.colour_button,
            self.feather_label,
            self.feather_spin,
            self.mode_hint,
            self.tolerance_label,
            self.tolerance_spin,
            self.sample_merged_check,
            self.transform_hint,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)

        self.size_slider.valueChanged.connect(lambda value: options.set_size(value))
        self.size_spin.valueChanged.connect(lambda value: options.set_size(value))
        self.hardness_spin.valueChanged.connect(lambda value: options.set_hardness(value / 100))
        self.opacity_spin.valueChanged.connect(lambda value: options.set_opacity(value / 100))
        self.feather_spin.valueChanged.connect(options.set_feather)
        self.tolerance_spin.valueChanged.connect(options.set_tolerance)
        self.sample_merged_check.toggled.connect(options.set_sample_merged)
        options.changed.connect(self._refresh)
        self._groups: dict[str, tuple[QWidget, ...]] = {
            "size": (
                self.size_label,
                self.size_slider,
                self.size_spin,
                self.hardness_label,
                self.hardness_spin,
            ),
            "opacity": (self.opacity_label, self.opacity_spin),
            "colour": (self.colour_label, self.colour_button),
            "feather": (self.feather_label, self.feather_spin, self.mode_hint),
            "tolerance": (self.tolerance_label, self.tolerance_spin, self.sample_merged_check),
            "transform": (self.transform_hint,),
        }
        self._refresh()
        self.show_tool(None)

    def show_tool(self, tool: CanvasTool | None) -> None:
        """Show the options that apply to ``tool``."""
        name = tool.name if tool is not None else ""
        self.tool_label.setText(tool.label.replace("&", "") if tool is not None else "")
        wanted = {
            "brush": {"size", "opacity", "colour"},
            "eraser": {"size", "opacity"},
            "rect_select": {"feather"},
            "lasso_select": {"feather"},
            "picker": {"colour"},
            "fill": {"colour", "tolerance"},
            "transform": {"transform"},
        }.get(name, set())
        for group, widgets in self._groups.items():
            for widget in widgets:
                widget.setVisible(group in wanted)

    def _refresh(self) -> None:
        options = self._options
        for widget, value in (
            (self.size_slider, round(options.size)),
            (self.size_spin, round(options.size)),
            (self.hardness_spin, round(options.hardness * 100)),
            (self.opacity_spin, round(options.opacity * 100)),
        ):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self.feather_spin.blockSignals(True)
        self.feather_spin.setValue(options.feather)
        self.feather_spin.blockSignals(False)
        self.tolerance_spin.blockSignals(True)
        self.tolerance_spin.setValue(options.tolerance)
        self.tolerance_spin.blockSignals(False)
        self.sample_merged_check.blockSignals(True)
        self.sample_merged_check.setChecked(options.sample_merged)
        self.sample_merged_check.blockSignals(False)
