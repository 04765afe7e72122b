"""A bounded, self-contained check of a GGUF file's header before llama.cpp ever sees it.

Malformed GGUF files can crash llama.cpp (and gguf-py's reader can allocate without limit), so Studio walks
the header itself: magic, version, metadata and tensor table, every length and count checked against the
bytes actually in the file, and every tensor's data checked to lie inside the file. Nothing here allocates
in proportion to a number read from the file.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_TENSORS = 1 << 20
MAX_KV = 1 << 20
MAX_KEY_LENGTH = 1 << 16
MAX_STRING_LENGTH = 1 << 26
MAX_TENSOR_NAME = 64  # GGML_MAX_NAME
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_ARRAY_DEPTH = 3
MAX_ELEMENTS = 1 << 42
DEFAULT_ALIGNMENT = 32

# GGUF metadata value types: (struct format, size) for scalars
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
_STRING = 8
_ARRAY = 9

# ggml tensor types: (block size in elements, bytes per block)
GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 36),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    16: (256, 66),  # IQ2_XXS
    17: (256, 74),  # IQ2_XS
    18: (256, 98),  # IQ3_XXS
    19: (256, 50),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (256, 110),  # IQ3_S
    22: (256, 82),  # IQ2_S
    23: (256, 136),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (256, 56),  # IQ1_M
    30: (1, 2),  # BF16
    34: (256, 54),  # TQ1_0
    35: (256, 66),  # TQ2_0
    39: (32, 17),  # MXFP4
}

# Metadata keys whose values are kept (small scalars and strings only).
_KEPT_KEYS = (
    "general.architecture",
    "general.name",
    "general.file_type",
    "general.alignment",
    "tokenizer.chat_template",
    "tokenizer.ggml.model",
    "tokenizer.ggml.fim_pre_token_id",
    "tokenizer.ggml.fim_suf_token_id",
    "tokenizer.ggml.fim_mid_token_id",
    "general.license",
    "general.size_label",
    "general.basename",
    "general.type",
)
# per-architecture keys the memory estimate reads (``{arch}.block_count`` ...)
_KEPT_SUFFIXES = (
    ".context_length",
    ".block_count",
    ".embedding_length",
    ".attention.head_count",
    ".attention.head_count_kv",
    ".attention.key_length",
    ".attention.value_length",
    ".attention.sliding_window",
    ".expert_count",
    ".expert_used_count",
)


class GgufError(ValueError):
    """The file is not a GGUF model Studio can load safely; the message says why."""


@dataclass(frozen=True)
class GgufInfo:
    """What the header check learned about a GGUF file."""

    path: Path
    version: int
    tensor_count: int
    metadata: dict[str, Any] = field(default_factory=dict)
    file_size: int = 0
    parameter_count: int = 0

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if isinstance(value, int) else None

    @property
    def has_chat_template(self) -> bool:
        return bool(self.metadata.get("tokenizer.chat_template"))


class _Reader:
    def __init__(self, buffer: mmap.mmap | bytes, size: int) -> None:
        self.buffer = buffer
        self.size = size
        self.offset = 0

    def need(self, count: int, what: str) -> None:
        if count < 0 or self.offset + count > self.size:
            raise GgufError(f"the file is truncated or corrupt ({what} runs past the end of the file)")

    def unpack(self, fmt: str, size: int, what: str) -> Any:
        self.need(size, what)
        (value,) = struct.unpack_from(fmt, self.buffer, self.offset)
        self.offset += size
        return value

    def u32(self, what: str) -> int:
        return int(self.unpack("<I", 4, what))

    def u64(self, what: str) -> int:
        return int(self.unpack("<Q", 8, what))

    def string(self, what: str, limit: int = MAX_STRING_LENGTH) -> bytes:
        length = self.u64(f"length of {what}")
        if length > limit:
            raise GgufError(f"{what} claims {length} bytes, more than any model needs")
        self.need(length, what)
        data = bytes(self.buffer[self.offset : self.offset + length])
        self.offset += length
        return data

    def skip(self, count: int, what: str) -> None:
        self.need(count, what)
        self.offset += count


def _read_value(reader: _Reader, value_type: int, key: str, depth: int = 0) -> Any:
    if value_type in _SCALARS:
        fmt, size = _SCALARS[value_type]
        return reader.unpack(fmt, size, f"value of {key}")
    if value_type == _STRING:
        return reader.string(f"value of {key}").decode("utf-8", errors="replace")
    if value_type == _ARRAY:
        if depth >= MAX_ARRAY_DEPTH:
            raise GgufError(f"metadata {key} nests arrays too deeply")
        element_type = reader.u32(f"array type of {key}")
        count = reader.u64(f"array length of {key}")
        if element_type in _SCALARS:
            size = _SCALARS[element_type][1]
            if count > (reader.size - reader.offset) // size:
                raise GgufError(
                    f"the file is truncated or corrupt (metadata array {key} claims more elements than it holds)"
                )
            reader.skip(count * size, f"array {key}")
            return None
        if element_type in (_STRING, _ARRAY):
            # each element takes at least 8 bytes (a length or an array header)
            if count > (reader.size - reader.offset) // 8:
                raise GgufError(
                    f"the file is truncated or corrupt (metadata array {key} claims more elements than it holds)"
                )
            for _ in range(count):
                if element_type == _STRING:
                    length = reader.u64(f"string in array {key}")
                    if length > MAX_STRING_LENGTH:
                        raise GgufError(f"a string in {key} claims {length} bytes")
                    reader.skip(length, f"string in array {key}")
                else:
                    _read_value(reader, _ARRAY, key, depth + 1)
            return None
        raise GgufError(f"metadata array {key} has unknown element type {element_type}")
    raise GgufError(f"metadata {key} has unknown value type {value_type}")


def check_gguf(path: str | os.PathLike[str]) -> GgufInfo:
    """Check the GGUF file at ``path`` and return what it says about itself, or raise :class:`GgufError`."""
    file_path = Path(path)
    try:
        file_size = file_path.stat().st_size
        handle = open(file_path, "rb")  # noqa: SIM115 - closed below, after the mmap
    except FileNotFoundError:
        raise GgufError(f"{file_path} does not exist") from None
    except IsADirectoryError:
        raise GgufError(f"{file_path} is a folder, not a GGUF file") from None
    except OSError as exc:
        raise GgufError(f"cannot read {file_path}: {exc.strerror or exc}") from None
    with handle:
        if file_size < 24:
            raise GgufError(f"{file_path.name} is not a GGUF model (only {file_size} bytes)")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            return _check_buffer(file_path, buffer, file_size)


def _check_buffer(file_path: Path, buffer: mmap.mmap, file_size: int) -> GgufInfo:
    reader = _Reader(buffer, file_size)
    reader.need(4, "magic")
    if bytes(buffer[0:4]) != GGUF_MAGIC:
        raise GgufError(f"{file_path.name} is not a GGUF model (wrong magic bytes)")
    reader.offset = 4
    version = reader.u32("version")
    if version not in SUPPORTED_VERSIONS:
        raise GgufError(f"{file_path.name} uses GGUF version {version}; Studio reads versions 2 and 3")
    tensor_count = reader.u64("tensor count")
    kv_count = reader.u64("metadata count")
    if tensor_count == 0 or tensor_count > MAX_TENSORS:
        raise GgufError(f"{file_path.name} claims {tensor_count} tensors")
    if kv_count > MAX_KV:
        raise GgufError(f"{file_path.name} claims {kv_count} metadata entries")

    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = reader.string("metadata key", MAX_KEY_LENGTH).decode("utf-8", errors="replace")
        value_type = reader.u32(f"type of {key}")
        value = _read_value(reader, value_type, key)
        if key in _KEPT_KEYS or key.endswith(_KEPT_SUFFIXES):
            metadata[key] = value

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1) or alignment > 1 << 16:
        raise GgufError(f"{file_path.name} has an invalid alignment ({alignment!r})")
    if not metadata.get("general.architecture"):
        raise GgufError(f"{file_path.name} does not say which model architecture it holds")

    tensors: list[tuple[str, int, int]] = []
    parameters = 0
    names: set[str] = set()
    for index in range(tensor_count):
        name = reader.string(f"name of tensor {index}", MAX_TENSOR_NAME).decode("utf-8", errors="replace")
        if name in names:
            raise GgufError(f"{file_path.name} has two tensors named {name!r}")
        names.add(name)
        n_dims = reader.u32(f"dimensions of {name}")
        if not 1 <= n_dims <= MAX_DIMS:
            raise GgufError(f"tensor {name!r} claims {n_dims} dimensions")
        elements = 1
        dims = []
        for _ in range(n_dims):
            dim = reader.u64(f"shape of {name}")
            if dim == 0 or dim > MAX_ELEMENTS:
                raise GgufError(f"tensor {name!r} has an invalid shape")
            elements *= dim
            dims.append(dim)
            if elements > MAX_ELEMENTS:
                raise GgufError(f"tensor {name!r} is impossibly large")
        tensor_type = reader.u32(f"type of {name}")
        if tensor_type not in GGML_TYPE_SIZES:
            raise GgufError(
                f"tensor {name!r} has a type ({tensor_type}) this version of Studio does not know"
            )
        block, block_bytes = GGML_TYPE_SIZES[tensor_type]
        if dims[0] % block:
            raise GgufError(f"tensor {name!r} has a row size that does not fit its type")
        offset = reader.u64(f"offset of {name}")
        if offset % alignment:
            raise GgufError(f"tensor {name!r} is not aligned")
        tensors.append((name, offset, elements // block * block_bytes))
        parameters += elements

    data_start = (reader.offset + alignment - 1) // alignment * alignment
    data_size = file_size - data_start
    for name, offset, size in tensors:
        if offset + size > data_size:
            raise GgufError(
                f"{file_path.name} is truncated or corrupt (tensor {name!r} lies past the end of the file)"
            )
    return GgufInfo(file_path, version, tensor_count, metadata, file_size, parameters)
