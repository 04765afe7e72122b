"""The Canvas workspace: tool bar, tool options, the canvas view, and the side panels (layers and the
generation history first; the generation panel docks below). It owns the current :class:`CanvasDocument` and
its file."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from studio.canvas.document import CanvasDocument, Layer
from studio.canvas.errors import CanvasError, ImageLoadError
from studio.canvas.image_io import IMAGE_SUFFIXES, ORA_SUFFIX, open_image
from studio.canvas.ora import load_ora, save_ora
from studio.canvas.painting import erase_selection
from studio.canvas.png_metadata import GenerationInfo, export_png_with_provenance, read_generation_info
from studio.ui.actions import REDO_SHORTCUTS, Shortcut, make_action
from studio.ui.canvas.fill_tool import FillTool
from studio.ui.canvas.history_panel import HistoryPanel
from studio.ui.canvas.image_commands import ImageCommands
from studio.ui.canvas.layers_panel import LayersPanel
from studio.ui.canvas.qimage import mime_to_rgba, rgba_to_qimage
from studio.ui.canvas.tools import (
    TOOL_CLASSES,
    CanvasTool,
    ToolOptions,
    ToolOptionsBar,
    tool_icon,
)
from studio.ui.canvas.transform_tool import TransformTool
from studio.ui.canvas.view import CanvasView
from studio.ui.dialogs import Dialogs, PasteChoice, QtDialogs

log = logging.getLogger(__name__)

DEFAULT_CANVAS_SIZE = (512, 512)
SIDE_MIN_WIDTH = 220
PASTE_EXPANDING_LABEL = "Paste and Expand Canvas"
"""The undo step of a paste that grew the canvas to fit the pasted image."""


class SidePanel(QFrame):
    """A titled box in the workspace's right-hand column. ``body`` (default ``widget``) is what it shows;
    a body other than the widget (tabs holding it) brings its own titles."""

    def __init__(
        self, widget: QWidget, title: str, parent: QWidget | None = None, body: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(title)
        self.widget = widget
        self.title_label = QLabel(title)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.title_label)
        self.body = body or widget
        layout.addWidget(self.body, 1)
        self.title_label.setVisible(body is None or body is widget)

    def content(self) -> QWidget:
        """What the panel shows: its body, or the widget in its body when that is a resizing scroll area."""
        body = self.body
        inner = body.widget() if isinstance(body, QScrollArea) and body.widgetResizable() else None
        return inner if inner is not None else body

    def needed_height(self) -> tuple[int, int]:
        """The heights (least, preferred) at which the panel shows its content whole; content in a scroll
        area counts as if it did not scroll (the scroll area is for windows too low for the least)."""
        body = self.body
        content = self.content()
        extra = 2 * body.frameWidth() if isinstance(body, QScrollArea) and content is not body else 0
        chrome = max(0, self.sizeHint().height() - body.sizeHint().height()) + extra  # frame, title
        content_least = max(content.minimumSizeHint().height(), content.minimumHeight())
        least = max(self.minimumSizeHint().height(), chrome + content_least)
        return least, max(least, chrome + content.sizeHint().height())


class SideColumn(QSplitter):
    """The right-hand column: the Layers box on top, docked panels below it.

    The first docked panel (Generate) comes first: until the user drags a handle, each resize (and each
    change in what a panel needs, such as a longer message) gives every panel its compact minimum, then
    Generate what shows its prompt, commands and whole message, and a few lines of its settings, then the
    later panels (Candidates) their full size, the Layers box room for a few layers, Generate the rest of
    its settings, and what is left to the Layers box. After a drag the user's sizes stand and Generate
    takes the growth and the shrinking.
    """

    COMFORTABLE_LAYER_ROWS = 3  # the Layers box grows to show this many layers before Generate grows more
    SETTINGS_GLIMPSE_LINES = 4  # then Generate's scrolling settings show a few lines before others grow

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setChildrenCollapsible(False)
        self.user_sized = False
        self._fit_pending = False
        self.splitterMoved.connect(self._on_moved)

    def _on_moved(self, _pos: int, _index: int) -> None:
        self.user_sized = True

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit_panels()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.fit_panels()

    def fit_panels(self) -> None:
        """Share the height among the panels (see the class); nothing once the user has sized them."""
        panels = [self.widget(i) for i in range(self.count())]
        if self.user_sized or len(panels) < 2 or not all(isinstance(p, SidePanel) for p in panels):
            return
        frames = [p for p in panels if isinstance(p, SidePanel)]
        left = self.height() - self.handleWidth() * (len(frames) - 1)
        sizes = [max(frame.minimumSizeHint().height(), frame.minimumHeight()) for frame in frames]
        left -= sum(sizes)

        def grow(index: int, target: int) -> None:
            nonlocal left
            extra = max(0, min(left, target - sizes[index]))
            sizes[index] += extra
            left -= extra

        main = 1
        least, preferred = frames[main].needed_height()
        grow(main, least)
        grow(main, least + self.SETTINGS_GLIMPSE_LINES * self.fontMetrics().lineSpacing())
        for index in range(main + 1, len(frames)):
            grow(index, frames[index].sizeHint().height())
        grow(0, sizes[0] + (self.COMFORTABLE_LAYER_ROWS - 1) * _row_height(frames[0]))
        grow(main, preferred)
        sizes[0] += max(0, left)
        self.setSizes(sizes)

    def watch(self, frame: SidePanel) -> None:
        """Fit the panels again when what ``frame`` shows needs another height (a longer message)."""
        frame.content().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.LayoutRequest and not self._fit_pending:
            # after the panel's own layout has taken the request: its new minimum is known then
            self._fit_pending = True
            QTimer.singleShot(0, self, self._fit_later)
        return super().eventFilter(watched, event)

    def _fit_later(self) -> None:
        self._fit_pending = False
        self.fit_panels()


def _row_height(frame: SidePanel) -> int:
    """The height of one row of the panel's list (a layer), or of a line of text."""
    list_widget = getattr(frame.widget, "list", None)
    if isinstance(list_widget, QAbstractItemView) and list_widget.model().rowCount() > 0:
        return max(list_widget.sizeHintForRow(0), 1)
    return frame.fontMetrics().lineSpacing() * 2


