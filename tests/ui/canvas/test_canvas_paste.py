"""Pasting an image larger than the canvas asks first: expand the canvas (one undo step with the paste), keep
the canvas size (the image is cut off), or cancel. Through the real system clipboard."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from studio.canvas.geometry import Rect
from studio.ui.canvas.qimage import rgba_to_qimage
from studio.ui.canvas.workspace import PASTE_EXPANDING_LABEL, CanvasWorkspace
from studio.ui.dialogs import PasteChoice, QtDialogs, ScriptedDialogs


def pattern(width: int, height: int, seed: int) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[..., 3] = np.maximum(pixels[..., 3], 1)  # no fully transparent pixel: all of it shows in the layer
    return pixels


def workspace_with(qtbot: QtBot, choice: PasteChoice) -> tuple[CanvasWorkspace, ScriptedDialogs, np.ndarray]:
    """A shown 40×30 canvas whose one layer holds a pattern, fitted in view; the dialogs answer ``choice``."""
    dialogs = ScriptedDialogs(paste_larger_than_canvas=choice)
    workspace = CanvasWorkspace(dialogs=dialogs)
    qtbot.addWidget(workspace)
    workspace.resize(1000, 700)
    workspace.show()
    qtbot.waitExposed(workspace)
    document = workspace.new_canvas(40, 30)
    original = pattern(40, 30, seed=1)
    document.set_layer_pixels(document.active_layer, original)
    workspace.fit_action.trigger()
    return workspace, dialogs, original


def test_expanding_grows_the_canvas_to_the_pasted_image_in_one_undo_step(qtbot: QtBot) -> None:
    workspace, dialogs, original = workspace_with(qtbot, PasteChoice.EXPAND)
    document = workspace.document
    background = document.active_layer
    image = pattern(64, 48, seed=2)
    QGuiApplication.clipboard().setImage(rgba_to_qimage(image))
    steps = document.history.undo_steps

    workspace.paste_action.trigger()
    assert dialogs.asked == [("paste_larger_than_canvas", ((64, 48), (40, 30)))]
    assert document.size == (64, 48)
    pasted = document.active_layer
    assert pasted.name == "Pasted" and len(document.layers) == 2
    np.testing.assert_array_equal(pasted.pixels, image)  # all of it, nothing cut off
    np.testing.assert_array_equal(background.pixels[:30, :40], original)  # the old content stays put
    assert not background.pixels[30:].any() and not background.pixels[:, 40:].any()
    assert document.history.undo_steps == steps + 1
    assert document.history.undo_label == PASTE_EXPANDING_LABEL
    assert workspace.undo_action.text() == f"&Undo {PASTE_EXPANDING_LABEL}"

    workspace.undo_action.trigger()  # one step takes back both
    assert document.size == (40, 30) and len(document.layers) == 1
    np.testing.assert_array_equal(document.active_layer.pixels, original)
    workspace.redo_action.trigger()
    assert document.size == (64, 48) and len(document.layers) == 2
    np.testing.assert_array_equal(document.active_layer.pixels, image)


def test_expanding_from_a_selection_keeps_the_image_at_its_top_left(qtbot: QtBot) -> None:
    workspace, _dialogs, original = workspace_with(qtbot, PasteChoice.EXPAND)
    document = workspace.document
    image = pattern(50, 10, seed=3)  # wider than the canvas only
    QGuiApplication.clipboard().setImage(rgba_to_qimage(image))
    document.select_rect(Rect(5, 25, 4, 4))
    layer = workspace.paste()
    assert layer is not None
    assert document.size == (55, 35)
    np.testing.assert_array_equal(layer.pixels[25:35, 5:55], image)
    workspace.undo()
    assert document.size == (40, 30)
    np.testing.assert_array_equal(document.active_layer.pixels, original)


def test_keeping_the_canvas_size_centres_the_image_in_view_and_cuts_it_off(qtbot: QtBot) -> None:
    workspace, dialogs, original = workspace_with(qtbot, PasteChoice.KEEP)
    document = workspace.document
    image = pattern(64, 20, seed=4)  # wider than the canvas, not as high
    QGuiApplication.clipboard().setImage(rgba_to_qimage(image))
    centre = workspace.view.visible_canvas_rect().center()
    assert abs(centre.x() - 20) <= 1 and abs(centre.y() - 15) <= 1  # fitted: the view centres the canvas

    layer = workspace.paste()
    assert dialogs.questions() == ["paste_larger_than_canvas"]
    assert layer is not None and document.size == (40, 30)
    x = round(centre.x() - 32)  # the image's middle at the view's middle, covering the width edge to edge
    y = round(centre.y() - 10)
    np.testing.assert_array_equal(layer.pixels[y : y + 20], image[:, -x : -x + 40])
    assert not layer.pixels[:y].any() and not layer.pixels[y + 20 :].any()
    assert document.history.undo_label == "Paste"
    workspace.undo_action.trigger()
    assert len(document.layers) == 1 and document.size == (40, 30)
    np.testing.assert_array_equal(document.active_layer.pixels, original)


def test_cancel_changes_nothing(qtbot: QtBot) -> None:
    workspace, dialogs, original = workspace_with(qtbot, PasteChoice.CANCEL)
    document = workspace.document
    QGuiApplication.clipboard().setImage(rgba_to_qimage(pattern(41, 30, seed=5)))
    failures: list[str] = []
    workspace.failed.connect(failures.append)
    steps = document.history.undo_steps
    assert workspace.paste() is None
    assert dialogs.questions() == ["paste_larger_than_canvas"]
    assert document.size == (40, 30) and len(document.layers) == 1
    assert document.history.undo_steps == steps and failures == []
    np.testing.assert_array_equal(document.active_layer.pixels, original)


def test_an_image_that_fits_is_pasted_without_asking(qtbot: QtBot) -> None:
    workspace, dialogs, _original = workspace_with(qtbot, PasteChoice.CANCEL)
    QGuiApplication.clipboard().setImage(rgba_to_qimage(pattern(40, 30, seed=6)))
    assert workspace.paste() is not None
    assert dialogs.asked == []


def test_the_real_dialog_offers_expand_keep_and_cancel(qtbot: QtBot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    for button, expected in (
        (QMessageBox.StandardButton.Yes, PasteChoice.EXPAND),
        (QMessageBox.StandardButton.No, PasteChoice.KEEP),
        (QMessageBox.StandardButton.Cancel, PasteChoice.CANCEL),
    ):
        seen: list[tuple[str, str, str]] = []

        def click(
            button: QMessageBox.StandardButton = button, seen: list[tuple[str, str, str]] = seen
        ) -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):
                QTimer.singleShot(20, click)
                return
            yes = box.button(QMessageBox.StandardButton.Yes)
            no = box.button(QMessageBox.StandardButton.No)
            seen.append((box.text(), yes.text(), no.text()))
            box.button(button).click()

        QTimer.singleShot(0, click)
        assert QtDialogs(parent).paste_larger_than_canvas((64, 48), (40, 30)) is expected
        text, yes, no = seen[0]
        assert "64 × 48" in text and "40 × 30" in text
        assert yes.replace("&", "") == "Expand Canvas" and no.replace("&", "") == "Keep Canvas Size"
