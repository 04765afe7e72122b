"""Safe mode for the LLM engine: what to do when llama.cpp crashes the engine process while loading a model.

Some llama.cpp builds crash on some CPUs in their optimised kernels (ggml's AMX kernels built by GCC 12 on
Intel Sapphire Rapids and later). The crash kills the engine process during the load job's warm-up decode.
Studio then loads the model again, once, in *safe mode* (no weight repacking, i.e. llama.cpp's
``use_extra_bufts = false``, the CLI's ``--no-repack``) and remembers that for this CPU, this llama.cpp build
and this model file in a small JSON store in the data folder, so the next load goes to safe mode directly.

Qt-free, and free of llama_cpp imports: the GUI and ``studio text`` both use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from studio import paths
from studio.cpu import cpu_info, has_amx
from studio.engines.protocol import EngineEvent, EventKind, new_job_id
from studio.engines.text_requests import LoadModelRequest
from studio.fileio import atomic_write_text
from studio.models.default_model import default_model_path

log = logging.getLogger(__name__)

STORE_FILE = "llm_safe_mode.json"
STORE_VERSION = 1

SAFE_MODE_NOTICE = (
    "The model crashed on this computer's processor, so Studio restarted it in safe mode "
    "(no weight repacking). It will use safe mode for this model from now on."
)
"""What the user is told after a crash made Studio switch a model to safe mode."""

SAFE_MODE_REMEMBERED = "Using safe mode for this model (it crashed on this computer's processor before)."
"""The short note shown when a model loads in safe mode because the store says so."""

# Exit signals of a crash inside native code; a SIGKILL (our own kill, the OOM killer) or a SIGTERM is not
# something safe mode can help with.
CRASH_SIGNALS = frozenset(
    {signal.SIGSEGV, signal.SIGILL, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT, signal.SIGTRAP}
)


def is_crash(event: EngineEvent) -> bool:
    """True when ``event`` reports that the engine process died from a crash (not from a kill or a hang)."""
    info = event.error
    if event.kind is not EventKind.ERROR or info is None or not info.engine_crashed:
        return False
    if not info.exit_reported:
        # an engine client that does not report the exit code: any unexpected death counts
        return True
    exitcode = info.exitcode
    return exitcode is not None and exitcode < 0 and -exitcode in {int(s) for s in CRASH_SIGNALS}


def crash_name(event: EngineEvent) -> str:
    """The signal's name of a crash event (``"SIGSEGV"``), or a short description."""
    exitcode = event.error.exitcode if event.error is not None else None
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-exitcode).name
    return "a crash"


def crashed_in_safe_mode_message(event: EngineEvent) -> str:
    """The error shown when a model crashed the engine even in safe mode (Studio does not retry again)."""
    return (
        f"The model crashed on this computer's processor even in safe mode ({crash_name(event)}, "
        "no weight repacking), so Studio stopped trying to load it. Choose another model, or report "
        "the problem with the output of `studio --system-info`."
    )


# --- signatures --------------------------------------------------------------------------------------------