class CanvasWorkspace(QWidget):
    """Paint, select and arrange layers on one canvas document.

    File errors are raised as :class:`CanvasError` with a message fit to show (the main window shows
    them); a failed open leaves the current document as it was. Tool and layer commands that are
    refused are reported on :attr:`failed`.
    """

    document_changed = Signal()
    """A different document was loaded (new, opened)."""
    modified_changed = Signal(bool)
    content_changed = Signal()
    """The document's content changed: a stroke, an undo/redo, a layer command (Live mode's trigger)."""
    path_changed = Signal()
    """The document's file (or title) changed."""
    generation_info_found = Signal(object)
    """An opened image carried generation settings (a :class:`GenerationInfo`)."""
    failed = Signal(str)
    """A tool or layer command was refused; the message is for the user."""

    def __init__(self, parent: QWidget | None = None, dialogs: Dialogs | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Canvas workspace")
        self._document: CanvasDocument | None = None
        self._path: Path | None = None
        self._source_path: Path | None = None
        self._modified = False
        self._generation_info: GenerationInfo | None = None

        self._dialogs: Dialogs = dialogs if dialogs is not None else QtDialogs(self)
        self.options = ToolOptions(self)
        self.view = CanvasView()
        self.options_bar = ToolOptionsBar(self.options, dialogs=self._dialogs)
        self.layers_panel = LayersPanel()
        self.history_panel = HistoryPanel()
        tool_classes: tuple[type[CanvasTool], ...] = (*TOOL_CLASSES, FillTool, TransformTool)
        self.tools: dict[str, CanvasTool] = {cls.name: cls(self.options) for cls in tool_classes}

        self.tool_bar = QToolBar("Tools")
        self.tool_bar.setAccessibleName("Tools")
        self.tool_bar.setOrientation(Qt.Orientation.Vertical)
        self.tool_bar.setIconSize(QSize(22, 22))
        self.tool_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.tool_bar.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)

        self.status_label = QLabel()
        self.status_label.setAccessibleName("Canvas status")
        self.status_label.setContentsMargins(8, 2, 8, 2)

        self.side_column = SideColumn()
        self._side_panels: list[SidePanel] = []
        # layers and history share the top box: a small window keeps room for the panels below
        self.side_tabs = QTabWidget()
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.setAccessibleName("Layers and history")
        self.side_tabs.addTab(self.layers_panel, "Layers")
        self.side_tabs.addTab(self.history_panel, "History")
        first = SidePanel(self.layers_panel, "Layers", body=self.side_tabs)
        self.side_column.addWidget(first)
        self.side_column.setStretchFactor(0, 0)
        self._side_panels.append(first)

        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.setSpacing(0)
        # the options bar scrolls sideways rather than making the window wider than a small screen
        options_scroller = QScrollArea()
        options_scroller.setAccessibleName("Tool options")
        options_scroller.setWidget(self.options_bar)
        options_scroller.setWidgetResizable(True)
        options_scroller.setFrameShape(QFrame.Shape.NoFrame)
        options_scroller.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        options_scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        options_scroller.setFixedHeight(
            self.options_bar.sizeHint().height() + options_scroller.horizontalScrollBar().sizeHint().height()
        )
        center_layout.addWidget(options_scroller)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        center_layout.addWidget(line)
        center_layout.addWidget(self.view, 1)
        center_layout.addWidget(self.status_label)

        self._splitter = QSplitter(Qt.Orientation.Horizontal)
        self._splitter.addWidget(center)
        self._splitter.addWidget(self.side_column)
        self._splitter.setStretchFactor(0, 1)
        self._splitter.setStretchFactor(1, 0)
        self._splitter.setCollapsible(0, False)
        self.side_column.setMinimumWidth(SIDE_MIN_WIDTH)
        self._splitter.setSizes([800, 280])

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.tool_bar)
        layout.addWidget(self._splitter, 1)

        self._build_actions()
        self.view.tool_failed.connect(self.failed)
        self.layers_panel.failed.connect(self.failed)
        self.history_panel.failed.connect(self.failed)
        self.image_commands.failed.connect(self.failed)
        self.view.zoom_changed.connect(self._update_status)
        self.view.cursor_moved.connect(self._update_status)
        self.options.changed.connect(self._update_status)
        self.set_tool("brush")
        self.new_canvas(*DEFAULT_CANVAS_SIZE)

    # -- panels -----------------------------------------------------------------------------------------

    def add_side_panel(self, widget: QWidget, title: str) -> QWidget:
        """Dock ``widget`` under the panels already in the right-hand column; returns its frame."""
        panel = SidePanel(widget, title)
        self.side_column.addWidget(panel)
        self.side_column.watch(panel)
        # the first docked panel (Generate) takes the room; the Layers box and later panels stay compact
        for index in range(self.side_column.count()):
            self.side_column.setStretchFactor(index, 1 if index == 1 else 0)
        self._side_panels.append(panel)
        # the column is never narrower than its widest panel needs (nothing is cut off at the right)
        self.side_column.setMinimumWidth(max(SIDE_MIN_WIDTH, self.side_column.minimumSizeHint().width()))
        return panel

    def side_panels(self) -> list[QWidget]:
        """The docked panel widgets, top first."""
        return [panel.widget for panel in self._side_panels]

    # -- document ---------------------------------------------------------------------------------------

    @property
    def document(self) -> CanvasDocument:
        """The current document (there is always one)."""
        assert self._document is not None
        return self._document

    @property
    def path(self) -> Path | None:
        """The ``.ora`` file the document saves to, or None (new, or opened from a PNG/JPEG/WebP)."""
        return self._path

    @property
    def source_path(self) -> Path | None:
        """The file the document came from or was last saved to (any format), or None."""
        return self._source_path

    @property
    def title(self) -> str:
        """The document's name for window titles."""
        return self._source_path.name if self._source_path is not None else "Untitled"

    @property
    def is_modified(self) -> bool:
        """True when the document has changes that are not saved."""
        return self._modified

    @property
    def opened_generation_info(self) -> GenerationInfo | None:
        """The generation settings found in the last opened image, or None."""
        return self._generation_info

    def new_canvas(self, width: int, height: int) -> CanvasDocument:
        """Start a new transparent ``width``×``height`` canvas (raises :class:`CanvasError` for a bad
        size)."""
        document = CanvasDocument(width, height)
        self._generation_info = None
        self._set_document(document, None, None)
        return document

    def open_path(self, path: str | os.PathLike[str]) -> CanvasDocument:
        """Open a PNG, JPEG or WebP image, or an OpenRaster (``.ora``) file, as the current document.

        Raises :class:`CanvasError` with a message for the user; the current document is then untouched.
        """
        source = Path(path)
        if source.suffix.lower() == ORA_SUFFIX or _is_zip(source):
            document = load_ora(source)
            info = None
            ora_path: Path | None = source
        else:
            document = open_image(source)
            ora_path = None
            try:
                info = read_generation_info(source)
            except CanvasError as exc:  # unreadable metadata only loses the settings
                log.info("no generation settings in %s: %s", source, exc)
                info = None
        self._generation_info = info
        self._set_document(document, ora_path, source)
        if info is not None:
            self.generation_info_found.emit(info)
        return document

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Save to ``path`` or the document's ``.ora`` file; returns where it went.

        Raises :class:`CanvasError` when there is no file yet (ask, then call :meth:`save_as`) or the save
        failed (the old file stays whole)."""
        if path is not None:
            return self.save_as(path)
        if self._path is None:
            raise CanvasError("This canvas has no OpenRaster file yet; choose where to save it")
        self._write_ora(self._path)
        return self._path

    def save_as(self, path: str | os.PathLike[str]) -> Path:
        """Save as OpenRaster to ``path`` (``.ora`` is added when there is no extension) and make it the
        document's file."""
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(ORA_SUFFIX)
        elif target.suffix.lower() != ORA_SUFFIX:
            raise CanvasError(
                f"Canvases are saved as OpenRaster (.ora), not {target.suffix}; "
                "use Export PNG for a flat image"
            )
        self._write_ora(target)
        self._path = target
        self._source_path = target
        self.path_changed.emit()
        return target

    def _write_ora(self, target: Path) -> None:
        self._finish_tool()
        try:
            save_ora(self.document, target)
        except OSError as exc:
            raise CanvasError(f"Could not save “{target.name}”: {exc.strerror or exc}") from None
        self.document.history.mark_clean()

    def export_png(self, path: str | os.PathLike[str]) -> Path:
        """Write the flattened canvas as a PNG with the provenance of its generated layers (atomic)."""
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(".png")
        self._finish_tool()
        try:
            export_png_with_provenance(self.document, target)
        except OSError as exc:
            raise CanvasError(f"Could not export “{target.name}”: {exc.strerror or exc}") from None
        return target

    def _set_document(self, document: CanvasDocument, path: Path | None, source: Path | None) -> None:
        old = self._document
        if old is not None:
            self.view.set_tool(None)
            old.history.changed.disconnect(self._on_history_changed)
            old.selection_changed.disconnect(self._refresh_actions)
            old.size_changed.disconnect(self._on_size_changed)
        self._document = document
        self._path = path
        self._source_path = source
        document.history.changed.connect(self._on_history_changed)
        document.selection_changed.connect(self._refresh_actions)
        document.size_changed.connect(self._on_size_changed)
        self.view.set_document(document)
        self.layers_panel.set_document(document)
        self.history_panel.set_document(document)
        self.view.set_tool(self._current_tool)
        self._on_history_changed()
        self._update_status()
        self.document_changed.emit()
        self.path_changed.emit()

    def _on_history_changed(self) -> None:
        document = self._document
        modified = document is not None and not document.history.is_clean
        if modified != self._modified:
            self._modified = modified
            self.modified_changed.emit(modified)
        self._refresh_actions()
        self.content_changed.emit()

    def _on_size_changed(self, _width: int, _height: int) -> None:
        self._update_status()

    # -- editing ----------------------------------------------------------------------------------------

    def _finish_tool(self) -> None:
        tool = self.view.tool
        if tool is not None and tool.busy:
            tool.cancel(self.view)
            self.view.refresh_tool_overlay()

    def undo(self) -> bool:
        """Undo the last step (a stroke in progress is finished first)."""
        self._finish_tool()
        return self.document.history.undo()

    def redo(self) -> bool:
        self._finish_tool()
        return self.document.history.redo()

    def _run(self, command: Callable[[], object]) -> None:
        self._finish_tool()
        try:
            command()
        except CanvasError as exc:
            self.failed.emit(str(exc))

    def deselect(self) -> None:
        self._run(self.document.clear_selection)

    def select_all(self) -> None:
        self._run(self.document.select_all)

    def invert_selection(self) -> None:
        self._run(self.document.invert_selection)

    def erase_selection(self) -> None:
        """Erase the selected pixels of the active layer (all of it with no selection)."""
        self._run(lambda: erase_selection(self.document, self.document.active_layer))

    # -- clipboard --------------------------------------------------------------------------------------

    def copy(self) -> bool:
        """Put the selected pixels of the active layer (all of it with no selection) on the system
        clipboard as an image with alpha; False (and a message) when the selection is empty."""
        self._finish_tool()
        pixels = self.document.copy_pixels()
        if pixels is None:
            self.failed.emit("The selection is empty: there is nothing to copy")
            return False
        QGuiApplication.clipboard().setImage(rgba_to_qimage(pixels))
        return True

    def cut(self) -> bool:
        """Copy the selected pixels, then erase them from the active layer (one undo step)."""
        if not self.copy():
            return False
        self.erase_selection()
        return True

    def paste(self) -> Layer | None:
        """Add the clipboard's image (from Studio, another app, or an image file it names) as a new layer
        “Pasted” at the selection's top-left, or centred in the visible part of the canvas (one undo step).
        An image larger than the canvas asks first: expand the canvas to fit it (one undo step with the
        paste), keep the canvas size (the image is cut off at its edges), or cancel (None).
        Anything else on the clipboard gets a message and changes nothing."""
        self._finish_tool()
        document = self.document
        try:
            pixels = mime_to_rgba(QGuiApplication.clipboard().mimeData())
            height, width = pixels.shape[:2]
            if width <= document.width and height <= document.height:
                return document.paste_pixels(pixels, self._paste_position(width, height))
            choice = self._dialogs.paste_larger_than_canvas((width, height), document.size)
            if choice is PasteChoice.CANCEL:
                return None
            if choice is PasteChoice.KEEP:
                return document.paste_pixels(pixels, self._cropped_paste_position(width, height))
            x, y = self._paste_position(width, height)
            with document.history.group(PASTE_EXPANDING_LABEL):
                document.resize_canvas(max(document.width, x + width), max(document.height, y + height))
                return document.paste_pixels(pixels, (x, y))
        except CanvasError as exc:
            self.failed.emit(f"Cannot paste: {exc}")
            return None

    def _paste_position(self, width: int, height: int) -> tuple[int, int]:
        """The selection's top-left, or centred in the visible part of the canvas, kept inside the canvas
        (at its top or left edge where the image is larger)."""
        document = self.document
        bounds = document.selection.bounds() if document.selection is not None else None
        if bounds is not None:
            return bounds.x, bounds.y
        centre = self.view.visible_canvas_rect().center()
        x = min(max(round(centre.x() - width / 2), 0), max(document.width - width, 0))
        y = min(max(round(centre.y() - height / 2), 0), max(document.height - height, 0))
        return x, y

    def _cropped_paste_position(self, width: int, height: int) -> tuple[int, int]:
        """Where an image larger than the canvas goes when the canvas keeps its size: the selection's
        top-left, or centred in the visible part, covering the canvas edge to edge along a larger side."""
        document = self.document
        if document.selection is not None and document.selection.bounds() is not None:
            return self._paste_position(width, height)
        centre = self.view.visible_canvas_rect().center()

        def place(centre: float, size: int, canvas: int) -> int:
            start = round(centre - size / 2)
            if size > canvas:
                return min(max(start, canvas - size), 0)
            return min(max(start, 0), canvas - size)

        return place(centre.x(), width, document.width), place(centre.y(), height, document.height)

    # -- tools ------------------------------------------------------------------------------------------

    @property
    def current_tool(self) -> CanvasTool:
        return self._current_tool

    def set_tool(self, name: str) -> None:
        """Make the tool called ``name`` (``brush``, ``eraser``, ``rect_select``, ``lasso_select``,
        ``move``, ``picker``, ``fill``, ``transform``) current."""
        tool = self.tools[name]
        self._current_tool = tool
        self.view.set_tool(tool)
        self.options_bar.show_tool(tool)
        action = self.tool_actions.get(name)
        if action is not None and not action.isChecked():
            action.setChecked(True)
        self._update_status()

    # -- actions ----------------------------------------------------------------------------------------

    def _action(
        self,
        text: str,
        shortcut: Shortcut | Sequence[Shortcut],
        slot: Callable[[], object],
        description: str,
    ) -> QAction:
        # canvas shortcuts work while the focus is in the canvas workspace
        return make_action(
            self,
            text,
            slot,
            shortcut=shortcut,
            description=description,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )

    def _build_actions(self) -> None:
        self.undo_action = self._action("&Undo", "Ctrl+Z", self.undo, "Undo the last canvas change")
        self.redo_action = self._action("&Redo", REDO_SHORTCUTS, self.redo, "Redo the last undone change")
        self.cut_action = self._action(
            "Cu&t", QKeySequence.StandardKey.Cut, self.cut, "Copy the selected pixels and erase them"
        )
        self.copy_action = self._action(
            "&Copy", QKeySequence.StandardKey.Copy, self.copy, "Copy the selected pixels of the active layer"
        )
        self.paste_action = self._action(
            "&Paste", QKeySequence.StandardKey.Paste, self.paste, "Paste an image as a new layer"
        )
        self.zoom_in_action = self._action("Zoom &In", "Ctrl++", self.view.zoom_in, "Zoom in")
        self.zoom_in_action.setShortcuts([QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])
        self.zoom_out_action = self._action("Zoom &Out", "Ctrl+-", self.view.zoom_out, "Zoom out")
        self.fit_action = self._action(
            "&Fit to Window", "Ctrl+0", self.view.fit_to_window, "Zoom to fit the canvas in the window"
        )
        self.actual_size_action = self._action("&Actual Size", "1", self.view.actual_size, "Zoom to 100 %")
        self.select_all_action = self._action(
            "Select &All", "Ctrl+A", self.select_all, "Select the whole canvas"
        )
        self.deselect_action = self._action("&Deselect", "Ctrl+D", self.deselect, "Remove the selection")
        self.invert_action = self._action(
            "&Invert Selection", "Ctrl+Shift+I", self.invert_selection, "Select what is not selected"
        )
        self.erase_selection_action = self._action(
            "&Erase Selection", "Del", self.erase_selection, "Erase the selected pixels of the active layer"
        )
        self.grow_brush_action = self._action(
            "&Bigger Brush", "]", self.options.grow_size, "Make the brush bigger"
        )
        self.shrink_brush_action = self._action(
            "&Smaller Brush", "[", self.options.shrink_size, "Make the brush smaller"
        )

        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for name, tool in self.tools.items():
            action = self._action(tool.label, tool.shortcut, self._tool_slot(name), tool.description)
            action.setCheckable(True)
            action.setIcon(tool_icon(name))
            group.addAction(action)
            self.tool_bar.addAction(action)
            self.tool_actions[name] = action
        for action in self.layers_panel.actions_list():
            self.addAction(action)
        self.image_commands = ImageCommands(self, lambda: self._document, self._dialogs, self._finish_tool)

    def _tool_slot(self, name: str) -> Callable[[], None]:
        return lambda: self.set_tool(name)

    def actions(self) -> list[QAction]:  # type: ignore[override]
        """The workspace's commands (undo, redo, zoom, tools, selection, layers) for the main window's
        menus; each has a shortcut and a status tip."""
        return [
            self.undo_action,
            self.redo_action,
            self.cut_action,
            self.copy_action,
            self.paste_action,
            self.zoom_in_action,
            self.zoom_out_action,
            self.fit_action,
            self.actual_size_action,
            *self.tool_actions.values(),
            self.grow_brush_action,
            self.shrink_brush_action,
            self.select_all_action,
            self.deselect_action,
            self.invert_action,
            self.erase_selection_action,
            *self.image_commands.actions(),
            *self.layers_panel.actions_list(),
        ]

    def _refresh_actions(self) -> None:
        document = self._document
        if document is None:
            return
        history = document.history
        self.undo_action.setEnabled(history.undo_steps > 0)
        self.undo_action.setText(f"&Undo {history.undo_label}" if history.undo_label else "&Undo")
        self.redo_action.setEnabled(history.redo_steps > 0)
        self.redo_action.setText(f"&Redo {history.redo_label}" if history.redo_label else "&Redo")
        has_selection = document.selection is not None
        self.deselect_action.setEnabled(has_selection)
        pixels_to_copy = document.selection is None or document.selection.bounds() is not None
        self.copy_action.setEnabled(pixels_to_copy)
        self.cut_action.setEnabled(pixels_to_copy)
        self.image_commands.refresh()

    def _update_status(self, *_args: object) -> None:
        document = self._document
        if document is None:
            self.status_label.setText("")
            return
        parts = [f"{document.width} × {document.height} px", f"{self.view.zoom * 100:.0f} %"]
        position = self.view.cursor_position
        if position is not None:
            parts.append(f"{position[0]:.0f}, {position[1]:.0f}")
        if self._current_tool.name in ("brush", "eraser"):
            parts.append(f"brush {self.options.size:.0f} px")
        self.status_label.setText("   ·   ".join(parts))


def _is_zip(path: Path) -> bool:
    """True when ``path`` starts like a zip archive (an OpenRaster file with another extension)."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except OSError:
        return False


__all__ = ["DEFAULT_CANVAS_SIZE", "CanvasWorkspace", "ImageLoadError", "SideColumn", "SidePanel"]
