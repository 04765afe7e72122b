"""Upscale ×2 (SD upscale) in the diffusion engine (engine process only; imports torch through the engine).

One job, one path: resize the image, then image-to-image every tile of :func:`studio.canvas.upscale.plan_tiles`
at a low strength with the loaded model (and LoRAs), blending the tiles with feathered weights
(:class:`~studio.canvas.upscale.TileBlender`). Progress covers all tiles; after each tile a preview of the
image so far is sent. A cancel stops inside the running tile's next step (the engine's pipeline callback
raises) and the job ends ``cancelled`` without an image.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator
from typing import Any, Protocol

import numpy as np
from PIL import Image

from studio.canvas.errors import ImageLoadError
from studio.canvas.image_io import encode_png, load_image
from studio.canvas.upscale import TileBlender, plan_tiles
from studio.engines import protocol
from studio.engines.diffusion_lora import apply_loras
from studio.engines.image_requests import GenerationMode, ImageRequest, format_parameters
from studio.engines.protocol import (
    CancelToken,
    EngineError,
    EngineEvent,
    EventKind,
    JobCancelled,
    StartInfo,
    StepInfo,
)
from studio.engines.results import ImageResult
from studio.engines.upscale_requests import UpscaleRequest


class UpscaleEngine(Protocol):
    """What the upscale job uses of :class:`~studio.engines.diffusion.DiffusionEngine` (typed here, so this module
    never imports the engine's: the engine imports this one)."""

    def _model_for(self, request: ImageRequest) -> Any: ...

    def _pipeline_for(self, model: Any, mode: GenerationMode) -> Any: ...

    def _set_scheduler(self, pipe: Any, model: Any, request: ImageRequest) -> tuple[str, float]: ...

    def _call_arguments(
        self,
        request: ImageRequest,
        model: Any,
        init: Image.Image | None,
        mask: Image.Image | None,
        width: int,
        height: int,
        guidance: float,
        seed: int,
    ) -> dict[str, Any]: ...

    def _run_pipeline(
        self,
        pipe: Any,
        arguments: dict[str, Any],
        request: ImageRequest,
        model: Any,
        cancel: CancelToken,
        candidate: int,
    ) -> Generator[EngineEvent, None, Image.Image]: ...


MAX_OUTPUT_SIDE = 8192


def run_upscale(engine: UpscaleEngine, request: UpscaleRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
    """Serve one :class:`UpscaleRequest` on ``engine``'s loaded model; ends with ``result`` or ``cancelled``."""
    job = request.job_id
    problem = request.problem()
    if problem is not None:
        raise EngineError(problem[0].upper() + problem[1:] + ".")
    try:
        source = Image.fromarray(load_image(request.image)[:, :, :3], "RGB")
    except ImageLoadError as exc:
        raise EngineError(f"The image to upscale could not be read as an image: {exc}") from exc
    width, height = source.width * request.scale, source.height * request.scale
    if max(width, height) > MAX_OUTPUT_SIDE:
        raise EngineError(
            f"The upscaled image would be {width}×{height}: at most {MAX_OUTPUT_SIDE} px a side."
        )
    try:
        tiles = plan_tiles(width, height, request.tile, request.overlap)
    except ValueError as exc:
        raise EngineError(str(exc)[0].upper() + str(exc)[1:] + ".") from exc
    probe = request.tile_request(request.image, *tiles[0].size)
    model = engine._model_for(probe)
    yield protocol.started(job, StartInfo(image_mode="upscale", candidates=1))
    lora_params = apply_loras(model.pipe, request.loras)
    enlarged = source.resize((width, height), Image.Resampling.LANCZOS)
    pipe = engine._pipeline_for(model, GenerationMode.IMAGE_TO_IMAGE)
    sampler, guidance = engine._set_scheduler(pipe, model, probe)
    seed = request.seed if request.seed >= 0 else secrets.randbelow(2**32)
    blender = TileBlender(width, height)
    background = np.asarray(enlarged)
    count = len(tiles)
    for index, tile in enumerate(tiles):
        if cancel.is_cancelled:
            yield protocol.cancelled(job)
            return
        crop = enlarged.crop(tile.box)
        tile_width, tile_height = tile.size
        tile_job = request.tile_request(b"", tile_width, tile_height)
        arguments = engine._call_arguments(
            tile_job, model, crop, None, tile_width, tile_height, guidance, seed
        )
        steps = engine._run_pipeline(pipe, arguments, tile_job, model, cancel, 0)
        try:
            while True:
                event = next(steps)
                if event.kind is EventKind.PROGRESS:
                    step = event.step or StepInfo()
                    fraction = (index + (event.progress or 0.0)) / count
                    message = f"tile {index + 1}/{count}, step {step.step}/{step.steps}"
                    yield protocol.progress(job, fraction, message, StepInfo(step.step, step.steps, 0))
        except StopIteration as done:
            image: Image.Image = done.value
        except JobCancelled:
            yield protocol.cancelled(job)
            return
        finally:
            steps.close()  # a job closed while a tile runs stops that tile's worker thread
        if image.size != (tile_width, tile_height):
            image = image.resize((tile_width, tile_height), Image.Resampling.LANCZOS)
        blender.add(tile, np.asarray(image.convert("RGB")))
        so_far = encode_png(blender.result(background))
        yield protocol.preview(job, so_far, (index + 1) / count, StepInfo(index + 1, count, 0))
    png = encode_png(blender.result(background))
    params = model.candidate_parameters(
        probe,
        guidance=guidance,
        seed=seed,
        size=(width, height),
        sampler=sampler,
        decode="vae",
        loras=lora_params,
    )
    params.update(upscale=request.scale, tiles=count)
    extra = {
        "Upscale": f"SD upscale ×{request.scale}, {count} tiles of {tiles[0].size[0]}x{tiles[0].size[1]}"
    }
    result = ImageResult((png,), (params,), format_parameters(params, extra))
    yield protocol.result(job, result, text=f"Upscaled to {width}×{height}", image=png)


__all__ = ["MAX_OUTPUT_SIDE", "run_upscale"]
