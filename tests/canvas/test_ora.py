"""OpenRaster: round trip, zip layout, and malformed files."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.canvas.document import CanvasDocument
from studio.canvas.geometry import Rect
from studio.canvas.ora import OraError, load_ora, ora_bytes, save_ora


def sample_document() -> CanvasDocument:
    doc = CanvasDocument(40, 30, background=(255, 255, 255, 255))
    rng = np.random.default_rng(5)
    sky = doc.add_layer("Sky “dusk” & <stars>", rng.integers(0, 256, (30, 40, 4), dtype=np.uint8))
    doc.set_layer_opacity(sky, 0.4)
    doc.set_layer_visible(sky, False)
    figure = doc.add_layer("Figure", provenance={"prompt": "a fox, at dusk", "seed": 42, "model": "sd15"})
    with doc.edit_pixels(figure, Rect(10, 5, 8, 12)) as view:
        view[...] = (200, 50, 10, 255)
    doc.add_layer("Empty")
    doc.set_layer_opacity(doc.add_layer("Invisible ink", np.full((30, 40, 4), 90, dtype=np.uint8)), 0.0)
    doc.set_active_layer(figure)
    return doc


def zip_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_round_trip_keeps_layers(tmp_path: Path) -> None:
    doc = sample_document()
    path = tmp_path / "art.ora"
    save_ora(doc, path)
    loaded = load_ora(path)
    assert loaded.size == doc.size
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in doc.layers]
    assert [layer.visible for layer in loaded.layers] == [True, False, True, True, True]
    assert [layer.opacity for layer in loaded.layers] == pytest.approx([1.0, 0.4, 1.0, 1.0, 0.0])
    for original, copy in zip(doc.layers, loaded.layers, strict=True):
        assert np.array_equal(original.pixels, copy.pixels)
    assert loaded.layers[2].provenance == {"prompt": "a fox, at dusk", "seed": 42, "model": "sd15"}
    assert loaded.layers[1].provenance is None
    assert loaded.active_layer.name == "Figure"
    assert loaded.history.undo_steps == 0


def test_zip_layout_for_other_programs() -> None:
    doc = sample_document()
    data = ora_bytes(doc)
    assert data[30:38] == b"mimetype" and data[38:54] == b"image/openraster"  # first entry, uncompressed
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert infos[0].filename == "mimetype" and infos[0].compress_type == zipfile.ZIP_STORED
        assert infos[0].extra == b""
        names = archive.namelist()
        assert {"stack.xml", "mergedimage.png", "Thumbnail/thumbnail.png"} <= set(names)
        root = ET.fromstring(archive.read("stack.xml"))
        assert (root.tag, root.get("w"), root.get("h")) == ("image", "40", "30")
        layers = root.findall("./stack/layer")
        assert [layer.get("name") for layer in layers] == [
            "Invisible ink",
            "Empty",
            "Figure",
            "Sky “dusk” & <stars>",
            "Background",
        ]
        assert [layer.get("visibility") for layer in layers] == [
            "visible",
            "visible",
            "visible",
            "hidden",
            "visible",
        ]
        assert [layer.get("opacity") for layer in layers] == ["0", "1", "1", "0.4", "1"]
        assert [layer.get("selected") for layer in layers] == [None, None, "true", None, None]
        figure = layers[2]
        assert (figure.get("x"), figure.get("y")) == ("10", "5")  # cropped to its content
        assert zip_png(archive.read(figure.get("src") or "")).shape == (12, 8, 4)
        assert np.array_equal(zip_png(archive.read("mergedimage.png")), doc.composite())
        thumb = zip_png(archive.read("Thumbnail/thumbnail.png"))
        assert max(thumb.shape[:2]) <= 256


def test_large_canvas_thumbnail_is_at_most_256() -> None:
    doc = CanvasDocument(600, 300, background=(1, 2, 3, 255))
    with zipfile.ZipFile(io.BytesIO(ora_bytes(doc))) as archive:
        assert zip_png(archive.read("Thumbnail/thumbnail.png")).shape[:2] == (128, 256)


def make_ora(
    stack_xml: str | None, files: dict[str, bytes] | None = None, mimetype: str = "image/openraster"
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", mimetype)
        if stack_xml is not None:
            archive.writestr("stack.xml", stack_xml)
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png_bytes(width: int, height: int, rgba: tuple[int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), rgba).save(buffer, "PNG")
    return buffer.getvalue()


def test_groups_offsets_and_missing_attributes_from_other_programs() -> None:
    stack = """<?xml version='1.0' encoding='UTF-8'?>
    <image w="8" h="8"><stack>
      <stack name="Group" opacity="0.5" visibility="visible">
        <layer src="data/a.png" x="-2" y="6" opacity="0.5"/>
      </stack>
      <stack name="Hidden group" visibility="hidden"><layer name="In hidden" src="data/b.png"/></stack>
      <text>ignored</text>
      <layer name="Base" src="data/b.png"/>
    </stack></image>"""
    doc = load_ora(
        make_ora(
            stack,
            {"data/a.png": png_bytes(4, 4, (255, 0, 0, 255)), "data/b.png": png_bytes(8, 8, (0, 0, 0, 255))},
        )
    )
    names = [layer.name for layer in doc.layers]
    assert names == ["Base", "In hidden", "Layer 1"]
    grouped = doc.layers[2]
    assert grouped.opacity == pytest.approx(0.5)
    assert grouped.content_bounds() == Rect(0, 6, 2, 2)
    assert grouped.group is not None and doc.group(grouped.group).name == "Group"
    assert doc.group(grouped.group).opacity == pytest.approx(0.5)
    hidden = doc.layers[1]
    assert hidden.visible is True and hidden.group is not None
    assert doc.group(hidden.group).visible is False and not doc.is_shown(hidden)
    # The group composites as one: 0.5 × 0.5 of red over black where the red layer lies.
    assert tuple(doc.composite()[6, 0]) == (64, 0, 0, 255)


def test_empty_stack_gives_a_blank_canvas() -> None:
    doc = load_ora(make_ora('<image w="5" h="6"><stack/></image>'))
    assert doc.size == (5, 6) and len(doc.layers) == 1 and doc.composite().sum() == 0


GOOD_PNG = {"data/a.png": png_bytes(4, 4, (1, 2, 3, 255))}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 definitely not a zip", "not a valid zip archive"),
        (b"", "not a valid zip archive"),
        (make_ora(None, GOOD_PNG), "stack.xml is missing"),
        (make_ora('<image w="4" h="4"><stack/></image>', mimetype="application/zip"), "its type is"),
        (make_ora("<image w='4' h='4'><stack>", GOOD_PNG), "damaged stack.xml"),
        (make_ora("<picture/>", GOOD_PNG), "no <image> element"),
        (make_ora('<image w="4"><stack/></image>'), "has no h"),
        (make_ora('<image w="four" h="4"><stack/></image>'), "not a whole number"),
        (make_ora('<image w="4" h="4"></image>'), "no <stack> element"),
        (make_ora('<image w="100000" h="100000"><stack/></image>'), "too large"),
        (make_ora('<image w="0" h="4"><stack/></image>'), "at least 1×1"),
        (
            make_ora('<image w="4" h="4"><stack><layer src="../x.png"/></stack></image>', GOOD_PNG),
            "outside the file",
        ),
        (
            make_ora('<image w="4" h="4"><stack><layer src="/etc/passwd"/></stack></image>', GOOD_PNG),
            "outside the file",
        ),
        (make_ora('<image w="4" h="4"><stack><layer name="A"/></stack></image>', GOOD_PNG), "no src"),
        (
            make_ora('<image w="4" h="4"><stack><layer src="data/gone.png"/></stack></image>', GOOD_PNG),
            "data/gone.png is missing",
        ),
        (
            make_ora(
                '<image w="4" h="4"><stack><layer name="Bad" src="data/a.png"/></stack></image>',
                {"data/a.png": b"junk"},
            ),
            "layer “Bad” cannot be read",
        ),
        (
            make_ora('<!DOCTYPE x [<!ENTITY a "aaaa">]><image w="4" h="4"><stack/></image>'),
            "document type declarations",
        ),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "broken.ora"
    path.write_bytes(data)
    with pytest.raises(OraError, match=message):
        load_ora(path)


def test_huge_layer_png_is_refused() -> None:
    stack = '<image w="64" h="64"><stack><layer name="Huge" src="data/a.png"/></stack></image>'
    with pytest.raises(OraError, match="too large"):
        load_ora(make_ora(stack, {"data/a.png": png_bytes(80, 80, (0, 0, 0, 255))}), max_pixels=5000)


def test_save_is_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "art.ora"
    path.write_bytes(b"previous")
    save_ora(sample_document(), path)
    assert load_ora(path).size == (40, 30)
    assert [p.name for p in tmp_path.iterdir()] == ["art.ora"]


def grouped_document() -> CanvasDocument:
    doc = CanvasDocument(12, 10, background=(200, 100, 50))
    shade = doc.add_layer("Shade", np.full((10, 12, 4), (100, 100, 100, 255), dtype=np.uint8))
    doc.set_layer_blend_mode(shade, "svg:multiply")
    glow = doc.add_layer("Glow", np.full((10, 12, 4), (0, 0, 200, 128), dtype=np.uint8))
    doc.set_layer_blend_mode(glow, "svg:screen")
    inner = doc.group_layers([glow], "Inner")
    doc.set_group_opacity(inner.id, 0.5)
    doc.set_group_blend_mode(inner.id, "svg:overlay")
    outer = doc.group_layers([shade], "Outer")
    doc.set_group_isolated(outer.id, True)
    doc.set_active_layer(shade)
    top = doc.add_layer("Top")  # joins Outer
    with doc.edit_pixels(top, Rect(1, 1, 3, 3)) as view:
        view[...] = (0, 255, 0, 255)
    doc.set_active_layer(shade)
    return doc


def test_round_trip_keeps_blend_modes_and_groups(tmp_path: Path) -> None:
    doc = grouped_document()
    path = tmp_path / "groups.ora"
    save_ora(doc, path)
    loaded = load_ora(path)
    assert [layer.name for layer in loaded.layers] == ["Background", "Shade", "Top", "Glow"]
    assert [layer.blend_mode.value for layer in loaded.layers] == [
        "svg:src-over",
        "svg:multiply",
        "svg:src-over",
        "svg:screen",
    ]
    outer = loaded.group(loaded.layers[1].group or "")
    inner = loaded.group(loaded.layers[3].group or "")
    assert loaded.layers[2].group == outer.id and loaded.layers[0].group is None
    assert (outer.name, outer.isolated, outer.parent) == ("Outer", True, None)
    assert (inner.name, inner.opacity, inner.blend_mode.value) == ("Inner", 0.5, "svg:overlay")
    assert inner.parent is None and not inner.isolated
    assert np.array_equal(loaded.composite(), doc.composite())
    assert loaded.active_layer.name == "Shade"
    for original, copy in zip(doc.layers, loaded.layers, strict=True):
        assert np.array_equal(original.pixels, copy.pixels)


def test_groups_are_nested_stacks_with_composite_ops_for_other_programs() -> None:
    doc = grouped_document()
    with zipfile.ZipFile(io.BytesIO(ora_bytes(doc))) as archive:
        root = ET.fromstring(archive.read("stack.xml"))
        merged = zip_png(archive.read("mergedimage.png"))
    top_level = list(root.find("stack") or [])
    assert [(e.tag, e.get("name")) for e in top_level] == [
        ("stack", "Inner"),
        ("stack", "Outer"),
        ("layer", "Background"),
    ]
    inner, outer = top_level[0], top_level[1]
    assert inner.get("composite-op") == "svg:overlay" and inner.get("opacity") == "0.5"
    assert outer.get("isolation") == "isolate" and inner.get("isolation") == "auto"
    assert [(e.get("name"), e.get("composite-op")) for e in outer] == [
        ("Top", "svg:src-over"),
        ("Shade", "svg:multiply"),
    ]
    assert np.array_equal(merged, doc.composite())


def test_nested_groups_from_other_programs() -> None:
    stack = """<image w="4" h="4"><stack>
      <stack name="A" composite-op="svg:multiply" opacity="0.8">
        <stack name="B" isolation="isolate"><layer name="Deep" src="data/a.png" composite-op="svg:darken"/></stack>
        <layer name="Shallow" src="data/a.png" composite-op="krita:dissolve"/>
      </stack>
      <stack name="Empty"/>
      <layer name="Base" src="data/a.png"/>
    </stack></image>"""
    doc = load_ora(make_ora(stack, {"data/a.png": png_bytes(4, 4, (10, 20, 30, 255))}))
    assert [layer.name for layer in doc.layers] == ["Base", "Shallow", "Deep"]
    deep, shallow = doc.layers[2], doc.layers[1]
    assert [group.name for group in doc.group_chain(deep)] == ["A", "B"]
    assert deep.blend_mode.value == "svg:darken" and shallow.blend_mode.value == "svg:src-over"
    assert sorted(group.name for group in doc.groups) == ["A", "B"]  # the empty group is dropped
    assert doc.group_chain(deep)[1].isolated and doc.group_chain(deep)[0].opacity == pytest.approx(0.8)
    again = load_ora(ora_bytes(doc))
    assert [group.name for group in again.group_chain(again.layers[2])] == ["A", "B"]


def test_a_stack_offset_moves_its_layers() -> None:
    stack = """<image w="8" h="8"><stack>
      <stack name="Moved" x="3" y="2"><layer name="Dot" src="data/a.png" x="1" y="1"/></stack>
    </stack></image>"""
    doc = load_ora(make_ora(stack, {"data/a.png": png_bytes(2, 2, (255, 0, 0, 255))}))
    assert doc.layers[0].content_bounds() == Rect(4, 3, 2, 2)