def cpu_signature() -> str:
    """This CPU's model name and instruction-set flags, hashed: another CPU gets a fresh chance."""
    info = cpu_info()
    text = info.model + "\n" + " ".join(sorted(info.flags))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def llama_runtime_signature() -> str:
    """The installed llama-cpp-python version and a digest of its native libraries' recorded hashes.

    A rebuild of the same version with other compiler flags (another wheel from pip's cache) changes it;
    reinstalling the same wheel does not. Reads package metadata only: ``llama_cpp`` itself is not imported.
    """
    try:
        distribution = metadata.distribution("llama_cpp_python")
    except metadata.PackageNotFoundError:
        return "llama-cpp-python not installed"
    parts = [f"llama-cpp-python {distribution.version}"]
    for file in sorted(distribution.files or [], key=str):
        if ".so" in file.name or file.name.endswith((".dylib", ".dll")):
            parts.append(f"{file}:{file.hash.value if file.hash else file.size}")
    return parts[0] + " " + hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """A model file as it is on disk: its resolved path, size and modification time."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, model_path: str) -> ModelIdentity:
        """The identity of ``model_path`` (empty: Studio's default model); zeros when the file is missing."""
        path = Path(model_path).expanduser() if model_path else default_model_path()
        with contextlib.suppress(OSError):
            path = path.resolve()
        try:
            stat = path.stat()
        except OSError:
            return cls(str(path), 0, 0)
        return cls(str(path), stat.st_size, stat.st_mtime_ns)


def store_key(model_path: str) -> str:
    """The store's key for ``model_path`` on this CPU with this llama.cpp build."""
    identity = ModelIdentity.of(model_path)
    text = "\n".join(
        [
            cpu_signature(),
            llama_runtime_signature(),
            identity.path,
            str(identity.size),
            str(identity.mtime_ns),
        ]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# --- the store ---------------------------------------------------------------------------------------------


class SafeModeStore:
    """Which models must load in safe mode on this machine: ``llm_safe_mode.json`` in the data folder.

    A missing, unreadable or corrupt file counts as empty; writes are atomic.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path if self._path is not None else paths.data_dir() / STORE_FILE

    def _entries(self) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable safe-mode store %s: %s", self.path, exc)
            return {}
        entries = raw.get("entries") if isinstance(raw, dict) else None
        if not isinstance(entries, dict):
            log.warning("ignoring malformed safe-mode store %s", self.path)
            return {}
        return {key: value for key, value in entries.items() if isinstance(value, dict)}

    def needs_safe_mode(self, model_path: str) -> bool:
        """True when ``model_path`` crashed this machine's engine before (same CPU, llama.cpp and file)."""
        return store_key(model_path) in self._entries()

    def remember(self, model_path: str, reason: str) -> None:
        """Record that ``model_path`` must load in safe mode here (raises ``OSError`` when it cannot write)."""
        entries = self._entries()
        identity = ModelIdentity.of(model_path)
        entries[store_key(model_path)] = {
            "model": identity.path,
            "size": identity.size,
            "cpu": cpu_info().model,
            "llama": llama_runtime_signature(),
            "reason": reason,
            "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.path, json.dumps({"version": STORE_VERSION, "entries": entries}, indent=2) + "\n"
        )

    def forget(self, model_path: str) -> bool:
        """Let ``model_path`` load normally again; True when it was remembered."""
        entries = self._entries()
        if entries.pop(store_key(model_path), None) is None:
            return False
        atomic_write_text(
            self.path, json.dumps({"version": STORE_VERSION, "entries": entries}, indent=2) + "\n"
        )
        return True


# --- what to retry -----------------------------------------------------------------------------------------


def with_safe_mode_if_remembered(request: LoadModelRequest, store: SafeModeStore) -> LoadModelRequest:
    """``request`` in safe mode when the store says its model needs it, else unchanged."""
    if request.safe_mode or not store.needs_safe_mode(request.model_path):
        return request
    return dataclasses.replace(request, safe_mode=True)


def retry_after_crash(
    request: LoadModelRequest, event: EngineEvent, store: SafeModeStore
) -> LoadModelRequest | None:
    """The safe-mode load to run after ``event`` ended ``request`` (a load job), or None for no retry.

    Retries only a crash (see :func:`is_crash`) of a load that was not in safe mode already, so a model that
    crashes in safe mode too gets an error and no loop. Remembers the model in ``store`` before returning.
    """
    if request.safe_mode or not is_crash(event):
        return None
    try:
        store.remember(request.model_path, f"{crash_name(event)} while loading")
    except OSError as exc:
        log.warning("could not remember safe mode for %s: %s", request.model_path or "the default model", exc)
    return dataclasses.replace(request, job_id=new_job_id(), safe_mode=True)


# --- the engine's choice -----------------------------------------------------------------------------------

REPACK_ENV = "STUDIO_LLAMA_REPACK"
"""``0`` or ``1`` forces llama.cpp's weight repacking off or on (bug triage); unset: automatic."""


def weight_repacking(safe_mode: bool) -> bool:
    """Whether llama.cpp may repack weights into its extra buffer types (AMX, interleaved CPU layouts).

    Off in safe mode and on CPUs with Intel AMX, where pip's native builds crash (GCC 12 and ggml's AMX
    kernels) and repacking gains nothing measurable; ``STUDIO_LLAMA_REPACK=0|1`` overrides both.
    """
    forced = os.environ.get(REPACK_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if forced:
        log.warning("ignoring %s=%r (use 0 or 1)", REPACK_ENV, forced)
    return not safe_mode and not has_amx()
