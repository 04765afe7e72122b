"""Image and layer operations: crop, resize canvas and image, bucket fill, free transform, merge down,
flatten, groups; each with undo and redo."""

from __future__ import annotations

import numpy as np
import pytest

from studio.canvas.blending import BlendMode
from studio.canvas.document import CanvasDocument, Resample, anchor_offset
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.painting import bucket_fill, similar_region
from studio.canvas.selection import Selection
from studio.canvas.transform import Transform, free_transform, transform_source


def snapshot(doc: CanvasDocument) -> tuple[object, ...]:
    return (
        doc.size,
        [(layer.id, layer.name, layer.opacity, layer.blend_mode, layer.group) for layer in doc.layers],
        [layer.pixels.copy() for layer in doc.layers],
        doc.selection,
        doc.active_layer.id,
    )


def same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return (
        a[0] == b[0]
        and a[1] == b[1]
        and all(np.array_equal(x, y) for x, y in zip(a[2], b[2], strict=True))  # type: ignore[call-overload]
        and a[3] == b[3]
        and a[4] == b[4]
    )


def check_undo_redo(doc: CanvasDocument, before: tuple[object, ...]) -> None:
    """One undo step restores ``before`` exactly; redo brings the change back exactly."""
    after = snapshot(doc)
    assert not same(before, after)
    assert doc.history.undo()
    assert same(snapshot(doc), before)
    assert doc.history.redo()
    assert same(snapshot(doc), after)


def painted_document() -> CanvasDocument:
    doc = CanvasDocument(40, 30, background=(255, 255, 255))
    rng = np.random.default_rng(3)
    doc.add_layer("Noise", rng.integers(0, 256, (30, 40, 4), dtype=np.uint8))
    return doc


# -- crop and resize ---------------------------------------------------------------------------------------


def test_crop_to_selection_keeps_the_selected_rectangle_and_undoes() -> None:
    doc = painted_document()
    noise = doc.active_layer.pixels.copy()
    doc.select_rect(Rect(5, 4, 10, 8))
    before = snapshot(doc)
    doc.crop_to_selection()
    assert doc.size == (10, 8)
    assert np.array_equal(doc.active_layer.pixels, noise[4:12, 5:15])
    assert doc.selection is None
    assert doc.history.undo_label == "Crop to selection"
    check_undo_redo(doc, before)


def test_crop_of_a_lasso_uses_its_bounds_and_needs_a_selection() -> None:
    doc = painted_document()
    with pytest.raises(CanvasError, match="Select"):
        doc.crop_to_selection()
    doc.select_polygon([(2, 2), (12, 3), (6, 9)])
    doc.crop_to_selection()
    assert doc.size == (10, 7)


@pytest.mark.parametrize(
    ("anchor", "offset"),
    [((0, 0), (0, 0)), ((0.5, 0.5), (5, 10)), ((1, 1), (10, 20)), ((1, 0), (10, 0))],
)
def test_anchor_offset(anchor: tuple[float, float], offset: tuple[int, int]) -> None:
    assert anchor_offset((40, 30), (50, 50), anchor) == offset


def test_resize_canvas_anchored_at_the_centre_and_bottom_right() -> None:
    doc = painted_document()
    noise = doc.active_layer.pixels.copy()
    before = snapshot(doc)
    doc.resize_canvas_anchored(60, 40, (0.5, 0.5))
    assert doc.size == (60, 40)
    assert np.array_equal(doc.active_layer.pixels[5:35, 10:50], noise)
    assert doc.active_layer.pixels[:5].sum() == 0
    check_undo_redo(doc, before)
    doc.history.undo()
    doc.resize_canvas_anchored(20, 10, (1, 1))  # shrinking cuts the top-left off
    assert np.array_equal(doc.active_layer.pixels, noise[20:, 20:])
    with pytest.raises(CanvasError, match="anchor"):
        doc.resize_canvas_anchored(20, 10, (2, 0))


