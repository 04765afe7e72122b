"""SD upscale, the Qt- and torch-free part: the tile grid over an enlarged image and the feathered blend.

The image is first resized (×2), then re-detailed tile by tile with image-to-image at a low strength. Tiles
overlap; :func:`tile_weights` ramps each tile's weight down towards the sides it shares with a neighbour, and
:class:`TileBlender` adds ``weight × tile`` and divides by the summed weights, so neighbouring tiles fade into
each other and no seam shows. Every tile side is a multiple of 8 (what the VAE needs), and the tiles cover
the image exactly (the last one on each axis ends on the image's edge).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.canvas.document import CanvasDocument, Layer, check_canvas_size
from studio.canvas.errors import CanvasError
from studio.canvas.generation import provenance_for
from studio.canvas.image_io import encode_png
from studio.canvas.imaging import flatten_rgb, resize_pixels

TILE_MULTIPLE = 8
MIN_TILE = 64
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile: its box in the enlarged image (``right``/``bottom`` exclusive) and its overlaps with the
    neighbours on each side (0 on the image's edges)."""

    left: int
    top: int
    right: int
    bottom: int
    overlap_left: int = 0
    overlap_top: int = 0
    overlap_right: int = 0
    overlap_bottom: int = 0

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), as PIL's ``crop`` takes it."""
        return self.left, self.top, self.right, self.bottom

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.right - self.left, self.bottom - self.top


