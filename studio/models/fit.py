"""Will it fit? An estimate of the memory a model needs, against the memory free now.

LLM (llama.cpp, weights memory-mapped): the weights are the file; the KV cache is
``layers x context x kv_heads x (key_length + value_length) x 2 bytes`` (f16 cache, every layer at the full
context, which is what llama.cpp allocates); plus compute buffers and bookkeeping, taken as 64 MiB + 10 % of
the weights. Measured on the default Gemma 3 270M (tests/models/test_fit_real_load.py): the estimate is never
below the engine's real memory growth and at most 30 % above it.

Diffusion (diffusers on the CPU): the weights at the chosen precision (parameters x 4 or 2 bytes) plus the
activations of one generation, which grow with the pixel count; the VAE decode is the peak. Measured here on an
SD 1.5 pipeline (random weights, float32, 512x512, CFG batch of 2, 2 threads): the weights took 4.27 GB
(1.07 B parameters x 4) and the peak of one UNet step plus the VAE decode 1.20 GB more, i.e. about 1,140
bytes per pixel per byte of precision; 1,150 is used. SDXL (same VAE, wider UNet) gets a quarter more; that
and bfloat16 halving the activations are not measured.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from studio.models.registry import DECODER, DIFFUSION, ModelEntry, ModelKind

MIB = 1024 * 1024
LLM_OVERHEAD_BYTES = 64 * MIB
LLM_OVERHEAD_SHARE = 0.10
KV_BYTES_PER_VALUE = 2  # f16 cache
DIFFUSION_ACTIVATION_BYTES_PER_PIXEL = 1150  # per pixel and per byte of the precision (measured, see above)
DIFFUSION_OVERHEAD_BYTES = 256 * MIB  # torch, diffusers, tokenizer
PRECISION_BYTES = {"float32": 4, "bfloat16": 2, "auto": 4}  # auto may become bfloat16: keep the larger
TIGHT_SHARE = 0.85  # above this share of the free memory, the fit is tight


class Verdict(StrEnum):
    FITS = "fits"
    TIGHT = "tight"  # fits, but little is left for the rest of the system
    TOO_BIG = "too big"  # would swap
    UNKNOWN = "unknown"  # the header did not say enough, or the free memory is unknown


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a model needs, by part. ``complete`` is False when the header lacked numbers (a lower bound then)."""

    weights: int
    cache: int = 0  # KV cache (LLM)
    activations: int = 0  # one generation's working memory (diffusion)
    overhead: int = 0
    complete: bool = True

    @property
    def total(self) -> int:
        return self.weights + self.cache + self.activations + self.overhead


@dataclass(frozen=True)
class Fit:
    """An estimate set against the memory available."""

    estimate: MemoryEstimate
    available: int | None
    verdict: Verdict
    message: str


def format_bytes(count: float) -> str:
    """``count`` bytes for people: 253 MB, 1.4 GB."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(count) >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(count)} B"


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Bytes of memory available now without swapping (MemAvailable), or None where it cannot be read."""
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    with contextlib.suppress(ImportError, OSError, AttributeError):
        import psutil  # type: ignore[import-untyped]  # only where it is already installed (macOS, Windows)

        return int(psutil.virtual_memory().available)
    return None


def kv_cache_bytes(entry: ModelEntry, context: int) -> int | None:
    """The KV cache of ``entry`` at ``context`` tokens, or None when its header lacks the numbers."""
    shape = entry.shape
    layers = shape.get("layers", 0)
    heads = shape.get("heads", 0)
    kv_heads = shape.get("kv_heads", 0) or heads
    embedding = shape.get("embedding", 0)
    head_size = embedding // heads if heads else 0
    key_length = shape.get("key_length", 0) or head_size
    value_length = shape.get("value_length", 0) or head_size
    if not (layers and kv_heads and key_length and value_length and context > 0):
        return None
    return layers * context * kv_heads * (key_length + value_length) * KV_BYTES_PER_VALUE


def estimate_llm(entry: ModelEntry, context: int) -> MemoryEstimate:
    """Memory for loading the GGUF ``entry`` with ``context`` tokens of context."""
    weights = entry.size_bytes
    cache = kv_cache_bytes(entry, context)
    overhead = LLM_OVERHEAD_BYTES + int(weights * LLM_OVERHEAD_SHARE)
    return MemoryEstimate(weights=weights, cache=cache or 0, overhead=overhead, complete=cache is not None)


def estimate_diffusion(entry: ModelEntry, precision: str, width: int, height: int) -> MemoryEstimate:
    """Memory for the image model ``entry`` at ``precision`` generating ``width`` x ``height`` images."""
    element = PRECISION_BYTES.get(precision, 4)
    if entry.model_kind is ModelKind.LORA:
        return MemoryEstimate(weights=entry.parameters * element, complete=entry.parameters > 0)
    weights = entry.parameters * element if entry.parameters else entry.size_bytes
    scale = 1.25 if entry.model_kind is ModelKind.SDXL else 1.0
    activations = int(width * height * element * DIFFUSION_ACTIVATION_BYTES_PER_PIXEL * scale)
    return MemoryEstimate(
        weights=weights,
        activations=activations,
        overhead=DIFFUSION_OVERHEAD_BYTES,
        complete=entry.parameters > 0,
    )


def estimate(entry: ModelEntry, settings: dict[str, object] | None = None) -> MemoryEstimate:
    """The estimate for ``entry`` at its settings (``settings`` overrides the stored ones)."""
    from studio.models.model_settings import clean_settings

    if entry.engine == DECODER:  # a TAESD: float32 weights beside the model; its decode is small
        weights = entry.parameters * 4 if entry.parameters else entry.size_bytes
        return MemoryEstimate(weights=weights, complete=weights > 0)
    values = clean_settings(entry, settings)
    if entry.engine == DIFFUSION:
        return estimate_diffusion(
            entry, str(values["precision"]), int(values["width"]), int(values["height"])
        )
    return estimate_llm(entry, int(values["context"]))


def judge(needed: MemoryEstimate, available: int | None) -> Fit:
    """Set ``needed`` against ``available`` bytes and say it in words."""
    need = format_bytes(needed.total)
    if not needed.complete and needed.total == 0:
        return Fit(
            needed, available, Verdict.UNKNOWN, "Memory need unknown: verify the model to read its header."
        )
    prefix = f"Needs about {need}" if needed.complete else f"Needs at least {need}"
    if available is None:
        return Fit(needed, available, Verdict.UNKNOWN, f"{prefix}; free memory unknown.")
    free = format_bytes(available)
    if needed.total > available:
        return Fit(
            needed,
            available,
            Verdict.TOO_BIG,
            f"{prefix} but only {free} is free: loading it would swap and slow the whole computer. "
            "Close other programs, or choose a smaller model, quantization, precision, context or image size.",
        )
    if needed.total > available * TIGHT_SHARE:
        return Fit(
            needed, available, Verdict.TIGHT, f"{prefix} of {free} free: tight, other programs may slow down."
        )
    verdict = Verdict.FITS if needed.complete else Verdict.UNKNOWN
    return Fit(needed, available, verdict, f"{prefix} of {free} free.")


def check_fit(
    entry: ModelEntry, settings: dict[str, object] | None = None, available: int | None = None
) -> Fit:
    """Will ``entry`` fit now at its settings? ``available`` defaults to the memory available now."""
    return judge(estimate(entry, settings), available if available is not None else available_memory())
