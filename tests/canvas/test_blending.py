"""Blend modes and group compositing against the W3C formulas OpenRaster uses."""

from __future__ import annotations

import numpy as np
import pytest

from studio.canvas.blending import BlendMode, GroupNode, LayerNode, composite_nodes, read_blend_mode
from studio.canvas.document import CanvasDocument
from studio.canvas.imaging import composite_over


def px(rgba: tuple[int, int, int, int]) -> np.ndarray:
    return np.array([[rgba]], dtype=np.uint8)


def over(
    mode: BlendMode, backdrop: tuple[int, int, int, int], source: tuple[int, int, int, int]
) -> tuple[int, ...]:
    out = composite_nodes([LayerNode(px(backdrop)), LayerNode(px(source), 1.0, mode)], 1, 1)
    return tuple(int(v) for v in out[0, 0])


# Backdrop (200, 100, 50), source (100, 100, 200), both opaque; expected per channel from the formulas.
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (BlendMode.NORMAL, (100, 100, 200)),
        (BlendMode.MULTIPLY, (78, 39, 39)),  # 200·100/255, 100·100/255, 50·200/255
        (BlendMode.SCREEN, (222, 161, 211)),
        (BlendMode.OVERLAY, (188, 78, 78)),  # backdrop > ½: screen; ≤ ½: multiply ×2
        (BlendMode.DARKEN, (100, 100, 50)),
        (BlendMode.LIGHTEN, (200, 100, 200)),
        (BlendMode.DIFFERENCE, (100, 0, 150)),
        (BlendMode.EXCLUSION, (143, 122, 172)),
        (BlendMode.HARD_LIGHT, (157, 78, 167)),
        (BlendMode.ADDITION, (255, 200, 250)),
    ],
)
def test_separable_modes_on_opaque_pixels(mode: BlendMode, expected: tuple[int, int, int]) -> None:
    result = over(mode, (200, 100, 50, 255), (100, 100, 200, 255))
    assert result[3] == 255
    assert result[:3] == pytest.approx(expected, abs=1)


def test_every_mode_keeps_a_transparent_backdrop_as_the_source_and_is_in_range() -> None:
    rng = np.random.default_rng(1)
    back = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    top = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    for mode in BlendMode:
        # Over nothing, every mode shows the source as it is (W3C: the blend only acts where the backdrop is).
        alone = composite_nodes([LayerNode(top, 1.0, mode)], 16, 16)
        assert np.abs(alone.astype(int) - composite_over([(top, 1.0)], 16, 16).astype(int)).max() <= 1, mode
        mixed = composite_nodes([LayerNode(back), LayerNode(top, 0.7, mode)], 16, 16)
        assert mixed.dtype == np.uint8 and mixed.shape == (16, 16, 4)


def test_non_separable_modes() -> None:
    grey = (128, 128, 128, 255)
    red = (255, 0, 0, 255)
    # Luminosity of grey with the hue of red: a red of grey's luminosity.
    colour = over(BlendMode.COLOR, grey, red)
    assert colour[0] > colour[1] == colour[2]
    assert 0.3 * colour[0] + 0.59 * colour[1] + 0.11 * colour[2] == pytest.approx(128, abs=2)
    # Luminosity mode over a grey backdrop gives the grey of the source's luminosity.
    lum = over(BlendMode.LUMINOSITY, grey, red)
    assert lum[0] == lum[1] == lum[2] == pytest.approx(0.3 * 255, abs=2)
    assert over(BlendMode.SATURATION, red, grey)[:3] == pytest.approx((76, 76, 76), abs=2)
    assert over(BlendMode.HUE, grey, red)[:3] == (128, 128, 128)  # grey has no saturation to keep
    assert over(BlendMode.HUE, red, (0, 0, 255, 255))[:3] == pytest.approx((54, 54, 255), abs=1)


def test_normal_mode_matches_plain_over_bit_for_bit() -> None:
    rng = np.random.default_rng(2)
    layers = [(rng.integers(0, 256, (9, 7, 4), dtype=np.uint8), o) for o in (1.0, 0.3, 0.8)]
    expected = composite_over(layers, 9, 7)
    assert np.array_equal(composite_nodes([LayerNode(p, o) for p, o in layers], 9, 7), expected)


def test_group_isolation_changes_how_modes_see_the_backdrop() -> None:
    back = px((200, 100, 50, 255))
    shade = px((100, 100, 100, 255))
    # Pass-through: the multiply inside the group multiplies the backdrop.
    passing = composite_nodes([LayerNode(back), GroupNode([LayerNode(shade, 1.0, BlendMode.MULTIPLY)])], 1, 1)
    assert tuple(passing[0, 0, :3]) == pytest.approx((78, 39, 20), abs=1)
    # Isolated: inside the group there is no backdrop, so the shade is placed normally.
    isolated = composite_nodes(
        [LayerNode(back), GroupNode([LayerNode(shade, 1.0, BlendMode.MULTIPLY)], isolated=True)], 1, 1
    )
    assert tuple(isolated[0, 0, :3]) == (100, 100, 100)
    # A group at half opacity is composited alone, then blended at 50 %.
    half = composite_nodes([LayerNode(back), GroupNode([LayerNode(shade)], opacity=0.5)], 1, 1)
    assert tuple(half[0, 0, :3]) == pytest.approx((150, 100, 75), abs=1)


def test_document_composite_uses_modes_and_groups() -> None:
    doc = CanvasDocument(2, 2, background=(200, 100, 50))
    shade = doc.add_layer("Shade", np.full((2, 2, 4), (100, 100, 100, 255), dtype=np.uint8))
    doc.set_layer_blend_mode(shade, "svg:multiply")
    assert tuple(doc.composite()[0, 0, :3]) == pytest.approx((78, 39, 20), abs=1)
    group = doc.group_layers([shade])
    assert tuple(doc.composite()[0, 0, :3]) == pytest.approx((78, 39, 20), abs=1)  # pass-through
    doc.set_group_isolated(group.id, True)
    assert tuple(doc.composite()[0, 0, :3]) == (100, 100, 100)
    doc.set_group_visible(group.id, False)
    assert tuple(doc.composite()[0, 0, :3]) == (200, 100, 50)
    doc.history.undo()
    doc.history.undo()
    doc.history.undo()
    doc.history.undo()
    assert tuple(doc.composite()[0, 0, :3]) == (100, 100, 100)


def test_unknown_composite_ops_read_as_normal() -> None:
    assert read_blend_mode("svg:multiply") is BlendMode.MULTIPLY
    assert read_blend_mode("krita:dissolve") is BlendMode.NORMAL
    assert read_blend_mode(None) is BlendMode.NORMAL
    assert BlendMode.COLOR_DODGE.label == "Color dodge"
