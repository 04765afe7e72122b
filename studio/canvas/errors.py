"""Exceptions of the canvas core; every message is meant to be shown to the user as is."""

from __future__ import annotations


class CanvasError(Exception):
    """An edit or a request the canvas refused; nothing was changed."""


class ImageLoadError(CanvasError):
    """A file could not be opened as an image or a canvas document."""
