"""The facts of a system report that need llama.cpp or torch imported, for ``studio --system-info`` (and the
About dialog's child process). Qt-free. The GUI process never imports this module: :mod:`studio.system_info`
holds everything it shows at once and leaves these facts pending.
"""

from __future__ import annotations

from pathlib import Path

from studio import system_info
from studio.settings import Settings
from studio.system_info import (
    LLAMA_RUNTIME_KEYS,
    TORCH_RUNTIME_KEYS,
    RuntimeProbes,
    SystemReport,
    safe_probe,
    unavailable,
)


def _loaded_ggml_libraries() -> str:
    """The ggml and llama libraries this process has mapped (on Linux), e.g. which CPU variant was loaded."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return "unknown on this system"
    names = sorted(
        {
            Path(line.split(maxsplit=5)[5]).name
            for line in maps.read_text(errors="replace").splitlines()
            if len(line.split(maxsplit=5)) == 6 and ("ggml" in line or "libllama" in line)
        }
    )
    return ", ".join(names) or "none"


def _ggml_string(function: str) -> str:
    import ctypes

    from llama_cpp import llama_cpp as lib

    fn = lib._lib[function]  # indexing makes a fresh function object: restype stays ours
    fn.restype = ctypes.c_char_p
    fn.argtypes = []
    value = fn()
    return value.decode(errors="replace") if value else "unknown"


def _ggml_devices() -> str:
    import ctypes

    from llama_cpp import llama_cpp as lib

    count = lib._lib["ggml_backend_dev_count"]
    count.restype, count.argtypes = ctypes.c_size_t, []
    get = lib._lib["ggml_backend_dev_get"]
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    name = lib._lib["ggml_backend_dev_name"]
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
    description = lib._lib["ggml_backend_dev_description"]
    description.restype, description.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
    devices = []
    for index in range(count()):
        device = get(index)
        devices.append(
            f"{(name(device) or b'?').decode(errors='replace')} ({(description(device) or b'').decode(errors='replace')})"
        )
    return "; ".join(devices) or "none"


def llama_runtime() -> dict[str, str]:
    """The values of :data:`~studio.system_info.LLAMA_RUNTIME_KEYS` from the llama.cpp library this process loads."""
    try:
        from llama_cpp import llama_cpp as lib
    except Exception as exc:
        return dict.fromkeys(
            LLAMA_RUNTIME_KEYS, unavailable(f"import llama_cpp: {type(exc).__name__}: {exc}")
        )
    return {
        "ggml version": safe_probe(lambda: _ggml_string("ggml_version")),
        "ggml commit": safe_probe(lambda: _ggml_string("ggml_commit")),
        "library": safe_probe(lambda: getattr(lib._lib, "_name", "unknown")),
        "ggml libraries": safe_probe(_loaded_ggml_libraries),
        "devices": safe_probe(_ggml_devices),
        "gpu offload": safe_probe(lambda: "yes" if lib.llama_supports_gpu_offload() else "no"),
        "system info": safe_probe(lambda: lib.llama_print_system_info().decode(errors="replace")),
    }


def torch_runtime() -> dict[str, str]:
    """The values of :data:`~studio.system_info.TORCH_RUNTIME_KEYS` from torch as this process imports it."""
    try:
        import torch
    except Exception as exc:
        return dict.fromkeys(TORCH_RUNTIME_KEYS, unavailable(f"import torch: {type(exc).__name__}: {exc}"))
    return {
        "cpu capability": safe_probe(torch.backends.cpu.get_cpu_capability),
        # torch's own defaults in a fresh process; the diffusion engine sets "engines use" (section Threads)
        "default threads": safe_probe(torch.get_num_threads),
        "default interop threads": safe_probe(torch.get_num_interop_threads),
        "cuda available": safe_probe(lambda: "yes" if torch.cuda.is_available() else "no"),
        "cuda build": safe_probe(lambda: torch.version.cuda or "none (CPU build)"),
        "mkldnn": safe_probe(lambda: "yes" if torch.backends.mkldnn.is_available() else "no"),
    }


PROBES = RuntimeProbes(llama=llama_runtime, torch=torch_runtime)


def collect(*, qt_runtime: str | None = None, settings: Settings | None = None) -> SystemReport:
    """The full report: :func:`studio.system_info.collect` with llama.cpp and torch imported. Never raises."""
    return system_info.collect(PROBES, qt_runtime=qt_runtime, settings=settings)
