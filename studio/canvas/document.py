"""The canvas document: a stack of full-canvas RGBA layers, an active layer and a selection.

Layers are listed bottom first (``layers[0]`` is drawn first). Every layer has the canvas size; pixels are
``H×W×4 uint8`` with straight alpha. Layers may belong to groups (:class:`LayerGroup`, named by
:attr:`Layer.group`); :meth:`CanvasDocument.layer_tree` gives the nesting, built from consecutive layers of the
same group. Every change goes through :attr:`CanvasDocument.history`, so it can be
undone, and is announced on the document's signals:

* ``layers_changed()``: layers or groups added, removed, reordered, renamed, shown/hidden, opacity, blend
  mode or group changed;
* ``pixels_changed(rect, layer_id)``: pixels of one layer changed inside ``rect``;
* ``selection_changed()``;
* ``size_changed(width, height)``: the canvas was resized (all layers changed);
* ``active_layer_changed(layer_id)``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from PIL import Image

from studio.canvas.blending import BlendMode, GroupNode, LayerNode, clean_blend_mode, composite_nodes
from studio.canvas.errors import CanvasError
from studio.canvas.generation_log import GenerationLog
from studio.canvas.geometry import Rect
from studio.canvas.history import (
    History,
    InsertGroup,
    InsertLayer,
    MoveLayer,
    RemoveGroup,
    RemoveLayer,
    ReplacePixels,
    ResizeCanvas,
    SetGroupAttribute,
    SetLayerAttribute,
    SetSelection,
)
from studio.canvas.imaging import check_rgba, nonzero_bounds, resize_mask, thumbnail
from studio.canvas.layer import (
    MAX_LAYER_NAME,
    Layer,
    LayerGroup,
    LayerRef,
    clean_layer_name,
    clean_opacity,
)
from studio.canvas.selection import Selection, SelectionMode
from studio.canvas.signals import Signal

MAX_CANVAS_SIDE = 32_768
MAX_CANVAS_PIXELS = 100_000_000


def check_canvas_size(width: int, height: int) -> None:
    """Raise :class:`CanvasError` unless ``width``×``height`` is an allowed canvas size."""
    if not (_is_whole(width) and _is_whole(height)):
        raise CanvasError("The canvas size must be whole pixels")
    if width < 1 or height < 1:
        raise CanvasError(f"The canvas must be at least 1×1 pixel, not {width}×{height}")
    if width > MAX_CANVAS_SIDE or height > MAX_CANVAS_SIDE or width * height > MAX_CANVAS_PIXELS:
        raise CanvasError(
            f"A {width}×{height} canvas is too large (at most {MAX_CANVAS_SIDE} pixels a side and "
            f"{MAX_CANVAS_PIXELS // 1_000_000} megapixels)"
        )


def _is_whole(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


class Resample(StrEnum):
    """How :meth:`CanvasDocument.resize_image` computes new pixels."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    LANCZOS = "lanczos"


def anchor_offset(
    old_size: tuple[int, int], new_size: tuple[int, int], anchor: tuple[float, float]
) -> tuple[int, int]:
    """Where old content lands on a resized canvas: ``anchor`` is the fixed point as fractions of the
    size, ``(0, 0)`` top left, ``(0.5, 0.5)`` centre, ``(1, 1)`` bottom right."""
    fx, fy = anchor
    if not (0.0 <= fx <= 1.0 and 0.0 <= fy <= 1.0):
        raise CanvasError(f"The anchor {anchor} must lie within the canvas (0 to 1 each way)")
    return round((new_size[0] - old_size[0]) * fx), round((new_size[1] - old_size[1]) * fy)


@dataclass
class GroupBranch:
    """A group in :meth:`CanvasDocument.layer_tree` with its children, bottom first."""

    group: LayerGroup
    children: list[Layer | GroupBranch] = field(default_factory=list)


