"""The diffusion engine on tiny random-weight pipelines: every mode, folder and single file, seeds, previews,
cancel, refused and broken files, and the real engine process."""

from __future__ import annotations

import io
import json
import pickle
import queue
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.engines.image_requests import (
    SCHEDULERS,
    ImageRequest,
    LoadPipelineRequest,
    UnloadPipelineRequest,
    format_parameters,
    parse_size,
)
from studio.engines.protocol import CancelToken, EngineEvent, EventKind, StepInfo, new_job_id
from studio.engines.results import ImageResult, PipelineLoadResult
from studio.engines.sd_checkpoint import CheckpointError, inspect_checkpoint, model_path_problem

pytestmark = [
    pytest.mark.diffusion,
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]

Run = Callable[..., list[EngineEvent]]
ToPng = Callable[[Image.Image], bytes]
ToPixels = Callable[[bytes | None], np.ndarray]


def image_request(**overrides: Any) -> ImageRequest:
    values: dict[str, Any] = {"prompt": "a cat", "steps": 4, "width": 64, "height": 64, "seed": 7}
    values.update(overrides)
    return ImageRequest(new_job_id(), **values)


def kinds(events: list[EngineEvent], kind: EventKind) -> list[EngineEvent]:
    return [event for event in events if event.kind is kind]


def size_of(png: bytes | None) -> tuple[int, int]:
    assert png is not None
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def red_square(to_png: ToPng, size: tuple[int, int] = (64, 64)) -> bytes:
    return to_png(Image.new("RGB", size, (200, 40, 40)))


def centre_mask(to_png: ToPng) -> bytes:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    return to_png(mask)


def write_safetensors(
    path: Path, tensors: dict[str, tuple[list[int], str]], metadata: dict[str, str] | None = None
) -> Path:
    """A valid safetensors file of zero-filled tensors with the given names, shapes and dtypes."""
    sizes = {"F32": 4, "F16": 2}
    header: dict[str, Any] = {"__metadata__": metadata or {}}
    offset = 0
    for name, (shape, dtype) in tensors.items():
        length = int(np.prod(shape)) * sizes[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + length]}
        offset += length
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return path


