"""Generation follows the selection: mode choice, context region, masks, and exact blending."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.generation import (
    GenerateSettings,
    GenerationMode,
    add_generated_layer,
    add_result_layer,
    apply_result,
    blend_region,
    image_request,
    layer_name,
    model_size_for,
    plan_generation,
    plan_variation,
    provenance_for,
)
from studio.canvas.geometry import Rect
from studio.canvas.selection import Selection


def painted_document(width: int = 300, height: int = 200) -> CanvasDocument:
    """A canvas with noisy, partly translucent content on two layers."""
    rng = np.random.default_rng(11)
    doc = CanvasDocument(width, height, background=(240, 230, 220, 255))
    overlay = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    doc.add_layer("Overlay", overlay, opacity=0.7)
    return doc


def generated(plan_size: tuple[int, int], colour: tuple[int, int, int] = (0, 128, 255)) -> np.ndarray:
    width, height = plan_size
    out = np.zeros((height, width, 3), dtype=np.uint8)
    out[:, :] = colour
    return out


@pytest.mark.parametrize(
    ("size", "native", "expected"),
    [
        ((1024, 768), 512, (512, 384)),
        ((100, 300), 512, (168, 512)),
        ((1000, 10), 512, (512, 64)),
        ((50, 50), 1024, (1024, 1024)),
    ],
)
def test_model_size(size: tuple[int, int], native: int, expected: tuple[int, int]) -> None:
    assert model_size_for(*size, native) == expected
    assert all(side % 8 == 0 for side in expected)


def test_bad_native_resolution() -> None:
    with pytest.raises(CanvasError, match="multiple of 8"):
        plan_generation(CanvasDocument(8, 8), None, 500)


def test_no_selection_is_text_to_image_over_the_canvas() -> None:
    doc = painted_document(1024, 768)
    plan = plan_generation(doc, None)
    assert plan.mode is GenerationMode.TEXT_TO_IMAGE
    assert plan.region == Rect(0, 0, 1024, 768) and plan.model_size == (512, 384)
    assert plan.init_image is None and plan.mask is None and not plan.grows_canvas
    layer = add_result_layer(doc, plan, generated(plan.model_size))
    assert (layer.pixels[:, :, 3] == 255).all()
    assert (doc.composite()[:, :, :3] == (0, 128, 255)).all()


def test_selection_over_transparency_is_text_to_image_into_it() -> None:
    doc = CanvasDocument(400, 300)  # fully transparent
    selection = Selection.rectangle(Rect(100, 50, 120, 60))
    plan = plan_generation(doc, selection)
    assert plan.mode is GenerationMode.TEXT_TO_IMAGE
    assert plan.region == Rect(100, 50, 120, 60)
    assert plan.model_size == (512, 256)
    assert plan.init_image is None and plan.mask is None
    assert plan.blend_mask.shape == (60, 120)
    pixels = apply_result(plan, generated(plan.model_size))
    assert pixels.shape == (300, 400, 4)
    assert pixels[:, :100].sum() == 0 and pixels[:50].sum() == 0 and pixels[110:].sum() == 0
    assert tuple(pixels[80, 160]) == (0, 128, 255, 255)


def test_selection_over_content_is_inpaint_with_padded_context() -> None:
    doc = painted_document(300, 200)
    selection = Selection.rectangle(Rect(100, 60, 80, 40))
    plan = plan_generation(doc, selection, 512)
    assert plan.mode is GenerationMode.INPAINT
    # padding = max(32, a quarter of the size) on each side: 32 horizontally (80/4 = 20), 32 vertically
    assert plan.region == Rect(68, 28, 144, 104)
    assert plan.model_size == (512, 368)
    assert plan.init_image is not None and plan.init_image.shape == (368, 512, 3)
    assert plan.mask is not None and plan.mask.shape == (368, 512) and plan.mask.dtype == np.uint8
    assert set(np.unique(plan.mask)) == {0, 255}
    centre = plan.mask[184, 256]
    corner = plan.mask[5, 5]
    assert (centre, corner) == (255, 0)
    assert plan.blend_mask.shape == (104, 144)
    assert plan.init_png() is not None and plan.mask_png() is not None


def test_context_is_clipped_to_the_canvas() -> None:
    doc = painted_document(300, 200)
    plan = plan_generation(doc, Selection.rectangle(Rect(0, 150, 100, 50)))
    assert plan.mode is GenerationMode.INPAINT
    assert plan.region == Rect(0, 118, 132, 82)


def test_large_selection_gets_a_quarter_padding() -> None:
    doc = painted_document(1000, 1000)
    plan = plan_generation(doc, Selection.rectangle(Rect(300, 300, 400, 200)))
    assert plan.region == Rect(200, 250, 600, 300)


def test_outside_the_selection_is_bit_identical_after_inpaint() -> None:
    doc = painted_document(300, 200)
    doc.select_polygon([(120, 40), (230, 70), (200, 170), (90, 150)])
    doc.feather_selection(3)
    before = doc.composite()
    plan = plan_generation(doc, doc.selection, 512)
    assert plan.mode is GenerationMode.INPAINT
    layer = add_result_layer(doc, plan, generated(plan.model_size), provenance={"prompt": "blue", "seed": 1})
    after = doc.composite()
    mask = doc.selection_mask()
    assert mask is not None
    outside = mask == 0
    assert outside.sum() > 0
    assert np.array_equal(after[outside], before[outside])
    assert (layer.pixels[outside] == 0).all()
    # deep inside, the result shows through completely
    assert tuple(after[110, 160]) == (0, 128, 255, 255)
    assert layer.provenance == {"prompt": "blue", "seed": 1}
    # one undo step
    doc.history.undo()
    assert np.array_equal(doc.composite(), before)


def test_blend_mask_feathers_inward_and_not_along_the_canvas_border() -> None:
    doc = painted_document(300, 200)
    plan = plan_generation(doc, Selection.rectangle(Rect(0, 50, 150, 100)), feather=6)
    blend = plan.blend_mask
    region = plan.region
    row = 100 - region.y
    # inner edge at x = 150: a ramp that reaches 0 right at the edge and 1 well inside
    assert blend[row, 150 - region.x] == 0.0
    assert 0.0 < blend[row, 147 - region.x] < 1.0
    assert blend[row, 120 - region.x] == pytest.approx(1.0)
    # the selection touches the left canvas border: no fade there
    assert blend[row, 0 - region.x] == pytest.approx(1.0)
    # zero everywhere the selection is zero
    selected = Selection.rectangle(Rect(0, 50, 150, 100)).mask_for(region)
    assert (blend[selected == 0] == 0).all()


def test_selection_past_the_edge_is_outpaint_and_grows_the_canvas() -> None:
    doc = painted_document(300, 200)
    original = doc.composite()
    selection = Selection.rectangle(Rect(-100, 20, 160, 120))
    doc.set_selection(selection)
    plan = plan_generation(doc, doc.selection, 512)
    assert plan.mode is GenerationMode.OUTPAINT and plan.grows_canvas
    assert plan.canvas_size == (400, 200) and plan.content_offset == (100, 0)
    assert plan.region == Rect(0, 0, 160 + 40, 140 + 32)  # padded by 40 (a quarter) and 32 (the minimum)
    assert plan.mask is not None and plan.init_image is not None
    mask_cols = plan.mask.shape[1]
    assert plan.mask[plan.mask.shape[0] // 2, 2] == 255  # new area: regenerate
    assert plan.mask[2, mask_cols - 3] == 0  # known context above the selection stays

    add_result_layer(doc, plan, generated(plan.model_size))
    assert doc.size == (400, 200)
    after = doc.composite()
    grown_before = np.zeros_like(after)
    grown_before[:, 100:] = original
    sel_mask = doc.selection_mask()
    assert sel_mask is not None and doc.selection is not None
    assert doc.selection.bounds() == Rect(0, 20, 160, 120)
    outside = sel_mask == 0
    assert np.array_equal(after[outside], grown_before[outside])
    assert tuple(after[80, 30]) == (0, 128, 255, 255)
    doc.history.undo()
    assert doc.size == (300, 200) and np.array_equal(doc.composite(), original)


def test_outpaint_up_and_left() -> None:
    doc = painted_document(100, 100)
    plan = plan_generation(doc, Selection.rectangle(Rect(-30, -40, 60, 60)))
    assert plan.mode is GenerationMode.OUTPAINT
    assert plan.canvas_size == (130, 140) and plan.content_offset == (30, 40)
    assert plan.region.x == 0 and plan.region.y == 0


def test_outpaint_too_far_is_refused() -> None:
    doc = painted_document(100, 100)
    with pytest.raises(CanvasError, match="too far past the canvas"):
        plan_generation(doc, Selection.rectangle(Rect(-40_000, 0, 50, 50)))


def test_variation_is_image_to_image_of_the_layer() -> None:
    doc = CanvasDocument(200, 200, background=(255, 255, 255, 255))
    subject = doc.add_layer("Subject")
    with doc.edit_pixels(subject, Rect(50, 40, 100, 60)) as view:
        view[...] = (10, 20, 30, 255)
    doc.set_active_layer(doc.layers[0])
    plan = plan_variation(doc, subject, 0.6)
    assert plan.mode is GenerationMode.IMAGE_TO_IMAGE and plan.strength == 0.6
    assert plan.region == Rect(50, 40, 100, 60) and plan.model_size == (512, 304)
    assert plan.init_image is not None and tuple(plan.init_image[150, 250]) == (10, 20, 30)
    result = add_result_layer(doc, plan, generated(plan.model_size))
    assert doc.index_of(result) == doc.index_of(subject) + 1
    assert result.content_bounds() == Rect(50, 40, 100, 60)
    with pytest.raises(CanvasError, match="strength"):
        plan_variation(doc, subject, 0)
    with pytest.raises(CanvasError, match="empty"):
        plan_variation(doc, doc.add_layer("Blank"), 0.5)


def test_result_after_resize_or_with_bad_pixels_changes_nothing() -> None:
    doc = painted_document(100, 100)
    plan = plan_generation(doc, Selection.rectangle(Rect(10, 10, 30, 30)))
    steps = doc.history.undo_steps
    with pytest.raises(CanvasError, match="RGB"):
        add_result_layer(doc, plan, np.zeros((64, 64), dtype=np.uint8))
    with pytest.raises(CanvasError, match="8-bit"):
        add_result_layer(doc, plan, np.zeros((64, 64, 3), dtype=np.float32))
    doc.resize_canvas(120, 100)
    with pytest.raises(CanvasError, match="resized while the image was generating"):
        add_result_layer(doc, plan, generated(plan.model_size))
    assert doc.history.undo_steps == steps + 1 and len(doc.layers) == 2


def test_result_of_another_size_is_scaled_to_the_region() -> None:
    doc = painted_document(100, 100)
    plan = plan_generation(doc, None)
    pixels = apply_result(plan, generated((77, 33)))
    assert pixels.shape == (100, 100, 4) and (pixels[:, :, 3] == 255).all()


def test_previews_and_results_blend_alike() -> None:
    doc = painted_document(120, 90)
    doc.select_polygon([(20, 10), (100, 20), (80, 80)])
    plan = plan_generation(doc, doc.selection, 64)
    rgb = np.random.default_rng(5).integers(0, 256, (*plan.model_size[::-1], 3), dtype=np.uint8)
    region = blend_region(plan, rgb)
    assert region.shape == (plan.region.height, plan.region.width, 4)
    assert np.array_equal(apply_result(plan, rgb)[plan.region.slices], region)
    assert (region[region[:, :, 3] == 0] == 0).all()


def test_one_request_builder_takes_geometry_from_the_plan() -> None:
    doc = painted_document(200, 100)
    doc.select_rect(Rect(40, 20, 60, 40))
    settings = GenerateSettings(
        prompt="a boat",
        negative_prompt="fog",
        steps=3,
        guidance=4.5,
        seed=11,
        scheduler="lcm",
        num_candidates=2,
        strength=0.4,
        resolution=0,
        model_path="/models/m.safetensors",
    )
    plan = plan_generation(doc, doc.selection, 256, strength=0.8)
    request = image_request(plan, settings, preview_every=0, preview_kind="none")
    assert request.problem() is None
    assert (request.mode, (request.width, request.height)) == ("inpaint", plan.model_size)
    assert (request.prompt, request.negative_prompt, request.steps, request.guidance) == (
        "a boat",
        "fog",
        3,
        4.5,
    )
    assert (request.seed, request.scheduler, request.num_candidates) == (11, "lcm", 2)
    assert (request.strength, request.preview_every, request.preview_kind) == (0.8, 0, "none")
    assert request.model_path == "/models/m.safetensors"
    assert request.init_image == plan.init_png() and request.mask_image == plan.mask_png()
    assert plan.mask is not None
    with Image.open(io.BytesIO(request.mask_image or b"")) as mask:
        assert mask.size == plan.model_size and np.array_equal(np.asarray(mask), plan.mask)

    txt2img = image_request(plan_generation(doc, None, 256, strength=0.8), settings)
    assert (txt2img.mode, txt2img.init_image, txt2img.mask_image, txt2img.strength) == (
        "txt2img",
        None,
        None,
        1.0,
    )
    variation = image_request(plan_variation(doc, doc.active_layer, settings.strength, 256), settings)
    assert (variation.mode, variation.strength, variation.mask_image) == ("img2img", 0.4, None)
    with pytest.raises(CanvasError, match="Inpainting strength"):
        plan_generation(doc, doc.selection, strength=0)


def test_generated_layer_is_named_and_marked_from_the_engine_parameters() -> None:
    doc = painted_document(64, 64)
    doc.select_rect(Rect(8, 8, 24, 24))
    plan = plan_generation(doc, doc.selection, 64, strength=0.6)
    params = {
        "prompt": "a  red\n door",
        "seed": 4,
        "steps": 2,
        "cfg": 7.0,
        "mode": "inpaint",
        "strength": 0.6,
    }
    layer = add_generated_layer(doc, plan, generated(plan.model_size), params)
    assert layer.name == "a red door (4)"
    assert layer.provenance == provenance_for(params)
    assert layer.provenance["ai_generated"] is True and layer.provenance["parameters"]["mode"] == "inpaint"
    assert layer_name("", None) == "Generated"
