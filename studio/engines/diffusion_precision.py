"""Speed choices of the diffusion engine (engine process only; imports torch).

- Precision: :func:`choose_precision` resolves the Settings choice (Auto, bfloat16, float32) with torch's own
  check, :func:`apply_precision` converts a freshly loaded float32 pipeline (bfloat16 weights and
  ``channels_last`` UNet and VAE where chosen).
- :class:`PromptCache`: the text encoder's output for a repeated prompt (LRU keyed by model, precision,
  prompt, negative prompt and guidance), passed to the pipeline as ``prompt_embeds``.
- Decode: the full VAE, or a TAESD decoder for "fast decode" jobs (:func:`choose_decode`,
  :func:`decode_latents_with_taesd`); :func:`find_taesd` looks for one shipped with the model.
- :func:`peak_memory_bytes`: the process's peak resident memory.
"""

from __future__ import annotations

import functools
import sys
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from studio.engines.image_precision import Precision, ResolvedPrecision, resolve_precision
from studio.models.taesd import taesd_beside

# pipeline modules that run convolutions: they get the channels_last memory format with bfloat16
CONV_MODULES = ("unet", "vae")
# encode_prompt returns these, in this order (SD 1.x/2.x: the first two; SDXL: all four)
EMBEDDING_NAMES = (
    "prompt_embeds",
    "negative_prompt_embeds",
    "pooled_prompt_embeds",
    "negative_pooled_prompt_embeds",
)


@functools.cache
def torch_bf16_supported() -> bool:
    """Whether torch's oneDNN (mkldnn) has bfloat16 kernels on this CPU (it emulates them on AVX-512 CPUs
    without BF16, so this alone does not mean fast)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def choose_precision(requested: Precision | str) -> ResolvedPrecision:
    """What ``requested`` (a Settings or request value) means on this machine."""
    return resolve_precision(requested, torch_bf16=torch_bf16_supported())


def torch_dtype(precision: ResolvedPrecision) -> torch.dtype:
    """The torch dtype of a resolved precision."""
    return torch.bfloat16 if precision.is_bfloat16 else torch.float32


def pipeline_dtype(pipe: Any) -> torch.dtype:
    """The dtype of a pipeline's UNet (the one that sets the pace)."""
    return next(pipe.unet.parameters()).dtype


def apply_precision(pipe: Any, precision: ResolvedPrecision) -> Any:
    """Convert every torch module of ``pipe`` to ``precision``'s dtype, with ``channels_last`` for the UNet and
    VAE where chosen; returns ``pipe``.

    Meant for freshly loaded float32 weights: going from bfloat16 back to float32 does not bring back the
    lost digits (load again instead).
    """
    for name, module in pipe.components.items():
        if isinstance(module, torch.nn.Module):
            apply_module_precision(module, precision, convolutional=name in CONV_MODULES)
    return pipe


def apply_module_precision(module: Any, precision: ResolvedPrecision, convolutional: bool = True) -> None:
    """One module (e.g. a TAESD) in ``precision``'s dtype and, if it is ``convolutional``, in the memory
    format the precision asks for (``channels_last`` or the default contiguous one)."""
    module.to(dtype=torch_dtype(precision))
    if convolutional:
        module.to(memory_format=torch.channels_last if precision.channels_last else torch.contiguous_format)


class PromptCache:
    """The text encoder's outputs for the last few prompts (least recently used goes first).

    A key holds everything the embeddings depend on: a token of the loaded weights and their precision
    (the caller's ``model``), the prompt, the negative prompt and whether classifier-free guidance needs the
    negative embeddings at all. Whoever changes the text encoder's weights in place (a LoRA on the text
    encoder) must :meth:`clear` it or put the change in ``model``.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, dict[str, torch.Tensor]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (the model or its precision changed)."""
        self._entries.clear()

    def embeddings(
        self, pipe: Any, model: Hashable, prompt: str, negative_prompt: str, guidance: float
    ) -> dict[str, torch.Tensor]:
        """The ``prompt_embeds`` (and negative / pooled) keyword arguments for ``pipe``, encoded now or
        taken from the cache."""
        cfg = uses_guidance(pipe, guidance)
        key = (model, prompt, negative_prompt if cfg else "", cfg)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return dict(cached)
        self.misses += 1
        with torch.no_grad():
            encoded = pipe.encode_prompt(
                prompt=prompt,
                device=torch.device("cpu"),
                num_images_per_prompt=1,
                do_classifier_free_guidance=cfg,
                negative_prompt=(negative_prompt or None) if cfg else None,
            )
        arguments = {
            name: tensor for name, tensor in zip(EMBEDDING_NAMES, encoded, strict=False) if tensor is not None
        }
        self._entries[key] = arguments
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return dict(arguments)


def uses_guidance(pipe: Any, guidance: float) -> bool:
    """Whether ``pipe`` runs classifier-free guidance at ``guidance`` (diffusers' own rule: above 1, and
    not for a UNet with a guidance embedding such as LCM's)."""
    config = getattr(getattr(pipe, "unet", None), "config", None)
    return guidance > 1 and getattr(config, "time_cond_proj_dim", None) is None


@dataclass(frozen=True, slots=True)
class DecodeChoice:
    """How a job turns its final latents into pixels: ``vae`` (the model's own) or ``taesd`` (fast)."""

    kind: str
    reason: str

    @property
    def fast(self) -> bool:
        """True when the TAESD decodes the image."""
        return self.kind == "taesd"


FULL_DECODE = DecodeChoice("vae", "full VAE decode")


def choose_decode(fast_decode: bool, taesd: Any) -> DecodeChoice:
    """The decoder for a job that asked for ``fast_decode`` (or not), given the loaded TAESD (or None)."""
    if not fast_decode:
        return FULL_DECODE
    if taesd is None:
        return DecodeChoice("vae", "full VAE decode: fast decode needs a TAESD decoder beside the model")
    return DecodeChoice("taesd", "fast decode (TAESD)")


def decode_latents_with_taesd(latents: torch.Tensor, taesd: Any) -> Image.Image:
    """The first latent of a batch (in the pipeline's scaled latent space) decoded by a TAESD."""
    with torch.no_grad():
        sample = latents[:1].to(dtype=next(taesd.parameters()).dtype)
        decoded = taesd.decode(sample).sample[0]
    pixels = ((decoded.float() + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8)
    return Image.fromarray(np.ascontiguousarray(pixels.permute(1, 2, 0).numpy()), "RGB")


def find_taesd(model_path: Path) -> Path | None:
    """A TAESD (``AutoencoderTiny``) folder shipped with a model: inside a diffusers folder (``taesd/``,
    ``taesdxl/``, ...), or beside a single file (``<stem>.taesd/``, then ``taesd/`` ...); None if none. The
    same lookup as the GUI's (:func:`studio.models.taesd.taesd_beside`)."""
    return taesd_beside(model_path)


def peak_memory_bytes() -> int:
    """The peak resident memory of this process so far, in bytes (0 where the OS does not say)."""
    try:
        import resource  # POSIX only
    except ImportError:
        return 0
    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (OSError, ValueError):
        return 0
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # Linux reports KiB


__all__ = [
    "FULL_DECODE",
    "DecodeChoice",
    "PromptCache",
    "apply_module_precision",
    "apply_precision",
    "choose_decode",
    "choose_precision",
    "decode_latents_with_taesd",
    "find_taesd",
    "peak_memory_bytes",
    "pipeline_dtype",
    "torch_bf16_supported",
    "torch_dtype",
    "uses_guidance",
]
