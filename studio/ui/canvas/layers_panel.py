"""The layers panel: the document's layers (top first, groups as indented header rows) with thumbnails,
visibility, opacity and blend mode, and the commands to add, duplicate, delete, reorder, rename, group, merge
and flatten them. It follows the document's signals."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.canvas.blending import BlendMode
from studio.canvas.document import CanvasDocument, GroupBranch, Layer
from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.layer import LayerGroup
from studio.ui.actions import make_action
from studio.ui.canvas.qimage import thumbnail_pixmap
from studio.ui.canvas.tools import tool_icon

THUMBNAIL_SIDE = 40
THUMBNAIL_DELAY_MS = 250
LAYER_ID_ROLE = Qt.ItemDataRole.UserRole
GROUP_ID_ROLE = Qt.ItemDataRole.UserRole + 1
DEPTH_ROLE = Qt.ItemDataRole.UserRole + 2
INDENT = 16


def layer_tooltip(layer: Layer) -> str:
    """Name, opacity and, for generated layers, how they were made."""
    lines = [layer.name, f"Opacity {round(layer.opacity * 100)} %" + ("" if layer.visible else ", hidden")]
    provenance = layer.provenance or {}
    if provenance:
        prompt = str(provenance.get("prompt") or "").strip()
        lines.append("Generated" + (f": {prompt[:200]}" if prompt else ""))
        if provenance.get("seed") is not None:
            lines.append(f"Seed {provenance['seed']}")
        if provenance.get("model"):
            lines.append(f"Model {provenance['model']}")
    return "\n".join(lines)


def group_tooltip(group: LayerGroup) -> str:
    lines = [
        f"Group {group.name}",
        f"Opacity {round(group.opacity * 100)} %" + ("" if group.visible else ", hidden"),
    ]
    if group.blend_mode is not BlendMode.NORMAL:
        lines.append(f"Blend mode {group.blend_mode.label}")
    return "\n".join(lines)


class _IndentDelegate(QStyledItemDelegate):
    """Draws (and edits) a row indented by its depth in the group tree."""

    def _indented(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        depth = int(index.data(DEPTH_ROLE) or 0)
        if depth:
            option.rect.setLeft(option.rect.left() + depth * INDENT)  # type: ignore[attr-defined]

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        shifted = QStyleOptionViewItem(option)
        self._indented(shifted, index)
        super().paint(painter, shifted, index)

    def updateEditorGeometry(  # noqa: N802 - Qt override
        self, editor: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        shifted = QStyleOptionViewItem(option)
        self._indented(shifted, index)
        super().updateEditorGeometry(editor, shifted, index)


class LayersPanel(QWidget):
    """A list of the document's layers; selecting a row makes that layer active."""

    failed = Signal(str)
    """A layer command was refused; the message is for the user."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Layers")
        self._document: CanvasDocument | None = None
        self._current_group: str | None = None
        self._updating = False
        self._icons: dict[str, QIcon] = {}
        self._stale: set[str] = set()
        self._thumbnail_timer = QTimer(self)
        self._thumbnail_timer.setSingleShot(True)
        self._thumbnail_timer.setInterval(THUMBNAIL_DELAY_MS)
        self._thumbnail_timer.timeout.connect(self.refresh_thumbnails)

        self.list = QListWidget()
        self.list.setAccessibleName("Layer list")
        self.list.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.list.setSpacing(1)
        self.list.setMinimumHeight(THUMBNAIL_SIDE + 12)  # a layer's row: the rest goes to the Generate panel
        self.list.setItemDelegate(_IndentDelegate(self.list))
        self.list.currentRowChanged.connect(self._on_current_row_changed)
        self.list.itemChanged.connect(self._on_item_changed)

        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setAccessibleName("Layer opacity")
        self.opacity_slider.setToolTip("Opacity of the active layer")
        self.opacity_slider.valueChanged.connect(self._on_opacity_value)
        self.opacity_slider.sliderReleased.connect(self._apply_opacity)
        self.opacity_value = QLabel("100 %")
        self.opacity_value.setMinimumWidth(42)
        self.opacity_value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.blend_combo = QComboBox()
        self.blend_combo.setAccessibleName("Blend mode")
        self.blend_combo.setToolTip("How the active layer (or the chosen group) mixes with what is below")
        for mode in BlendMode:
            self.blend_combo.addItem(mode.label, mode.value)
        self.blend_combo.currentIndexChanged.connect(self._on_blend_mode_chosen)

        self.add_action = self._action("&New Layer", "Ctrl+Shift+N", "add", self.add_layer, "Add a new layer")
        self.duplicate_action = self._action(
            "D&uplicate Layer", "Ctrl+J", "duplicate", self.duplicate_layer, "Duplicate the active layer"
        )
        self.delete_action = self._action(
            "&Delete Layer", "Shift+Del", "delete", self.delete_layer, "Delete the active layer"
        )
        self.up_action = self._action(
            "Move Layer &Up", "Ctrl+]", "up", self.move_up, "Move the active layer up"
        )
        self.down_action = self._action(
            "Move Layer Do&wn", "Ctrl+[", "down", self.move_down, "Move the active layer down"
        )
        self.rename_action = self._action(
            "&Rename Layer…", "F2", "", self.start_rename, "Rename the active layer"
        )
        self.merge_down_action = self._action(
            "&Merge Down", "Ctrl+Alt+E", "", self.merge_down, "Merge the active layer into the layer below"
        )
        self.flatten_action = self._action(
            "&Flatten Image", "Ctrl+Shift+E", "", self.flatten, "Merge every layer into one"
        )
        self.group_action = self._action(
            "&Group Layer", "Ctrl+G", "", self.group_layer, "Put the active layer in a new group"
        )
        self.ungroup_action = self._action(
            "U&ngroup", "Ctrl+Shift+G", "", self.ungroup, "Dissolve the chosen group (or the active layer's)"
        )

        # blend mode and opacity share a row (as in other paint apps): a small window keeps room for the list
        blend_row = QHBoxLayout()
        blend_row.setContentsMargins(0, 0, 0, 0)
        blend_row.addWidget(self.blend_combo)
        blend_row.addSpacing(4)
        opacity_label = QLabel("Opacity")
        opacity_label.setBuddy(self.opacity_slider)
        blend_row.addWidget(opacity_label)
        blend_row.addWidget(self.opacity_slider, 1)
        blend_row.addWidget(self.opacity_value)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(2)
        for action in (self.add_action, self.duplicate_action, self.up_action, self.down_action):
            buttons.addWidget(self._button(action))
        buttons.addStretch(1)
        buttons.addWidget(self._button(self.delete_action))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(blend_row)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._refresh_actions()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(240, 260)

    def _action(
        self, text: str, shortcut: str, icon: str, slot: Callable[[], object], description: str
    ) -> QAction:
        return make_action(
            self,
            text,
            slot,
            shortcut=shortcut,
            description=description,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
            icon=tool_icon(icon) if icon else None,
        )

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setAutoRaise(True)
        button.setIconSize(QSize(18, 18))
        return button

    def actions_list(self) -> list[QAction]:
        """The layer commands, for menus."""
        return [
            self.add_action,
            self.duplicate_action,
            self.delete_action,
            self.up_action,
            self.down_action,
            self.rename_action,
            self.merge_down_action,
            self.flatten_action,
            self.group_action,
            self.ungroup_action,
        ]

    # -- document ---------------------------------------------------------------------------------------

    @property
    def document(self) -> CanvasDocument | None:
        return self._document

    def set_document(self, document: CanvasDocument | None) -> None:
        old = self._document
        if old is not None:
            old.layers_changed.disconnect(self._rebuild)
            old.active_layer_changed.disconnect(self._on_active_layer_changed)
            old.pixels_changed.disconnect(self._on_pixels_changed)
            old.size_changed.disconnect(self._on_size_changed)
        self._document = document
        self._current_group = None
        self._icons.clear()
        self._stale.clear()
        if document is not None:
            document.layers_changed.connect(self._rebuild)
            document.active_layer_changed.connect(self._on_active_layer_changed)
            document.pixels_changed.connect(self._on_pixels_changed)
            document.size_changed.connect(self._on_size_changed)
        self._rebuild()

    def _rows(self) -> list[tuple[Layer | LayerGroup, int]]:
        """What the list shows, top first: layers and group headers with their depth."""
        document = self._document
        out: list[tuple[Layer | LayerGroup, int]] = []

        def walk(items: list[Layer | GroupBranch], depth: int) -> None:
            for item in reversed(items):
                if isinstance(item, GroupBranch):
                    out.append((item.group, depth))
                    walk(item.children, depth + 1)
                else:
                    out.append((item, depth))

        if document is not None:
            walk(document.layer_tree(), 0)
        return out

    def _rebuild(self) -> None:
        """Bring the rows up to date with the layers (items are reused, so an open row stays valid)."""
        entries = self._rows()
        if self._current_group is not None and not any(
            isinstance(entry, LayerGroup) and entry.id == self._current_group for entry, _ in entries
        ):
            self._current_group = None
        self._updating = True
        try:
            while self.list.count() > len(entries):
                self.list.takeItem(self.list.count() - 1)
            while self.list.count() < len(entries):
                self.list.addItem(QListWidgetItem())
            for row, (entry, depth) in enumerate(entries):
                item = self.list.item(row)
                item.setFlags(
                    Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsEditable
                    | Qt.ItemFlag.ItemIsUserCheckable
                )
                item.setData(DEPTH_ROLE, depth)
                if item.text() != entry.name:
                    item.setText(entry.name)
                item.setCheckState(Qt.CheckState.Checked if entry.visible else Qt.CheckState.Unchecked)
                font = item.font()
                if isinstance(entry, LayerGroup):
                    item.setData(LAYER_ID_ROLE, None)
                    item.setData(GROUP_ID_ROLE, entry.id)
                    item.setIcon(tool_icon("group"))
                    item.setToolTip(group_tooltip(entry))
                    font.setItalic(False)
                    font.setBold(True)
                    item.setSizeHint(QSize(0, 26))
                else:
                    item.setData(LAYER_ID_ROLE, entry.id)
                    item.setData(GROUP_ID_ROLE, None)
                    item.setIcon(self._icon(entry))
                    item.setToolTip(layer_tooltip(entry))
                    font.setBold(False)
                    font.setItalic(bool(entry.provenance))  # generated layers stand out
                    item.setSizeHint(QSize(0, THUMBNAIL_SIDE + 8))
                item.setFont(font)
            self._select_active()
            self._show_opacity()
        finally:
            self._updating = False
        self._refresh_actions()

    def _icon(self, layer: Layer) -> QIcon:
        icon = self._icons.get(layer.id)
        if icon is None or layer.id in self._stale:
            icon = QIcon(thumbnail_pixmap(layer.thumbnail(THUMBNAIL_SIDE), THUMBNAIL_SIDE))
            self._icons[layer.id] = icon
            self._stale.discard(layer.id)
        return icon

    def refresh_thumbnails(self) -> None:
        """Redraw the thumbnails of layers whose pixels changed."""
        document = self._document
        if document is None or not self._stale:
            return
        for row in range(self.list.count()):
            item = self.list.item(row)
            layer_id = item.data(LAYER_ID_ROLE)
            if layer_id in self._stale:
                self._updating = True
                try:
                    item.setIcon(self._icon(document.layer(layer_id)))
                finally:
                    self._updating = False
        self._stale.clear()

    def _on_pixels_changed(self, _rect: Rect, layer_id: str) -> None:
        self._stale.add(layer_id)
        self._thumbnail_timer.start()

    def _on_size_changed(self, _width: int, _height: int) -> None:
        if self._document is not None:
            self._stale.update(layer.id for layer in self._document.layers)
        self._thumbnail_timer.start()

    def _on_active_layer_changed(self, _layer_id: str) -> None:
        self._updating = True
        try:
            self._select_active()
            self._show_opacity()
        finally:
            self._updating = False
        self._refresh_actions()

    def _active_index(self) -> int | None:
        """The active layer's index, or None while the document is between two changes (the core
        announces a removed layer before it picks the next active one)."""
        document = self._document
        if document is None:
            return None
        try:
            return document.active_index
        except CanvasError:
            return None

    def _row_of(self, role: Qt.ItemDataRole | int, value: str) -> int | None:
        for row in range(self.list.count()):
            if self.list.item(row).data(role) == value:
                return row
        return None

    def _select_active(self) -> None:
        document = self._document
        index = self._active_index()
        if document is None or index is None:
            return
        if self._current_group is not None:
            row = self._row_of(GROUP_ID_ROLE, self._current_group)
        else:
            row = self._row_of(LAYER_ID_ROLE, document.layers[index].id)
        if row is not None and self.list.currentRow() != row:
            self.list.setCurrentRow(row)

    def current_item(self) -> Layer | LayerGroup | None:
        """What the opacity and blend mode act on: the chosen group, else the active layer."""
        document = self._document
        if document is None or self._active_index() is None:
            return None
        if self._current_group is not None:
            return document.group(self._current_group)
        return document.active_layer

    def _show_opacity(self) -> None:
        target = self.current_item()
        self.opacity_slider.setEnabled(target is not None)
        self.blend_combo.setEnabled(target is not None)
        if target is None:
            return
        opacity = round(target.opacity * 100)
        self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(opacity)
        self.opacity_slider.blockSignals(False)
        self.opacity_value.setText(f"{opacity} %")
        self.blend_combo.blockSignals(True)
        self.blend_combo.setCurrentIndex(max(0, self.blend_combo.findData(target.blend_mode.value)))
        self.blend_combo.blockSignals(False)

    def _refresh_actions(self) -> None:
        document = self._document
        count = len(document.layers) if document is not None else 0
        index = self._active_index() or 0
        self.add_action.setEnabled(document is not None)
        self.duplicate_action.setEnabled(document is not None)
        self.rename_action.setEnabled(document is not None)
        self.delete_action.setEnabled(count > 1)
        movable = document is not None and self._active_index() is not None
        self.up_action.setEnabled(
            movable and document is not None and document.can_move_layer(document.active_layer, +1)
        )
        self.down_action.setEnabled(
            movable and document is not None and document.can_move_layer(document.active_layer, -1)
        )
        self.merge_down_action.setEnabled(document is not None and index > 0)
        self.flatten_action.setEnabled(document is not None)
        self.group_action.setEnabled(document is not None)
        self.ungroup_action.setEnabled(
            document is not None
            and (
                self._current_group is not None
                or bool(self._active_index() is not None and document.active_layer.group)
            )
        )

    # -- user changes -----------------------------------------------------------------------------------

    def layer_id_at(self, row: int) -> str | None:
        """The id of the layer shown in ``row`` (0 = the top row), or None for a group row."""
        item = self.list.item(row)
        value = None if item is None else item.data(LAYER_ID_ROLE)
        return None if value is None else str(value)

    def group_id_at(self, row: int) -> str | None:
        """The id of the group whose header is ``row``, or None for a layer row."""
        item = self.list.item(row)
        value = None if item is None else item.data(GROUP_ID_ROLE)
        return None if value is None else str(value)

    def _on_current_row_changed(self, row: int) -> None:
        if self._updating or self._document is None or row < 0:
            return
        layer_id = self.layer_id_at(row)
        self._current_group = self.group_id_at(row)
        if layer_id is not None:
            self._document.set_active_layer(layer_id)
        self._updating = True
        try:
            self._show_opacity()
        finally:
            self._updating = False
        self._refresh_actions()

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        document = self._document
        if self._updating or document is None:
            return
        visible = item.checkState() == Qt.CheckState.Checked
        name = item.text()
        group_id = item.data(GROUP_ID_ROLE)
        if group_id is not None:
            group = document.group(str(group_id))
            if visible != group.visible:
                self._run(lambda: document.set_group_visible(group.id, visible))
            if name != group.name:
                self._run(lambda: document.rename_group(group.id, name))
                if item.text() != group.name:
                    self._updating = True
                    item.setText(group.name)
                    self._updating = False
            return
        layer = document.layer(str(item.data(LAYER_ID_ROLE)))
        if visible != layer.visible:
            self._run(lambda: document.set_layer_visible(layer, visible))
        if name != layer.name:
            self._run(lambda: document.rename_layer(layer, name))
            if item.text() != layer.name:  # refused (e.g. empty): show the old name again
                self._updating = True
                item.setText(layer.name)
                self._updating = False

    def _on_opacity_value(self, value: int) -> None:
        self.opacity_value.setText(f"{value} %")
        if not self.opacity_slider.isSliderDown():
            self._apply_opacity()

    def _apply_opacity(self) -> None:
        document = self._document
        target = self.current_item()
        if document is None or target is None:
            return
        value = self.opacity_slider.value() / 100
        if isinstance(target, LayerGroup):
            self._run(lambda: document.set_group_opacity(target.id, value))
        else:
            self._run(lambda: document.set_layer_opacity(target, value))

    def _on_blend_mode_chosen(self, index: int) -> None:
        document = self._document
        target = self.current_item()
        if document is None or target is None or index < 0:
            return
        mode = str(self.blend_combo.itemData(index))
        if isinstance(target, LayerGroup):
            self._run(lambda: document.set_group_blend_mode(target.id, mode))
        else:
            self._run(lambda: document.set_layer_blend_mode(target, mode))

    def _run(self, command: Callable[[], object]) -> bool:
        try:
            command()
        except CanvasError as exc:
            self.failed.emit(str(exc))
            return False
        return True

    def add_layer(self) -> None:
        """Add a transparent layer above the active one."""
        document = self._document
        if document is not None:
            self._run(document.add_layer)

    def duplicate_layer(self) -> None:
        document = self._document
        if document is not None:
            self._run(lambda: document.duplicate_layer(document.active_layer))

    def delete_layer(self) -> None:
        document = self._document
        if document is not None:
            self._run(lambda: document.delete_layer(document.active_layer))

    def move_up(self) -> None:
        document = self._document
        if document is not None:
            self._run(lambda: document.move_layer_up(document.active_layer))

    def move_down(self) -> None:
        document = self._document
        if document is not None:
            self._run(lambda: document.move_layer_down(document.active_layer))

    def start_rename(self) -> None:
        """Open the active layer's name for editing."""
        item = self.list.currentItem()
        if item is not None:
            self.list.setFocus()
            self.list.editItem(item)

    def merge_down(self) -> None:
        """Merge the active layer into the one below."""
        document = self._document
        if document is not None:
            self._run(document.merge_down)

    def flatten(self) -> None:
        document = self._document
        if document is not None:
            self._run(document.flatten)

    def group_layer(self) -> None:
        """Put the active layer (or the chosen group's layers) in a new group."""
        document = self._document
        if document is None:
            return
        self._current_group = None
        self._run(lambda: document.group_layers([document.active_layer]))

    def ungroup(self) -> None:
        """Dissolve the chosen group, or the group the active layer is in."""
        document = self._document
        if document is None:
            return
        group_id = self._current_group or document.active_layer.group
        if group_id is None:
            self.failed.emit("The active layer is not in a group")
            return
        self._current_group = None
        self._run(lambda: document.ungroup(group_id))
