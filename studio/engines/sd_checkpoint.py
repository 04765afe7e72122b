"""Checks on diffusion model files that need no torch: path problems, the safetensors header, the SD family.

Torch-free so the GUI and the CLI can vet a model before sending it to the engine; the diffusion engine runs
the same checks before it loads anything. A safetensors file is 8 bytes of little-endian header length, a
JSON header naming each tensor's dtype, shape and byte range, then the raw data.
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle"})
MAX_HEADER_BYTES = 100 * 1024 * 1024

DTYPE_BYTES: dict[str, float] = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "F6_E2M3": 0.75,
    "F6_E3M2": 0.75,
    "F4": 0.5,
}

# Families Studio ships configs for; the name of each config folder under resources/diffusion_configs.
FAMILY_NAMES = {"sd15": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "Stable Diffusion XL"}

UNET_IN_KEY = "model.diffusion_model.input_blocks.0.0.weight"
CROSS_ATTENTION_KEY = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


class CheckpointError(ValueError):
    """A model file Studio will not or cannot load; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class TensorEntry:
    """One tensor as the safetensors header describes it."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """What the header of an SD single-file checkpoint tells (no weights read)."""

    path: Path
    family: str  # "sd15" | "sd2" | "sdxl"
    in_channels: int  # 4; 9 for inpainting models
    tensor_count: int
    prediction_type: str  # "epsilon" | "v_prediction"
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def is_inpainting(self) -> bool:
        return self.in_channels == 9

    @property
    def family_name(self) -> str:
        return FAMILY_NAMES.get(self.family, self.family)

    @property
    def default_size(self) -> int:
        """The native image side of this family, in pixels."""
        if self.family == "sdxl":
            return 1024
        if self.family == "sd2" and self.prediction_type == "v_prediction":
            return 768
        return 512


def pickle_refusal(path: Path) -> str:
    """The message for a refused pickle checkpoint."""
    return (
        f"{path.name} is a pickle checkpoint ({path.suffix}); Studio does not load pickle files because loading "
        "one can run arbitrary code. Use a .safetensors version of this model."
    )


def model_path_problem(model_path: str) -> str | None:
    """Why ``model_path`` cannot be a diffusion model (missing, pickle, wrong type), or None if it may be."""
    if not model_path:
        return "no model given"
    path = Path(model_path).expanduser()
    if not path.exists():
        return f"model not found: {model_path}"
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            return f"{model_path} is not a diffusers model folder (it has no model_index.json)"
        return None
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        return pickle_refusal(path)
    if suffix != ".safetensors":
        return f"{path.name}: unsupported model file (use a .safetensors checkpoint or a diffusers folder)"
    return None


def read_safetensors_header(path: Path) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """Parse and check the header of a ``.safetensors`` file: every tensor's byte range must fit its dtype and
    shape and lie inside the file. Raises :class:`CheckpointError` for bad, truncated or disguised files."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            prefix = stream.read(8)
            if prefix[:4] == b"PK\x03\x04" or prefix[:1] == b"\x80":
                raise CheckpointError(
                    f"{path.name} is not a safetensors file but a PyTorch pickle under a .safetensors name; "
                    "Studio refuses pickle files because loading one can run arbitrary code."
                )
            if len(prefix) < 8:
                raise CheckpointError(
                    f"{path.name} is not a valid safetensors file (it is only {size} bytes)."
                )
            (header_length,) = struct.unpack("<Q", prefix)
            if header_length > MAX_HEADER_BYTES or header_length > size - 8:
                if header_length <= MAX_HEADER_BYTES:
                    raise CheckpointError(
                        f"{path.name} is truncated or damaged: its header alone should be {header_length:,} bytes "
                        f"but the file has {size:,} bytes."
                    )
                raise CheckpointError(f"{path.name} is not a valid safetensors file (bad header length).")
            raw = stream.read(header_length)
    except OSError as exc:
        raise CheckpointError(f"Cannot read {path.name}: {exc.strerror or exc}") from exc
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path.name} is not a valid safetensors file (its header is not JSON)."
        ) from exc
    if not isinstance(header, dict):
        raise CheckpointError(
            f"{path.name} is not a valid safetensors file (its header is not a JSON object)."
        )
    data_length = size - 8 - header_length
    metadata_raw = header.pop("__metadata__", None) or {}
    metadata = {str(k): str(v) for k, v in metadata_raw.items()} if isinstance(metadata_raw, dict) else {}
    tensors: dict[str, TensorEntry] = {}
    furthest = 0
    for name, entry in header.items():
        tensors[name] = _check_entry(path, name, entry)
        furthest = max(furthest, tensors[name].end)
    if furthest > data_length:
        raise CheckpointError(
            f"{path.name} is truncated: its header describes {8 + header_length + furthest:,} bytes but the file "
            f"has {size:,}. Download or copy it again."
        )
    return tensors, metadata


