"""The Canvas workspace inside the main window: files, session, and generating with the real engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from studio.canvas.png_metadata import read_digital_source_type, read_generation_info
from studio.settings import Settings, load_settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import CANVAS_INDEX, WRITE_INDEX, MainWindow

WAIT_MS = 240_000


def make_window(qtbot: QtBot, settings: Settings | None = None) -> MainWindow:
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, unsaved_canvas=UnsavedChoice.DISCARD)
    window = MainWindow(settings if settings is not None else Settings(suggestions_enabled=False), dialogs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_images_open_on_the_canvas_and_documents_in_write(qtbot: QtBot, tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(image)
    text = tmp_path / "notes.md"
    text.write_text("notes\n", encoding="utf-8")
    window = make_window(qtbot)
    assert window.open_path(str(image))
    assert window.workspaces.currentIndex() == CANVAS_INDEX
    assert window.canvas.document.size == (40, 30)
    assert window.open_path(str(text))
    assert window.workspaces.currentIndex() == WRITE_INDEX
    broken = tmp_path / "broken.png"
    broken.write_bytes(Image.new("RGB", (10, 10)).tobytes()[:20])
    assert not window.open_path(str(broken))
    assert window.error_label.isVisible() and "broken.png" in window.error_label.text()
    assert window.canvas.document.size == (40, 30)  # the open canvas is untouched
    window.close()


def test_canvas_saves_as_openraster_and_comes_back(qtbot: QtBot, tmp_path: Path) -> None:
    window = make_window(qtbot)
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    window.canvas.new_canvas(32, 24)
    window.canvas.document.add_layer("Sketch")
    target = tmp_path / "picture.ora"
    assert isinstance(window.dialogs, ScriptedDialogs)
    window.dialogs.answers.canvas_save_path = target
    assert window.save_document()  # File ▸ Save on the Canvas asks for a name, then writes .ora
    assert target.is_file() and not window.canvas.is_modified
    window.close()
    assert str(target) in load_settings().open_documents
    again = make_window(qtbot, load_settings())
    assert again.canvas.path == target
    assert again.write.current_editor() is not None
    assert [layer.name for layer in again.canvas.document.layers][-1] == "Sketch"
    again.close()


@pytest.mark.diffusion
def test_generate_on_the_canvas_with_previews_progress_and_provenance(
    qtbot: QtBot, tiny_pipeline: Path, tmp_path: Path
) -> None:
    window = make_window(qtbot)
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    window.canvas.new_canvas(64, 64)
    panel = window.generate_panel
    panel.set_model_path(str(tiny_pipeline))
    assert load_settings().image_model_path == "" and window.settings.image_model_path == str(tiny_pipeline)
    panel.prompt_edit.setPlainText("a lighthouse at dusk")
    panel.steps_spin.setValue(40)
    panel.random_seed_check.setChecked(False)
    panel.seed_edit.setText("11")
    panel.candidates_spin.setValue(2)
    panel.resolution_spin.setValue(64)  # the tiny test model, not SD's native 512
    panel.generate_action.trigger()
    # while it runs: the status bar shows the job with a progress bar, the preview shows in place
    qtbot.waitUntil(lambda: window.canvas.view.preview_image is not None, timeout=WAIT_MS)
    assert window.job_status.isVisible()
    qtbot.waitUntil(lambda: window.candidates.count() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.runner.running_jobs, timeout=WAIT_MS)
    assert not window.job_status.isVisible()
    before = len(window.canvas.document.layers)
    window.candidates.apply(0)
    layers = window.canvas.document.layers
    assert len(layers) == before + 1
    assert layers[-1].name.startswith("a lighthouse at dusk")
    assert layers[-1].provenance is not None and layers[-1].provenance["seed"] == 11
    pixels = window.canvas.document.composite()
    assert np.any(pixels[..., 3] > 0)
    exported = tmp_path / "lighthouse.png"
    window.canvas.export_png(str(exported))
    info = read_generation_info(exported)
    assert info is not None and info.prompt == "a lighthouse at dusk" and info.seed == 11
    source_type = read_digital_source_type(exported)
    assert source_type is not None and source_type.endswith("trainedAlgorithmicMedia")
    # the window's Undo on the Canvas removes the applied layer
    window.canvas.undo_action.trigger()
    assert len(window.canvas.document.layers) == before
    window.close()
