"""Undo and redo for a :class:`~studio.canvas.document.CanvasDocument`, cheap in memory.

Pixel edits keep only the tiles (64×64 by default) that really changed, and only one copy of each: undo
swaps the stored tile with the layer's, so the same buffer then holds what redo needs. Layer structure,
selection and canvas size changes are small commands. A stroke (:meth:`History.begin_stroke` /
:meth:`History.end_stroke`, or :meth:`History.group`) turns everything done inside it into one undo step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.layer import Layer, LayerGroup
from studio.canvas.selection import Selection
from studio.canvas.signals import Signal

DEFAULT_TILE_SIZE = 64
DEFAULT_MAX_STEPS = 100
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class HistoryTarget(Protocol):
    """What commands change: the document's unrecorded primitives (a
    :class:`~studio.canvas.document.CanvasDocument` is one)."""

    def layer(self, ref: str) -> Layer: ...

    def notify_pixels(self, rect: Rect, layer_id: str) -> None: ...

    def apply_insert_layer(self, index: int, layer: Layer) -> None: ...

    def apply_remove_layer(self, index: int) -> None: ...

    def apply_move_layer(self, old: int, new: int) -> None: ...

    def apply_layer_attribute(self, layer_id: str, attribute: str, value: Any) -> None: ...

    def apply_selection(self, selection: Selection | None) -> None: ...

    def apply_resize(
        self, size: tuple[int, int], offset: tuple[int, int], saved: dict[str, np.ndarray] | None
    ) -> None: ...

    def apply_replace_pixels(self, size: tuple[int, int], pixels: dict[str, np.ndarray]) -> None: ...

    def apply_insert_group(self, group: LayerGroup) -> None: ...

    def apply_remove_group(self, group_id: str) -> None: ...

    def apply_group_attribute(self, group_id: str, attribute: str, value: Any) -> None: ...


class Command(ABC):
    """One undoable change. Commands are created already applied; ``undo`` then ``redo`` replay them."""

    label: str = ""

    @abstractmethod
    def undo(self, document: HistoryTarget) -> None: ...

    @abstractmethod
    def redo(self, document: HistoryTarget) -> None: ...

    def held_bytes(self, undone: bool) -> int:
        """Pixel memory only this command keeps alive (bookkeeping not counted); ``undone`` tells whether
        it sits on the redo stack."""
        return 0


@dataclass
class TileEdit(Command):
    """Changed tiles of one layer; each entry holds the tile's other state (before, or after once undone)."""

    layer_id: str
    tiles: list[tuple[int, int, np.ndarray]]
    label: str = "Paint"

    def _swap(self, document: HistoryTarget) -> None:
        layer = document.layer(self.layer_id)
        dirty = Rect(0, 0, 0, 0)
        for index, (x, y, data) in enumerate(self.tiles):
            rect = Rect(x, y, data.shape[1], data.shape[0])
            current = layer.pixels[rect.slices].copy()
            layer.pixels[rect.slices] = data
            self.tiles[index] = (x, y, current)
            dirty = dirty.united(rect)
        document.notify_pixels(dirty, layer.id)

    def undo(self, document: HistoryTarget) -> None:
        self._swap(document)

    def redo(self, document: HistoryTarget) -> None:
        self._swap(document)

    def held_bytes(self, undone: bool) -> int:
        return sum(int(data.nbytes) for _, _, data in self.tiles)


@dataclass
class Macro(Command):
    """Several commands undone and redone as one step."""

    label: str
    commands: list[Command] = field(default_factory=list)

    def undo(self, document: HistoryTarget) -> None:
        for command in reversed(self.commands):
            command.undo(document)

    def redo(self, document: HistoryTarget) -> None:
        for command in self.commands:
            command.redo(document)

    def held_bytes(self, undone: bool) -> int:
        return sum(command.held_bytes(undone) for command in self.commands)


@dataclass
class InsertLayer(Command):
    index: int
    layer: Layer
    label: str = "Add layer"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_remove_layer(self.index)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_insert_layer(self.index, self.layer)

    def held_bytes(self, undone: bool) -> int:
        return int(self.layer.pixels.nbytes) if undone else 0


@dataclass
class RemoveLayer(Command):
    index: int
    layer: Layer
    label: str = "Delete layer"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_insert_layer(self.index, self.layer)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_remove_layer(self.index)

    def held_bytes(self, undone: bool) -> int:
        return 0 if undone else int(self.layer.pixels.nbytes)


@dataclass
class MoveLayer(Command):
    old_index: int
    new_index: int
    label: str = "Move layer"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_move_layer(self.new_index, self.old_index)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_move_layer(self.old_index, self.new_index)


