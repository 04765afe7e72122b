"""Pixel operations of the painting tools: brush and eraser strokes, fill, bucket fill, colour pick, moving a
layer.

Strokes respect the selection (soft masks included) and are one undo step each. Within a stroke the brush
opacity is a ceiling: overlapping dabs build up coverage (by ``flow``) but never exceed ``opacity``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import numpy as np
from PIL import Image, ImageDraw

from studio.canvas.document import CanvasDocument, LayerRef, check_colour
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.imaging import nonzero_bounds

MAX_BRUSH_SIZE = 2000.0


@dataclass(frozen=True, slots=True)
class Brush:
    """Brush settings. ``size`` is the diameter in pixels; ``hardness`` 1 gives a crisp (antialiased)
    edge, 0 a falloff from the centre; ``spacing`` is the distance between dabs as a fraction of size."""

    size: float = 10.0
    color: tuple[int, int, int, int] = (0, 0, 0, 255)
    hardness: float = 0.8
    opacity: float = 1.0
    flow: float = 1.0
    spacing: float = 0.15
    eraser: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "color", check_colour(self.color))
        _check_range("Brush size", self.size, 0.5, MAX_BRUSH_SIZE)
        _check_range("Hardness", self.hardness, 0.0, 1.0)
        _check_range("Opacity", self.opacity, 0.0, 1.0)
        _check_range("Flow", self.flow, 0.0, 1.0)
        _check_range("Spacing", self.spacing, 0.01, 10.0)


def _check_range(what: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
        raise CanvasError(f"{what} must be between {low:g} and {high:g}, not {value}")


def dab_shape(rect: Rect, x: float, y: float, diameter: float, hardness: float) -> np.ndarray:
    """Coverage (0..1, ``float32``) of a round dab centred at ``(x, y)`` over the pixels of ``rect``."""
    radius = diameter / 2.0
    xs = np.arange(rect.x, rect.right, dtype=np.float32) + np.float32(0.5 - x)
    ys = np.arange(rect.y, rect.bottom, dtype=np.float32) + np.float32(0.5 - y)
    distance = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    edge = np.clip(radius - distance + 0.5, 0.0, 1.0)
    if hardness >= 1.0:
        return edge.astype(np.float32)
    t = np.clip((distance / radius - hardness) / (1.0 - hardness), 0.0, 1.0)
    soft = 0.5 * (1.0 + np.cos(np.pi * t))
    return np.minimum(soft, edge).astype(np.float32)


def blend_colour(original: np.ndarray, amount: np.ndarray, colour: tuple[int, int, int, int]) -> np.ndarray:
    """Paint ``colour`` "over" ``original`` RGBA with per-pixel ``amount`` (0..1); amount 0 keeps a pixel
    exactly."""
    a = amount[:, :, None] * np.float32(colour[3] / 255.0)
    old_a = original[:, :, 3:4].astype(np.float32) / np.float32(255.0)
    out_a = a + old_a * (1.0 - a)
    rgb = np.asarray(colour[:3], dtype=np.float32) * a + original[:, :, :3].astype(np.float32) * old_a * (
        1.0 - a
    )
    rgb = np.divide(rgb, out_a, out=np.zeros_like(rgb), where=out_a > 0)
    out = np.empty_like(original)
    out[:, :, :3] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    out[:, :, 3] = np.clip(np.rint(out_a[:, :, 0] * 255.0), 0, 255).astype(np.uint8)
    untouched = a[:, :, 0] <= 0
    out[untouched] = original[untouched]
    return out


def erase(original: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Reduce the alpha of ``original`` by ``amount`` (0..1); colour channels are kept."""
    out = original.copy()
    alpha = original[:, :, 3].astype(np.float32) * (1.0 - amount)
    out[:, :, 3] = np.clip(np.rint(alpha), 0, 255).astype(np.uint8)
    return out


