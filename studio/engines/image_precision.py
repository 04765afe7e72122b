"""Which number format the diffusion engine computes in: the Settings choice and how Auto resolves.

Torch-free (the GUI shows the choice): :func:`resolve_precision` decides from the CPU's flags and, in the
engine process, torch's own bfloat16 check (:mod:`studio.engines.diffusion_precision` applies the result).
bfloat16 weights with ``channels_last`` run an SD 1.5 UNet step about 3.7× and the VAE decode about 5.7×
faster than float32 on CPUs with native bfloat16 (AVX-512 BF16 or AMX); elsewhere oneDNN emulates it and
float32 is faster. In float32, ``channels_last`` alone made the VAE decode 1.2× and a TAESD decode 1.4× faster
(UNet step 1.03×) on an AVX2-only AMD EPYC, so Auto keeps it on x86 CPUs (oneDNN's layout); an explicit
float32 choice stays diffusers' own contiguous layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from studio.cpu import CpuInfo, cpu_info


class Precision(StrEnum):
    """The user's choice (Settings, image requests)."""

    AUTO = "auto"
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"

    @property
    def label(self) -> str:
        """The choice as the Settings dialog names it."""
        return PRECISION_LABELS[self]

    @classmethod
    def parse(cls, value: object) -> Precision:
        """``value`` as a Precision; anything unknown (an old or hand-edited settings file) is Auto."""
        try:
            return cls(str(value).lower())
        except ValueError:
            return cls.AUTO


PRECISIONS = tuple(precision.value for precision in Precision)
PRECISION_LABELS = {
    Precision.AUTO: "Automatic (bfloat16 where the CPU has it natively)",
    Precision.BFLOAT16: "bfloat16 (fast on AVX-512 BF16 / AMX CPUs)",
    Precision.FLOAT32: "float32 (exact, slower)",
}


@dataclass(frozen=True, slots=True)
class ResolvedPrecision:
    """What the engine computes in for a choice: ``dtype`` (``bfloat16`` | ``float32``), whether the UNet and
    VAE use the ``channels_last`` memory format, and a sentence saying why."""

    requested: Precision
    dtype: str
    channels_last: bool
    reason: str

    @property
    def is_bfloat16(self) -> bool:
        """True when the weights are bfloat16."""
        return self.dtype == Precision.BFLOAT16

    @property
    def label(self) -> str:
        """Short text shown with the model, e.g. ``bfloat16 (auto)``."""
        return f"{self.dtype} (auto)" if self.requested is Precision.AUTO else str(self.dtype)


def resolve_precision(
    requested: Precision | str, cpu: CpuInfo | None = None, torch_bf16: bool | None = None
) -> ResolvedPrecision:
    """The precision a ``requested`` choice means on ``cpu`` (default: this machine's).

    ``torch_bf16``: whether torch's oneDNN has bfloat16 kernels here (``None``: not asked, e.g. in the GUI,
    which never imports torch). Auto picks bfloat16 only where the CPU has native bfloat16 instructions and
    torch does not say no; an explicit bfloat16 is honoured wherever torch can run it.
    """
    choice = Precision.parse(requested)
    cpu = cpu or cpu_info()
    native = cpu.native_bf16
    fp32_channels_last = choice is Precision.AUTO and "avx2" in cpu.flags
    layout = " with channels_last" if fp32_channels_last else ""
    if choice is Precision.FLOAT32:
        return ResolvedPrecision(choice, Precision.FLOAT32, False, "float32 chosen in Settings")
    if torch_bf16 is False:
        return ResolvedPrecision(
            choice,
            Precision.FLOAT32,
            fp32_channels_last,
            f"float32{layout}: torch has no bfloat16 kernels on this CPU",
        )
    if choice is Precision.BFLOAT16:
        reason = "bfloat16 chosen in Settings" + (
            f" (the CPU has {native})" if native else " (the CPU has no native bfloat16: slower than float32)"
        )
        return ResolvedPrecision(choice, Precision.BFLOAT16, True, reason)
    if native:
        return ResolvedPrecision(choice, Precision.BFLOAT16, True, f"Auto: bfloat16, the CPU has {native}")
    return ResolvedPrecision(
        choice,
        Precision.FLOAT32,
        fp32_channels_last,
        f"Auto: float32{layout}, the CPU has no AVX-512 BF16 or AMX",
    )
