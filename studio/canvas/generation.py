"""Generation geometry: "generate follows the selection".

:func:`plan_generation` decides what a Generate click does from the selection and the canvas:

* nothing selected → text-to-image over the whole canvas;
* a selection over fully transparent pixels → text-to-image into the selection;
* a selection over content → inpaint;
* a selection reaching past the canvas edge → outpaint (the canvas grows to contain it).

The model sees a *context region*: the selection's bounds padded by a quarter of their size (at least
32 px), clipped to the (grown) canvas and scaled so its long side is the model's native resolution, both
sides multiples of 8. :func:`apply_result` scales the model's output back and blends it through a mask
feathered *inward* and clipped to the selection, so composite pixels outside the selection stay bit for bit
as they were. :func:`add_result_layer` puts that on a new layer as one undo step.

This is the one path of a generation job, shared by the canvas (``GenerationController``) and ``studio
image``: :func:`image_request` turns a plan and the user's :class:`GenerateSettings` into the engine
request (:func:`plan_live` plans Live mode's jobs), :func:`blend_region` / :func:`apply_result` blend what
the engine made (previews too), and :func:`add_generated_layer` adds a result as a layer named and marked
from the engine's parameters.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

import studio
from studio.canvas.document import CanvasDocument, Layer, LayerRef, check_canvas_size
from studio.canvas.errors import CanvasError
from studio.canvas.generation_log import GenerationRecord
from studio.canvas.geometry import Rect
from studio.canvas.image_io import encode_png
from studio.canvas.imaging import blur_mask, check_rgb, flatten_rgb, resize_mask, resize_pixels
from studio.canvas.png_metadata import GenerationInfo
from studio.canvas.selection import Selection
from studio.engines.image_requests import GenerationMode, ImageRequest
from studio.engines.protocol import new_job_id

DEFAULT_NATIVE_RESOLUTION = 512
MIN_MODEL_SIDE = 64
DEFAULT_FEATHER = 8.0
CONTEXT_FRACTION = 0.25
MIN_CONTEXT = 32
MAX_NAME_PROMPT = 40


@dataclass(frozen=True, eq=False)
class GenerationPlan:
    """What to generate and where the result goes.

    ``region`` is in the coordinates of the canvas *after* any growth (``canvas_size``); the old content
    sits at ``content_offset`` there. ``init_image`` (``h×w×3``) and ``mask`` (``h×w`` ``uint8``, 255 =
    regenerate) have the model size ``(w, h)``; ``blend_mask`` (``float32`` 0..1) has the region size.
    """

    mode: GenerationMode
    source_size: tuple[int, int]
    canvas_size: tuple[int, int]
    content_offset: tuple[int, int]
    region: Rect
    model_size: tuple[int, int]
    init_image: np.ndarray | None
    mask: np.ndarray | None
    blend_mask: np.ndarray
    strength: float = 1.0
    source_layer_id: str | None = None

    @property
    def grows_canvas(self) -> bool:
        """True when the canvas must be resized before the result is applied (outpainting)."""
        return self.canvas_size != self.source_size or self.content_offset != (0, 0)

    def init_png(self) -> bytes | None:
        """The init image as PNG bytes (for an engine request), or None for text-to-image."""
        return None if self.init_image is None else encode_png(self.init_image)

    def mask_png(self) -> bytes | None:
        """The inpainting mask as a greyscale PNG (white = regenerate), or None."""
        if self.mask is None:
            return None
        buffer = io.BytesIO()
        Image.fromarray(self.mask).save(buffer, format="PNG")
        return buffer.getvalue()


@dataclass(frozen=True)
class GenerateSettings:
    """What the user asked for (the Generate panel's fields, or ``studio image``'s options): ``seed`` -1
    for a random seed, ``resolution`` 0 for the model's native size; ``strength`` is Vary's."""

    prompt: str
    negative_prompt: str
    steps: int
    guidance: float
    seed: int
    scheduler: str
    num_candidates: int
    strength: float
    resolution: int
    model_path: str
    fast_decode: bool = False
    """Decode with the model's TAESD (fast, for drafts and Live mode) when it has one."""
    loras: tuple[tuple[str, float], ...] = ()
    """LoRA files and weights, shared by every mode."""


