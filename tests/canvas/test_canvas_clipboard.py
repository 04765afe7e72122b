"""Copying the selected pixels of a layer and pasting pixels as a new layer (the Qt-free core)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.selection import Selection


def filled(width: int, height: int, seed: int = 1) -> CanvasDocument:
    document = CanvasDocument(width, height)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    document.set_layer_pixels(document.active_layer, pixels)
    return document


def test_copy_crops_to_the_selection_and_leaves_the_layer_alone() -> None:
    document = filled(30, 20)
    before = document.active_layer.pixels.copy()
    assert np.array_equal(document.copy_pixels(), before)  # no selection: the whole layer
    document.select_rect(Rect(3, 4, 10, 5))
    copied = document.copy_pixels()
    assert copied is not None
    assert np.array_equal(copied, before[4:9, 3:13])
    assert np.array_equal(document.active_layer.pixels, before)


def test_copy_of_a_lasso_keeps_only_the_selected_pixels() -> None:
    document = filled(20, 20)
    document.select_polygon([(0, 0), (10, 0), (0, 10)])
    copied = document.copy_pixels()
    mask = Selection.polygon([(0, 0), (10, 0), (0, 10)]).mask_for(Rect(0, 0, 10, 10))
    assert copied is not None and copied.shape[:2] == (10, 10)
    assert not copied[mask == 0].any()  # outside the lasso: fully transparent, no colour left
    inside = mask == 1
    assert np.array_equal(copied[inside], document.active_layer.pixels[:10, :10][inside])


def test_copy_of_a_selection_off_the_canvas_is_none() -> None:
    document = filled(10, 10)
    document.set_selection(Selection.rectangle(Rect(20, 20, 5, 5)))
    assert document.copy_pixels() is None


def test_paste_adds_one_layer_at_the_position_clipped_to_the_canvas() -> None:
    document = CanvasDocument(16, 12)
    pixels = np.full((5, 6, 4), (10, 20, 30, 128), dtype=np.uint8)
    layer = document.paste_pixels(pixels, (13, 9))
    assert layer.name == "Pasted" and document.active_layer is layer and len(document.layers) == 2
    assert np.array_equal(layer.pixels[9:12, 13:16], pixels[:3, :3])
    assert int(layer.pixels[..., 3].astype(bool).sum()) == 9
    assert document.history.undo_label == "Paste"
    assert document.history.undo()
    assert len(document.layers) == 1


def test_paste_refuses_what_lies_outside_the_canvas() -> None:
    document = CanvasDocument(8, 8)
    with pytest.raises(CanvasError):
        document.paste_pixels(np.zeros((2, 2, 4), dtype=np.uint8), (8, 0))
    with pytest.raises(CanvasError):
        document.paste_pixels(np.zeros((2, 2, 3), dtype=np.uint8))
    assert len(document.layers) == 1 and document.history.undo_steps == 0
