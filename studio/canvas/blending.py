"""Layer blend modes (the ``composite-op`` values OpenRaster carries) and compositing of a layer tree.

Compositing follows the W3C "Compositing and Blending Level 1" formulas that OpenRaster refers to: the
source colour is mixed with the backdrop by the blend function where the backdrop is opaque, then placed
"over" it. Work happens in premultiplied ``float32``; results are straight-alpha ``uint8``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from studio.canvas.errors import CanvasError


class BlendMode(StrEnum):
    """A layer's blend mode, named as OpenRaster's ``composite-op`` attribute names it."""

    NORMAL = "svg:src-over"
    MULTIPLY = "svg:multiply"
    SCREEN = "svg:screen"
    OVERLAY = "svg:overlay"
    DARKEN = "svg:darken"
    LIGHTEN = "svg:lighten"
    COLOR_DODGE = "svg:color-dodge"
    COLOR_BURN = "svg:color-burn"
    HARD_LIGHT = "svg:hard-light"
    SOFT_LIGHT = "svg:soft-light"
    DIFFERENCE = "svg:difference"
    EXCLUSION = "svg:exclusion"
    HUE = "svg:hue"
    SATURATION = "svg:saturation"
    COLOR = "svg:color"
    LUMINOSITY = "svg:luminosity"
    ADDITION = "svg:plus"

    @property
    def label(self) -> str:
        """The name shown to people ("Color dodge")."""
        return _LABELS[self]


_LABELS = {
    BlendMode.NORMAL: "Normal",
    BlendMode.MULTIPLY: "Multiply",
    BlendMode.SCREEN: "Screen",
    BlendMode.OVERLAY: "Overlay",
    BlendMode.DARKEN: "Darken",
    BlendMode.LIGHTEN: "Lighten",
    BlendMode.COLOR_DODGE: "Color dodge",
    BlendMode.COLOR_BURN: "Color burn",
    BlendMode.HARD_LIGHT: "Hard light",
    BlendMode.SOFT_LIGHT: "Soft light",
    BlendMode.DIFFERENCE: "Difference",
    BlendMode.EXCLUSION: "Exclusion",
    BlendMode.HUE: "Hue",
    BlendMode.SATURATION: "Saturation",
    BlendMode.COLOR: "Color",
    BlendMode.LUMINOSITY: "Luminosity",
    BlendMode.ADDITION: "Addition",
}


def clean_blend_mode(mode: BlendMode | str) -> BlendMode:
    """``mode`` as a :class:`BlendMode`; :class:`CanvasError` when it is not one."""
    try:
        return BlendMode(mode)
    except ValueError:
        raise CanvasError(f"Unknown blend mode “{mode}”") from None


def read_blend_mode(raw: str | None) -> BlendMode:
    """An OpenRaster ``composite-op`` value as a blend mode (normal when absent or not supported)."""
    try:
        return BlendMode((raw or "").strip())
    except ValueError:
        return BlendMode.NORMAL


Array = np.ndarray


def _hard_light(cb: Array, cs: Array) -> Array:
    return np.where(cs <= 0.5, cb * 2.0 * cs, 1.0 - (1.0 - cb) * (1.0 - (2.0 * cs - 1.0)))


def _color_dodge(cb: Array, cs: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.minimum(1.0, cb / np.maximum(1.0 - cs, 1e-12))
    out = np.where(cs >= 1.0, 1.0, out)
    return np.where(cb <= 0.0, 0.0, out)


def _color_burn(cb: Array, cs: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - np.minimum(1.0, (1.0 - cb) / np.maximum(cs, 1e-12))
    out = np.where(cs <= 0.0, 0.0, out)
    return np.where(cb >= 1.0, 1.0, out)


def _soft_light(cb: Array, cs: Array) -> Array:
    d = np.where(cb <= 0.25, ((16.0 * cb - 12.0) * cb + 4.0) * cb, np.sqrt(cb))
    return np.where(cs <= 0.5, cb - (1.0 - 2.0 * cs) * cb * (1.0 - cb), cb + (2.0 * cs - 1.0) * (d - cb))


def _lum(c: Array) -> Array:
    return 0.3 * c[..., 0:1] + 0.59 * c[..., 1:2] + 0.11 * c[..., 2:3]


def _clip_color(c: Array) -> Array:
    lum = _lum(c)
    low = c.min(axis=-1, keepdims=True)
    high = c.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(low < 0.0, lum + (c - lum) * lum / np.maximum(lum - low, 1e-12), c)
        c = np.where(high > 1.0, lum + (c - lum) * (1.0 - lum) / np.maximum(high - lum, 1e-12), c)
    return np.clip(c, 0.0, 1.0)


def _set_lum(c: Array, lum: Array) -> Array:
    return _clip_color(c + (lum - _lum(c)))


def _sat(c: Array) -> Array:
    return c.max(axis=-1, keepdims=True) - c.min(axis=-1, keepdims=True)


def _set_sat(c: Array, sat: Array) -> Array:
    low = c.min(axis=-1, keepdims=True)
    high = c.max(axis=-1, keepdims=True)
    span = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(span > 0, (c - low) * sat / np.maximum(span, 1e-12), 0.0)
    return scaled.astype(np.float32)


_BLEND: dict[BlendMode, Callable[[Array, Array], Array]] = {
    BlendMode.MULTIPLY: lambda cb, cs: cb * cs,
    BlendMode.SCREEN: lambda cb, cs: cb + cs - cb * cs,
    BlendMode.OVERLAY: lambda cb, cs: _hard_light(cs, cb),
    BlendMode.DARKEN: np.minimum,
    BlendMode.LIGHTEN: np.maximum,
    BlendMode.COLOR_DODGE: _color_dodge,
    BlendMode.COLOR_BURN: _color_burn,
    BlendMode.HARD_LIGHT: _hard_light,
    BlendMode.SOFT_LIGHT: _soft_light,
    BlendMode.DIFFERENCE: lambda cb, cs: np.abs(cb - cs),
    BlendMode.EXCLUSION: lambda cb, cs: cb + cs - 2.0 * cb * cs,
    BlendMode.HUE: lambda cb, cs: _set_lum(_set_sat(cs, _sat(cb)), _lum(cb)),
    BlendMode.SATURATION: lambda cb, cs: _set_lum(_set_sat(cb, _sat(cs)), _lum(cb)),
    BlendMode.COLOR: lambda cb, cs: _set_lum(cs, _lum(cb)),
    BlendMode.LUMINOSITY: lambda cb, cs: _set_lum(cb, _lum(cs)),
}


def blend(backdrop: Array, source: Array, mode: BlendMode) -> Array:
    """The blend function ``B(Cb, Cs)`` of ``mode`` on straight colours in 0..1 (``…×3`` arrays)."""
    if mode is BlendMode.NORMAL or mode is BlendMode.ADDITION:
        return source
    return np.asarray(_BLEND[mode](backdrop, source), dtype=np.float32)


@dataclass
class LayerNode:
    """A layer's pixels (the part being composited) with its opacity and blend mode."""

    pixels: np.ndarray
    opacity: float = 1.0
    mode: BlendMode = BlendMode.NORMAL