def image_request(
    plan: GenerationPlan,
    settings: GenerateSettings,
    *,
    preview_every: int = 1,
    preview_kind: str = "latent",
) -> ImageRequest:
    """The engine request that makes ``plan`` with ``settings``: its mode, model size, init image, mask
    and strength come from the plan. Check it with :meth:`ImageRequest.problem` before submitting."""
    return settings_request(
        settings,
        plan.model_size,
        mode=plan.mode,
        init_image=plan.init_png(),
        mask_image=plan.mask_png(),
        strength=plan.strength,
        preview_every=preview_every,
        preview_kind=preview_kind,
    )


def live_request(plan: GenerationPlan, settings: GenerateSettings) -> ImageRequest:
    """The engine request of a Live-mode job: :func:`image_request` with one candidate, fast decode (TAESD
    when the model has one; the engine falls back to its VAE and says so) and a preview every step (TAESD
    previews, else the latent projection)."""
    live_settings = replace(settings, num_candidates=1, fast_decode=True)
    return image_request(plan, live_settings, preview_every=1, preview_kind="taesd")


def settings_request(
    settings: GenerateSettings,
    model_size: tuple[int, int],
    *,
    mode: GenerationMode = GenerationMode.TEXT_TO_IMAGE,
    init_image: bytes | None = None,
    mask_image: bytes | None = None,
    strength: float = 1.0,
    preview_every: int = 1,
    preview_kind: str = "latent",
) -> ImageRequest:
    """The one place the Generate settings (prompt, sampling, model, LoRAs, decode) become an engine request,
    here of ``model_size`` pixels; :func:`image_request` adds a canvas plan's mode, images and strength."""
    width, height = model_size
    return ImageRequest(
        new_job_id(),
        mode=mode,
        prompt=settings.prompt,
        negative_prompt=settings.negative_prompt,
        steps=settings.steps,
        guidance=settings.guidance,
        seed=settings.seed,
        width=width,
        height=height,
        scheduler=settings.scheduler,
        num_candidates=settings.num_candidates,
        init_image=init_image,
        mask_image=mask_image,
        strength=strength,
        preview_every=preview_every,
        preview_kind=preview_kind,
        model_path=settings.model_path,
        fast_decode=settings.fast_decode,
        loras=settings.loras,
    )


def model_size_for(
    width: int, height: int, native_resolution: int = DEFAULT_NATIVE_RESOLUTION
) -> tuple[int, int]:
    """Model image size for a ``width``×``height`` region: long side = ``native_resolution``, both sides
    multiples of 8 and at least 64."""
    _check_native(native_resolution)
    if width < 1 or height < 1:
        raise CanvasError("The area to generate is empty")
    scale = native_resolution / max(width, height)
    return (
        max(MIN_MODEL_SIDE, round(width * scale / 8) * 8),
        max(MIN_MODEL_SIDE, round(height * scale / 8) * 8),
    )


def context_region(bounds: Rect, canvas: Rect) -> Rect:
    """``bounds`` padded by a quarter of its size (at least 32 px) on each side, clipped to ``canvas``."""
    pad_x = max(MIN_CONTEXT, math.ceil(bounds.width * CONTEXT_FRACTION))
    pad_y = max(MIN_CONTEXT, math.ceil(bounds.height * CONTEXT_FRACTION))
    return bounds.padded(pad_x, pad_y).intersected(canvas)


