"""A tiny random-weight Stable Diffusion pipeline, saved as a diffusers folder or as an SD (LDM) checkpoint.

Used by the tests, the installer's bundle self-check and the benchmarks; builds everything locally (no hub).
The single-file writer converts diffusers key names back to the original Stable Diffusion layout, so loading
it runs diffusers' real ``from_single_file`` conversion.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.engines.clip_bpe import bytes_to_unicode

if TYPE_CHECKING:
    import torch

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
TINY_VOCAB_SIZE = 1000
TINY_CROSS_ATTENTION_DIM = 32


def write_tiny_tokenizer(folder: Path) -> Path:
    """Write a small CLIP BPE vocabulary (every byte, alone and word-final) and a CLIPTokenizer config."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {BOS: 0, EOS: 1}
    for char in bytes_to_unicode().values():
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    merges = ["#version: 0.2", "t h", "th e</w>", "a n", "an d</w>", "c a", "ca t</w>"]
    for merge in merges[1:]:
        left, right = merge.split(" ")
        vocab.setdefault(left + right, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("\n".join(merges) + "\n", encoding="utf-8")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": 77,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": EOS,
        "pad_token": EOS,
        "do_lower_case": True,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def build_tiny_pipeline(seed: int = 0, in_channels: int = 4) -> Any:
    """A tiny SD 1.x-style pipeline with random weights (deterministic for a given ``seed``); ``in_channels=9``
    makes an inpainting-model UNet."""
    import tempfile

    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TINY_CROSS_ATTENTION_DIM,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=TINY_CROSS_ATTENTION_DIM,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=5,
            vocab_size=TINY_VOCAB_SIZE,
            max_position_embeddings=77,
            projection_dim=TINY_CROSS_ATTENTION_DIM,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_tiny_tokenizer(Path(tmp)), local_files_only=True)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="leading",
    )
    return _assemble_pipeline(unet, vae, text_encoder, tokenizer, scheduler)


def _assemble_pipeline(unet: Any, vae: Any, text_encoder: Any, tokenizer: Any, scheduler: Any) -> Any:
    """A ``StableDiffusionPipeline`` of these components, without safety checker or progress bars."""
    from diffusers import StableDiffusionPipeline

    pipe: Any = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_pipeline(folder: Path, seed: int = 0, in_channels: int = 4) -> Path:
    """Build the tiny pipeline and ``save_pretrained`` it (safetensors) to ``folder``; returns ``folder``."""
    pipe = build_tiny_pipeline(seed, in_channels)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def save_config_folder(pipe: Any, folder: Path) -> Path:
    """Write ``pipe``'s diffusers config files (model_index.json, each component's config, tokenizer)
    without weights, for ``from_single_file(..., config=folder)``."""
    pipe.save_pretrained(folder, safe_serialization=True)
    for weights in list(folder.rglob("*.safetensors")) + list(folder.rglob("*.bin")):
        weights.unlink()
    for index in folder.rglob("*.index.json"):
        index.unlink()
    return folder


# --- diffusers → original SD (LDM) key names -------------------------------------------------------------

_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
}
_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
_VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def _resnet_ldm(rest: str, mapping: dict[str, str]) -> str:
    head, _, tail = rest.rpartition(".")  # tail: weight/bias
    return f"{mapping.get(head, head)}.{tail}"


def unet_key_to_ldm(key: str, layers_per_block: int, up_blocks_with_attention: set[int]) -> str:
    """The original SD name of a diffusers UNet2DConditionModel parameter."""
    per_block = layers_per_block + 1
    head, _, tail = key.rpartition(".")
    if head in _UNET_FIXED:
        return f"{_UNET_FIXED[head]}.{tail}"
    parts = key.split(".")
    if parts[0] == "down_blocks":
        block, kind = int(parts[1]), parts[2]
        if kind == "downsamplers":
            return f"input_blocks.{(block + 1) * per_block}.0.op.{'.'.join(parts[5:])}"
        index = 1 + block * per_block + int(parts[3])
        rest = ".".join(parts[4:])
        if kind == "resnets":
            return f"input_blocks.{index}.0.{_resnet_ldm(rest, _UNET_RESNET)}"
        return f"input_blocks.{index}.1.{rest}"
    if parts[0] == "mid_block":
        kind, number, rest = parts[1], int(parts[2]), ".".join(parts[3:])
        if kind == "resnets":
            return f"middle_block.{2 * number}.{_resnet_ldm(rest, _UNET_RESNET)}"
        return f"middle_block.1.{rest}"
    if parts[0] == "up_blocks":
        block, kind = int(parts[1]), parts[2]
        if kind == "upsamplers":
            slot = 2 if block in up_blocks_with_attention else 1
            return f"output_blocks.{block * per_block + layers_per_block}.{slot}.{'.'.join(parts[4:])}"
        index = block * per_block + int(parts[3])
        rest = ".".join(parts[4:])
        if kind == "resnets":
            return f"output_blocks.{index}.0.{_resnet_ldm(rest, _UNET_RESNET)}"
        return f"output_blocks.{index}.1.{rest}"
    raise ValueError(f"no LDM name for UNet key {key!r}")


