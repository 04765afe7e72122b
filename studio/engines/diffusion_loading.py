"""Loading diffusion models, strictly offline (diffusion engine process only; imports torch and diffusers).

A diffusers folder loads with ``from_pretrained``; a single-file SD 1.x/2.x/XL ``.safetensors`` checkpoint
with ``from_single_file`` and a diffusers config folder (the request's, one beside the file, or the one
Studio ships for its family, see :mod:`studio.engines.sd_checkpoint`) plus a CLIP tokenizer found locally.
Pickle weights are refused before any library reads them. :func:`load_model` returns a
:class:`LoadedModel`: the base pipeline, what was loaded and the model's hash.
"""

from __future__ import annotations

import os

# Never reach the hub from this process, whatever a library decides (read when huggingface_hub is imported).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import json
import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.engines import protocol
from studio.engines.diffusion_precision import (
    apply_module_precision,
    apply_precision,
    choose_precision,
    find_taesd,
    torch_dtype,
)
from studio.engines.image_precision import PRECISIONS, Precision, ResolvedPrecision
from studio.engines.image_requests import PREDICTION_TYPES, ImageRequest, LoadPipelineRequest
from studio.engines.model_hash import HASH_SHARE, file_hash, folder_hash
from studio.engines.protocol import CancelToken, EngineError, EngineEvent, JobCancelled
from studio.engines.results import PipelineLoadResult
from studio.engines.schedulers import Scheduler
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
# last place a single file's tokenizer is looked for. ``make_tokenizers`` sets each family's pad token.
SHIPPED_TOKENIZER_DIR = CONFIGS_DIR / "clip_tokenizer"

# Where a CLIP tokenizer may already sit in a local Hugging Face cache (looked up offline, cache only).
HF_CACHE_TOKENIZERS = (
    ("openai/clip-vit-large-patch14", ""),
    ("stable-diffusion-v1-5/stable-diffusion-v1-5", "tokenizer/"),
    ("runwayml/stable-diffusion-v1-5", "tokenizer/"),
    ("stabilityai/stable-diffusion-xl-base-1.0", "tokenizer/"),
    ("stabilityai/stable-diffusion-2-1", "tokenizer/"),
)


