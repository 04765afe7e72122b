"""The canvas view: the document's composite over a checkerboard, with pan, zoom, the selection, the
generation preview overlay, and mouse/keyboard routing to the current tool.

Coordinates: *canvas* coordinates are document pixels (x right, y down; ``(0.5, 0.5)`` is the centre of
the top-left pixel); *widget* coordinates are viewport pixels. The scroll bars hold the viewport's
position in zoomed canvas pixels, so the canvas origin sits at ``(-h.value(), -v.value())``.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QHideEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QShowEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.selection import Selection
from studio.ui.canvas.qimage import PixelBuffer, checker_brush
from studio.ui.canvas.tools import CanvasTool, ToolEvent

ZOOM_STEPS = (
    1 / 32,
    1 / 24,
    1 / 16,
    1 / 12,
    1 / 8,
    1 / 6,
    1 / 4,
    1 / 3,
    1 / 2,
    2 / 3,
    1.0,
    1.5,
    2.0,
    3.0,
    4.0,
    6.0,
    8.0,
    12.0,
    16.0,
    24.0,
    32.0,
)
MIN_ZOOM = ZOOM_STEPS[0]
MAX_ZOOM = ZOOM_STEPS[-1]
FIT_MARGIN = 24
BACKGROUND = QColor(58, 60, 64)
SELECTION_TINT = (70, 140, 255)
SELECTION_TINT_ALPHA = 64
MAX_TINT_PIXELS = 4_000_000
ANTS_INTERVAL_MS = 180


def selection_outline(selection: Selection) -> QPainterPath:
    """The edges of the selection (mask ≥ 0.5) as line segments in canvas coordinates."""
    path = QPainterPath()
    inside = selection.mask >= 0.5
    if not inside.any():
        return path
    fx, fy = selection.frame.x, selection.frame.y
    padded = np.zeros((inside.shape[0] + 2, inside.shape[1] + 2), dtype=bool)
    padded[1:-1, 1:-1] = inside
    horizontal = padded[:-1, 1:-1] != padded[1:, 1:-1]  # edge above row r, along columns
    vertical = padded[1:-1, :-1] != padded[1:-1, 1:]  # edge left of column c, along rows
    for row, start, end in _runs(horizontal):
        path.moveTo(fx + start, fy + row)
        path.lineTo(fx + end, fy + row)
    for column, start, end in _runs(vertical.T):
        path.moveTo(fx + column, fy + start)
        path.lineTo(fx + column, fy + end)
    return path


def _runs(flags: np.ndarray) -> list[tuple[int, int, int]]:
    """``(row, start, end)`` of every run of True values along the rows of a 2-D bool array."""
    padded = np.zeros((flags.shape[0], flags.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = flags
    steps = np.diff(padded, axis=1)
    starts = np.argwhere(steps == 1)
    ends = np.argwhere(steps == -1)
    return [(int(row), int(start), int(end)) for (row, start), (_, end) in zip(starts, ends, strict=True)]


def selection_tint(selection: Selection) -> QImage:
    """A translucent image of the selection mask (downsampled when the selection is huge)."""
    mask = selection.mask
    step = max(1, math.ceil(math.sqrt(mask.size / MAX_TINT_PIXELS)))
    if step > 1:
        mask = mask[::step, ::step]
    alpha = np.rint(mask * SELECTION_TINT_ALPHA).astype(np.uint16)
    pixels = np.empty((*mask.shape, 4), dtype=np.uint8)
    for channel, value in enumerate(SELECTION_TINT):
        pixels[:, :, channel] = ((alpha * value + 127) // 255).astype(np.uint8)
    pixels[:, :, 3] = alpha.astype(np.uint8)
    height, width = mask.shape
    image = QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGBA8888_Premultiplied)
    return image.copy()


class CanvasView(QAbstractScrollArea):
    """Shows a :class:`CanvasDocument` and routes input to the current tool."""

    canvas_clicked = Signal(float, float)
    """Left button pressed at this canvas position (whatever the tool)."""
    cursor_moved = Signal(object)
    """The pointer's canvas position as ``(x, y)`` floats, or None when it left the view."""
    zoom_changed = Signal(float)
    tool_failed = Signal(str)
    """A tool refused an edit; the message is for the user."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Canvas")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.viewport().setMouseTracking(True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.horizontalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self._document: CanvasDocument | None = None
        self._buffer: PixelBuffer | None = None
        self._layer_signature: tuple[object, ...] = ()
        self._zoom = 1.0
        self._fit_pending = True
        self._auto_fit = False
        self._tool: CanvasTool | None = None
        self._tool_bounds: QRectF | None = None
        self._pan_from: QPointF | None = None
        self._space_held = False
        self._pressed_button = Qt.MouseButton.NoButton
        self._preview_region: Rect | None = None
        self._preview_image: QImage | None = None
        self._selection_path = QPainterPath()
        self._selection_tint: QImage | None = None
        self._selection_frame: Rect | None = None
        self._ants_offset = 0
        self._ants_timer = QTimer(self)
        self._ants_timer.setInterval(ANTS_INTERVAL_MS)
        self._ants_timer.timeout.connect(self._march_ants)
        self._checker = checker_brush(8)
        self._last_viewport_size: QSize | None = None
        self._cursor: tuple[float, float] | None = None

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(640, 480)

    # -- document ---------------------------------------------------------------------------------------

    @property
    def document(self) -> CanvasDocument | None:
        return self._document

    def set_document(self, document: CanvasDocument | None) -> None:
        """Show ``document`` (None: nothing); the view fits it to the window."""
        if self._tool is not None:
            self._tool.cancel(self)
        old = self._document
        if old is not None:
            old.pixels_changed.disconnect(self._on_pixels_changed)
            old.layers_changed.disconnect(self._on_layers_changed)
            old.selection_changed.disconnect(self._on_selection_changed)
            old.size_changed.disconnect(self._on_size_changed)
        self._document = document
        self._preview_region = None
        self._preview_image = None
        if document is not None:
            document.pixels_changed.connect(self._on_pixels_changed)
            document.layers_changed.connect(self._on_layers_changed)
            document.selection_changed.connect(self._on_selection_changed)
            document.size_changed.connect(self._on_size_changed)
        self._rebuild_composite()
        self._rebuild_selection()
        self._fit_pending = True
        if self.viewport().width() > 1 and self.isVisible():
            self.fit_to_window()
        else:
            self._update_scroll_ranges()
        self.viewport().update()

    def composite_image(self) -> QImage | None:
        """The cached composite (premultiplied RGBA, canvas size), or None without a document."""
        return self._buffer.image if self._buffer is not None else None

    def _rebuild_composite(self) -> None:
        document = self._document
        if document is None:
            self._buffer = None
            self._layer_signature = ()
            return
        self._buffer = PixelBuffer(document.width, document.height)
        self._buffer.write(0, 0, document.composite())
        self._layer_signature = self._signature()

    def _signature(self) -> tuple[object, ...]:
        """What the composite depends on besides pixels: layer order, visibility, opacity, blend modes
        and groups."""
        document = self._document
        if document is None:
            return ()
        layers = tuple(
            (layer.id, layer.visible, layer.opacity, layer.blend_mode, layer.group)
            for layer in document.layers
        )
        groups = tuple(
            (g.id, g.visible, g.opacity, g.blend_mode, g.isolated, g.parent) for g in document.groups
        )
        return layers, groups

    def _on_pixels_changed(self, rect: Rect, _layer_id: str) -> None:
        document, buffer = self._document, self._buffer
        if document is None or buffer is None:
            return
        rect = rect.intersected(document.bounds)
        if rect.is_empty:
            return
        buffer.write(rect.x, rect.y, document.composite(rect))
        self.update_canvas_rect(QRectF(rect.x, rect.y, rect.width, rect.height))

    def _on_layers_changed(self) -> None:
        signature = self._signature()
        if signature != self._layer_signature:
            self._rebuild_composite()
            self.viewport().update()

    def _on_size_changed(self, _width: int, _height: int) -> None:
        self._rebuild_composite()
        self._update_scroll_ranges()
        self.viewport().update()

    # -- selection --------------------------------------------------------------------------------------

    def _on_selection_changed(self) -> None:
        self._rebuild_selection()
        self._update_scroll_ranges()
        self.viewport().update()

    def _rebuild_selection(self) -> None:
        selection = self._document.selection if self._document is not None else None
        if selection is None or selection.is_empty:
            self._selection_path = QPainterPath()
            self._selection_tint = None
            self._selection_frame = None
            self._ants_timer.stop()
            return
        self._selection_path = selection_outline(selection)
        self._selection_tint = selection_tint(selection)
        self._selection_frame = selection.frame
        if self.isVisible():
            self._ants_timer.start()

    def _march_ants(self) -> None:
        self._ants_offset = (self._ants_offset + 1) % 8
        if self._selection_frame is not None:
            frame = self._selection_frame
            self.update_canvas_rect(QRectF(frame.x, frame.y, frame.width, frame.height))

    # -- preview ----------------------------------------------------------------------------------------

    def set_preview(self, region: Rect | None, image: QImage | None) -> None:
        """Draw ``image`` scaled into ``region`` (canvas coordinates; may reach past the canvas) over the
        composite until ``set_preview(None, None)``."""
        old = self._preview_region
        if region is None or image is None or region.is_empty or image.isNull():
            self._preview_region, self._preview_image = None, None
        else:
            self._preview_region, self._preview_image = region, image
        self._update_scroll_ranges()
        for changed in (old, self._preview_region):
            if changed is not None:
                self.update_canvas_rect(QRectF(changed.x, changed.y, changed.width, changed.height))

    @property
    def preview_region(self) -> Rect | None:
        return self._preview_region

    @property
    def preview_image(self) -> QImage | None:
        return self._preview_image

    # -- tools ------------------------------------------------------------------------------------------

    @property
    def tool(self) -> CanvasTool | None:
        return self._tool

    def set_tool(self, tool: CanvasTool | None) -> None:
        """Route mouse and key input to ``tool``."""
        if tool is self._tool:
            return
        if self._tool is not None:
            self._tool.cancel(self)
            self._tool.deactivate(self)
        self._tool = tool
        if tool is not None:
            tool.activate(self)
        self._update_cursor()
        self.refresh_tool_overlay()

    def refresh_tool_overlay(self) -> None:
        """Repaint where the tool's overlay was and where it is now."""
        tool = self._tool
        new = tool.overlay_bounds(self) if tool is not None else None
        for rect in (self._tool_bounds, new):
            if rect is not None:
                self.viewport().update(rect.toAlignedRect().adjusted(-3, -3, 3, 3))
        self._tool_bounds = new

    def _call_tool(self, method: str, event: ToolEvent) -> None:
        tool = self._tool
        if tool is None or self._document is None:
            return
        try:
            getattr(tool, method)(self, event)
        except CanvasError as exc:
            tool.cancel(self)
            self.tool_failed.emit(str(exc))
        self.refresh_tool_overlay()

    def _update_cursor(self) -> None:
        if self._pan_from is not None:
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        elif self._space_held:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif self._tool is not None:
            self.viewport().setCursor(self._tool.cursor())
        else:
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)

    # -- coordinates ------------------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def cursor_position(self) -> tuple[float, float] | None:
        """The pointer's last canvas position over the view, or None when it is outside."""
        return self._cursor

    def origin(self) -> QPointF:
        """Widget position of the canvas's top-left corner."""
        return QPointF(-self.horizontalScrollBar().value(), -self.verticalScrollBar().value())

    def canvas_to_widget(self, point: QPointF | tuple[float, float]) -> QPointF:
        """Canvas → viewport coordinates."""
        x, y = (point.x(), point.y()) if isinstance(point, QPointF) else point
        origin = self.origin()
        return QPointF(origin.x() + x * self._zoom, origin.y() + y * self._zoom)

    def widget_to_canvas(self, point: QPointF | QPoint | tuple[float, float]) -> QPointF:
        """Viewport → canvas coordinates."""
        if isinstance(point, QPointF | QPoint):
            x, y = float(point.x()), float(point.y())
        else:
            x, y = point
        origin = self.origin()
        return QPointF((x - origin.x()) / self._zoom, (y - origin.y()) / self._zoom)

    def canvas_rect_to_widget(self, rect: Rect | QRectF) -> QRectF:
        """A canvas rectangle in viewport coordinates."""
        if isinstance(rect, Rect):
            rect = QRectF(rect.x, rect.y, rect.width, rect.height)
        top_left = self.canvas_to_widget(rect.topLeft())
        return QRectF(top_left.x(), top_left.y(), rect.width() * self._zoom, rect.height() * self._zoom)

    def update_canvas_rect(self, rect: QRectF) -> None:
        """Repaint the part of the viewport showing this canvas rectangle."""
        self.viewport().update(self.canvas_rect_to_widget(rect).toAlignedRect().adjusted(-2, -2, 2, 2))

    def visible_canvas_rect(self) -> QRectF:
        """The canvas rectangle the viewport shows."""
        top_left = self.widget_to_canvas(QPointF(0, 0))
        size = self.viewport().size()
        return QRectF(top_left.x(), top_left.y(), size.width() / self._zoom, size.height() / self._zoom)

    # -- zoom and pan -----------------------------------------------------------------------------------

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` (1 = 100 %) keeping the canvas point under ``anchor`` (viewport position,
        default the centre) in place."""
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, float(zoom)))
        self._fit_pending = False
        self._auto_fit = False
        if anchor is None:
            anchor = QPointF(self.viewport().width() / 2, self.viewport().height() / 2)
        fixed = self.widget_to_canvas(anchor)
        changed = not math.isclose(zoom, self._zoom)
        self._zoom = zoom
        self._update_scroll_ranges()
        self._scroll_to(round(fixed.x() * zoom - anchor.x()), round(fixed.y() * zoom - anchor.y()))
        self.viewport().update()
        if changed:
            self.zoom_changed.emit(zoom)

    def zoom_in(self) -> None:
        """The next zoom step up."""
        bigger = [step for step in ZOOM_STEPS if step > self._zoom * 1.001]
        self.set_zoom(bigger[0] if bigger else MAX_ZOOM)

    def zoom_out(self) -> None:
        """The next zoom step down."""
        smaller = [step for step in ZOOM_STEPS if step < self._zoom / 1.001]
        self.set_zoom(smaller[-1] if smaller else MIN_ZOOM)

    def actual_size(self) -> None:
        """Zoom to 100 % around the view's centre."""
        self.set_zoom(1.0)

    def fit_to_window(self) -> None:
        """Zoom so the whole canvas (and a selection or preview reaching past it) fits the viewport,
        and centre it."""
        document = self._document
        size = self.viewport().size()
        if document is None or size.width() < 2 or size.height() < 2:
            self._fit_pending = True
            return
        area = self._extents()
        zoom = min(
            max(1, size.width() - 2 * FIT_MARGIN) / area.width(),
            max(1, size.height() - 2 * FIT_MARGIN) / area.height(),
        )
        self.set_zoom(zoom)
        self.center_on(area.center().x(), area.center().y())
        self._fit_pending = False
        self._auto_fit = True  # keep fitting when the window is resized, until the user zooms or pans

    def center_on(self, x: float, y: float) -> None:
        """Scroll so the canvas point ``(x, y)`` is at the centre of the viewport."""
        size = self.viewport().size()
        self._scroll_to(round(x * self._zoom - size.width() / 2), round(y * self._zoom - size.height() / 2))

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the canvas by ``(dx, dy)`` viewport pixels."""
        self._auto_fit = False
        self._scroll_to(
            self.horizontalScrollBar().value() - round(dx), self.verticalScrollBar().value() - round(dy)
        )

    def _scroll_to(self, x: int, y: int) -> None:
        self.horizontalScrollBar().setValue(x)
        self.verticalScrollBar().setValue(y)

    def _extents(self) -> QRectF:
        """The canvas area one may scroll over: the canvas with a margin, the selection, the preview."""
        document = self._document
        if document is None:
            return QRectF(0, 0, 1, 1)
        area = document.bounds
        for extra in (self._selection_frame, self._preview_region):
            if extra is not None:
                area = area.united(extra)
        return QRectF(area.x, area.y, area.width, area.height)

    def _update_scroll_ranges(self) -> None:
        area = self._extents()
        size = self.viewport().size()
        zoom = self._zoom
        for bar, low, high, page in (
            (self.horizontalScrollBar(), area.left(), area.right(), size.width()),
            (self.verticalScrollBar(), area.top(), area.bottom(), size.height()),
        ):
            # The viewport centre can travel over the whole area, so every edge can reach the middle.
            bar.blockSignals(True)
            bar.setRange(math.floor(low * zoom - page / 2), math.ceil(high * zoom - page / 2))
            bar.setPageStep(max(1, page))
            bar.setSingleStep(max(1, page // 20))
            bar.blockSignals(False)

    def _on_scrolled(self) -> None:
        self.viewport().update()

    # -- Qt events --------------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        center = self._viewport_center_before_resize()
        super().resizeEvent(event)
        self._update_scroll_ranges()
        if (self._fit_pending or self._auto_fit) and self._document is not None:
            self.fit_to_window()
        elif center is not None:
            self.center_on(center.x(), center.y())
        self._last_viewport_size = self.viewport().size()

    def _viewport_center_before_resize(self) -> QPointF | None:
        size = self._last_viewport_size
        if size is None:
            return None
        return self.widget_to_canvas(QPointF(size.width() / 2, size.height() / 2))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._fit_pending and self._document is not None:
            self.fit_to_window()
        if self._selection_frame is not None:
            self._ants_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        self._ants_timer.stop()
        super().hideEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self.viewport())
        exposed = event.rect()
        painter.fillRect(exposed, BACKGROUND)
        document, buffer = self._document, self._buffer
        if document is not None and buffer is not None:
            self._paint_canvas(painter, QRectF(exposed), document, buffer)
        if self._preview_region is not None and self._preview_image is not None:
            self._paint_preview(painter)
        self._paint_selection(painter)
        if self._tool is not None and document is not None:
            painter.save()
            self._tool.paint_overlay(self, painter)
            painter.restore()
        painter.end()

    def _paint_canvas(
        self, painter: QPainter, exposed: QRectF, document: CanvasDocument, buffer: PixelBuffer
    ) -> None:
        canvas = self.canvas_rect_to_widget(document.bounds)
        visible = canvas.intersected(exposed)
        if visible.isEmpty():
            return
        painter.save()
        painter.setBrushOrigin(canvas.topLeft())
        painter.fillRect(visible, self._checker)
        # The canvas pixels under the exposed area, whole pixels so partial repaints line up.
        source = self.widget_to_canvas(visible.topLeft()), self.widget_to_canvas(visible.bottomRight())
        left = max(0, math.floor(source[0].x()))
        top = max(0, math.floor(source[0].y()))
        right = min(document.width, math.ceil(source[1].x()))
        bottom = min(document.height, math.ceil(source[1].y()))
        if right > left and bottom > top:
            origin = self.origin()
            painter.setClipRect(visible)
            painter.setTransform(QTransform(self._zoom, 0, 0, self._zoom, origin.x(), origin.y()))
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._zoom < 1.0)
            rect = QRectF(left, top, right - left, bottom - top)
            painter.drawImage(rect, buffer.image, rect)
        painter.restore()
        painter.setPen(QPen(QColor(0, 0, 0, 140), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(canvas.adjusted(-1, -1, 0, 0))

    def _paint_preview(self, painter: QPainter) -> None:
        region, image = self._preview_region, self._preview_image
        assert region is not None and image is not None
        target = self.canvas_rect_to_widget(region)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(target, image, QRectF(image.rect()))
        pen = QPen(QColor(255, 200, 60), 1, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(target.adjusted(-1, -1, 0, 0))
        painter.restore()

    def _paint_selection(self, painter: QPainter) -> None:
        frame = self._selection_frame
        if frame is None:
            return
        painter.save()
        origin = self.origin()
        painter.setTransform(QTransform(self._zoom, 0, 0, self._zoom, origin.x(), origin.y()))
        if self._selection_tint is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(
                QRectF(frame.x, frame.y, frame.width, frame.height),
                self._selection_tint,
                QRectF(self._selection_tint.rect()),
            )
        white = QPen(QColor(255, 255, 255), 1)
        white.setCosmetic(True)
        painter.setPen(white)
        painter.drawPath(self._selection_path)
        black = QPen(QColor(0, 0, 0), 1, Qt.PenStyle.CustomDashLine)
        black.setCosmetic(True)
        black.setDashPattern([4.0, 4.0])
        black.setDashOffset(self._ants_offset)
        painter.setPen(black)
        painter.drawPath(self._selection_path)
        painter.restore()

    def _tool_event(self, event: QMouseEvent) -> ToolEvent:
        position = event.position()
        return ToolEvent(
            self.widget_to_canvas(position), position, event.button(), event.buttons(), event.modifiers()
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        button = event.button()
        if self._pressed_button != Qt.MouseButton.NoButton:
            return  # a second button during a drag is ignored
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space_held
        ):
            self._pan_from = event.position()
            self._pressed_button = button
            self._update_cursor()
            return
        if button == Qt.MouseButton.LeftButton:
            self._pressed_button = button
            tool_event = self._tool_event(event)
            self.canvas_clicked.emit(tool_event.pos.x(), tool_event.pos.y())
            self._call_tool("press", tool_event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan_by(delta.x(), delta.y())
            return
        tool_event = self._tool_event(event)
        self._cursor = (tool_event.pos.x(), tool_event.pos.y())
        self.cursor_moved.emit(self._cursor)
        self._call_tool("move", tool_event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() != self._pressed_button:
            return
        self._pressed_button = Qt.MouseButton.NoButton
        if self._pan_from is not None:
            self._pan_from = None
            self._update_cursor()
            return
        self._call_tool("release", self._tool_event(event))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and not self._space_held:
            self._call_tool("double_click", self._tool_event(event))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = delta.y() / 120.0
            if steps:
                self.set_zoom(self._zoom * 1.25**steps, event.position())
            event.accept()
            return
        dx, dy = delta.x(), delta.y()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and dx == 0:
            dx, dy = dy, 0
        self.pan_by(dx / 2, dy / 2)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = True
                self._update_cursor()
            event.accept()
            return
        tool = self._tool
        if tool is not None and self._document is not None:
            try:
                handled = tool.key_press(self, Qt.Key(event.key()), event.modifiers())
            except CanvasError as exc:
                tool.cancel(self)
                self.tool_failed.emit(str(exc))
                handled = True
            self.refresh_tool_overlay()
            if handled:
                event.accept()
                return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self._update_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt override
        self._space_held = False
        self._update_cursor()
        super().focusOutEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Leave:
            self._cursor = None
            self.cursor_moved.emit(None)
            if self._tool is not None:
                self._tool.leave(self)
                self.refresh_tool_overlay()
        return super().viewportEvent(event)
