"""The free transform tool: drag inside the box to move, drag a handle to scale (Shift keeps the
proportions), drag outside to rotate (Shift snaps to 15°); Enter applies, Esc cancels.

The transform shows live on the canvas inside an open undo step; applying it records one "Transform" step,
cancelling restores the pixels and records nothing.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen, QPolygonF

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.transform import MIN_SCALE, Transform, free_transform, transform_source
from studio.ui.canvas.tools import CanvasTool, ToolEvent, ToolHost, ToolOptions

HANDLE = 5.0  # half the side of a handle square, viewport pixels
HANDLE_REACH = 8.0  # how close a press must be to a handle to grab it
SNAP_DEGREES = 15.0
# Handles as (x, y) in -1..1 of the box: corners scale both ways, edge middles one way.
HANDLES = ((-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0))


def _pen(colour: QColor, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, 1, style)
    pen.setCosmetic(True)
    return pen


class TransformTool(CanvasTool):
    """Move, scale and rotate the selected pixels of the active layer (all of it without a selection)."""

    name = "transform"
    label = "&Transform"
    shortcut = "T"
    description = "Transform: drag to move, handles to scale, outside to rotate; Enter applies, Esc cancels"

    def __init__(self, options: ToolOptions) -> None:
        super().__init__(options)
        self.transform = Transform()
        self._layer_id: str | None = None
        self._original: np.ndarray | None = None
        self._source: Rect | None = None
        self._dirty: Rect | None = None
        self._drag: tuple[str, tuple[int, int]] | None = None
        self._press: QPointF | None = None
        self._press_transform = Transform()

    # -- state ------------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while a transform is shown and not yet applied or cancelled."""
        return self._original is not None

    @property
    def busy(self) -> bool:
        return self.active

    @property
    def source(self) -> Rect | None:
        """The rectangle being transformed (before the transform), while active."""
        return self._source

    def cursor(self) -> QCursor:
        return QCursor(Qt.CursorShape.SizeAllCursor)

    def begin(self, view: ToolHost) -> None:
        """Start transforming the active layer (or its selected pixels)."""
        if self.active:
            return
        document = _document(view)
        layer = document.active_layer
        source = transform_source(document, layer)
        if source is None:
            raise CanvasError("There is nothing to transform: the active layer is empty where selected")
        self._layer_id = layer.id
        self._source = source
        self._original = layer.pixels.copy()
        self._dirty = None
        centre = (source.x + source.width / 2, source.y + source.height / 2)
        self.transform = Transform(origin=centre)
        document.history.begin_stroke("Transform")

    def set_transform(self, view: ToolHost, transform: Transform) -> None:
        """Show ``transform`` live (starting the transform if needed)."""
        self.begin(view)
        self.transform = transform
        self._show(view, move_selection=False)

    def apply(self, view: ToolHost) -> None:
        """Apply the transform as one undo step (the selection follows the pixels)."""
        if not self.active:
            return
        document = _document(view)
        if not self._layer_alive(document):
            self._end(document)
            return
        try:
            if not self.transform.is_identity:
                self._show(view, move_selection=True)
            else:
                self._restore(document)
        finally:
            self._end(document)

    def revert(self, view: ToolHost) -> None:
        """Cancel: the pixels come back and no undo step is recorded."""
        if not self.active:
            return
        document = _document(view)
        try:
            if self._layer_alive(document):
                self._restore(document)
        finally:
            self._end(document)

    def _layer_alive(self, document: CanvasDocument) -> bool:
        # the layer may have been deleted from the layers panel while the transform was shown
        return any(layer.id == self._layer_id for layer in document.layers)

    def _restore(self, document: CanvasDocument) -> None:
        original, dirty = self._original, self._dirty
        if original is None or dirty is None or self._layer_id is None:
            return
        with document.edit_pixels(self._layer_id, dirty, "Transform") as view:
            view[...] = original[dirty.slices]
        self._dirty = None

    def _show(self, view: ToolHost, move_selection: bool) -> None:
        document = _document(view)
        assert self._layer_id is not None
        self._restore(document)
        changed = free_transform(document, self._layer_id, self.transform, move_selection=move_selection)
        self._dirty = changed

    def _end(self, document: CanvasDocument) -> None:
        self._original = None
        self._source = None
        self._dirty = None
        self._drag = None
        self._press = None
        self.transform = Transform()
        if document.history.in_stroke:
            document.history.end_stroke()

    # -- events -----------------------------------------------------------------------------------------

    def press(self, view: ToolHost, event: ToolEvent) -> None:
        if event.button != Qt.MouseButton.LeftButton:
            return
        self.begin(view)
        self._drag = self._hit(view, event.widget_pos)
        self._press = event.pos
        self._press_transform = self.transform

    def move(self, view: ToolHost, event: ToolEvent) -> None:
        if self._drag is None or self._press is None or not event.buttons & Qt.MouseButton.LeftButton:
            return
        transform = self._dragged(event.pos, bool(event.modifiers & Qt.KeyboardModifier.ShiftModifier))
        if transform != self.transform:
            self.set_transform(view, transform)

    def release(self, view: ToolHost, event: ToolEvent) -> None:
        if self._drag is None:
            return
        try:
            self.move(
                view,
                ToolEvent(
                    event.pos, event.widget_pos, event.button, Qt.MouseButton.LeftButton, event.modifiers
                ),
            )
        finally:
            self._drag = None
            self._press = None

    def key_press(self, view: ToolHost, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> bool:
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if not self.active:
                return False
            self.apply(view)
            return True
        if key == Qt.Key.Key_Escape:
            if not self.active:
                return False
            self.revert(view)
            return True
        return False

    def cancel(self, view: ToolHost) -> None:
        # Switching tools or undoing keeps what the user sees: the transform is applied, not lost.
        self.apply(view)

    def deactivate(self, view: ToolHost) -> None:
        self.apply(view)

    # -- geometry ---------------------------------------------------------------------------------------

    def _centre(self, transform: Transform) -> tuple[float, float]:
        return transform.origin[0] + transform.dx, transform.origin[1] + transform.dy

    def _dragged(self, pos: QPointF, shift: bool) -> Transform:
        start, press, source = self._press_transform, self._press, self._source
        assert press is not None and source is not None and self._drag is not None
        kind, (hx, hy) = self._drag
        cx, cy = self._centre(start)
        if kind == "move":
            return replace(start, dx=start.dx + pos.x() - press.x(), dy=start.dy + pos.y() - press.y())
        if kind == "rotate":
            before = math.atan2(press.y() - cy, press.x() - cx)
            after = math.atan2(pos.y() - cy, pos.x() - cx)
            angle = start.angle + math.degrees(after - before)
            if shift:
                angle = round(angle / SNAP_DEGREES) * SNAP_DEGREES
            return replace(start, angle=(angle + 180.0) % 360.0 - 180.0)
        radians = math.radians(start.angle)
        vx, vy = pos.x() - cx, pos.y() - cy
        local_x = vx * math.cos(radians) + vy * math.sin(radians)
        local_y = -vx * math.sin(radians) + vy * math.cos(radians)
        scale_x = _scale(local_x / (hx * source.width / 2)) if hx else start.scale_x
        scale_y = _scale(local_y / (hy * source.height / 2)) if hy else start.scale_y
        if shift and hx and hy:
            uniform = max(abs(scale_x), abs(scale_y))
            scale_x, scale_y = math.copysign(uniform, scale_x), math.copysign(uniform, scale_y)
        return replace(start, scale_x=scale_x, scale_y=scale_y)

    def box(self, view: ToolHost) -> QPolygonF | None:
        """The transformed box in viewport coordinates (corners clockwise from the top left)."""
        source = self._source
        if source is None:
            return None
        points = [
            self.transform.map_point(
                source.x + (hx + 1) / 2 * source.width, source.y + (hy + 1) / 2 * source.height
            )
            for hx, hy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
        return QPolygonF([view.canvas_to_widget(point) for point in points])

    def handle_points(self, view: ToolHost) -> list[tuple[tuple[int, int], QPointF]]:
        """Each handle (as its place in the box) and its viewport position."""
        source = self._source
        if source is None:
            return []
        out = []
        for hx, hy in HANDLES:
            point = self.transform.map_point(
                source.x + (hx + 1) / 2 * source.width, source.y + (hy + 1) / 2 * source.height
            )
            out.append(((hx, hy), view.canvas_to_widget(point)))
        return out

    def _hit(self, view: ToolHost, widget_pos: QPointF) -> tuple[str, tuple[int, int]]:
        for handle, point in self.handle_points(view):
            if math.hypot(point.x() - widget_pos.x(), point.y() - widget_pos.y()) <= HANDLE_REACH:
                return "scale", handle
        box = self.box(view)
        if box is not None and box.containsPoint(widget_pos, Qt.FillRule.OddEvenFill):
            return "move", (0, 0)
        return "rotate", (0, 0)

    def overlay_bounds(self, view: ToolHost) -> QRectF | None:
        box = self.box(view)
        if box is None:
            return None
        margin = HANDLE + 2
        return box.boundingRect().adjusted(-margin, -margin, margin, margin)

    def paint_overlay(self, view: ToolHost, painter: QPainter) -> None:
        box = self.box(view)
        if box is None:
            return
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_pen(QColor(255, 255, 255)))
        painter.drawPolygon(box)
        painter.setPen(_pen(QColor(0, 0, 0), Qt.PenStyle.DashLine))
        painter.drawPolygon(box)
        painter.setPen(_pen(QColor(0, 0, 0)))
        painter.setBrush(QColor(255, 255, 255))
        for _handle, point in self.handle_points(view):
            painter.drawRect(QRectF(point.x() - HANDLE, point.y() - HANDLE, 2 * HANDLE, 2 * HANDLE))


def _scale(value: float) -> float:
    if abs(value) < MIN_SCALE * 10:
        return math.copysign(MIN_SCALE * 10, value if value else 1.0)
    return value


def _document(view: ToolHost) -> CanvasDocument:
    document = view.document
    if document is None:
        raise CanvasError("There is no canvas")
    return document