@pytest.mark.parametrize("resample", list(Resample))
def test_resize_image_scales_every_layer_and_the_selection(resample: Resample) -> None:
    doc = CanvasDocument(40, 30, background=(0, 0, 0))
    with doc.edit_pixels(doc.active_layer, Rect(0, 0, 20, 30)) as view:
        view[...] = (255, 255, 255, 255)
    top = doc.add_layer("Top")
    doc.select_rect(Rect(0, 0, 20, 15))
    before = snapshot(doc)
    doc.resize_image(80, 60, resample)
    assert doc.size == (80, 60)
    assert all(layer.pixels.shape == (60, 80, 4) for layer in doc.layers)
    assert tuple(doc.composite()[30, 10]) == (255, 255, 255, 255)
    assert tuple(doc.composite()[30, 70]) == (0, 0, 0, 255)
    assert doc.layer(top).pixels.sum() == 0
    assert doc.selection is not None and doc.selection.bounds() in (Rect(0, 0, 40, 30), Rect(0, 0, 41, 31))
    assert doc.selection.mask_for(Rect(0, 0, 39, 29)).min() == 1.0  # soft at most on its outer edge
    assert doc.history.undo_label == "Image size"
    check_undo_redo(doc, before)
    with pytest.raises(CanvasError, match="resampling"):
        doc.resize_image(10, 10, "sinc")


def test_painting_after_resize_image_undoes_in_order() -> None:
    doc = painted_document()
    original = snapshot(doc)
    doc.resize_image(20, 15)
    resized = snapshot(doc)
    with doc.edit_pixels(doc.active_layer, Rect(0, 0, 5, 5)) as view:
        view[...] = 7
    doc.history.undo()
    assert same(snapshot(doc), resized)
    doc.history.undo()
    assert same(snapshot(doc), original)


# -- bucket fill ---------------------------------------------------------------------------------------------


def two_regions() -> CanvasDocument:
    """Left half red, right half a slightly different red, with a black wall in column 10."""
    doc = CanvasDocument(20, 10, background=(200, 0, 0))
    with doc.edit_pixels(doc.active_layer, Rect(11, 0, 9, 10)) as view:
        view[...] = (210, 0, 0, 255)
    with doc.edit_pixels(doc.active_layer, Rect(10, 0, 1, 10)) as view:
        view[...] = (0, 0, 0, 255)
    doc.history.clear()
    return doc


def test_bucket_fill_stops_at_a_wall_and_undoes() -> None:
    doc = two_regions()
    before = snapshot(doc)
    changed = bucket_fill(doc, doc.active_layer, 2, 2, (0, 0, 255), tolerance=0)
    assert changed == Rect(0, 0, 10, 10)
    pixels = doc.active_layer.pixels
    assert (pixels[:, :10] == (0, 0, 255, 255)).all()
    assert (pixels[:, 10] == (0, 0, 0, 255)).all() and (pixels[:, 11:] == (210, 0, 0, 255)).all()
    assert doc.history.undo_label == "Fill"
    check_undo_redo(doc, before)


def test_bucket_fill_tolerance_and_non_contiguous() -> None:
    doc = two_regions()
    region = similar_region(doc.active_layer.pixels, 2, 2, 10, contiguous=False)
    assert region[:, :10].all() and region[:, 11:].all() and not region[:, 10].any()
    assert not similar_region(doc.active_layer.pixels, 2, 2, 9, contiguous=False)[:, 11:].any()
    # Wall removed: with tolerance 10 the fill reaches the other red, with 9 it does not.
    with doc.edit_pixels(doc.active_layer, Rect(10, 0, 1, 10)) as view:
        view[...] = (205, 0, 0, 255)
    bucket_fill(doc, doc.active_layer, 2, 2, (0, 255, 0), tolerance=9)
    assert tuple(doc.active_layer.pixels[5, 15]) == (210, 0, 0, 255)
    doc.history.undo()
    bucket_fill(doc, doc.active_layer, 2, 2, (0, 255, 0), tolerance=10)
    assert (doc.active_layer.pixels == (0, 255, 0, 255)).all()


