"""A raster layer of a canvas document (its own module so that the document and its history share it)."""

from __future__ import annotations

import copy
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.canvas.blending import BlendMode, clean_blend_mode
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.imaging import check_rgba, nonzero_bounds, thumbnail

MAX_LAYER_NAME = 256


def new_layer_id() -> str:
    """A fresh, unique layer id."""
    return uuid.uuid4().hex[:12]


def clean_layer_name(name: str) -> str:
    """``name`` with its whitespace collapsed; :class:`CanvasError` when empty or too long."""
    if not isinstance(name, str) or not name.strip():
        raise CanvasError("A layer name cannot be empty")
    name = " ".join(name.split())
    if len(name) > MAX_LAYER_NAME:
        raise CanvasError(f"A layer name can have at most {MAX_LAYER_NAME} characters")
    return name


def clean_opacity(opacity: float) -> float:
    """``opacity`` as a float in [0, 1]; :class:`CanvasError` otherwise."""
    try:
        value = float(opacity)
    except (TypeError, ValueError):
        raise CanvasError("Opacity must be a number between 0 and 1") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise CanvasError(f"Opacity must be between 0 and 1, not {opacity}")
    return value


@dataclass(eq=False)
class Layer:
    """One raster layer. ``provenance`` describes AI-generated content (prompt, seed, model, parameters);
    ``group`` is the id of the :class:`LayerGroup` it belongs to (None at the top level)."""

    name: str
    pixels: np.ndarray
    visible: bool = True
    opacity: float = 1.0
    provenance: dict[str, Any] | None = None
    id: str = field(default_factory=new_layer_id)
    blend_mode: BlendMode = BlendMode.NORMAL
    group: str | None = None

    def __post_init__(self) -> None:
        self.name = clean_layer_name(self.name)
        self.pixels = check_rgba(self.pixels, f"The pixels of layer “{self.name}”")
        self.opacity = clean_opacity(self.opacity)
        self.visible = bool(self.visible)
        self.blend_mode = clean_blend_mode(self.blend_mode)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def content_bounds(self) -> Rect | None:
        """Bounding rectangle of the pixels that are not fully transparent, or None when empty."""
        return nonzero_bounds(self.pixels[:, :, 3])

    def thumbnail(self, max_side: int = 64) -> np.ndarray:
        """A small RGBA copy of the layer (opacity and visibility not applied)."""
        return thumbnail(self.pixels, max_side)

    def duplicate(self, name: str | None = None) -> Layer:
        """A copy with a new id (pixels and provenance copied), in the same group."""
        return Layer(
            name or self.name,
            self.pixels.copy(),
            self.visible,
            self.opacity,
            copy.deepcopy(self.provenance),
            blend_mode=self.blend_mode,
            group=self.group,
        )


@dataclass(eq=False)
class LayerGroup:
    """A named group of layers (an OpenRaster ``<stack>``). Its layers name it in :attr:`Layer.group`;
    ``parent`` is the enclosing group's id. An ``isolated`` group is always composited on its own; otherwise
    only when its opacity or blend mode asks for it (OpenRaster's ``isolation="auto"``)."""

    name: str
    visible: bool = True
    opacity: float = 1.0
    blend_mode: BlendMode = BlendMode.NORMAL
    isolated: bool = False
    parent: str | None = None
    id: str = field(default_factory=new_layer_id)

    def __post_init__(self) -> None:
        self.name = clean_layer_name(self.name)
        self.opacity = clean_opacity(self.opacity)
        self.visible = bool(self.visible)
        self.isolated = bool(self.isolated)
        self.blend_mode = clean_blend_mode(self.blend_mode)


LayerRef = Layer | str