class Stroke:
    """One brush or eraser stroke on a layer; a single undo step. Use as a context manager, or call
    :meth:`finish`."""

    def __init__(
        self, document: CanvasDocument, layer: LayerRef, brush: Brush, label: str | None = None
    ) -> None:
        self._document = document
        self._layer = document.layer(layer)
        self._brush = brush
        self._size = document.size
        height, width = self._layer.pixels.shape[:2]
        self._coverage = np.zeros((height, width), dtype=np.float32)
        self._original = np.zeros((height, width, 4), dtype=np.uint8)
        self._tile = document.history.tile_size
        self._captured = np.zeros((-(-height // self._tile), -(-width // self._tile)), dtype=bool)
        self._selection = document.selection_mask()
        self._last: tuple[float, float, float] | None = None
        self._travelled = 0.0
        self._finished = False
        self.dirty = Rect(0, 0, 0, 0)
        document.history.begin_stroke(label or ("Erase" if brush.eraser else "Brush"))

    def __enter__(self) -> Stroke:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish()

    def move_to(self, x: float, y: float, pressure: float = 1.0) -> Rect:
        """Start (or restart) the stroke at a point, placing a dab there."""
        self._last = (float(x), float(y), float(pressure))
        self._travelled = 0.0
        rect = self._dab(x, y, pressure)
        return self._apply(rect)

    def line_to(self, x: float, y: float, pressure: float = 1.0) -> Rect:
        """Continue the stroke to a point with dabs every ``spacing × size`` pixels; returns the changed
        rectangle."""
        if self._last is None:
            return self.move_to(x, y, pressure)
        x0, y0, p0 = self._last
        length = math.hypot(x - x0, y - y0)
        step = max(0.5, self._brush.spacing * self._brush.size)
        dirty = Rect(0, 0, 0, 0)
        position = step - self._travelled
        while position <= length:
            t = position / length
            dirty = dirty.united(self._dab(x0 + (x - x0) * t, y0 + (y - y0) * t, p0 + (pressure - p0) * t))
            position += step
        self._travelled = length - (position - step)
        self._last = (float(x), float(y), float(pressure))
        return self._apply(dirty)

    def finish(self) -> None:
        """End the stroke (idempotent)."""
        if not self._finished:
            self._finished = True
            self._document.history.end_stroke()
            del self._coverage, self._original

    def _dab(self, x: float, y: float, pressure: float) -> Rect:
        if self._finished:
            raise CanvasError("This stroke is already finished")
        if self._document.size != self._size:
            raise CanvasError("The canvas was resized during the stroke")
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(pressure)):
            raise CanvasError("The brush position is invalid")
        diameter = max(0.5, self._brush.size * min(max(pressure, 0.0), 1.0))
        reach = diameter / 2.0 + 1.0
        rect = Rect.from_bounds(
            math.floor(x - reach), math.floor(y - reach), math.ceil(x + reach), math.ceil(y + reach)
        ).intersected(self._document.bounds)
        if rect.is_empty:
            return rect
        self._capture(rect)
        shape = dab_shape(rect, x, y, diameter, self._brush.hardness) * np.float32(self._brush.flow)
        coverage = self._coverage[rect.slices]
        coverage += shape * (1.0 - coverage)
        return rect

    def _capture(self, rect: Rect) -> None:
        size = self._tile
        rows = slice(rect.y // size, (rect.bottom - 1) // size + 1)
        cols = slice(rect.x // size, (rect.right - 1) // size + 1)
        for ty, tx in np.argwhere(~self._captured[rows, cols]):
            y, x = (int(ty) + rect.y // size) * size, (int(tx) + rect.x // size) * size
            self._original[y : y + size, x : x + size] = self._layer.pixels[y : y + size, x : x + size]
        self._captured[rows, cols] = True

    def _apply(self, rect: Rect) -> Rect:
        if rect.is_empty:
            return rect
        amount = self._coverage[rect.slices] * np.float32(self._brush.opacity)
        if self._selection is not None:
            amount = amount * self._selection[rect.slices]
        original = self._original[rect.slices]
        with self._document.edit_pixels(self._layer, rect) as view:
            view[...] = (
                erase(original, amount)
                if self._brush.eraser
                else blend_colour(original, amount, self._brush.color)
            )
        self.dirty = self.dirty.united(rect)
        return rect


def paint_dab(document: CanvasDocument, layer: LayerRef, x: float, y: float, brush: Brush) -> Rect:
    """One dab of ``brush`` at ``(x, y)``, as its own undo step; returns the changed rectangle."""
    with Stroke(document, layer, brush) as stroke:
        return stroke.move_to(x, y)


def paint_line(
    document: CanvasDocument, layer: LayerRef, points: Sequence[tuple[float, float]], brush: Brush
) -> Rect:
    """A stroke through ``points`` (one undo step); returns the changed rectangle."""
    if not points:
        raise CanvasError("A stroke needs at least one point")
    with Stroke(document, layer, brush) as stroke:
        stroke.move_to(*points[0])
        for x, y in points[1:]:
            stroke.line_to(x, y)
        return stroke.dirty


def fill_selection(document: CanvasDocument, layer: LayerRef, colour: Sequence[int]) -> None:
    """Paint ``colour`` over the selection (the whole layer when nothing is selected)."""
    rgba = check_colour(colour)
    mask, rect = _selection_area(document)
    if rect.is_empty:
        return
    with document.edit_pixels(layer, rect, "Fill") as view:
        view[...] = blend_colour(view.copy(), mask[rect.slices], rgba)


MAX_TOLERANCE = 255


def bucket_fill(
    document: CanvasDocument,
    layer: LayerRef,
    x: float,
    y: float,
    colour: Sequence[int],
    tolerance: int = 0,
    *,
    sample_merged: bool = False,
    contiguous: bool = True,
) -> Rect | None:
    """Fill the area around ``(x, y)`` whose colour is within ``tolerance`` (0..255, the largest difference
    of any RGBA channel) of the colour there, inside the selection (soft edges kept). ``sample_merged``
    compares the composite instead of the layer. One undo step; returns the changed rectangle, or None when
    nothing was filled (the point is outside the canvas or the selection)."""
    rgba = check_colour(colour)
    if not isinstance(tolerance, int | np.integer) or not 0 <= tolerance <= MAX_TOLERANCE:
        raise CanvasError(f"The fill tolerance must be a whole number from 0 to {MAX_TOLERANCE}")
    if not (math.isfinite(x) and math.isfinite(y)) or not document.bounds.contains_point(x, y):
        return None
    px, py = math.floor(x), math.floor(y)
    target = document.layer(layer)
    source = document.composite() if sample_merged else target.pixels
    allowed = document.selection_mask()
    if allowed is not None and allowed[py, px] <= 0:
        return None
    region = similar_region(source, px, py, int(tolerance), contiguous, allowed)
    bounds = nonzero_bounds(region)
    if bounds is None:
        return None
    amount = region[bounds.slices].astype(np.float32)
    if allowed is not None:
        amount *= allowed[bounds.slices]
    with document.edit_pixels(target, bounds, "Fill") as view:
        view[...] = blend_colour(view.copy(), amount, rgba)
    return bounds


def similar_region(
    pixels: np.ndarray,
    x: int,
    y: int,
    tolerance: int,
    contiguous: bool = True,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean ``H×W`` mask of the pixels within ``tolerance`` of the pixel at ``(x, y)`` (every fully
    transparent pixel counts as the same colour), connected to it unless ``contiguous`` is False; only
    pixels where ``allowed`` > 0 take part."""
    seed = pixels[y, x].astype(np.int16)
    values = pixels.astype(np.int16)
    if seed[3] == 0:
        seed = np.zeros(4, dtype=np.int16)
    values[pixels[:, :, 3] == 0] = 0
    similar = np.abs(values - seed).max(axis=2) <= tolerance
    if allowed is not None:
        similar &= allowed > 0
    if not contiguous:
        return similar
    # Pillow's flood fill runs in C: mark similar pixels 255, flood the seed's area with 128.
    # (A copy: Pillow may share a read-only buffer with the array it was made from.)
    image = Image.fromarray(np.where(similar, 255, 0).astype(np.uint8)).copy()
    ImageDraw.floodfill(image, (x, y), 128, thresh=0)
    return np.asarray(image) == 128


def erase_selection(document: CanvasDocument, layer: LayerRef) -> None:
    """Erase the selected pixels of a layer (all of it when nothing is selected)."""
    mask, rect = _selection_area(document)
    if rect.is_empty:
        return
    with document.edit_pixels(layer, rect, "Erase selection") as view:
        view[...] = erase(view.copy(), mask[rect.slices])


def _selection_area(document: CanvasDocument) -> tuple[np.ndarray, Rect]:
    mask = document.selection_mask()
    if mask is None:
        return np.ones((document.height, document.width), dtype=np.float32), document.bounds
    bounds = document.selection.bounds() if document.selection is not None else None
    rect = document.bounds.intersected(bounds) if bounds is not None else Rect(0, 0, 0, 0)
    return mask, rect


def pick_colour(
    document: CanvasDocument, x: float, y: float, layer: LayerRef | None = None
) -> tuple[int, int, int, int]:
    """The RGBA colour at ``(x, y)``: of the composite, or of ``layer`` when given."""
    if not (math.isfinite(x) and math.isfinite(y)) or not document.bounds.contains_point(x, y):
        raise CanvasError("That point is outside the canvas")
    px, py = math.floor(x), math.floor(y)
    if layer is None:
        pixel = document.composite(Rect(px, py, 1, 1))[0, 0]
    else:
        pixel = document.layer(layer).pixels[py, px]
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]), int(pixel[3]))


def translate_layer(document: CanvasDocument, layer: LayerRef, dx: int, dy: int) -> None:
    """Move a layer's pixels by ``dx``, ``dy``; what leaves the canvas is cut off (undo restores it)."""
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (dx, dy)):
        raise CanvasError("A layer moves by whole pixels")
    if dx == 0 and dy == 0:
        return
    target = document.layer(layer)
    bounds = target.content_bounds()
    if bounds is None:
        return
    moved = np.zeros_like(target.pixels)
    destination = bounds.translated(dx, dy).intersected(document.bounds)
    if not destination.is_empty:
        moved[destination.slices] = target.pixels[destination.translated(-dx, -dy).slices]
    with document.edit_pixels(target, bounds.united(destination), "Move layer") as view:
        rect = bounds.united(destination)
        view[...] = moved[rect.slices]
