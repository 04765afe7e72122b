"""Live mode's planning: the selection (or the whole canvas) of the composited visible image, one fast job."""

from __future__ import annotations

import numpy as np
import pytest

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.generation import (
    GenerateSettings,
    GenerationMode,
    add_generated_layer,
    blend_region,
    live_request,
    plan_live,
)
from studio.canvas.geometry import Rect
from studio.canvas.imaging import flatten_rgb, resize_pixels


def two_layer_document(width: int = 200, height: int = 120) -> CanvasDocument:
    """A red background with a half-transparent blue layer over its right half, a hidden green layer, and
    the (empty) top layer active: what the user sees is neither layer alone."""
    doc = CanvasDocument(width, height, background=(200, 0, 0, 255))
    blue = np.zeros((height, width, 4), dtype=np.uint8)
    blue[:, width // 2 :] = (0, 0, 255, 128)
    doc.add_layer("Blue", blue)
    hidden = np.zeros((height, width, 4), dtype=np.uint8)
    hidden[:, :] = (0, 255, 0, 255)
    doc.add_layer("Hidden", hidden, visible=False)
    doc.add_layer("Empty")
    return doc


def settings(**changes: object) -> GenerateSettings:
    values: dict[str, object] = {
        "prompt": "a harbour",
        "negative_prompt": "",
        "steps": 4,
        "guidance": 1.5,
        "seed": 3,
        "scheduler": "lcm",
        "num_candidates": 4,
        "strength": 0.5,
        "resolution": 0,
        "model_path": "/models/m.safetensors",
    }
    values.update(changes)
    return GenerateSettings(**values)  # type: ignore[arg-type]


def test_without_selection_live_takes_the_whole_visible_canvas() -> None:
    doc = two_layer_document()
    plan = plan_live(doc, 0.4, 256)
    assert plan.mode is GenerationMode.IMAGE_TO_IMAGE and plan.strength == 0.4
    assert plan.region == doc.bounds and plan.model_size == (256, 152)
    assert plan.canvas_size == plan.source_size == doc.size and not plan.grows_canvas
    assert plan.mask is None and plan.source_layer_id is None
    assert plan.blend_mask.shape == (120, 200) and (plan.blend_mask == 1.0).all()
    expected = resize_pixels(flatten_rgb(doc.composite()), plan.model_size)
    assert plan.init_image is not None and np.array_equal(plan.init_image, expected)
    # the composite: red on the left, red under half-transparent blue on the right; never the hidden green
    left, right = plan.init_image[76, 20], plan.init_image[76, 236]
    assert tuple(left) == (200, 0, 0)
    assert right[0] < 150 and right[2] > 100 and right[1] == 0


def test_with_a_selection_live_takes_its_bounds_and_blends_through_it() -> None:
    doc = two_layer_document()
    doc.select_polygon([(60, 20), (160, 30), (120, 100)])
    selection = doc.selection
    assert selection is not None
    bounds = selection.bounds()
    assert bounds is not None
    plan = plan_live(doc, 0.7, 128)
    assert plan.region == bounds and plan.strength == 0.7
    assert max(plan.model_size) == 128
    assert plan.blend_mask.shape == (bounds.height, bounds.width)
    # the blend mask is the selection feathered inward: zero wherever the selection is zero
    assert (plan.blend_mask[selection.mask_for(bounds) == 0] == 0).all()
    assert plan.blend_mask.max() == pytest.approx(1.0)
    expected = resize_pixels(flatten_rgb(doc.composite(bounds)), plan.model_size)
    assert plan.init_image is not None and np.array_equal(plan.init_image, expected)


def test_applying_a_live_result_changes_only_the_selection() -> None:
    doc = two_layer_document()
    doc.select_rect(Rect(30, 20, 64, 48))
    before = doc.composite()
    plan = plan_live(doc, 0.5, 64)
    rgb = np.zeros((plan.model_size[1], plan.model_size[0], 3), dtype=np.uint8)
    rgb[:, :] = (10, 200, 30)
    preview = blend_region(plan, rgb)
    assert preview.shape == (48, 64, 4)
    layer = add_generated_layer(doc, plan, rgb, {"prompt": "moss", "seed": 5, "strength": 0.5})
    after = doc.composite()
    outside = np.ones(doc.size[::-1], dtype=bool)
    outside[20:68, 30:94] = False
    assert np.array_equal(after[outside], before[outside])
    assert tuple(after[44, 62]) == (10, 200, 30, 255)  # deep inside the selection
    assert layer.name == "moss (5)" and layer.provenance is not None
    assert layer.provenance["parameters"]["strength"] == 0.5
    doc.history.undo()
    assert np.array_equal(doc.composite(), before)


def test_live_refuses_a_selection_off_the_canvas_and_a_bad_strength() -> None:
    doc = two_layer_document(100, 100)
    doc.select_rect(Rect(150, 150, 20, 20))
    with pytest.raises(CanvasError, match="outside the canvas"):
        plan_live(doc, 0.5, 64)
    doc.set_selection(None)
    with pytest.raises(CanvasError, match="Live strength"):
        plan_live(doc, 0.0, 64)
    with pytest.raises(CanvasError, match="model resolution"):
        plan_live(doc, 0.5, 100)


def test_live_request_is_one_fast_candidate_with_step_previews() -> None:
    doc = two_layer_document()
    doc.select_rect(Rect(10, 10, 80, 40))
    plan = plan_live(doc, 0.6, 128)
    request = live_request(plan, settings(num_candidates=4, fast_decode=False))
    assert request.problem() is None
    assert (request.mode, request.strength, (request.width, request.height)) == (
        "img2img",
        0.6,
        plan.model_size,
    )
    assert (request.num_candidates, request.fast_decode) == (1, True)
    assert (request.preview_every, request.preview_kind) == (1, "taesd")
    assert (request.prompt, request.steps, request.seed, request.scheduler) == ("a harbour", 4, 3, "lcm")
    assert request.init_image == plan.init_png() and request.mask_image is None
