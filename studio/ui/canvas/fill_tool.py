"""The bucket fill tool: click to fill the area of similar colour (within the tolerance) with the brush
colour, inside the selection; one undo step per click."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.canvas.errors import CanvasError
from studio.canvas.painting import bucket_fill
from studio.ui.canvas.tools import CanvasTool, ToolEvent, ToolHost


class FillTool(CanvasTool):
    """Fill like colours around the click (the options' tolerance; Shift samples every visible layer)."""

    name = "fill"
    label = "&Fill"
    shortcut = "G"
    description = "Fill: click to fill the area of similar colour with the brush colour"

    def press(self, view: ToolHost, event: ToolEvent) -> None:
        if event.button != Qt.MouseButton.LeftButton:
            return
        document = view.document
        if document is None:
            raise CanvasError("There is no canvas")
        sample_merged = self.options.sample_merged or bool(
            event.modifiers & Qt.KeyboardModifier.ShiftModifier
        )
        bucket_fill(
            document,
            document.active_layer,
            event.pos.x(),
            event.pos.y(),
            self.options.colour,
            self.options.tolerance,
            sample_merged=sample_merged,
        )
