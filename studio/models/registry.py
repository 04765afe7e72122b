"""The model registry: every model file the user has used, kept in Studio's data folder."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio import paths
from studio.fileio import atomic_write_text

log = logging.getLogger(__name__)

REGISTRY_FILE = "models.json"
LLM = "llm"
DIFFUSION = "diffusion"


@dataclass
class ModelEntry:
    """A model file or folder Studio has loaded."""

    path: str
    engine: str = LLM  # which engine loads it: "llm" or "diffusion"
    name: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # e.g. model_kind, architecture, family
    size_bytes: int = 0
    last_used: float = 0.0

    @property
    def exists(self) -> bool:
        return Path(self.path).exists()


class ModelRegistry:
    """Known models, most recently used first; stored as JSON and written atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.data_dir() / REGISTRY_FILE
        self._entries: list[ModelEntry] = self._read()

    def _read(self) -> list[ModelEntry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("model registry %s unreadable (%s); starting empty", self.path, exc)
            return []
        entries = []
        for item in raw.get("models", []) if isinstance(raw, dict) else []:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                continue
            known = {key: item[key] for key in ModelEntry.__dataclass_fields__ if key in item}
            try:
                entries.append(ModelEntry(**known))
            except TypeError:
                continue
        return entries

    def _write(self) -> None:
        payload = {"version": 1, "models": [asdict(entry) for entry in self._entries]}
        try:
            atomic_write_text(self.path, json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            log.warning("could not write the model registry: %s", exc)

    def entries(self, engine: str | None = None) -> list[ModelEntry]:
        """Known models of ``engine`` (all when None), most recently used first."""
        chosen = [entry for entry in self._entries if engine is None or entry.engine == engine]
        return sorted(chosen, key=lambda entry: entry.last_used, reverse=True)

    def get(self, path: str) -> ModelEntry | None:
        return next((entry for entry in self._entries if entry.path == path), None)

    def record(self, path: str, engine: str = LLM, name: str = "", **details: Any) -> ModelEntry:
        """Remember that ``path`` was loaded now (adding it or updating it)."""
        entry = self.get(path)
        if entry is None:
            entry = ModelEntry(path=path, engine=engine)
            self._entries.append(entry)
        entry.engine = engine
        entry.name = name or entry.name or Path(path).name
        entry.details.update(details)
        try:
            target = Path(path)
            entry.size_bytes = target.stat().st_size if target.is_file() else entry.size_bytes
        except OSError:
            pass
        entry.last_used = time.time()
        self._write()
        return entry

    def remove(self, path: str) -> bool:
        """Forget ``path`` (the file itself is left alone)."""
        before = len(self._entries)
        self._entries = [entry for entry in self._entries if entry.path != path]
        if len(self._entries) != before:
            self._write()
            return True
        return False