def inward_blend_mask(selection: Selection, region: Rect, canvas: Rect, feather: float) -> np.ndarray:
    """The selection over ``region``, its edge feathered *inward* by about ``feather`` px: exactly 0 wherever
    the selection is 0. Edges on the canvas border are not feathered (nothing lies beyond them)."""
    selected = selection.mask_for(region)
    bounds = selection.bounds()
    if bounds is None:
        return selected
    bounds = bounds.intersected(canvas)
    radius = min(feather, min(bounds.width, bounds.height) / 6.0)
    if radius < 0.5:
        return selected
    margin = math.ceil(radius * 3) + 2
    padded = region.padded(margin)
    inside = padded.intersected(canvas)
    hard = (selection.mask_for(inside) > 0).astype(np.float32)
    hard = np.pad(
        hard,
        (
            (inside.y - padded.y, padded.bottom - inside.bottom),
            (inside.x - padded.x, padded.right - inside.right),
        ),
        mode="edge",
    )
    ramp = np.clip(2.0 * blur_mask(hard, radius) - 1.0, 0.0, 1.0)
    ramp = ramp[margin : margin + region.height, margin : margin + region.width]
    return np.minimum(ramp, selected).astype(np.float32)


def plan_generation(
    document: CanvasDocument,
    selection: Selection | None,
    native_resolution: int = DEFAULT_NATIVE_RESOLUTION,
    *,
    feather: float = DEFAULT_FEATHER,
    strength: float = 1.0,
) -> GenerationPlan:
    """Plan a Generate click for ``selection`` (usually ``document.selection``); see the module docs.
    ``strength``: how much inpainting and outpainting change the selected pixels (1: entirely)."""
    _check_native(native_resolution)
    _check_strength(strength, "Inpainting strength")
    if not math.isfinite(feather) or feather < 0:
        raise CanvasError("The blend feather must be zero or more")
    size = document.size
    canvas = document.bounds
    if selection is None or selection.is_empty:
        return GenerationPlan(
            mode=GenerationMode.TEXT_TO_IMAGE,
            source_size=size,
            canvas_size=size,
            content_offset=(0, 0),
            region=canvas,
            model_size=model_size_for(*size, native_resolution),
            init_image=None,
            mask=None,
            blend_mask=np.ones((size[1], size[0]), dtype=np.float32),
        )
    bounds = selection.bounds()
    assert bounds is not None
    if canvas.contains(bounds):
        offset = (0, 0)
        target = canvas
        under = document.composite(bounds)[:, :, 3][selection.mask_for(bounds) > 0]
        mode = GenerationMode.INPAINT if bool(under.any()) else GenerationMode.TEXT_TO_IMAGE
    else:
        grown = canvas.united(bounds)
        try:
            check_canvas_size(grown.width, grown.height)
        except CanvasError as exc:
            raise CanvasError(f"The selection reaches too far past the canvas: {exc}") from None
        offset = (-grown.x, -grown.y)
        target = Rect(0, 0, grown.width, grown.height)
        mode = GenerationMode.OUTPAINT
    selection = selection.translated(*offset)
    selected_bounds = bounds.translated(*offset)
    region = (
        selected_bounds if mode is GenerationMode.TEXT_TO_IMAGE else context_region(selected_bounds, target)
    )
    model_size = model_size_for(region.width, region.height, native_resolution)
    init_image = mask = None
    if mode is not GenerationMode.TEXT_TO_IMAGE:
        rgba = document.composite(region.translated(-offset[0], -offset[1]))
        init_image = resize_pixels(flatten_rgb(rgba), model_size)
        # Unknown (transparent) context is regenerated too, so the model does not continue the grey fill.
        regenerate = (selection.mask_for(region) > 0) | (rgba[:, :, 3] == 0)
        mask = np.where(resize_mask(regenerate.astype(np.float32), model_size) > 0, 255, 0).astype(np.uint8)
    return GenerationPlan(
        mode=mode,
        source_size=size,
        canvas_size=target.size,
        content_offset=offset,
        region=region,
        model_size=model_size,
        init_image=init_image,
        mask=mask,
        blend_mask=inward_blend_mask(selection, region, target, feather),
        strength=1.0 if mode is GenerationMode.TEXT_TO_IMAGE else float(strength),
    )


def plan_variation(
    document: CanvasDocument,
    layer: LayerRef,
    strength: float,
    native_resolution: int = DEFAULT_NATIVE_RESOLUTION,
) -> GenerationPlan:
    """Plan an image-to-image variation of a layer's content; the result keeps the layer's shape (alpha)."""
    _check_native(native_resolution)
    _check_strength(strength, "Variation strength")
    source = document.layer(layer)
    region = source.content_bounds()
    if region is None:
        raise CanvasError(f"The layer “{source.name}” is empty; there is nothing to vary")
    rgba = source.pixels[region.slices]
    blend_mask = rgba[:, :, 3].astype(np.float32) / np.float32(255.0)
    return _image_to_image_plan(document, region, rgba, blend_mask, strength, native_resolution, source.id)


