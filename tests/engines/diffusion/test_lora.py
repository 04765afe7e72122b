"""LoRAs on the tiny pipeline: a tiny LoRA made here with peft, loaded, weighted, dropped; refused files; the
A1111 parameter text."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engines.lora_files import (
    LoraFileError,
    check_lora_file,
    check_loras,
    lora_entries,
    lora_hash,
    lora_hashes_text,
    lora_prompt_tags,
)
from studio.engines.protocol import EngineError

pytestmark = [
    pytest.mark.diffusion,
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:Already found a `peft_config` attribute:UserWarning"),
]


def make_tiny_lora(path: Path, seed: int = 1, text_encoder: bool = False) -> Path:
    """A random LoRA (rank 4) on the tiny UNet's attention projections (and the text encoder's, if asked), saved
    in diffusers' LoRA format."""
    import torch
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import get_peft_model_state_dict

    from studio.testing.tiny_diffusion import build_tiny_pipeline

    pipe = build_tiny_pipeline(0)
    torch.manual_seed(seed)
    targets = ["to_q", "to_k", "to_v", "to_out.0"]
    pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=targets, init_lora_weights=False))
    layers: dict[str, Any] = {"unet_lora_layers": get_peft_model_state_dict(pipe.unet)}
    if text_encoder:
        config = LoraConfig(r=4, lora_alpha=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        inject_adapter_in_model(config, pipe.text_encoder)  # transformers' add_adapter wants peft >= 0.22
        layers["text_encoder_lora_layers"] = get_peft_model_state_dict(pipe.text_encoder)
    path.parent.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(
        path.parent, weight_name=path.name, safe_serialization=True, **layers
    )
    return path


@pytest.fixture(scope="module")
def loras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loras")
    return {
        "style": make_tiny_lora(root / "style.safetensors", seed=1),
        "other": make_tiny_lora(root / "other.safetensors", seed=2, text_encoder=True),
    }


@pytest.fixture()
def pipe() -> Any:
    from studio.testing.tiny_diffusion import build_tiny_pipeline

    return build_tiny_pipeline(0)


def generate(pipe: Any, seed: int = 3) -> np.ndarray:
    import torch

    output = pipe(
        "a cat",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
    )
    return np.asarray(output.images[0])


def test_weight_zero_equals_no_lora_and_weight_one_changes_the_image(
    pipe: Any, loras: dict[str, Path]
) -> None:
    from studio.engines.diffusion_lora import apply_loras, loaded_adapters

    plain = generate(pipe)
    entries = apply_loras(pipe, [(str(loras["style"]), 0.0)])
    assert [(e["name"], e["weight"]) for e in entries] == [("style", 0.0)]
    assert np.array_equal(generate(pipe), plain)
    apply_loras(pipe, [(str(loras["style"]), 1.0)])
    styled = generate(pipe)
    assert np.abs(styled - plain).max() > 0.01
    apply_loras(pipe, [(str(loras["style"]), 0.5)])  # a new weight, same adapter: nothing reloaded
    half = generate(pipe)
    assert len(loaded_adapters(pipe)) == 1
    assert 0 < np.abs(half - plain).max() < np.abs(styled - plain).max() + 1e-6
    apply_loras(pipe, [])  # dropped: the pipeline is the base model again
    assert loaded_adapters(pipe) == set()
    assert np.array_equal(generate(pipe), plain)


def test_two_loras_stack_and_one_can_be_removed(pipe: Any, loras: dict[str, Path]) -> None:
    from studio.engines.diffusion_lora import apply_loras, loaded_adapters

    only_style_entries = apply_loras(pipe, [(str(loras["style"]), 1.0)])
    only_style = generate(pipe)
    entries = apply_loras(pipe, [(str(loras["style"]), 1.0), (str(loras["other"]), 1.0)])
    assert [e["name"] for e in entries] == ["style", "other"] and len(loaded_adapters(pipe)) == 2
    both = generate(pipe)
    assert not np.array_equal(both, only_style)
    assert apply_loras(pipe, [(str(loras["style"]), 1.0)]) == only_style_entries
    assert len(loaded_adapters(pipe)) == 1
    assert np.array_equal(generate(pipe), only_style)


def test_img2img_pipeline_made_with_from_pipe_shares_the_loras(pipe: Any, loras: dict[str, Path]) -> None:
    import torch
    from diffusers import AutoPipelineForImage2Image
    from PIL import Image

    from studio.engines.diffusion_lora import apply_loras

    img2img = AutoPipelineForImage2Image.from_pipe(pipe)
    init = Image.new("RGB", (64, 64), (120, 80, 40))

    def vary() -> np.ndarray:
        generator = torch.Generator("cpu").manual_seed(1)
        out = img2img(
            "a cat", image=init, strength=0.5, num_inference_steps=4, generator=generator, output_type="np"
        )
        return np.asarray(out.images[0])

    plain = vary()
    apply_loras(pipe, [(str(loras["style"]), 1.0)])
    assert not np.array_equal(vary(), plain)


def test_bad_files_get_clear_messages_and_leave_the_pipeline_clean(
    pipe: Any, loras: dict[str, Path], tmp_path: Path
) -> None:
    from safetensors.torch import save_file

    from studio.engines.diffusion_lora import apply_loras, loaded_adapters

    missing = tmp_path / "gone.safetensors"
    with pytest.raises(EngineError, match="not found"):
        apply_loras(pipe, [(str(missing), 1.0)])
    pickle_file = tmp_path / "old.ckpt"
    pickle_file.write_bytes(b"\x80\x04junk")
    with pytest.raises(EngineError, match=r"only \.safetensors"):
        apply_loras(pipe, [(str(pickle_file), 1.0)])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 20) + b"{not json at all....")
    with pytest.raises(EngineError, match="not a safetensors file"):
        apply_loras(pipe, [(str(garbage), 1.0)])
    import torch

    # LoRA keys for layers this model has, but of another width (a LoRA made for a bigger model)
    wrong = {
        "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 320),
        "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight": torch.zeros(320, 4),
    }
    save_file(wrong, str(tmp_path / "wide.safetensors"))
    with pytest.raises(EngineError, match="does not fit this model"):
        apply_loras(pipe, [(str(tmp_path / "wide.safetensors"), 1.0)])
    # LoRA keys for layers this model does not have
    save_file({"unet.nowhere.lora_A.weight": torch.zeros(4, 8)}, str(tmp_path / "elsewhere.safetensors"))
    with pytest.raises(EngineError, match=r"does not fit|matches no layer"):
        apply_loras(pipe, [(str(tmp_path / "elsewhere.safetensors"), 1.0)])
    save_file({"model.diffusion_model.conv.weight": torch.zeros(2)}, str(tmp_path / "checkpoint.safetensors"))
    with pytest.raises(EngineError, match="no LoRA weights"):
        apply_loras(pipe, [(str(tmp_path / "checkpoint.safetensors"), 1.0)])
    assert loaded_adapters(pipe) == set()
    plain = generate(pipe)
    apply_loras(pipe, [(str(loras["style"]), 1.0)])  # a good file still loads afterwards
    assert not np.array_equal(generate(pipe), plain)