def test_bucket_fill_stays_inside_the_selection() -> None:
    doc = two_regions()
    doc.select_rect(Rect(0, 0, 5, 5))
    bucket_fill(doc, doc.active_layer, 2, 2, (0, 0, 255))
    pixels = doc.active_layer.pixels
    assert (pixels[:5, :5] == (0, 0, 255, 255)).all()
    assert (pixels[5:, :10] == (200, 0, 0, 255)).all() and (pixels[:, 5:10] == (200, 0, 0, 255)).all()
    assert bucket_fill(doc, doc.active_layer, 8, 8, (0, 0, 255)) is None  # outside the selection


def test_bucket_fill_of_transparency_and_sample_merged() -> None:
    doc = two_regions()
    ink = doc.add_layer("Ink")
    # On the empty layer everything is one transparent area...
    bucket_fill(doc, ink, 2, 2, (9, 9, 9))
    assert (doc.layer(ink).pixels == (9, 9, 9, 255)).all()
    doc.history.undo()
    # ...but sampling the composite, the wall stops the fill.
    bucket_fill(doc, ink, 2, 2, (9, 9, 9), sample_merged=True)
    assert doc.layer(ink).content_bounds() == Rect(0, 0, 10, 10)
    with pytest.raises(CanvasError, match="tolerance"):
        bucket_fill(doc, ink, 2, 2, (9, 9, 9), tolerance=300)
    assert bucket_fill(doc, ink, 50, 2, (9, 9, 9)) is None


# -- free transform ------------------------------------------------------------------------------------------


def square_layer_document() -> CanvasDocument:
    doc = CanvasDocument(40, 40, background=(255, 255, 255))
    doc.add_layer("Square")
    with doc.edit_pixels(doc.active_layer, Rect(10, 10, 10, 10)) as view:
        view[...] = (0, 0, 255, 255)
    doc.history.clear()
    return doc


def test_transform_moves_a_layer_exactly_and_undoes() -> None:
    doc = square_layer_document()
    before = snapshot(doc)
    changed = free_transform(doc, doc.active_layer, Transform(dx=5, dy=-3))
    assert changed == Rect(10, 7, 15, 13)
    assert doc.active_layer.content_bounds() == Rect(15, 7, 10, 10)
    assert (doc.active_layer.pixels[7:17, 15:25] == (0, 0, 255, 255)).all()
    assert doc.history.undo_label == "Transform"
    check_undo_redo(doc, before)


def test_transform_scales_and_rotates_about_the_origin() -> None:
    doc = square_layer_document()
    free_transform(doc, doc.active_layer, Transform(origin=(15, 15), scale_x=2, scale_y=0.5))
    scaled = doc.active_layer.content_bounds()
    assert scaled is not None and (scaled.x, scaled.right) == (5, 25)
    assert 12 <= scaled.y <= 13 and 17 <= scaled.bottom <= 18  # 12.5..17.5, edges antialiased
    assert (doc.active_layer.pixels[13:17, 6:24] == (0, 0, 255, 255)).all()
    doc.history.undo()
    free_transform(doc, doc.active_layer, Transform(origin=(15, 15), angle=45))
    bounds = doc.active_layer.content_bounds()
    assert bounds is not None
    half_diagonal = 5 * 2**0.5
    assert bounds.x == pytest.approx(15 - half_diagonal, abs=1.5)
    assert bounds.right == pytest.approx(15 + half_diagonal, abs=1.5)
    assert tuple(doc.active_layer.pixels[15, 15]) == (0, 0, 255, 255)
    assert doc.active_layer.pixels[10, 10, 3] == 0  # the old corner is now outside the diamond
    # A flip with a negative scale.
    doc.history.undo()
    with doc.edit_pixels(doc.active_layer, Rect(10, 10, 1, 10)) as view:
        view[...] = (255, 0, 0, 255)
    free_transform(doc, doc.active_layer, Transform(origin=(15, 15), scale_x=-1))
    assert (doc.active_layer.pixels[10:20, 19] == (255, 0, 0, 255)).all()


