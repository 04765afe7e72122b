"""The diffusion engine (runs only in the diffusion engine process; imports torch and diffusers).

Serves txt2img, img2img, inpaint and outpaint from one set of weights (the mode pipelines are made with
``from_pipe`` and share every module); loading lives in :mod:`~studio.engines.diffusion_loading`, hashing in
:mod:`~studio.engines.model_hash`, previews in :mod:`~studio.engines.diffusion_previews`, the scheduler
table in :mod:`~studio.engines.schedulers` and the speed choices (precision, prompt cache, fast decode) in
:mod:`~studio.engines.diffusion_precision`. Each step sends a progress event and, by default, a cheap
preview. The pipeline runs on a helper thread so events stream while it works; cancelling raises from
``callback_on_step_end``, so a job stops within one step and skips the VAE decode. Errors are raised, and
the host (:func:`studio.engines.host.run_job`) turns them into ``error`` / ``cancelled`` events.
"""

from __future__ import annotations

import contextlib
import gc
import io
import queue
import secrets
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter, UnidentifiedImageError

from studio.canvas.image_io import encode_png
from studio.cpu import default_threads
from studio.engines import protocol
from studio.engines.diffusion_loading import (
    LoadedModel,
    attach_taesd,
    load_model,
    model_key,
    quiet_libraries,
    requested_precision,
    wrap_pipeline,
)
from studio.engines.diffusion_lora import apply_loras
from studio.engines.diffusion_precision import (
    FULL_DECODE,
    DecodeChoice,
    PromptCache,
    apply_module_precision,
    apply_precision,
    choose_decode,
    decode_latents_with_taesd,
)
from studio.engines.diffusion_previews import PreviewPlan
from studio.engines.image_requests import (
    GenerationMode,
    ImageRequest,
    LoadPipelineRequest,
    UnloadPipelineRequest,
    format_parameters,
)
from studio.engines.protocol import (
    CancelToken,
    EngineError,
    EngineEvent,
    EngineRequest,
    JobCancelled,
    StartInfo,
    StepInfo,
)
from studio.engines.results import ImageResult
from studio.engines.schedulers import SCHEDULER_SPECS, Scheduler, default_sampler_name
from studio.engines.upscale_requests import UpscaleRequest

_DONE = object()


