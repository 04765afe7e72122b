"""Generation provenance in image files: writing Studio's PNGs and reading other tools' metadata.

Studio writes three things into a PNG:

* ``parameters`` (tEXt, or iTXt when not Latin-1): the AUTOMATIC1111 text most tools understand;
* ``studio``: Studio's own JSON (generation settings, version, layer provenance);
* ``XML:com.adobe.xmp`` (iTXt): XMP with the IPTC ``DigitalSourceType`` marking AI-generated content.

:func:`read_generation_info` reads Studio, InvokeAI (``invokeai_metadata``, legacy ``sd-metadata``),
ComfyUI (``prompt`` node graph, or the ``workflow`` UI graph) and AUTOMATIC1111 (``parameters``, or the EXIF
UserComment of its JPEG/WebP files).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image, PngImagePlugin

import studio
from studio.canvas.document import CanvasDocument
from studio.canvas.errors import ImageLoadError
from studio.canvas.image_io import MAX_IMAGE_PIXELS, encode_png, strict_pillow
from studio.canvas.lora_tags import lora_entries_from_prompt, parse_lora_hashes
from studio.engines.image_requests import INIT_MODES, format_parameters
from studio.fileio import atomic_write_bytes

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
XMP_KEY = "XML:com.adobe.xmp"
STUDIO_KEY = "studio"
STUDIO_METADATA_VERSION = 1

_MAX_JSON = 8 * 1024 * 1024
_MAX_GRAPH_DEPTH = 32


@dataclass
class GenerationInfo:
    """The settings an image was generated with; ``raw`` keeps everything that was read or written."""

    prompt: str = ""
    negative_prompt: str = ""
    steps: int | None = None
    cfg: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    sampler: str | None = None
    model: str | None = None
    model_hash: str | None = None
    loras: list[dict[str, Any]] = field(default_factory=list)  # {"name", "weight", "hash", "path"} per LoRA
    source: str = "studio"
    raw: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The generation fields as a plain JSON-able dict (no ``source`` or ``raw``)."""
        data = asdict(self)
        data.pop("raw")
        data.pop("source")
        return data

    def to_provenance(self) -> dict[str, Any]:
        """A layer provenance dict: prompt, seed, model and the other parameters."""
        settings = self.settings()
        return {
            "prompt": settings.pop("prompt"),
            "negative_prompt": settings.pop("negative_prompt"),
            "seed": settings.pop("seed"),
            "model": settings.pop("model"),
            "parameters": {k: v for k, v in settings.items() if v is not None},
        }

    @classmethod
    def from_settings(cls, data: Mapping[str, Any], source: str = "studio") -> GenerationInfo:
        """Build from :meth:`settings` or :meth:`to_provenance` output; unknown or ill-typed values are
        dropped."""
        merged: dict[str, Any] = dict(data)
        parameters = merged.pop("parameters", None)
        if isinstance(parameters, Mapping):
            merged = {**parameters, **merged}
        return cls(
            prompt=_text(merged.get("prompt")) or "",
            negative_prompt=_text(merged.get("negative_prompt")) or "",
            steps=_int(merged.get("steps")),
            cfg=_float(merged.get("cfg")),
            seed=_int(merged.get("seed")),
            width=_int(merged.get("width")),
            height=_int(merged.get("height")),
            sampler=_text(merged.get("sampler")),
            model=_text(merged.get("model")),
            model_hash=_text(merged.get("model_hash")),
            loras=[dict(entry) for entry in merged.get("loras") or () if isinstance(entry, Mapping)],
            source=source,
            raw=dict(data),
        )


# -- small converters ---------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _json(text: str | None) -> Any:
    if not text or len(text) > _MAX_JSON:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


# -- AUTOMATIC1111 ------------------------------------------------------------------------------------

_A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_A1111_SIZE = re.compile(r"^(\d+)x(\d+)$")
# A short settings line is still recognised when it starts with a key only settings lines start with.
_A1111_FIRST_KEY = re.compile(r"^(Steps|Sampler|CFG scale|Seed|Size|Model hash|Version): ")


