"""The Canvas workspace: a layered image canvas with painting, selection and layer tools."""

from studio.ui.canvas.workspace import CanvasWorkspace

__all__ = ["CanvasWorkspace"]
