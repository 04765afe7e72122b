"""TAESD decoders (``AutoencoderTiny`` folders) in the registry: which image models each one serves, and which
one a model gets when it has none of its own.

A TAESD decodes latents about 20 times faster than the full VAE (fast decode for drafts and Live mode, better
previews). madebyollin/taesd serves SD 1.x and 2.x (one latent space), madebyollin/taesdxl serves SDXL. The
user registers one once (import or download) and every model of that family uses it, unless the model has a
TAESD folder of its own beside it (which the diffusion engine finds itself). Qt-free and torch-free: the GUI
calls :func:`registered_taesd` before it sends a load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.models.registry import DECODER, ModelEntry, ModelKind, ModelRegistry

TAESD_CLASS = "AutoencoderTiny"
SERVES = "serves"  # the details key of a TAESD entry: the family it decodes for (a TaesdFamily value)
SD = "sd"  # SD 1.x and 2.x share a latent space, and so a TAESD
SDXL = "sdxl"
FAMILY_LABELS = {SD: "SD 1.x/2.x", SDXL: "SDXL", "sd3": "SD 3", "flux": "FLUX"}
# the folders a model's own TAESD sits in, inside or beside it (the diffusion engine's find_taesd uses taesd_beside)
TAESD_FOLDER_NAMES = ("taesd", "taesdxl", "taesd_decoder", "vae_tiny")
WHERE_TO_GET = "Models ▸ Download… ▸ TAESD"


def family_of_kind(kind: ModelKind | str) -> str:
    """The TAESD family an image model of ``kind`` needs (``sd``, ``sdxl``), "" when unknown."""
    value = str(kind.value if isinstance(kind, ModelKind) else kind or "")
    if value in (ModelKind.SD15.value, ModelKind.SD2.value, "sd1", "sd21"):
        return SD
    if value == ModelKind.SDXL.value:
        return SDXL
    return ""


def is_taesd_config(config: dict[str, Any]) -> bool:
    return config.get("_class_name") == TAESD_CLASS


def taesd_family(folder: Path, config: dict[str, Any]) -> str:
    """The family a TAESD folder serves, from its config (16 latent channels: SD 3 / FLUX) and its name
    (``taesdxl``, ``madebyollin--taesdxl``); SD 1.x/2.x otherwise (the two 4-channel TAESDs share a config)."""
    channels = config.get("latent_channels", 4)
    text = f"{folder.name} {config.get('_name_or_path', '')}".lower()
    if channels == 16:
        return "flux" if "f1" in text or "flux" in text else "sd3"
    if "xl" in text:
        return SDXL
    return SD


def read_config(folder: Path) -> dict[str, Any] | None:
    """The folder's ``config.json`` when it describes an ``AutoencoderTiny``, else None."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and is_taesd_config(config) else None


def taesd_beside(model_path: str | Path) -> Path | None:
    """The TAESD folder shipped with a model (inside a diffusers folder, or beside a single file), as the
    diffusion engine looks for it; None if none."""
    path = Path(model_path).expanduser()
    if path.is_dir():
        candidates = [path / name for name in TAESD_FOLDER_NAMES]
    else:
        candidates = [path.with_name(path.stem + ".taesd")]
        candidates += [path.parent / name for name in TAESD_FOLDER_NAMES]
    for folder in candidates:
        if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
            return folder
    return None


def serves(entry: ModelEntry) -> str:
    """The family a registered TAESD serves ("" for any other entry)."""
    if entry.model_kind is not ModelKind.TAESD:
        return ""
    return str(entry.details.get(SERVES, ""))


def taesd_for_family(registry: ModelRegistry, family: str) -> ModelEntry | None:
    """The registered TAESD for ``family`` (``sd``, ``sdxl``) that is on disk and passed its last check; the
    most recently added first."""
    if not family:
        return None
    found = [
        entry
        for entry in registry.entries(DECODER)
        if serves(entry) == family and not entry.problem and entry.exists
    ]
    found.sort(key=lambda entry: entry.added, reverse=True)
    return found[0] if found else None


def model_family(registry: ModelRegistry, model_path: str) -> str:
    """The TAESD family of the image model at ``model_path`` as the registry knows it ("" unknown)."""
    entry = registry.get(model_path) or registry.get(str(Path(model_path).expanduser().resolve()))
    return family_of_kind(entry.kind) if entry is not None else ""


def registered_taesd(registry: ModelRegistry, model_path: str, family: str = "") -> str:
    """The ``taesd_path`` to load the image model at ``model_path`` with: "" when it has a TAESD of its own
    beside it (the engine finds that one) or none of its family is registered, else the registered folder.
    ``family`` (``sd``, ``sdxl``: e.g. what the engine said after a load) overrides the registry's kind."""
    if not model_path or taesd_beside(model_path) is not None:
        return ""
    entry = taesd_for_family(registry, family or model_family(registry, model_path))
    return entry.path if entry is not None else ""
