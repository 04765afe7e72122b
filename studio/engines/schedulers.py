"""The one scheduler table: Studio's scheduler names, their labels, A1111 sampler names and diffusers setup.

Plain data, no torch or diffusers: the Generate panel, the request builder and the diffusion engine all read
it. The engine turns :attr:`SchedulerSpec.diffusers_class` and :attr:`SchedulerSpec.options` into a
scheduler object; :attr:`SchedulerSpec.guidance` overrides the requested guidance (the few-step Turbo preset
runs without classifier-free guidance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Scheduler(StrEnum):
    """A scheduler the diffusion engine can run (the value is what requests and the CLI carry)."""

    DEFAULT = "default"  # whatever scheduler the model came with
    EULER = "euler"
    EULER_A = "euler_a"
    DPM_PP = "dpm++"
    DPM_PP_KARRAS = "dpm++_karras"
    DDIM = "ddim"
    UNIPC = "unipc"
    LCM = "lcm"  # few steps: LCM / LCM-LoRA models
    TURBO = "turbo"  # few steps: SD-Turbo / SDXL-Turbo


@dataclass(frozen=True)
class SchedulerSpec:
    """How one scheduler is shown, written into provenance and built."""

    label: str  # shown in the Generate panel
    sampler: str  # AUTOMATIC1111's sampler name ("" for the model's default: named from its class)
    diffusers_class: str  # "" for the model's own scheduler class
    options: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    guidance: float | None = None  # forced guidance (None: the request's)
    aliases: tuple[str, ...] = ()  # other tools' names for it, lower-case (A1111, ComfyUI, InvokeAI)


def _options(**values: Any) -> MappingProxyType[str, Any]:
    return MappingProxyType(values)


SCHEDULER_SPECS: MappingProxyType[Scheduler, SchedulerSpec] = MappingProxyType(
    {
        Scheduler.DEFAULT: SchedulerSpec("Model default", "", ""),
        Scheduler.EULER: SchedulerSpec("Euler", "Euler", "EulerDiscreteScheduler", aliases=("euler",)),
        Scheduler.EULER_A: SchedulerSpec(
            "Euler a",
            "Euler a",
            "EulerAncestralDiscreteScheduler",
            aliases=("euler a", "euler_a", "euler_ancestral"),
        ),
        Scheduler.DPM_PP: SchedulerSpec(
            "DPM++ 2M",
            "DPM++ 2M",
            "DPMSolverMultistepScheduler",
            _options(algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=False),
            aliases=("dpm++ 2m", "dpmpp_2m", "dpm++"),
        ),
        Scheduler.DPM_PP_KARRAS: SchedulerSpec(
            "DPM++ 2M Karras",
            "DPM++ 2M Karras",
            "DPMSolverMultistepScheduler",
            _options(algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=True),
            aliases=("dpm++ 2m karras", "dpmpp_2m_k", "dpm++_karras"),
        ),
        Scheduler.DDIM: SchedulerSpec("DDIM", "DDIM", "DDIMScheduler", aliases=("ddim",)),
        Scheduler.UNIPC: SchedulerSpec(
            "UniPC", "UniPC", "UniPCMultistepScheduler", aliases=("unipc", "uni_pc")
        ),
        Scheduler.LCM: SchedulerSpec("LCM (few steps)", "LCM", "LCMScheduler", aliases=("lcm",)),
        Scheduler.TURBO: SchedulerSpec(
            "Turbo (1–4 steps)",
            "Euler a",
            "EulerAncestralDiscreteScheduler",
            _options(timestep_spacing="trailing"),
            guidance=0.0,
            aliases=("turbo",),
        ),
    }
)

SCHEDULERS: tuple[str, ...] = tuple(Scheduler)  # every value, in the panel's order

# A1111's sampler names for the schedulers models ship with (diffusers class name → sampler), used when a
# request keeps the model's default scheduler.
DEFAULT_SAMPLER_NAMES = MappingProxyType(
    {
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
)

_BY_ALIAS = {alias: scheduler for scheduler, spec in SCHEDULER_SPECS.items() for alias in spec.aliases}


def parse_scheduler(name: str) -> Scheduler | None:
    """The scheduler called ``name`` (a value such as ``"euler_a"``), or None."""
    try:
        return Scheduler(name)
    except ValueError:
        return None


def scheduler_for_sampler(sampler: str | None) -> Scheduler | None:
    """Studio's scheduler for another tool's sampler name (``"Euler a"`` → ``euler_a``), or None."""
    if not sampler:
        return None
    return _BY_ALIAS.get(sampler.strip().lower())


def default_sampler_name(class_name: str) -> str:
    """The A1111 sampler name of a model's own scheduler class (the class name when A1111 has none)."""
    return DEFAULT_SAMPLER_NAMES.get(class_name, class_name)