def sd_header(family: str, in_channels: int = 4) -> dict[str, tuple[list[int], str]]:
    """The few tensors that tell an SD family apart (not a loadable model)."""
    tensors = {
        "model.diffusion_model.input_blocks.0.0.weight": ([320, in_channels, 3, 3], "F16"),
        "first_stage_model.decoder.conv_in.weight": ([512, 4, 3, 3], "F16"),
    }
    if family == "sd15":
        tensors["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = (
            [320, 768],
            "F16",
        )
        tensors["cond_stage_model.transformer.text_model.final_layer_norm.weight"] = ([768], "F16")
    elif family == "sd2":
        tensors["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = (
            [320, 1024],
            "F16",
        )
        tensors["cond_stage_model.model.ln_final.weight"] = ([1024], "F16")
    elif family == "sdxl":
        tensors["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = ([768], "F16")
        tensors["conditioner.embedders.1.model.ln_final.weight"] = ([1280], "F16")
    elif family == "refiner":
        tensors["conditioner.embedders.0.model.ln_final.weight"] = ([1280], "F16")
    return tensors


# --- generation on the diffusers folder ------------------------------------------------------------------


def test_txt2img_streams_progress_and_previews_every_step(folder_engine: Any, run: Run) -> None:
    events = run(folder_engine, image_request())
    assert events[0].kind is EventKind.STARTED
    progress = kinds(events, EventKind.PROGRESS)
    assert [event.text for event in progress] == ["step 1/4", "step 2/4", "step 3/4", "step 4/4"]
    fractions = [event.progress or 0.0 for event in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    previews = kinds(events, EventKind.PREVIEW)
    assert [event.step for event in previews] == [StepInfo(step, 4, 0, "latent") for step in (1, 2, 3, 4)]
    assert [event.step for event in progress] == [StepInfo(step, 4, 0) for step in (1, 2, 3, 4)]
    assert size_of(previews[0].image) == (32, 32)  # latent resolution of the tiny VAE (factor 2)
    result = events[-1]
    assert result.kind is EventKind.RESULT
    assert size_of(result.image) == (64, 64)
    assert isinstance(result.result, ImageResult)
    assert result.result.images == (result.image,)
    data = result.result.first
    for key, value in {
        "prompt": "a cat",
        "negative_prompt": "",
        "steps": 4,
        "cfg": 7.0,
        "seed": 7,
        "width": 64,
        "height": 64,
        "sampler": "Euler",
        "model": "tiny-folder",
        "model_family": "sd15",
        "mode": "txt2img",
    }.items():
        assert data[key] == value, key
    assert len(data["model_hash"]) == 10
    assert result.result.parameters.startswith(
        "a cat\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 7, Size: 64x64"
    )


def test_same_seed_is_bit_identical_and_another_seed_differs(
    folder_engine: Any, run: Run, to_pixels: ToPixels
) -> None:
    first = run(folder_engine, image_request(seed=11, negative_prompt="blurry"))[-1]
    second = run(folder_engine, image_request(seed=11, negative_prompt="blurry"))[-1]
    other = run(folder_engine, image_request(seed=12, negative_prompt="blurry"))[-1]
    assert first.image == second.image
    assert np.array_equal(to_pixels(first.image), to_pixels(second.image))
    assert not np.array_equal(to_pixels(first.image), to_pixels(other.image))


def test_candidates_use_seed_plus_index(folder_engine: Any, run: Run) -> None:
    events = run(folder_engine, image_request(seed=20, num_candidates=2, steps=2))
    result = events[-1]
    assert [candidate["seed"] for candidate in result.result.candidates] == [20, 21]
    assert len(result.result.images) == 2
    finals = [event.step for event in kinds(events, EventKind.PREVIEW) if event.step and event.step.final]
    assert finals == [StepInfo(candidate=0, final=True, seed=20), StepInfo(candidate=1, final=True, seed=21)]
    assert kinds(events, EventKind.PROGRESS)[-1].text == "step 2/2 (image 2/2)"
    alone = run(folder_engine, image_request(seed=21, steps=2))[-1]
    assert alone.image == result.result.images[1]


def test_random_seed_is_reported_and_reproducible(folder_engine: Any, run: Run) -> None:
    first = run(folder_engine, image_request(seed=-1, steps=2))[-1]
    seed = first.result.first["seed"]
    assert seed >= 0
    assert run(folder_engine, image_request(seed=seed, steps=2))[-1].image == first.image


def test_img2img_runs_steps_times_strength_and_keeps_init_size(
    folder_engine: Any, run: Run, to_png: ToPng
) -> None:
    events = run(folder_engine, image_request(mode="img2img", init_image=red_square(to_png), strength=0.5))
    assert [event.text for event in kinds(events, EventKind.PROGRESS)] == ["step 1/2", "step 2/2"]
    assert events[-1].result.first["strength"] == 0.5
    assert size_of(events[-1].image) == (64, 64)
    auto = run(
        folder_engine,
        image_request(
            mode="img2img", init_image=red_square(to_png, (96, 80)), width=0, height=0, strength=0.5
        ),
    )[-1]
    assert auto.kind is EventKind.RESULT
    assert size_of(auto.image) == (96, 80)


def test_inpaint_and_outpaint_return_the_right_size(folder_engine: Any, run: Run, to_png: ToPng) -> None:
    inpaint = run(
        folder_engine,
        image_request(
            mode="inpaint", init_image=red_square(to_png), mask_image=centre_mask(to_png), strength=1.0
        ),
    )[-1]
    assert inpaint.kind is EventKind.RESULT, inpaint.text
    assert size_of(inpaint.image) == (64, 64)
    canvas = Image.new("RGBA", (96, 64), (0, 0, 0, 0))
    canvas.paste(Image.new("RGBA", (64, 64), (30, 160, 60, 255)), (0, 0))
    outpaint = run(
        folder_engine, image_request(mode="outpaint", init_image=to_png(canvas), width=0, height=0)
    )[-1]
    assert outpaint.kind is EventKind.RESULT, outpaint.text
    assert size_of(outpaint.image) == (96, 64)
    no_mask = run(folder_engine, image_request(mode="inpaint", init_image=red_square(to_png)))[-1]
    assert no_mask.kind is EventKind.ERROR and "mask" in no_mask.text


def test_switching_modes_never_reloads_the_weights(
    folder_engine: Any, run: Run, to_png: ToPng, tiny_models: Any
) -> None:
    model = folder_engine.model
    unet, loads = model.pipe.unet, folder_engine.loads
    for mode in ("txt2img", "img2img", "inpaint", "outpaint", "txt2img"):
        request = image_request(mode=mode, steps=2, strength=1.0)
        if mode != "txt2img":
            request = image_request(
                mode=mode,
                steps=2,
                strength=1.0,
                init_image=red_square(to_png),
                mask_image=centre_mask(to_png),
            )
        assert run(folder_engine, request)[-1].kind is EventKind.RESULT
    again = run(folder_engine, LoadPipelineRequest(new_job_id(), model_path=str(tiny_models.folder)))[-1]
    assert again.kind is EventKind.RESULT
    assert folder_engine.model is model and folder_engine.loads == loads
    assert model.pipe.unet is unet
    for pipe in model.pipelines.values():
        assert (
            pipe.unet is unet and pipe.vae is model.pipe.vae and pipe.text_encoder is model.pipe.text_encoder
        )
    assert set(model.pipelines) == {"img2img", "inpaint"}


def test_preview_every_and_no_previews(folder_engine: Any, run: Run) -> None:
    every_other = run(folder_engine, image_request(preview_every=2))
    assert [event.step.step for event in kinds(every_other, EventKind.PREVIEW) if event.step] == [2, 4]
    none = run(folder_engine, image_request(preview_kind="none"))
    assert kinds(none, EventKind.PREVIEW) == []
    assert len(kinds(none, EventKind.PROGRESS)) == 4


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_scheduler_runs(folder_engine: Any, run: Run, scheduler: str) -> None:
    result = run(folder_engine, image_request(scheduler=scheduler, steps=2, guidance=1.5))[-1]
    assert result.kind is EventKind.RESULT, result.text
    assert result.result.first["scheduler"] == scheduler
    assert result.result.first["cfg"] == (0.0 if scheduler == "turbo" else 1.5)
    assert result.result.first["sampler"]


def test_cancel_mid_run_stops_within_a_step_without_decoding(folder_engine: Any) -> None:
    from studio.engines.host import run_job

    decoded: list[int] = []
    hook = folder_engine.model.pipe.vae.decoder.register_forward_hook(lambda *args: decoded.append(1))
    cancel = CancelToken()
    events: list[EngineEvent] = []
    try:
        for event in run_job(folder_engine, image_request(steps=40), cancel):
            events.append(event)
            if event.kind is EventKind.PROGRESS:
                cancel.cancel()
    finally:
        hook.remove()
    assert events[-1].kind is EventKind.CANCELLED
    assert not kinds(events, EventKind.RESULT) and events[-1].result is None  # no image was finished
    assert len(kinds(events, EventKind.PROGRESS)) <= 4  # the pipeline runs at most a couple of steps ahead
    assert decoded == []


def test_cancel_keeps_the_candidates_already_made(folder_engine: Any) -> None:
    from studio.engines.host import run_job

    cancel = CancelToken()
    events = []
    for event in run_job(folder_engine, image_request(steps=3, num_candidates=3), cancel):
        events.append(event)
        if event.kind is EventKind.PREVIEW and event.step is not None and event.step.final:
            cancel.cancel()
    assert events[-1].kind is EventKind.CANCELLED
    partial = events[-1].result
    assert isinstance(partial, ImageResult) and len(partial.images) == 1 and partial.first["seed"] == 7
    assert partial.parameters.startswith(partial.first["prompt"]) and "Seed: 7" in partial.parameters


def test_taesd_previews(engine: Any, run: Run, tiny_models: Any, session_data_dir: Path) -> None:
    load = LoadPipelineRequest(
        new_job_id(), model_path=str(tiny_models.folder), taesd_path=str(tiny_models.taesd)
    )
    assert run(engine, load)[-1].result.taesd is True
    events = run(engine, image_request(preview_kind="taesd", steps=2))
    previews = kinds(events, EventKind.PREVIEW)
    assert [event.step.preview_kind for event in previews if event.step] == ["taesd", "taesd"]
    assert size_of(previews[0].image) == (64, 64)  # the tiny TAESD upsamples 32 → 64
    broken = LoadPipelineRequest(
        new_job_id(), model_path=str(tiny_models.folder), taesd_path=str(tiny_models.root)
    )
    loaded = run(engine, broken)[-1]
    assert loaded.kind is EventKind.RESULT  # a bad TAESD folder only costs the better previews
    assert loaded.result.taesd is False and "config.json" in loaded.result.taesd_error
    fallback = kinds(run(engine, image_request(preview_kind="taesd", steps=2)), EventKind.PREVIEW)
    assert [event.step.preview_kind for event in fallback if event.step] == ["latent", "latent"]
    assert engine.loads == 1


# --- single-file checkpoints ---------------------------------------------------------------------------


def test_single_file_checkpoint_loads_and_matches_the_folder(
    engine: Any, folder_engine: Any, run: Run, tiny_models: Any, to_png: ToPng
) -> None:
    loaded = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(tiny_models.single_file)))[-1]
    assert loaded.kind is EventKind.RESULT, loaded.text
    assert isinstance(loaded.result, PipelineLoadResult)
    assert loaded.result.source == "single_file"
    assert loaded.result.model == "tiny" and loaded.result.model_family == "sd15"
    assert loaded.result.default_size == 64
    from_file = run(engine, image_request(seed=5))[-1]
    from_folder = run(folder_engine, image_request(seed=5))[-1]
    assert from_file.image == from_folder.image  # the same weights through the LDM → diffusers conversion
    for mode in ("img2img", "inpaint", "outpaint"):
        result = run(
            engine,
            image_request(
                mode=mode,
                steps=2,
                strength=0.9,
                init_image=red_square(to_png),
                mask_image=centre_mask(to_png),
            ),
        )[-1]
        assert result.kind is EventKind.RESULT, result.text
        assert size_of(result.image) == (64, 64)
    assert engine.loads == 1


