"""The Qt-free canvas core: layered RGBA documents, undo, painting, selections, file formats, and the
geometry that makes generation follow the selection. Never imports Qt or torch."""

from studio.canvas.blending import BlendMode
from studio.canvas.document import CanvasDocument, GroupBranch, Layer, LayerRef, Resample
from studio.canvas.errors import CanvasError, ImageLoadError
from studio.canvas.generation import (
    GenerationMode,
    GenerationPlan,
    add_result_layer,
    apply_result,
    plan_generation,
    plan_variation,
    reapply_record,
)
from studio.canvas.generation_log import GenerationLog, GenerationRecord
from studio.canvas.geometry import Rect
from studio.canvas.history import History
from studio.canvas.image_io import export_png, load_image, open_image
from studio.canvas.layer import LayerGroup
from studio.canvas.ora import OraError, load_ora, save_ora
from studio.canvas.painting import (
    Brush,
    Stroke,
    bucket_fill,
    paint_dab,
    paint_line,
    pick_colour,
    translate_layer,
)
from studio.canvas.png_metadata import GenerationInfo, read_generation_info
from studio.canvas.selection import Selection, SelectionMode
from studio.canvas.signals import Signal
from studio.canvas.transform import Transform, free_transform

__all__ = [
    "BlendMode",
    "Brush",
    "CanvasDocument",
    "CanvasError",
    "GenerationInfo",
    "GenerationLog",
    "GenerationMode",
    "GenerationPlan",
    "GenerationRecord",
    "GroupBranch",
    "History",
    "ImageLoadError",
    "Layer",
    "LayerGroup",
    "LayerRef",
    "OraError",
    "Rect",
    "Resample",
    "Selection",
    "SelectionMode",
    "Signal",
    "Stroke",
    "Transform",
    "add_result_layer",
    "apply_result",
    "bucket_fill",
    "export_png",
    "free_transform",
    "load_image",
    "load_ora",
    "open_image",
    "paint_dab",
    "paint_line",
    "pick_colour",
    "plan_generation",
    "plan_variation",
    "read_generation_info",
    "reapply_record",
    "save_ora",
    "translate_layer",
]
