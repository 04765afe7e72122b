"""The Models menu asks before loading a registered model that does not fit in the free memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from studio.models import fit
from studio.models.registry import LLM
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import MainWindow


def test_a_model_too_big_for_the_free_memory_is_loaded_only_when_confirmed(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "huge.gguf"
    model.write_bytes(b"GGUF" + bytes(4096))
    monkeypatch.setattr(fit, "available_memory", lambda *args: 64 * 1024)  # a machine with 64 KiB free
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, load_too_big=False)
    window = MainWindow(None, dialogs)
    qtbot.addWidget(window)
    window.models.record(str(model), LLM)
    window._rebuild_models_menu()
    entry = next(a for a in window.models_menu.actions() if a.statusTip() == str(model))
    entry.trigger()
    name, (asked_name, message) = dialogs.asked[-1]
    assert (name, asked_name) == ("load_too_big", "huge.gguf")
    assert isinstance(message, str) and "is free" in message and "swap" in message
    assert window.settings.model_path == ""  # refused: the default model stays
    assert not window.runner.client("llm").is_alive
    window.close()


def test_the_models_menu_shows_the_active_image_model(qtbot: QtBot, tmp_path: Path) -> None:
    from studio.settings import Settings

    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD)
    empty = MainWindow(Settings(), dialogs)
    qtbot.addWidget(empty)
    texts = {action.text(): action for action in empty.models_menu.actions()}
    assert not texts["No image model chosen"].isEnabled()
    assert texts["&Manage Models…"].shortcut().toString() == "Ctrl+Shift+M"
    empty.close()

    chosen = str(tmp_path / "tiny-sd")
    window = MainWindow(Settings(image_model_path=chosen), dialogs)
    qtbot.addWidget(window)
    image_entries = [a for a in window.models_menu.actions() if a.objectName() == "image_model"]
    assert [(a.statusTip(), a.isChecked()) for a in image_entries] == [(chosen, True)]
    assert "No image model chosen" not in [a.text() for a in window.models_menu.actions()]
    window.close()


def test_an_unreachable_server_is_an_error_and_the_window_lives_on(qtbot: QtBot) -> None:
    window = MainWindow(None, ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD))
    qtbot.addWidget(window)
    window.show()
    connect = next(a for a in window.models_menu.actions() if a.objectName() == "connect_to_server")
    assert connect.shortcut().toString() == "Ctrl+Alt+S"
    window.model_controller.connect_server("http://127.0.0.1:9")
    qtbot.waitUntil(window.error_label.isVisible, timeout=60_000)
    assert "127.0.0.1:9" in window.error_label.text()
    assert window.isVisible()
    window.write.set_suggestions_enabled(False)
    window.close()
