"""Undo/redo: strokes as one step, layer structure commands, tile-based memory accounting."""

from __future__ import annotations

import numpy as np
import pytest

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.painting import Brush, Stroke, paint_line


def snapshot(doc: CanvasDocument) -> list[tuple[str, str, bool, float, bytes]]:
    return [
        (layer.id, layer.name, layer.visible, layer.opacity, layer.pixels.tobytes()) for layer in doc.layers
    ]


def test_whole_stroke_is_one_undo_step() -> None:
    doc = CanvasDocument(128, 128, background=(255, 255, 255, 255))
    before = doc.composite()
    with Stroke(doc, doc.active_layer, Brush(size=9, color=(0, 0, 0, 255))) as stroke:
        stroke.move_to(10, 10)
        for x in range(12, 120, 3):
            stroke.line_to(x, 10 + x // 2)
    after = doc.composite()
    assert not np.array_equal(before, after)
    assert doc.history.undo_steps == 1 and doc.history.undo_label == "Brush"
    assert doc.history.undo()
    assert np.array_equal(doc.composite(), before)
    assert doc.history.can_redo and not doc.history.can_undo
    assert doc.history.redo()
    assert np.array_equal(doc.composite(), after)


def test_small_stroke_on_large_canvas_costs_tiles_not_the_canvas() -> None:
    doc = CanvasDocument(2048, 2048, background=(255, 255, 255, 255))
    canvas_bytes = 2048 * 2048 * 4
    assert doc.history.bytes_used == 0
    paint_line(doc, doc.active_layer, [(300, 300), (420, 340)], Brush(size=12, color=(255, 0, 0, 255)))
    used = doc.history.bytes_used
    # The stroke spans about 140×60 px: a handful of 64×64 tiles (16 KiB each), one copy each.
    assert 0 < used <= 12 * 64 * 64 * 4
    assert used < canvas_bytes / 100
    doc.history.undo()
    assert doc.history.bytes_used == used  # the same buffers now hold the redo state
    doc.history.redo()
    assert doc.history.bytes_used == used


def test_unchanged_tiles_are_not_kept() -> None:
    doc = CanvasDocument(256, 256)
    layer = doc.active_layer
    with doc.edit_pixels(layer) as view:  # the whole layer is offered, one pixel changes
        view[100, 100] = (1, 2, 3, 4)
    assert doc.history.bytes_used == 64 * 64 * 4
    doc.history.undo()
    assert layer.pixels.sum() == 0


def test_edit_with_no_change_records_nothing() -> None:
    doc = CanvasDocument(64, 64)
    with doc.edit_pixels(doc.active_layer, Rect(0, 0, 10, 10)) as view:
        view[...] = 0
    assert doc.history.undo_steps == 0


def test_layer_operations_undo_and_redo_exactly() -> None:
    doc = CanvasDocument(32, 32, background=(9, 9, 9, 255))
    states = [snapshot(doc)]
    a = doc.add_layer("A", np.full((32, 32, 4), 77, dtype=np.uint8))
    states.append(snapshot(doc))
    doc.duplicate_layer(a)
    states.append(snapshot(doc))
    doc.rename_layer(a, "Renamed")
    states.append(snapshot(doc))
    doc.set_layer_opacity(a, 0.25)
    states.append(snapshot(doc))
    doc.set_layer_visible(a, False)
    states.append(snapshot(doc))
    doc.move_layer_to(a, 0)
    states.append(snapshot(doc))
    doc.delete_layer(doc.layers[-1])
    states.append(snapshot(doc))
    doc.resize_canvas(40, 36, offset=(4, 2))
    states.append(snapshot(doc))

    for expected in reversed(states[:-1]):
        assert doc.history.undo()
        assert snapshot(doc) == expected
    assert not doc.history.undo()
    for expected in states[1:]:
        assert doc.history.redo()
        assert snapshot(doc) == expected
    assert not doc.history.redo()


def test_new_edit_clears_redo() -> None:
    doc = CanvasDocument(8, 8)
    doc.add_layer("A")
    doc.history.undo()
    assert doc.history.can_redo
    doc.add_layer("B")
    assert not doc.history.can_redo
    assert [layer.name for layer in doc.layers] == ["Background", "B"]


def test_group_makes_mixed_edits_one_step() -> None:
    doc = CanvasDocument(16, 16)
    before = snapshot(doc)
    with doc.history.group("Generate"):
        layer = doc.add_layer("Gen")
        with doc.edit_pixels(layer, Rect(0, 0, 4, 4)) as view:
            view[...] = 200
        doc.resize_canvas(20, 16)
        with doc.edit_pixels(layer, Rect(16, 0, 4, 4)) as view:
            view[...] = 100
    after = snapshot(doc)
    assert doc.history.undo_steps == 1 and doc.history.undo_label == "Generate"
    doc.history.undo()
    assert snapshot(doc) == before and doc.size == (16, 16)
    doc.history.redo()
    assert snapshot(doc) == after


def test_paint_then_delete_layer_in_one_group_undoes_in_order() -> None:
    doc = CanvasDocument(16, 16)
    layer = doc.add_layer("Doomed")
    before = snapshot(doc)
    with doc.history.group("Odd"):
        with doc.edit_pixels(layer, Rect(0, 0, 8, 8)) as view:
            view[...] = 50
        doc.delete_layer(layer)
    doc.history.undo()
    assert snapshot(doc) == before


def test_undo_during_stroke_is_refused() -> None:
    doc = CanvasDocument(16, 16)
    doc.add_layer("A")
    stroke = Stroke(doc, doc.active_layer, Brush())
    stroke.move_to(4, 4)
    with pytest.raises(CanvasError, match="Finish the current stroke"):
        doc.history.undo()
    stroke.finish()
    assert doc.history.undo()  # the stroke
    assert doc.history.undo()  # the layer
    with pytest.raises(CanvasError, match="No stroke"):
        doc.history.end_stroke()


def test_selection_changes_are_undoable() -> None:
    doc = CanvasDocument(32, 32)
    doc.select_rect(Rect(2, 2, 5, 5))
    doc.select_rect(Rect(10, 10, 5, 5), "add")
    doc.clear_selection()
    assert doc.selection is None
    doc.history.undo()
    assert doc.selection is not None and doc.selection.bounds() == Rect(2, 2, 13, 13)
    doc.history.undo()
    assert doc.selection is not None and doc.selection.bounds() == Rect(2, 2, 5, 5)
    doc.history.undo()
    assert doc.selection is None


def test_clean_state_tracks_saves() -> None:
    doc = CanvasDocument(8, 8)
    assert doc.history.is_clean
    doc.add_layer("A")
    assert not doc.history.is_clean
    doc.history.mark_clean()
    doc.add_layer("B")
    doc.history.undo()
    assert doc.history.is_clean
    doc.history.undo()
    assert not doc.history.is_clean


def test_history_is_trimmed_by_steps_and_bytes() -> None:
    doc = CanvasDocument(64, 64)
    doc.history.max_steps = 3
    for index in range(6):
        doc.rename_layer(doc.layers[0], f"Name {index}")
    assert doc.history.undo_steps == 3

    doc.history.max_steps = 100
    doc.history.max_bytes = 3 * 64 * 64 * 4
    for value in range(1, 6):
        with doc.edit_pixels(doc.active_layer) as view:
            view[...] = value
    assert doc.history.bytes_used <= doc.history.max_bytes


def test_history_changed_signal() -> None:
    doc = CanvasDocument(8, 8)
    calls: list[bool] = []
    doc.history.changed.connect(lambda: calls.append(doc.history.can_undo))
    doc.add_layer()
    doc.history.undo()
    assert calls == [True, False]