def test_inpainting_checkpoint_serves_every_mode(
    engine: Any, run: Run, tiny_models: Any, to_png: ToPng
) -> None:
    loaded = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(tiny_models.inpainting_file)))[-1]
    assert loaded.kind is EventKind.RESULT, loaded.text
    assert loaded.result.inpainting_model is True
    txt2img = run(engine, image_request(steps=2))[-1]
    assert txt2img.kind is EventKind.RESULT and size_of(txt2img.image) == (64, 64)
    inpaint = run(
        engine,
        image_request(mode="inpaint", steps=2, init_image=red_square(to_png), mask_image=centre_mask(to_png)),
    )[-1]
    assert inpaint.kind is EventKind.RESULT and size_of(inpaint.image) == (64, 64)


def test_a_generation_never_loads_a_model_it_names_one_that_must_be_loaded_first(
    engine: Any, run: Run, tiny_models: Any
) -> None:
    single = str(tiny_models.single_file)
    unloaded = run(engine, image_request(model_path=single, steps=2))
    assert [event.kind for event in unloaded] == [EventKind.ERROR]
    assert unloaded[-1].text == "No image model is loaded: choose a model and load it first."
    assert engine.model is None and engine.loads == 0
    assert run(engine, LoadPipelineRequest(new_job_id(), model_path=str(tiny_models.folder)))[-1].result
    other = run(engine, image_request(model_path=single, steps=2))[-1]
    assert other.kind is EventKind.ERROR
    assert other.text == "The image model tiny.safetensors is not loaded (tiny-folder is): load it first."
    assert engine.loads == 1  # the request named another model: nothing was loaded for it
    run(engine, LoadPipelineRequest(new_job_id(), model_path=single))
    named = run(engine, image_request(model_path=single, steps=2))
    assert named[-1].kind is EventKind.RESULT and engine.loads == 2
    assert not any(event.text.startswith("Loading") for event in kinds(named, EventKind.PROGRESS))
    assert run(engine, image_request(steps=2))[-1].kind is EventKind.RESULT  # no name: the loaded model
    assert run(engine, UnloadPipelineRequest(new_job_id()))[-1].kind is EventKind.RESULT
    assert engine.model is None
    assert "No image model is loaded" in run(engine, image_request())[-1].text