def test_transform_of_a_selection_lifts_only_the_selected_pixels() -> None:
    doc = square_layer_document()
    doc.select_rect(Rect(10, 10, 5, 10))  # the left half of the square
    assert transform_source(doc, doc.active_layer) == Rect(10, 10, 5, 10)
    before = snapshot(doc)
    free_transform(doc, doc.active_layer, Transform(dx=20))
    pixels = doc.active_layer.pixels
    assert pixels[10:20, 10:15, 3].sum() == 0  # lifted away
    assert (pixels[10:20, 15:20] == (0, 0, 255, 255)).all()  # the unselected half stays
    assert (pixels[10:20, 30:35] == (0, 0, 255, 255)).all()
    assert doc.selection is not None and doc.selection.bounds() == Rect(30, 10, 5, 10)
    check_undo_redo(doc, before)


def test_transform_of_nothing_changes_nothing() -> None:
    doc = CanvasDocument(10, 10)
    assert free_transform(doc, doc.active_layer, Transform(dx=3)) is None
    doc = square_layer_document()
    assert free_transform(doc, doc.active_layer, Transform()) is None
    assert doc.history.undo_steps == 0
    with pytest.raises(CanvasError, match="scales"):
        Transform(scale_x=0)
    with pytest.raises(CanvasError, match="resample"):
        free_transform(doc, doc.active_layer, Transform(dx=1), "lanczos")


# -- merge down and flatten ------------------------------------------------------------------------------------


def test_merge_down_keeps_the_look_and_undoes() -> None:
    doc = CanvasDocument(8, 8, background=(100, 150, 200))
    upper = doc.add_layer("Shade", np.full((8, 8, 4), (50, 50, 50, 255), dtype=np.uint8))
    doc.set_layer_blend_mode(upper, BlendMode.MULTIPLY)
    doc.set_layer_opacity(upper, 0.5)
    look = doc.composite()
    before = snapshot(doc)
    lower = doc.merge_down(upper)
    assert [layer.name for layer in doc.layers] == ["Background"]
    assert doc.active_layer is lower and lower.opacity == 1.0
    assert np.abs(doc.composite().astype(int) - look.astype(int)).max() <= 1
    assert doc.history.undo_label == "Merge down"
    check_undo_redo(doc, before)


def test_merge_down_refusals() -> None:
    doc = CanvasDocument(8, 8)
    with pytest.raises(CanvasError, match="bottom"):
        doc.merge_down()
    top = doc.add_layer("Top")
    doc.set_layer_visible(top, False)
    with pytest.raises(CanvasError, match="Show"):
        doc.merge_down()
    doc.set_layer_visible(top, True)
    doc.group_layers([top])
    with pytest.raises(CanvasError, match="group"):
        doc.merge_down(top)


def test_flatten_makes_one_layer_of_what_shows() -> None:
    doc = painted_document()
    hidden = doc.add_layer("Hidden", np.full((30, 40, 4), 255, dtype=np.uint8))
    doc.set_layer_visible(hidden, False)
    doc.group_layers([hidden])
    look = doc.composite()
    before = snapshot(doc)
    flat = doc.flatten()
    assert doc.layers == (flat,) and doc.active_layer is flat and doc.groups == ()
    assert np.array_equal(flat.pixels, look)
    check_undo_redo(doc, before)
    doc.history.undo()
    assert len(doc.groups) == 1


# -- groups ---------------------------------------------------------------------------------------------------


