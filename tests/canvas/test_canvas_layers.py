"""Document model: layer operations, composite maths, canvas resize, signals."""

from __future__ import annotations

import numpy as np
import pytest

from studio.canvas.document import CanvasDocument, Layer
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect


def solid(width: int, height: int, rgba: tuple[int, int, int, int]) -> np.ndarray:
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[:, :] = rgba
    return pixels


def test_new_document_has_one_background_layer() -> None:
    doc = CanvasDocument(40, 30, background=(255, 255, 255))
    assert doc.size == (40, 30)
    assert [layer.name for layer in doc.layers] == ["Background"]
    assert doc.active_layer is doc.layers[0]
    assert (doc.composite() == 255).all()


@pytest.mark.parametrize("size", [(0, 10), (10, -1), (40_000, 10), (20_000, 20_000), (1.5, 10)])
def test_bad_canvas_size_is_refused(size: tuple[int, int]) -> None:
    with pytest.raises(CanvasError, match="canvas"):
        CanvasDocument(*size)  # type: ignore[arg-type]


def test_add_delete_duplicate_and_active_layer() -> None:
    doc = CanvasDocument(8, 8)
    top = doc.add_layer("Ink")
    assert doc.active_layer is top
    middle = doc.add_layer("Sketch", index=1)
    assert [layer.name for layer in doc.layers] == ["Background", "Sketch", "Ink"]
    copy = doc.duplicate_layer(top)
    assert copy.name == "Ink copy" and copy.id != top.id
    assert doc.index_of(copy) == doc.index_of(top) + 1
    assert doc.duplicate_layer(top).name == "Ink copy 2"
    doc.delete_layer(middle)
    assert "Sketch" not in [layer.name for layer in doc.layers]
    unnamed = doc.add_layer()
    assert unnamed.name.startswith("Layer ")


def test_duplicate_copies_pixels_and_provenance_independently() -> None:
    doc = CanvasDocument(4, 4)
    layer = doc.add_layer("Gen", solid(4, 4, (1, 2, 3, 255)), provenance={"prompt": "a cat", "seed": 7})
    copy = doc.duplicate_layer(layer)
    copy.pixels[0, 0] = (9, 9, 9, 9)
    assert copy.provenance is not None
    copy.provenance["seed"] = 8
    assert tuple(layer.pixels[0, 0]) == (1, 2, 3, 255)
    assert layer.provenance == {"prompt": "a cat", "seed": 7}


def test_last_layer_cannot_be_deleted() -> None:
    doc = CanvasDocument(4, 4)
    with pytest.raises(CanvasError, match="at least one layer"):
        doc.delete_layer(doc.layers[0])
    assert len(doc.layers) == 1


def test_reorder_layers() -> None:
    doc = CanvasDocument(4, 4)
    a = doc.add_layer("A")
    b = doc.add_layer("B")
    doc.move_layer_down(b)
    assert [layer.name for layer in doc.layers] == ["Background", "B", "A"]
    doc.move_layer_up(b)
    doc.move_layer_up(b)  # already on top: no change
    assert [layer.name for layer in doc.layers] == ["Background", "A", "B"]
    doc.move_layer_to(a, 0)
    assert [layer.name for layer in doc.layers] == ["A", "Background", "B"]
    with pytest.raises(CanvasError, match="out of range"):
        doc.move_layer_to(a, 3)
    with pytest.raises(CanvasError, match="out of range"):
        doc.move_layer_to(a, 1.5)  # type: ignore[arg-type]
    assert [layer.name for layer in doc.layers] == ["A", "Background", "B"]


def test_rename_visibility_opacity_validation() -> None:
    doc = CanvasDocument(4, 4)
    layer = doc.add_layer("A")
    doc.rename_layer(layer, "  Sky \n line ")
    assert layer.name == "Sky line"
    for bad in ("", "   "):
        with pytest.raises(CanvasError, match="empty"):
            doc.rename_layer(layer, bad)
    with pytest.raises(CanvasError, match="between 0 and 1"):
        doc.set_layer_opacity(layer, 1.5)
    with pytest.raises(CanvasError):
        doc.set_layer_opacity(layer, float("nan"))
    assert layer.name == "Sky line" and layer.opacity == 1.0
    doc.set_layer_visible(layer, False)
    assert layer.visible is False


