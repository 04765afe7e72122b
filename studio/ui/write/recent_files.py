"""File ▸ Open Recent: the documents and images opened or saved lately, newest first."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QWidget

MAX_RECENT_FILES = 10
LIST_ENTRY = "list_entry"
"""Property of menu actions that are entries of a list, not commands (they need no shortcut of their own)."""


def remember(paths: list[str], path: str | os.PathLike[str], limit: int = MAX_RECENT_FILES) -> list[str]:
    """``paths`` with ``path`` (made absolute) first, no duplicates, at most ``limit`` long."""
    new = os.path.abspath(path)
    return [new, *(p for p in paths if os.path.abspath(p) != new)][:limit]


def forget(paths: list[str], path: str) -> list[str]:
    """``paths`` without ``path``."""
    gone = os.path.abspath(path)
    return [p for p in paths if os.path.abspath(p) != gone]


class RecentFilesMenu(QMenu):
    """The Open Recent submenu for a list of paths; ``open_requested(path)`` when one is chosen,
    ``clear_requested`` for Clear Recent Files."""

    open_requested = Signal(str)
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Open &Recent", parent)
        self.setObjectName("open_recent")
        self.set_paths([])

    def set_paths(self, paths: list[str]) -> None:
        """Show ``paths`` (numbered 1-9, then 0 for the tenth, as mnemonics)."""
        self.clear()
        if not paths:
            empty = self.addAction("No recent files")
            empty.setEnabled(False)
            empty.setProperty(LIST_ENTRY, True)
        for number, path in enumerate(paths[:MAX_RECENT_FILES], start=1):
            label = Path(path).name.replace("&", "&&")
            action = self.addAction(f"&{number % 10} {label}", partial(self.open_requested.emit, path))
            action.setStatusTip(path)
            action.setToolTip(path)
            action.setObjectName("recent_file")
            action.setProperty(LIST_ENTRY, True)
        self.addSeparator()
        clear = self.addAction("&Clear Recent Files", self.clear_requested.emit)
        clear.setObjectName("clear_recent_files")
        clear.setStatusTip("Empty the list of recent files")
        clear.setProperty(LIST_ENTRY, True)
        clear.setEnabled(bool(paths))
