"""The Canvas Size, Image Size and model dialogs return what was chosen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from studio.canvas.document import Resample
from studio.ui.canvas.model_picker import ModelPathDialog
from studio.ui.canvas.size_dialogs import CanvasSizeDialog, ImageSizeDialog


def test_canvas_size_dialog_anchor(qtbot: QtBot) -> None:
    dialog = CanvasSizeDialog(640, 480)
    qtbot.addWidget(dialog)
    assert dialog.result_size() == (640, 480, (0.5, 0.5))
    dialog.width_box.setValue(800)
    dialog.anchor_buttons.button(8).click()  # bottom right
    assert dialog.result_size() == (800, 480, (1.0, 1.0))
    dialog.set_anchor((0, 0.5))
    assert dialog.anchor() == (0.0, 0.5)


def test_image_size_dialog_keeps_the_aspect_ratio(qtbot: QtBot) -> None:
    dialog = ImageSizeDialog(640, 480)
    qtbot.addWidget(dialog)
    dialog.width_box.setValue(320)
    assert dialog.height_box.value() == 240
    dialog.height_box.setValue(960)
    assert dialog.width_box.value() == 1280
    dialog.keep_ratio.setChecked(False)
    dialog.width_box.setValue(100)
    assert dialog.height_box.value() == 960
    dialog.resample_combo.setCurrentIndex(dialog.resample_combo.findData("nearest"))
    assert dialog.result_size() == (100, 960, Resample.NEAREST)


def test_model_dialog_accepts_a_checkpoint_file_or_a_folder(qtbot: QtBot, tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"x")
    folder = tmp_path / "diffusers-model"
    folder.mkdir()
    for target in (checkpoint, folder):
        dialog = ModelPathDialog(None, str(tmp_path))
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.selectFile(str(target))
        dialog.accept()
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert dialog.chosen == str(target)