def plan_live(
    document: CanvasDocument,
    strength: float,
    native_resolution: int = DEFAULT_NATIVE_RESOLUTION,
    *,
    feather: float = DEFAULT_FEATHER,
) -> GenerationPlan:
    """Plan a Live-mode image-to-image job from what the user sees: the composited visible canvas over the
    selection's bounds (the selection, feathered inward, is the blend mask) or, with no selection, over the
    whole canvas. Raises :class:`CanvasError` when the selection lies entirely off the canvas."""
    _check_native(native_resolution)
    _check_strength(strength, "Live strength")
    canvas = document.bounds
    selection = document.selection
    bounds = None if selection is None or selection.is_empty else selection.bounds()
    if selection is None or bounds is None:
        region = canvas
        blend_mask = np.ones((canvas.height, canvas.width), dtype=np.float32)
    else:
        region = bounds.intersected(canvas)
        if region.is_empty:
            raise CanvasError("The selection lies outside the canvas; select part of the image")
        blend_mask = inward_blend_mask(selection, region, canvas, feather)
    return _image_to_image_plan(
        document, region, document.composite(region), blend_mask, strength, native_resolution
    )


def _image_to_image_plan(
    document: CanvasDocument,
    region: Rect,
    rgba: np.ndarray,
    blend_mask: np.ndarray,
    strength: float,
    native_resolution: int,
    source_layer_id: str | None = None,
) -> GenerationPlan:
    """An image-to-image plan over ``region`` of ``document`` from its pixels ``rgba``, blended back with
    ``blend_mask`` (and above ``source_layer_id``'s layer when given)."""
    model_size = model_size_for(region.width, region.height, native_resolution)
    return GenerationPlan(
        mode=GenerationMode.IMAGE_TO_IMAGE,
        source_size=document.size,
        canvas_size=document.size,
        content_offset=(0, 0),
        region=region,
        model_size=model_size,
        init_image=resize_pixels(flatten_rgb(rgba), model_size),
        mask=None,
        blend_mask=blend_mask,
        strength=float(strength),
        source_layer_id=source_layer_id,
    )


def blend_region(plan: GenerationPlan, generated: np.ndarray) -> np.ndarray:
    """The model output scaled to the plan's region (``H×W×4``, region size) with the blend mask as alpha:
    exactly what applying the result puts there, and what a preview shows."""
    rgb = check_rgb(generated, "The generated image")
    out = np.empty((plan.region.height, plan.region.width, 4), dtype=np.uint8)
    out[:, :, :3] = resize_pixels(rgb, plan.region.size)
    out[:, :, 3] = np.clip(np.rint(plan.blend_mask * 255.0), 0, 255).astype(np.uint8)
    out[out[:, :, 3] == 0] = 0
    return out


def apply_result(plan: GenerationPlan, generated: np.ndarray) -> np.ndarray:
    """Full-canvas layer pixels (``canvas_size``) holding :func:`blend_region` in the region; alpha is
    exactly 0 wherever the blend mask is 0."""
    width, height = plan.canvas_size
    out = np.zeros((height, width, 4), dtype=np.uint8)
    out[plan.region.slices] = blend_region(plan, generated)
    return out


_DEFAULT_NAMES = {
    GenerationMode.TEXT_TO_IMAGE: "Generated",
    GenerationMode.IMAGE_TO_IMAGE: "Variation",
    GenerationMode.INPAINT: "Inpainted",
    GenerationMode.OUTPAINT: "Outpainted",
}


