"""LoRA adapters on a loaded diffusion pipeline (diffusion engine process only; uses diffusers' PEFT backend).

:func:`apply_loras` brings a pipeline's adapters to the list a request wants: new files are loaded, removed
ones deleted, weights set. The mode pipelines made with ``from_pipe`` share the UNet and text encoder, so the
adapters loaded once serve txt2img, img2img and inpaint alike. Adapters are named after the file's path, size
and modification time, so a file changed on disk is loaded again and nothing else needs remembering.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.engines.lora_files import LoraFileError, check_lora_file, lora_entries, lora_name
from studio.engines.protocol import EngineError

log = logging.getLogger(__name__)

ADAPTER_PREFIX = "studio_lora_"


def adapter_name(path: str | Path) -> str:
    """The adapter name of a LoRA file: stable while the file is unchanged."""
    file = Path(path).expanduser().resolve()
    stat = file.stat()
    key = f"{file}|{stat.st_size}|{stat.st_mtime_ns}"
    return ADAPTER_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def loaded_adapters(pipe: Any) -> set[str]:
    """The names of the Studio adapters loaded in ``pipe``'s modules."""
    if not hasattr(pipe, "get_list_adapters"):
        return set()
    try:
        listed = pipe.get_list_adapters()
    except (ValueError, ImportError):  # no PEFT layers yet / no peft installed
        return set()
    return {name for names in listed.values() for name in names if name.startswith(ADAPTER_PREFIX)}


def _load_one(pipe: Any, path: Path, name: str) -> None:
    try:
        pipe.load_lora_weights(str(path), adapter_name=name)
    except ImportError as exc:
        raise EngineError(f"LoRAs need the peft package, which is not installed ({exc}).") from exc
    except Exception as exc:  # diffusers and peft raise many kinds on a file made for another model
        if name in loaded_adapters(pipe):
            pipe.delete_adapters([name])
        raise EngineError(
            f"The LoRA {path.name} does not fit this model ({type(exc).__name__}: {str(exc)[:300]})."
        ) from exc
    if name not in loaded_adapters(pipe):
        raise EngineError(
            f"The LoRA {path.name} matches no layer of this model (is it for another model family?)."
        )


def apply_loras(pipe: Any, loras: Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
    """Make ``pipe``'s adapters exactly ``loras`` [(path, weight)]: load new files, delete dropped ones and set
    the weights. Returns one parameter entry per LoRA (name, weight, hash, path) for the result; raises a
    user-readable :class:`EngineError` for a missing, unreadable or unfitting file, leaving the pipeline
    without that LoRA."""
    wanted: list[tuple[str, Path, float]] = []
    for path, weight in loras:
        file = Path(path).expanduser()
        try:
            check_lora_file(file)
        except LoraFileError as exc:
            raise EngineError(str(exc)) from exc
        wanted.append((adapter_name(file), file, float(weight)))
    loaded = loaded_adapters(pipe)
    names = [name for name, _, _ in wanted]
    dropped = sorted(loaded - set(names))
    if dropped:
        pipe.delete_adapters(dropped)
    if not wanted:
        return []
    if not hasattr(pipe, "load_lora_weights"):
        raise EngineError(f"This model's pipeline ({type(pipe).__name__}) does not take LoRAs.")
    for name, file, _ in wanted:
        if name not in loaded:
            log.info("loading LoRA %s", file)
            _load_one(pipe, file, name)
    pipe.set_adapters(names, adapter_weights=[weight for _, _, weight in wanted])
    return lora_entries((str(file), weight) for _, file, weight in wanted)


__all__ = ["ADAPTER_PREFIX", "adapter_name", "apply_loras", "loaded_adapters", "lora_name"]
