"""Free transform of a layer or of the selected part of it: move, scale (flip with a negative scale) and
rotate, as one undo step. The selection follows the transformed pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from studio.canvas.blending import LayerNode, composite_nodes
from studio.canvas.document import CanvasDocument, Resample
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.imaging import nonzero_bounds
from studio.canvas.layer import LayerRef
from studio.canvas.selection import Selection

MIN_SCALE = 0.001
MAX_SCALE = 100.0

_FILTERS = {
    Resample.NEAREST: Image.Resampling.NEAREST,
    Resample.BILINEAR: Image.Resampling.BILINEAR,
    Resample.BICUBIC: Image.Resampling.BICUBIC,
}


@dataclass(frozen=True, slots=True)
class Transform:
    """Scale by ``scale_x``/``scale_y`` and rotate by ``angle`` degrees (clockwise on screen) about
    ``origin``, then move by ``dx``/``dy``; all in canvas pixels."""

    origin: tuple[float, float] = (0.0, 0.0)
    scale_x: float = 1.0
    scale_y: float = 1.0
    angle: float = 0.0
    dx: float = 0.0
    dy: float = 0.0

    def __post_init__(self) -> None:
        values = (*self.origin, self.scale_x, self.scale_y, self.angle, self.dx, self.dy)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise CanvasError("A transform needs finite numbers")
        for scale in (self.scale_x, self.scale_y):
            if not MIN_SCALE <= abs(scale) <= MAX_SCALE:
                raise CanvasError(
                    f"A transform scales by {MIN_SCALE:g} to {MAX_SCALE:g} times, not {scale:g}"
                )

    def matrix(self) -> np.ndarray:
        """The 3×3 matrix mapping canvas points before the transform to points after it."""
        ox, oy = self.origin
        radians = math.radians(self.angle)
        cos, sin = math.cos(radians), math.sin(radians)
        to_origin = np.array([[1.0, 0.0, -ox], [0.0, 1.0, -oy], [0.0, 0.0, 1.0]])
        scale = np.diag([self.scale_x, self.scale_y, 1.0])
        rotate = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        back = np.array([[1.0, 0.0, ox + self.dx], [0.0, 1.0, oy + self.dy], [0.0, 0.0, 1.0]])
        return back @ rotate @ scale @ to_origin

    def map_point(self, x: float, y: float) -> tuple[float, float]:
        """Where ``(x, y)`` goes."""
        px, py, _ = self.matrix() @ np.array([x, y, 1.0])
        return float(px), float(py)

    def map_rect(self, rect: Rect) -> Rect:
        """The whole-pixel bounding rectangle of ``rect`` once transformed."""
        corners = [self.map_point(x, y) for x in (rect.x, rect.right) for y in (rect.y, rect.bottom)]
        xs = [c[0] for c in corners]
        ys = [c[1] for c in corners]
        return Rect.from_bounds(
            math.floor(min(xs) + 1e-6),
            math.floor(min(ys) + 1e-6),
            math.ceil(max(xs) - 1e-6),
            math.ceil(max(ys) - 1e-6),
        )

    @property
    def is_identity(self) -> bool:
        return bool(np.allclose(self.matrix(), np.eye(3), atol=1e-9))

    @property
    def is_whole_move(self) -> bool:
        """True when the transform only moves by whole pixels (then pixels are copied exactly)."""
        m = self.matrix()
        return bool(
            np.allclose(m[:2, :2], np.eye(2), atol=1e-9)
            and np.allclose(m[:2, 2], np.rint(m[:2, 2]), atol=1e-9)
        )


def transform_source(document: CanvasDocument, layer: LayerRef) -> Rect | None:
    """The rectangle a free transform of ``layer`` starts from: its selected content (all its content
    without a selection), or None when there is nothing to transform."""
    target = document.layer(layer)
    selection = document.selection
    if selection is None:
        return target.content_bounds()
    bounds = selection.bounds()
    area = document.bounds.intersected(bounds) if bounds is not None else None
    if area is None or area.is_empty:
        return None
    chosen = (target.pixels[area.slices][:, :, 3] > 0) & (selection.mask_for(area) > 0)
    local = nonzero_bounds(chosen)
    return None if local is None else local.translated(area.x, area.y)


def free_transform(
    document: CanvasDocument,
    layer: LayerRef,
    transform: Transform,
    resample: Resample | str = Resample.BICUBIC,
    *,
    move_selection: bool = True,
) -> Rect | None:
    """Transform the selected pixels of ``layer`` (all of it without a selection) and place them over what
    stays; the selection is transformed too unless ``move_selection`` is False (a live preview). One undo
    step; returns the changed rectangle, or None when nothing changed. What leaves the canvas is cut off
    (undo brings it back). Only the pixels around the source and the destination are touched."""
    try:
        method = Resample(resample)
        pil_filter = _FILTERS[method]
    except (ValueError, KeyError):
        raise CanvasError(f"A transform cannot resample with “{resample}”") from None
    target = document.layer(layer)
    source = transform_source(document, target)
    if source is None or transform.is_identity:
        return None
    if transform.is_whole_move:
        pil_filter = Image.Resampling.NEAREST
    destination = transform.map_rect(source).intersected(document.bounds)
    work = source.united(destination)  # all the pixels that can change, inside the canvas
    pixels = target.pixels[work.slices]
    selection = document.selection
    lifted = pixels.copy()
    if selection is None:
        remaining = np.zeros_like(pixels)
    else:
        mask = selection.mask_for(work)
        remaining = pixels.copy()
        lifted[:, :, 3] = np.rint(lifted[:, :, 3] * mask).astype(np.uint8)
        remaining[:, :, 3] = np.rint(remaining[:, :, 3] * (1.0 - mask)).astype(np.uint8)
    result = remaining
    if not destination.is_empty:
        local_source = source.translated(-work.x, -work.y)
        local_destination = destination.translated(-work.x, -work.y)
        moved = warp(lifted[local_source.slices], source, transform, destination, pil_filter)
        result[local_destination.slices] = composite_nodes(
            [LayerNode(remaining[local_destination.slices]), LayerNode(moved)],
            destination.height,
            destination.width,
        )
    with document.history.group("Transform"):
        with document.edit_pixels(target, work, "Transform") as view:
            view[...] = result
        selection = selection if move_selection else None
        bounds = selection.bounds() if selection is not None else None
        if selection is not None and bounds is not None:
            frame = transform.map_rect(bounds)
            warped = warp_mask(selection.mask_for(bounds), bounds, transform, frame)
            document.set_selection(Selection(warped, (frame.x, frame.y)), "Transform")
    return work


def _inverse_for_pil(source: Rect, transform: Transform, destination: Rect) -> tuple[float, ...]:
    # Pillow maps each output pixel (local to ``destination``) to a point of the input (local to ``source``).
    to_destination = np.array([[1.0, 0.0, destination.x], [0.0, 1.0, destination.y], [0.0, 0.0, 1.0]])
    from_source = np.array([[1.0, 0.0, -source.x], [0.0, 1.0, -source.y], [0.0, 0.0, 1.0]])
    inverse = from_source @ np.linalg.inv(transform.matrix()) @ to_destination
    return tuple(float(v) for v in inverse[:2].ravel())


def warp(
    pixels: np.ndarray,
    source: Rect,
    transform: Transform,
    destination: Rect,
    pil_filter: Image.Resampling = Image.Resampling.BICUBIC,
) -> np.ndarray:
    """RGBA ``pixels`` lying at ``source`` transformed, sampled over ``destination`` (canvas coordinates);
    resampled premultiplied so transparent pixels do not bleed their colour."""
    image = Image.fromarray(pixels).convert("RGBa")
    data = _inverse_for_pil(source, transform, destination)
    out = image.transform(destination.size, Image.Transform.AFFINE, data, resample=pil_filter)
    return np.ascontiguousarray(np.asarray(out.convert("RGBA")))


def warp_mask(mask: np.ndarray, source: Rect, transform: Transform, destination: Rect) -> np.ndarray:
    """A float selection mask at ``source`` transformed over ``destination`` (bilinear, or exact for whole
    pixel moves)."""
    pil_filter = Image.Resampling.NEAREST if transform.is_whole_move else Image.Resampling.BILINEAR
    image = Image.fromarray(mask.astype(np.float32), "F")
    data = _inverse_for_pil(source, transform, destination)
    out = image.transform(destination.size, Image.Transform.AFFINE, data, resample=pil_filter)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)
