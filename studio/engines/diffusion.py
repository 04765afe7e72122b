"""The diffusion engine (runs only in the diffusion engine process; imports torch and diffusers).

Loads a diffusers folder or a single-file SD 1.x/2.x/XL ``.safetensors`` checkpoint fully offline, then
serves txt2img, img2img, inpaint and outpaint from one set of weights (the mode pipelines are made with
``from_pipe`` and share every module). Each step sends a progress event and, by default, a cheap preview
(a fixed linear latent → RGB projection; TAESD when the user has one locally). The pipeline runs on a helper
thread so events stream while it works; cancelling raises from ``callback_on_step_end``, so a job stops
within one step and skips the VAE decode.
"""

from __future__ import annotations

import os

# Never reach the hub from this process, whatever a library decides (read when huggingface_hub is imported).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import contextlib
import gc
import hashlib
import io
import json
import logging
import queue
import secrets
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter, UnidentifiedImageError

from studio.cpu import default_threads
from studio.engines import protocol
from studio.engines.image_requests import (
    SAMPLER_NAMES,
    ImageRequest,
    LoadPipelineRequest,
    UnloadPipelineRequest,
    format_parameters,
)
from studio.engines.protocol import CancelToken, EngineError, EngineEvent, EngineRequest, JobCancelled
from studio.engines.sd_checkpoint import (
    FAMILY_NAMES,
    PICKLE_SUFFIXES,
    CheckpointError,
    CheckpointInfo,
    inspect_checkpoint,
    model_path_problem,
    pickle_refusal,
    read_safetensors_header,
)

log = logging.getLogger(__name__)

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "resources" / "diffusion_configs"
# CLIP's BPE vocab.json + merges.txt, shared by every family (written by make_clip_tokenizer.py there); the
# last place a single file's tokenizer is looked for. ``_tokenizers`` sets each family's pad token.
SHIPPED_TOKENIZER_DIR = CONFIGS_DIR / "clip_tokenizer"
HASH_CHUNK = 16 * 1024 * 1024

# Fixed latent → RGB factors (no weights needed). SD 1.x/2.x: the diffusers docs' callback page; SDXL: the
# factors and bias ComfyUI uses.
LATENT_RGB: dict[str, tuple[list[list[float]], list[float]]] = {
    "sd": (
        [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]],
        [0.0, 0.0, 0.0],
    ),
    "sdxl": (
        [
            [0.3651, 0.4232, 0.4341],
            [-0.2533, -0.0042, 0.1068],
            [0.1076, 0.1111, -0.0362],
            [-0.3165, -0.2492, -0.2188],
        ],
        [0.1084, -0.0175, -0.0011],
    ),
}

DEFAULT_SAMPLER_NAMES = {
    "PNDMScheduler": "PLMS",
    "DDIMScheduler": "DDIM",
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
    "LMSDiscreteScheduler": "LMS",
    "UniPCMultistepScheduler": "UniPC",
    "LCMScheduler": "LCM",
    "HeunDiscreteScheduler": "Heun",
}

# Where a CLIP tokenizer may already sit in a local Hugging Face cache (looked up offline, cache only).
HF_CACHE_TOKENIZERS = (
    ("openai/clip-vit-large-patch14", ""),
    ("stable-diffusion-v1-5/stable-diffusion-v1-5", "tokenizer/"),
    ("runwayml/stable-diffusion-v1-5", "tokenizer/"),
    ("stabilityai/stable-diffusion-xl-base-1.0", "tokenizer/"),
    ("stabilityai/stable-diffusion-2-1", "tokenizer/"),
)

_DONE = object()


