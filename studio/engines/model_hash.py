"""Model hashes: AUTOMATIC1111's "Model hash" is the first 10 hex digits of the weights file's SHA-256.

Hashing a multi-gigabyte checkpoint takes seconds, so hashes are cached in Studio's data folder by path,
size and modification time (written atomically through :mod:`studio.fileio`). Hashing streams progress
events and stops within one chunk of a cancel.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Generator
from pathlib import Path

from studio.engines import protocol
from studio.engines.protocol import CancelToken, EngineEvent, JobCancelled
from studio.fileio import atomic_write_text

log = logging.getLogger(__name__)

HASH_CHUNK = 16 * 1024 * 1024
HASH_SHARE = 0.3  # the part of a load's progress bar the hashing fills


def hash_cache_path() -> Path:
    """Where computed model hashes are remembered."""
    from studio import paths

    return paths.data_dir() / "diffusion" / "model_hashes.json"


def _read_cache(cache_path: Path) -> dict[str, object]:
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def file_hash(path: Path, job: str, cancel: CancelToken) -> Generator[EngineEvent, None, str]:
    """The SHA-256 of ``path`` (hex), from the cache or computed; yields progress for large files."""
    stat = path.stat()
    cache_key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    cache_path = hash_cache_path()
    cache = _read_cache(cache_path)
    cached = cache.get(cache_key)
    if isinstance(cached, str):
        return cached
    digest = hashlib.sha256()
    done, reported = 0, 0
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if cancel.is_cancelled:
                raise JobCancelled
            if stat.st_size > 20 * HASH_CHUNK and done - reported > stat.st_size // 20:
                reported = done
                yield protocol.progress(job, HASH_SHARE * done / stat.st_size, f"Hashing {path.name}")
    value = digest.hexdigest()
    cache[cache_key] = value
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache_path, json.dumps(cache, indent=1))
    except OSError:
        log.warning("could not write the model hash cache %s", cache_path)
    return value


def folder_hash(path: Path, job: str, cancel: CancelToken) -> Generator[EngineEvent, None, str]:
    """A diffusers folder's hash is its UNet weights file's (empty if it has none)."""
    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"):
        weights = path / "unet" / name
        if weights.is_file():
            return (yield from file_hash(weights, job, cancel))
    return ""