def format_a1111_parameters(info: GenerationInfo, extra: Mapping[str, object] | None = None) -> str:
    """The AUTOMATIC1111 ``parameters`` text: prompt, ``Negative prompt: …``, then ``Key: value`` pairs
    (through the one A1111 formatter, :func:`studio.engines.image_requests.format_parameters`)."""
    return format_parameters(info.settings(), extra)


def parse_a1111_parameters(text: str) -> GenerationInfo:
    """Parse AUTOMATIC1111 (and Forge, SD.Next…) ``parameters`` text. The prompt is kept as written; its
    ``<lora:name:weight>`` tags also become :attr:`GenerationInfo.loras` entries (without a ``path``)."""
    *lines, last = text.strip().replace("\r\n", "\n").split("\n")
    if len(_A1111_PARAM.findall(last)) < 3 and not _A1111_FIRST_KEY.match(last):
        lines.append(last)
        last = ""
    prompt: list[str] = []
    negative: list[str] = []
    for line in lines:
        if not negative and line.startswith("Negative prompt:"):
            negative.append(line[len("Negative prompt:") :].strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    values: dict[str, str] = {}
    for key, value in _A1111_PARAM.findall(last):
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            try:
                value = str(json.loads(value))
            except ValueError:
                value = value[1:-1]
        values[key.strip()] = value
    width = height = None
    size = _A1111_SIZE.match(values.get("Size", ""))
    if size:
        width, height = int(size.group(1)), int(size.group(2))
    prompt_text = "\n".join(prompt).strip()
    return GenerationInfo(
        prompt=prompt_text,
        negative_prompt="\n".join(negative).strip(),
        steps=_int(values.get("Steps")),
        cfg=_float(values.get("CFG scale")),
        seed=_int(values.get("Seed")),
        width=width,
        height=height,
        sampler=values.get("Sampler"),
        model=values.get("Model"),
        model_hash=values.get("Model hash"),
        loras=lora_entries_from_prompt(prompt_text, parse_lora_hashes(values.get("Lora hashes", ""))),
        source="a1111",
        raw={"parameters": text, **values},
    )


# -- ComfyUI ------------------------------------------------------------------------------------------


def _is_link(value: Any, nodes: Mapping[str, Any]) -> bool:
    return isinstance(value, list) and len(value) == 2 and str(value[0]) in nodes


def _comfy_node(nodes: Mapping[str, Any], link: Any) -> dict[str, Any] | None:
    if not _is_link(link, nodes):
        return None
    node = nodes[str(link[0])]
    return node if isinstance(node, dict) else None


def _inputs(node: Mapping[str, Any]) -> dict[str, Any]:
    inputs = node.get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def _comfy_scalar(nodes: Mapping[str, Any], node: Mapping[str, Any], key: str, depth: int = 0) -> Any:
    """An input's value, following links to primitive/value nodes."""
    value = _inputs(node).get(key)
    if depth > _MAX_GRAPH_DEPTH or not _is_link(value, nodes):
        return value
    source = _comfy_node(nodes, value)
    if source is None:
        return None
    for candidate in (key, "value", "text", "string", "seed", "noise_seed", "int", "float", "number"):
        if candidate in _inputs(source):
            return _comfy_scalar(nodes, source, candidate, depth + 1)
    return None


def _comfy_text(nodes: Mapping[str, Any], link: Any, depth: int = 0) -> str | None:
    node = _comfy_node(nodes, link)
    if node is None or depth > _MAX_GRAPH_DEPTH:
        return None
    inputs = _inputs(node)
    if "text" in inputs:
        return _text(_comfy_scalar(nodes, node, "text"))
    if "text_g" in inputs or "text_l" in inputs:
        parts = [_text(_comfy_scalar(nodes, node, key)) for key in ("text_g", "text_l")]
        unique = [p for i, p in enumerate(parts) if p and p not in parts[:i]]
        return "\n".join(unique)
    for key in ("conditioning", "conditioning_1", "conditioning_to", "positive", "base_positive"):
        if key in inputs:
            found = _comfy_text(nodes, inputs[key], depth + 1)
            if found is not None:
                return found
    return None


def _comfy_follow(nodes: Mapping[str, Any], link: Any, wanted: tuple[str, ...], via: tuple[str, ...]) -> Any:
    node = _comfy_node(nodes, link)
    for _ in range(_MAX_GRAPH_DEPTH):
        if node is None:
            return None
        if any(key in _inputs(node) for key in wanted):
            return node
        node = next((_comfy_node(nodes, _inputs(node)[k]) for k in via if k in _inputs(node)), None)
    return None


def _is_sampler(class_type: Any) -> bool:
    return (
        isinstance(class_type, str) and class_type.startswith("KSampler") and class_type != "KSamplerSelect"
    )


def parse_comfyui_prompt(prompt: Any) -> GenerationInfo | None:
    """Parse ComfyUI's ``prompt`` chunk (the API node graph ``{id: {class_type, inputs}}``)."""
    if not isinstance(prompt, dict):
        return None
    nodes = {str(k): v for k, v in prompt.items() if isinstance(v, dict)}
    samplers = sorted(
        (k for k, n in nodes.items() if _is_sampler(n.get("class_type"))),
        key=lambda k: (0, int(k)) if k.isdigit() else (1, 0),
    )
    if not samplers:
        return None

    def latent_node(sampler_id: str) -> dict[str, Any] | None:
        node: dict[str, Any] | None = _comfy_follow(
            nodes,
            _inputs(nodes[sampler_id]).get("latent_image"),
            ("width",),
            ("samples", "latent", "latent_image"),
        )
        return node

    sampler_id = next((s for s in samplers if latent_node(s) is not None), samplers[0])
    sampler = nodes[sampler_id]
    inputs = _inputs(sampler)
    latent = latent_node(sampler_id)
    model_node = _comfy_follow(nodes, inputs.get("model"), ("ckpt_name", "unet_name"), ("model",))
    if model_node is None:
        model_node = next((n for n in nodes.values() if "ckpt_name" in _inputs(n)), None)
    model = None
    if model_node is not None:
        model = _text(
            _comfy_scalar(
                nodes, model_node, "ckpt_name" if "ckpt_name" in _inputs(model_node) else "unet_name"
            )
        )
    seed = (
        _comfy_scalar(nodes, sampler, "seed")
        if "seed" in inputs
        else _comfy_scalar(nodes, sampler, "noise_seed")
    )
    return GenerationInfo(
        prompt=_comfy_text(nodes, inputs.get("positive")) or "",
        negative_prompt=_comfy_text(nodes, inputs.get("negative")) or "",
        steps=_int(_comfy_scalar(nodes, sampler, "steps")),
        cfg=_float(_comfy_scalar(nodes, sampler, "cfg")),
        seed=_int(seed),
        width=_int(_comfy_scalar(nodes, latent, "width")) if latent else None,
        height=_int(_comfy_scalar(nodes, latent, "height")) if latent else None,
        sampler=_text(_comfy_scalar(nodes, sampler, "sampler_name")),
        model=model,
        source="comfyui",
        raw={"prompt": prompt, "scheduler": _text(_comfy_scalar(nodes, sampler, "scheduler"))},
    )


def parse_comfyui_workflow(workflow: Any) -> GenerationInfo | None:
    """Parse ComfyUI's ``workflow`` chunk (the editor graph with ``nodes``, ``links``, ``widgets_values``)."""
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        return None
    nodes = {n.get("id"): n for n in workflow["nodes"] if isinstance(n, dict)}
    links: dict[Any, Any] = {}
    for link in workflow.get("links") or []:
        if isinstance(link, list) and len(link) >= 4:
            links[link[0]] = link[1]
        elif isinstance(link, dict):
            links[link.get("id")] = link.get("origin_id")

    def widgets(node: Mapping[str, Any] | None) -> list[Any]:
        values = node.get("widgets_values") if node else None
        return values if isinstance(values, list) else []

    def linked(node: Mapping[str, Any], name: str) -> dict[str, Any] | None:
        for slot in node.get("inputs") or []:
            if isinstance(slot, dict) and slot.get("name") == name:
                return nodes.get(links.get(slot.get("link")))
        return None

    def text(node: Mapping[str, Any] | None, depth: int = 0) -> str:
        if node is None or depth > _MAX_GRAPH_DEPTH:
            return ""
        if "CLIPTextEncode" in str(node.get("type")):
            return next((v for v in widgets(node) if isinstance(v, str)), "")
        for name in ("conditioning", "conditioning_1", "conditioning_to"):
            source = linked(node, name)
            if source is not None:
                return text(source, depth + 1)
        return ""

    sampler = next((n for n in nodes.values() if _is_sampler(n.get("type"))), None)
    if sampler is None:
        return None
    values = widgets(sampler)
    if sampler.get("type") == "KSamplerAdvanced":
        values = values[1:]
    if len(values) > 1 and isinstance(values[1], str):
        values = [values[0], *values[2:]]
    seed, steps, cfg, sampler_name = ([*values, None, None, None, None])[:4]
    latent = linked(sampler, "latent_image")
    size = widgets(latent) if latent is not None and str(latent.get("type")).startswith("Empty") else []
    checkpoint = next((n for n in nodes.values() if "CheckpointLoader" in str(n.get("type"))), None)
    return GenerationInfo(
        prompt=text(linked(sampler, "positive")),
        negative_prompt=text(linked(sampler, "negative")),
        steps=_int(steps),
        cfg=_float(cfg),
        seed=_int(seed),
        width=_int(size[0]) if len(size) >= 2 else None,
        height=_int(size[1]) if len(size) >= 2 else None,
        sampler=_text(sampler_name),
        model=_text(next(iter(widgets(checkpoint)), None)),
        source="comfyui",
        raw={"workflow": workflow},
    )


# -- InvokeAI -----------------------------------------------------------------------------------------


def parse_invokeai_metadata(metadata: Any) -> GenerationInfo | None:
    """Parse InvokeAI 3+/4+ ``invokeai_metadata`` JSON."""
    if not isinstance(metadata, dict):
        return None
    model = metadata.get("model")
    model_name = None
    if isinstance(model, dict):
        model_name = _text(model.get("name") or model.get("model_name"))
    elif isinstance(model, str):
        model_name = model
    return GenerationInfo(
        prompt=_text(metadata.get("positive_prompt")) or "",
        negative_prompt=_text(metadata.get("negative_prompt")) or "",
        steps=_int(metadata.get("steps")),
        cfg=_float(metadata.get("cfg_scale")),
        seed=_int(metadata.get("seed")),
        width=_int(metadata.get("width")),
        height=_int(metadata.get("height")),
        sampler=_text(metadata.get("scheduler")),
        model=model_name,
        model_hash=_text(model.get("hash")) if isinstance(model, dict) else None,
        source="invokeai",
        raw=metadata,
    )


def parse_invokeai_legacy(metadata: Any) -> GenerationInfo | None:
    """Parse InvokeAI 2.x ``sd-metadata`` JSON (negative prompt in ``[brackets]`` inside the prompt)."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("image"), dict):
        return None
    image = metadata["image"]
    prompt = image.get("prompt")
    if isinstance(prompt, list):
        prompt = " ".join(_text(p.get("prompt")) or "" for p in prompt if isinstance(p, dict))
    prompt = _text(prompt) or ""
    negative = " ".join(re.findall(r"\[([^\]]*)\]", prompt))
    return GenerationInfo(
        prompt=re.sub(r"\[[^\]]*\]", "", prompt).strip(),
        negative_prompt=negative.strip(),
        steps=_int(image.get("steps")),
        cfg=_float(image.get("cfg_scale")),
        seed=_int(image.get("seed")),
        width=_int(image.get("width")),
        height=_int(image.get("height")),
        sampler=_text(image.get("sampler")),
        model=_text(metadata.get("model_weights")),
        source="invokeai",
        raw=metadata,
    )


# -- writing ------------------------------------------------------------------------------------------


def build_xmp(digital_source_type: str, creator_tool: str | None = None) -> str:
    """An XMP packet declaring the IPTC digital source type (and the creating tool)."""
    tool = creator_tool or f"Studio {studio.__version__}"
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f"    Iptc4xmpExt:DigitalSourceType={quoteattr(digital_source_type)}\n"
        f"    xmp:CreatorTool={quoteattr(tool)}/>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="r"?>'
    )


def make_pnginfo(
    info: GenerationInfo | None,
    digital_source_type: str | None,
    *,
    provenance: Mapping[str, Any] | None = None,
    extra: Mapping[str, object] | None = None,
) -> PngImagePlugin.PngInfo:
    """PNG text chunks: A1111 ``parameters`` and ``studio`` JSON (when ``info``), XMP with the digital
    source type (when given), and ``Software``."""
    pnginfo = PngImagePlugin.PngInfo()
    if info is not None:
        pnginfo.add_text("parameters", format_a1111_parameters(info, extra))
    if info is not None or provenance is not None:
        payload: dict[str, Any] = {
            "version": STUDIO_METADATA_VERSION,
            "software": f"Studio {studio.__version__}",
            "generation": info.settings() if info is not None else None,
            "parameters": dict(extra or {}),
            "provenance": dict(provenance) if provenance is not None else None,
            "digital_source_type": digital_source_type,
        }
        pnginfo.add_text(STUDIO_KEY, json.dumps(payload, ensure_ascii=False, default=str))
    if digital_source_type:
        pnginfo.add_itxt(XMP_KEY, build_xmp(digital_source_type), lang="", tkey="", zip=False)
    pnginfo.add_text("Software", f"Studio {studio.__version__}")
    return pnginfo


def png_with_metadata(
    pixels: np.ndarray,
    info: GenerationInfo | None,
    *,
    edited: bool = False,
    provenance: Mapping[str, Any] | None = None,
    extra: Mapping[str, object] | None = None,
) -> bytes:
    """PNG bytes of ``pixels`` with generation metadata; ``edited`` marks an edit of an existing image
    (composite with AI content) rather than a purely generated one."""
    source = COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA if edited else TRAINED_ALGORITHMIC_MEDIA
    return encode_png(pixels, make_pnginfo(info, source, provenance=provenance, extra=extra))


def save_png_with_metadata(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    info: GenerationInfo | None,
    *,
    edited: bool = False,
    provenance: Mapping[str, Any] | None = None,
    extra: Mapping[str, object] | None = None,
) -> None:
    """Atomically write :func:`png_with_metadata` to ``path``."""
    atomic_write_bytes(
        path, png_with_metadata(pixels, info, edited=edited, provenance=provenance, extra=extra)
    )


def digital_source_type_for(document: CanvasDocument) -> str | None:
    """``trainedAlgorithmicMedia`` when every visible layer with content is AI-generated,
    ``compositeWithTrainedAlgorithmicMedia`` when some are, None when none are."""
    contributing = [
        layer
        for layer in document.layers
        if layer.visible and layer.opacity > 0 and bool(layer.pixels[:, :, 3].any())
    ]
    generated = [layer for layer in contributing if layer.provenance]
    if not generated:
        return None
    return (
        TRAINED_ALGORITHMIC_MEDIA
        if len(generated) == len(contributing)
        else COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    )


def export_png_with_provenance(document: CanvasDocument, path: str | os.PathLike[str]) -> None:
    """Export the flattened canvas as a PNG marked with its AI provenance (atomically).

    The ``parameters`` chunk describes the topmost visible generated layer; every generated layer's
    provenance goes into the ``studio`` chunk.
    """
    source = digital_source_type_for(document)
    generated = [layer for layer in document.layers if layer.visible and layer.provenance]
    top = (generated[-1].provenance or {}) if generated else {}
    info = GenerationInfo.from_settings(top) if generated else None
    provenance = {"layers": [{"name": layer.name, **(layer.provenance or {})} for layer in generated]}
    pnginfo = make_pnginfo(
        info, source, provenance=provenance if generated else None, extra=_denoising_strength(top)
    )
    atomic_write_bytes(path, encode_png(document.composite(), pnginfo))


def _denoising_strength(provenance: Mapping[str, Any]) -> dict[str, object]:
    """``Denoising strength`` of a layer made from an init image (img2img, inpaint, outpaint), else {}."""
    parameters = provenance.get("parameters")
    if not isinstance(parameters, Mapping) or parameters.get("mode") not in INIT_MODES:
        return {}
    strength = _float(parameters.get("strength"))
    return {} if strength is None else {"Denoising strength": strength}


# -- reading ------------------------------------------------------------------------------------------


def _exif_user_comment(image: Image.Image) -> str | None:
    try:
        comment = image.getexif().get_ifd(0x8769).get(0x9286)
    except Exception:  # damaged EXIF only hides the comment
        return None
    if isinstance(comment, str):
        return comment
    if not isinstance(comment, bytes):
        return None
    prefix, body = comment[:8], comment[8:]
    if prefix == b"UNICODE\x00":
        big = body.decode("utf-16-be", "replace")
        little = body.decode("utf-16-le", "replace")
        return (
            big
            if sum(c.isprintable() or c.isspace() for c in big)
            >= sum(c.isprintable() or c.isspace() for c in little)
            else little
        )
    return body.rstrip(b"\x00").decode("utf-8", "replace")


def read_image_text(
    source: str | os.PathLike[str] | bytes, *, max_pixels: int = MAX_IMAGE_PIXELS
) -> dict[str, str]:
    """The text metadata of a PNG (tEXt, zTXt, iTXt), or A1111's EXIF comment of a JPEG/WebP as
    ``parameters``. Raises :class:`ImageLoadError` when the file is not a readable image."""
    what = "The image" if isinstance(source, bytes) else f"“{Path(source).name}”"
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as exc:
        raise ImageLoadError(f"{what} could not be read: {exc.strerror or exc}") from None
    with strict_pillow(max_pixels):
        try:
            with Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP"]) as image:
                if image.width * image.height > max_pixels:
                    raise ImageLoadError(f"{what} is too large to read")
                if image.format == "PNG":
                    found = {k: v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
                    texts = getattr(image, "text", {})  # reads chunks after the image data too
                    return {**found, **{str(k): str(v) for k, v in texts.items()}}
                comment = _exif_user_comment(image)
                return {"parameters": comment} if comment else {}
        except ImageLoadError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageLoadError(f"{what} is too large to read") from None
        except Exception as exc:
            raise ImageLoadError(f"{what} is not a readable PNG, JPEG or WebP image ({exc})") from None


def generation_info_from_text(texts: Mapping[str, str]) -> GenerationInfo | None:
    """Generation settings from image text chunks, preferring Studio, then InvokeAI, ComfyUI, A1111."""
    studio_data = _json(texts.get(STUDIO_KEY))
    if isinstance(studio_data, dict) and isinstance(studio_data.get("generation"), dict):
        info = GenerationInfo.from_settings(studio_data["generation"], "studio")
        info.raw = studio_data
        return info
    for key, parser in (
        ("invokeai_metadata", parse_invokeai_metadata),
        ("sd-metadata", parse_invokeai_legacy),
        ("prompt", parse_comfyui_prompt),
        ("workflow", parse_comfyui_workflow),
    ):
        parsed = parser(_json(texts.get(key)))
        if parsed is not None:
            if parsed.source == "comfyui" and "workflow" in texts and key == "prompt":
                parsed.raw["workflow"] = _json(texts["workflow"])
            return parsed
    parameters = texts.get("parameters")
    if parameters and parameters.strip():
        return parse_a1111_parameters(parameters)
    return None


def read_generation_info(
    source: str | os.PathLike[str] | bytes, *, max_pixels: int = MAX_IMAGE_PIXELS
) -> GenerationInfo | None:
    """How an image was generated, from its metadata (Studio, A1111, ComfyUI, InvokeAI), or None."""
    return generation_info_from_text(read_image_text(source, max_pixels=max_pixels))


_DIGITAL_SOURCE = re.compile(
    r"""Iptc4xmpExt:DigitalSourceType\s*(?:=\s*["']([^"']*)["']|>\s*([^<\s]+)\s*<|[^>]*rdf:resource\s*=\s*["']([^"']*)["'])"""
)


def read_digital_source_type(source: str | os.PathLike[str] | bytes) -> str | None:
    """The IPTC ``DigitalSourceType`` URI from an image's XMP, or None."""
    xmp = read_image_text(source).get(XMP_KEY)
    if not xmp:
        return None
    match = _DIGITAL_SOURCE.search(xmp)
    if match is None:
        return None
    return next(group for group in match.groups() if group)
