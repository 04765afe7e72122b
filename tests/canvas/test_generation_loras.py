"""LoRAs travel with a generation (issue 10): from the settings into the request, and from the engine's
parameters into the layer's provenance and the exported PNG (A1111 ``<lora:…>`` tags and ``Lora hashes``), and
back when the PNG is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.canvas.document import CanvasDocument
from studio.canvas.generation import GenerateSettings, image_request, plan_generation, provenance_for
from studio.canvas.png_metadata import (
    GenerationInfo,
    export_png_with_provenance,
    read_generation_info,
    read_image_text,
)

LORAS = [
    {"name": "style", "weight": 0.8, "hash": "a1b2c3d4e5f6", "path": "/loras/style.safetensors"},
    {"name": "detail", "weight": 1.5, "hash": "", "path": "/loras/detail.safetensors"},
]
PARAMS = {"prompt": "a red fox", "seed": 7, "steps": 4, "cfg": 5.0, "width": 64, "height": 64, "loras": LORAS}


def settings(**changes: object) -> GenerateSettings:
    values: dict[str, object] = {
        "prompt": "a red fox",
        "negative_prompt": "",
        "steps": 4,
        "guidance": 5.0,
        "seed": 7,
        "scheduler": "euler",
        "num_candidates": 1,
        "strength": 0.5,
        "resolution": 64,
        "model_path": "/models/tiny",
    }
    values.update(changes)
    return GenerateSettings(**values)  # type: ignore[arg-type]


def test_image_request_carries_the_loras_and_fast_decode() -> None:
    plan = plan_generation(CanvasDocument(64, 64), None, 64)
    request = image_request(plan, settings(loras=(("/loras/style.safetensors", 0.8),), fast_decode=True))
    assert request.loras == (("/loras/style.safetensors", 0.8),)
    assert request.fast_decode is True
    plain = image_request(plan, settings())
    assert plain.loras == () and plain.fast_decode is False


def test_generation_info_keeps_the_loras_through_provenance() -> None:
    info = GenerationInfo.from_settings(PARAMS)
    assert info.loras == LORAS
    again = GenerationInfo.from_settings(info.to_provenance())
    assert again.loras == LORAS
    # ill-typed entries are dropped, not fatal
    assert GenerationInfo.from_settings({"loras": ["style", 3, LORAS[0]]}).loras == [LORAS[0]]
    assert GenerationInfo.from_settings({"loras": "style"}).loras == []


def test_exported_png_names_the_loras(tmp_path: Path) -> None:
    doc = CanvasDocument(8, 8)
    doc.add_layer("Gen", np.full((8, 8, 4), 200, dtype=np.uint8), provenance=provenance_for(PARAMS))
    path = tmp_path / "fox.png"
    export_png_with_provenance(doc, path)
    text = read_image_text(path)["parameters"]
    assert text.splitlines()[0] == "a red fox <lora:style:0.8> <lora:detail:1.5>"
    assert 'Lora hashes: "style: a1b2c3d4e5f6"' in text
    read = read_generation_info(path)
    assert read is not None and read.loras == LORAS