@dataclass
class GroupNode:
    """A group: children bottom first. An isolated group is composited on its own, then blended as one
    layer; a pass-through group (normal, fully opaque, not isolated) adds its children to the backdrop."""

    children: list[LayerNode | GroupNode] = field(default_factory=list)
    opacity: float = 1.0
    mode: BlendMode = BlendMode.NORMAL
    isolated: bool = False

    @property
    def composited_alone(self) -> bool:
        return self.isolated or self.opacity < 1.0 or self.mode is not BlendMode.NORMAL


def composite_nodes(nodes: Sequence[LayerNode | GroupNode], height: int, width: int) -> np.ndarray:
    """The nodes (bottom first, hidden ones already left out) composited onto transparency →
    straight-alpha ``H×W×4 uint8``. With normal modes only it equals ``composite_over`` bit for bit."""
    colour = np.zeros((height, width, 3), dtype=np.float32)
    alpha = np.zeros((height, width, 1), dtype=np.float32)
    colour, alpha = _render(nodes, colour, alpha)
    out = np.zeros((height, width, 4), dtype=np.uint8)
    covered = alpha[:, :, 0] > 0
    straight = np.divide(colour, alpha, out=np.zeros_like(colour), where=alpha > 0)
    out[:, :, :3] = np.clip(np.rint(straight * 255.0), 0, 255).astype(np.uint8)
    out[:, :, 3] = np.clip(np.rint(alpha[:, :, 0] * 255.0), 0, 255).astype(np.uint8)
    out[~covered, :3] = 0
    return out


def _render(nodes: Sequence[LayerNode | GroupNode], colour: Array, alpha: Array) -> tuple[Array, Array]:
    for node in nodes:
        if isinstance(node, GroupNode):
            if node.opacity <= 0.0 or not node.children:
                continue
            if not node.composited_alone:
                colour, alpha = _render(node.children, colour, alpha)
                continue
            inner_colour, inner_alpha = _render(node.children, np.zeros_like(colour), np.zeros_like(alpha))
            source = np.divide(
                inner_colour, inner_alpha, out=np.zeros_like(inner_colour), where=inner_alpha > 0
            )
            colour, alpha = _blend_onto(
                colour, alpha, source, inner_alpha * np.float32(node.opacity), node.mode
            )
            continue
        coverage = node.pixels[:, :, 3]
        if node.opacity <= 0.0 or not coverage.any():
            continue
        source = node.pixels[:, :, :3].astype(np.float32)
        source *= np.float32(1.0 / 255.0)
        if node.mode is BlendMode.NORMAL and node.opacity >= 1.0 and bool((coverage == 255).all()):
            # An opaque normal layer hides everything below: same result as the general case, cheaper.
            alpha = np.ones_like(alpha)
            colour = source
            continue
        source_alpha = coverage[:, :, None].astype(np.float32)
        source_alpha *= np.float32(node.opacity / 255.0)
        colour, alpha = _blend_onto(colour, alpha, source, source_alpha, node.mode)
    return colour, alpha


def _blend_onto(
    colour: Array, alpha: Array, source: Array, source_alpha: Array, mode: BlendMode
) -> tuple[Array, Array]:
    """Place a straight ``source`` with ``source_alpha`` onto premultiplied ``colour``/``alpha``."""
    if mode is BlendMode.ADDITION:
        alpha = np.minimum(alpha + source_alpha, 1.0)
        colour = np.minimum(colour + source * source_alpha, alpha)
        return colour, alpha
    if mode is not BlendMode.NORMAL:
        backdrop = np.divide(colour, alpha, out=np.zeros_like(colour), where=alpha > 0)
        mixed = blend(backdrop, source, mode)
        source = (1.0 - alpha) * source + alpha * np.clip(mixed, 0.0, 1.0)
    keep = 1.0 - source_alpha
    colour = colour * keep
    colour += source * source_alpha
    alpha = alpha * keep
    alpha += source_alpha
    return colour, alpha
