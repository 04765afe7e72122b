"""The one way Studio makes its commands (``QAction``) and the rule that names them, and the set of
commands that belongs to one workspace (shown and live only while that workspace is visible)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QIcon, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QWidget

Shortcut = QKeySequence | QKeySequence.StandardKey | str

REDO_SHORTCUTS: tuple[Shortcut, ...] = (QKeySequence.StandardKey.Redo, "Ctrl+Y", "Ctrl+Shift+Z")
"""Redo's keys in every workspace: the platform's own, and both Ctrl+Y and Ctrl+Shift+Z wherever it is."""


def action_object_name(text: str) -> str:
    """The objectName of the command whose menu text is ``text``: mnemonics and dots dropped, lower
    case, words joined by ``_`` (``"Save &As…"`` → ``"save_as"``)."""
    return re.sub(r"[^0-9a-z]+", "_", text.replace("&", "").lower()).strip("_")


def make_action(
    parent: QObject,
    text: str,
    slot: Callable[[], object],
    *,
    shortcut: Shortcut | Sequence[Shortcut] = (),
    description: str = "",
    context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut,
    icon: QIcon | None = None,
    checkable: bool = False,
) -> QAction:
    """A command called ``text`` that runs ``slot``; its status tip is ``description`` (default: the text)
    and its tool tip adds the shortcut. A widget ``parent`` gets the action, so its shortcut works in
    ``context`` relative to that widget."""
    action = QAction(text, parent)
    keys = [shortcut] if isinstance(shortcut, QKeySequence | QKeySequence.StandardKey | str) else shortcut
    sequences: list[QKeySequence] = []
    for key in keys:
        sequences.extend(sequence for sequence in _sequences(key) if sequence not in sequences)
    action.setShortcuts(sequences)
    action.setShortcutContext(context)
    description = description or text.replace("&", "").rstrip("…").rstrip(".")
    action.setStatusTip(description)
    if sequences:
        native = sequences[0].toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{description} ({native})")
    else:
        action.setToolTip(description)
    action.setObjectName(action_object_name(text))
    if icon is not None:
        action.setIcon(icon)
    action.setCheckable(checkable)
    action.triggered.connect(lambda _checked=False: slot())
    if isinstance(parent, QWidget):
        parent.addAction(action)
    return action


def matches_shortcut(action: QAction, event: QKeyEvent) -> bool:
    """Whether the keys of ``event`` are exactly one of ``action``'s shortcuts."""
    pressed = QKeySequence(event.keyCombination())
    return any(
        sequence.matches(pressed) == QKeySequence.SequenceMatch.ExactMatch for sequence in action.shortcuts()
    )


def _sequences(key: Shortcut) -> list[QKeySequence]:
    if isinstance(key, QKeySequence.StandardKey):
        return list(QKeySequence.keyBindings(key))
    sequence = QKeySequence(key)
    return [] if sequence.isEmpty() else [sequence]


class WorkspaceActions:
    """The commands of one workspace: while it is hidden they are hidden in every menu and their
    shortcuts never fire (an invisible ``QAction`` cannot be triggered by its keys)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._actions: list[QAction] = []
        self._active = True

    def add(self, *actions: QAction | Iterable[QAction]) -> None:
        """Make ``actions`` (or lists of them) belong to this workspace."""
        for item in actions:
            for action in [item] if isinstance(item, QAction) else item:
                if action not in self._actions:
                    self._actions.append(action)
                    action.setVisible(self._active)

    def actions(self) -> list[QAction]:
        return list(self._actions)

    def __contains__(self, action: object) -> bool:
        return action in self._actions

    @property
    def active(self) -> bool:
        return self._active

    def set_active(self, active: bool) -> None:
        """Show (and arm) the commands while the workspace is visible; hide them otherwise."""
        self._active = active
        for action in self._actions:
            action.setVisible(active)