def _axis(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Start/end pairs along one axis: equal spans (a multiple of 8, at most ``tile``) that overlap by at least
    ``overlap`` and cover ``0..length`` exactly."""
    span = min(tile, length) // TILE_MULTIPLE * TILE_MULTIPLE
    if length <= span:
        return [(0, length)]
    overlap = min(overlap, span // 2)
    count = 1 + -(-(length - span) // (span - overlap))  # ceil
    starts = [round(i * (length - span) / (count - 1)) for i in range(count)]
    return [(start, start + span) for start in starts]


def plan_tiles(
    width: int, height: int, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP
) -> list[Tile]:
    """The tiles covering a ``width`` × ``height`` image, row by row; raises ValueError with a user message
    for an image smaller than one tile can be or a bad tile/overlap."""
    if tile % TILE_MULTIPLE or tile < MIN_TILE:
        raise ValueError(
            f"the tile size must be a multiple of {TILE_MULTIPLE} of at least {MIN_TILE} (got {tile})"
        )
    if not 0 <= overlap <= tile // 2:
        raise ValueError(f"the overlap must be between 0 and half the tile size (got {overlap})")
    if min(width, height) < MIN_TILE:
        raise ValueError(
            f"the image is too small to upscale in tiles: each side must be at least {MIN_TILE} px"
        )
    columns, rows = _axis(width, tile, overlap), _axis(height, tile, overlap)
    tiles = []
    for row, (top, bottom) in enumerate(rows):
        for column, (left, right) in enumerate(columns):
            tiles.append(
                Tile(
                    left,
                    top,
                    right,
                    bottom,
                    overlap_left=columns[column - 1][1] - left if column else 0,
                    overlap_top=rows[row - 1][1] - top if row else 0,
                    overlap_right=right - columns[column + 1][0] if column + 1 < len(columns) else 0,
                    overlap_bottom=bottom - rows[row + 1][0] if row + 1 < len(rows) else 0,
                )
            )
    return tiles


def _ramp(length: int, before: int, after: int) -> np.ndarray:
    """Weights along one axis: rising linearly over ``before`` pixels, 1 in the middle, falling over
    ``after``; never 0, so a pixel covered by one tile only keeps that tile's value."""
    weights = np.ones(length, dtype=np.float64)
    if before:
        weights[:before] = np.arange(1, before + 1) / (before + 1)
    if after:
        weights[length - after :] = np.minimum(
            weights[length - after :], np.arange(after, 0, -1) / (after + 1)
        )
    return weights


def tile_weights(tile: Tile) -> np.ndarray:
    """The feather weights of ``tile`` (height × width): a linear ramp across each overlap with a neighbour."""
    width, height = tile.size
    across = _ramp(width, tile.overlap_left, tile.overlap_right)
    down = _ramp(height, tile.overlap_top, tile.overlap_bottom)
    return down[:, None] * across[None, :]


class TileBlender:
    """Accumulates tiles (RGB uint8 arrays) into a ``width`` × ``height`` image with feathered weights."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._sum = np.zeros((height, width, 3), dtype=np.float64)
        self._weight = np.zeros((height, width), dtype=np.float64)

    def add(self, tile: Tile, pixels: np.ndarray) -> None:
        """Add one tile's pixels (``tile.size`` in height × width × 3)."""
        width, height = tile.size
        if pixels.shape[:2] != (height, width):
            raise ValueError(
                f"tile pixels are {pixels.shape[1]}×{pixels.shape[0]}, the tile is {width}×{height}"
            )
        weights = tile_weights(tile)
        self._sum[tile.top : tile.bottom, tile.left : tile.right] += weights[..., None] * pixels[..., :3]
        self._weight[tile.top : tile.bottom, tile.left : tile.right] += weights

    @property
    def covered(self) -> np.ndarray:
        """Which pixels some tile has reached so far (height × width booleans)."""
        return self._weight > 0

    def result(self, background: np.ndarray | None = None) -> np.ndarray:
        """The blended image (uint8, height × width × 3); pixels no tile reached come from ``background``
        (black without one)."""
        weight = np.maximum(self._weight, 1e-12)[..., None]
        blended = np.clip(np.rint(self._sum / weight), 0, 255).astype(np.uint8)
        if background is not None:
            blended = np.where(self.covered[..., None], blended, background[..., :3])
        return blended


def blend_tiles(width: int, height: int, tiles: list[tuple[Tile, np.ndarray]]) -> np.ndarray:
    """Blend ``(tile, pixels)`` pairs into one ``width`` × ``height`` RGB uint8 image."""
    blender = TileBlender(width, height)
    for tile, pixels in tiles:
        blender.add(tile, pixels)
    return blender.result()


UPSCALE_LABEL = "Upscale ×2"


@dataclass(frozen=True, slots=True)
class UpscaleSource:
    """What an upscale job starts from: the canvas as it shows (flattened, PNG) and the size it had."""

    png: bytes
    size: tuple[int, int]
    scale: int = 2

    @property
    def target_size(self) -> tuple[int, int]:
        """The canvas size after the upscale."""
        return self.size[0] * self.scale, self.size[1] * self.scale


def upscale_source(document: CanvasDocument, scale: int = 2) -> UpscaleSource:
    """The visible canvas, flattened over neutral grey, as an upscale job's input."""
    width, height = document.size
    check_canvas_size(width * scale, height * scale)
    if min(width, height) * scale < MIN_TILE:
        raise CanvasError(
            f"The image is too small to upscale: each side must be at least {MIN_TILE // scale} px"
        )
    return UpscaleSource(encode_png(flatten_rgb(document.composite())), document.size, scale)


def apply_upscale(
    document: CanvasDocument, source: UpscaleSource, upscaled: np.ndarray, params: Mapping[str, Any]
) -> Layer:
    """Scale the canvas ×``source.scale`` and add the re-detailed image as a layer on top, shaped like what the
    canvas showed (its alpha) and carrying its provenance: one undo step. Raises :class:`CanvasError`,
    changing nothing, when the canvas was resized meanwhile or the image has the wrong size."""
    if document.size != source.size:
        raise CanvasError("The canvas was resized while it was being upscaled; upscale again")
    width, height = source.target_size
    if upscaled.shape[:2] != (height, width) or upscaled.ndim != 3:
        raise CanvasError(f"The upscaled image is not {width}×{height}")
    alpha = resize_pixels(document.composite(), (width, height))[:, :, 3:4]
    pixels = np.concatenate([upscaled[:, :, :3], alpha], axis=2)
    seed = params.get("seed")
    name = f"{UPSCALE_LABEL} ({seed})" if isinstance(seed, int) else UPSCALE_LABEL
    with document.history.group(UPSCALE_LABEL):
        document.resize_image(width, height)
        return document.add_layer(name, pixels, provenance=provenance_for(params))


__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "UPSCALE_LABEL",
    "Tile",
    "TileBlender",
    "UpscaleSource",
    "apply_upscale",
    "blend_tiles",
    "plan_tiles",
    "tile_weights",
    "upscale_source",
]