def test_unknown_layer_and_wrong_pixels_are_refused() -> None:
    doc = CanvasDocument(4, 4)
    stranger = Layer("Elsewhere", solid(4, 4, (0, 0, 0, 0)))
    with pytest.raises(CanvasError, match="not part of this canvas"):
        doc.delete_layer(stranger)
    with pytest.raises(CanvasError, match="canvas is 4×4"):
        doc.add_layer("Big", solid(5, 4, (0, 0, 0, 0)))
    with pytest.raises(CanvasError, match="4 channels"):
        doc.add_layer("RGB", np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(CanvasError, match="8-bit"):
        doc.add_layer("Float", np.zeros((4, 4, 4), dtype=np.float32))
    assert len(doc.layers) == 1


def test_composite_porter_duff_over_with_opacity() -> None:
    doc = CanvasDocument(2, 1, background=(0, 0, 255, 255))
    doc.add_layer("Red", solid(2, 1, (255, 0, 0, 128)))
    out = doc.composite()
    # a = 128/255: colour = red*a + blue*(1-a); alpha stays 1
    a = 128 / 255
    assert tuple(out[0, 0]) == (round(255 * a), 0, round(255 * (1 - a)), 255)

    doc.set_layer_opacity(doc.layers[1], 0.5)
    a = 128 / 255 * 0.5
    assert tuple(doc.composite()[0, 0]) == (round(255 * a), 0, round(255 * (1 - a)), 255)

    doc.set_layer_visible(doc.layers[1], False)
    assert tuple(doc.composite()[0, 0]) == (0, 0, 255, 255)


def test_composite_of_translucent_layers_on_transparency() -> None:
    doc = CanvasDocument(1, 1)
    doc.add_layer("Green", solid(1, 1, (0, 255, 0, 102)))  # alpha 0.4
    doc.add_layer("Red", solid(1, 1, (255, 0, 0, 153)))  # alpha 0.6
    out = doc.composite()[0, 0]
    alpha = 0.6 + 0.4 * (1 - 0.6)
    assert out[3] == round(alpha * 255)
    assert out[0] == round(255 * 0.6 / alpha)
    assert out[1] == round(255 * 0.4 * 0.4 / alpha)
    assert out[2] == 0


def test_single_layer_composite_is_exact_and_transparent_is_clean() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    pixels[0, 0, 3] = 0
    layer = Layer("Noise", pixels.copy())
    doc = CanvasDocument.from_layers([layer])
    out = doc.composite()
    visible = pixels[:, :, 3] > 0
    assert np.array_equal(out[visible], pixels[visible])
    assert tuple(out[0, 0]) == (0, 0, 0, 0)


def test_composite_of_a_rect_past_the_edge() -> None:
    doc = CanvasDocument(4, 4, background=(10, 20, 30, 255))
    part = doc.composite(Rect(2, -1, 4, 3))
    assert part.shape == (3, 4, 4)
    assert tuple(part[1, 0]) == (10, 20, 30, 255)
    assert part[0].sum() == 0 and part[:, 2:].sum() == 0


def test_thumbnails_keep_aspect_ratio() -> None:
    doc = CanvasDocument(400, 200, background=(200, 100, 50, 255))
    thumb = doc.thumbnail(64)
    assert thumb.shape == (32, 64, 4)
    assert tuple(thumb[16, 32]) == (200, 100, 50, 255)
    assert doc.layers[0].thumbnail(16).shape == (8, 16, 4)


def test_resize_canvas_grows_with_offset_and_moves_selection() -> None:
    doc = CanvasDocument(4, 3, background=(1, 2, 3, 255))
    doc.select_rect(Rect(0, 0, 2, 2))
    doc.resize_canvas(10, 5, offset=(6, 2))
    assert doc.size == (10, 5)
    pixels = doc.layers[0].pixels
    assert pixels.shape == (5, 10, 4)
    assert (pixels[2:5, 6:10] == (1, 2, 3, 255)).all()
    assert pixels[:2].sum() == 0 and pixels[:, :6].sum() == 0
    assert doc.selection is not None and doc.selection.bounds() == Rect(6, 2, 2, 2)


def test_resize_canvas_crop_is_undoable() -> None:
    doc = CanvasDocument(6, 6)
    layer = doc.add_layer("Noise", np.random.default_rng(2).integers(0, 256, (6, 6, 4), dtype=np.uint8))
    before = layer.pixels.copy()
    doc.resize_canvas(3, 3, offset=(-2, -1))
    assert np.array_equal(layer.pixels, before[1:4, 2:5])
    doc.history.undo()
    assert doc.size == (6, 6) and np.array_equal(layer.pixels, before)
    doc.history.redo()
    assert np.array_equal(layer.pixels, before[1:4, 2:5])


def test_signals_report_changes() -> None:
    doc = CanvasDocument(8, 8)
    events: list[tuple[object, ...]] = []
    doc.layers_changed.connect(lambda: events.append(("layers",)))
    doc.pixels_changed.connect(lambda rect, layer_id: events.append(("pixels", rect, layer_id)))
    doc.selection_changed.connect(lambda: events.append(("selection",)))
    doc.size_changed.connect(lambda w, h: events.append(("size", w, h)))
    doc.active_layer_changed.connect(lambda layer_id: events.append(("active", layer_id)))

    layer = doc.add_layer("A")
    assert events == [("layers",), ("active", layer.id)]
    events.clear()
    with doc.edit_pixels(layer, Rect(2, 2, 3, 3)) as view:
        view[...] = 255
    assert events == [("pixels", Rect(2, 2, 3, 3), layer.id)]
    events.clear()
    doc.select_rect(Rect(0, 0, 2, 2))
    doc.resize_canvas(9, 9)
    assert events == [("selection",), ("size", 9, 9)]
    events.clear()
    doc.history.undo()  # the resize
    doc.history.undo()  # the selection
    doc.history.undo()  # the pixels
    assert events == [("size", 8, 8), ("selection",), ("pixels", Rect(0, 0, 8, 8), layer.id)]


def test_signal_disconnect() -> None:
    doc = CanvasDocument(2, 2)
    calls: list[int] = []

    def on_change() -> None:
        calls.append(1)

    doc.layers_changed.connect(on_change)
    doc.add_layer()
    doc.layers_changed.disconnect(on_change)
    doc.add_layer()
    assert calls == [1]


def test_edit_pixels_view_is_limited_to_the_rect() -> None:
    doc = CanvasDocument(8, 8)
    layer = doc.active_layer
    with doc.edit_pixels(layer, Rect(6, 6, 10, 10)) as view:
        assert view.shape == (2, 2, 4)
        view[...] = 7
    assert layer.pixels[6:, 6:].min() == 7 and layer.pixels[:6].sum() == 0