def add_result_layer(
    document: CanvasDocument,
    plan: GenerationPlan,
    generated: np.ndarray,
    *,
    name: str | None = None,
    provenance: dict[str, object] | None = None,
) -> Layer:
    """Grow the canvas if the plan says so and add the result as a new layer (above the varied layer, or
    the active one): one undo step. Raises :class:`CanvasError` (changing nothing) when the canvas was
    resized since planning or the image is not RGB."""
    if document.size != plan.source_size:
        raise CanvasError("The canvas was resized while the image was generating; generate again")
    pixels = apply_result(plan, generated)
    index = None
    if plan.source_layer_id is not None:
        try:
            index = document.index_of(plan.source_layer_id) + 1
        except CanvasError:
            index = None
    with document.history.group(_DEFAULT_NAMES[plan.mode]):
        if plan.grows_canvas:
            document.resize_canvas(*plan.canvas_size, offset=plan.content_offset)
        return document.add_layer(
            name or _DEFAULT_NAMES[plan.mode], pixels, index=index, provenance=dict(provenance or {}) or None
        )


def layer_name(prompt: str, seed: int | None, limit: int = MAX_NAME_PROMPT) -> str:
    """``"{prompt} ({seed})"`` with the prompt on one line and shortened to ``limit`` characters."""
    text = " ".join(prompt.split()) or "Generated"
    if len(text) > limit:
        text = text[: limit - 1].rstrip(" ,;:.") + "…"
    return f"{text} ({seed})" if seed is not None else text


def provenance_for(params: Mapping[str, Any]) -> dict[str, Any]:
    """The layer provenance of an engine result's parameters: prompt, seed, model, parameters and
    ``ai_generated``."""
    provenance = GenerationInfo.from_settings(params).to_provenance()
    extra = {key: params.get(key) for key in ("scheduler", "mode", "strength", "model_family")}
    provenance["parameters"].update({key: value for key, value in extra.items() if value is not None})
    provenance["ai_generated"] = True
    provenance["software"] = f"Studio {studio.__version__}"
    return provenance


def add_generated_layer(
    document: CanvasDocument, plan: GenerationPlan, generated: np.ndarray, params: Mapping[str, Any]
) -> Layer:
    """:func:`add_result_layer` for an engine result with its parameters (``prompt``, ``seed``…): the
    layer is named ``"{prompt} ({seed})"`` and carries :func:`provenance_for` (one undo step); the result
    is recorded in the document's :attr:`~CanvasDocument.generation_log`."""
    seed = params.get("seed")
    layer = add_result_layer(
        document,
        plan,
        generated,
        name=layer_name(str(params.get("prompt") or ""), seed if isinstance(seed, int) else None),
        provenance=provenance_for(params),
    )
    document.generation_log.add(
        GenerationRecord(
            parameters=dict(params),
            image=blend_region(plan, generated),
            region=plan.region,
            canvas_size=plan.canvas_size,
            layer_name=layer.name,
            layer_id=layer.id,
        )
    )
    return layer


def reapply_record(document: CanvasDocument, record: GenerationRecord) -> Layer:
    """Add a recorded result again as a new layer, where it was made (cut to the canvas as it is now), with
    its provenance; one undo step."""
    target = record.region.intersected(document.bounds)
    if target.is_empty:
        raise CanvasError("That generation lies outside the canvas as it is now")
    pixels = np.zeros((document.height, document.width, 4), dtype=np.uint8)
    pixels[target.slices] = record.image[target.translated(-record.region.x, -record.region.y).slices]
    name = record.layer_name or layer_name(record.prompt, record.seed)
    with document.history.group("Re-apply generation"):
        return document.add_layer(name, pixels, provenance=provenance_for(record.parameters))


def _check_strength(strength: float, what: str) -> None:
    if not isinstance(strength, int | float) or not math.isfinite(strength) or not 0.0 < strength <= 1.0:
        raise CanvasError(f"{what} must be above 0 and at most 1, not {strength}")


def _check_native(native_resolution: int) -> None:
    if (
        not isinstance(native_resolution, int)
        or isinstance(native_resolution, bool)
        or native_resolution < MIN_MODEL_SIDE
        or native_resolution > 4096
        or native_resolution % 8
    ):
        raise CanvasError(
            f"The model resolution must be a multiple of 8 from 64 to 4096, not {native_resolution}"
        )
