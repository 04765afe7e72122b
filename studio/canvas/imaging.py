"""Array helpers shared by the canvas modules: validation, compositing, resizing, masks.

Pixel arrays are ``H×W×4`` ``uint8`` RGBA with straight (not premultiplied) alpha; masks are ``H×W``
``float32`` in 0..1.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageFilter

from studio.canvas.blending import LayerNode, composite_nodes
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect

# Fills fully transparent pixels when a model needs an opaque RGB image.
NEUTRAL_GREY = (128, 128, 128)


def check_rgba(pixels: np.ndarray, what: str = "The image") -> np.ndarray:
    """Return ``pixels`` as a C-contiguous ``H×W×4 uint8`` array, or raise :class:`CanvasError`."""
    if not isinstance(pixels, np.ndarray):
        raise CanvasError(f"{what} is not a pixel array")
    if pixels.ndim != 3 or pixels.shape[2] != 4:
        raise CanvasError(f"{what} must have 4 channels (RGBA), not shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        raise CanvasError(f"{what} must hold 8-bit values, not {pixels.dtype}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise CanvasError(f"{what} is empty")
    return np.ascontiguousarray(pixels)


def check_rgb(pixels: np.ndarray, what: str = "The image") -> np.ndarray:
    """Return an ``H×W×3 uint8`` array from RGB or RGBA input (alpha dropped), or raise."""
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        shape = getattr(pixels, "shape", None)
        raise CanvasError(f"{what} must be an RGB pixel array, not shape {shape}")
    if pixels.dtype != np.uint8:
        raise CanvasError(f"{what} must hold 8-bit values, not {pixels.dtype}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise CanvasError(f"{what} is empty")
    return np.ascontiguousarray(pixels[:, :, :3])


def composite_over(stack: Iterable[tuple[np.ndarray, float]], height: int, width: int) -> np.ndarray:
    """Porter-Duff "over" of ``(rgba, opacity)`` pairs listed bottom first, onto transparency (straight-alpha
    ``uint8``). A layer whose effective alpha is 0 leaves the result bit for bit unchanged."""
    return composite_nodes([LayerNode(pixels, opacity) for pixels, opacity in stack], height, width)


def flatten_rgb(rgba: np.ndarray, background: tuple[int, int, int] = NEUTRAL_GREY) -> np.ndarray:
    """RGBA over an opaque ``background`` colour → ``H×W×3 uint8``."""
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    back = np.asarray(background, dtype=np.float32)
    mixed = rgba[:, :, :3].astype(np.float32) * alpha + back * (1.0 - alpha)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """``(w, h)`` scaled to fit in ``max_side``×``max_side`` keeping the aspect ratio (never upscaled)."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB or RGBA ``uint8`` array to ``size`` = ``(width, height)`` (Lanczos; alpha-aware)."""
    if (pixels.shape[1], pixels.shape[0]) == size:
        return pixels.copy()
    # Pillow resamples RGBA in premultiplied form, so transparent pixels do not bleed their colour.
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float mask to ``size`` = ``(width, height)`` (bilinear), clipped to 0..1."""
    if (mask.shape[1], mask.shape[0]) == size:
        return mask.astype(np.float32, copy=True)
    resized = np.asarray(Image.fromarray(mask.astype(np.float32)).resize(size, Image.Resampling.BILINEAR))
    return np.clip(resized, 0.0, 1.0).astype(np.float32)


def thumbnail(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """A small RGBA copy of ``pixels`` fitting in ``max_side``×``max_side``."""
    if max_side < 1:
        raise CanvasError("A thumbnail must be at least 1 pixel wide")
    size = fit_size(pixels.shape[1], pixels.shape[0], max_side)
    return resize_pixels(pixels, size)


def mask_to_l(mask: np.ndarray) -> Image.Image:
    """A float 0..1 mask as an 8-bit Pillow ``L`` image."""
    return Image.fromarray(np.clip(np.rint(mask * 255.0), 0, 255).astype(np.uint8))


def blur_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of a float mask (through an 8-bit mask, so values below 1/510 become exactly 0)."""
    if radius <= 0:
        return mask.astype(np.float32, copy=True)
    blurred = mask_to_l(mask).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred, dtype=np.float32) / np.float32(255.0)


def nonzero_bounds(values: np.ndarray) -> Rect | None:
    """Bounding rectangle of the non-zero entries of a 2-D array, or None when all are zero."""
    rows = np.flatnonzero(values.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(values.any(axis=0))
    return Rect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
