"""Typed user settings, stored as JSON in platformdirs' config dir."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from studio import paths
from studio.fileio import atomic_write_text

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"

LIMITS: dict[str, tuple[float, float]] = {
    "context_size": (256, 131072),
    "threads": (0, 256),
    "suggestion_delay_ms": (50, 10000),
    "suggestion_max_tokens": (1, 512),
    "temperature": (0.0, 2.0),
    "current_document": (0, 10000),
    "editor_font_size": (0, 200),
    "editor_zoom": (-20, 100),
}


@dataclass
class Settings:
    """Everything the user can set, plus what the app remembers between runs."""

    # LLM
    model_path: str = ""  # empty: the embedded default model
    server_url: str = (
        ""  # an OpenAI-compatible server serving instead of model_path (Models ▸ Connect to Server)
    )
    server_api_key_env: str = ""  # the environment variable holding its API key ("": ask the keyring)
    server_model: str = ""  # one of the server's models ("": the first it lists)
    image_model_path: str = ""  # diffusers folder or .safetensors checkpoint for the Canvas
    context_size: int = 4096
    threads: int = 0  # llama.cpp and torch threads; 0: one per physical core (studio.cpu.default_threads)
    image_precision: str = "auto"  # auto | bfloat16 | float32 (studio.engines.image_precision.Precision)
    # ghost text
    suggestions_enabled: bool = True
    suggestion_delay_ms: int = 600
    suggestion_max_tokens: int = 24
    temperature: float = 0.7
    # editor (Write)
    editor_font_family: str = ""  # empty: the system's default font
    editor_font_size: int = 0  # points; 0: the default size (11 pt)
    editor_zoom: int = 0  # View ▸ Zoom In/Out steps (points added to the font size); 0: Reset
    show_ai_marks: bool = True  # tint AI-written text (View ▸ Show AI Marks)
    # session
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""
    workspace: str = "write"
    open_documents: list[str] = field(default_factory=list)
    recent_files: list[str] = field(default_factory=list)  # File ▸ Open Recent, newest first
    current_document: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        """Build settings from parsed JSON: unknown keys are ignored, wrong types and out-of-range values
        fall back to their defaults."""
        settings = cls()
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name not in raw:
                continue
            value = raw[f.name]
            expected = hints[f.name]
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            origin = getattr(expected, "__origin__", expected)
            ok = isinstance(value, origin) and not (origin is int and isinstance(value, bool))
            if ok and origin is list:
                ok = all(isinstance(item, str) for item in value)
            if ok and f.name in LIMITS:
                low, high = LIMITS[f.name]
                ok = low <= value <= high
            if ok:
                setattr(settings, f.name, value)
            else:
                log.warning("ignoring invalid setting %s=%r", f.name, value)
        return settings


def settings_path() -> Path:
    return paths.config_dir() / SETTINGS_FILE


def load_settings() -> Settings:
    """Read the settings file; a missing or broken file gives the defaults (a broken one is kept aside)."""
    path = settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s unreadable (%s); using defaults", path, exc)
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(".broken.json"))
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    return Settings.from_dict(raw)


def save_settings(settings: Settings) -> None:
    """Write the settings file atomically."""
    atomic_write_text(settings_path(), json.dumps(settings.to_dict(), indent=2, sort_keys=True) + "\n")