def _check_entry(path: Path, name: str, entry: object) -> TensorEntry:
    bad = CheckpointError(f"{path.name} is damaged: the header entry for tensor {name!r} is invalid.")
    if not isinstance(entry, dict):
        raise bad
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BYTES or not isinstance(shape, list) or not isinstance(offsets, list):
        raise bad
    if len(offsets) != 2 or not all(isinstance(v, int) and v >= 0 for v in [*offsets, *shape]):
        raise bad
    start, end = offsets
    if end < start or math.ceil(math.prod(shape) * DTYPE_BYTES[dtype]) != end - start:
        raise bad
    return TensorEntry(str(dtype), tuple(shape), start, end)


def _prediction_type(family: str, path: Path, metadata: dict[str, str]) -> str:
    declared = metadata.get("modelspec.prediction_type", "").lower()
    if declared in ("v", "v_prediction"):
        return "v_prediction"
    if declared in ("epsilon", "eps"):
        return "epsilon"
    if family != "sd2":
        return "epsilon"
    name = path.stem.lower()
    if "768" in name:
        return "v_prediction"
    if "512" in name or re.search(r"(^|[^a-z])base([^a-z]|$)", name):
        return "epsilon"
    return "v_prediction"  # most SD 2.x checkpoints are the 768-v kind


def inspect_checkpoint(path: Path) -> CheckpointInfo:
    """Check ``path`` (a single-file SD checkpoint) and tell its family from its tensor names and shapes."""
    problem = model_path_problem(str(path))
    if problem is not None:
        raise CheckpointError(problem)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file.")
    tensors, metadata = read_safetensors_header(path)
    names = tensors.keys()

    def has_prefix(prefix: str) -> bool:
        return any(name.startswith(prefix) for name in names)

    unet_in = tensors.get(UNET_IN_KEY)
    if unet_in is None or len(unet_in.shape) != 4:
        if has_prefix("model.diffusion_model."):
            kind = "it looks like another architecture (Flux, SD3 or similar)"
        elif has_prefix("lora_") or any(".lora_" in name for name in names):
            kind = "it looks like a LoRA, not a full model"
        elif has_prefix("down_blocks.") or has_prefix("encoder.") or has_prefix("text_model."):
            kind = "it holds a single diffusers component, not a full checkpoint"
        else:
            kind = "its tensors are not those of an SD UNet"
        raise CheckpointError(
            f"{path.name} is not a Stable Diffusion 1.x/2.x/XL checkpoint: {kind}. Studio loads SD 1.5, SD 2.x "
            "and SDXL .safetensors checkpoints or diffusers model folders."
        )
    in_channels = unet_in.shape[1]
    cross = tensors.get(CROSS_ATTENTION_KEY)
    cross_dim = cross.shape[-1] if cross is not None else 0
    if has_prefix("conditioner.embedders.1.model."):
        family = "sdxl"
    elif has_prefix("conditioner.embedders.0.model."):
        raise CheckpointError(f"{path.name} is an SDXL refiner; Studio needs a base (text-to-image) model.")
    elif has_prefix("cond_stage_model.model.") or cross_dim == 1024:
        family = "sd2"
    elif has_prefix("cond_stage_model.transformer.") or cross_dim == 768:
        family = "sd15"
    else:
        raise CheckpointError(f"{path.name}: cannot tell which Stable Diffusion version this checkpoint is.")
    if not has_prefix("first_stage_model."):
        raise CheckpointError(
            f"{path.name} has no VAE weights (first_stage_model.*); Studio needs a full checkpoint with its VAE."
        )
    if not (has_prefix("cond_stage_model.") or has_prefix("conditioner.")):
        raise CheckpointError(f"{path.name} has no text encoder weights; Studio needs a full checkpoint.")
    if in_channels not in (4, 9):
        raise CheckpointError(f"{path.name}: unsupported UNet with {in_channels} input channels.")
    return CheckpointInfo(
        path=path,
        family=family,
        in_channels=in_channels,
        tensor_count=len(tensors),
        prediction_type=_prediction_type(family, path, metadata),
        metadata=metadata,
    )
