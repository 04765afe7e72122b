"""The main window with the real LLM engine process on the default model, driven with qtbot."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from studio.settings import Settings, load_settings, save_settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import MainWindow
from studio.ui.model_status import ModelState

WAIT_MS = 240_000


def make_window(
    qtbot: QtBot, settings: Settings | None = None, dialogs: ScriptedDialogs | None = None
) -> MainWindow:
    window = MainWindow(settings, dialogs or ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def close_window(window: MainWindow) -> None:
    window.write.set_suggestions_enabled(False)
    window.close()


def wait_ready(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(
        lambda: window.model_status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS
    )
    assert window.model_status.state == ModelState.READY, window.model_status.message


def test_startup_imports_no_model_code(tmp_path: Path) -> None:
    """The window is up before any model library is imported (checked in a fresh interpreter)."""
    script = textwrap.dedent(
        """
        import json, os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from studio.ui.app import create_application
        app = create_application()
        from studio.ui.main_window import MainWindow
        window = MainWindow()
        window.show()
        app.processEvents()
        heavy = sorted(m for m in ("torch", "diffusers", "llama_cpp", "transformers") if m in sys.modules)
        print(json.dumps({"visible": window.isVisible(), "heavy": heavy}))
        window.runner.shutdown()
        """
    )
    env = {
        **__import__("os").environ,
        "STUDIO_CONFIG_DIR": str(tmp_path / "c"),
        "STUDIO_DATA_DIR": str(tmp_path / "d"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"visible": True, "heavy": []}


@pytest.mark.llm
def test_model_loads_in_the_background_and_ghost_text_is_accepted(qtbot: QtBot) -> None:
    settings = Settings(suggestion_delay_ms=200, suggestion_max_tokens=8, temperature=0.0)
    window = make_window(qtbot, settings)
    assert window.model_status.state == ModelState.NOT_LOADED
    window.start_engines()
    assert window.model_status.state == ModelState.LOADING
    wait_ready(qtbot, window)
    assert "Gemma" in window.model_label.text() and "ready" in window.model_label.text()
    assert window.model_status.model_kind == "base"

    editor = window.write.current_editor()
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "The capital of France is")
    qtbot.waitUntil(lambda: editor.has_suggestion() and window.runner.running_jobs == [], timeout=WAIT_MS)
    suggestion = editor.ghost_text()
    assert suggestion.strip()
    assert editor.toPlainText() == "The capital of France is"
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == "The capital of France is" + suggestion
    assert editor.ai_ranges() == [
        (len("The capital of France is"), len("The capital of France is" + suggestion))
    ]
    editor.undo()
    assert editor.toPlainText() == "The capital of France is"
    close_window(window)


@pytest.mark.llm
def test_engine_killed_mid_suggestion_app_survives(qtbot: QtBot) -> None:
    settings = Settings(suggestion_delay_ms=100, suggestion_max_tokens=400, temperature=0.7)
    window = make_window(qtbot, settings)
    window.start_engines()
    wait_ready(qtbot, window)
    editor = window.write.current_editor()
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "Chapter one. It was a dark and stormy night")
    qtbot.waitUntil(lambda: editor.has_suggestion(), timeout=WAIT_MS)
    assert window.runner.running_jobs, "the long suggestion should still be streaming"
    assert window.job_status.isVisible()
    first_pid = window.runner.client("llm").pid
    window.runner.client("llm").kill()
    qtbot.waitUntil(lambda: window.error_label.isVisible(), timeout=WAIT_MS)
    assert "stopped unexpectedly" in window.error_label.text()
    assert editor.toPlainText() == "Chapter one. It was a dark and stormy night"
    assert window.isVisible()
    # the next request starts a fresh engine, which loads the model again, and suggests
    qtbot.keyClicks(editor, ".")
    editor.request_suggestion()
    qtbot.waitUntil(lambda: window.runner.client("llm").pid not in (None, first_pid), timeout=WAIT_MS)
    wait_ready(qtbot, window)
    qtbot.waitUntil(lambda: editor.has_suggestion(), timeout=WAIT_MS)
    close_window(window)


@pytest.mark.llm
def test_opening_an_invalid_model_shows_an_error(qtbot: QtBot, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 100)
    window = make_window(qtbot, Settings(suggestions_enabled=False))
    window.start_engines()
    wait_ready(qtbot, window)
    window.load_model(str(bad))
    qtbot.waitUntil(lambda: window.error_label.isVisible(), timeout=WAIT_MS)
    assert "broken.gguf" in window.error_label.text()
    # the header check refused it before the loaded model was dropped: the default model still serves
    wait_ready(qtbot, window)
    assert window.settings.model_path == ""
    assert "Gemma" in window.model_label.text()
    assert window.models.entries() == []


@pytest.mark.llm
def test_opening_another_model_records_it_in_the_registry(
    qtbot: QtBot, default_model_file: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "my-model.gguf"
    shutil.copyfile(default_model_file, copy)
    window = make_window(qtbot, Settings(suggestions_enabled=False))
    window.start_engines()
    wait_ready(qtbot, window)
    window.load_model(str(copy))
    qtbot.waitUntil(lambda: window.model_status.model_path == str(copy), timeout=WAIT_MS)
    wait_ready(qtbot, window)
    assert [entry.path for entry in window.models.entries()] == [str(copy)]
    assert window.models.entries()[0].details["model_kind"] == "base"
    entries = [action.text() for action in window.models_menu.actions()]
    assert "my-model.gguf" in entries
    close_window(window)
    # the chosen model comes back at the next start
    assert load_settings().model_path == str(copy)
    close_window(window)


def test_session_comes_back(qtbot: QtBot, tmp_path: Path) -> None:
    first_doc = tmp_path / "one.md"
    first_doc.write_text("# One\n", encoding="utf-8")
    second_doc = tmp_path / "two.txt"
    second_doc.write_text("two\r\n", encoding="utf-8")
    save_settings(Settings(model_path="/models/x.gguf"))
    window = make_window(qtbot)
    assert window.open_path(str(first_doc)) and window.open_path(str(second_doc))
    window.resize(760, 560)
    window.workspaces.setCurrentIndex(1)
    close_window(window)

    saved = load_settings()
    assert saved.open_documents == [str(first_doc), str(second_doc)]
    assert saved.model_path == "/models/x.gguf"
    assert saved.workspace == "canvas"
    again = make_window(qtbot)
    assert again.write.open_paths() == [str(first_doc), str(second_doc)]
    assert again.workspaces.currentIndex() == 1
    assert (again.width(), again.height()) == (760, 560)
    assert "x.gguf" in again.model_label.text()
    again.workspaces.setCurrentIndex(0)
    assert again.windowTitle() == "two.txt — Studio"
    close_window(again)


def test_settings_dialog_applies_and_saves(qtbot: QtBot) -> None:
    from studio.ui.settings_dialog import SettingsDialog

    window = make_window(qtbot)
    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    dialog.suggestion_delay.setValue(900)
    dialog.suggestion_length.setValue(40)
    dialog.temperature.setValue(0.3)
    dialog.context_size.setValue(2048)
    dialog.threads.setValue(1)
    window.apply_settings(dialog.result_settings())
    editor = window.write.current_editor()
    assert editor is not None and editor.suggestion_delay() == 900
    saved = load_settings()
    assert (saved.suggestion_delay_ms, saved.suggestion_max_tokens, saved.temperature) == (900, 40, 0.3)
    assert (saved.context_size, saved.threads) == (2048, 1)
    close_window(window)


def test_unreadable_document_shows_an_error(qtbot: QtBot, tmp_path: Path) -> None:
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\x89PNG\x00\x00\x00binary")
    window = make_window(qtbot)
    assert not window.open_path(str(binary))
    assert window.error_label.isVisible()
    assert "image.md" in window.error_label.text()
    close_window(window)


def test_unsaved_work_comes_back_after_a_crash(qtbot: QtBot) -> None:
    """A session that dies without saving leaves a recovery copy; the next start offers it back."""
    import os

    script = textwrap.dedent(
        """
        import os
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from studio.ui.app import create_application
        app = create_application()
        from studio.ui.main_window import MainWindow
        window = MainWindow()
        window.show()
        editor = window.write.current_editor()
        editor.insertPlainText("Chapter one\\n\\nThe words I must not lose.")
        window.write.autosave_now()
        os._exit(1)  # a crash: no clean shutdown, nothing saved
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert result.returncode == 1, result.stderr

    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, restore_work=True)
    window = make_window(qtbot, dialogs=dialogs)
    assert dialogs.questions() == ["restore_work"]
    texts = [editor.toPlainText() for editor in window.write.editors()]
    assert "Chapter one\n\nThe words I must not lose." in texts
    assert window.write.has_unsaved_changes()
    close_window(window)


def test_files_handed_over_by_the_desktop_are_opened(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from studio.ui.app import FileOpenFilter

    document = tmp_path / "notes.md"
    document.write_text("From the Finder\n", encoding="utf-8")
    window = make_window(qtbot)
    event_filter = FileOpenFilter(window.open_path, window)
    app = QApplication.instance()
    assert app is not None
    app.installEventFilter(event_filter)
    QApplication.sendEvent(app, QFileOpenEvent(str(document)))
    assert str(document) in window.write.open_paths()
    app.removeEventFilter(event_filter)
    close_window(window)


def test_the_app_starts_and_closes_cleanly_as_a_process(tmp_path: Path) -> None:
    """``studio`` as a user starts it (offscreen): the window comes up and a clean close saves the session."""
    import os

    env = {
        **os.environ,
        "STUDIO_CONFIG_DIR": str(tmp_path / "config"),
        "STUDIO_DATA_DIR": str(tmp_path / "data"),
        "STUDIO_QUIT_AFTER_MS": "1500",
    }
    document = tmp_path / "chapter.md"
    document.write_text("# Chapter\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "studio", str(document)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "config" / "settings.json").read_text(encoding="utf-8"))
    assert saved["open_documents"] == [str(document)]
