"""Per-model settings kept in the registry: context, threads and default sampling for LLMs; steps, guidance,
scheduler, size and precision for image models, with few-step presets for LCM and Turbo models.

Settings are plain dicts in ``ModelEntry.settings``; :func:`clean_settings` turns anything read from disk or
typed by a user into valid values (out-of-range numbers are clamped, unknown keys dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.engines.schedulers import SCHEDULERS, Scheduler
from studio.models.registry import DIFFUSION, ModelEntry

PRECISIONS = ("auto", "bfloat16", "float32")  # the diffusion engine's choices (auto: bfloat16 where native)

# key: (default, minimum, maximum) for numbers; (default, choices) for strings
LLM_SETTINGS: dict[str, tuple[Any, ...]] = {
    "context": (4096, 256, 1 << 20),
    "threads": (0, 0, 256),  # 0: one per physical core
    "temperature": (0.7, 0.0, 2.0),
    "top_k": (40, 0, 1000),
    "top_p": (0.95, 0.0, 1.0),
    "min_p": (0.05, 0.0, 1.0),
    "max_tokens": (256, 1, 32768),
}
IMAGE_SETTINGS: dict[str, tuple[Any, ...]] = {
    "steps": (20, 1, 150),
    "guidance": (7.0, 0.0, 30.0),
    "scheduler": (Scheduler.DEFAULT.value, SCHEDULERS),
    "width": (512, 64, 2048),
    "height": (512, 64, 2048),
    "precision": ("auto", PRECISIONS),
}

CHAT_TEMPLATE = "chat_template"
"""An LLM setting beside the table: a Jinja chat template overriding the model's own ("" keeps it)."""

# Few-step models: the name tells (LCM, Turbo, Lightning, Hyper); these defaults are what they need.
FEW_STEP_PRESETS: dict[str, dict[str, Any]] = {
    "lcm": {"steps": 4, "guidance": 1.5, "scheduler": Scheduler.LCM.value},
    "turbo": {"steps": 2, "guidance": 0.0, "scheduler": Scheduler.TURBO.value},
}


def few_step_preset(entry: ModelEntry) -> str | None:
    """``lcm`` or ``turbo`` when the model's name or source says it is a few-step model, else None."""
    text = f"{entry.name} {entry.path} {entry.source}".lower()
    if "lcm" in text:
        return "lcm"
    if any(word in text for word in ("turbo", "lightning", "hyper-sd", "hyper_sd")):
        return "turbo"
    return None


def default_settings(entry: ModelEntry) -> dict[str, Any]:
    """The settings a model starts with: the table defaults, sized to its family, with its few-step preset."""
    if entry.engine != DIFFUSION:
        values = {key: spec[0] for key, spec in LLM_SETTINGS.items()}
        if entry.context_length:
            values["context"] = min(values["context"], entry.context_length)
        return values
    values = {key: spec[0] for key, spec in IMAGE_SETTINGS.items()}
    side = {"sd2": 768, "sdxl": 1024}.get(entry.kind, 512)
    values["width"] = values["height"] = side
    preset = few_step_preset(entry)
    if preset is not None:
        values.update(FEW_STEP_PRESETS[preset])
    return values


def _clean_value(spec: tuple[Any, ...], value: Any, default: Any) -> Any:
    if len(spec) == 2:
        return value if isinstance(value, str) and value in spec[1] else default
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(str(value))
        except ValueError:
            return default
    if value != value:  # NaN
        return default
    low, high = spec[1], spec[2]
    clamped = min(max(value, low), high)
    return round(clamped) if isinstance(default, int) else float(clamped)


def clean_settings(entry: ModelEntry, raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """``raw`` (default: the entry's stored settings) over the model's defaults, every value valid."""
    table = IMAGE_SETTINGS if entry.engine == DIFFUSION else LLM_SETTINGS
    values = default_settings(entry)
    source = entry.settings if raw is None else raw
    for key, spec in table.items():
        if key in source:
            values[key] = _clean_value(spec, source[key], values[key])
    if entry.engine != DIFFUSION and entry.context_length:
        values["context"] = min(values["context"], entry.context_length)
    if entry.engine != DIFFUSION:
        template = source.get(CHAT_TEMPLATE, "")
        values[CHAT_TEMPLATE] = template if isinstance(template, str) and template.strip() else ""
    if entry.engine == DIFFUSION:
        values["width"] -= values["width"] % 8
        values["height"] -= values["height"] % 8
    return values


@dataclass(frozen=True, slots=True)
class Sampling:
    """How an LLM picks tokens: the active model's stored defaults, or the global temperature (``own`` False)
    with the engine's usual top-k, top-p and min-p."""

    temperature: float = LLM_SETTINGS["temperature"][0]
    top_k: int = LLM_SETTINGS["top_k"][0]
    top_p: float = LLM_SETTINGS["top_p"][0]
    min_p: float = LLM_SETTINGS["min_p"][0]
    own: bool = False


def sampling_for(entry: ModelEntry | None, temperature: float) -> Sampling:
    """``entry``'s stored sampling settings when it is an LLM with some, else ``temperature`` (the global
    setting) with the default top-k, top-p and min-p."""
    if entry is None or entry.engine == DIFFUSION or not entry.settings:
        return Sampling(temperature=temperature)
    own = clean_settings(entry)
    return Sampling(
        temperature=float(own["temperature"]),
        top_k=int(own["top_k"]),
        top_p=float(own["top_p"]),
        min_p=float(own["min_p"]),
        own=True,
    )


def stored_image_settings(entry: ModelEntry | None) -> dict[str, Any] | None:
    """An image model's stored settings made valid, or None when ``entry`` is not one or has none."""
    if entry is None or entry.engine != DIFFUSION or not entry.settings:
        return None
    return clean_settings(entry)


def stored_precision(entry: ModelEntry | None) -> str:
    """The precision an image model's own settings name ("" when they name none: the Settings' choice)."""
    if entry is None or entry.engine != DIFFUSION or not entry.settings:
        return ""
    value = entry.settings.get("precision")
    return value if isinstance(value, str) and value in PRECISIONS else ""
