"""The GGUF header check refuses broken files with a clear message, before llama.cpp sees them."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from studio.engines.gguf_check import GgufError, check_gguf


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _header(tensor_count: int = 1, kv: list[bytes] | None = None, version: int = 3) -> bytes:
    kv = kv if kv is not None else [_string("general.architecture") + struct.pack("<I", 8) + _string("llama")]
    return b"GGUF" + struct.pack("<IQQ", version, tensor_count, len(kv)) + b"".join(kv)


def _tensor(name: str, dims: list[int], tensor_type: int = 0, offset: int = 0) -> bytes:
    return (
        _string(name)
        + struct.pack("<I", len(dims))
        + b"".join(struct.pack("<Q", d) for d in dims)
        + struct.pack("<IQ", tensor_type, offset)
    )


def _write(tmp_path: Path, data: bytes, name: str = "model.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _valid_file(tmp_path: Path) -> Path:
    body = _header() + _tensor("weight", [4, 2])
    body += b"\0" * (-len(body) % 32)
    return _write(tmp_path, body + b"\0" * 32)


def test_minimal_valid_file_passes(tmp_path: Path) -> None:
    info = check_gguf(_valid_file(tmp_path))
    assert info.architecture == "llama"
    assert info.tensor_count == 1
    assert not info.has_chat_template


@pytest.mark.llm
def test_default_model_passes(default_model_file: Path) -> None:
    info = check_gguf(default_model_file)
    assert info.architecture == "gemma3"
    assert info.context_length == 32768
    assert info.tensor_count > 100
    # what the model manager's memory estimate reads: Gemma 3 270M has 18 blocks of width 640
    assert info.metadata["gemma3.block_count"] == 18
    assert info.metadata["gemma3.embedding_length"] == 640
    assert 250_000_000 < info.parameter_count < 300_000_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "only 0 bytes"),
        (b"GGML" + b"\0" * 40, "wrong magic"),
        (b"GGUF" + struct.pack("<IQQ", 9, 1, 0) + b"\0" * 8, "version 9"),
        (b"GGUF" + struct.pack("<IQQ", 3, 2**63, 0) + b"\0" * 8, "tensors"),
        (b"GGUF" + struct.pack("<IQQ", 3, 1, 2**62) + b"\0" * 8, "metadata entries"),
        # a key whose length runs past the end of the file
        (_header(kv=[struct.pack("<Q", 2**40) + b"abc"]), "more than any model needs"),
        (_header(kv=[struct.pack("<Q", 1000) + b"abc" + b"\0" * 20]), "truncated"),
        # an array claiming 2**60 elements
        (_header(kv=[_string("a") + struct.pack("<IIQ", 9, 4, 2**60)]), "more elements than it holds"),
        (_header(kv=[_string("a") + struct.pack("<I", 99)]), "unknown value type"),
    ],
)
def test_malformed_headers_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(GgufError, match=message):
        check_gguf(_write(tmp_path, data))


def test_tensor_table_checks(tmp_path: Path) -> None:
    cases = {
        "dimensions": _header() + _tensor("w", [1, 1, 1, 1, 1]),
        "impossibly large": _header() + _tensor("w", [2**32, 2**32]),
        "does not know": _header() + _tensor("w", [4], tensor_type=77),
        "not aligned": _header() + _tensor("w", [4], offset=3),
        "past the end": _header() + _tensor("w", [1024]),
        "two tensors named": _header(tensor_count=2) + _tensor("w", [4]) + _tensor("w", [4], offset=32),
    }
    for message, data in cases.items():
        with pytest.raises(GgufError, match=message):
            check_gguf(_write(tmp_path, data + b"\0" * 64))


def test_truncated_real_model_is_refused(default_model_file: Path, tmp_path: Path) -> None:
    data = default_model_file.read_bytes()
    for cut in (100, len(data) // 1000, len(data) // 2, len(data) - 1):
        path = _write(tmp_path, data[:cut], f"cut{cut}.gguf")
        with pytest.raises(GgufError, match=r"truncated|past the end"):
            check_gguf(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(GgufError, match="does not exist"):
        check_gguf(tmp_path / "nope.gguf")
    with pytest.raises(GgufError, match="folder"):
        check_gguf(tmp_path)
