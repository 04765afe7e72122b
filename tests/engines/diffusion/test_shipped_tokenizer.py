"""Studio's shipped CLIP tokenizer (resources/diffusion_configs/clip_tokenizer/): the files are CLIP's,
every SD family gets the right tokenizer from them, and a single file loads with nothing beside it and no
Hugging Face cache."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from studio.engines.image_requests import ImageRequest, LoadPipelineRequest
from studio.engines.protocol import EventKind, new_job_id

pytestmark = [
    pytest.mark.diffusion,
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]

CONFIGS = Path(__file__).resolve().parents[3] / "studio" / "resources" / "diffusion_configs"
SHIPPED = CONFIGS / "clip_tokenizer"
# The Hugging Face files of openai/clip-vit-large-patch14 (= SD 1.5's and SDXL's tokenizer/): size, sha256.
HF_VOCAB = (961143, "3f0c4f7d2086b61b38487075278ea9ed04edb53a03cbb045b86c27190fa8fb69")
HF_MERGES = (524619, "9fd691f7c8039210e0fced15865466c65820d09b63988b0174bfe25de299051a")
# SD 2.x's and SDXL's tokenizer_2/vocab.json: the same mapping, saved with indent=2 and sorted keys.
HF_VOCAB_INDENTED_SHA256 = "e089ad92ba36837a0d31433e555c8f45fe601ab5c221d4f607ded32d9f7a4349"
BOS, EOS = 49406, 49407
# Each family's tokenizer folder(s) and pad token id: "<|endoftext|>" (OpenAI CLIP) or "!" (OpenCLIP).
FAMILY_PADS = {
    "sd15": {"tokenizer": EOS},
    "sd2": {"tokenizer": 0},
    "sdxl": {"tokenizer": EOS, "tokenizer_2": 0},
}
PROMPTS = ["a photo of a cat", "A Photo  of a CAT!!", "héllo wörld 😀, 1girl, masterpiece:1.2", ""]

# Just enough tensors for inspect_checkpoint to tell the family (no weights: a header-only file).
FAMILY_KEYS = {
    "sd15": {"cond_stage_model.transformer.text_model.final_layer_norm.weight": [768]},
    "sd2": {"cond_stage_model.model.ln_final.weight": [1024]},
    "sdxl": {
        "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight": [768],
        "conditioner.embedders.1.model.ln_final.weight": [1280],
    },
}


def header_only_checkpoint(path: Path, family: str) -> Path:
    context = {"sd15": 768, "sd2": 1024, "sdxl": 2048}[family]
    shapes = {
        "model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3],
        "first_stage_model.decoder.conv_in.weight": [512, 4, 3, 3],
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, context],
        **FAMILY_KEYS[family],
    }
    header: dict[str, Any] = {}
    offset = 0
    for name, shape in shapes.items():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return path


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_clip_tokenizer", CONFIGS / "make_clip_tokenizer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face home and hub cache (the engine only ever reads the cache)."""
    import huggingface_hub.constants

    home = tmp_path / "hf-home"
    (home / "hub").mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(home / "hub"))
    return home / "hub"


def engine_tokenizers(family: str, folder: Path) -> dict[str, Any]:
    """The tokenizers the engine makes for a single file of ``family`` in ``folder`` (nothing else there)."""
    from studio.engines.diffusion_loading import make_tokenizers
    from studio.engines.sd_checkpoint import inspect_checkpoint

    path = header_only_checkpoint(folder / f"{family}.safetensors", family)
    return make_tokenizers(path, inspect_checkpoint(path), LoadPipelineRequest("t"))


# --- the files ---------------------------------------------------------------------------------------------