@dataclass
class LoadedModel:
    """The loaded weights, what they were loaded from, and the mode pipelines that share them."""

    key: tuple[str, ...]  # what was asked for (see :func:`model_key`): the same key needs no reload
    path: Path
    name: str
    model_hash: str
    family: str  # sd15 | sd2 | sdxl | other
    source: str  # folder | single_file | memory
    pipe: Any  # the base pipeline: txt2img, or inpaint for a 9-channel inpainting model
    scheduler_class: Any
    scheduler_config: dict[str, Any]
    default_size: int
    inpainting: bool
    pipelines: dict[str, Any] = field(default_factory=dict)  # img2img / inpaint, made with ``from_pipe``
    taesd: Any = None
    taesd_path: str = ""  # the TAESD folder in use ("" without one)
    taesd_error: str = ""
    taesd_requested: str = ""  # the load request's taesd_path ("": look beside the model)
    precision: ResolvedPrecision = field(
        default_factory=lambda: ResolvedPrecision(Precision.FLOAT32, Precision.FLOAT32, False, "as built")
    )

    def candidate_parameters(
        self,
        request: ImageRequest,
        *,
        guidance: float,
        seed: int,
        size: tuple[int, int],
        sampler: str,
        decode: str,
        loras: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The parameters of one image this model made for ``request`` (PNG metadata, history, the UI)."""
        return {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "steps": request.steps,
            "cfg": guidance,
            "seed": seed,
            "width": size[0],
            "height": size[1],
            "sampler": sampler,
            "scheduler": Scheduler(request.scheduler).value,
            "mode": request.mode,
            "strength": request.strength if request.mode.needs_init_image else None,
            "model": self.name,
            "model_hash": self.model_hash[:10],
            "model_family": self.family,
            "precision": self.precision.dtype,
            "decode": decode,
            "loras": loras,
        }

    def describe(self) -> PipelineLoadResult:
        """What a load job reports about this model."""
        return PipelineLoadResult(
            model=self.name,
            model_path=str(self.path),
            model_hash=self.model_hash[:10],
            model_sha256=self.model_hash,
            model_family=self.family,
            family_name=FAMILY_NAMES.get(self.family, "diffusers pipeline"),
            source=self.source,
            default_size=self.default_size,
            inpainting_model=self.inpainting,
            taesd=self.taesd is not None,
            taesd_error=self.taesd_error,
            pipeline=type(self.pipe).__name__,
            precision=self.precision.dtype,
            precision_label=self.precision.label,
            precision_reason=self.precision.reason,
        )


def quiet_libraries() -> None:
    """Silence diffusers' and transformers' logging and progress bars."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def model_key(request: LoadPipelineRequest) -> tuple[str, ...]:
    """What identifies the model ``request`` loads (path, modification time, options); a user-readable
    EngineError if the path or the options are wrong."""
    problem = model_path_problem(request.model_path)
    if problem is not None:
        raise EngineError(problem[0].upper() + problem[1:])
    if request.prediction_type not in PREDICTION_TYPES:
        raise EngineError(f"Unknown prediction type {request.prediction_type!r}.")
    if request.precision and request.precision not in PRECISIONS:
        raise EngineError(f"Unknown precision {request.precision!r} (choose from {', '.join(PRECISIONS)}).")
    path = Path(request.model_path).expanduser().resolve()
    return (
        str(path),
        str(path.stat().st_mtime_ns),
        request.config_dir,
        request.tokenizer_dir,
        request.prediction_type,
    )


def requested_precision(request: LoadPipelineRequest) -> ResolvedPrecision:
    """The precision ``request`` asks for: its own, else the Settings' ``image_precision``."""
    if request.precision:
        return choose_precision(request.precision)
    from studio.settings import load_settings

    return choose_precision(load_settings().image_precision)


def load_model(
    request: LoadPipelineRequest, cancel: CancelToken, precision: ResolvedPrecision | None = None
) -> Generator[EngineEvent, None, LoadedModel]:
    """Check, hash and load the model of ``request`` (and its TAESD) in ``precision`` (default: the one
    ``request`` asks for), yielding load progress."""
    job = request.job_id
    key = model_key(request)
    path = Path(key[0])
    precision = precision or requested_precision(request)
    dtype = torch_dtype(precision)
    yield protocol.progress(job, 0.0, f"Checking {path.name}")
    try:
        if path.is_dir():
            check_folder(path)
            model_hash = yield from folder_hash(path, job, cancel)
            if cancel.is_cancelled:
                raise JobCancelled
            yield protocol.progress(job, HASH_SHARE, f"Loading {path.name}")
            model = load_folder(path, key, model_hash, dtype)
        else:
            info = inspect_checkpoint(path)
            model_hash = yield from file_hash(path, job, cancel)
            if cancel.is_cancelled:
                raise JobCancelled
            yield protocol.progress(job, HASH_SHARE, f"Loading {path.name} ({info.family_name})")
            model = load_single_file(path, info, request, key, model_hash, dtype)
    except CheckpointError as exc:  # a file Studio will not load: its message is the user's
        raise EngineError(str(exc)) from exc
    model.precision = precision
    apply_precision(model.pipe, precision)  # channels_last, and any module the loader left in float32
    attach_taesd(model, request.taesd_path)
    yield protocol.progress(job, 1.0, f"Loaded {model.name}")
    return model


def wrap_pipeline(pipe: Any, name: str = "in-memory", family: str = "") -> LoadedModel:
    """An already built diffusers pipeline as a loaded model (benchmarks, self-checks)."""
    unet = pipe.unet
    default_size = int(unet.config.sample_size) * int(getattr(pipe, "vae_scale_factor", 8))
    inpainting = unet.config.in_channels == 9
    key = ("memory", name, str(id(pipe)))
    model = _assemble(
        pipe, key, Path(name), name, "", family or family_of(pipe), "memory", default_size, inpainting
    )
    dtype = Precision.BFLOAT16 if next(unet.parameters()).dtype == torch.bfloat16 else Precision.FLOAT32
    model.precision = ResolvedPrecision(dtype, dtype, False, f"{dtype} as built")
    return model


def check_folder(path: Path) -> None:
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


def load_folder(
    path: Path, key: tuple[str, ...], model_hash: str, dtype: torch.dtype = torch.float32
) -> LoadedModel:
    """A diffusers folder (``from_pretrained``, local files and safetensors only; no safety checker) with its
    weights in ``dtype``."""
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
            path, local_files_only=True, use_safetensors=True, dtype=dtype, **extra
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
    family = family_of(pipe)
    default_size = int(unet.config.sample_size) * int(getattr(pipe, "vae_scale_factor", 8))
    return _assemble(pipe, key, path, path.name, model_hash, family, "folder", default_size, inpainting)


def load_single_file(
    path: Path,
    info: CheckpointInfo,
    request: LoadPipelineRequest,
    key: tuple[str, ...],
    model_hash: str,
    dtype: torch.dtype = torch.float32,
) -> LoadedModel:
    """A single-file checkpoint (``from_single_file``) with the config folder and tokenizer found for it, with
    its weights in ``dtype``."""
    from diffusers import (
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
        StableDiffusionXLInpaintPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )

    config_dir, own_config = config_dir_for(path, info, request)
    components: dict[str, Any] = {}
    if not _has_tokenizer(config_dir / "tokenizer"):
        components.update(make_tokenizers(path, info, request))
    unet_config = json.loads((config_dir / "unet" / "config.json").read_text(encoding="utf-8"))
    try:
        if unet_config.get("in_channels", 4) != info.in_channels:
            components["unet"] = UNet2DConditionModel.from_single_file(
                str(path),
                config=str(config_dir),
                subfolder="unet",
                in_channels=info.in_channels,
                local_files_only=True,
                dtype=dtype,
            )
        cls: Any
        if info.family == "sdxl":
            cls = StableDiffusionXLInpaintPipeline if info.is_inpainting else StableDiffusionXLPipeline
        else:
            cls = StableDiffusionInpaintPipeline if info.is_inpainting else StableDiffusionPipeline
        pipe = cls.from_single_file(
            str(path), config=str(config_dir), local_files_only=True, dtype=dtype, **components
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
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, prediction_type=prediction)
    if own_config:
        default_size = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    else:
        default_size = info.default_size
    return _assemble(
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


def _assemble(
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


def config_dir_for(path: Path, info: CheckpointInfo, request: LoadPipelineRequest) -> tuple[Path, bool]:
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


def make_tokenizers(path: Path, info: CheckpointInfo, request: LoadPipelineRequest) -> dict[str, Any]:
    """The CLIP tokenizer(s) of ``info``'s family, with each family's pad token."""
    from transformers import CLIPTokenizer

    folder = find_tokenizer(path, info, request)

    def make(pad: str) -> Any:
        return CLIPTokenizer.from_pretrained(
            folder, local_files_only=True, model_max_length=77, pad_token=pad
        )

    if info.family == "sdxl":
        return {"tokenizer": make("<|endoftext|>"), "tokenizer_2": make("!")}
    return {"tokenizer": make("!" if info.family == "sd2" else "<|endoftext|>")}


def find_tokenizer(path: Path, info: CheckpointInfo, request: LoadPipelineRequest) -> Path:
    """The folder of the CLIP tokenizer for a single file: asked for, beside it, in Studio's data folder,
    in the local Hugging Face cache, or shipped with Studio; an EngineError saying where to put one."""
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


def attach_taesd(model: LoadedModel, taesd_path: str) -> None:
    """Load the optional TAESD decoder (previews, fast decode) from ``taesd_path``, or else from a TAESD folder
    inside or beside the model, in the model's precision; a failure only costs the better previews."""
    found = taesd_path
    if not found and model.source != "memory":
        folder = find_taesd(model.path)
        found = str(folder) if folder is not None else ""
    model.taesd, model.taesd_path, model.taesd_error = None, found, ""
    model.taesd_requested = taesd_path
    try:
        model.taesd = load_taesd(found)
    except EngineError as exc:
        model.taesd_error = str(exc)
        log.warning("%s", exc)
    if model.taesd is not None:
        apply_module_precision(model.taesd, model.precision)


def load_taesd(taesd_path: str) -> Any:
    """The TAESD (``AutoencoderTiny``) folder at ``taesd_path`` (or the folder of a file in it); None for ""."""
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


def _has_tokenizer(folder: Path) -> bool:
    """Whether ``folder`` holds CLIP tokenizer files (slow: vocab.json + merges.txt; fast: tokenizer.json)."""
    slow = (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    return slow or (folder / "tokenizer.json").is_file()


def family_of(pipe: Any) -> str:
    """The model family (sd15 | sd2 | sdxl | other) of a built pipeline."""
    name = type(pipe).__name__
    if name.startswith("StableDiffusionXL"):
        return "sdxl"
    if name.startswith("StableDiffusion"):
        encoder = getattr(pipe, "text_encoder", None)
        hidden = getattr(getattr(encoder, "config", None), "hidden_size", 768)
        return "sd2" if hidden == 1024 else "sd15"
    return "other"