# --- refused and broken files --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth", ".bin"])
def test_pickle_checkpoints_are_refused(engine: Any, run: Run, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps({"state_dict": {}}))
    result = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(path)))[-1]
    assert result.kind is EventKind.ERROR
    assert "pickle" in result.text and "arbitrary code" in result.text
    assert engine.model is None


def test_pickle_renamed_to_safetensors_is_refused(engine: Any, run: Run, tmp_path: Path) -> None:
    path = tmp_path / "sneaky.safetensors"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
    result = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(path)))[-1]
    assert result.kind is EventKind.ERROR and "pickle" in result.text


def test_folder_with_only_pickle_weights_is_refused(
    engine: Any, run: Run, tiny_models: Any, tmp_path: Path
) -> None:
    folder = shutil.copytree(tiny_models.folder, tmp_path / "pickled")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_suffix(".bin"))
    result = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(folder)))[-1]
    assert result.kind is EventKind.ERROR and "pickle" in result.text and "unet" in result.text


def test_truncated_safetensors_gives_a_clear_error(
    engine: Any, run: Run, tiny_models: Any, tmp_path: Path
) -> None:
    data = tiny_models.single_file.read_bytes()
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    result = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(truncated)))[-1]
    assert result.kind is EventKind.ERROR and "truncated" in result.text
    header_only = tmp_path / "header.safetensors"
    header_only.write_bytes(data[:100])
    assert "truncated" in run(engine, LoadPipelineRequest(new_job_id(), model_path=str(header_only)))[-1].text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "not a valid safetensors"),
        (b"hello world, this is not a model", "not a valid safetensors"),
        (struct.pack("<Q", 12) + b"not json!!!!", "not JSON"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    ],
)
def test_garbage_safetensors_gives_a_clear_error(
    engine: Any, run: Run, tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    result = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(path)))[-1]
    assert result.kind is EventKind.ERROR and expected in result.text