def test_request_checks_and_a1111_text(loras: dict[str, Path], tmp_path: Path) -> None:
    style = str(loras["style"])
    assert check_loras([(style, 0.8)]) is None
    assert "listed twice" in (check_loras([(style, 0.8), (style, 1.0)]) or "")
    assert "between" in (check_loras([(style, 9.0)]) or "")
    assert "not found" in (check_loras([(str(tmp_path / "nope.safetensors"), 1.0)]) or "")
    with pytest.raises(LoraFileError, match="holds no tensors"):
        empty = tmp_path / "empty.safetensors"
        header = json.dumps({"__metadata__": {}}).encode()
        empty.write_bytes(struct.pack("<Q", len(header)) + header)
        check_lora_file(empty)
    digest = lora_hash(style)
    assert len(digest) == 12 and digest == lora_hash(style)
    params = {"loras": lora_entries([(style, 0.8), (str(loras["other"]), 1.0)])}
    assert lora_prompt_tags(params) == "<lora:style:0.8> <lora:other:1>"
    assert lora_hashes_text(params) == f"style: {digest}, other: {lora_hash(loras['other'])}"
    assert lora_prompt_tags({}) == "" and lora_hashes_text({"loras": []}) == ""


def test_engine_applies_request_loras_in_every_mode_and_writes_a1111_text(
    folder_engine: Any, run: Any, loras: dict[str, Path], to_png: Any, to_pixels: Any
) -> None:
    from PIL import Image

    from studio.engines.diffusion_lora import loaded_adapters
    from studio.engines.image_requests import GenerationMode, ImageRequest
    from studio.engines.results import ImageResult

    style = str(loras["style"])
    init = to_png(Image.new("RGB", (64, 64), (120, 80, 40)))

    def image(
        mode: GenerationMode, lora_list: tuple[tuple[str, float], ...]
    ) -> tuple[np.ndarray, ImageResult]:
        extra: dict[str, Any] = {"loras": lora_list}
        if mode is GenerationMode.IMAGE_TO_IMAGE:
            extra.update(init_image=init, strength=0.5)
        request = ImageRequest(
            "lora", mode=mode, prompt="a cat", steps=2, seed=4, width=64, height=64, **extra
        )
        events = run(folder_engine, request)
        assert events[-1].kind.value == "result", events[-1].text
        return to_pixels(events[-1].image), events[-1].result

    try:
        for mode in (GenerationMode.TEXT_TO_IMAGE, GenerationMode.IMAGE_TO_IMAGE):
            plain, _ = image(mode, ())
            zero, _ = image(mode, ((style, 0.0),))
            styled, result = image(mode, ((style, 1.0),))
            assert np.array_equal(zero, plain) and not np.array_equal(styled, plain)
            assert result.first["loras"][0]["name"] == "style"
            first_line = result.parameters.splitlines()[0]
            assert first_line == "a cat <lora:style:1>"
            assert f'Lora hashes: "style: {lora_hash(style)}"' in result.parameters
        missing = (("/no/x.safetensors", 1.0),)
        events = run(folder_engine, ImageRequest("bad", prompt="x", steps=1, loras=missing))
        assert events[-1].kind.value == "error" and "not found" in events[-1].text
    finally:
        run(folder_engine, ImageRequest("reset", prompt="x", steps=1, width=64, height=64))
    assert loaded_adapters(folder_engine.model.pipe) == set()
