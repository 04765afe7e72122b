"""What a model file says about itself: header check, kind, architecture, size, parameters, licence, SHA-256.

Runs where reading untrusted files belongs: in an engine process (``studio.models.service``) or on the
command line, never in the GUI process. GGUF headers go through Studio's bounded check
(:mod:`studio.engines.gguf_check`), safetensors headers through :mod:`studio.engines.sd_checkpoint`; pickle
checkpoints are refused. Hashing streams progress and stops within one chunk of a cancel.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from studio.engines import protocol
from studio.engines.gguf_check import GgufError, check_gguf
from studio.engines.protocol import CancelToken, EngineEvent, JobCancelled
from studio.engines.sd_checkpoint import (
    CheckpointError,
    TensorEntry,
    inspect_checkpoint,
    model_path_problem,
    read_safetensors_header,
)
from studio.models import taesd
from studio.models.registry import DECODER, DIFFUSION, LLM, ModelEntry, ModelKind

HASH_CHUNK = 8 * 1024 * 1024
MAX_TEMPLATE = 64 * 1024  # a chat template longer than this is cut in the registry (it is only shown)

# llama.cpp's LLAMA_FTYPE values (general.file_type) and their usual names
GGUF_FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}

_SHAPE_KEYS = {
    "block_count": "layers",
    "embedding_length": "embedding",
    "attention.head_count": "heads",
    "attention.head_count_kv": "kv_heads",
    "attention.key_length": "key_length",
    "attention.value_length": "value_length",
    "attention.sliding_window": "sliding_window",
}


class ModelFileError(ValueError):
    """A file Studio cannot register as a model; the message says why."""


def sha256_file(
    path: Path, job_id: str, cancel: CancelToken, share: tuple[float, float] = (0.0, 1.0)
) -> Generator[EngineEvent, None, str]:
    """The SHA-256 of ``path`` (hex), always computed (a verify must not trust a cache); progress is reported
    within ``share`` of the job's bar."""
    size = max(path.stat().st_size, 1)
    start, width = share
    digest = hashlib.sha256()
    done = reported = 0
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            if cancel.is_cancelled:
                raise JobCancelled
            digest.update(chunk)
            done += len(chunk)
            if done - reported >= size // 50 or done == size:
                reported = done
                yield protocol.progress(job_id, start + width * done / size, f"Hashing {path.name}")
    return digest.hexdigest()


def _gguf_entry(path: Path) -> ModelEntry:
    try:
        info = check_gguf(path)
    except GgufError as exc:
        raise ModelFileError(str(exc)) from exc
    metadata = info.metadata
    arch = info.architecture
    shape: dict[str, int] = {}
    for suffix, name in _SHAPE_KEYS.items():
        value = metadata.get(f"{arch}.{suffix}")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            shape[name] = value
    file_type = metadata.get("general.file_type")
    license_name = metadata.get("general.license")
    template = metadata.get("tokenizer.chat_template")
    details = {"chat_template": template[:MAX_TEMPLATE]} if isinstance(template, str) and template else {}
    return ModelEntry(
        path=str(path),
        engine=LLM,
        name=info.name,
        kind=(ModelKind.INSTRUCT if info.has_chat_template else ModelKind.BASE).value,
        architecture=arch,
        parameters=int(getattr(info, "parameter_count", 0) or 0),
        quantization=GGUF_FILE_TYPES.get(file_type, f"type {file_type}")
        if isinstance(file_type, int)
        else "",
        context_length=info.context_length or 0,
        size_bytes=info.file_size,
        license=license_name if isinstance(license_name, str) else "",
        shape=shape,
        details=details,
    )


def _elements(tensors: dict[str, TensorEntry]) -> int:
    total = 0
    for tensor in tensors.values():
        count = 1
        for dim in tensor.shape:
            count *= dim
        total += count
    return total


def _dtype_name(tensors: dict[str, TensorEntry]) -> str:
    """The dtype most of the weights are stored in (F16, BF16, F32...)."""
    counts: dict[str, int] = {}
    for tensor in tensors.values():
        counts[tensor.dtype] = counts.get(tensor.dtype, 0) + tensor.end - tensor.start
    return max(counts, key=lambda name: counts[name]) if counts else ""


def _license_from(metadata: dict[str, str]) -> str:
    for key in ("modelspec.license", "license", "ss_license"):
        if metadata.get(key):
            return metadata[key][:200]
    return ""