def test_damaged_tensor_entry_is_reported(tmp_path: Path) -> None:
    raw = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(16))
    with pytest.raises(CheckpointError, match="damaged"):
        inspect_checkpoint(path)


def test_non_sd_safetensors_is_refused(engine: Any, run: Run, tmp_path: Path) -> None:
    lora = write_safetensors(tmp_path / "lora.safetensors", {"lora_unet_x.lora_up.weight": ([4, 4], "F32")})
    result = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(lora)))[-1]
    assert result.kind is EventKind.ERROR and "LoRA" in result.text
    flux = write_safetensors(
        tmp_path / "flux.safetensors", {"model.diffusion_model.double_blocks.0.x": ([4], "F32")}
    )
    assert (
        "another architecture"
        in run(engine, LoadPipelineRequest(new_job_id(), model_path=str(flux)))[-1].text
    )


def test_missing_model_and_plain_folder(engine: Any, run: Run, tmp_path: Path) -> None:
    missing = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(tmp_path / "nope.safetensors")))[
        -1
    ]
    assert missing.kind is EventKind.ERROR and "not found" in missing.text
    plain = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(tmp_path)))[-1]
    assert plain.kind is EventKind.ERROR and "model_index.json" in plain.text


@pytest.mark.parametrize(
    ("family", "name", "prediction", "size"),
    [
        ("sd15", "dreamshaper.safetensors", "epsilon", 512),
        ("sd2", "v2-1_768-ema-pruned.safetensors", "v_prediction", 768),
        ("sd2", "v2-1_512-ema-pruned.safetensors", "epsilon", 512),
        ("sdxl", "sd_xl_base_1.0.safetensors", "epsilon", 1024),
    ],
)
def test_family_is_detected_from_the_header(
    tmp_path: Path, family: str, name: str, prediction: str, size: int
) -> None:
    info = inspect_checkpoint(write_safetensors(tmp_path / name, sd_header(family)))
    assert (info.family, info.prediction_type, info.default_size, info.in_channels) == (
        family,
        prediction,
        size,
        4,
    )
    inpainting = inspect_checkpoint(write_safetensors(tmp_path / "inpaint.safetensors", sd_header(family, 9)))
    assert inpainting.is_inpainting