def test_shipped_files_are_the_hugging_face_clip_files() -> None:
    for name, (size, digest) in (("vocab.json", HF_VOCAB), ("merges.txt", HF_MERGES)):
        data = (SHIPPED / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, digest), name
    vocab = json.loads((SHIPPED / "vocab.json").read_text(encoding="utf-8"))
    indented = json.dumps(vocab, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert hashlib.sha256(indented.encode()).hexdigest() == HF_VOCAB_INDENTED_SHA256


def test_shipped_files_follow_clips_derivation() -> None:
    make = generator()
    vocab = json.loads((SHIPPED / "vocab.json").read_text(encoding="utf-8"))
    lines = (SHIPPED / "merges.txt").read_text(encoding="utf-8").split("\n")
    assert lines[0] == "#version: 0.2" and lines[-1] == ""
    merges = lines[1:-1]
    assert len(merges) == 49152 - 256 - 2 == make.MERGE_COUNT
    tokens = list(make.bytes_to_unicode().values())
    tokens += [token + "</w>" for token in tokens]
    tokens += ["".join(merge.split(" ")) for merge in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    assert list(vocab) == tokens and list(vocab.values()) == list(range(49408))
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        config = json.loads((SHIPPED / name).read_text(encoding="utf-8"))
        assert config["pad_token"] == config["eos_token"] == config["unk_token"] == "<|endoftext|>"
        assert config["bos_token"] == "<|startoftext|>"


def test_the_generator_rewrites_the_same_files(tmp_path: Path) -> None:
    """Rebuilding from a (re-gzipped) BPE file made of the shipped merges gives the shipped bytes."""
    import gzip

    make = generator()
    merges = (SHIPPED / "merges.txt").read_text(encoding="utf-8").split("\n")[1:-1]
    # The real file has 262 145 lines (more merges than CLIP keeps), so add some to be cut off.
    text = "\n".join(["bpe_simple_vocab_16e6.txt#version: 0.2", *merges, "ha bib</w>", "x y", ""])
    vocab, kept = make.build(gzip.compress(text.encode()))
    make.write(tmp_path, vocab, kept)
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        assert (tmp_path / name).read_bytes() == (SHIPPED / name).read_bytes(), name
    assert make.main([str(tmp_path / "merges.txt"), "--out", str(tmp_path / "refused")]) == 1  # bad sha256
    assert not (tmp_path / "refused").exists()


@pytest.mark.parametrize(("pad", "pad_id"), [("<|endoftext|>", EOS), ("!", 0)])
def test_shipped_tokenizer_loads_offline_with_clips_ids(pad: str, pad_id: int) -> None:
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(SHIPPED, local_files_only=True, pad_token=pad)
    assert tokenizer.vocab_size == len(tokenizer) == 49408
    assert tokenizer.model_max_length == 77
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (BOS, EOS, EOS)
    assert tokenizer.pad_token_id == pad_id
    assert tokenizer("a photo of a cat").input_ids == [BOS, 320, 1125, 539, 320, 2368, EOS]
    # openai/CLIP README: clip.tokenize(["a diagram", "a dog", "a cat"])
    assert tokenizer(["a diagram", "a dog", "a cat"]).input_ids == [
        [BOS, 320, 22697, EOS],
        [BOS, 320, 1929, EOS],
        [BOS, 320, 2368, EOS],
    ]
    # The first byte, its word-final form, a word, the first merge, the last merge CLIP keeps, specials.
    assert tokenizer.convert_ids_to_tokens([0, 256, 320, 512, 49405, BOS, EOS]) == [
        "!",
        "!</w>",
        "a</w>",
        "in",
        "jekyll</w>",
        "<|startoftext|>",
        "<|endoftext|>",
    ]
    padded = tokenizer("a cat", padding="max_length", max_length=77, truncation=True).input_ids
    assert len(padded) == 77 and padded[:5] == [BOS, 320, 2368, EOS, pad_id] and set(padded[4:]) == {pad_id}
    long = tokenizer("cat " * 100, padding="max_length", max_length=77, truncation=True).input_ids
    assert len(long) == 77 and long[0] == BOS and long[-1] == EOS
    assert tokenizer.decode(tokenizer("A Photo of a CAT").input_ids, skip_special_tokens=True) == (
        "a photo of a cat"
    )


# --- the engine --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["sd15", "sd2", "sdxl"])
def test_engine_uses_the_shipped_tokenizer_with_nothing_else(
    family: str, tmp_path: Path, empty_hf_cache: Path
) -> None:
    from studio.engines.diffusion_loading import SHIPPED_TOKENIZER_DIR

    assert SHIPPED_TOKENIZER_DIR.resolve() == SHIPPED.resolve()
    tokenizers = engine_tokenizers(family, tmp_path / "models")
    assert set(tokenizers) == set(FAMILY_PADS[family])
    for name, tokenizer in tokenizers.items():
        assert Path(tokenizer.name_or_path).resolve() == SHIPPED.resolve()
        assert tokenizer.pad_token_id == FAMILY_PADS[family][name]
        assert tokenizer.model_max_length == 77
        assert tokenizer("a photo of a cat").input_ids == [BOS, 320, 1125, 539, 320, 2368, EOS]


@pytest.mark.parametrize(
    ("family", "name"),
    [("sd15", "tokenizer"), ("sd2", "tokenizer"), ("sdxl", "tokenizer"), ("sdxl", "tokenizer_2")],
)
def test_engine_tokenizers_match_the_family_folders(
    family: str, name: str, tmp_path: Path, empty_hf_cache: Path
) -> None:
    """The engine's tokenizer equals the one a full HF-style folder (the shipped family tokenizer_config.json
    with CLIP's vocab.json and merges.txt) gives."""
    from transformers import CLIPTokenizer

    folder = tmp_path / name
    shutil.copytree(CONFIGS / family / name, folder)
    for file in ("vocab.json", "merges.txt"):
        shutil.copy(SHIPPED / file, folder / file)
    reference = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    ours = engine_tokenizers(family, tmp_path / "models")[name]
    assert reference.pad_token_id == ours.pad_token_id == FAMILY_PADS[family][name]
    assert reference.all_special_ids == ours.all_special_ids
    for prompt in PROMPTS:
        kwargs: dict[str, Any] = {"padding": "max_length", "max_length": 77, "truncation": True}
        assert ours(prompt, **kwargs).input_ids == reference(prompt, **kwargs).input_ids, prompt


def test_other_tokenizers_still_come_first(tmp_path: Path, empty_hf_cache: Path) -> None:
    """Beside the checkpoint, in Studio's data folder, in the HF cache, then Studio's copy."""
    from studio import paths
    from studio.engines.diffusion_loading import find_tokenizer
    from studio.engines.sd_checkpoint import inspect_checkpoint

    path = header_only_checkpoint(tmp_path / "models" / "model.safetensors", "sd15")
    info = inspect_checkpoint(path)

    def found() -> Path:
        return find_tokenizer(path, info, LoadPipelineRequest("t")).resolve()

    assert found() == SHIPPED.resolve()
    snapshot = empty_hf_cache / "models--openai--clip-vit-large-patch14" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    for file in ("vocab.json", "merges.txt"):
        shutil.copy(SHIPPED / file, snapshot / file)
    assert found() == snapshot.resolve()
    user = paths.data_dir() / "diffusion" / "tokenizer"
    shutil.copytree(snapshot, user)
    assert found() == user.resolve()
    shutil.copytree(snapshot, path.parent / "tokenizer")
    assert found() == (path.parent / "tokenizer").resolve()


def test_tokenizer_is_found_in_a_fresh_offline_process(tmp_path: Path) -> None:
    """A new process with an empty HF home, offline, and an empty Studio data folder."""
    models = tmp_path / "models"
    for family in FAMILY_PADS:
        header_only_checkpoint(models / family / f"{family}.safetensors", family)
    script = """
import json, sys
from pathlib import Path
from studio.engines.diffusion_loading import make_tokenizers
from studio.engines.image_requests import LoadPipelineRequest
from studio.engines.sd_checkpoint import inspect_checkpoint
out = {}
for path in sorted(Path(sys.argv[1]).glob("*/*.safetensors")):
    info = inspect_checkpoint(path)
    made = make_tokenizers(path, info, LoadPipelineRequest("t"))
    out[info.family] = {
        name: [str(Path(t.name_or_path).resolve()), t.pad_token_id, t("a photo of a cat").input_ids]
        for name, t in made.items()
    }
print(json.dumps(out))
"""
    env = dict(os.environ)
    env.update(
        HF_HOME=str(tmp_path / "hf-home"),
        HF_HUB_CACHE=str(tmp_path / "hf-home" / "hub"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        STUDIO_DATA_DIR=str(tmp_path / "data"),
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(models)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    ids = [BOS, 320, 1125, 539, 320, 2368, EOS]
    assert found == {
        family: {name: [str(SHIPPED.resolve()), pad, ids] for name, pad in pads.items()}
        for family, pads in FAMILY_PADS.items()
    }


def save_clip_vocab_single_file(path: Path) -> Path:
    """The tiny SD 1.5-layout single file, but with a text encoder sized for CLIP's real 49 408 tokens; its
    config folder beside it has no tokenizer files."""
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    from studio.testing.tiny_diffusion import (
        TINY_CROSS_ATTENTION_DIM,
        build_tiny_pipeline,
        pipeline_to_ldm_state_dict,
        save_config_folder,
    )

    pipe = build_tiny_pipeline(seed=3)
    pipe.text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=TINY_CROSS_ATTENTION_DIM,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=49408,
            max_position_embeddings=77,
            projection_dim=TINY_CROSS_ATTENTION_DIM,
            bos_token_id=BOS,
            eos_token_id=EOS,
            pad_token_id=EOS,
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(pipeline_to_ldm_state_dict(pipe), str(path), metadata={"format": "pt"})
    config = save_config_folder(pipe, path.with_name(path.stem + ".config"))
    for file in ("vocab.json", "merges.txt", "tokenizer.json"):
        (config / "tokenizer" / file).unlink(missing_ok=True)
    return path


def test_single_file_loads_and_generates_with_only_the_shipped_tokenizer(
    engine: Any, run: Any, tmp_path: Path, empty_hf_cache: Path
) -> None:
    path = save_clip_vocab_single_file(tmp_path / "models" / "clip-vocab.safetensors")
    assert sorted(p.name for p in path.parent.iterdir()) == ["clip-vocab.config", "clip-vocab.safetensors"]
    loaded = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(path)))[-1]
    assert loaded.kind is EventKind.RESULT, loaded.text
    tokenizer = engine.model.pipe.tokenizer
    assert Path(tokenizer.name_or_path).resolve() == SHIPPED.resolve()
    assert (tokenizer.vocab_size, tokenizer.pad_token_id) == (49408, EOS)
    request = ImageRequest(new_job_id(), prompt="a photo of a cat", steps=2, width=64, height=64, seed=1)
    result = run(engine, request)[-1]
    assert result.kind is EventKind.RESULT, result.text
    assert result.image
