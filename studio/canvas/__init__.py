"""The Qt-free canvas core: layered RGBA documents, undo, painting, selections, file formats, and the
geometry that makes generation follow the selection. Never imports Qt or torch."""

from studio.canvas.document import CanvasDocument, Layer, LayerRef
from studio.canvas.errors import CanvasError, ImageLoadError
from studio.canvas.generation import (
    GenerationMode,
    GenerationPlan,
    add_result_layer,
    apply_result,
    plan_generation,
    plan_variation,
)
from studio.canvas.geometry import Rect
from studio.canvas.history import History
from studio.canvas.image_io import export_png, load_image, open_image
from studio.canvas.ora import OraError, load_ora, save_ora
from studio.canvas.painting import Brush, Stroke, paint_dab, paint_line, pick_colour, translate_layer
from studio.canvas.png_metadata import GenerationInfo, read_generation_info
from studio.canvas.selection import Selection, SelectionMode
from studio.canvas.signals import Signal

__all__ = [
    "Brush",
    "CanvasDocument",
    "CanvasError",
    "GenerationInfo",
    "GenerationMode",
    "GenerationPlan",
    "History",
    "ImageLoadError",
    "Layer",
    "LayerRef",
    "OraError",
    "Rect",
    "Selection",
    "SelectionMode",
    "Signal",
    "Stroke",
    "add_result_layer",
    "apply_result",
    "export_png",
    "load_image",
    "load_ora",
    "open_image",
    "paint_dab",
    "paint_line",
    "pick_colour",
    "plan_generation",
    "plan_variation",
    "read_generation_info",
    "save_ora",
    "translate_layer",
]