class CanvasDocument:
    """A raster canvas: layers, the active layer, the selection, and their undo history."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        background: Sequence[int] | None = None,
        layer_name: str = "Background",
    ) -> None:
        """A canvas with one layer filled with ``background`` (RGB or RGBA; transparent when None)."""
        check_canvas_size(width, height)
        pixels = np.zeros((height, width, 4), dtype=np.uint8)
        if background is not None:
            pixels[:, :] = _check_colour(background)
        self._init(int(width), int(height), [Layer(layer_name, pixels)], 0)

    @classmethod
    def from_layers(
        cls,
        layers: Sequence[Layer],
        active_index: int | None = None,
        groups: Sequence[LayerGroup] = (),
    ) -> CanvasDocument:
        """A document of existing layers (bottom first, all the same size) and the groups they name, with an
        empty history."""
        if not layers:
            raise CanvasError("A canvas needs at least one layer")
        height, width = layers[0].pixels.shape[:2]
        check_canvas_size(width, height)
        if any(layer.pixels.shape[:2] != (height, width) for layer in layers):
            raise CanvasError("All layers must have the canvas size")
        if len({layer.id for layer in layers}) != len(layers):
            raise CanvasError("Layer ids must be unique")
        document = cls.__new__(cls)
        index = len(layers) - 1 if active_index is None else active_index
        if not 0 <= index < len(layers):
            raise CanvasError("The active layer index is out of range")
        known = {group.id for group in groups}
        if len(known) != len(groups):
            raise CanvasError("Group ids must be unique")
        if any(layer.group is not None and layer.group not in known for layer in layers) or any(
            group.parent is not None and group.parent not in known for group in groups
        ):
            raise CanvasError("A layer or group names a group that is not part of the canvas")
        document._init(width, height, list(layers), index)
        document._groups = {group.id: group for group in groups}
        return document

    def _init(self, width: int, height: int, layers: list[Layer], active: int) -> None:
        self._width = width
        self._height = height
        self._layers = layers
        self._groups: dict[str, LayerGroup] = {}
        self._active_id = layers[active].id
        self._selection: Selection | None = None
        self.layers_changed: Signal[[]] = Signal()
        self.pixels_changed: Signal[[Rect, str]] = Signal()
        self.selection_changed: Signal[[]] = Signal()
        self.size_changed: Signal[[int, int]] = Signal()
        self.active_layer_changed: Signal[[str]] = Signal()
        self.history = History(self)
        self.generation_log = GenerationLog()

    # -- reading --------------------------------------------------------------------------------------

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self._width, self._height

    @property
    def bounds(self) -> Rect:
        """The canvas rectangle ``(0, 0, width, height)``."""
        return Rect(0, 0, self._width, self._height)

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers, bottom first. Change them only through the document's methods."""
        return tuple(self._layers)

    @property
    def active_layer(self) -> Layer:
        return self.layer(self._active_id)

    @property
    def active_index(self) -> int:
        return self.index_of(self._active_id)

    @property
    def selection(self) -> Selection | None:
        """The current selection, or None when nothing is selected."""
        return self._selection

    def layer(self, ref: LayerRef) -> Layer:
        """The layer with this id (or this layer, checked to belong to the document)."""
        return self._layers[self.index_of(ref)]

    def index_of(self, ref: LayerRef) -> int:
        """Position of the layer in :attr:`layers` (0 = bottom)."""
        layer_id = ref.id if isinstance(ref, Layer) else ref
        for index, layer in enumerate(self._layers):
            if layer.id == layer_id:
                return index
        raise CanvasError("That layer is not part of this canvas")

    @property
    def groups(self) -> tuple[LayerGroup, ...]:
        """The groups that hold at least one layer (directly or through a subgroup)."""
        used: dict[str, LayerGroup] = {}
        for layer in self._layers:
            for group in self.group_chain(layer):
                used.setdefault(group.id, group)
        return tuple(used.values())

    def group(self, group_id: str) -> LayerGroup:
        """The group with this id."""
        try:
            return self._groups[group_id]
        except KeyError:
            raise CanvasError("That group is not part of this canvas") from None

    def group_chain(self, item: Layer | LayerGroup) -> list[LayerGroup]:
        """The groups around a layer (or group), outermost first."""
        chain: list[LayerGroup] = []
        group_id = item.group if isinstance(item, Layer) else item.parent
        while group_id is not None and group_id in self._groups and len(chain) < 256:
            group = self._groups[group_id]
            if group in chain:
                break
            chain.append(group)
            group_id = group.parent
        chain.reverse()
        return chain

    def layer_tree(self) -> list[Layer | GroupBranch]:
        """Layers and groups nested, bottom first; consecutive layers of a group share one branch."""
        root: list[Layer | GroupBranch] = []
        open_branches: list[GroupBranch] = []
        for layer in self._layers:
            chain = self.group_chain(layer)
            keep = 0
            while (
                keep < len(open_branches) and keep < len(chain) and open_branches[keep].group is chain[keep]
            ):
                keep += 1
            del open_branches[keep:]
            for group in chain[keep:]:
                branch = GroupBranch(group)
                (open_branches[-1].children if open_branches else root).append(branch)
                open_branches.append(branch)
            (open_branches[-1].children if open_branches else root).append(layer)
        return root

    def is_shown(self, layer: LayerRef) -> bool:
        """True when the layer and every group around it are visible."""
        item = self.layer(layer)
        return item.visible and all(group.visible for group in self.group_chain(item))

    def composite(self, rect: Rect | None = None) -> np.ndarray:
        """The visible layers blended with their opacity and blend modes, groups composited as OpenRaster
        does → ``H×W×4`` of ``rect`` (default all). Parts of ``rect`` past the canvas edge are transparent.
        """
        rect = self.bounds if rect is None else rect
        inside = rect.intersected(self.bounds)
        out = np.zeros((rect.height, rect.width, 4), dtype=np.uint8)
        if inside.is_empty:
            return out
        nodes = _render_nodes(self.layer_tree(), inside)
        out[inside.translated(-rect.x, -rect.y).slices] = composite_nodes(nodes, inside.height, inside.width)
        return out

    def thumbnail(self, max_side: int = 128) -> np.ndarray:
        """A small RGBA copy of the composite that fits in ``max_side``×``max_side``."""
        return thumbnail(self.composite(), max_side)

    # -- layers ---------------------------------------------------------------------------------------

    def add_layer(
        self,
        name: str | None = None,
        pixels: np.ndarray | None = None,
        *,
        index: int | None = None,
        visible: bool = True,
        opacity: float = 1.0,
        provenance: dict[str, Any] | None = None,
    ) -> Layer:
        """Add a layer (transparent unless ``pixels``) at ``index`` (default above the active one); it
        becomes the active layer. Added above the active layer, it joins that layer's group."""
        if pixels is None:
            pixels = np.zeros((self._height, self._width, 4), dtype=np.uint8)
        else:
            pixels = check_rgba(pixels, "The new layer").copy()
            if pixels.shape[:2] != (self._height, self._width):
                raise CanvasError(
                    f"The new layer is {pixels.shape[1]}×{pixels.shape[0]} but the canvas is "
                    f"{self._width}×{self._height}"
                )
        layer = Layer(name or self._unused_name(), pixels, visible, opacity, copy.deepcopy(provenance))
        if index is None:
            layer.group = self.active_layer.group
        position = self.active_index + 1 if index is None else index
        if not _is_whole(position) or not 0 <= position <= len(self._layers):
            raise CanvasError(f"Layer position {position} is out of range")
        self.history.execute(InsertLayer(position, layer, "Add layer"))
        return layer

    def delete_layer(self, ref: LayerRef) -> None:
        """Remove a layer; the last layer cannot be removed."""
        index = self.index_of(ref)
        if len(self._layers) == 1:
            raise CanvasError("A canvas needs at least one layer")
        self.history.execute(RemoveLayer(index, self._layers[index], "Delete layer"))

    def duplicate_layer(self, ref: LayerRef) -> Layer:
        """Copy a layer just above itself; the copy becomes active."""
        index = self.index_of(ref)
        source = self._layers[index]
        layer = source.duplicate(self._copy_name(source.name))
        self.history.execute(InsertLayer(index + 1, layer, "Duplicate layer"))
        return layer

    def move_layer_to(self, ref: LayerRef, index: int) -> None:
        """Move a layer to position ``index`` (0 = bottom)."""
        old = self.index_of(ref)
        if not _is_whole(index) or not 0 <= index < len(self._layers):
            raise CanvasError(f"Layer position {index} is out of range")
        if old != index:
            self.history.execute(MoveLayer(old, index))

    def move_layer_up(self, ref: LayerRef) -> None:
        """Move a layer one step towards the top, through the groups as they are drawn: a layer under a
        group enters it, a layer at the top of its group leaves it; otherwise it swaps with the layer above
        (no change when it is already on top at the top level)."""
        self._step_layer(ref, +1)

    def move_layer_down(self, ref: LayerRef) -> None:
        """Move a layer one step towards the bottom (the mirror of :meth:`move_layer_up`)."""
        self._step_layer(ref, -1)

    def can_move_layer(self, ref: LayerRef, direction: int) -> bool:
        """True when :meth:`move_layer_up` (``+1``) or :meth:`move_layer_down` (``-1``) would change
        something."""
        layer = self.layer(ref)
        index = self.index_of(layer)
        return layer.group is not None or 0 <= index + direction < len(self._layers)

    def _step_layer(self, ref: LayerRef, direction: int) -> None:
        layer = self.layer(ref)
        index = self.index_of(layer)
        mine = [group.id for group in self.group_chain(layer)]
        neighbour_index = index + direction
        if not 0 <= neighbour_index < len(self._layers):
            if mine:  # at the very top (or bottom) inside a group: leave it
                self._change_attribute(layer, "group", self.group(mine[-1]).parent, "Move layer")
            return
        theirs = [group.id for group in self.group_chain(self._layers[neighbour_index])]
        if len(theirs) > len(mine) and theirs[: len(mine)] == mine:
            self._change_attribute(layer, "group", theirs[len(mine)], "Move layer")  # enter the group
        elif mine and mine[-1] not in theirs:
            self._change_attribute(layer, "group", self.group(mine[-1]).parent, "Move layer")  # leave it
        else:
            self.move_layer_to(layer, neighbour_index)

    def rename_layer(self, ref: LayerRef, name: str) -> None:
        self._change_attribute(ref, "name", clean_layer_name(name), "Rename layer")

    def set_layer_visible(self, ref: LayerRef, visible: bool) -> None:
        self._change_attribute(ref, "visible", bool(visible), "Show layer" if visible else "Hide layer")

    def set_layer_opacity(self, ref: LayerRef, opacity: float) -> None:
        self._change_attribute(ref, "opacity", clean_opacity(opacity), "Layer opacity")

    def set_layer_blend_mode(self, ref: LayerRef, mode: BlendMode | str) -> None:
        self._change_attribute(ref, "blend_mode", clean_blend_mode(mode), "Blend mode")

    def set_layer_provenance(self, ref: LayerRef, provenance: dict[str, Any] | None) -> None:
        self._change_attribute(ref, "provenance", copy.deepcopy(provenance), "Layer provenance")

    def set_active_layer(self, ref: LayerRef) -> None:
        """Make a layer the one tools paint on (not an undo step)."""
        layer = self.layer(ref)
        if layer.id != self._active_id:
            self._active_id = layer.id
            self.active_layer_changed.emit(layer.id)

    # -- groups ---------------------------------------------------------------------------------------

    def group_layers(self, refs: Sequence[LayerRef], name: str | None = None) -> LayerGroup:
        """Put layers of one group (or all top level) into a new group, gathered just below the topmost of
        them; one undo step."""
        layers = sorted({self.layer(ref).id: self.layer(ref) for ref in refs}.values(), key=self.index_of)
        if not layers:
            raise CanvasError("Choose at least one layer to group")
        parents = {layer.group for layer in layers}
        if len(parents) != 1:
            raise CanvasError("Only layers of the same group can be grouped together")
        group = LayerGroup(name or self._unused_group_name(), parent=parents.pop())
        active = self._active_id
        with self.history.group("Group layers"):
            position = self.index_of(layers[-1])
            for layer in reversed(layers):
                self.move_layer_to(layer, position)
                position -= 1
            self.history.execute(InsertGroup(group, "Group layers"))
            for layer in layers:
                self._change_attribute(layer, "group", group.id, "Group layers")
        self.set_active_layer(active)
        return group

    def ungroup(self, group_id: str) -> None:
        """Dissolve a group: its layers and subgroups move to the group around it; one undo step."""
        group = self.group(group_id)
        with self.history.group("Ungroup"):
            for layer in self._layers:
                if layer.group == group.id:
                    self._change_attribute(layer, "group", group.parent, "Ungroup")
            for other in list(self._groups.values()):
                if other.parent == group.id:
                    self._change_group_attribute(other.id, "parent", group.parent, "Ungroup")
            self.history.execute(RemoveGroup(group, "Ungroup"))

    def set_layer_group(self, ref: LayerRef, group_id: str | None) -> None:
        """Make a layer part of a group (None: the top level); its place in the stack stays."""
        if group_id is not None:
            self.group(group_id)
        self._change_attribute(ref, "group", group_id, "Move to group")

    def rename_group(self, group_id: str, name: str) -> None:
        self._change_group_attribute(group_id, "name", clean_layer_name(name), "Rename group")

    def set_group_visible(self, group_id: str, visible: bool) -> None:
        self._change_group_attribute(
            group_id, "visible", bool(visible), "Show group" if visible else "Hide group"
        )

    def set_group_opacity(self, group_id: str, opacity: float) -> None:
        self._change_group_attribute(group_id, "opacity", clean_opacity(opacity), "Group opacity")

    def set_group_blend_mode(self, group_id: str, mode: BlendMode | str) -> None:
        self._change_group_attribute(group_id, "blend_mode", clean_blend_mode(mode), "Blend mode")

    def set_group_isolated(self, group_id: str, isolated: bool) -> None:
        self._change_group_attribute(group_id, "isolated", bool(isolated), "Group isolation")

    def merge_down(self, ref: LayerRef | None = None) -> Layer:
        """Merge a layer (default the active one) into the layer below it in the same group: the lower
        layer gets what both showed, with opacity 1 and its own blend mode; one undo step."""
        upper = self.active_layer if ref is None else self.layer(ref)
        index = self.index_of(upper)
        if index == 0:
            raise CanvasError(f"“{upper.name}” is the bottom layer: there is nothing below to merge into")
        lower = self._layers[index - 1]
        if lower.group != upper.group:
            raise CanvasError(f"The layer below “{upper.name}” is in another group; move it first")
        if not (upper.visible and lower.visible):
            raise CanvasError("Show both layers before merging them")
        merged = composite_nodes(
            [
                LayerNode(lower.pixels, lower.opacity),
                LayerNode(upper.pixels, upper.opacity, upper.blend_mode),
            ],
            self._height,
            self._width,
        )
        with self.history.group("Merge down"):
            self._change_attribute(lower, "opacity", 1.0, "Merge down")
            changed = _changed_rect(lower.pixels, merged)
            if changed is not None:
                with self.edit_pixels(lower, changed, "Merge down") as view:
                    view[...] = merged[changed.slices]
            self.history.execute(RemoveLayer(self.index_of(upper), upper, "Merge down"))
        self.set_active_layer(lower)
        return lower

    def flatten(self, name: str = "Background") -> Layer:
        """Replace every layer and group with one layer of what the canvas shows; one undo step."""
        layer = Layer(name, self.composite())
        with self.history.group("Flatten"):
            self.history.execute(InsertLayer(len(self._layers), layer, "Flatten"))
            for index in range(len(self._layers) - 2, -1, -1):
                self.history.execute(RemoveLayer(index, self._layers[index], "Flatten"))
            for group in list(self._groups.values()):
                self.history.execute(RemoveGroup(group, "Flatten"))
        return layer

    # -- pixels ---------------------------------------------------------------------------------------

    @contextmanager
    def edit_pixels(
        self, ref: LayerRef, rect: Rect | None = None, label: str = "Paint"
    ) -> Iterator[np.ndarray]:
        """Change a layer's pixels inside ``rect``: yields the writable ``rect`` view of the layer.

        The change is one undo step, or part of the open stroke. ``rect`` is clipped to the canvas.
        """
        layer = self.layer(ref)
        rect = self.bounds if rect is None else rect.intersected(self.bounds)
        self.history.begin_stroke(label)
        try:
            self.history.capture(layer, rect)
            if rect.is_empty:
                yield layer.pixels[0:0, 0:0]
            else:
                yield layer.pixels[rect.slices]
        finally:
            self.history.end_stroke()
            if not rect.is_empty:
                self.pixels_changed.emit(rect, layer.id)

    def set_layer_pixels(self, ref: LayerRef, pixels: np.ndarray, label: str = "Replace pixels") -> None:
        """Replace all pixels of a layer (same size as the canvas)."""
        pixels = check_rgba(pixels, "The new pixels")
        if pixels.shape[:2] != (self._height, self._width):
            raise CanvasError("The new pixels must have the canvas size")
        with self.edit_pixels(ref, None, label) as view:
            view[...] = pixels

    def copy_pixels(self, ref: LayerRef | None = None) -> np.ndarray | None:
        """The selected pixels of a layer (default the active one) cropped to the selection's bounds, or
        the whole layer with no selection; a soft selection edge scales alpha. None when the selection
        is empty. The layer is not changed."""
        layer = self.active_layer if ref is None else self.layer(ref)
        if self._selection is None:
            return layer.pixels.copy()
        bounds = self._selection.bounds()
        rect = self.bounds.intersected(bounds) if bounds is not None else Rect(0, 0, 0, 0)
        if rect.is_empty:
            return None
        pixels = layer.pixels[rect.slices].copy()
        mask = self._selection.mask_for(rect)
        alpha = np.rint(pixels[:, :, 3].astype(np.float32) * mask)
        pixels[:, :, 3] = alpha.astype(np.uint8)
        pixels[mask <= 0] = 0
        return pixels

    def paste_pixels(
        self, pixels: np.ndarray, position: tuple[int, int] = (0, 0), name: str = "Pasted"
    ) -> Layer:
        """Add ``pixels`` (any size, straight-alpha RGBA) as a new layer above the active one with their
        top-left corner at ``position``; what falls outside the canvas is cut off. One undo step."""
        pixels = check_rgba(pixels, "The pasted image")
        x, y = position
        if not (_is_whole(x) and _is_whole(y)):
            raise CanvasError(f"Paste position {position} is not in whole pixels")
        height, width = pixels.shape[:2]
        target = self.bounds.intersected(Rect(int(x), int(y), width, height))
        if target.is_empty:
            raise CanvasError("The pasted image would lie outside the canvas")
        layer_pixels = np.zeros((self._height, self._width, 4), dtype=np.uint8)
        source = Rect(target.x - int(x), target.y - int(y), target.width, target.height)
        layer_pixels[target.slices] = pixels[source.slices]
        layer = Layer(name, layer_pixels, group=self.active_layer.group)
        self.history.execute(InsertLayer(self.active_index + 1, layer, "Paste"))
        return layer

    # -- canvas ---------------------------------------------------------------------------------------

    def resize_canvas(self, width: int, height: int, offset: tuple[int, int] = (0, 0)) -> None:
        """Resize the canvas; existing content moves by ``offset`` (so growing left or up keeps it in place
        visually). Content pushed past the new edge is cut off (undo brings it back)."""
        check_canvas_size(width, height)
        dx, dy = int(offset[0]), int(offset[1])
        if (width, height) == self.size and (dx, dy) == (0, 0):
            return
        moved = self.bounds.translated(dx, dy)
        loses_content = not Rect(0, 0, width, height).contains(moved)
        saved = {layer.id: layer.pixels for layer in self._layers} if loses_content else None
        self.history.execute(ResizeCanvas(self.size, (int(width), int(height)), (dx, dy), saved))

    def resize_canvas_anchored(
        self, width: int, height: int, anchor: tuple[float, float] = (0.5, 0.5)
    ) -> None:
        """Resize the canvas keeping the ``anchor`` point of the content in place (see
        :func:`anchor_offset`); content past the new edge is cut off (undo brings it back)."""
        check_canvas_size(width, height)
        self.resize_canvas(width, height, anchor_offset(self.size, (width, height), anchor))

    def crop_to_selection(self) -> None:
        """Crop the canvas to the bounds of the selection (the selection is then cleared); one undo step."""
        bounds = self._selection.bounds() if self._selection is not None else None
        rect = self.bounds.intersected(bounds) if bounds is not None else None
        if rect is None or rect.is_empty:
            raise CanvasError("Select the part of the canvas to crop to first")
        with self.history.group("Crop to selection"):
            self.resize_canvas(rect.width, rect.height, (-rect.x, -rect.y))
            self.set_selection(None, "Crop to selection")

    def resize_image(self, width: int, height: int, resample: Resample | str = Resample.LANCZOS) -> None:
        """Scale every layer (and the selection) to ``width``×``height``; one undo step."""
        check_canvas_size(width, height)
        try:
            method = Resample(resample)
        except ValueError:
            raise CanvasError(f"Unknown resampling “{resample}”") from None
        size = (int(width), int(height))
        if size == self.size:
            return
        old = {layer.id: layer.pixels for layer in self._layers}
        new = {layer.id: _resample(layer.pixels, size, method) for layer in self._layers}
        with self.history.group("Image size"):
            if self._selection is not None:
                mask = self._selection.canvas_mask(self._width, self._height)
                if method is Resample.NEAREST:
                    mask = _resample_nearest_mask(mask, size)
                else:
                    mask = resize_mask(mask, size)
                self.set_selection(Selection(mask), "Image size")
            self.history.execute(ReplacePixels(self.size, size, old, new, "Image size"))

    # -- selection ------------------------------------------------------------------------------------

    def set_selection(self, selection: Selection | None, label: str = "Select") -> None:
        """Replace the selection (None or an empty selection = nothing selected)."""
        if selection is not None and selection.is_empty:
            selection = None
        if selection is self._selection or (
            selection is not None and self._selection is not None and selection == self._selection
        ):
            return
        self.history.execute(SetSelection(self._selection, selection, label))

    def select_rect(self, rect: Rect, mode: SelectionMode | str = SelectionMode.REPLACE) -> None:
        """Select a rectangle (it may reach past the canvas edge)."""
        self.combine_selection(Selection.rectangle(rect), mode, "Rectangle select")

    def select_polygon(
        self, points: Sequence[tuple[float, float]], mode: SelectionMode | str = SelectionMode.REPLACE
    ) -> None:
        """Select the inside of a lasso polygon."""
        self.combine_selection(Selection.polygon(points), mode, "Lasso select")

    def select_all(self) -> None:
        self.set_selection(Selection.rectangle(self.bounds), "Select all")

    def clear_selection(self) -> None:
        self.set_selection(None, "Deselect")

    def invert_selection(self) -> None:
        """Select what was not selected on the canvas."""
        current = self._selection or Selection.empty()
        self.set_selection(current.inverted(self.bounds), "Invert selection")

    def feather_selection(self, radius: float) -> None:
        """Soften the selection edge by ``radius`` pixels."""
        if self._selection is None:
            raise CanvasError("There is no selection to feather")
        self.set_selection(self._selection.feathered(radius), "Feather selection")

    def combine_selection(
        self, shape: Selection, mode: SelectionMode | str = SelectionMode.REPLACE, label: str = "Select"
    ) -> None:
        """Combine ``shape`` with the current selection (replace, add, subtract or intersect)."""
        try:
            mode = SelectionMode(mode)
        except ValueError:
            raise CanvasError(f"Unknown selection mode “{mode}”") from None
        current = self._selection or Selection.empty()
        self.set_selection(current.combined(shape, mode), label)

    def selection_mask(self) -> np.ndarray | None:
        """The selection over the canvas (``H×W float32``), or None when nothing is selected."""
        return None if self._selection is None else self._selection.canvas_mask(self._width, self._height)

    # -- internals ------------------------------------------------------------------------------------

    def _change_group_attribute(self, group_id: str, attribute: str, value: Any, label: str) -> None:
        group = self.group(group_id)
        old = getattr(group, attribute)
        if old != value:
            self.history.execute(SetGroupAttribute(group.id, attribute, old, value, label))

    def _unused_group_name(self) -> str:
        names = {group.name for group in self._groups.values()}
        number = len(self._groups) + 1
        while f"Group {number}" in names:
            number += 1
        return f"Group {number}"

    def _change_attribute(self, ref: LayerRef, attribute: str, value: Any, label: str) -> None:
        layer = self.layer(ref)
        old = getattr(layer, attribute)
        if old == value:
            return
        self.history.execute(SetLayerAttribute(layer.id, attribute, old, value, label))

    # -- applied by history commands (:class:`~studio.canvas.history.HistoryTarget`): they notify but never
    # record; every other caller uses the recording methods above

    def apply_insert_layer(self, index: int, layer: Layer) -> None:
        """Put ``layer`` at ``index`` and make it active (not recorded)."""
        self._layers.insert(index, layer)
        self.layers_changed.emit()
        self.set_active_layer(layer)

    def apply_remove_layer(self, index: int) -> None:
        """Take out the layer at ``index`` (not recorded)."""
        layer = self._layers.pop(index)
        if layer.id == self._active_id:
            self.set_active_layer(self._layers[max(0, index - 1)])
        self.layers_changed.emit()

    def apply_move_layer(self, old: int, new: int) -> None:
        """Move the layer at ``old`` to ``new`` (not recorded)."""
        self._layers.insert(new, self._layers.pop(old))
        self.layers_changed.emit()

    def apply_layer_attribute(self, layer_id: str, attribute: str, value: Any) -> None:
        """Set a layer's ``attribute`` to a copy of ``value`` (not recorded)."""
        setattr(self.layer(layer_id), attribute, copy.deepcopy(value))
        self.layers_changed.emit()

    def apply_selection(self, selection: Selection | None) -> None:
        """Replace the selection (not recorded)."""
        self._selection = selection
        self.selection_changed.emit()

    def notify_pixels(self, rect: Rect, layer_id: str) -> None:
        """Announce that pixels of ``layer_id`` changed inside ``rect``."""
        if not rect.is_empty:
            self.pixels_changed.emit(rect, layer_id)

    def apply_resize(
        self, size: tuple[int, int], offset: tuple[int, int], saved: dict[str, np.ndarray] | None
    ) -> None:
        """Resize every layer to ``size``, content shifted by ``offset``; layers in ``saved`` get their saved
        pixels back instead (not recorded)."""
        width, height = size
        dx, dy = offset
        for layer in self._layers:
            if saved is not None and layer.id in saved:
                layer.pixels = saved[layer.id]
                continue
            pixels = np.zeros((height, width, 4), dtype=np.uint8)
            source = Rect(0, 0, layer.width, layer.height)
            target = source.translated(dx, dy).intersected(Rect(0, 0, width, height))
            if not target.is_empty:
                pixels[target.slices] = layer.pixels[target.translated(-dx, -dy).slices]
            layer.pixels = pixels
        self._width, self._height = width, height
        if self._selection is not None and (dx, dy) != (0, 0):
            self._selection = self._selection.translated(dx, dy)
            self.selection_changed.emit()
        self.size_changed.emit(width, height)

    def apply_replace_pixels(self, size: tuple[int, int], pixels: dict[str, np.ndarray]) -> None:
        """Give each layer named in ``pixels`` those arrays, the canvas taking ``size`` (not recorded)."""
        for layer in self._layers:
            if layer.id in pixels:
                layer.pixels = pixels[layer.id]
        self._width, self._height = size
        self.size_changed.emit(*size)

    def apply_insert_group(self, group: LayerGroup) -> None:
        """Make ``group`` part of the canvas (not recorded)."""
        self._groups[group.id] = group
        self.layers_changed.emit()

    def apply_remove_group(self, group_id: str) -> None:
        """Take a group out (not recorded)."""
        self._groups.pop(group_id, None)
        self.layers_changed.emit()

    def apply_group_attribute(self, group_id: str, attribute: str, value: Any) -> None:
        """Set a group's ``attribute`` (not recorded)."""
        setattr(self.group(group_id), attribute, copy.deepcopy(value))
        self.layers_changed.emit()

    def _unused_name(self) -> str:
        names = {layer.name for layer in self._layers}
        number = len(self._layers) + 1
        while f"Layer {number}" in names:
            number += 1
        return f"Layer {number}"

    def _copy_name(self, name: str) -> str:
        names = {layer.name for layer in self._layers}
        candidate = f"{name} copy"
        number = 2
        while candidate in names:
            candidate = f"{name} copy {number}"
            number += 1
        return candidate[:MAX_LAYER_NAME]


