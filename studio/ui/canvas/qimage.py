"""Conversions between the canvas core's numpy pixels (``H×W×4 uint8``, straight alpha) and Qt images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPixmap

from studio.canvas.errors import CanvasError
from studio.canvas.image_io import IMAGE_SUFFIXES, load_image

CHECKER_LIGHT = QColor(204, 204, 204)
CHECKER_DARK = QColor(153, 153, 153)


def premultiply(pixels: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA → premultiplied RGBA (``uint8``, rounded)."""
    out = np.empty_like(pixels)
    alpha = pixels[:, :, 3:4].astype(np.uint16)
    out[:, :, :3] = ((pixels[:, :, :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
    out[:, :, 3] = pixels[:, :, 3]
    return out


def rgba_to_qimage(pixels: np.ndarray) -> QImage:
    """A new QImage (``Format_RGBA8888``, straight alpha) holding a copy of ``pixels``."""
    if pixels.ndim != 3 or pixels.shape[2] != 4 or pixels.dtype != np.uint8:
        raise ValueError(f"Expected H×W×4 uint8 pixels, not {pixels.shape} {pixels.dtype}")
    data = np.ascontiguousarray(pixels)
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, width * 4, QImage.Format.Format_RGBA8888)
    return image.copy()  # detach from the numpy buffer


def qimage_to_rgba(image: QImage) -> np.ndarray:
    """A QImage of any format → a new ``H×W×4 uint8`` straight-alpha array."""
    converted = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = converted.width(), converted.height()
    if width == 0 or height == 0:
        return np.zeros((height, width, 4), dtype=np.uint8)
    stride = converted.bytesPerLine()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, : width * 4].reshape(height, width, 4).copy()


def mime_to_rgba(mime: QMimeData | None) -> np.ndarray:
    """The image that clipboard or drop data carries (image data, or a local PNG/JPEG/WebP file it names)
    as ``H×W×4 uint8`` straight-alpha pixels. Raises :class:`CanvasError` with a message for the user
    when there is no image."""
    if mime is not None and mime.hasImage():
        data = mime.imageData()
        image = data.toImage() if isinstance(data, QPixmap) else data
        if isinstance(image, QImage) and not image.isNull():
            return qimage_to_rgba(image)
    if mime is not None and mime.hasUrls():
        files = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
        images = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES]
        if images:
            return load_image(images[0])
        if files:
            raise CanvasError(f"“{files[0].name}” is not a PNG, JPEG or WebP image")
    raise CanvasError("The clipboard holds no image to paste")


class PixelBuffer:
    """A premultiplied RGBA numpy buffer with a QImage that shares its memory (no copies on update)."""

    def __init__(self, width: int, height: int) -> None:
        self.array = np.zeros((height, width, 4), dtype=np.uint8)
        self.image = QImage(
            self.array.data, width, height, width * 4, QImage.Format.Format_RGBA8888_Premultiplied
        )

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    def write(self, x: int, y: int, straight: np.ndarray) -> None:
        """Store straight-alpha ``straight`` pixels with their top-left corner at ``(x, y)``."""
        height, width = straight.shape[:2]
        self.array[y : y + height, x : x + width] = premultiply(straight)


def rgba_to_qcolor(colour: Sequence[int]) -> QColor:
    """``(r, g, b)`` or ``(r, g, b, a)`` → QColor."""
    values = [int(v) for v in colour]
    return QColor(values[0], values[1], values[2], values[3] if len(values) > 3 else 255)


def qcolor_to_rgba(colour: QColor) -> tuple[int, int, int, int]:
    """QColor → ``(r, g, b, a)`` in 0..255."""
    return colour.red(), colour.green(), colour.blue(), colour.alpha()


def checker_brush(cell: int = 8) -> QBrush:
    """A brush tiling the light/dark checkerboard that stands for transparency."""
    tile = QPixmap(cell * 2, cell * 2)
    tile.fill(CHECKER_LIGHT)
    painter = QPainter(tile)
    painter.fillRect(0, 0, cell, cell, CHECKER_DARK)
    painter.fillRect(cell, cell, cell, cell, CHECKER_DARK)
    painter.end()
    return QBrush(tile)


def thumbnail_pixmap(pixels: np.ndarray, side: int, cell: int = 4) -> QPixmap:
    """A ``side``×``side`` pixmap showing small RGBA ``pixels`` centred over a checkerboard."""
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    image = rgba_to_qimage(pixels)
    width, height = image.width(), image.height()
    x, y = (side - width) // 2, (side - height) // 2
    painter = QPainter(pixmap)
    painter.setBrushOrigin(x, y)
    painter.fillRect(x, y, width, height, checker_brush(cell))
    painter.drawImage(x, y, image)
    painter.setPen(QColor(0, 0, 0, 90))
    painter.drawRect(x, y, width - 1, height - 1)
    painter.end()
    return pixmap
