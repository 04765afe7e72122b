"""Selections: rectangle, lasso, combine modes, feather, invert, bounds past the canvas edge."""

from __future__ import annotations

import numpy as np
import pytest

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.selection import Selection, SelectionMode


def test_rectangle_selection_mask_and_bounds() -> None:
    selection = Selection.rectangle(Rect(2, 3, 4, 5))
    assert selection.bounds() == Rect(2, 3, 4, 5)
    mask = selection.canvas_mask(10, 10)
    assert mask.dtype == np.float32 and mask.sum() == 20
    assert mask[3:8, 2:6].min() == 1.0


def test_rectangle_past_the_canvas_keeps_the_requested_rect() -> None:
    selection = Selection.rectangle(Rect(-20, 5, 40, 10))
    assert selection.bounds() == Rect(-20, 5, 40, 10)
    assert selection.reaches_outside(100, 100)
    assert not Selection.rectangle(Rect(0, 0, 100, 100)).reaches_outside(100, 100)
    assert selection.canvas_mask(100, 100).sum() == 20 * 10


def test_lasso_polygon_fill() -> None:
    triangle = Selection.polygon([(0, 0), (40, 0), (0, 40)])
    mask = triangle.canvas_mask(40, 40)
    assert mask[5, 5] == 1.0 and mask[35, 35] == 0.0
    assert abs(mask.sum() - 800) < 40  # area of the triangle
    edge = mask[10, 28:32]
    assert ((edge > 0) & (edge < 1)).any()  # antialiased diagonal
    with pytest.raises(CanvasError, match="three points"):
        Selection.polygon([(0, 0), (1, 1)])


def test_combine_modes() -> None:
    a = Selection.rectangle(Rect(0, 0, 10, 10))
    b = Selection.rectangle(Rect(5, 0, 10, 10))
    assert a.combined(b, SelectionMode.REPLACE).bounds() == Rect(5, 0, 10, 10)
    added = a.combined(b, "add")
    assert added.bounds() == Rect(0, 0, 15, 10) and added.canvas_mask(20, 20).sum() == 150
    subtracted = a.combined(b, "subtract")
    assert subtracted.bounds() == Rect(0, 0, 5, 10)
    intersected = a.combined(b, "intersect")
    assert intersected.bounds() == Rect(5, 0, 5, 10)
    assert a.combined(Selection.rectangle(Rect(50, 50, 2, 2)), "intersect").is_empty


def test_feather_softens_edges_and_keeps_the_core() -> None:
    selection = Selection.rectangle(Rect(20, 20, 30, 30)).feathered(4)
    mask = selection.canvas_mask(70, 70)
    assert mask[35, 35] == pytest.approx(1.0, abs=1 / 255)
    assert 0.3 < mask[35, 20] < 0.7  # the old edge is about half selected
    assert 0 < mask[35, 17] < mask[35, 20]  # the blur spreads outward a little
    bounds = selection.bounds()
    assert bounds is not None and Rect(8, 8, 54, 54).contains(bounds)
    with pytest.raises(CanvasError, match="zero or more"):
        selection.feathered(-1)


def test_invert_within_canvas() -> None:
    selection = Selection.rectangle(Rect(-5, 0, 10, 10)).inverted(Rect(0, 0, 20, 10))
    assert selection.bounds() == Rect(5, 0, 15, 10)
    assert not selection.reaches_outside(20, 10)


def test_selection_is_immutable() -> None:
    selection = Selection.rectangle(Rect(0, 0, 4, 4))
    with pytest.raises(ValueError):
        selection.mask[0, 0] = 0.0


def test_too_large_selection_is_refused() -> None:
    with pytest.raises(CanvasError, match="too large"):
        Selection.rectangle(Rect(0, 0, 100_000, 100_000))


def test_document_selection_operations() -> None:
    doc = CanvasDocument(50, 40)
    doc.select_rect(Rect(0, 0, 10, 10))
    doc.select_polygon([(20, 20), (40, 20), (40, 30)], SelectionMode.ADD)
    assert doc.selection is not None and doc.selection.bounds() == Rect(0, 0, 40, 30)
    doc.select_rect(Rect(0, 0, 10, 10), "subtract")
    assert doc.selection.bounds() == Rect(20, 20, 20, 10)
    doc.invert_selection()
    mask = doc.selection_mask()
    assert mask is not None and mask[0, 0] == 1.0 and mask[22, 38] == 0.0
    doc.feather_selection(2)
    doc.select_all()
    assert doc.selection.bounds() == Rect(0, 0, 50, 40)
    doc.select_rect(Rect(100, 100, 2, 2), "intersect")
    assert doc.selection is None  # empty selections become "nothing selected"
    with pytest.raises(CanvasError, match="no selection"):
        doc.feather_selection(3)
    with pytest.raises(CanvasError, match="Unknown selection mode"):
        doc.select_rect(Rect(0, 0, 1, 1), "xor")