@dataclass
class SetLayerAttribute(Command):
    layer_id: str
    attribute: str
    old: Any
    new: Any
    label: str = "Layer property"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_layer_attribute(self.layer_id, self.attribute, self.old)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_layer_attribute(self.layer_id, self.attribute, self.new)


@dataclass
class SetSelection(Command):
    old: Selection | None
    new: Selection | None
    label: str = "Selection"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_selection(self.old)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_selection(self.new)

    def held_bytes(self, undone: bool) -> int:
        kept = self.new if undone else self.old
        return kept.nbytes if kept is not None else 0


@dataclass
class ResizeCanvas(Command):
    """Canvas size change; ``saved`` holds the old layers only when the resize cut content off."""

    old_size: tuple[int, int]
    new_size: tuple[int, int]
    offset: tuple[int, int]
    saved: dict[str, np.ndarray] | None
    label: str = "Canvas size"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_resize(self.old_size, (-self.offset[0], -self.offset[1]), self.saved)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_resize(self.new_size, self.offset, None)

    def held_bytes(self, undone: bool) -> int:
        # Once undone the saved arrays are the live layers again, and redo recomputes the resized ones.
        return 0 if undone or not self.saved else sum(int(a.nbytes) for a in self.saved.values())


@dataclass
class ReplacePixels(Command):
    """Every layer's pixels swapped for new arrays, possibly of a new canvas size (resize image)."""

    old_size: tuple[int, int]
    new_size: tuple[int, int]
    old: dict[str, np.ndarray]
    new: dict[str, np.ndarray]
    label: str = "Image size"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_replace_pixels(self.old_size, self.old)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_replace_pixels(self.new_size, self.new)

    def held_bytes(self, undone: bool) -> int:
        kept = self.new if undone else self.old
        return sum(int(a.nbytes) for a in kept.values())


@dataclass
class InsertGroup(Command):
    group: LayerGroup
    label: str = "New group"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_remove_group(self.group.id)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_insert_group(self.group)


@dataclass
class RemoveGroup(Command):
    group: LayerGroup
    label: str = "Remove group"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_insert_group(self.group)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_remove_group(self.group.id)


@dataclass
class SetGroupAttribute(Command):
    group_id: str
    attribute: str
    old: Any
    new: Any
    label: str = "Group property"

    def undo(self, document: HistoryTarget) -> None:
        document.apply_group_attribute(self.group_id, self.attribute, self.old)

    def redo(self, document: HistoryTarget) -> None:
        document.apply_group_attribute(self.group_id, self.attribute, self.new)