@dataclass
class LoadedModel:
    """The loaded weights and the mode pipelines that share them."""

    key: tuple[str, ...]
    path: Path
    name: str
    model_hash: str
    family: str  # sd15 | sd2 | sdxl | other
    source: str  # folder | single_file
    pipe: Any  # the base pipeline: txt2img, or inpaint for a 9-channel inpainting model
    scheduler_class: Any
    scheduler_config: dict[str, Any]
    default_size: int
    inpainting: bool
    pipelines: dict[str, Any] = field(default_factory=dict)
    taesd: Any = None
    taesd_path: str = ""
    taesd_error: str = ""

    def describe(self) -> dict[str, Any]:
        """Plain data about the model (a load result's ``data``)."""
        return {
            "model": self.name,
            "model_path": str(self.path),
            "model_hash": self.model_hash[:10],
            "model_sha256": self.model_hash,
            "model_family": self.family,
            "family_name": FAMILY_NAMES.get(self.family, "diffusers pipeline"),
            "source": self.source,
            "default_size": self.default_size,
            "inpainting_model": self.inpainting,
            "taesd": self.taesd is not None,
            "taesd_error": self.taesd_error,
            "pipeline": type(self.pipe).__name__,
        }


def apply_thread_setting() -> int:
    """Give torch the Settings' thread count (0: one per physical core); returns the count in use."""
    from studio.settings import load_settings

    threads = default_threads(load_settings().threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def _quiet_libraries() -> None:
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def encode_png(image: Image.Image, fast: bool = False) -> bytes:
    """PNG bytes of ``image`` (``fast``: light compression, for previews)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1 if fast else 6)
    return buffer.getvalue()


def decode_image(data: bytes, what: str) -> Image.Image:
    """Open PNG (or any PIL-readable) bytes; a user-readable EngineError if they are not an image."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise EngineError(f"The {what} could not be read as an image: {exc}") from exc
    return image


def latents_to_rgb(latents: torch.Tensor, family: str) -> Image.Image:
    """A cheap preview of the first latent of a batch: a fixed 4×3 linear projection, at latent resolution."""
    latent = latents[0].detach().float().cpu()
    if latent.shape[0] == 4:
        factors, bias = LATENT_RGB["sdxl" if family == "sdxl" else "sd"]
        rgb = torch.einsum("chw,cr->hwr", latent, torch.tensor(factors)) + torch.tensor(bias)
    elif latent.shape[0] >= 3:
        rgb = latent[:3].permute(1, 2, 0)
    else:
        rgb = latent.mean(0, keepdim=True).permute(1, 2, 0).expand(-1, -1, 3)
    pixels = ((rgb + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB")


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
    """Serves :class:`LoadPipelineRequest`, :class:`ImageRequest` and :class:`UnloadPipelineRequest`."""

    def __init__(self) -> None:
        self.model: LoadedModel | None = None
        self.loads = 0  # how many times weights were loaded (a mode switch must not add one)
        _quiet_libraries()

    # --- protocol ---------------------------------------------------------------------------------------

    def handle(self, request: EngineRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        """Run one request, yielding its events; ends with ``result``, ``error`` or ``cancelled``."""
        job = request.job_id
        apply_thread_setting()
        try:
            if isinstance(request, LoadPipelineRequest):
                yield protocol.started(job, kind="load")
                model = yield from self._ensure_loaded(request, cancel)
                yield protocol.result(job, text=f"Loaded {model.name}", **model.describe())
            elif isinstance(request, UnloadPipelineRequest):
                self._unload()
                yield protocol.result(job, text="Unloaded")
            elif isinstance(request, ImageRequest):
                yield from self._generate(request, cancel)
            else:
                raise EngineError(f"The diffusion engine cannot handle a {type(request).__name__}.")
        except JobCancelled:
            yield protocol.cancelled(job)
        except (EngineError, CheckpointError) as exc:
            yield protocol.error(job, str(exc))

    def close(self) -> None:
        """Free the model."""
        self._unload()

    def use_pipeline(self, pipe: Any, name: str = "in-memory", family: str = "") -> None:
        """Serve an already built diffusers pipeline as if it had been loaded (benchmarks, self-checks)."""
        self._unload()
        unet = pipe.unet
        default_size = int(unet.config.sample_size) * int(getattr(pipe, "vae_scale_factor", 8))
        inpainting = unet.config.in_channels == 9
        key = ("memory", name, str(id(pipe)))
        self.model = self._finish(
            pipe, key, Path(name), name, "", family or _family_of(pipe), "memory", default_size, inpainting
        )
        self.loads += 1

    # --- loading ----------------------------------------------------------------------------------------

    def _unload(self) -> None:
        if self.model is not None:
            self.model = None
            gc.collect()

    def _ensure_loaded(
        self, request: LoadPipelineRequest, cancel: CancelToken
    ) -> Generator[EngineEvent, None, LoadedModel]:
        job = request.job_id
        problem = model_path_problem(request.model_path)
        if problem is not None:
            raise EngineError(problem[0].upper() + problem[1:])
        if request.prediction_type not in ("auto", "epsilon", "v_prediction"):
            raise EngineError(f"Unknown prediction type {request.prediction_type!r}.")
        path = Path(request.model_path).expanduser().resolve()
        stat = path.stat()
        key = (
            str(path),
            str(stat.st_mtime_ns),
            request.config_dir,
            request.tokenizer_dir,
            request.prediction_type,
        )
        if self.model is not None and self.model.key == key:
            if request.taesd_path != self.model.taesd_path:
                self._attach_taesd(self.model, request.taesd_path)
            return self.model
        self._unload()
        yield protocol.progress(job, 0.0, f"Checking {path.name}", phase="load")
        if path.is_dir():
            self._check_folder(path)
            model_hash = yield from self._folder_hash(path, job, cancel)
            if cancel.is_cancelled:
                raise JobCancelled
            yield protocol.progress(job, 0.3, f"Loading {path.name}", phase="load")
            model = self._load_folder(path, key, model_hash)
        else:
            info = inspect_checkpoint(path)
            model_hash = yield from self._file_hash(path, job, cancel)
            if cancel.is_cancelled:
                raise JobCancelled
            yield protocol.progress(job, 0.3, f"Loading {path.name} ({info.family_name})", phase="load")
            model = self._load_single_file(path, info, request, key, model_hash)
        self._attach_taesd(model, request.taesd_path)
        self.model = model
        self.loads += 1
        yield protocol.progress(job, 1.0, f"Loaded {model.name}", phase="load")
        return model

    def _check_folder(self, path: Path) -> None:
        """Refuse pickle-only components and damaged safetensors files before diffusers sees them."""
        index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
        for name, value in index.items():
            if name.startswith("_") or not isinstance(value, list) or value[0] is None:
                continue
            folder = path / name
            if not folder.is_dir():
                continue
            safe = list(folder.glob("*.safetensors"))
            pickles = [p for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES]
            if pickles and not safe:
                raise EngineError(pickle_refusal(pickles[0]) + f" (in the {name!r} folder of {path.name})")
            for weights in safe:
                read_safetensors_header(weights)

    def _load_folder(self, path: Path, key: tuple[str, ...], model_hash: str) -> LoadedModel:
        from diffusers import AutoPipelineForInpainting, AutoPipelineForText2Image, DiffusionPipeline

        index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
        extra: dict[str, Any] = {}
        if "safety_checker" in index:  # Studio runs without the SD safety checker (no extra 1.2 GB model)
            extra = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
        unet_dir = path / "unet"
        if unet_dir.is_dir():
            weights = [p.name for p in unet_dir.glob("*.safetensors")]
            if weights and all(".fp16." in name for name in weights):
                extra.update(variant="fp16")
        try:
            pipe = DiffusionPipeline.from_pretrained(
                path, local_files_only=True, use_safetensors=True, dtype=torch.float32, **extra
            )
        except MemoryError:
            raise
        except Exception as exc:
            raise EngineError(f"Could not load the model folder {path.name}: {exc}") from exc
        unet = getattr(pipe, "unet", None)
        if unet is None or getattr(pipe, "vae", None) is None:
            raise EngineError(
                f"{path.name} is a {type(pipe).__name__}; Studio runs Stable Diffusion 1.x/2.x/XL-style "
                "(UNet) pipelines."
            )
        inpainting = unet.config.in_channels == 9
        try:
            if inpainting:
                pipe = AutoPipelineForInpainting.from_pipe(pipe)
            else:
                pipe = AutoPipelineForText2Image.from_pipe(pipe)
        except Exception as exc:
            raise EngineError(f"{path.name}: unsupported pipeline {type(pipe).__name__} ({exc})") from exc
        family = _family_of(pipe)
        default_size = int(unet.config.sample_size) * int(getattr(pipe, "vae_scale_factor", 8))
        return self._finish(
            pipe, key, path, path.name, model_hash, family, "folder", default_size, inpainting
        )

    def _load_single_file(
        self,
        path: Path,
        info: CheckpointInfo,
        request: LoadPipelineRequest,
        key: tuple[str, ...],
        model_hash: str,
    ) -> LoadedModel:
        from diffusers import (
            StableDiffusionInpaintPipeline,
            StableDiffusionPipeline,
            StableDiffusionXLInpaintPipeline,
            StableDiffusionXLPipeline,
            UNet2DConditionModel,
        )

        config_dir, own_config = self._config_dir_for(path, info, request)
        components: dict[str, Any] = {}
        if not _has_tokenizer(config_dir / "tokenizer"):
            components.update(self._tokenizers(path, info, request))
        unet_config = json.loads((config_dir / "unet" / "config.json").read_text(encoding="utf-8"))
        try:
            if unet_config.get("in_channels", 4) != info.in_channels:
                components["unet"] = UNet2DConditionModel.from_single_file(
                    str(path),
                    config=str(config_dir),
                    subfolder="unet",
                    in_channels=info.in_channels,
                    local_files_only=True,
                    dtype=torch.float32,
                )
            cls: Any
            if info.family == "sdxl":
                cls = StableDiffusionXLInpaintPipeline if info.is_inpainting else StableDiffusionXLPipeline
            else:
                cls = StableDiffusionInpaintPipeline if info.is_inpainting else StableDiffusionPipeline
            pipe = cls.from_single_file(
                str(path), config=str(config_dir), local_files_only=True, dtype=torch.float32, **components
            )
        except MemoryError:
            raise
        except Exception as exc:
            raise EngineError(
                f"Could not load {path.name} as a {info.family_name} checkpoint: {exc}".strip()
            ) from exc
        for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
            module = getattr(pipe, name, None)
            if module is not None and any(p.is_meta for p in module.parameters()):
                raise EngineError(
                    f"{path.name} is missing weights for its {name.replace('_', ' ')}: it does not match the "
                    f"{info.family_name} layout."
                )
        prediction = request.prediction_type
        if prediction == "auto" and not own_config:
            prediction = info.prediction_type
        if prediction != "auto" and pipe.scheduler.config.get("prediction_type") != prediction:
            pipe.scheduler = type(pipe.scheduler).from_config(
                pipe.scheduler.config, prediction_type=prediction
            )
        if own_config:
            default_size = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
        else:
            default_size = info.default_size
        return self._finish(
            pipe,
            key,
            path,
            path.stem,
            model_hash,
            info.family,
            "single_file",
            default_size,
            info.is_inpainting,
        )

    def _finish(
        self,
        pipe: Any,
        key: tuple[str, ...],
        path: Path,
        name: str,
        model_hash: str,
        family: str,
        source: str,
        default_size: int,
        inpainting: bool,
    ) -> LoadedModel:
        pipe.set_progress_bar_config(disable=True)
        return LoadedModel(
            key=key,
            path=path,
            name=name,
            model_hash=model_hash,
            family=family,
            source=source,
            pipe=pipe,
            scheduler_class=type(pipe.scheduler),
            scheduler_config=dict(pipe.scheduler.config),
            default_size=default_size,
            inpainting=inpainting,
        )

    def _config_dir_for(
        self, path: Path, info: CheckpointInfo, request: LoadPipelineRequest
    ) -> tuple[Path, bool]:
        """The diffusers config folder for a single file: asked for, beside it, or shipped with Studio.
        The flag tells whether it is the model's own (not Studio's generic one)."""
        if request.config_dir:
            folder = Path(request.config_dir).expanduser()
            if not (folder / "model_index.json").is_file():
                raise EngineError(f"The config folder {folder} has no model_index.json.")
            return folder, True
        for folder in (path.parent / path.stem, path.parent / f"{path.stem}.config"):
            if (folder / "model_index.json").is_file():
                return folder, True
        shipped = CONFIGS_DIR / info.family
        if not (shipped / "model_index.json").is_file():
            raise EngineError(f"Studio's {info.family_name} config files are missing from {CONFIGS_DIR}.")
        return shipped, False

    def _tokenizers(self, path: Path, info: CheckpointInfo, request: LoadPipelineRequest) -> dict[str, Any]:
        from transformers import CLIPTokenizer

        folder = self._find_tokenizer(path, info, request)

        def make(pad: str) -> Any:
            return CLIPTokenizer.from_pretrained(
                folder, local_files_only=True, model_max_length=77, pad_token=pad
            )

        if info.family == "sdxl":
            return {"tokenizer": make("<|endoftext|>"), "tokenizer_2": make("!")}
        return {"tokenizer": make("!" if info.family == "sd2" else "<|endoftext|>")}

    def _find_tokenizer(self, path: Path, info: CheckpointInfo, request: LoadPipelineRequest) -> Path:
        if request.tokenizer_dir:
            folder = Path(request.tokenizer_dir).expanduser()
            if not _has_tokenizer(folder):
                raise EngineError(
                    f"The tokenizer folder {folder} needs vocab.json and merges.txt (or a tokenizer.json)."
                )
            return folder
        from studio import paths

        user_folder = paths.data_dir() / "diffusion" / "tokenizer"
        for folder in (path.parent / "tokenizer", user_folder, CONFIGS_DIR / info.family / "tokenizer"):
            if _has_tokenizer(folder):
                return folder
        try:
            from huggingface_hub import try_to_load_from_cache

            for repo, prefix in HF_CACHE_TOKENIZERS:
                vocab = try_to_load_from_cache(repo, prefix + "vocab.json")
                merges = try_to_load_from_cache(repo, prefix + "merges.txt")
                if (
                    isinstance(vocab, str)
                    and isinstance(merges, str)
                    and Path(vocab).parent == Path(merges).parent
                ):
                    return Path(vocab).parent
        except Exception:  # a damaged cache must not stop the search's error message
            log.debug("HF cache lookup failed", exc_info=True)
        if _has_tokenizer(SHIPPED_TOKENIZER_DIR):
            return SHIPPED_TOKENIZER_DIR
        raise EngineError(
            f"Cannot load {path.name} ({info.family_name}): the CLIP tokenizer files (vocab.json and "
            "merges.txt, or tokenizer.json) were not found, and Studio does not download anything. Put them in "
            f"a 'tokenizer' folder beside the checkpoint or in {user_folder}, or put the model's diffusers "
            f"config folder beside it as '{path.stem}/' or '{path.stem}.config/'."
        )

    def _attach_taesd(self, model: LoadedModel, taesd_path: str) -> None:
        """Load the optional TAESD preview decoder; a failure only costs the better previews."""
        model.taesd, model.taesd_path, model.taesd_error = None, taesd_path, ""
        try:
            model.taesd = self._load_taesd(taesd_path)
        except EngineError as exc:
            model.taesd_error = str(exc)
            log.warning("%s", exc)

    def _load_taesd(self, taesd_path: str) -> Any:
        if not taesd_path:
            return None
        from diffusers import AutoencoderTiny

        folder = Path(taesd_path).expanduser()
        if folder.is_file():
            folder = folder.parent
        if not (folder / "config.json").is_file():
            raise EngineError(
                f"The TAESD folder {folder} has no config.json (an AutoencoderTiny folder is needed)."
            )
        try:
            taesd = AutoencoderTiny.from_pretrained(
                folder, local_files_only=True, use_safetensors=True, dtype=torch.float32
            )
        except Exception as exc:
            raise EngineError(f"Could not load the TAESD preview decoder from {folder}: {exc}") from exc
        return taesd.eval()

    # --- hashing (A1111's "Model hash" is the first 10 hex digits of the file's SHA-256) ----------------

    def _hash_cache_path(self) -> Path:
        from studio import paths

        return paths.data_dir() / "diffusion" / "model_hashes.json"

    def _file_hash(self, path: Path, job: str, cancel: CancelToken) -> Generator[EngineEvent, None, str]:
        stat = path.stat()
        cache_key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
        cache_path = self._hash_cache_path()
        try:
            cache = json.loads(cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        if isinstance(cache.get(cache_key), str):
            return str(cache[cache_key])
        digest = hashlib.sha256()
        done, reported = 0, 0
        with path.open("rb") as stream:
            while chunk := stream.read(HASH_CHUNK):
                digest.update(chunk)
                done += len(chunk)
                if cancel.is_cancelled:
                    raise JobCancelled
                if stat.st_size > 20 * HASH_CHUNK and done - reported > stat.st_size // 20:
                    reported = done
                    yield protocol.progress(
                        job, 0.3 * done / stat.st_size, f"Hashing {path.name}", phase="load"
                    )
        value = digest.hexdigest()
        cache[cache_key] = value
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache_path.with_suffix(".tmp")
            temporary.write_text(json.dumps(cache, indent=1), encoding="utf-8")
            temporary.replace(cache_path)
        except OSError:
            log.warning("could not write the model hash cache %s", cache_path)
        return value

    def _folder_hash(self, path: Path, job: str, cancel: CancelToken) -> Generator[EngineEvent, None, str]:
        """A folder's hash is its UNet weights file's (empty if it has none)."""
        for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"):
            weights = path / "unet" / name
            if weights.is_file():
                return (yield from self._file_hash(weights, job, cancel))
        return ""

    # --- generation -------------------------------------------------------------------------------------

    def _generate(self, request: ImageRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        job = request.job_id
        problem = request.problem()
        if problem is not None:
            raise EngineError(problem[0].upper() + problem[1:] + ".")
        yield protocol.started(job, kind="image", mode=request.mode, candidates=request.num_candidates)
        model = self.model
        if request.model_path:
            wanted = Path(request.model_path).expanduser()
            if model is None or not wanted.exists() or wanted.resolve() != model.path:
                model = yield from self._ensure_loaded(
                    LoadPipelineRequest(job, model_path=request.model_path), cancel
                )
        if model is None:
            raise EngineError("No diffusion model is loaded: choose a model first.")
        init, mask, width, height = self._prepare_images(request, model)
        pipe = self._pipeline_for(model, request.mode)
        sampler, guidance = self._set_scheduler(pipe, model, request)
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
                image = yield from self._run_pipeline(pipe, arguments, request, model, cancel, index)
            except JobCancelled:  # keep the candidates already made
                yield protocol.cancelled(job, images=pngs, candidates=candidates)
                return
            png = encode_png(image)
            params = {
                "prompt": request.prompt,
                "negative_prompt": request.negative_prompt,
                "steps": request.steps,
                "cfg": guidance,
                "seed": seed,
                "width": image.width,
                "height": image.height,
                "sampler": sampler,
                "scheduler": request.scheduler,
                "mode": request.mode,
                "strength": request.strength if request.mode != "txt2img" else None,
                "model": model.name,
                "model_hash": model.model_hash[:10],
                "model_family": model.family,
            }
            pngs.append(png)
            candidates.append(params)
            if count > 1:
                yield protocol.preview(job, png, (index + 1) / count, candidate=index, final=True, seed=seed)
        first = candidates[0]
        yield protocol.result(
            job,
            text=f"{count} image{'s' if count > 1 else ''}",
            image=pngs[0],
            images=pngs,
            candidates=candidates,
            parameters=format_parameters(first),
            **first,
        )

    def _prepare_images(
        self, request: ImageRequest, model: LoadedModel
    ) -> tuple[Image.Image | None, Image.Image | None, int, int]:
        init: Image.Image | None = None
        mask: Image.Image | None = None
        if request.mode != "txt2img":
            assert request.init_image is not None
            raw = decode_image(request.init_image, "init image")
            if request.mask_image is not None:
                mask = decode_image(request.mask_image, "mask image").convert("L")
            elif request.mode in ("inpaint", "outpaint"):
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
        if request.mode == "outpaint" and init is not None and mask is not None:
            init = fill_masked(init, mask)
        return init, mask, width, height

    def _pipeline_for(self, model: LoadedModel, mode: str) -> Any:
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

        config = model.scheduler_config
        guidance = request.guidance
        name = request.scheduler
        if name == "default":
            pipe.scheduler = model.scheduler_class.from_config(config)
            return DEFAULT_SAMPLER_NAMES.get(
                model.scheduler_class.__name__, model.scheduler_class.__name__
            ), guidance
        if name == "euler":
            pipe.scheduler = diffusers.EulerDiscreteScheduler.from_config(config)
        elif name == "euler_a":
            pipe.scheduler = diffusers.EulerAncestralDiscreteScheduler.from_config(config)
        elif name in ("dpm++", "dpm++_karras"):
            pipe.scheduler = diffusers.DPMSolverMultistepScheduler.from_config(
                config, algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=name == "dpm++_karras"
            )
        elif name == "ddim":
            pipe.scheduler = diffusers.DDIMScheduler.from_config(config)
        elif name == "unipc":
            pipe.scheduler = diffusers.UniPCMultistepScheduler.from_config(config)
        elif name == "lcm":
            pipe.scheduler = diffusers.LCMScheduler.from_config(config)
        elif name == "turbo":  # SD-Turbo / SDXL-Turbo: trailing timesteps, no classifier-free guidance
            pipe.scheduler = diffusers.EulerAncestralDiscreteScheduler.from_config(
                config, timestep_spacing="trailing"
            )
            guidance = 0.0
        else:
            raise EngineError(f"Unknown scheduler {name!r}.")
        return SAMPLER_NAMES[name], guidance

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
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
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
            arguments["strength"] = request.strength if mode == "img2img" else 1.0
            arguments.update(height=height, width=width)
        elif mode == "txt2img":
            arguments.update(height=height, width=width)
        elif mode == "img2img":
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
    ) -> Generator[EngineEvent, None, Image.Image]:
        """Run ``pipe`` on a helper thread, yielding its step events as they come; returns the image."""
        job = request.job_id
        count = request.num_candidates
        events: queue.Queue[object] = queue.Queue(maxsize=2)
        stop = threading.Event()
        outcome: dict[str, Any] = {}
        preview_kind = request.preview_kind
        if preview_kind == "taesd" and model.taesd is None:
            preview_kind = "latent"

        def on_step(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if cancel.is_cancelled or stop.is_set():
                raise JobCancelled
            total = int(getattr(pipeline, "num_timesteps", 0) or request.steps)
            done = step + 1
            fraction = (candidate + done / total) / count
            message = f"step {done}/{total}" + (f" (image {candidate + 1}/{count})" if count > 1 else "")
            events.put(
                protocol.progress(
                    job, fraction, message, phase="denoise", step=done, steps=total, candidate=candidate
                )
            )
            latents = tensors.get("latents")
            wants_preview = (
                request.preview_every and preview_kind != "none" and done % request.preview_every == 0
            )
            if wants_preview and isinstance(latents, torch.Tensor) and latents.ndim == 4:
                png = encode_png(self._preview_image(latents, model, preview_kind), fast=True)
                events.put(
                    protocol.preview(
                        job, png, fraction, step=done, steps=total, candidate=candidate, kind=preview_kind
                    )
                )
            if cancel.is_cancelled or stop.is_set():
                raise JobCancelled
            return tensors

        def work() -> None:
            try:
                output = pipe(
                    **arguments,
                    callback_on_step_end=on_step,
                    callback_on_step_end_tensor_inputs=["latents"],
                )
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

    def _preview_image(self, latents: torch.Tensor, model: LoadedModel, kind: str) -> Image.Image:
        if kind == "taesd" and model.taesd is not None:
            with torch.no_grad():
                decoded = model.taesd.decode(latents[:1].to(model.taesd.dtype)).sample[0]
            pixels = ((decoded.float() + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8)
            return Image.fromarray(np.ascontiguousarray(pixels.permute(1, 2, 0).numpy()), "RGB")
        return latents_to_rgb(latents, model.family)


def _has_tokenizer(folder: Path) -> bool:
    """Whether ``folder`` holds CLIP tokenizer files (slow: vocab.json + merges.txt; fast: tokenizer.json)."""
    slow = (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    return slow or (folder / "tokenizer.json").is_file()


def _family_of(pipe: Any) -> str:
    name = type(pipe).__name__
    if name.startswith("StableDiffusionXL"):
        return "sdxl"
    if name.startswith("StableDiffusion"):
        encoder = getattr(pipe, "text_encoder", None)
        hidden = getattr(getattr(encoder, "config", None), "hidden_size", 768)
        return "sd2" if hidden == 1024 else "sd15"
    return "other"


__all__ = ["DiffusionEngine", "LoadedModel", "encode_png", "fill_masked", "latents_to_rgb"]
