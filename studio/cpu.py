"""What this computer's CPU is and can do: model name, instruction-set flags, AMX, physical cores. Qt-free.

Read from ``/proc/cpuinfo`` and ``/sys`` on Linux, ``sysctl`` on macOS; elsewhere the answers fall back to what
:mod:`platform` and :func:`os.cpu_count` know.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

AMX_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16", "amx_fp16", "amx_complex"})
"""Linux ``/proc/cpuinfo`` flags of Intel's Advanced Matrix Extensions."""

REPORTED_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "neon",
    "asimd",
    "sve",
)
"""The flags that matter to llama.cpp and torch, in the order a bug report lists them."""


@dataclass(frozen=True, slots=True)
class CpuInfo:
    """The CPU as the operating system describes it."""

    model: str
    flags: frozenset[str]
    logical_cores: int
    physical_cores: int

    @property
    def has_amx(self) -> bool:
        """True when the CPU has Intel AMX (the tile instructions llama.cpp's AMX kernels use)."""
        return bool(self.flags & AMX_FLAGS)

    @property
    def native_bf16(self) -> str:
        """The CPU's native bfloat16 instructions, which oneDNN uses for torch's bfloat16 convolutions and
        matrix products: ``AMX`` or ``AVX-512 BF16`` (``/proc/cpuinfo`` flags), or "" without."""
        if "amx_bf16" in self.flags:
            return "AMX"
        if "avx512_bf16" in self.flags:
            return "AVX-512 BF16"
        return ""

    @property
    def reported_flags(self) -> list[str]:
        """The flags of :data:`REPORTED_FLAGS` this CPU has."""
        return [flag for flag in REPORTED_FLAGS if flag in self.flags]


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str], int]:
    """Model name, flags and physical core count from the text of Linux's ``/proc/cpuinfo``.

    Physical cores are the distinct (physical id, core id) pairs; 0 when the file does not say.
    """
    model = ""
    flags: set[str] = set()
    cores: set[tuple[str, str]] = set()
    physical_id = core_id = ""
    for block in text.split("\n\n"):
        physical_id = core_id = ""
        for line in block.splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key in ("model name", "Model", "Hardware") and not model:
                model = value
            elif key in ("flags", "Features"):
                flags.update(value.split())
            elif key == "physical id":
                physical_id = value
            elif key == "core id":
                core_id = value
        if core_id:
            cores.add((physical_id, core_id))
    return model, frozenset(flags), len(cores)


def _sysctl(name: str) -> str:
    try:
        return subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _linux_physical_cores_from_sys() -> int:
    """Distinct core ids under ``/sys/devices/system/cpu`` (containers often hide them in cpuinfo)."""
    seen: set[tuple[str, str]] = set()
    for topology in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/topology"):
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            continue
        seen.add((package, core))
    return len(seen)


def _usable_logical_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


@functools.cache
def cpu_info() -> CpuInfo:
    """This machine's CPU (read once per process)."""
    logical = _usable_logical_cores()
    model, flags, physical = "", frozenset[str](), 0
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            model, flags, physical = parse_cpuinfo(Path("/proc/cpuinfo").read_text(errors="replace"))
        physical = physical or _linux_physical_cores_from_sys()
        total_logical = max(1, os.cpu_count() or 1)
        if physical and logical < total_logical:
            # an affinity mask (taskset, a container) limits us: scale the physical count down with it
            physical = max(1, round(physical * logical / total_logical))
    elif sys.platform == "darwin":
        model = _sysctl("machdep.cpu.brand_string")
        flags = frozenset(
            flag.lower().replace(".", "_")
            for flag in (
                _sysctl("machdep.cpu.features") + " " + _sysctl("machdep.cpu.leaf7_features")
            ).split()
        )
        physical = int(_sysctl("hw.physicalcpu") or 0)
    model = model or platform.processor() or platform.machine()
    physical = min(physical, logical) if physical else logical
    return CpuInfo(model=model, flags=flags, logical_cores=logical, physical_cores=max(1, physical))


def physical_cores() -> int:
    """The number of physical cores this process may use: the default thread count for llama.cpp and torch
    (hyper-threads slow llama.cpp down)."""
    return cpu_info().physical_cores


def default_threads(requested: int = 0) -> int:
    """``requested`` when it is positive, else one thread per physical core."""
    return requested if requested > 0 else physical_cores()


def has_amx() -> bool:
    """True when this CPU has Intel AMX."""
    return cpu_info().has_amx


def native_bf16() -> str:
    """This CPU's native bfloat16 instructions (``AMX``, ``AVX-512 BF16``), or "" when it has none."""
    return cpu_info().native_bf16
