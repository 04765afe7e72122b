"""Opening images safely, and exporting a flattened PNG."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from studio.canvas import image_io
from studio.canvas.document import CanvasDocument
from studio.canvas.errors import ImageLoadError
from studio.canvas.image_io import export_png, load_image, open_image


def encode(array: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(height: int, width: int, channels: int) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (height, width, channels), dtype=np.uint8)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` but carries a tiny (wrong) image body."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_open_png_with_alpha_is_exact(tmp_path: Path) -> None:
    pixels = noise(20, 30, 4)
    path = tmp_path / "sketch.png"
    path.write_bytes(encode(pixels, "PNG"))
    doc = open_image(path)
    assert doc.size == (30, 20)
    assert [layer.name for layer in doc.layers] == ["sketch"]
    assert np.array_equal(doc.layers[0].pixels, pixels)
    assert doc.history.undo_steps == 0


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_open_jpeg_and_webp(tmp_path: Path, fmt: str) -> None:
    pixels = np.full((16, 24, 3), (200, 100, 50), dtype=np.uint8)
    path = tmp_path / f"photo.{fmt.lower()}"
    path.write_bytes(encode(pixels, fmt, quality=95))
    loaded = load_image(path)
    assert loaded.shape == (16, 24, 4)
    assert (loaded[:, :, 3] == 255).all()
    assert np.abs(loaded[:, :, :3].astype(int) - (200, 100, 50)).max() <= 6


def test_exif_orientation_is_applied() -> None:
    pixels = np.zeros((10, 20, 3), dtype=np.uint8)
    pixels[:, :10] = (255, 255, 255)  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turned 90° clockwise
    loaded = load_image(encode(pixels, "JPEG", exif=exif.tobytes(), quality=95))
    assert loaded.shape == (20, 10, 4)
    assert loaded[2, 5, 0] > 200 and loaded[18, 5, 0] < 50  # the white half is now on top


def test_palette_greyscale_and_16_bit_images() -> None:
    palette = Image.fromarray(noise(8, 8, 3)).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", transparency=0)
    assert load_image(buffer.getvalue()).shape == (8, 8, 4)

    grey16 = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))
    buffer = io.BytesIO()
    grey16.save(buffer, "PNG")
    loaded = load_image(buffer.getvalue())
    assert (loaded == 255).all()


def test_unsupported_mode_is_a_clear_error() -> None:
    with pytest.raises(ImageLoadError, match="colour mode F"):
        image_io._to_rgba(Image.new("F", (2, 2)), "The image")


def test_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(ImageLoadError, match="too large to open"):
        load_image(png_header_only(20_000, 20_000))
    with pytest.raises(ImageLoadError, match="too large to open"):
        load_image(encode(noise(40, 40, 3), "PNG"), max_pixels=1000)


def test_pillow_globals_are_restored_and_truncation_stays_strict() -> None:
    before = Image.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        data = encode(noise(64, 64, 3), "PNG")
        with pytest.raises(ImageLoadError, match="truncated"):
            load_image(data[: len(data) // 2])
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    assert before == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_is_refused(tmp_path: Path, fmt: str) -> None:
    data = encode(noise(64, 64, 3), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="truncated"):
        open_image(path)


def test_not_an_image_missing_and_empty(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not really a picture")
    with pytest.raises(ImageLoadError, match=r"“notes\.png” is not a PNG, JPEG or WebP image"):
        open_image(text)
    with pytest.raises(ImageLoadError, match="does not exist"):
        open_image(tmp_path / "nowhere.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="is empty"):
        open_image(empty)
    with pytest.raises(ImageLoadError, match="folder"):
        open_image(tmp_path)


def test_other_formats_are_refused() -> None:
    with pytest.raises(ImageLoadError, match="not a PNG, JPEG or WebP"):
        load_image(encode(noise(4, 4, 3), "BMP"))


def test_export_flattened_png_atomically(tmp_path: Path) -> None:
    doc = CanvasDocument(6, 4, background=(0, 0, 255, 255))
    doc.add_layer("Half", np.full((4, 6, 4), (255, 0, 0, 128), dtype=np.uint8))
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    export_png(doc, target)
    assert np.array_equal(load_image(target), doc.composite())
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
