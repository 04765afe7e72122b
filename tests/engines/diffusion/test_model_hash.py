"""Model hashes: A1111's SHA-256, cached atomically through studio.fileio, streamed and cancellable."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from studio.engines import model_hash
from studio.engines.model_hash import file_hash, folder_hash, hash_cache_path
from studio.engines.protocol import CancelToken, EngineEvent, EventKind, JobCancelled


def run_hash(
    path: Path, cancel: CancelToken | None = None, folder: bool = False
) -> tuple[str, list[EngineEvent]]:
    events: list[EngineEvent] = []
    hashing = (folder_hash if folder else file_hash)(path, "job", cancel or CancelToken())
    try:
        while True:
            events.append(next(hashing))
    except StopIteration as stop:
        return str(stop.value), events


def test_hash_is_the_sha256_and_is_cached(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(os.urandom(3000))
    value, _ = run_hash(weights)
    assert value == hashlib.sha256(weights.read_bytes()).hexdigest()
    cache = json.loads(hash_cache_path().read_text(encoding="utf-8"))
    stat = weights.stat()
    assert cache == {f"{weights}|{stat.st_size}|{stat.st_mtime_ns}": value}
    assert [p.name for p in hash_cache_path().parent.iterdir()] == ["model_hashes.json"]  # no temp file left

    # The cached value is what is returned while the file is unchanged (proved with a planted value)...
    hash_cache_path().write_text(json.dumps({next(iter(cache)): "planted"}), encoding="utf-8")
    assert run_hash(weights)[0] == "planted"
    # ...and a changed file is hashed again, both entries kept.
    weights.write_bytes(b"other weights")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert run_hash(weights)[0] == hashlib.sha256(b"other weights").hexdigest()
    assert len(json.loads(hash_cache_path().read_text(encoding="utf-8"))) == 2


def test_a_damaged_or_unwritable_cache_only_costs_the_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights")
    expected = hashlib.sha256(b"weights").hexdigest()
    hash_cache_path().parent.mkdir(parents=True)
    hash_cache_path().write_text("{not json", encoding="utf-8")
    assert run_hash(weights)[0] == expected
    assert expected in hash_cache_path().read_text(encoding="utf-8")

    hash_cache_path().unlink()
    hash_cache_path().mkdir()  # a folder where the cache file should be: the write fails
    assert run_hash(weights)[0] == expected
    assert "could not write the model hash cache" in caplog.text


def test_large_files_stream_progress_and_stop_on_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_hash, "HASH_CHUNK", 64)
    weights = tmp_path / "big.safetensors"
    weights.write_bytes(os.urandom(64 * 100))
    value, events = run_hash(weights)
    assert value == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert events and all(event.kind is EventKind.PROGRESS for event in events)
    fractions = [event.progress for event in events]
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= model_hash.HASH_SHARE

    other = tmp_path / "other.safetensors"
    other.write_bytes(os.urandom(64 * 100))
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(JobCancelled):
        run_hash(other, cancel)
    assert str(other) not in hash_cache_path().read_text(encoding="utf-8")


def test_a_folder_hash_is_its_unet_weights_hash(tmp_path: Path) -> None:
    (tmp_path / "unet").mkdir()
    assert run_hash(tmp_path, folder=True)[0] == ""
    weights = tmp_path / "unet" / "diffusion_pytorch_model.fp16.safetensors"
    weights.write_bytes(b"unet")
    assert run_hash(tmp_path, folder=True)[0] == hashlib.sha256(b"unet").hexdigest()
