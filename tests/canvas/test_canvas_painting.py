"""Brush, eraser, fill, colour pick and layer move."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.painting import (
    Brush,
    Stroke,
    erase_selection,
    fill_selection,
    paint_dab,
    paint_line,
    pick_colour,
    translate_layer,
)


def blank(width: int = 64, height: int = 64) -> CanvasDocument:
    doc = CanvasDocument(width, height)
    doc.add_layer("Paint")
    return doc


def test_hard_dab_is_a_filled_disc_with_antialiased_edge() -> None:
    doc = blank()
    rect = paint_dab(doc, doc.active_layer, 32, 32, Brush(size=20, hardness=1.0, color=(255, 0, 0, 255)))
    alpha = doc.active_layer.pixels[:, :, 3]
    assert rect.contains(Rect(22, 22, 20, 20))
    assert alpha[32, 32] == 255 and alpha[32, 24] == 255
    assert alpha[32, 45] == 0 and alpha[10, 10] == 0
    edge = alpha[32, 41:44]
    assert (edge > 0).any() and (edge < 255).any()  # antialiased rim
    assert tuple(doc.active_layer.pixels[32, 32, :3]) == (255, 0, 0)


def test_soft_brush_falls_off_from_the_centre() -> None:
    doc = blank()
    paint_dab(doc, doc.active_layer, 32, 32, Brush(size=30, hardness=0.0))
    row = doc.active_layer.pixels[32, 32:48, 3].astype(int)
    assert row[0] >= 250
    assert all(a >= b for a, b in itertools.pairwise(row))
    assert 0 < row[8] < 200 and row[-1] == 0


def test_stroke_opacity_is_a_ceiling_and_flow_builds_up() -> None:
    doc = blank()
    brush = Brush(size=10, hardness=1.0, opacity=0.5, color=(0, 0, 255, 255))
    paint_line(doc, doc.active_layer, [(10, 32), (50, 32), (10, 32), (50, 32)], brush)
    assert doc.active_layer.pixels[32, 30, 3] == 128  # overlapping dabs never exceed the opacity

    doc2 = blank()
    paint_line(doc2, doc2.active_layer, [(10, 32), (50, 32)], Brush(size=10, hardness=1.0, flow=0.2))
    single = blank()
    paint_dab(single, single.active_layer, 30, 32, Brush(size=10, hardness=1.0, flow=0.2))
    assert doc2.active_layer.pixels[32, 30, 3] > single.active_layer.pixels[32, 30, 3]


def test_line_places_dabs_along_the_whole_segment() -> None:
    doc = blank(128, 32)
    paint_line(doc, doc.active_layer, [(5, 16), (120, 16)], Brush(size=6, hardness=1.0))
    assert (doc.active_layer.pixels[16, 5:121, 3] == 255).all()
    assert doc.active_layer.pixels[5, :, 3].sum() == 0


def test_eraser_removes_alpha_only_where_painted() -> None:
    doc = CanvasDocument(64, 64, background=(10, 20, 30, 255))
    layer = doc.active_layer
    paint_line(doc, layer, [(0, 32), (63, 32)], Brush(size=8, hardness=1.0, eraser=True))
    assert layer.pixels[32, 10, 3] == 0
    assert tuple(layer.pixels[5, 10]) == (10, 20, 30, 255)
    assert doc.history.undo_label == "Erase"


def test_painting_respects_a_soft_selection() -> None:
    doc = blank()
    doc.select_rect(Rect(0, 0, 32, 64))
    paint_line(doc, doc.active_layer, [(5, 32), (60, 32)], Brush(size=8, hardness=1.0))
    alpha = doc.active_layer.pixels[:, :, 3]
    assert alpha[32, 20] == 255 and alpha[32, 40] == 0


def test_paint_dab_off_canvas_changes_nothing() -> None:
    doc = blank()
    rect = paint_dab(doc, doc.active_layer, -100, -100, Brush(size=10))
    assert rect.is_empty and doc.active_layer.pixels.sum() == 0
    assert doc.history.undo_steps == 1  # only the add-layer step


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "Brush size"),
        ({"hardness": 2}, "Hardness"),
        ({"opacity": -1}, "Opacity"),
        ({"color": (300, 0, 0)}, "colour"),
        ({"size": float("nan")}, "Brush size"),
    ],
)
def test_bad_brush_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CanvasError, match=message):
        Brush(**kwargs)  # type: ignore[arg-type]


def test_finished_stroke_cannot_continue() -> None:
    doc = blank()
    stroke = Stroke(doc, doc.active_layer, Brush())
    stroke.move_to(1, 1)
    stroke.finish()
    stroke.finish()
    with pytest.raises(CanvasError, match="finished"):
        stroke.line_to(5, 5)


def test_pick_colour_from_composite_and_layer() -> None:
    doc = CanvasDocument(8, 8, background=(0, 0, 255, 255))
    top = doc.add_layer("Top", np.zeros((8, 8, 4), dtype=np.uint8))
    with doc.edit_pixels(top, Rect(0, 0, 4, 8)) as view:
        view[...] = (255, 0, 0, 255)
    assert pick_colour(doc, 1.7, 3.2) == (255, 0, 0, 255)
    assert pick_colour(doc, 6, 3) == (0, 0, 255, 255)
    assert pick_colour(doc, 6, 3, layer=top) == (0, 0, 0, 0)
    with pytest.raises(CanvasError, match="outside the canvas"):
        pick_colour(doc, 8, 0)


def test_translate_layer_and_undo() -> None:
    doc = blank(32, 32)
    layer = doc.active_layer
    with doc.edit_pixels(layer, Rect(4, 4, 6, 6)) as view:
        view[...] = (9, 8, 7, 255)
    before = layer.pixels.copy()
    translate_layer(doc, layer, 20, -2)
    assert layer.content_bounds() == Rect(24, 2, 6, 6)
    assert tuple(layer.pixels[5, 26]) == (9, 8, 7, 255)
    translate_layer(doc, layer, 5, 0)  # partly off the canvas: cut off
    assert layer.content_bounds() == Rect(29, 2, 3, 6)
    doc.history.undo()
    doc.history.undo()
    assert np.array_equal(layer.pixels, before)
    with pytest.raises(CanvasError, match="whole pixels"):
        translate_layer(doc, layer, 1.5, 0)  # type: ignore[arg-type]


def test_fill_and_erase_selection() -> None:
    doc = blank(16, 16)
    layer = doc.active_layer
    doc.select_rect(Rect(2, 2, 4, 4))
    fill_selection(doc, layer, (0, 255, 0))
    assert layer.content_bounds() == Rect(2, 2, 4, 4)
    assert tuple(layer.pixels[3, 3]) == (0, 255, 0, 255)
    doc.select_rect(Rect(2, 2, 2, 4))
    erase_selection(doc, layer)
    assert layer.content_bounds() == Rect(4, 2, 2, 4)
    doc.clear_selection()
    fill_selection(doc, layer, (1, 1, 1, 255))
    assert (layer.pixels[:, :, 3] == 255).all()
