"""Requests of the diffusion engine, and torch-free helpers around them (size parsing, A1111 parameters).

Plain picklable data: the GUI and the CLI build these without importing torch or diffusers. Images cross
the process boundary as PNG bytes.

Results: a generation job ends with **one** ``result`` event (a terminal event ends a job in the protocol):
``image`` is the first candidate's PNG and ``result`` an :class:`~studio.engines.results.ImageResult` with all
candidates' PNGs in order (``images``) and one parameter dict per candidate (``candidates``) (its own ``seed``: candidate ``i`` uses ``seed + i``,
so it is bit-identical to a single-candidate request with that seed). When ``num_candidates > 1`` each
candidate is also sent as soon as it is done, as a ``preview`` event whose ``data`` has ``final=True`` and
``candidate=i``. A cancelled job's ``cancelled`` event carries the candidates finished before the cancel in
the same ``images`` / ``candidates`` keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import studio
from studio.engines.lora_files import check_loras, lora_hashes_text, lora_prompt_tags
from studio.engines.protocol import EngineRequest
from studio.engines.results import ImageResult, PipelineLoadResult
from studio.engines.schedulers import SCHEDULERS, Scheduler


class GenerationMode(StrEnum):
    """What an image job does: draw from nothing, vary an init image, or fill its masked part."""

    TEXT_TO_IMAGE = "txt2img"
    IMAGE_TO_IMAGE = "img2img"
    INPAINT = "inpaint"
    OUTPAINT = "outpaint"

    @property
    def needs_init_image(self) -> bool:
        """True for the modes that change an init image."""
        return self is not GenerationMode.TEXT_TO_IMAGE

    @property
    def needs_mask(self) -> bool:
        """True for the modes that regenerate only a masked part."""
        return self in (GenerationMode.INPAINT, GenerationMode.OUTPAINT)


MODES = tuple(mode.value for mode in GenerationMode)
INIT_MODES = tuple(mode.value for mode in GenerationMode if mode.needs_init_image)
PREVIEW_KINDS = ("latent", "taesd", "none")
PREDICTION_TYPES = ("auto", "epsilon", "v_prediction")

MIN_SIDE, MAX_SIDE = 64, 2048
MAX_SEED = 2**63 - 1


@dataclass(frozen=True, slots=True)
class LoadPipelineRequest(EngineRequest[PipelineLoadResult]):
    """Load a diffusion model: a diffusers folder or a single-file ``.safetensors`` SD 1.x/2.x/XL checkpoint.

    ``taesd_path``: an optional local ``AutoencoderTiny`` folder for better previews. ``config_dir``: a
    diffusers config folder to use instead of the one found beside the file or shipped with Studio.
    ``tokenizer_dir``: a folder with CLIP ``vocab.json`` and ``merges.txt`` to use instead of the copy Studio
    ships. ``prediction_type``: ``auto`` or a forced ``epsilon`` / ``v_prediction`` (SD 2.x).
    ``precision``: ``auto``, ``bfloat16`` or ``float32`` (see :mod:`studio.engines.image_precision`); empty: the
    Settings' ``image_precision``. The same model asked for in another precision is loaded again. Without a
    ``taesd_path``, a TAESD folder inside the model folder (``taesd/``) or beside the file is used.
    The result (a :class:`~studio.engines.results.PipelineLoadResult`) describes the model (name, hash, family,
    default size, inpainting).
    """

    engine_kind: ClassVar[str] = "diffusion"
    model_path: str = ""
    taesd_path: str = ""
    config_dir: str = ""
    tokenizer_dir: str = ""
    prediction_type: str = "auto"
    precision: str = ""


@dataclass(frozen=True, slots=True)
class UnloadPipelineRequest(EngineRequest[None]):
    """Free the loaded model's memory."""

    engine_kind: ClassVar[str] = "diffusion"


