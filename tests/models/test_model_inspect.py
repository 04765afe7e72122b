"""What Studio reads from model files: GGUF and safetensors headers, hashes, verify."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Generator
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import pytest

from studio.engines.protocol import CancelToken, EngineEvent, JobCancelled
from studio.models.inspect import ModelFileError, inspect_model, read_model, verify_model
from studio.models.registry import DIFFUSION, LLM, ModelKind

T = TypeVar("T")


def run(job: Generator[EngineEvent, None, T]) -> T:
    try:
        while True:
            next(job)
    except StopIteration as stop:
        return stop.value


def sd15_checkpoint(model_files: ModuleType, path: Path, metadata: dict[str, str] | None = None) -> Path:
    return model_files.write_safetensors(
        path,
        {
            "model.diffusion_model.input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
            "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (
                "F16",
                [320, 768],
            ),
            "first_stage_model.decoder.conv_in.weight": ("F16", [512, 4, 3, 3]),
            "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": ("F16", [10, 768]),
        },
        metadata,
    )


def test_a_gguf_file_tells_kind_architecture_quantization_context_and_hash(tiny_gguf: Path) -> None:
    entry = run(inspect_model(tiny_gguf, "job", CancelToken()))
    assert (entry.engine, entry.model_kind, entry.architecture) == (LLM, ModelKind.INSTRUCT, "llama")
    assert (entry.name, entry.quantization, entry.context_length) == ("Tiny Stand-in", "F32", 2048)
    assert entry.size_bytes == tiny_gguf.stat().st_size
    assert entry.sha256 == hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()
    assert entry.path == str(tiny_gguf.resolve()) and entry.checked > 0


def test_gguf_header_facts_for_the_memory_estimate(tiny_gguf: Path) -> None:
    entry = read_model(tiny_gguf)
    assert entry.license == "mit"
    assert entry.shape == {"layers": 2, "embedding": 64, "heads": 4, "kv_heads": 2}
    assert entry.parameters == 3 * 1024 * 1024 // 4


@pytest.mark.llm
def test_the_default_gemma_model(default_model_file: Path) -> None:
    entry = read_model(default_model_file)
    assert (entry.model_kind, entry.architecture, entry.quantization) == (ModelKind.BASE, "gemma3", "Q4_K_M")
    assert (entry.context_length, entry.license) == (32768, "gemma")
    assert entry.shape["layers"] == 18 and entry.shape["kv_heads"] == 1 and entry.shape["key_length"] == 256
    assert 260_000_000 < entry.parameters < 280_000_000


def test_an_sd_checkpoint_and_a_lora(model_files: ModuleType, tmp_path: Path) -> None:
    checkpoint = read_model(
        sd15_checkpoint(model_files, tmp_path / "dream.safetensors", {"modelspec.license": "creativeml"})
    )
    assert (checkpoint.engine, checkpoint.model_kind, checkpoint.quantization) == (
        DIFFUSION,
        ModelKind.SD15,
        "F16",
    )
    assert (
        checkpoint.license == "creativeml" and checkpoint.parameters == 320 * 36 + 320 * 768 + 512 * 36 + 7680
    )
    lora = read_model(
        model_files.write_safetensors(
            tmp_path / "style.safetensors",
            {
                "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": ("F16", [4, 320]),
                "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": ("F16", [320, 4]),
            },
            {"ss_base_model_version": "sd_v1"},
        )
    )
    assert (lora.model_kind, lora.architecture, lora.parameters) == (ModelKind.LORA, "sd_v1", 2560)


def test_files_studio_cannot_use_are_refused_with_a_reason(tmp_path: Path) -> None:
    pickle = tmp_path / "model.ckpt"
    pickle.write_bytes(b"\x80\x02junk")
    with pytest.raises(ModelFileError, match="pickle"):
        read_model(pickle)
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(b"GGUF" + bytes(40))
    with pytest.raises(ModelFileError):
        read_model(truncated)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_model(tmp_path / "missing.gguf")
    folder = tmp_path / "not-a-pipeline"
    folder.mkdir()
    with pytest.raises(ModelFileError, match=r"model_index\.json"):
        read_model(folder)


def test_verify_notices_a_changed_file_and_a_broken_header(tiny_gguf: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(tiny_gguf.read_bytes())
    known = run(inspect_model(copy, "job", CancelToken()))
    assert run(verify_model(known, "job", CancelToken())).problem == ""
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0xFF  # one weight byte: the header still passes, the hash does not
    copy.write_bytes(bytes(data))
    assert "has changed since it was added" in run(verify_model(known, "job", CancelToken())).problem
    with open(copy, "r+b") as handle:
        handle.truncate(1000)
    assert "truncated" in run(verify_model(known, "job", CancelToken())).problem


def test_hashing_stops_at_a_cancel(tiny_gguf: Path) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(JobCancelled):
        run(inspect_model(tiny_gguf, "job", cancel))


@pytest.mark.diffusion
def test_a_diffusers_folder(tiny_pipeline: Path) -> None:
    entry = run(inspect_model(tiny_pipeline, "job", CancelToken()))
    assert (entry.engine, entry.model_kind) == (DIFFUSION, ModelKind.SD15)
    assert entry.parameters > 0 and entry.size_bytes > 0
    unet = next((tiny_pipeline / "unet").glob("*.safetensors"))
    assert entry.sha256 == hashlib.sha256(unet.read_bytes()).hexdigest()
    assert os.path.samefile(entry.path, tiny_pipeline)