def test_sdxl_refiner_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="refiner"):
        inspect_checkpoint(write_safetensors(tmp_path / "refiner.safetensors", sd_header("refiner")))


@pytest.mark.parametrize("family", ["sd15", "sd2", "sdxl"])
def test_shipped_configs_say_what_is_missing(
    engine: Any, run: Run, tmp_path: Path, tiny_models: Any, family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_safetensors(tmp_path / f"{family}-model.safetensors", sd_header(family))
    with monkeypatch.context() as patch:  # as if Studio's own tokenizer copy were missing
        patch.setattr("studio.engines.diffusion_loading.SHIPPED_TOKENIZER_DIR", tmp_path / "absent")
        no_tokenizer = run(engine, LoadPipelineRequest(new_job_id(), model_path=str(path)))[-1]
    assert no_tokenizer.kind is EventKind.ERROR
    assert "vocab.json" in no_tokenizer.text and f"'{family}-model.config/'" in no_tokenizer.text
    with_tokenizer = run(
        engine,
        LoadPipelineRequest(new_job_id(), model_path=str(path), tokenizer_dir=str(tiny_models.tokenizer)),
    )[-1]
    assert with_tokenizer.kind is EventKind.ERROR  # only a header: the weights are not there
    assert with_tokenizer.text.startswith(f"Could not load {family}-model.safetensors as a Stable Diffusion")


# --- requests, helpers, the engine process ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"width": 65}, "multiple of 8"),
        ({"height": 4096}, "multiple of 8"),
        ({"mode": "img2img"}, "needs an init image"),
        ({"scheduler": "plms++"}, "unknown scheduler"),
        ({"mode": "img2img", "init_image": b"x", "steps": 2, "strength": 0.2}, "steps × strength"),
        ({"steps": 0}, "steps must be"),
        ({"mode": "paint"}, "unknown mode"),
    ],
)
def test_bad_requests_are_errors(
    folder_engine: Any, run: Run, overrides: dict[str, Any], message: str
) -> None:
    request = image_request(**overrides)
    assert message in (request.problem() or "")
    result = run(folder_engine, request)[-1]
    assert result.kind is EventKind.ERROR and message in result.text.lower()


def test_unreadable_init_image_is_an_error(folder_engine: Any, run: Run) -> None:
    result = run(folder_engine, image_request(mode="img2img", init_image=b"not an image", strength=0.5))[-1]
    assert result.kind is EventKind.ERROR and "init image could not be read" in result.text