def test_group_and_ungroup_layers() -> None:
    doc = CanvasDocument(8, 8)
    a = doc.add_layer("A")
    b = doc.add_layer("B")
    c = doc.add_layer("C")
    group = doc.group_layers([a, c], "Pair")
    assert [layer.name for layer in doc.layers] == ["Background", "B", "A", "C"]
    assert a.group == group.id and c.group == group.id and b.group is None
    tree = doc.layer_tree()
    assert [getattr(item, "name", None) for item in tree[:2]] == ["Background", "B"]
    branch = tree[2]
    assert getattr(branch, "group", None) is group
    assert doc.history.undo_label == "Group layers"
    # A layer added above a grouped layer joins the group.
    doc.set_active_layer(a)
    inner = doc.add_layer("Inner")
    assert inner.group == group.id
    doc.history.undo()
    doc.set_group_visible(group.id, False)
    assert not doc.is_shown(a) and doc.is_shown(b)
    doc.ungroup(group.id)
    assert a.group is None and c.group is None and doc.groups == ()
    doc.history.undo()
    assert a.group == group.id and doc.groups == (group,)
    doc.history.undo()
    doc.history.undo()
    assert [layer.name for layer in doc.layers] == ["Background", "A", "B", "C"]
    assert doc.groups == () and a.group is None
    doc.group_layers([b])
    with pytest.raises(CanvasError, match="same group"):
        doc.group_layers([a, b])
    with pytest.raises(CanvasError, match="at least one"):
        doc.group_layers([])


def test_nested_groups_and_their_properties_undo() -> None:
    doc = CanvasDocument(8, 8)
    a = doc.add_layer("A")
    outer = doc.group_layers([a], "Outer")
    inner = doc.group_layers([a], "Inner")
    assert inner.parent == outer.id
    assert [group.name for group in doc.group_chain(a)] == ["Outer", "Inner"]
    doc.set_group_opacity(inner.id, 0.5)
    doc.set_group_blend_mode(inner.id, "svg:screen")
    doc.rename_group(inner.id, "Renamed")
    doc.set_group_isolated(inner.id, True)
    assert (inner.opacity, inner.blend_mode, inner.name, inner.isolated) == (
        0.5,
        BlendMode.SCREEN,
        "Renamed",
        True,
    )
    for _ in range(4):
        doc.history.undo()
    assert (inner.opacity, inner.blend_mode, inner.name, inner.isolated) == (
        1.0,
        BlendMode.NORMAL,
        "Inner",
        False,
    )
    doc.ungroup(outer.id)
    assert inner.parent is None and a.group == inner.id
    with pytest.raises(CanvasError, match="blend mode"):
        doc.set_group_blend_mode(inner.id, "svg:sparkle")


def test_selection_mask_soft_edges_scale_the_fill() -> None:
    doc = two_regions()
    mask = np.zeros((10, 20), dtype=np.float32)
    mask[:, :10] = 0.5
    doc.set_selection(Selection(mask))
    bucket_fill(doc, doc.active_layer, 2, 2, (0, 0, 0))
    assert tuple(doc.active_layer.pixels[2, 2]) == (100, 0, 0, 255)


def test_moving_a_layer_up_and_down_walks_through_groups() -> None:
    doc = CanvasDocument(8, 8)
    bottom = doc.layers[0]
    inner = doc.add_layer("Inner")
    group = doc.group_layers([inner], "G")
    doc.set_active_layer(inner)
    top = doc.add_layer("Top", index=2)
    assert top.group is None

    doc.move_layer_up(bottom)  # under the group: it enters the group, its place in the stack stays
    assert bottom.group == group.id and doc.index_of(bottom) == 0
    doc.move_layer_up(bottom)  # inside the group: swaps with Inner
    assert doc.index_of(bottom) == 1 and bottom.group == group.id
    doc.move_layer_up(bottom)  # at the top of the group: it leaves the group
    assert bottom.group is None and doc.index_of(bottom) == 1
    doc.move_layer_up(bottom)  # then swaps with Top
    assert doc.index_of(bottom) == 2
    assert not doc.can_move_layer(bottom, +1)
    doc.move_layer_up(bottom)
    assert doc.index_of(bottom) == 2

    doc.move_layer_down(top)  # Top (now under Bottom) enters the group from above
    assert top.group == group.id
    for _ in range(5):  # enter, swap, leave, swap, enter: one step each
        doc.history.undo()
    assert bottom.group is None and doc.index_of(bottom) == 0 and top.group is None
    # At the top of the stack, inside a group, "up" leaves the group.
    doc.set_active_layer(inner)
    lonely = doc.add_layer("Lonely", index=3)
    doc.group_layers([lonely])
    assert doc.can_move_layer(lonely, +1)
    doc.move_layer_up(lonely)
    assert lonely.group is None