class History:
    """The undo and redo stacks of one document; ``changed`` fires whenever they change."""

    def __init__(
        self,
        document: HistoryTarget,
        *,
        tile_size: int = DEFAULT_TILE_SIZE,
        max_steps: int = DEFAULT_MAX_STEPS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if tile_size < 8 or max_steps < 1 or max_bytes < 0:
            raise ValueError("tile_size must be ≥ 8 and max_steps ≥ 1")
        self._document = document
        self.tile_size = tile_size
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._depth = 0
        self._group: Macro | None = None
        self._pending: dict[str, tuple[Layer, dict[tuple[int, int], np.ndarray]]] = {}
        self._clean_index: int | None = 0
        self._replaying = False
        self.changed: Signal[[]] = Signal()

    # -- state ----------------------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and self._depth == 0

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and self._depth == 0

    @property
    def undo_label(self) -> str:
        """What :meth:`undo` would undo ("" when nothing)."""
        return self._undo[-1].label if self._undo else ""

    @property
    def redo_label(self) -> str:
        return self._redo[-1].label if self._redo else ""

    @property
    def bytes_used(self) -> int:
        """Pixel memory held by the undo and redo stacks (and an open stroke's saved tiles)."""
        pending = sum(int(t.nbytes) for _, tiles in self._pending.values() for t in tiles.values())
        group = self._group.held_bytes(False) if self._group is not None else 0
        undo = sum(c.held_bytes(False) for c in self._undo)
        return undo + sum(c.held_bytes(True) for c in self._redo) + pending + group

    @property
    def undo_steps(self) -> int:
        return len(self._undo)

    @property
    def redo_steps(self) -> int:
        return len(self._redo)

    @property
    def in_stroke(self) -> bool:
        return self._depth > 0

    @property
    def is_clean(self) -> bool:
        """True when the document is as it was at the last :meth:`mark_clean` (e.g. when saved)."""
        return self._clean_index == len(self._undo) and self._depth == 0

    def mark_clean(self) -> None:
        """Remember the current state as saved."""
        self._clean_index = len(self._undo)
        self.changed.emit()

    def clear(self) -> None:
        """Forget every step (the document itself is not changed)."""
        if self._depth:
            raise CanvasError("Finish the current stroke first")
        self._undo.clear()
        self._redo.clear()
        self._clean_index = None
        self.changed.emit()

    # -- grouping -------------------------------------------------------------------------------------

    def begin_stroke(self, label: str = "Stroke") -> None:
        """Start a step: every change until the matching :meth:`end_stroke` undoes as one. Nests."""
        if self._replaying:
            raise CanvasError("Cannot edit while undoing")
        self._depth += 1
        if self._depth == 1:
            self._group = Macro(label)

    def end_stroke(self) -> None:
        """Close the step opened by :meth:`begin_stroke`; the outermost close records it."""
        if self._depth == 0:
            raise CanvasError("No stroke is in progress")
        if self._depth > 1:
            self._depth -= 1
            return
        self._flush_pixels()
        group, self._group = self._group, None
        self._depth = 0
        if group is not None and group.commands:
            self._push(group.commands[0] if len(group.commands) == 1 else group, group.label)

    @contextmanager
    def group(self, label: str = "Edit") -> Iterator[None]:
        """Context manager around :meth:`begin_stroke` / :meth:`end_stroke`; the step is kept on errors."""
        self.begin_stroke(label)
        try:
            yield
        finally:
            self.end_stroke()

    # -- recording (used by the document) ------------------------------------------------------------

    def capture(self, layer: Layer, rect: Rect) -> None:
        """Save the tiles of ``layer`` under ``rect`` before they are changed (inside a stroke only)."""
        if self._depth == 0:
            raise CanvasError("Pixel edits must happen inside a stroke")
        entry = self._pending.get(layer.id)
        if entry is None or entry[0] is not layer:
            self._flush_pixels()
            entry = self._pending.setdefault(layer.id, (layer, {}))
        tiles = entry[1]
        size = self.tile_size
        height, width = layer.pixels.shape[:2]
        rect = rect.intersected(Rect(0, 0, width, height))
        if rect.is_empty:
            return
        for ty in range(rect.y // size, (rect.bottom - 1) // size + 1):
            for tx in range(rect.x // size, (rect.right - 1) // size + 1):
                if (tx, ty) not in tiles:
                    tiles[(tx, ty)] = layer.pixels[
                        ty * size : (ty + 1) * size, tx * size : (tx + 1) * size
                    ].copy()

    def execute(self, command: Command) -> None:
        """Apply ``command`` (via its ``redo``) and record it."""
        if self._replaying:
            raise CanvasError("Cannot edit while undoing")
        self._flush_pixels()
        command.redo(self._document)
        self._record(command)

    # -- undo / redo ----------------------------------------------------------------------------------

    def undo(self) -> bool:
        """Undo the last step; returns False when there is nothing to undo."""
        self._check_idle("undoing")
        if not self._undo:
            return False
        command = self._undo.pop()
        self._replay(command.undo)
        self._redo.append(command)
        self.changed.emit()
        return True

    def redo(self) -> bool:
        """Redo the last undone step; returns False when there is nothing to redo."""
        self._check_idle("redoing")
        if not self._redo:
            return False
        command = self._redo.pop()
        self._replay(command.redo)
        self._undo.append(command)
        self.changed.emit()
        return True

    # -- internals ------------------------------------------------------------------------------------

    def _check_idle(self, doing: str) -> None:
        if self._depth:
            raise CanvasError(f"Finish the current stroke before {doing}")

    def _replay(self, action: Any) -> None:
        self._replaying = True
        try:
            action(self._document)
        finally:
            self._replaying = False

    def _flush_pixels(self) -> None:
        size = self.tile_size
        for layer_id, (layer, tiles) in self._pending.items():
            changed: list[tuple[int, int, np.ndarray]] = []
            for (tx, ty), before in tiles.items():
                x, y = tx * size, ty * size
                current = layer.pixels[y : y + before.shape[0], x : x + before.shape[1]]
                if current.shape != before.shape or not np.array_equal(current, before):
                    changed.append((x, y, before))
            if changed:
                self._record(TileEdit(layer_id, changed, self._group.label if self._group else "Paint"))
        self._pending.clear()

    def _record(self, command: Command) -> None:
        if self._group is not None:
            self._group.commands.append(command)
        else:
            self._push(command, command.label)

    def _push(self, command: Command, label: str) -> None:
        command.label = label
        if self._clean_index is not None and self._clean_index > len(self._undo):
            self._clean_index = None
        self._redo.clear()
        self._undo.append(command)
        while len(self._undo) > 1 and (
            len(self._undo) > self.max_steps or sum(c.held_bytes(False) for c in self._undo) > self.max_bytes
        ):
            del self._undo[0]
            if self._clean_index is not None:
                self._clean_index = self._clean_index - 1 if self._clean_index > 0 else None
        self.changed.emit()
