"""OpenRaster (``.ora``) save and open, readable by Krita, GIMP and MyPaint.

Layout: ``mimetype`` first and stored (``image/openraster``), ``stack.xml`` (layers listed top first),
``data/layerN.png`` (each cropped to its content, placed with ``x``/``y``), ``Thumbnail/thumbnail.png``
(at most 256 px) and ``mergedimage.png``. Studio keeps each layer's provenance in a namespaced
``studio:provenance`` attribute (JSON). Groups are nested ``<stack>`` elements (name, visibility, opacity,
``composite-op``, ``isolation``); blend modes are the layers' ``composite-op`` values; values Studio does not
support are read as normal. An empty group is dropped. The document's generation history is kept in
``studio/history.json`` and ``studio/history/<id>.png`` (other programs ignore them); a damaged history is
dropped, never the file.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from studio.canvas.blending import BlendMode, read_blend_mode
from studio.canvas.document import CanvasDocument, GroupBranch, Layer, check_canvas_size
from studio.canvas.errors import CanvasError, ImageLoadError
from studio.canvas.generation_log import MAX_RECORDS, GenerationLog, GenerationRecord
from studio.canvas.geometry import Rect
from studio.canvas.image_io import MAX_IMAGE_PIXELS, encode_png, load_image
from studio.canvas.imaging import thumbnail
from studio.canvas.layer import LayerGroup
from studio.fileio import atomic_write_bytes

ORA_MIMETYPE = "image/openraster"
ORA_VERSION = "0.0.5"
STUDIO_NAMESPACE = "https://studio.invalid/ns/openraster/1"
THUMBNAIL_SIDE = 256
MAX_LAYERS = 1000
_MAX_STACK_XML = 16 * 1024 * 1024
_MAX_ENTRY = 1024 * 1024 * 1024

_PROVENANCE = f"{{{STUDIO_NAMESPACE}}}provenance"
HISTORY_ENTRY = "studio/history.json"
_HISTORY_IMAGES = "studio/history/"
_RECORD_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
ET.register_namespace("studio", STUDIO_NAMESPACE)


class OraError(ImageLoadError):
    """An OpenRaster file that cannot be opened."""


def ora_bytes(document: CanvasDocument) -> bytes:
    """The document as the bytes of an OpenRaster file."""
    root = ET.Element("image", {"version": ORA_VERSION, "w": str(document.width), "h": str(document.height)})
    stack = ET.SubElement(root, "stack")
    entries: list[tuple[str, bytes]] = []
    _write_items(stack, document.layer_tree(), document, entries)
    stack_xml = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    merged = document.composite()

    buffer = io.BytesIO()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:
        mimetype = zipfile.ZipInfo("mimetype", date_time=stamp)
        mimetype.compress_type = zipfile.ZIP_STORED
        archive.writestr(mimetype, ORA_MIMETYPE)
        _write(archive, "stack.xml", stack_xml, zipfile.ZIP_DEFLATED, stamp)
        for name, data in entries:
            _write(archive, name, data, zipfile.ZIP_STORED, stamp)
        _write(
            archive,
            "Thumbnail/thumbnail.png",
            encode_png(thumbnail(merged, THUMBNAIL_SIDE)),
            zipfile.ZIP_STORED,
            stamp,
        )
        _write(archive, "mergedimage.png", encode_png(merged), zipfile.ZIP_STORED, stamp)
        _write_history(archive, document.generation_log, stamp)
    return buffer.getvalue()


def _write_items(
    stack: ET.Element,
    items: list[Layer | GroupBranch],
    document: CanvasDocument,
    entries: list[tuple[str, bytes]],
) -> None:
    for item in reversed(items):  # OpenRaster lists the top first
        if isinstance(item, GroupBranch):
            group = item.group
            attributes = {
                "name": group.name,
                "visibility": "visible" if group.visible else "hidden",
                "opacity": f"{group.opacity:.6g}",
                "composite-op": group.blend_mode.value,
                "isolation": "isolate" if group.isolated else "auto",
            }
            _write_items(ET.SubElement(stack, "stack", attributes), item.children, document, entries)
            continue
        layer = item
        bounds = layer.content_bounds() or Rect(0, 0, 1, 1)
        src = f"data/layer{document.index_of(layer)}.png"
        entries.append((src, encode_png(layer.pixels[bounds.slices])))
        attributes = {
            "name": layer.name,
            "src": src,
            "x": str(bounds.x),
            "y": str(bounds.y),
            "visibility": "visible" if layer.visible else "hidden",
            "opacity": f"{layer.opacity:.6g}",
            "composite-op": layer.blend_mode.value,
        }
        if layer.id == document.active_layer.id:
            attributes["selected"] = "true"
        if layer.provenance is not None:
            attributes[_PROVENANCE] = json.dumps(layer.provenance, ensure_ascii=False, default=str)
        ET.SubElement(stack, "layer", attributes)


def _write_history(archive: zipfile.ZipFile, log: GenerationLog, stamp: tuple[int, ...]) -> None:
    if not len(log):
        return
    manifest = json.dumps(log.manifest(), ensure_ascii=False, default=str).encode("utf-8")
    _write(archive, HISTORY_ENTRY, manifest, zipfile.ZIP_DEFLATED, stamp)
    for record in log.records:
        _write(
            archive, f"{_HISTORY_IMAGES}{record.id}.png", encode_png(record.image), zipfile.ZIP_STORED, stamp
        )


def _read_history(
    archive: zipfile.ZipFile, names: set[str], what: str, max_pixels: int
) -> list[GenerationRecord]:
    """The records of ``studio/history.json``; damaged records (or a damaged history) are left out."""
    if HISTORY_ENTRY not in names:
        return []
    try:
        manifest = json.loads(_read_entry(archive, HISTORY_ENTRY, what, _MAX_STACK_XML))
        entries = manifest.get("records") if isinstance(manifest, dict) else None
    except (OraError, ValueError):
        return []
    records: list[GenerationRecord] = []
    for entry in entries if isinstance(entries, list) else []:
        if len(records) >= MAX_RECORDS or not isinstance(entry, dict):
            continue
        record_id = str(entry.get("id") or "")
        image_name = f"{_HISTORY_IMAGES}{record_id}.png"
        if not _RECORD_ID.fullmatch(record_id) or image_name not in names:
            continue
        try:
            image = load_image(
                _read_entry(archive, image_name, what), max_pixels=max_pixels, formats=("PNG",)
            )
            records.append(GenerationRecord.from_json(entry, image))
        except (ImageLoadError, CanvasError, KeyError, ValueError, TypeError):
            continue
    return records


def _write(archive: zipfile.ZipFile, name: str, data: bytes, method: int, stamp: tuple[int, ...]) -> None:
    info = zipfile.ZipInfo(name, date_time=(stamp[0], stamp[1], stamp[2], stamp[3], stamp[4], stamp[5]))
    info.compress_type = method
    archive.writestr(info, data)


def save_ora(document: CanvasDocument, path: str | os.PathLike[str]) -> None:
    """Save the document as OpenRaster, atomically (the old file stays whole on failure)."""
    atomic_write_bytes(path, ora_bytes(document))


@dataclass
class _LayerSpec:
    name: str
    src: str
    x: int
    y: int
    visible: bool
    opacity: float
    selected: bool
    provenance: dict[str, Any] | None
    blend_mode: BlendMode
    group: str | None


def load_ora(source: str | os.PathLike[str] | bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> CanvasDocument:
    """Open an OpenRaster file (path or bytes) as a new document; raises :class:`OraError` when it is
    malformed, and never returns a partly loaded document."""
    what = "The file" if isinstance(source, bytes) else f"“{Path(source).name}”"
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except FileNotFoundError:
        raise OraError(f"{what} does not exist") from None
    except OSError as exc:
        raise OraError(f"{what} could not be read: {exc.strerror or exc}") from None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _load(archive, what, max_pixels)
    except zipfile.BadZipFile:
        raise OraError(f"{what} is not an OpenRaster file (it is not a valid zip archive)") from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError) as exc:
        raise OraError(f"{what} is damaged and cannot be opened ({exc})") from None
    except ImageLoadError as exc:
        if isinstance(exc, OraError):
            raise
        raise OraError(str(exc)) from None


def _read_entry(archive: zipfile.ZipFile, name: str, what: str, limit: int = _MAX_ENTRY) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise OraError(f"{what} is incomplete: {name} is missing") from None
    if info.file_size > limit:
        raise OraError(f"{what} is too large to open: {name} is {info.file_size / 1e6:.0f} MB")
    return archive.read(info)


def _load(archive: zipfile.ZipFile, what: str, max_pixels: int) -> CanvasDocument:
    names = set(archive.namelist())
    if "mimetype" in names:
        mimetype = _read_entry(archive, "mimetype", what, 1024).decode("ascii", "replace").strip()
        if mimetype != ORA_MIMETYPE:
            raise OraError(f"{what} is not an OpenRaster file (its type is “{mimetype[:60]}”)")
    if "stack.xml" not in names:
        raise OraError(f"{what} is not an OpenRaster file: stack.xml is missing")
    stack_xml = _read_entry(archive, "stack.xml", what, _MAX_STACK_XML)
    if b"<!DOCTYPE" in stack_xml or b"<!ENTITY" in stack_xml:
        raise OraError(f"{what} has an invalid stack.xml (document type declarations are not allowed)")
    try:
        root = ET.fromstring(stack_xml)
    except ET.ParseError as exc:
        raise OraError(f"{what} has a damaged stack.xml ({exc})") from None
    if root.tag != "image":
        raise OraError(f"{what} has an invalid stack.xml (no <image> element)")
    width = _int_attribute(root, "w", what)
    height = _int_attribute(root, "h", what)
    try:
        check_canvas_size(width, height)
    except CanvasError as exc:
        raise OraError(f"{what} cannot be opened: {exc}") from None
    if width * height > max_pixels:
        raise OraError(
            f"{what} is too large to open: {width}×{height} is more than {max_pixels / 1e6:.0f} megapixels"
        )
    stack = root.find("stack")
    if stack is None:
        raise OraError(f"{what} has an invalid stack.xml (no <stack> element)")

    specs: list[_LayerSpec] = []
    groups: list[LayerGroup] = []
    _collect(stack, what, None, specs, groups, 0, (0, 0))
    if len(specs) > MAX_LAYERS:
        raise OraError(f"{what} has too many layers ({len(specs)}; at most {MAX_LAYERS})")
    canvas = Rect(0, 0, width, height)
    layers: list[Layer] = []
    active = None
    for index, spec in enumerate(reversed(specs)):
        png = _read_entry(archive, _safe_src(spec.src, what), what)
        try:
            image = load_image(png, max_pixels=max_pixels, formats=("PNG",))
        except ImageLoadError as exc:
            raise OraError(f"{what}: the layer “{spec.name}” cannot be read ({exc})") from None
        pixels = np.zeros((height, width, 4), dtype=np.uint8)
        placed = Rect(spec.x, spec.y, image.shape[1], image.shape[0])
        target = placed.intersected(canvas)
        if not target.is_empty:
            pixels[target.slices] = image[target.translated(-spec.x, -spec.y).slices]
        layers.append(
            Layer(
                spec.name,
                pixels,
                spec.visible,
                spec.opacity,
                spec.provenance,
                blend_mode=spec.blend_mode,
                group=spec.group,
            )
        )
        if spec.selected:
            active = index
    if not layers:
        layers.append(Layer("Background", np.zeros((height, width, 4), dtype=np.uint8)))
    used = {spec.group for spec in specs}
    for group in reversed(groups):  # children come after their parents
        if group.id in used:
            used.add(group.parent)
    kept = [group for group in groups if group.id in used]
    document = CanvasDocument.from_layers(layers, active, kept)
    document.generation_log.replace_all(_read_history(archive, names, what, max_pixels))
    return document


def _collect(
    stack: ET.Element,
    what: str,
    parent: str | None,
    out: list[_LayerSpec],
    groups: list[LayerGroup],
    depth: int,
    offset: tuple[int, int],
) -> None:
    if depth > 64:
        raise OraError(f"{what} has layer groups nested too deeply")
    for element in stack:
        if len(out) > MAX_LAYERS or len(groups) > MAX_LAYERS:
            return
        element_visible = element.get("visibility", "visible").strip().lower() != "hidden"
        element_opacity = _opacity(element.get("opacity"))
        if element.tag == "stack":
            name = " ".join((element.get("name") or "").split())[:256] or f"Group {len(groups) + 1}"
            group = LayerGroup(
                name,
                element_visible,
                element_opacity,
                read_blend_mode(element.get("composite-op")),
                element.get("isolation", "auto").strip().lower() == "isolate",
                parent,
            )
            groups.append(group)
            inner = (
                offset[0] + _int_attribute(element, "x", what, 0),
                offset[1] + _int_attribute(element, "y", what, 0),
            )  # a stack may place its children
            _collect(element, what, group.id, out, groups, depth + 1, inner)
        elif element.tag == "layer":
            src = element.get("src")
            if not src:
                raise OraError(f"{what} has a layer without an image (no src)")
            name = " ".join((element.get("name") or "").split())[:256] or f"Layer {len(out) + 1}"
            out.append(
                _LayerSpec(
                    name=name,
                    src=src,
                    x=offset[0] + _int_attribute(element, "x", what, 0),
                    y=offset[1] + _int_attribute(element, "y", what, 0),
                    visible=element_visible,
                    opacity=element_opacity,
                    selected=element.get("selected", "").strip().lower() == "true",
                    provenance=_provenance(element.get(_PROVENANCE)),
                    blend_mode=read_blend_mode(element.get("composite-op")),
                    group=parent,
                )
            )


def _safe_src(src: str, what: str) -> str:
    path = PurePosixPath(src)
    if "\\" in src or path.is_absolute() or ".." in path.parts or src.startswith("/") or ":" in src:
        raise OraError(f"{what} is invalid: a layer refers to “{src[:80]}”, outside the file")
    return str(path)


def _int_attribute(element: ET.Element, name: str, what: str, default: int | None = None) -> int:
    raw = element.get(name)
    if raw is None:
        if default is None:
            raise OraError(f"{what} has an invalid stack.xml (<{element.tag}> has no {name})")
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise OraError(
            f"{what} has an invalid stack.xml ({name}=“{raw[:20]}” is not a whole number)"
        ) from None


def _opacity(raw: str | None) -> float:
    if raw is None:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        return 1.0
    return min(1.0, max(0.0, value)) if value == value else 1.0


def _provenance(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