def _safetensors_entry(path: Path) -> ModelEntry:
    problem = model_path_problem(str(path))
    if problem is not None:
        raise ModelFileError(problem)
    try:
        tensors, metadata = read_safetensors_header(path)
    except CheckpointError as exc:
        raise ModelFileError(str(exc)) from exc
    names = tensors.keys()
    is_lora = any(name.startswith("lora_") or ".lora_" in name or ".lora." in name for name in names)
    entry = ModelEntry(
        path=str(path),
        engine=DIFFUSION,
        name=metadata.get("modelspec.title") or path.stem,
        parameters=_elements(tensors),
        quantization=_dtype_name(tensors),
        size_bytes=path.stat().st_size,
        license=_license_from(metadata),
    )
    if is_lora:
        entry.kind = ModelKind.LORA.value
        entry.architecture = (
            metadata.get("ss_base_model_version") or metadata.get("modelspec.architecture") or ""
        )[:100]
        return entry
    try:
        info = inspect_checkpoint(path)
    except CheckpointError as exc:
        raise ModelFileError(str(exc)) from exc
    entry.kind = info.family
    entry.architecture = info.family_name + (" inpainting" if info.is_inpainting else "")
    entry.shape = {
        "unet_tensors": sum(1 for name in names if name.startswith("model.diffusion_model.")),
        "in_channels": info.in_channels,
    }
    return entry


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path} cannot be read: {exc}") from exc
    if not isinstance(value, dict):
        raise ModelFileError(f"{path} is not a JSON object")
    return value


def _readme_license(folder: Path) -> str:
    """The ``license:`` line of a model card's YAML front matter, if there is one."""
    try:
        lines = (folder / "README.md").read_text(encoding="utf-8", errors="replace").splitlines()[:60]
    except OSError:
        return ""
    if not lines or lines[0].strip() != "---":
        return ""
    for line in lines[1:]:
        if line.strip() == "---":
            break
        if line.startswith("license:"):
            return line.partition(":")[2].strip().strip("'\"")[:100]
    return ""


def folder_weights(folder: Path) -> list[Path]:
    """One weights file per component of a diffusers folder (the full-precision one where both exist)."""
    chosen: list[Path] = []
    for component in sorted(item for item in folder.iterdir() if item.is_dir()):
        files = sorted(component.glob("*.safetensors"))
        full = [item for item in files if ".fp16." not in item.name]
        chosen.extend(full or files)
    return chosen


def _taesd_entry(path: Path, config: dict[str, Any]) -> ModelEntry:
    """A TAESD (``AutoencoderTiny``) folder: a decoder serving one family of image models."""
    weights = sorted(path.glob("*.safetensors"))
    full = [item for item in weights if ".fp16." not in item.name]
    if not weights:
        if any(path.glob("*.bin")):
            raise ModelFileError(
                f"{path.name} holds pickle weights (.bin) only; Studio loads .safetensors weights"
            )
        raise ModelFileError(f"{path.name} has an AutoencoderTiny config.json but no .safetensors weights")
    chosen = (full or weights)[0]
    try:
        tensors, _ = read_safetensors_header(chosen)
    except CheckpointError as exc:
        raise ModelFileError(f"{chosen.name}: {exc}") from exc
    family = taesd.taesd_family(path, config)
    return ModelEntry(
        path=str(path),
        engine=DECODER,
        name=path.name,
        kind=ModelKind.TAESD.value,
        architecture=f"{taesd.TAESD_CLASS} for {taesd.FAMILY_LABELS.get(family, family)}",
        parameters=_elements(tensors),
        quantization=_dtype_name(tensors),
        size_bytes=sum(item.stat().st_size for item in path.rglob("*") if item.is_file()),
        license=_readme_license(path),
        details={taesd.SERVES: family},
    )


def _folder_entry(path: Path) -> ModelEntry:
    if not (path / "model_index.json").is_file():
        config = taesd.read_config(path)
        if config is not None:
            return _taesd_entry(path, config)
    problem = model_path_problem(str(path))
    if problem is not None:
        if not (path / "model_index.json").is_file():
            problem = (
                f"{path} is neither a diffusers model folder (no model_index.json) nor a TAESD folder "
                "(no AutoencoderTiny config.json)"
            )
        raise ModelFileError(problem)
    index = _read_json(path / "model_index.json")
    class_name = str(index.get("_class_name", ""))
    unet_config = path / "unet" / "config.json"
    cross = _read_json(unet_config).get("cross_attention_dim") if unet_config.is_file() else None
    if "XL" in class_name or cross == 2048:
        kind = ModelKind.SDXL
    elif cross == 1024:
        kind = ModelKind.SD2
    else:
        kind = ModelKind.SD15
    parameters = 0
    dtypes: dict[str, int] = {}
    for weights in folder_weights(path):
        try:
            tensors, _ = read_safetensors_header(weights)
        except CheckpointError as exc:
            raise ModelFileError(f"{weights.relative_to(path)}: {exc}") from exc
        parameters += _elements(tensors)
        dtype = _dtype_name(tensors)
        dtypes[dtype] = dtypes.get(dtype, 0) + weights.stat().st_size
    if any(path.rglob("*.bin")) and not parameters:
        raise ModelFileError(
            f"{path.name} holds pickle weights (.bin) only; Studio loads .safetensors weights"
        )
    size = sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return ModelEntry(
        path=str(path),
        engine=DIFFUSION,
        name=path.name,
        kind=kind.value,
        architecture=class_name or "diffusers pipeline",
        parameters=parameters,
        quantization=max(dtypes, key=lambda name: dtypes[name]) if dtypes else "",
        size_bytes=size,
        license=_readme_license(path),
    )


