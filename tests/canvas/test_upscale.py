"""SD upscale's tile plan and feathered blend (Qt- and torch-free)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.upscale import (
    Tile,
    TileBlender,
    apply_upscale,
    blend_tiles,
    plan_tiles,
    tile_weights,
    upscale_source,
)


@pytest.mark.parametrize(
    ("width", "height", "tile", "overlap"),
    [
        (1024, 1024, 512, 64),
        (1000, 640, 512, 64),
        (130, 70, 64, 16),
        (64, 64, 512, 64),
        (2048, 600, 256, 128),
    ],
)
def test_tiles_cover_every_pixel_exactly_with_sides_a_multiple_of_8(
    width: int, height: int, tile: int, overlap: int
) -> None:
    tiles = plan_tiles(width, height, tile, overlap)
    covered = np.zeros((height, width), dtype=np.int32)
    for t in tiles:
        assert 0 <= t.left < t.right <= width and 0 <= t.top < t.bottom <= height
        tile_width, tile_height = t.size
        assert tile_width <= tile and tile_height <= tile
        assert (tile_width % 8 == 0 or tile_width == width) and (
            tile_height % 8 == 0 or tile_height == height
        )
        covered[t.top : t.bottom, t.left : t.right] += 1
    assert covered.min() >= 1
    assert max(t.right for t in tiles) == width and max(t.bottom for t in tiles) == height
    # neighbours overlap by at least the asked overlap (where there is more than one tile on an axis)
    for t in tiles:
        for side in (t.overlap_left, t.overlap_right, t.overlap_top, t.overlap_bottom):
            assert side == 0 or side >= min(overlap, min(t.size) // 2)


def test_bad_plans_get_clear_messages() -> None:
    with pytest.raises(ValueError, match="too small"):
        plan_tiles(63, 200)
    with pytest.raises(ValueError, match="multiple of 8"):
        plan_tiles(512, 512, tile=100)
    with pytest.raises(ValueError, match="overlap"):
        plan_tiles(512, 512, tile=128, overlap=100)


def test_weights_ramp_only_towards_neighbours_and_never_reach_zero() -> None:
    weights = tile_weights(Tile(0, 0, 100, 80, overlap_right=20, overlap_bottom=10))
    assert weights.shape == (80, 100)
    assert weights[0, 0] == 1.0 and weights.min() > 0
    assert np.all(np.diff(weights[0, 80:]) < 0)  # falls across the right overlap
    assert np.all(weights[0, :80] == 1.0)


def _smooth_image(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 200 / width, y * 200 / height, (x + y) * 100 / (width + height)], axis=-1)
    return image.astype(np.uint8)


def test_blending_identical_tiles_gives_the_image_back_exactly() -> None:
    image = np.random.default_rng(0).integers(0, 256, (300, 420, 3), dtype=np.uint8)
    tiles = plan_tiles(420, 300, 128, 32)
    assert len(tiles) > 4
    crops = [(t, image[t.top : t.bottom, t.left : t.right]) for t in tiles]
    assert np.array_equal(blend_tiles(420, 300, crops), image)


def test_no_seam_shows_where_tiles_disagree() -> None:
    """Each tile comes back a little brighter than its neighbour (what re-detailing does): with hard edges the
    border is a step; blended, the steepest change across a tile border is no larger than inside a tile plus
    the offset spread over the overlap."""
    width, height, offset = 400, 300, 12
    image = _smooth_image(width, height).astype(np.int16)
    tiles = plan_tiles(width, height, 128, 48)
    pasted = np.zeros_like(image)
    blender = TileBlender(width, height)
    for index, t in enumerate(tiles):
        pixels = np.clip(image[t.top : t.bottom, t.left : t.right] + (index % 2) * offset, 0, 255)
        blender.add(t, pixels.astype(np.uint8))
        pasted[t.top : t.bottom, t.left : t.right] = pixels
    blended = blender.result().astype(np.int16)
    inside = max(np.abs(np.diff(image, axis=1)).max(), np.abs(np.diff(image, axis=0)).max())
    hard = max(np.abs(np.diff(pasted, axis=1)).max(), np.abs(np.diff(pasted, axis=0)).max())
    soft = max(np.abs(np.diff(blended, axis=1)).max(), np.abs(np.diff(blended, axis=0)).max())
    assert hard >= inside + offset - 1  # the test image does show a seam when pasted
    assert soft <= inside + 2  # ramps of >= 48 px spread a 12-level step to < 1 level per pixel


def test_pixels_no_tile_reached_come_from_the_background() -> None:
    blender = TileBlender(200, 100)
    tile = plan_tiles(200, 100, 64, 16)[0]
    blender.add(tile, np.full((*tile.size[::-1], 3), 200, dtype=np.uint8))
    background = np.full((100, 200, 3), 7, dtype=np.uint8)
    out = blender.result(background)
    assert out[0, 0, 0] == 200 and out[99, 199, 0] == 7


def _document(width: int = 48, height: int = 40) -> CanvasDocument:
    document = CanvasDocument(width, height)
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[..., 0] = 200
    pixels[:, : width // 2, 3] = 255  # left half opaque, right half transparent
    document.add_layer("paint", pixels)
    return document


def test_applying_an_upscale_doubles_the_canvas_in_one_undo_step() -> None:
    document = _document()
    before = document.composite().copy()
    layers_before = len(document.layers)
    source = upscale_source(document)
    assert source.target_size == (96, 80)
    upscaled = np.full((80, 96, 3), 90, dtype=np.uint8)
    layer = apply_upscale(document, source, upscaled, {"prompt": "detail", "seed": 4, "steps": 2})
    assert document.size == (96, 80) and layer.name == "Upscale ×2 (4)"
    assert layer.provenance is not None and layer.provenance["ai_generated"] and layer.provenance["seed"] == 4
    assert layer.pixels[0, 0, 3] == 255 and layer.pixels[0, 95, 3] == 0  # shaped like what the canvas showed
    assert np.array_equal(layer.pixels[10, 5, :3], [90, 90, 90])
    document.history.undo()
    assert document.size == (48, 40) and len(document.layers) == layers_before
    assert np.array_equal(document.composite(), before)


def test_an_upscale_for_another_canvas_size_changes_nothing() -> None:
    document = _document()
    source = upscale_source(document)
    document.resize_canvas(56, 40)
    with pytest.raises(CanvasError, match="resized"):
        apply_upscale(document, source, np.zeros((80, 96, 3), dtype=np.uint8), {})
    fresh = upscale_source(document)
    with pytest.raises(CanvasError, match="not 112×80"):
        apply_upscale(document, fresh, np.zeros((80, 96, 3), dtype=np.uint8), {})
    assert document.size == (56, 40)


def test_too_small_a_canvas_is_refused() -> None:
    with pytest.raises(CanvasError, match="too small"):
        upscale_source(CanvasDocument(20, 100))
