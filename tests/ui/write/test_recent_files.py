"""The Open Recent list: newest first, no duplicates, bounded; the menu it makes."""

from __future__ import annotations

import os
from pathlib import Path

from pytestqt.qtbot import QtBot

from studio.ui.write.recent_files import LIST_ENTRY, MAX_RECENT_FILES, RecentFilesMenu, forget, remember


def test_remember_puts_the_newest_first_once_and_keeps_the_list_short(tmp_path: Path) -> None:
    paths: list[str] = []
    for index in range(MAX_RECENT_FILES + 3):
        paths = remember(paths, tmp_path / f"{index}.md")
    assert len(paths) == MAX_RECENT_FILES
    assert paths[0] == str(tmp_path / f"{MAX_RECENT_FILES + 2}.md")
    # the same file by another spelling moves to the top instead of appearing twice
    again = remember(paths, os.path.join(str(tmp_path), ".", paths[-1].rsplit("/", 1)[1]))
    assert again[0] == paths[-1] and len(again) == MAX_RECENT_FILES and len(set(again)) == len(again)
    assert forget(again, again[0]) == again[1:]


def test_the_menu_offers_the_files_and_clearing(qtbot: QtBot) -> None:
    menu = RecentFilesMenu()
    qtbot.addWidget(menu)
    texts = [action.text() for action in menu.actions() if not action.isSeparator()]
    assert texts == ["No recent files", "&Clear Recent Files"]
    assert not any(action.isEnabled() for action in menu.actions() if not action.isSeparator())
    menu.set_paths(["/work/a & b.md", "/work/cover.ora"])
    entries = [action for action in menu.actions() if action.objectName() == "recent_file"]
    assert [action.text() for action in entries] == ["&1 a && b.md", "&2 cover.ora"]
    assert all(action.property(LIST_ENTRY) for action in entries)
    with qtbot.waitSignal(menu.open_requested) as opened:
        entries[1].trigger()
    assert opened.args == ["/work/cover.ora"]
    with qtbot.waitSignal(menu.clear_requested):
        next(a for a in menu.actions() if a.objectName() == "clear_recent_files").trigger()
