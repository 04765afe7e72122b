"""Opening PNG, JPEG and WebP files as canvas documents, and exporting flattened PNGs.

Loading is defensive: the pixel count is checked from the header before any decoding, Pillow's
decompression-bomb warning is an error, truncated files are never half-loaded, and every failure becomes an
:class:`ImageLoadError` with a message for the user.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, PngImagePlugin

from studio.canvas.document import CanvasDocument, Layer
from studio.canvas.errors import CanvasError, ImageLoadError
from studio.canvas.imaging import check_rgba
from studio.fileio import atomic_write_bytes

MAX_IMAGE_PIXELS = 100_000_000
OPEN_FORMATS = ("PNG", "JPEG", "WEBP")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # the files :func:`load_image` opens
ORA_SUFFIX = ".ora"
CANVAS_SUFFIXES = (ORA_SUFFIX, *IMAGE_SUFFIXES)  # every file the canvas opens
_FORMAT_NAMES = "PNG, JPEG or WebP"
# Modes Pillow converts to RGBA faithfully; 16-bit greyscale is scaled down by hand.
_DIRECT_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
_WIDE_GREY_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
_pillow_lock = threading.Lock()

ImageSource = str | os.PathLike[str] | bytes


def _describe(source: ImageSource) -> str:
    return "The image" if isinstance(source, bytes) else f"“{Path(source).name}”"


@contextmanager
def strict_pillow(max_pixels: int = MAX_IMAGE_PIXELS) -> Iterator[None]:
    """Decode with Pillow's truncated-image loading off and bomb warnings raised, limited to
    ``max_pixels``."""
    # Pillow's truncation and bomb limits are process-wide; hold ours while we decode, then restore them.
    with _pillow_lock:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = previous


def _to_rgba(image: Image.Image, what: str) -> np.ndarray:
    if image.mode in _WIDE_GREY_MODES:
        grey = np.asarray(image).astype(np.int64)
        high = 65535 if image.mode.startswith("I;16") or grey.max(initial=0) > 255 else 255
        grey8 = np.clip(np.rint(grey * (255.0 / high)), 0, 255).astype(np.uint8)
        rgba = np.empty((*grey8.shape, 4), dtype=np.uint8)
        rgba[:, :, :3] = grey8[:, :, None]
        rgba[:, :, 3] = 255
        return rgba
    if image.mode not in _DIRECT_MODES:
        raise ImageLoadError(f"{what} uses the colour mode {image.mode}, which Studio cannot open")
    return np.array(image.convert("RGBA"), dtype=np.uint8)


def load_image(
    source: ImageSource, *, max_pixels: int = MAX_IMAGE_PIXELS, formats: tuple[str, ...] = OPEN_FORMATS
) -> np.ndarray:
    """Decode a PNG, JPEG or WebP file (path or bytes) to ``H×W×4 uint8`` RGBA, EXIF orientation applied.

    Raises :class:`ImageLoadError` for missing, unreadable, truncated, oversized or non-image input.
    """
    what = _describe(source)
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except FileNotFoundError:
        raise ImageLoadError(f"{what} does not exist") from None
    except IsADirectoryError:
        raise ImageLoadError(f"{what} is a folder, not an image") from None
    except OSError as exc:
        raise ImageLoadError(f"{what} could not be read: {exc.strerror or exc}") from None
    if not data:
        raise ImageLoadError(f"{what} is empty")
    with strict_pillow(max_pixels):
        try:
            with Image.open(io.BytesIO(data), formats=list(formats)) as image:
                width, height = image.size
                if width < 1 or height < 1:
                    raise ImageLoadError(f"{what} has no pixels")
                if width * height > max_pixels:
                    raise ImageLoadError(
                        f"{what} is too large to open: {width}×{height} is {width * height / 1e6:.0f} megapixels, "
                        f"the limit is {max_pixels / 1e6:.0f}"
                    )
                image.load()
                try:
                    oriented = ImageOps.exif_transpose(image)
                except Exception:  # a damaged EXIF block only loses the orientation
                    oriented = image
                return _to_rgba(oriented if oriented is not None else image, what)
        except ImageLoadError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageLoadError(
                f"{what} is too large to open: it has more than {max_pixels / 1e6:.0f} megapixels"
            ) from None
        except Image.UnidentifiedImageError:
            raise ImageLoadError(f"{what} is not a {_FORMAT_NAMES} image") from None
        except (OSError, EOFError, SyntaxError, ValueError, struct.error, zlib.error, IndexError) as exc:
            message = str(exc)
            if "truncated" in message.lower() or isinstance(exc, EOFError):
                raise ImageLoadError(f"{what} is incomplete (the file is truncated)") from None
            raise ImageLoadError(
                f"{what} is damaged and cannot be opened ({message or type(exc).__name__})"
            ) from None
        except MemoryError:
            raise ImageLoadError(f"{what} is too large to open") from None
        except Exception as exc:  # a decoder choking on crafted input must not escape as a crash
            raise ImageLoadError(f"{what} is damaged and cannot be opened ({type(exc).__name__})") from None


def open_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_IMAGE_PIXELS) -> CanvasDocument:
    """A new document with the image as its only layer, named after the file."""
    pixels = load_image(path, max_pixels=max_pixels)
    name = Path(path).stem.strip() or "Image"
    try:
        layer = Layer(name[:256], pixels)
        return CanvasDocument.from_layers([layer])
    except CanvasError as exc:
        raise ImageLoadError(f"“{Path(path).name}” cannot be opened: {exc}") from None


def encode_png(
    pixels: np.ndarray, pnginfo: PngImagePlugin.PngInfo | None = None, *, compress_level: int = 6
) -> bytes:
    """RGBA (or RGB) ``uint8`` pixels as PNG bytes, with optional text chunks."""
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise CanvasError("Only RGB or RGBA pixel arrays can be saved as PNG")
    if pixels.shape[2] == 4:
        pixels = check_rgba(pixels)
    elif pixels.dtype != np.uint8:
        raise CanvasError("Only 8-bit pixel arrays can be saved as PNG")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(
        buffer, format="PNG", pnginfo=pnginfo, compress_level=compress_level
    )
    return buffer.getvalue()


def export_png(
    document: CanvasDocument, path: str | os.PathLike[str], pnginfo: PngImagePlugin.PngInfo | None = None
) -> None:
    """Save the flattened canvas as a PNG, atomically (the old file stays whole on failure)."""
    atomic_write_bytes(path, encode_png(document.composite(), pnginfo))