@dataclass(frozen=True, slots=True)
class ImageRequest(EngineRequest[ImageResult]):
    """Generate ``num_candidates`` images.

    ``mode``: ``txt2img``; ``img2img`` (``init_image`` changed by ``strength``, running ``int(steps *
    strength)`` steps); ``inpaint`` (``mask_image`` white = regenerate; without a mask, the transparent part of
    an RGBA ``init_image``); ``outpaint`` (like inpaint on an already enlarged canvas: the masked/transparent
    part is first filled from its surroundings). Keeping unmasked pixels exact is the canvas's job.
    ``width``/``height`` 0: the init image's size (rounded down to a multiple of 8) or the model's native size.
    ``seed`` < 0 picks a random seed (reported in the result). ``model_path``: the model this job is for; a
    generation never loads one: send a :class:`LoadPipelineRequest` first, else the job ends with an error
    when no model or another one is loaded (empty: whichever is loaded). ``preview_every``: a preview every N
    steps (0: none).
    ``fast_decode``: decode the final image with the model's TAESD (drafts, live mode) instead of its VAE;
    without a TAESD the VAE decodes (the candidate's ``decode`` says which).
    """

    engine_kind: ClassVar[str] = "diffusion"
    mode: GenerationMode = GenerationMode.TEXT_TO_IMAGE
    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 20
    guidance: float = 7.0
    seed: int = 0
    width: int = 512
    height: int = 512
    scheduler: str = Scheduler.DEFAULT  # a Scheduler value
    num_candidates: int = 1
    init_image: bytes | None = None
    mask_image: bytes | None = None
    strength: float = 0.75
    preview_every: int = 1
    preview_kind: str = "latent"
    model_path: str = ""
    fast_decode: bool = False
    loras: tuple[tuple[str, float], ...] = ()  # (path of a .safetensors LoRA, weight), applied in this order

    def __post_init__(self) -> None:
        # a known mode given as a plain string (the CLI, old callers) becomes the enum; an unknown one stays
        # as given, for problem() to name
        if not isinstance(self.mode, GenerationMode) and self.mode in MODES:
            object.__setattr__(self, "mode", GenerationMode(self.mode))
        object.__setattr__(self, "loras", tuple((str(path), float(weight)) for path, weight in self.loras))

    def problem(self) -> str | None:
        """What is wrong with this request (a message for the user), or None."""
        if self.mode not in MODES:
            return f"unknown mode {self.mode!r} (choose from {', '.join(MODES)})"
        if self.scheduler not in SCHEDULERS:
            return f"unknown scheduler {self.scheduler!r} (choose from {', '.join(SCHEDULERS)})"
        if self.preview_kind not in PREVIEW_KINDS:
            return f"unknown preview kind {self.preview_kind!r} (choose from {', '.join(PREVIEW_KINDS)})"
        if not 1 <= self.steps <= 500:
            return f"steps must be between 1 and 500 (got {self.steps})"
        if not 0.0 <= self.guidance <= 50.0:
            return f"guidance must be between 0 and 50 (got {self.guidance})"
        if not 1 <= self.num_candidates <= 64:
            return f"the number of candidates must be between 1 and 64 (got {self.num_candidates})"
        if self.seed > MAX_SEED:
            return f"seed must be below 2^63 (got {self.seed})"
        if self.preview_every < 0:
            return "preview_every must be 0 or more"
        for name, side in (("width", self.width), ("height", self.height)):
            if side != 0 and (side % 8 or not MIN_SIDE <= side <= MAX_SIDE):
                return f"{name} must be a multiple of 8 between {MIN_SIDE} and {MAX_SIDE} (got {side})"
        if self.mode != GenerationMode.TEXT_TO_IMAGE:
            if not self.init_image:
                return f"{self.mode} needs an init image"
            if not 0.0 < self.strength <= 1.0:
                return f"strength must be above 0 and at most 1 (got {self.strength})"
            if self.mode == GenerationMode.IMAGE_TO_IMAGE and int(self.steps * self.strength) < 1:
                return f"steps × strength must be at least 1 (got {self.steps} × {self.strength})"
        lora_problem = check_loras(self.loras)
        if lora_problem is not None:
            return lora_problem
        return None


def parse_size(text: str) -> tuple[int, int]:
    """``"512x768"`` → (512, 768); raises ValueError with a user message."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise ValueError(f"bad size {text!r}: use WIDTHxHEIGHT, e.g. 512x512")
    width, height = (int(part) for part in parts)
    for side in (width, height):
        if side % 8 or not MIN_SIDE <= side <= MAX_SIDE:
            raise ValueError(
                f"bad size {text!r}: each side must be a multiple of 8 between {MIN_SIDE} and {MAX_SIDE}"
            )
    return width, height


def a1111_quote(value: object) -> str:
    """A parameter value as AUTOMATIC1111 writes it: JSON-quoted when it holds ``,``, ``:`` or a newline."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text and not text.startswith('"'):
        return text
    return json.dumps(text, ensure_ascii=False)


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else str(value)


def format_parameters(params: Mapping[str, Any], extra: Mapping[str, object] | None = None) -> str:
    """The AUTOMATIC1111 ``parameters`` text of one generation: the prompt, ``Negative prompt: …``, then
    ``Key: value`` pairs ending with Studio's version.

    ``params`` has the keys of a result's ``data`` or one of its ``candidates`` (``prompt``, ``steps``,
    ``cfg``, ``seed``, ``width``, ``height``, ``sampler``, ``model``, ``model_hash``, ``precision``; ``mode``
    and ``strength`` add ``Denoising strength``; ``decode`` ``taesd`` adds ``Decode: TAESD``); ``extra`` adds
    more pairs before the version. The one A1111 formatter: the engine's results and every PNG Studio writes
    use it.
    """
    width, height = params.get("width"), params.get("height")
    pairs: list[tuple[str, object]] = [
        ("Steps", params.get("steps")),
        ("Sampler", params.get("sampler")),
        ("CFG scale", params.get("cfg")),
        ("Seed", params.get("seed")),
        ("Size", f"{width}x{height}" if width is not None and height is not None else None),
        ("Model hash", params.get("model_hash")),
        ("Model", params.get("model")),
        ("Lora hashes", lora_hashes_text(params)),
        ("Precision", params.get("precision")),
    ]
    if params.get("decode") == "taesd":
        pairs.append(("Decode", "TAESD"))
    if params.get("mode") in INIT_MODES:
        pairs.append(("Denoising strength", params.get("strength")))
    pairs.extend((extra or {}).items())
    pairs.append(("Version", f"Studio {studio.__version__}"))
    tags = lora_prompt_tags(params)  # A1111 appends <lora:name:weight> to the prompt
    lines = [f"{str(params.get('prompt') or '').strip()} {tags}".strip()]
    negative = str(params.get("negative_prompt") or "").strip()
    if negative:
        lines.append(f"Negative prompt: {negative}")
    lines.append(
        ", ".join(
            f"{key}: {a1111_quote(_number(value) if isinstance(value, float) else value)}"
            for key, value in pairs
            if value is not None and value != ""
        )
    )
    return "\n".join(lines)
