"""The model registry: every LLM and image model Studio knows, kept in Studio's data folder.

One JSON file (``models.json``, written atomically) lists each model with what its header says (kind,
architecture, parameters, quantization, context length, licence), its size and SHA-256, when it was last used,
whether Studio downloaded it, and the user's per-model settings. Files are registered in place; only files
Studio downloaded are ever deleted. Version 1 files (path, engine, name, details, size, last used) are
migrated on first read; the old file is kept next to the new one as ``models.v1.json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from studio import paths
from studio.fileio import atomic_write_text

log = logging.getLogger(__name__)

REGISTRY_FILE = "models.json"
REGISTRY_VERSION = 2
LLM = "llm"
DIFFUSION = "diffusion"
SERVER = "server"  # a remote LLM server (path: its URL; see studio.models.servers)
DECODER = "decoder"  # a TAESD decoder folder the diffusion engine loads beside a model (studio.models.taesd)
ENGINES = (LLM, DIFFUSION, SERVER, DECODER)
USER_NAMED = "user_named"  # details key: the user renamed the model, so loads keep that name


class ModelKind(StrEnum):
    """What a model is, as far as its file tells."""

    UNKNOWN = ""
    BASE = "base"  # a base (completion) LLM
    INSTRUCT = "instruct"  # an LLM with a chat template
    SD15 = "sd15"
    SD2 = "sd2"
    SDXL = "sdxl"
    LORA = "lora"
    TAESD = "taesd"  # a TAESD (AutoencoderTiny) decoder: fast decode and previews for its family

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def engine(self) -> str:
        if self is ModelKind.TAESD:
            return DECODER
        return LLM if self in (ModelKind.BASE, ModelKind.INSTRUCT) else DIFFUSION


_KIND_LABELS = {
    ModelKind.UNKNOWN: "unknown",
    ModelKind.BASE: "Base LLM",
    ModelKind.INSTRUCT: "Instruct LLM",
    ModelKind.SD15: "SD 1.5",
    ModelKind.SD2: "SD 2.x",
    ModelKind.SDXL: "SDXL",
    ModelKind.LORA: "LoRA",
    ModelKind.TAESD: "TAESD decoder",
}


def kind_of(value: object) -> ModelKind:
    """``value`` as a :class:`ModelKind` (unknown values give ``UNKNOWN``)."""
    try:
        return ModelKind(str(value or ""))
    except ValueError:
        return ModelKind.UNKNOWN


@dataclass
class ModelEntry:
    """A model file or folder Studio knows.

    ``shape`` holds the header numbers the memory estimate needs (``layers``, ``heads``, ``kv_heads``,
    ``embedding``, ``key_length``, ``value_length``, ``sliding_window``; for image models ``unet_parameters``
    and the like); ``settings`` the user's per-model settings; ``details`` anything else callers recorded.
    """

    path: str
    engine: str = (
        LLM  # which engine loads it: "llm", "diffusion" or "decoder" (a TAESD the diffusion engine adds)
    )
    name: str = ""
    kind: str = ""  # a ModelKind value
    architecture: str = ""
    parameters: int = 0
    quantization: str = ""
    context_length: int = 0
    size_bytes: int = 0
    sha256: str = ""
    license: str = ""
    last_used: float = 0.0
    added: float = 0.0
    downloaded: bool = False  # Studio downloaded it (so removing it deletes the file)
    source: str = ""  # where a download came from: "repo_id/filename@commit"
    checked: float = 0.0  # when header and hash were last checked
    problem: str = ""  # what the last check found wrong ("" when it passed)
    shape: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return Path(self.path).exists()

    @property
    def model_kind(self) -> ModelKind:
        return kind_of(self.kind)

    @property
    def display_name(self) -> str:
        return self.name or Path(self.path).name


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "path": (str,),
    "engine": (str,),
    "name": (str,),
    "kind": (str,),
    "architecture": (str,),
    "parameters": (int,),
    "quantization": (str,),
    "context_length": (int,),
    "size_bytes": (int,),
    "sha256": (str,),
    "license": (str,),
    "last_used": (int, float),
    "added": (int, float),
    "downloaded": (bool,),
    "source": (str,),
    "checked": (int, float),
    "problem": (str,),
    "shape": (dict,),
    "settings": (dict,),
    "details": (dict,),
}
_FIELD_NAMES = tuple(item.name for item in fields(ModelEntry))
assert set(_FIELD_TYPES) == set(_FIELD_NAMES)


def _entry_from(item: object) -> tuple[ModelEntry, dict[str, Any]] | None:
    """An entry from one JSON object (wrongly typed fields are dropped), and the keys this version does not
    know (kept, so a newer Studio's fields survive a round trip through this one)."""
    if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
        return None
    known: dict[str, Any] = {}
    for key in _FIELD_NAMES:
        value = item.get(key)
        if key in item and isinstance(value, _FIELD_TYPES[key]):
            if key not in ("downloaded",) and isinstance(value, bool):
                continue  # bool is an int; a boolean size is junk
            known[key] = value
    extra = {key: value for key, value in item.items() if key not in _FIELD_TYPES}
    entry = ModelEntry(**known)
    if entry.engine not in ENGINES:
        entry.engine = LLM
    return entry, extra


def _migrate_v1(item: dict[str, Any]) -> dict[str, Any]:
    """A version-1 model object in the version-2 layout: ``details`` keys that became fields fill them (and
    stay in ``details``)."""
    migrated = dict(item)
    raw = item.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for key in ("model_kind", "family"):
        if kind_of(details.get(key)) is not ModelKind.UNKNOWN:
            migrated["kind"] = details[key]
    if isinstance(details.get("architecture"), str):
        migrated["architecture"] = details["architecture"]
    migrated.setdefault("added", item.get("last_used", 0.0))
    return migrated


class RegistryError(ValueError):
    """A registry operation that cannot be done; the message says why."""


class ModelRegistry:
    """Known models, most recently used first; stored as JSON and written atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.data_dir() / REGISTRY_FILE
        self._extra: dict[str, dict[str, Any]] = {}
        self._entries: list[ModelEntry] = self._read()

    # file

    def _read(self) -> list[ModelEntry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("model registry %s unreadable (%s); starting empty", self.path, exc)
            return []
        if not isinstance(raw, dict):
            return []
        version = raw.get("version", 1)
        items = raw.get("models", [])
        if not isinstance(items, list):
            return []
        migrate = not isinstance(version, int) or version < REGISTRY_VERSION
        entries: list[ModelEntry] = []
        seen: set[str] = set()
        for item in items:
            if migrate and isinstance(item, dict):
                item = _migrate_v1(item)
            parsed = _entry_from(item)
            if parsed is None or parsed[0].path in seen:
                continue
            entry, extra = parsed
            seen.add(entry.path)
            entries.append(entry)
            if extra:
                self._extra[entry.path] = extra
        if migrate and entries:
            self._keep_old_file()
            self._entries = entries
            self._write()
        return entries

    def _keep_old_file(self) -> None:
        backup = self.path.with_name("models.v1.json")
        if backup.exists():
            return
        try:
            atomic_write_text(backup, self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            log.warning("could not keep the old model registry as %s: %s", backup, exc)

    def _write(self) -> None:
        models = []
        for entry in self._entries:
            item = asdict(entry)
            item.update({k: v for k, v in self._extra.get(entry.path, {}).items() if k not in item})
            models.append(item)
        payload = {"version": REGISTRY_VERSION, "models": models}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            log.warning("could not write the model registry: %s", exc)

    def reload(self) -> None:
        """Read the file again (another process, e.g. the command line, may have changed it)."""
        self._extra = {}
        self._entries = self._read()

    # queries

    def entries(self, engine: str | None = None) -> list[ModelEntry]:
        """Known models of ``engine`` (when None: every model file, not the remembered servers), most recently
        used first."""
        chosen = [
            entry
            for entry in self._entries
            if entry.engine == engine or (engine is None and entry.engine != SERVER)
        ]
        return sorted(chosen, key=lambda entry: (entry.last_used, entry.added), reverse=True)

    def get(self, path: str) -> ModelEntry | None:
        return next((entry for entry in self._entries if entry.path == path), None)

    def find(self, key: str) -> ModelEntry | None:
        """The model whose path, name or SHA-256 prefix (8+ hex digits) is ``key``."""
        entry = self.get(key) or self.get(str(Path(key).expanduser().resolve()))
        if entry is not None:
            return entry
        named = [entry for entry in self._entries if entry.name == key]
        if len(named) == 1:
            return named[0]
        if len(key) >= 8:
            hashed = [
                entry for entry in self._entries if entry.sha256 and entry.sha256.startswith(key.lower())
            ]
            if len(hashed) == 1:
                return hashed[0]
        return None

    # changes

    def record(self, path: str, engine: str = LLM, name: str = "", **details: Any) -> ModelEntry:
        """Remember that ``path`` was loaded now (adding it or updating it).

        ``model_kind``, ``family`` and ``architecture`` in ``details`` also fill the entry's fields (and stay in
        ``details``, where callers of the first registry read them).
        """
        entry = self.get(path)
        if entry is None:
            entry = ModelEntry(path=path, engine=engine, added=time.time())
            self._entries.append(entry)
        entry.engine = engine if engine in ENGINES else LLM
        if not entry.details.get(USER_NAMED):
            entry.name = name or entry.name or Path(path).name
        for key in ("model_kind", "family"):
            kind = kind_of(details.get(key))
            if kind is not ModelKind.UNKNOWN:
                entry.kind = kind.value
        architecture = details.get("architecture")
        if isinstance(architecture, str) and architecture:
            entry.architecture = architecture
        entry.details.update(details)
        with contextlib.suppress(OSError):
            target = Path(path)
            if entry.engine != SERVER and target.is_file():
                entry.size_bytes = target.stat().st_size
        entry.last_used = time.time()
        self._write()
        return entry

    def add(self, entry: ModelEntry) -> ModelEntry:
        """Register ``entry`` (replacing a known entry of the same path, keeping its name, settings and
        history)."""
        known = self.get(entry.path)
        if known is not None:
            if known.details.get(USER_NAMED):
                entry.name = known.name
            entry.settings = {**known.settings, **entry.settings}
            entry.details = {**known.details, **entry.details}
            entry.last_used = max(entry.last_used, known.last_used)
            entry.added = known.added or entry.added
            entry.downloaded = entry.downloaded or known.downloaded
            entry.source = entry.source or known.source
            self._entries = [item if item.path != entry.path else entry for item in self._entries]
        else:
            entry.added = entry.added or time.time()
            self._entries.append(entry)
        self._write()
        return entry

    def update(self, path: str, **values: Any) -> ModelEntry:
        """Set fields of the entry at ``path`` (e.g. what a verify found) and save."""
        entry = self._require(path)
        for key, value in values.items():
            if key not in _FIELD_TYPES or key == "path":
                raise RegistryError(f"a model has no field {key!r}")
            setattr(entry, key, value)
        self._write()
        return entry

    def apply_verify(self, path: str, fresh: ModelEntry) -> ModelEntry:
        """Record what a verify of ``path`` found (``fresh``, from :func:`studio.models.inspect.verify_model`):
        its problem when it failed, else the re-read header facts and hash."""
        known = self._require(path)
        if fresh.problem:
            return self.update(path, problem=fresh.problem, checked=fresh.checked)
        return self.update(
            path,
            problem="",
            checked=fresh.checked,
            sha256=fresh.sha256,
            size_bytes=fresh.size_bytes,
            parameters=fresh.parameters or known.parameters,
            shape=fresh.shape or known.shape,
            license=fresh.license or known.license,
        )

    def rename(self, path: str, name: str) -> ModelEntry:
        """Give the model at ``path`` a new display name (the file keeps its name)."""
        name = " ".join(name.split())
        if not name:
            raise RegistryError("a model's name cannot be empty")
        if len(name) > 200:
            raise RegistryError("that name is too long (200 characters at most)")
        entry = self._require(path)
        entry.details[USER_NAMED] = True
        return self.update(path, name=name)

    def set_settings(self, path: str, settings: dict[str, Any]) -> ModelEntry:
        """Replace the per-model settings of ``path`` (see :mod:`studio.models.model_settings`)."""
        return self.update(path, settings=dict(settings))

    def remove(self, path: str) -> bool:
        """Forget ``path``. A file Studio downloaded (into its models folder) is deleted too; a file the user
        imported is left alone. Returns False when ``path`` was not known."""
        entry = self.get(path)
        if entry is None:
            return False
        if entry.downloaded:
            delete_downloaded_file(Path(entry.path))
        self._entries = [item for item in self._entries if item.path != path]
        self._extra.pop(path, None)
        self._write()
        return True

    def _require(self, path: str) -> ModelEntry:
        entry = self.get(path)
        if entry is None:
            raise RegistryError(f"no model is registered at {path}")
        return entry


def delete_downloaded_file(path: Path) -> None:
    """Delete a downloaded model file (or folder: a TAESD, a diffusers folder), but only inside Studio's models
    folder (never a user's file), and its folder when that is left empty."""
    models = paths.models_dir().resolve()
    target = path.resolve()
    if models not in target.parents:
        log.warning("not deleting %s: it is outside Studio's models folder", target)
        return
    if target.is_dir():
        shutil.rmtree(target, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        target.unlink()
    with contextlib.suppress(OSError):
        if target.parent != models and not any(target.parent.iterdir()):
            os.rmdir(target.parent)