def vae_key_to_ldm(key: str, num_up_blocks: int) -> str:
    """The original SD name of a diffusers AutoencoderKL parameter."""
    parts = key.split(".")
    coder = parts[0]
    if coder in ("quant_conv", "post_quant_conv") or parts[1] in ("conv_in", "conv_out"):
        return key
    if parts[1] == "conv_norm_out":
        return f"{coder}.norm_out.{parts[2]}"
    if parts[1] == "mid_block":
        kind, number, rest = parts[2], int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            return f"{coder}.mid.block_{number + 1}.{rest.replace('conv_shortcut', 'nin_shortcut')}"
        head, _, tail = rest.rpartition(".")
        return f"{coder}.mid.attn_1.{_VAE_ATTENTION.get(head, head)}.{tail}"
    if parts[1] == "down_blocks":
        block, kind = int(parts[2]), parts[3]
        if kind == "downsamplers":
            return f"encoder.down.{block}.downsample.{'.'.join(parts[5:])}"
        rest = ".".join(parts[5:]).replace("conv_shortcut", "nin_shortcut")
        return f"encoder.down.{block}.block.{parts[4]}.{rest}"
    if parts[1] == "up_blocks":
        block, kind = num_up_blocks - 1 - int(parts[2]), parts[3]
        if kind == "upsamplers":
            return f"decoder.up.{block}.upsample.{'.'.join(parts[5:])}"
        rest = ".".join(parts[5:]).replace("conv_shortcut", "nin_shortcut")
        return f"decoder.up.{block}.block.{parts[4]}.{rest}"
    raise ValueError(f"no LDM name for VAE key {key!r}")


def pipeline_to_ldm_state_dict(pipe: Any) -> dict[str, torch.Tensor]:
    """The weights of an SD 1.x-style pipeline (UNet, VAE, CLIP text encoder) under original SD key names."""
    unet_config = pipe.unet.config
    with_attention = {i for i, name in enumerate(unet_config.up_block_types) if "CrossAttn" in name}
    state: dict[str, torch.Tensor] = {}
    for key, value in pipe.unet.state_dict().items():
        ldm = unet_key_to_ldm(key, unet_config.layers_per_block, with_attention)
        state["model.diffusion_model." + ldm] = value.contiguous()
    num_up = len(pipe.vae.config.up_block_types)
    for key, value in pipe.vae.state_dict().items():
        ldm = vae_key_to_ldm(key, num_up)
        if ".mid.attn_1." in ldm and ldm.endswith(".weight") and value.ndim == 2:
            value = value[:, :, None, None]  # linear → 1×1 conv, as in the original VAE
        state["first_stage_model." + ldm] = value.contiguous()
    flattened = not hasattr(pipe.text_encoder, "text_model")
    for key, value in pipe.text_encoder.state_dict().items():
        if key.endswith("position_ids"):
            continue
        name = ("text_model." + key) if flattened else key
        state["cond_stage_model.transformer." + name] = value.contiguous()
    return state


def save_tiny_single_file(path: Path, seed: int = 0, with_config: bool = True, in_channels: int = 4) -> Path:
    """Write the tiny pipeline as one SD-layout ``.safetensors`` file at ``path``.

    With ``with_config`` its diffusers config folder (which the tiny shapes need, since Studio's shipped SD
    configs describe full-size models) is written beside it as ``<stem>.config/``. Returns ``path``.
    """
    from safetensors.torch import save_file

    pipe = build_tiny_pipeline(seed, in_channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(pipeline_to_ldm_state_dict(pipe), str(path), metadata={"format": "pt"})
    if with_config:
        config_dir = path.with_name(path.stem + ".config")
        if config_dir.exists():
            shutil.rmtree(config_dir)
        save_config_folder(pipe, config_dir)
    return path


def save_tiny_taesd(folder: Path, seed: int = 0) -> Path:
    """A tiny random-weight ``AutoencoderTiny`` (TAESD layout) saved to ``folder``."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    taesd: Any = AutoencoderTiny(
        encoder_block_out_channels=(8, 8),
        decoder_block_out_channels=(8, 8),
        num_encoder_blocks=(1, 1),
        num_decoder_blocks=(1, 1),
        latent_channels=4,
    )
    taesd.save_pretrained(folder, safe_serialization=True)
    return folder


def random_pipeline_from_configs(config_dir: Path, tokenizer_dir: Path | None = None, seed: int = 0) -> Any:
    """A pipeline of full-size architecture (from a diffusers config folder, e.g. Studio's shipped SD 1.5
    configs) with random weights: for timing without downloading real weights.

    The tokenizer comes from ``tokenizer_dir`` or the config folder; without either the tiny tokenizer is
    used (token ids stay within any CLIP vocabulary, so speed is unaffected).
    """
    import tempfile

    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.schedulers import EulerDiscreteScheduler
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(config_dir / "unet"))
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(config_dir / "vae"))
    text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(config_dir / "text_encoder"))
    scheduler = EulerDiscreteScheduler.from_config(
        EulerDiscreteScheduler.load_config(config_dir / "scheduler")
    )
    source = tokenizer_dir or config_dir / "tokenizer"
    if (source / "vocab.json").is_file():
        tokenizer = CLIPTokenizer.from_pretrained(source, local_files_only=True)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            tokenizer = CLIPTokenizer.from_pretrained(write_tiny_tokenizer(Path(tmp)), local_files_only=True)
    return _assemble_pipeline(unet, vae, text_encoder, tokenizer, scheduler)
