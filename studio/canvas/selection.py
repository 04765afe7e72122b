"""Selections: an immutable float mask (0 = not selected, 1 = selected) that may reach past the canvas.

A :class:`Selection` covers a *frame* rectangle in canvas coordinates; everything outside the frame is
unselected. The frame is not clipped to the canvas, so a rectangle dragged past the edge is kept whole and
generation can grow the canvas to contain it (outpainting).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

import numpy as np
from PIL import Image, ImageDraw

from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.imaging import blur_mask, nonzero_bounds

# A selection (with what reaches past the canvas) may cover at most this many pixels.
MAX_SELECTION_PIXELS = 256_000_000
# Lasso edges are antialiased by drawing at this scale, unless that would exceed this many pixels.
_LASSO_SUPERSAMPLE = 4
_LASSO_SUPERSAMPLE_MAX_PIXELS = 64_000_000


class SelectionMode(StrEnum):
    """How a new shape combines with the current selection."""

    REPLACE = "replace"
    ADD = "add"
    SUBTRACT = "subtract"
    INTERSECT = "intersect"


def _check_frame(rect: Rect) -> None:
    if rect.area > MAX_SELECTION_PIXELS:
        raise CanvasError("The selection is too large; keep it closer to the canvas")


class Selection:
    """An immutable soft mask over ``frame``; operations return new selections."""

    __slots__ = ("_frame", "_mask")

    def __init__(self, mask: np.ndarray, origin: tuple[int, int] = (0, 0)) -> None:
        """``mask`` is ``H×W`` (any real dtype, clipped to 0..1); ``origin`` is the canvas position of its
        top-left pixel."""
        if not isinstance(mask, np.ndarray) or mask.ndim != 2:
            raise CanvasError("A selection mask must be a 2-D array")
        frame = Rect(int(origin[0]), int(origin[1]), mask.shape[1], mask.shape[0])
        _check_frame(frame)
        values = np.clip(np.nan_to_num(mask.astype(np.float32, copy=True)), 0.0, 1.0)
        values.setflags(write=False)
        self._mask = values
        self._frame = frame

    @classmethod
    def _wrap(cls, mask: np.ndarray, frame: Rect) -> Selection:
        # ``mask`` is already a read-only, clipped float32 array owned by a selection.
        selection = cls.__new__(cls)
        selection._mask = mask
        selection._frame = frame
        return selection

    # -- construction ---------------------------------------------------------------------------------

    @classmethod
    def empty(cls) -> Selection:
        """Nothing selected."""
        return cls(np.zeros((0, 0), dtype=np.float32))

    @classmethod
    def rectangle(cls, rect: Rect) -> Selection:
        """``rect`` fully selected; it may extend past the canvas."""
        _check_frame(rect)
        return cls(np.ones((rect.height, rect.width), dtype=np.float32), (rect.x, rect.y))

    @classmethod
    def polygon(cls, points: Sequence[tuple[float, float]]) -> Selection:
        """The inside of a closed polygon (a lasso), with antialiased edges."""
        if len(points) < 3:
            raise CanvasError("A lasso selection needs at least three points")
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
        if not all(math.isfinite(v) for v in (*xs, *ys)):
            raise CanvasError("The lasso has an invalid point")
        frame = Rect.from_bounds(
            math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys))
        )
        if frame.is_empty:
            return cls.empty()
        _check_frame(frame)
        scale = (
            _LASSO_SUPERSAMPLE if frame.area * _LASSO_SUPERSAMPLE**2 <= _LASSO_SUPERSAMPLE_MAX_PIXELS else 1
        )
        canvas = Image.new("L", (frame.width * scale, frame.height * scale), 0)
        local = [((x - frame.x) * scale, (y - frame.y) * scale) for x, y in zip(xs, ys, strict=True)]
        ImageDraw.Draw(canvas).polygon(local, fill=255)
        if scale > 1:
            canvas = canvas.resize(frame.size, Image.Resampling.BOX)
        mask = np.asarray(canvas, dtype=np.float32) / np.float32(255.0)
        return cls(mask, (frame.x, frame.y))._trimmed()

    # -- properties -----------------------------------------------------------------------------------

    @property
    def frame(self) -> Rect:
        """The rectangle the mask covers (outside it nothing is selected)."""
        return self._frame

    @property
    def mask(self) -> np.ndarray:
        """The read-only mask over :attr:`frame`."""
        return self._mask

    @property
    def nbytes(self) -> int:
        return int(self._mask.nbytes)

    @property
    def is_empty(self) -> bool:
        return self._frame.is_empty or not bool(self._mask.any())

    def bounds(self) -> Rect | None:
        """Bounding rectangle of the selected (non-zero) pixels in canvas coordinates, or None if empty."""
        local = nonzero_bounds(self._mask)
        return None if local is None else local.translated(self._frame.x, self._frame.y)

    def reaches_outside(self, width: int, height: int) -> bool:
        """True when some selected pixel lies past the edge of a ``width``×``height`` canvas."""
        bounds = self.bounds()
        return bounds is not None and not Rect(0, 0, width, height).contains(bounds)

    def mask_for(self, rect: Rect) -> np.ndarray:
        """The mask sampled over ``rect`` (a new writable ``float32`` array; zero outside the frame)."""
        out = np.zeros((rect.height, rect.width), dtype=np.float32)
        overlap = rect.intersected(self._frame)
        if not overlap.is_empty:
            out[overlap.translated(-rect.x, -rect.y).slices] = self._mask[
                overlap.translated(-self._frame.x, -self._frame.y).slices
            ]
        return out

    def canvas_mask(self, width: int, height: int) -> np.ndarray:
        """The mask over a ``width``×``height`` canvas."""
        return self.mask_for(Rect(0, 0, width, height))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selection):
            return NotImplemented
        a, b = self._trimmed(), other._trimmed()
        return a._frame == b._frame and np.array_equal(a._mask, b._mask)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Selection(bounds={self.bounds()})"

    # -- operations -----------------------------------------------------------------------------------

    def combined(self, other: Selection, mode: SelectionMode | str) -> Selection:
        """This selection combined with ``other`` (replace, add = max, subtract, intersect = min)."""
        mode = SelectionMode(mode)
        if mode is SelectionMode.REPLACE:
            return other._trimmed()
        frame = self._frame.united(other._frame)
        if mode is SelectionMode.INTERSECT:
            frame = self._frame.intersected(other._frame)
        if frame.is_empty:
            return Selection.empty()
        _check_frame(frame)
        mine, theirs = self.mask_for(frame), other.mask_for(frame)
        if mode is SelectionMode.ADD:
            result = np.maximum(mine, theirs)
        elif mode is SelectionMode.SUBTRACT:
            result = np.minimum(mine, 1.0 - theirs)
        else:
            result = np.minimum(mine, theirs)
        return Selection(result, (frame.x, frame.y))._trimmed()

    def inverted(self, canvas: Rect) -> Selection:
        """Everything on ``canvas`` that is not selected (parts past the canvas edge are dropped)."""
        return Selection(1.0 - self.mask_for(canvas), (canvas.x, canvas.y))._trimmed()

    def feathered(self, radius: float) -> Selection:
        """Edges softened by a Gaussian blur of ``radius`` pixels (the selection grows by about 3×radius)."""
        if not math.isfinite(radius) or radius < 0:
            raise CanvasError("The feather radius must be zero or more")
        if radius == 0 or self.is_empty:
            return self
        margin = math.ceil(radius * 3) + 1
        frame = self._frame.padded(margin)
        _check_frame(frame)
        return Selection(blur_mask(self.mask_for(frame), radius), (frame.x, frame.y))._trimmed()

    def translated(self, dx: int, dy: int) -> Selection:
        """The same selection moved by ``dx``, ``dy`` pixels."""
        return Selection._wrap(self._mask, self._frame.translated(dx, dy))

    def _trimmed(self) -> Selection:
        local = nonzero_bounds(self._mask)
        if local is None:
            return Selection.empty() if not self._frame.is_empty else self
        if local.size == self._frame.size:
            return self
        mask = self._mask[local.slices].copy()  # a copy, so the larger original can be freed
        mask.setflags(write=False)
        return Selection._wrap(mask, local.translated(self._frame.x, self._frame.y))
