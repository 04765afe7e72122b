"""PNG provenance: Studio's chunks written and read back; A1111, ComfyUI and InvokeAI files parsed."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import ImageLoadError
from studio.canvas.image_io import load_image
from studio.canvas.png_metadata import (
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
    GenerationInfo,
    digital_source_type_for,
    export_png_with_provenance,
    format_a1111_parameters,
    parse_a1111_parameters,
    png_with_metadata,
    read_digital_source_type,
    read_generation_info,
    read_image_text,
    save_png_with_metadata,
)

PIXELS = np.full((8, 8, 4), (10, 200, 30, 255), dtype=np.uint8)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks = []
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def png_with_text(texts: dict[str, str]) -> bytes:
    info = PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def studio_info() -> GenerationInfo:
    return GenerationInfo(
        prompt="a lighthouse, at night: stormy\nwide shot",
        negative_prompt="blurry, low quality",
        steps=20,
        cfg=7.0,
        seed=1,
        width=512,
        height=512,
        sampler="Euler a",
        model="sd:1.5",
        model_hash="abc123",
    )


def test_a1111_parameters_format() -> None:
    text = format_a1111_parameters(studio_info(), {"Denoising strength": 0.75})
    lines = text.split("\n")
    assert lines[0] == "a lighthouse, at night: stormy"
    assert lines[1] == "wide shot"
    assert lines[2] == "Negative prompt: blurry, low quality"
    assert lines[3].startswith(
        'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: abc123, Model: "sd:1.5", '
        "Denoising strength: 0.75, Version: "
    )


def test_studio_png_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "gen.png"
    save_png_with_metadata(path, PIXELS, studio_info(), provenance={"layer": "Gen"})
    assert np.array_equal(load_image(path), PIXELS)
    info = read_generation_info(path)
    assert info is not None and info.source == "studio"
    expected = studio_info()
    assert (info.prompt, info.negative_prompt, info.steps, info.cfg, info.seed) == (
        expected.prompt,
        expected.negative_prompt,
        20,
        7.0,
        1,
    )
    assert (info.width, info.height, info.sampler, info.model, info.model_hash) == (
        512,
        512,
        "Euler a",
        "sd:1.5",
        "abc123",
    )
    assert info.raw["provenance"] == {"layer": "Gen"} and info.raw["version"] == 1

    texts = read_image_text(path)
    other_tools_view = parse_a1111_parameters(texts["parameters"])
    assert other_tools_view.prompt == expected.prompt and other_tools_view.model == "sd:1.5"
    assert json.loads(texts["studio"])["generation"]["seed"] == 1


def test_xmp_digital_source_type_chunk() -> None:
    generated = png_with_metadata(PIXELS, studio_info())
    chunks = png_chunks(generated)
    xmp = [body for kind, body in chunks if kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\0")]
    assert len(xmp) == 1 and TRAINED_ALGORITHMIC_MEDIA.encode() in xmp[0]
    assert read_digital_source_type(generated) == TRAINED_ALGORITHMIC_MEDIA
    assert b"parameters" in b"".join(body for kind, body in chunks if kind in (b"tEXt", b"iTXt"))

    edited = png_with_metadata(PIXELS, studio_info(), edited=True)
    assert read_digital_source_type(edited) == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    plain = png_with_text({"Comment": "hello"})
    assert read_digital_source_type(plain) is None


def test_non_latin_prompt_uses_itxt() -> None:
    info = GenerationInfo(prompt="水彩画の猫 🐈", seed=3)
    data = png_with_metadata(PIXELS, info)
    kinds = {body.split(b"\0")[0]: kind for kind, body in png_chunks(data) if kind in (b"tEXt", b"iTXt")}
    assert kinds[b"parameters"] == b"iTXt"
    read = read_generation_info(data)
    assert read is not None and read.prompt == "水彩画の猫 🐈"


A1111_TEXT = (
    "masterpiece, a castle on a hill\nat sunset\n"
    "Negative prompt: lowres, blurry\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3876532, Size: 768x512, "
    'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "add_detail: 7c6bad76eb54", Version: v1.10.1'
)


def test_reads_automatic1111_png() -> None:
    info = read_generation_info(png_with_text({"parameters": A1111_TEXT}))
    assert info is not None and info.source == "a1111"
    assert info.prompt == "masterpiece, a castle on a hill\nat sunset"
    assert info.negative_prompt == "lowres, blurry"
    assert (info.steps, info.cfg, info.seed, info.width, info.height) == (28, 6.5, 3876532, 768, 512)
    assert (info.sampler, info.model, info.model_hash) == ("DPM++ 2M", "v1-5-pruned-emaonly", "6ce0161689")
    assert info.raw["Lora hashes"] == "add_detail: 7c6bad76eb54"
    assert info.raw["Schedule type"] == "Karras"


def test_reads_automatic1111_without_negative_or_params() -> None:
    info = parse_a1111_parameters("just a prompt")
    assert info.prompt == "just a prompt" and info.negative_prompt == "" and info.steps is None


def test_short_settings_line_round_trips() -> None:
    info = parse_a1111_parameters(format_a1111_parameters(GenerationInfo(prompt="a cat", seed=3)))
    assert (info.prompt, info.seed) == ("a cat", 3)


def test_reads_automatic1111_jpeg_user_comment() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + A1111_TEXT.encode("utf-16-be")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", exif=exif.tobytes())
    info = read_generation_info(buffer.getvalue())
    assert info is not None and info.source == "a1111" and info.seed == 3876532


COMFY_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": ["10", 0],
            "steps": 25,
            "cfg": 7.5,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "denoise": 1,
            "model": ["11", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dreamshaper_8.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 640, "height": 448, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox in snow", "clip": ["11", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["11", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {"class_type": "PrimitiveNode", "inputs": {"value": 99887766}},
    "11": {
        "class_type": "LoraLoader",
        "inputs": {"lora_name": "x.safetensors", "model": ["4", 0], "clip": ["4", 1]},
    },
}

COMFY_WORKFLOW = {
    "nodes": [
        {
            "id": 3,
            "type": "KSampler",
            "inputs": [
                {"name": "model", "type": "MODEL", "link": 1},
                {"name": "positive", "type": "CONDITIONING", "link": 4},
                {"name": "negative", "type": "CONDITIONING", "link": 6},
                {"name": "latent_image", "type": "LATENT", "link": 2},
            ],
            "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1],
        },
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["v1-5-pruned-emaonly.safetensors"]},
        {"id": 5, "type": "EmptyLatentImage", "widgets_values": [512, 768, 1]},
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["beautiful scenery nature glass bottle"]},
        {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["text, watermark"]},
    ],
    "links": [
        [1, 4, 0, 3, 0, "MODEL"],
        [2, 5, 0, 3, 3, "LATENT"],
        [4, 6, 0, 3, 1, "CONDITIONING"],
        [6, 7, 0, 3, 2, "CONDITIONING"],
    ],
}


def test_reads_comfyui_prompt_graph() -> None:
    data = png_with_text({"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)})
    info = read_generation_info(data)
    assert info is not None and info.source == "comfyui"
    assert info.prompt == "a red fox in snow" and info.negative_prompt == "text, watermark"
    assert (info.seed, info.steps, info.cfg, info.sampler) == (99887766, 25, 7.5, "dpmpp_2m")
    assert (info.width, info.height) == (640, 448)
    assert info.model == "dreamshaper_8.safetensors"  # found through the LoRA loader
    assert info.raw["scheduler"] == "karras" and info.raw["workflow"]["nodes"]


def test_reads_comfyui_workflow_only() -> None:
    info = read_generation_info(png_with_text({"workflow": json.dumps(COMFY_WORKFLOW)}))
    assert info is not None and info.source == "comfyui"
    assert (
        info.prompt == "beautiful scenery nature glass bottle" and info.negative_prompt == "text, watermark"
    )
    assert (info.seed, info.steps, info.cfg, info.sampler) == (156680208700286, 20, 8.0, "euler")
    assert (info.width, info.height, info.model) == (512, 768, "v1-5-pruned-emaonly.safetensors")


def test_reads_invokeai_metadata() -> None:
    metadata = {
        "generation_mode": "txt2img",
        "positive_prompt": "a lighthouse on a cliff",
        "negative_prompt": "blurry",
        "width": 1024,
        "height": 768,
        "seed": 1234,
        "rand_device": "cpu",
        "cfg_scale": 6.5,
        "steps": 30,
        "scheduler": "dpmpp_2m",
        "model": {
            "key": "k1",
            "hash": "blake3:abcd",
            "name": "Juggernaut XL",
            "base": "sdxl",
            "type": "main",
        },
    }
    info = read_generation_info(png_with_text({"invokeai_metadata": json.dumps(metadata)}))
    assert info is not None and info.source == "invokeai"
    assert (info.prompt, info.negative_prompt) == ("a lighthouse on a cliff", "blurry")
    assert (info.seed, info.steps, info.cfg, info.width, info.height) == (1234, 30, 6.5, 1024, 768)
    assert (info.model, info.sampler, info.model_hash) == ("Juggernaut XL", "dpmpp_2m", "blake3:abcd")

    v3 = dict(metadata, model={"model_name": "sd-1.5", "base_model": "sd-1", "model_type": "main"})
    info = read_generation_info(png_with_text({"invokeai_metadata": json.dumps(v3)}))
    assert info is not None and info.model == "sd-1.5"


def test_no_or_broken_metadata_gives_none() -> None:
    assert read_generation_info(png_with_text({})) is None
    assert read_generation_info(png_with_text({"prompt": "{not json", "Comment": "x"})) is None
    assert read_generation_info(png_with_text({"invokeai_metadata": "[1, 2]"})) is None


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"nope")
    with pytest.raises(ImageLoadError, match="not a readable PNG"):
        read_generation_info(path)


def test_document_provenance_and_export(tmp_path: Path) -> None:
    doc = CanvasDocument(8, 8)
    assert digital_source_type_for(doc) is None
    info = studio_info()
    doc.add_layer("Gen", PIXELS, provenance=info.to_provenance())
    assert digital_source_type_for(doc) == TRAINED_ALGORITHMIC_MEDIA
    doc.add_layer("Hand", np.full((8, 8, 4), 9, dtype=np.uint8))
    assert digital_source_type_for(doc) == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA

    path = tmp_path / "export.png"
    export_png_with_provenance(doc, path)
    assert np.array_equal(load_image(path), doc.composite())
    assert read_digital_source_type(path) == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    read = read_generation_info(path)
    assert read is not None and read.prompt == info.prompt and read.seed == 1 and read.model == "sd:1.5"
    assert read.raw["provenance"]["layers"][0]["name"] == "Gen"


def test_export_names_the_denoising_strength_of_an_edit(tmp_path: Path) -> None:
    doc = CanvasDocument(8, 8)
    provenance = studio_info().to_provenance()
    layer = doc.add_layer("Gen", PIXELS, provenance=provenance)
    path = tmp_path / "txt2img.png"
    export_png_with_provenance(doc, path)
    assert "Denoising strength" not in read_image_text(path)["parameters"]

    provenance["parameters"].update(mode="inpaint", strength=0.6)
    doc.set_layer_provenance(layer, provenance)
    export_png_with_provenance(doc, path)
    texts = read_image_text(path)
    assert ", Denoising strength: 0.6, Version: Studio " in texts["parameters"]
    assert texts["parameters"] == format_a1111_parameters(studio_info(), {"Denoising strength": 0.6})
    assert json.loads(texts["studio"])["parameters"] == {"Denoising strength": 0.6}