def apply_thread_setting() -> int:
    """Give torch the Settings' thread count (0: one per physical core); returns the count in use."""
    from studio.settings import load_settings

    threads = default_threads(load_settings().threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def decode_image(data: bytes, what: str) -> Image.Image:
    """Open PNG (or any PIL-readable) bytes; a user-readable EngineError if they are not an image."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise EngineError(f"The {what} could not be read as an image: {exc}") from exc
    return image


def fill_masked(image: Image.Image, mask: Image.Image) -> Image.Image:
    """Fill the white part of ``mask`` from the surrounding pixels (push-pull averaging), for outpainting."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    known = (np.asarray(mask.convert("L"), dtype=np.float32) < 128).astype(np.float32)
    if known.sum() == 0:
        return Image.new("RGB", image.size, (127, 127, 127))
    levels: list[tuple[np.ndarray, np.ndarray]] = []
    colour, weight = rgb * known[..., None], known
    while min(weight.shape) > 1:
        levels.append((colour, weight))
        h, w = weight.shape[0] // 2 * 2, weight.shape[1] // 2 * 2
        colour = colour[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).sum((1, 3))
        weight = weight[:h, :w].reshape(h // 2, 2, w // 2, 2).sum((1, 3))
    overall = (rgb * known[..., None]).sum((0, 1)) / known.sum()
    filled = np.where(weight[..., None] > 0, colour / np.maximum(weight, 1e-6)[..., None], overall)
    for colour, weight in reversed(levels):
        height, width = weight.shape
        big = np.stack(
            [
                np.asarray(
                    Image.fromarray(np.ascontiguousarray(filled[..., c], dtype=np.float32), "F").resize(
                        (width, height), Image.Resampling.BILINEAR
                    )
                )
                for c in range(3)
            ],
            axis=-1,
        )
        mean = colour / np.maximum(weight, 1e-6)[..., None]
        alpha = np.clip(weight, 0, 1)[..., None]
        filled = alpha * mean + (1 - alpha) * big
    out = np.where(known[..., None] > 0, rgb, filled)
    result = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")
    blurred = result.filter(ImageFilter.GaussianBlur(2))
    return Image.composite(blurred, result, mask.convert("L"))


class DiffusionEngine:
    """Serves :class:`LoadPipelineRequest`, :class:`ImageRequest`, :class:`UpscaleRequest` (tiled SD upscale,
    :mod:`~studio.engines.diffusion_upscale`) and :class:`UnloadPipelineRequest`."""

    def __init__(self) -> None:
        self.model: LoadedModel | None = None
        self.loads = 0  # how many times weights were loaded (a mode switch must not add one)
        self.prompts = PromptCache()  # the text encoder's output for the last prompts
        quiet_libraries()

    # --- protocol ---------------------------------------------------------------------------------------

    def handle(self, request: EngineRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        """Run one request, yielding its events; ends with ``result`` or ``cancelled``, or raises."""
        job = request.job_id
        apply_thread_setting()
        if isinstance(request, LoadPipelineRequest):
            yield protocol.started(job, StartInfo(model_path=request.model_path))
            model = yield from self._ensure_loaded(request, cancel)
            yield protocol.result(job, model.describe(), text=f"Loaded {model.name}")
        elif isinstance(request, UnloadPipelineRequest):
            self._unload()
            yield protocol.result(job, text="Unloaded")
        elif isinstance(request, ImageRequest):
            yield from self._generate(request, cancel)
        elif isinstance(request, UpscaleRequest):
            from studio.engines.diffusion_upscale import run_upscale

            yield from run_upscale(self, request, cancel)
        else:
            raise EngineError(f"The diffusion engine cannot handle a {type(request).__name__}.")

    def close(self) -> None:
        """Free the model."""
        self._unload()

    def use_pipeline(self, pipe: Any, name: str = "in-memory", family: str = "") -> None:
        """Serve an already built diffusers pipeline as if it had been loaded (benchmarks, self-checks)."""
        self._unload()
        self.model = wrap_pipeline(pipe, name, family)
        self.loads += 1

    # --- the loaded model -------------------------------------------------------------------------------

    def _unload(self) -> None:
        self.prompts.clear()
        if self.model is not None:
            self.model = None
            gc.collect()

    def _ensure_loaded(
        self, request: LoadPipelineRequest, cancel: CancelToken
    ) -> Generator[EngineEvent, None, LoadedModel]:
        """The model of ``request``: the loaded one when nothing changed (its precision included), else loaded
        now (bfloat16 weights are never widened back to float32: they are read again)."""
        key = model_key(request)
        precision = requested_precision(request)
        loaded = self.model
        if loaded is not None and loaded.key == key and loaded.precision.dtype == precision.dtype:
            if loaded.precision.channels_last != precision.channels_last:  # the layout changes losslessly
                apply_precision(loaded.pipe, precision)
                if loaded.taesd is not None:
                    apply_module_precision(loaded.taesd, precision)
            loaded.precision = precision  # the same weights; the latest choice explains them
            if request.taesd_path != loaded.taesd_requested:
                attach_taesd(loaded, request.taesd_path)
            return loaded
        self._unload()
        model = yield from load_model(request, cancel, precision)
        self.model = model
        self.loads += 1
        return model

    # --- generation -------------------------------------------------------------------------------------

    def _model_for(self, request: ImageRequest) -> LoadedModel:
        """The loaded model, when it is the one ``request`` names (any, when it names none); generation never
        loads: a user-readable EngineError asks for a :class:`LoadPipelineRequest` first."""
        model = self.model
        if model is None:
            raise EngineError("No image model is loaded: choose a model and load it first.")
        if request.model_path:
            wanted = Path(request.model_path).expanduser()
            if not wanted.exists() or wanted.resolve() != model.path:
                raise EngineError(
                    f"The image model {wanted.name} is not loaded ({model.name} is): load it first."
                )
        return model

    def _generate(self, request: ImageRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        job = request.job_id
        problem = request.problem()
        if problem is not None:
            raise EngineError(problem[0].upper() + problem[1:] + ".")
        model = self._model_for(request)
        yield protocol.started(job, StartInfo(image_mode=request.mode, candidates=request.num_candidates))
        lora_params = apply_loras(model.pipe, request.loras)  # shared by every mode pipeline (from_pipe)
        init, mask, width, height = self._prepare_images(request, model)
        pipe = self._pipeline_for(model, request.mode)
        sampler, guidance = self._set_scheduler(pipe, model, request)
        decode = choose_decode(request.fast_decode, model.taesd)
        base_seed = request.seed if request.seed >= 0 else secrets.randbelow(2**32)
        count = request.num_candidates
        pngs: list[bytes] = []
        candidates: list[dict[str, Any]] = []
        for index in range(count):
            seed = base_seed + index
            try:
                if cancel.is_cancelled:
                    raise JobCancelled
                arguments = self._call_arguments(request, model, init, mask, width, height, guidance, seed)
                image = yield from self._run_pipeline(pipe, arguments, request, model, cancel, index, decode)
            except JobCancelled:  # keep the candidates already made
                kept = (
                    ImageResult(tuple(pngs), tuple(candidates), format_parameters(candidates[0]))
                    if pngs
                    else None
                )
                yield protocol.cancelled(job, kept)
                return
            png = encode_png(np.asarray(image.convert("RGB")))
            params = model.candidate_parameters(
                request,
                guidance=guidance,
                seed=seed,
                size=image.size,
                sampler=sampler,
                decode=decode.kind,
                loras=lora_params,
            )
            pngs.append(png)
            candidates.append(params)
            if count > 1:
                final = StepInfo(candidate=index, final=True, seed=seed)
                yield protocol.preview(job, png, (index + 1) / count, final)
        first = candidates[0]
        images = ImageResult(tuple(pngs), tuple(candidates), format_parameters(first))
        yield protocol.result(job, images, text=f"{count} image{'s' if count > 1 else ''}", image=pngs[0])

    def _prepare_images(
        self, request: ImageRequest, model: LoadedModel
    ) -> tuple[Image.Image | None, Image.Image | None, int, int]:
        init: Image.Image | None = None
        mask: Image.Image | None = None
        if request.mode.needs_init_image:
            assert request.init_image is not None
            raw = decode_image(request.init_image, "init image")
            if request.mask_image is not None:
                mask = decode_image(request.mask_image, "mask image").convert("L")
            elif request.mode.needs_mask:
                if raw.mode in ("RGBA", "LA", "PA") or "transparency" in raw.info:
                    alpha = raw.convert("RGBA").getchannel("A")
                    mask = alpha.point(lambda value: 255 if value < 128 else 0)
                else:
                    raise EngineError(f"{request.mode} needs a mask image (white = regenerate).")
            init = raw.convert("RGB")
        if request.width and request.height:
            width, height = request.width, request.height
        elif init is not None:
            width, height = (max(64, side // 8 * 8) for side in init.size)
        else:
            width = height = model.default_size
        if init is not None and init.size != (width, height):
            init = init.resize((width, height), Image.Resampling.LANCZOS)
        if mask is not None and mask.size != (width, height):
            mask = mask.resize((width, height), Image.Resampling.BILINEAR)
        if request.mode is GenerationMode.OUTPAINT and init is not None and mask is not None:
            init = fill_masked(init, mask)
        return init, mask, width, height

    def _pipeline_for(self, model: LoadedModel, mode: GenerationMode) -> Any:
        """The pipeline for ``mode``, sharing the loaded modules (made once with ``from_pipe``)."""
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

        if model.inpainting:
            return model.pipe
        kind = {"txt2img": "txt2img", "img2img": "img2img"}.get(mode, "inpaint")
        if kind == "txt2img":
            return model.pipe
        if kind not in model.pipelines:
            factory = AutoPipelineForImage2Image if kind == "img2img" else AutoPipelineForInpainting
            pipe = factory.from_pipe(model.pipe)
            pipe.set_progress_bar_config(disable=True)
            model.pipelines[kind] = pipe
        return model.pipelines[kind]

    def _set_scheduler(self, pipe: Any, model: LoadedModel, request: ImageRequest) -> tuple[str, float]:
        """Install a fresh scheduler of the requested kind; returns (A1111 sampler name, guidance)."""
        import diffusers

        spec = SCHEDULER_SPECS[Scheduler(request.scheduler)]
        if not spec.diffusers_class:  # the model's own scheduler
            pipe.scheduler = model.scheduler_class.from_config(model.scheduler_config)
            return default_sampler_name(model.scheduler_class.__name__), request.guidance
        scheduler_class = getattr(diffusers, spec.diffusers_class)
        pipe.scheduler = scheduler_class.from_config(model.scheduler_config, **spec.options)
        return spec.sampler, request.guidance if spec.guidance is None else spec.guidance

    def _prompt_arguments(self, request: ImageRequest, model: LoadedModel, guidance: float) -> dict[str, Any]:
        """The prompt as the pipeline takes it: its text encoder's output, cached for a repeated prompt."""
        pipe = self._pipeline_for(model, request.mode)
        if not hasattr(pipe, "encode_prompt"):
            return {"prompt": request.prompt, "negative_prompt": request.negative_prompt or None}
        weights = (model.key, model.precision.dtype, request.loras)  # LoRAs can change the text encoder
        return self.prompts.embeddings(pipe, weights, request.prompt, request.negative_prompt, guidance)

    def _call_arguments(
        self,
        request: ImageRequest,
        model: LoadedModel,
        init: Image.Image | None,
        mask: Image.Image | None,
        width: int,
        height: int,
        guidance: float,
        seed: int,
    ) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            **self._prompt_arguments(request, model, guidance),
            "num_inference_steps": request.steps,
            "guidance_scale": guidance,
            "generator": torch.Generator("cpu").manual_seed(seed),
        }
        mode = request.mode
        if model.inpainting and mode in ("txt2img", "img2img"):
            # An inpainting UNet makes whole images as an inpaint of everything.
            arguments["image"] = (
                init if init is not None else Image.new("RGB", (width, height), (127, 127, 127))
            )
            arguments["mask_image"] = Image.new("L", (width, height), 255)
            arguments["strength"] = request.strength if mode is GenerationMode.IMAGE_TO_IMAGE else 1.0
            arguments.update(height=height, width=width)
        elif mode is GenerationMode.TEXT_TO_IMAGE:
            arguments.update(height=height, width=width)
        elif mode is GenerationMode.IMAGE_TO_IMAGE:
            arguments.update(image=init, strength=request.strength)
        else:
            arguments.update(
                image=init, mask_image=mask, strength=request.strength, height=height, width=width
            )
        return arguments

    def _run_pipeline(
        self,
        pipe: Any,
        arguments: dict[str, Any],
        request: ImageRequest,
        model: LoadedModel,
        cancel: CancelToken,
        candidate: int,
        decode: DecodeChoice = FULL_DECODE,
    ) -> Generator[EngineEvent, None, Image.Image]:
        """Run ``pipe`` on a helper thread, yielding its step events as they come; returns the image, decoded
        as ``decode`` says (default: by the model's VAE)."""
        job = request.job_id
        count = request.num_candidates
        events: queue.Queue[object] = queue.Queue(maxsize=2)
        stop = threading.Event()
        outcome: dict[str, Any] = {}
        previews = PreviewPlan.for_job(request.preview_kind, request.preview_every, model.family, model.taesd)

        def on_step(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if cancel.is_cancelled or stop.is_set():
                raise JobCancelled
            total = int(getattr(pipeline, "num_timesteps", 0) or request.steps)
            done = step + 1
            fraction = (candidate + done / total) / count
            message = f"step {done}/{total}" + (f" (image {candidate + 1}/{count})" if count > 1 else "")
            events.put(protocol.progress(job, fraction, message, StepInfo(done, total, candidate)))
            png = previews.for_step(done, tensors.get("latents"))
            if png is not None:
                step_info = StepInfo(done, total, candidate, preview_kind=previews.kind)
                events.put(protocol.preview(job, png, fraction, step_info))
            if cancel.is_cancelled or stop.is_set():
                raise JobCancelled
            return tensors

        def work() -> None:
            try:
                output = pipe(
                    **arguments,
                    callback_on_step_end=on_step,
                    callback_on_step_end_tensor_inputs=["latents"],
                    **({"output_type": "latent"} if decode.fast else {}),
                )
                if decode.fast:  # the pipeline stopped before its VAE: the TAESD decodes
                    outcome["image"] = decode_latents_with_taesd(output.images, model.taesd)
                else:
                    outcome["image"] = output.images[0]
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                events.put(_DONE)

        worker = threading.Thread(target=work, name="diffusion-pipeline", daemon=True)
        worker.start()
        try:
            while (item := events.get()) is not _DONE:
                assert isinstance(item, EngineEvent)
                yield item
        finally:
            stop.set()
            while worker.is_alive():  # unblock a worker waiting on a full queue, then let it end
                with contextlib.suppress(queue.Empty):
                    events.get(timeout=0.05)
            worker.join()
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, JobCancelled | EngineError | MemoryError):
                raise error
            raise EngineError(f"Image generation failed: {type(error).__name__}: {error}") from error
        image: Image.Image = outcome["image"]
        return image


__all__ = ["DiffusionEngine", "apply_thread_setting", "decode_image", "fill_masked"]
