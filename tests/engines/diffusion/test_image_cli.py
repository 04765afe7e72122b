"""``studio image``: real runs through the engine process, exit codes and one-line error messages.

The CLI goes through the canvas's code (planning, blending, PNG export), so its files carry the same
metadata as a canvas export and inpainting keeps every pixel outside the mask."""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.canvas.image_io import load_image
from studio.canvas.png_metadata import (
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
    parse_a1111_parameters,
    read_digital_source_type,
    read_generation_info,
    read_image_text,
)
from studio.cli_image import add_image_parser, run_image

pytestmark = [
    pytest.mark.diffusion,
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]


def studio_image(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="studio")
    add_image_parser(parser.add_subparsers(dest="command"))
    return run_image(parser.parse_args(["image", *argv]))


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("studio: error: ")
    assert "Traceback" not in stderr
    return lines[0]


def read_pixels(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    with Image.open(path) as image:
        image.load()
        return np.asarray(image.convert("RGB")), {str(key): value for key, value in image.info.items()}


def test_generates_a_png_with_parameters_and_same_seed_same_pixels(
    tiny_models: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    common = [
        "a lighthouse",
        "--model",
        str(tiny_models.folder),
        "--steps",
        "3",
        "--size",
        "64x64",
        "--seed",
        "9",
    ]
    assert studio_image(*common, "-o", str(first), "--negative", "fog", "--cfg", "5") == 0
    stderr = capsys.readouterr().err
    assert "step 1/3" in stderr and "step 3/3" in stderr and f"wrote {first} (seed 9)" in stderr
    assert studio_image(*common, "-o", str(second), "--negative", "fog", "--cfg", "5", "--quiet") == 0
    assert capsys.readouterr().err == ""
    pixels_a, info = read_pixels(first)
    pixels_b, _ = read_pixels(second)
    assert pixels_a.shape == (64, 64, 3)
    assert np.array_equal(pixels_a, pixels_b)
    assert info["parameters"].startswith(
        "a lighthouse\nNegative prompt: fog\nSteps: 3, Sampler: Euler, CFG scale: 5, Seed: 9, Size: 64x64"
    )


def test_png_carries_the_canvas_export_metadata(tiny_models: Any, tmp_path: Path) -> None:
    """A1111 ``parameters`` (quoted as the canvas quotes), Studio's JSON and the IPTC mark."""
    model = tmp_path / "tiny, v2: test"  # a name A1111 quoting must put in quotes
    shutil.copytree(tiny_models.folder, model)
    out = tmp_path / "made.png"
    prompt = "a lighthouse, at night: stormy"
    assert (
        studio_image(prompt, "--model", str(model), "--steps", "2", "--seed", "5", "-o", str(out), "--quiet")
        == 0
    )
    texts = read_image_text(out)
    assert texts["parameters"].startswith(f"{prompt}\nSteps: 2, ")
    assert 'Model: "tiny, v2: test"' in texts["parameters"]
    assert ", Version: Studio " in texts["parameters"]
    other_tools_view = parse_a1111_parameters(texts["parameters"])
    assert (other_tools_view.prompt, other_tools_view.seed) == (prompt, 5)
    assert other_tools_view.model == "tiny, v2: test"

    studio_json = json.loads(texts["studio"])
    assert studio_json["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    (layer,) = studio_json["provenance"]["layers"]
    assert layer["name"] == f"{prompt} (5)" and layer["ai_generated"] is True
    assert layer["parameters"]["mode"] == "txt2img" and layer["parameters"]["steps"] == 2
    info = read_generation_info(out)
    assert info is not None and info.source == "studio"
    assert (info.prompt, info.seed, info.steps, info.model) == (prompt, 5, 2, "tiny, v2: test")
    assert (info.width, info.height) == (64, 64)  # the tiny model's native size
    assert read_digital_source_type(out) == TRAINED_ALGORITHMIC_MEDIA
    assert load_image(out).shape == (64, 64, 4)


def test_inpaint_keeps_every_pixel_outside_the_mask(tiny_models: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    init_pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask_pixels = np.zeros((64, 64), dtype=np.uint8)
    mask_pixels[16:48, 16:48] = 255
    init, mask, out = tmp_path / "init.png", tmp_path / "mask.png", tmp_path / "inpainted.png"
    Image.fromarray(init_pixels).save(init)
    Image.fromarray(mask_pixels).save(mask)
    argv = ["a red door", "--model", str(tiny_models.folder), "--init", str(init), "--mask", str(mask)]
    assert studio_image(*argv, "--steps", "2", "--seed", "1", "-o", str(out), "--quiet") == 0

    result = load_image(out)
    outside = mask_pixels == 0
    assert result.shape == (64, 64, 4) and bool((result[:, :, 3] == 255).all())
    assert np.array_equal(result[:, :, :3][outside], init_pixels[outside])  # bit for bit
    inside = ~outside
    assert not np.array_equal(result[:, :, :3][inside], init_pixels[inside])
    assert read_digital_source_type(out) == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    texts = read_image_text(out)
    assert "Denoising strength: 1, " in texts["parameters"]
    (layer,) = json.loads(texts["studio"])["provenance"]["layers"]
    assert layer["parameters"]["mode"] == "inpaint"


def test_img2img_and_inpaint_from_a_single_file(
    tiny_models: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init, mask = tmp_path / "init.jpg", tmp_path / "mask.png"
    Image.new("RGB", (80, 64), (10, 120, 200)).save(init)
    Image.new("L", (80, 64), 255).save(mask)
    out = tmp_path / "out.png"
    model = str(tiny_models.single_file)
    assert (
        studio_image(
            "waves",
            "--model",
            model,
            "--init",
            str(init),
            "--strength",
            "0.5",
            "--steps",
            "4",
            "-o",
            str(out),
        )
        == 0
    )
    pixels, info = read_pixels(out)
    assert pixels.shape == (64, 80, 3)  # the init image's size; the model made 64×64 and it was scaled
    assert "Denoising strength: 0.5" in info["parameters"] and "Model: tiny" in info["parameters"]
    assert read_digital_source_type(out) == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert "step 2/2" in capsys.readouterr().err
    assert (
        studio_image(
            "waves",
            "--model",
            model,
            "--init",
            str(init),
            "--mask",
            str(mask),
            "--steps",
            "2",
            "--scheduler",
            "lcm",
            "-n",
            "2",
            "--seed",
            "4",
            "-o",
            str(out),
        )
        == 0
    )
    assert read_pixels(out)[1]["parameters"].count("Seed: 4") == 1
    assert "Seed: 5" in read_pixels(tmp_path / "out-2.png")[1]["parameters"]


def test_engine_errors_end_in_one_line(
    tiny_models: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Looks like an SD 1.5 checkpoint to the quick checks; loading it fails (its weights are not there).
    header = json.dumps(
        {
            "model.diffusion_model.input_blocks.0.0.weight": {
                "dtype": "F16",
                "shape": [320, 4, 3, 3],
                "data_offsets": [0, 23040],
            },
            "first_stage_model.x": {"dtype": "F16", "shape": [1], "data_offsets": [23040, 23042]},
            "cond_stage_model.transformer.x": {"dtype": "F16", "shape": [1], "data_offsets": [23042, 23044]},
        }
    ).encode()
    model = tmp_path / "looks-sd.safetensors"
    model.write_bytes(struct.pack("<Q", len(header)) + header + bytes(23044))
    assert studio_image("x", "--model", str(model), "--quiet", "-o", str(tmp_path / "o.png")) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "Could not load looks-sd.safetensors" in line
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("make", "extra", "expected"),
    [
        ("missing", [], "model not found"),
        ("pickle", [], "pickle"),
        ("truncated", [], "truncated"),
        ("folder", ["--init", "{tmp}/not-an-image.png"], "cannot read init image"),
        ("folder", ["--init", "{tmp}/absent.png"], "init image not found"),
        ("folder", ["--size", "65x64"], "multiple of 8"),
        ("folder", ["--size", "big"], "bad size"),
        ("folder", ["--mask", "{tmp}/not-an-image.png"], "--mask needs --init"),
        ("folder", ["--init", "{tmp}/grey.png", "--mask", "{tmp}/black.png"], "selects nothing"),
        ("folder", ["--init", "{tmp}/grey.png", "--strength", "1.5"], "--strength must be"),
        ("folder", ["--resolution", "100"], "--resolution must be a multiple of 8"),
        ("folder", ["--scheduler", "nope"], "unknown scheduler"),
        ("folder", ["--steps", "0"], "steps must be"),
        ("none", [], "--model is required"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    tiny_models: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: str,
    extra: list[str],
    expected: str,
) -> None:
    (tmp_path / "not-an-image.png").write_text("hello")
    Image.new("RGB", (64, 64), (128, 128, 128)).save(tmp_path / "grey.png")
    Image.new("L", (64, 64), 0).save(tmp_path / "black.png")
    model = {
        "missing": str(tmp_path / "missing.safetensors"),
        "folder": str(tiny_models.folder),
        "none": "",
    }.get(make, "")
    if make == "pickle":
        model = str(tmp_path / "model.ckpt")
        Path(model).write_bytes(pickle.dumps({"a": 1}))
    if make == "truncated":
        model = str(tmp_path / "cut.safetensors")
        Path(model).write_bytes(tiny_models.single_file.read_bytes()[:5000])
    argv = [
        "a prompt",
        "-o",
        str(tmp_path / "out.png"),
        *[arg.replace("{tmp}", str(tmp_path)) for arg in extra],
    ]
    if model:
        argv += ["--model", model]
    assert studio_image(*argv) == 2
    assert expected in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out.png").exists()