def _check_colour(colour: Sequence[int]) -> tuple[int, int, int, int]:
    values = tuple(colour)
    if len(values) == 3:
        values = (*values, 255)
    if len(values) != 4 or not all(isinstance(v, int | np.integer) and 0 <= v <= 255 for v in values):
        raise CanvasError("A colour must be 3 or 4 whole numbers from 0 to 255")
    return (int(values[0]), int(values[1]), int(values[2]), int(values[3]))


def check_colour(colour: Sequence[int]) -> tuple[int, int, int, int]:
    """``(r, g, b)`` or ``(r, g, b, a)`` in 0..255 → ``(r, g, b, a)``, or raise :class:`CanvasError`."""
    return _check_colour(colour)


def _render_nodes(items: Sequence[Layer | GroupBranch], rect: Rect) -> list[LayerNode | GroupNode]:
    nodes: list[LayerNode | GroupNode] = []
    for item in items:
        if isinstance(item, GroupBranch):
            group = item.group
            if group.visible:
                children = _render_nodes(item.children, rect)
                nodes.append(GroupNode(children, group.opacity, group.blend_mode, group.isolated))
        elif item.visible:
            nodes.append(LayerNode(item.pixels[rect.slices], item.opacity, item.blend_mode))
    return nodes


def _changed_rect(before: np.ndarray, after: np.ndarray) -> Rect | None:
    return nonzero_bounds((before != after).any(axis=2))


def _resample_nearest_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(mask.astype(np.float32), "F").resize(size, Image.Resampling.NEAREST))


def _resample(pixels: np.ndarray, size: tuple[int, int], method: Resample) -> np.ndarray:
    filters = {
        Resample.NEAREST: Image.Resampling.NEAREST,
        Resample.BILINEAR: Image.Resampling.BILINEAR,
        Resample.BICUBIC: Image.Resampling.BICUBIC,
        Resample.LANCZOS: Image.Resampling.LANCZOS,
    }
    # Pillow resamples RGBA premultiplied, so transparent pixels do not bleed their colour.
    return np.array(Image.fromarray(pixels).resize(size, filters[method]))
