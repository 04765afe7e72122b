"""LoRA files, torch-free: checking a chosen file, its A1111 name and hash, and the A1111 parameter text.

The GUI and the CLI use this to check a file before sending it; the engine (:mod:`studio.engines.diffusion_lora`)
loads it. Only ``.safetensors`` is accepted: pickle files can run code when they are read.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

LORA_SUFFIX = ".safetensors"
MAX_HEADER_BYTES = 100 * 1024 * 1024
MIN_WEIGHT, MAX_WEIGHT = -4.0, 4.0

_HASHES: dict[tuple[str, int, int], str] = {}


class LoraFileError(ValueError):
    """A LoRA file that cannot be used; the message is for the user."""


def lora_name(path: str | Path) -> str:
    """The name A1111 writes in ``<lora:name:weight>``: the file name without its suffix."""
    return Path(path).stem


def read_lora_header(path: str | Path) -> dict[str, Any]:
    """The safetensors header of a LoRA file; a :class:`LoraFileError` saying what is wrong otherwise."""
    file = Path(path).expanduser()
    if file.suffix.lower() != LORA_SUFFIX:
        raise LoraFileError(f"{file.name} is not a .safetensors file: only .safetensors LoRAs are loaded.")
    if not file.is_file():
        raise LoraFileError(f"The LoRA file {file} was not found.")
    try:
        with file.open("rb") as stream:
            head = stream.read(8)
            if len(head) < 8:
                raise LoraFileError(f"{file.name} is not a LoRA: the file is too short.")
            (size,) = struct.unpack("<Q", head)
            if size > MAX_HEADER_BYTES or size > file.stat().st_size - 8:
                raise LoraFileError(f"{file.name} is not a safetensors file (bad header size).")
            header = json.loads(stream.read(size))
    except OSError as exc:
        raise LoraFileError(f"The LoRA file {file.name} could not be read: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise LoraFileError(f"{file.name} is not a safetensors file (unreadable header).") from exc
    if not isinstance(header, dict) or not any(key != "__metadata__" for key in header):
        raise LoraFileError(f"{file.name} holds no tensors.")
    return header


def check_lora_file(path: str | Path) -> None:
    """Raise a :class:`LoraFileError` unless ``path`` is a readable ``.safetensors`` file with LoRA weights."""
    header = read_lora_header(path)
    if not any("lora" in key.lower() or ".alpha" in key or "hada_" in key for key in header):
        raise LoraFileError(f"{Path(path).name} holds no LoRA weights (is it a full model checkpoint?).")


def check_loras(loras: Sequence[tuple[str, float]]) -> str | None:
    """What is wrong with a request's LoRA list (a message for the user), or None; reads only headers."""
    seen: set[str] = set()
    for path, weight in loras:
        if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            return f"the weight of LoRA {lora_name(path)} must be between {MIN_WEIGHT:g} and {MAX_WEIGHT:g}"
        key = str(Path(path).expanduser().resolve())
        if key in seen:
            return f"the LoRA {lora_name(path)} is listed twice"
        seen.add(key)
        try:
            check_lora_file(path)
        except LoraFileError as exc:
            return str(exc)
    return None


def lora_hash(path: str | Path) -> str:
    """A1111's LoRA hash: the first 12 hex digits of the SHA-256 of the tensor data (after the safetensors
    header, the "AddNet" hash), cached by path, size and modification time."""
    file = Path(path).expanduser().resolve()
    stat = file.stat()
    key = (str(file), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with file.open("rb") as stream:
            (size,) = struct.unpack("<Q", stream.read(8))
            stream.seek(8 + size)
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()[:12]
    return _HASHES[key]


def lora_entries(loras: Iterable[tuple[str, float]]) -> list[dict[str, Any]]:
    """The parameters a result records per LoRA: ``name``, ``weight``, ``hash`` and ``path``."""
    entries = []
    for path, weight in loras:
        try:
            digest = lora_hash(path)
        except OSError:
            digest = ""
        entries.append({"name": lora_name(path), "weight": float(weight), "hash": digest, "path": str(path)})
    return entries


def _weight(value: float) -> str:
    return f"{value:g}"


def lora_prompt_tags(params: Mapping[str, Any]) -> str:
    """The ``<lora:name:weight>`` tags A1111 appends to the prompt, for the ``loras`` entries of ``params``."""
    return " ".join(
        f"<lora:{entry['name']}:{_weight(float(entry['weight']))}>" for entry in params.get("loras") or ()
    )


def lora_hashes_text(params: Mapping[str, Any]) -> str:
    """A1111's ``Lora hashes`` value (``name: hash, name: hash``), empty without LoRAs or hashes."""
    return ", ".join(
        f"{entry['name']}: {entry['hash']}" for entry in params.get("loras") or () if entry.get("hash")
    )


__all__ = [
    "LORA_SUFFIX",
    "LoraFileError",
    "check_lora_file",
    "check_loras",
    "lora_entries",
    "lora_hash",
    "lora_hashes_text",
    "lora_name",
    "lora_prompt_tags",
    "read_lora_header",
]
