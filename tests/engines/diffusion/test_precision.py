"""Speed choices of the diffusion engine: the precision (Auto / bfloat16 / float32) and how far bfloat16 output
is from float32, the prompt-embedding cache, the decode choice and the TAESD found beside a model; then the
same end to end through the engine on the tiny pipeline (request, Settings, results, PNG parameters)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.cpu import CpuInfo, cpu_info
from studio.engines.image_precision import PRECISIONS, Precision, resolve_precision
from studio.engines.image_requests import ImageRequest, LoadPipelineRequest
from studio.engines.protocol import EventKind, new_job_id
from studio.paths import config_dir

pytestmark = [
    pytest.mark.diffusion,
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]

# PSNR of bfloat16 against float32 output, same seed, on the tiny pipeline at 64×64: measured 48.0-51.8 dB on
# an AMD EPYC with AVX-512 BF16 (seeds 0-3; 1, 4 and 20 steps; guidance 0 and 7). The bound leaves room for
# other CPUs' kernels (AMX rounds its sums differently).
TINY_BF16_MIN_PSNR_DB = 40.0


def cpu(flags: str) -> CpuInfo:
    return CpuInfo(model="test", flags=frozenset(flags.split()), logical_cores=2, physical_cores=2)


AMX = cpu("avx2 avx512f avx512bw avx512_bf16 amx_tile amx_bf16")
ZEN4 = cpu("avx2 avx512f avx512bw avx512_bf16")
SKYLAKE = cpu("avx2 avx512f avx512bw avx512_vnni")
ZEN3 = cpu("avx avx2 fma f16c")
ARM = cpu("fp asimd asimdhp")  # no x86 flags: torch's layout there was not measured


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


# --- the choice ---------------------------------------------------------------------------------------------


def test_auto_picks_bfloat16_only_where_the_cpu_has_it_natively() -> None:
    amx = resolve_precision("auto", AMX, torch_bf16=True)
    assert (amx.dtype, amx.channels_last, amx.label) == ("bfloat16", True, "bfloat16 (auto)")
    assert "AMX" in amx.reason
    zen4 = resolve_precision(Precision.AUTO, ZEN4, torch_bf16=True)
    assert zen4.is_bfloat16 and "AVX-512 BF16" in zen4.reason
    skylake = resolve_precision("auto", SKYLAKE, torch_bf16=True)  # oneDNN would emulate bf16: slower
    assert (skylake.dtype, skylake.channels_last, skylake.label) == ("float32", True, "float32 (auto)")
    assert "no AVX-512 BF16 or AMX" in skylake.reason and "channels_last" in skylake.reason


def test_auto_float32_uses_channels_last_on_x86_only() -> None:
    zen3 = resolve_precision("auto", ZEN3, torch_bf16=False)
    assert (zen3.dtype, zen3.channels_last) == ("float32", True)
    assert zen3.reason == "float32 with channels_last: torch has no bfloat16 kernels on this CPU"
    arm = resolve_precision("auto", ARM, torch_bf16=True)
    assert (arm.dtype, arm.channels_last) == ("float32", False)
    assert arm.reason == "Auto: float32, the CPU has no AVX-512 BF16 or AMX"
    # an explicit float32 is diffusers' own layout, on every CPU
    assert not resolve_precision("float32", ZEN3, torch_bf16=True).channels_last


def test_explicit_choices_and_what_torch_cannot_run() -> None:
    forced = resolve_precision("bfloat16", SKYLAKE, torch_bf16=True)
    assert forced.is_bfloat16 and "slower than float32" in forced.reason
    assert resolve_precision("float32", AMX, torch_bf16=True).dtype == "float32"
    no_kernels = resolve_precision("bfloat16", AMX, torch_bf16=False)
    assert no_kernels.dtype == "float32" and "no bfloat16 kernels" in no_kernels.reason
    # unknown values (an old or hand-edited settings file) mean Auto
    assert Precision.parse("fp8") is Precision.AUTO
    assert Precision.parse("BFloat16") is Precision.BFLOAT16
    assert PRECISIONS == ("auto", "bfloat16", "float32")
    assert all(Precision(value).label for value in PRECISIONS)


def test_the_choice_needs_no_torch() -> None:
    """The Settings dialog and the Generate panel read it: it must not pull torch into the GUI process."""
    code = (
        "import sys; from studio.engines.image_precision import resolve_precision; "
        "print(resolve_precision('auto').dtype); "
        "bad = [m for m in ('torch', 'diffusers', 'PySide6') if m in sys.modules]; "
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("bfloat16", "float32")


# --- bfloat16 on the tiny pipeline --------------------------------------------------------------------------


def native_bf16_or_skip() -> None:
    from studio.engines.diffusion_precision import torch_bf16_supported

    if not cpu_info().native_bf16:
        pytest.skip(f"this CPU ({cpu_info().model}) has no native bfloat16 (AVX-512 BF16 or AMX)")
    if not torch_bf16_supported():
        pytest.skip("torch's oneDNN has no bfloat16 kernels on this CPU")


@pytest.fixture(scope="module")
def tiny_pipe() -> Any:
    from studio.engines.diffusion_loading import quiet_libraries
    from studio.testing.tiny_diffusion import build_tiny_pipeline

    quiet_libraries()
    return build_tiny_pipeline(seed=0)


def pixels(pipe: Any, seed: int, **arguments: Any) -> np.ndarray:
    import torch

    values: dict[str, Any] = {"prompt": "a cat", "negative_prompt": None, "guidance_scale": 7.0}
    values.update(arguments)
    if "prompt_embeds" in values:
        values.pop("prompt")
        values.pop("negative_prompt")
    image = pipe(
        num_inference_steps=4,
        height=64,
        width=64,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
        **values,
    ).images[0]
    return np.round(np.asarray(image) * 255).astype(np.uint8)


def test_bfloat16_runs_on_the_tiny_pipeline_within_the_measured_bound(tiny_pipe: Any) -> None:
    import torch

    from studio.engines.diffusion_precision import apply_precision, choose_precision, pipeline_dtype

    native_bf16_or_skip()
    chosen = choose_precision("auto")
    assert chosen.is_bfloat16 and chosen.channels_last
    bf16 = apply_precision(copy.deepcopy(tiny_pipe), chosen)
    assert pipeline_dtype(bf16) == torch.bfloat16
    assert next(bf16.text_encoder.parameters()).dtype == torch.bfloat16
    conv = bf16.unet.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    for seed in (0, 1):
        full = pixels(tiny_pipe, seed)
        half = pixels(bf16, seed)
        assert half.shape == full.shape
        quality = psnr(full, half)
        assert TINY_BF16_MIN_PSNR_DB <= quality < float("inf"), quality  # close, and really bfloat16
        assert np.array_equal(half, pixels(bf16, seed))  # still bit-identical for a seed


def test_float32_leaves_the_pipeline_as_it_is(tiny_pipe: Any) -> None:
    import torch

    from studio.engines.diffusion_precision import apply_precision, choose_precision, pipeline_dtype

    pipe = apply_precision(copy.deepcopy(tiny_pipe), choose_precision("float32"))
    assert pipeline_dtype(pipe) == torch.float32
    assert pipe.unet.conv_in.weight.is_contiguous()


def test_float32_channels_last_gives_the_same_image_and_switches_back(tiny_pipe: Any) -> None:
    import torch

    from studio.engines.diffusion_precision import apply_precision

    layout = resolve_precision("auto", ZEN3, torch_bf16=False)
    pipe = apply_precision(copy.deepcopy(tiny_pipe), layout)
    assert pipeline_dtype_is_float32(pipe)
    assert pipe.vae.decoder.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert not pipe.unet.conv_in.weight.is_contiguous()
    for seed in (0, 1):
        # float32 either way: only the order of the sums may differ, by at most a rounding step
        difference = np.abs(pixels(pipe, seed).astype(int) - pixels(tiny_pipe, seed).astype(int))
        assert difference.max() <= 1, difference.max()
    apply_precision(pipe, resolve_precision("float32", ZEN3, torch_bf16=False))
    assert pipe.unet.conv_in.weight.is_contiguous() and pipe.vae.decoder.conv_in.weight.is_contiguous()


def pipeline_dtype_is_float32(pipe: Any) -> bool:
    import torch

    from studio.engines.diffusion_precision import pipeline_dtype

    return pipeline_dtype(pipe) == torch.float32
    assert np.array_equal(pixels(pipe, 3), pixels(tiny_pipe, 3))


# --- the prompt cache ---------------------------------------------------------------------------------------


def test_a_repeated_prompt_reuses_its_embeddings_and_gives_the_same_image(tiny_pipe: Any) -> None:
    from studio.engines.diffusion_precision import PromptCache

    cache = PromptCache(size=2)
    first = cache.embeddings(tiny_pipe, "model", "a cat", "blurry", 7.0)
    assert set(first) == {"prompt_embeds", "negative_prompt_embeds"}
    again = cache.embeddings(tiny_pipe, "model", "a cat", "blurry", 7.0)
    assert (cache.misses, cache.hits) == (1, 1)
    assert again["prompt_embeds"] is first["prompt_embeds"]
    direct = pixels(tiny_pipe, 5, negative_prompt="blurry")
    assert np.array_equal(pixels(tiny_pipe, 5, **again), direct)

    # without guidance the negative prompt plays no part: one entry whatever it says
    unguided = cache.embeddings(tiny_pipe, "model", "a cat", "blurry", 1.0)
    assert set(unguided) == {"prompt_embeds"}
    cache.embeddings(tiny_pipe, "model", "a cat", "noisy", 1.0)
    assert (cache.misses, cache.hits) == (2, 2)
    assert np.array_equal(
        pixels(tiny_pipe, 5, guidance_scale=1.0, **unguided), pixels(tiny_pipe, 5, guidance_scale=1.0)
    )

    # another model (or precision) or prompt is a new entry; the least recently used goes first
    cache.embeddings(tiny_pipe, "other model", "a cat", "blurry", 7.0)
    assert cache.misses == 3 and len(cache) == 2
    cache.embeddings(tiny_pipe, "model", "a cat", "blurry", 7.0)  # evicted by the line above
    assert cache.misses == 4
    cache.clear()
    assert len(cache) == 0


# --- decoding -----------------------------------------------------------------------------------------------


def test_fast_decode_needs_a_taesd(tmp_path: Path) -> None:
    import torch
    from diffusers import AutoencoderTiny

    from studio.engines.diffusion_precision import choose_decode, decode_latents_with_taesd
    from studio.testing.tiny_diffusion import save_tiny_taesd

    assert choose_decode(False, object()).kind == "vae"
    without = choose_decode(True, None)
    assert without.kind == "vae" and "needs a TAESD" in without.reason
    taesd = AutoencoderTiny.from_pretrained(save_tiny_taesd(tmp_path / "taesd"), local_files_only=True)
    assert choose_decode(True, taesd).fast
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator("cpu").manual_seed(0))
    image = decode_latents_with_taesd(latents, taesd)
    with torch.no_grad():
        expected = ((taesd.decode(latents[:1]).sample[0] + 1) / 2).clamp(0, 1).mul(255).round()
    assert image.mode == "RGB"
    assert np.array_equal(np.asarray(image), expected.permute(1, 2, 0).to(torch.uint8).numpy())


def test_taesd_is_found_inside_a_model_folder_or_beside_a_file(tmp_path: Path) -> None:
    from studio.engines.diffusion_precision import find_taesd

    def taesd_at(folder: Path) -> Path:
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "diffusion_pytorch_model.safetensors").write_bytes(b"")
        return folder

    model = tmp_path / "model"
    model.mkdir()
    assert find_taesd(model) is None
    (model / "taesd").mkdir()
    (model / "taesd" / "config.json").write_text("{}")
    assert find_taesd(model) is None  # a config without weights is not a decoder
    inside = taesd_at(model / "taesdxl")
    assert find_taesd(model) == inside

    single = tmp_path / "files" / "dreamy.safetensors"
    single.parent.mkdir()
    single.write_bytes(b"")
    shared = taesd_at(tmp_path / "files" / "taesd")
    assert find_taesd(single) == shared
    own = taesd_at(tmp_path / "files" / "dreamy.taesd")
    assert find_taesd(single) == own


def test_peak_memory_is_reported() -> None:
    from studio.engines.diffusion_precision import peak_memory_bytes

    if sys.platform == "win32":
        pytest.skip("no getrusage on Windows")
    assert peak_memory_bytes() > 10 * 2**20  # at least the interpreter and torch


# --- through the engine -------------------------------------------------------------------------------------


def image_request(**overrides: Any) -> ImageRequest:
    values: dict[str, Any] = {"prompt": "a cat", "steps": 4, "width": 64, "height": 64, "seed": 11}
    values.update(overrides)
    return ImageRequest(new_job_id(), **values)


def load(engine: Any, run: Any, folder: Path, **options: Any) -> Any:
    done = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(folder), **options))[-1]
    assert done.kind is EventKind.RESULT, done.text
    return done.result


def test_bfloat16_model_stays_within_the_bound_and_reports_its_precision(
    engine: Any, run: Any, tiny_models: Any, to_pixels: Any
) -> None:
    native_bf16_or_skip()
    loaded = load(engine, run, tiny_models.folder)  # Settings' default: Auto
    assert (loaded.precision, loaded.precision_label) == ("bfloat16", "bfloat16 (auto)")
    assert cpu_info().native_bf16 in loaded.precision_reason
    half = run(engine, image_request())[-1]
    assert half.kind is EventKind.RESULT, half.text
    assert half.result.first["precision"] == "bfloat16"
    assert "Precision: bfloat16" in half.result.parameters
    assert engine.loads == 1

    assert load(engine, run, tiny_models.folder, precision="bfloat16").precision_label == "bfloat16"
    assert engine.loads == 1  # the same weights, already in bfloat16

    assert load(engine, run, tiny_models.folder, precision="float32").precision == "float32"
    assert engine.loads == 2  # float32 weights are read again, never widened from bfloat16
    full = run(engine, image_request())[-1]
    assert full.result.first["precision"] == "float32"
    assert "Precision: float32" in full.result.parameters
    quality = psnr(to_pixels(full.image), to_pixels(half.image))
    assert TINY_BF16_MIN_PSNR_DB <= quality < float("inf"), quality

    load(engine, run, tiny_models.folder, precision="bfloat16")
    again = run(engine, image_request())[-1]
    assert engine.loads == 3
    assert np.array_equal(to_pixels(again.image), to_pixels(half.image))  # a reload changes nothing


def test_the_settings_choice_applies_at_the_next_load(engine: Any, run: Any, tiny_models: Any) -> None:
    from studio.engines.diffusion_precision import choose_precision

    settings = config_dir() / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"image_precision": "float32"}), encoding="utf-8")
    loaded = load(engine, run, tiny_models.folder)
    assert (loaded.precision, loaded.precision_label) == ("float32", "float32")
    assert loaded.precision_reason == "float32 chosen in Settings"
    assert run(engine, image_request())[-1].result.first["precision"] == "float32"

    settings.write_text(json.dumps({"image_precision": "auto"}), encoding="utf-8")
    expected = choose_precision("auto")
    assert load(engine, run, tiny_models.folder).precision == expected.dtype
    assert run(engine, image_request())[-1].result.first["precision"] == expected.dtype
    assert engine.loads == (2 if expected.is_bfloat16 else 1)


def test_a_repeated_prompt_is_encoded_once(folder_engine: Any, run: Any, to_pixels: Any) -> None:
    folder_engine.prompts.clear()
    misses = folder_engine.prompts.misses
    first = run(folder_engine, image_request(prompt="a quiet harbour", negative_prompt="fog"))[-1]
    second = run(folder_engine, image_request(prompt="a quiet harbour", negative_prompt="fog"))[-1]
    assert folder_engine.prompts.misses == misses + 1 and folder_engine.prompts.hits >= 1
    assert np.array_equal(to_pixels(first.image), to_pixels(second.image))
    run(folder_engine, image_request(prompt="a quiet harbour", negative_prompt="rain"))
    assert folder_engine.prompts.misses == misses + 2


def test_fast_decode_uses_the_taesd_in_the_model_folder(
    engine: Any, run: Any, tiny_models: Any, tmp_path: Path, to_pixels: Any
) -> None:
    folder = shutil.copytree(tiny_models.folder, tmp_path / "with-taesd")
    shutil.copytree(tiny_models.taesd, folder / "taesd")
    loaded = load(engine, run, folder)
    assert loaded.taesd is True  # found by itself, no taesd_path given

    fast = run(engine, image_request(fast_decode=True))[-1]
    assert fast.kind is EventKind.RESULT, fast.text
    assert fast.result.first["decode"] == "taesd"
    assert "Decode: TAESD" in fast.result.parameters
    full = run(engine, image_request())[-1]
    assert full.result.first["decode"] == "vae"
    assert "Decode" not in full.result.parameters
    assert to_pixels(fast.image).shape == to_pixels(full.image).shape == (64, 64, 3)
    assert not np.array_equal(to_pixels(fast.image), to_pixels(full.image))  # another decoder
    assert engine.loads == 1


def test_fast_decode_without_a_taesd_falls_back_to_the_vae(folder_engine: Any, run: Any) -> None:
    done = run(folder_engine, image_request(fast_decode=True))[-1]
    assert done.kind is EventKind.RESULT
    assert done.result.first["decode"] == "vae"


def test_an_unknown_precision_is_refused(engine: Any, run: Any, tiny_models: Any) -> None:
    request = LoadPipelineRequest(new_job_id(), model_path=str(tiny_models.folder), precision="float8")
    done = run(engine, request)[-1]
    assert done.kind is EventKind.ERROR
    assert "precision 'float8'" in done.text and "bfloat16" in done.text
    assert engine.loads == 0


def test_switching_float32_layouts_keeps_the_loaded_weights(engine: Any, run: Any, tiny_models: Any) -> None:
    import torch

    from studio.engines.diffusion_precision import choose_precision

    auto = choose_precision("auto")
    if auto.is_bfloat16 or not auto.channels_last:
        pytest.skip(f"Auto is {auto.label} with channels_last={auto.channels_last} on this CPU")
    load(engine, run, tiny_models.folder, precision="float32")
    assert engine.model.pipe.unet.conv_in.weight.is_contiguous()
    loaded = load(engine, run, tiny_models.folder, precision="auto")
    assert (loaded.precision, loaded.precision_label) == ("float32", "float32 (auto)")
    assert "channels_last" in loaded.precision_reason
    assert engine.loads == 1  # the same float32 weights, laid out again in place
    assert engine.model.pipe.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert run(engine, image_request())[-1].kind is EventKind.RESULT
    load(engine, run, tiny_models.folder, precision="float32")
    assert engine.loads == 1 and engine.model.pipe.unet.conv_in.weight.is_contiguous()