def read_model(path: Path) -> ModelEntry:
    """Check the model at ``path`` (GGUF, .safetensors checkpoint or LoRA, diffusers or TAESD folder) and return an
    entry with what its header says (no hash yet). Raises :class:`ModelFileError` with a reason."""
    path = path.expanduser()
    if not path.exists():
        raise ModelFileError(f"{path} does not exist")
    path = path.resolve()
    if path.is_dir():
        return _folder_entry(path)
    if path.suffix.lower() == ".gguf":
        return _gguf_entry(path)
    with path.open("rb") as stream:
        magic = stream.read(4)
    if magic == b"GGUF":
        return _gguf_entry(path)
    return _safetensors_entry(path)


def hashed_file(entry: ModelEntry) -> Path | None:
    """The file whose SHA-256 names a model: the file itself, a diffusers folder's UNet weights, or a TAESD
    folder's weights."""
    path = Path(entry.path)
    if path.is_file():
        return path
    if entry.kind == ModelKind.TAESD.value:
        weights = sorted(path.glob("*.safetensors"))
        full = [item for item in weights if ".fp16." not in item.name]
        chosen = full or weights
        return chosen[0] if chosen else None
    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"):
        if (path / "unet" / name).is_file():
            return path / "unet" / name
    return None


def copy_into_models(source: Path, job_id: str, cancel: CancelToken) -> Generator[EngineEvent, None, Path]:
    """Copy a model file or folder into ``<models>/imported/`` (the user asked for a copy): through a
    ``.partial`` name, renamed when complete, removed on a cancel or an error. Returns the copy's path."""
    import shutil

    from studio import paths

    target = paths.models_dir() / "imported" / source.name
    if target.exists():
        raise ModelFileError(f"{target} already exists; import that one, or rename {source.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    files = sorted(item for item in source.rglob("*") if item.is_file()) if source.is_dir() else [source]
    total = max(sum(item.stat().st_size for item in files), 1)
    done = 0
    try:
        for item in files:
            destination = partial / item.relative_to(source) if source.is_dir() else partial
            destination.parent.mkdir(parents=True, exist_ok=True)
            with item.open("rb") as reader, destination.open("wb") as writer:
                while chunk := reader.read(HASH_CHUNK):
                    if cancel.is_cancelled:
                        raise JobCancelled
                    writer.write(chunk)
                    done += len(chunk)
                    yield protocol.progress(job_id, 0.5 * done / total, f"Copying {source.name}")
        partial.rename(target)
    finally:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        elif partial.exists():
            partial.unlink()
    return target


def inspect_model(
    path: Path, job_id: str, cancel: CancelToken, hash_file: bool = True
) -> Generator[EngineEvent, None, ModelEntry]:
    """Check and (with ``hash_file``) hash the model at ``path``; yields progress, returns its entry."""
    yield protocol.progress(job_id, 0.0, f"Checking {path.name}")
    try:
        entry = read_model(path)
        if hash_file:
            target = hashed_file(entry)
            if target is not None:
                entry.sha256 = yield from sha256_file(target, job_id, cancel, (0.05, 0.95))
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    entry.checked = time.time()
    return entry


def verify_model(
    known: ModelEntry, job_id: str, cancel: CancelToken
) -> Generator[EngineEvent, None, ModelEntry]:
    """Check ``known`` again: the header still passes and the SHA-256 still matches the recorded one.

    Returns the freshly read entry; its ``problem`` says what changed ("" when nothing did)."""
    path = Path(known.path)
    try:
        fresh = yield from inspect_model(path, job_id, cancel)
    except ModelFileError as exc:
        return ModelEntry(path=known.path, engine=known.engine, checked=time.time(), problem=str(exc))
    if known.sha256 and fresh.sha256 and fresh.sha256 != known.sha256:
        fresh.problem = (
            f"{path.name} has changed since it was added: its SHA-256 is {fresh.sha256[:12]}…, "
            f"not {known.sha256[:12]}…"
        )
    return fresh