def test_requests_pickle_and_need_no_torch() -> None:
    request = image_request(mode="img2img", init_image=b"\x89PNG", strength=0.3)
    assert pickle.loads(pickle.dumps(request)) == request
    code = (
        "import sys; import studio.engines.image_requests, studio.engines.sd_checkpoint, studio.cli_image; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers', 'PySide6') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_parameters_text_is_the_one_the_canvas_export_writes() -> None:
    from studio.canvas.png_metadata import GenerationInfo, format_a1111_parameters

    params = {
        "prompt": "a cat, sitting",
        "negative_prompt": "blurry",
        "steps": 4,
        "sampler": "Euler a",
        "cfg": 7.0,
        "seed": 3,
        "width": 64,
        "height": 64,
        "model_hash": "abcdef0123",
        "model": "my: model",
        "mode": "img2img",
        "strength": 0.5,
    }
    text = format_parameters(params)
    assert text.startswith(
        "a cat, sitting\nNegative prompt: blurry\nSteps: 4, Sampler: Euler a, CFG scale: 7, Seed: 3, "
        'Size: 64x64, Model hash: abcdef0123, Model: "my: model", Denoising strength: 0.5, Version: Studio '
    )
    info = GenerationInfo.from_settings(params)
    assert format_a1111_parameters(info, {"Denoising strength": 0.5}) == text
    assert parse_size("512x768") == (512, 768)
    with pytest.raises(ValueError):
        parse_size("500x500")


def test_model_path_problems(tmp_path: Path) -> None:
    assert "not found" in (model_path_problem(str(tmp_path / "x.safetensors")) or "")
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert "unsupported" in (model_path_problem(str(tmp_path / "m.gguf")) or "")


def test_outpaint_fill_takes_colours_from_the_known_part() -> None:
    from studio.engines.diffusion import fill_masked

    image = Image.new("RGB", (32, 16), (0, 0, 0))
    image.paste((200, 100, 50), (0, 0, 16, 16))
    mask = Image.new("L", (32, 16), 0)
    mask.paste(255, (16, 0, 32, 16))
    filled = np.asarray(fill_masked(image, mask)).astype(int)
    assert np.abs(filled[:, 20:] - np.array([200, 100, 50])).max() < 20
    assert (filled[:, :14] == [200, 100, 50]).all()


def test_through_the_engine_process(tiny_models: Any) -> None:
    """The real engine process (spawn): load, stream, cancel, generate again."""
    from studio.engines.client import EngineClient

    events: queue.Queue[EngineEvent] = queue.Queue()

    def until_end(job_id: str, on_event: Callable[[EngineEvent], None] | None = None) -> list[EngineEvent]:
        seen = []
        while True:
            event = events.get(timeout=300)
            if event.job_id != job_id:
                continue
            seen.append(event)
            if on_event is not None:
                on_event(event)
            if event.kind.is_terminal:
                return seen

    client = EngineClient("diffusion", events.put)
    try:
        load = LoadPipelineRequest(new_job_id(), model_path=str(tiny_models.single_file))
        client.submit(load)
        assert until_end(load.job_id)[-1].kind is EventKind.RESULT
        long_job = image_request(steps=200)
        client.submit(long_job)

        def cancel_on_progress(event: EngineEvent) -> None:
            if event.kind is EventKind.PROGRESS:
                client.cancel(long_job.job_id)

        cancelled = until_end(long_job.job_id, cancel_on_progress)
        assert cancelled[-1].kind is EventKind.CANCELLED
        assert not kinds(cancelled, EventKind.RESULT)
        assert len(kinds(cancelled, EventKind.PROGRESS)) < 200
        request = image_request(seed=5, steps=3)
        client.submit(request)
        done = until_end(request.job_id)
        assert [event.kind for event in done[:2]] == [EventKind.STARTED, EventKind.PROGRESS]
        assert len(kinds(done, EventKind.PREVIEW)) == 3
        assert done[-1].kind is EventKind.RESULT and size_of(done[-1].image) == (64, 64)
    finally:
        client.shutdown()
