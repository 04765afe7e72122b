"""The Canvas workspace: documents, files, undo, actions, side panels, and how it looks."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLabel, QScrollArea, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.image_io import load_image
from studio.canvas.ora import load_ora
from studio.canvas.png_metadata import GenerationInfo, read_generation_info
from studio.ui.canvas.workspace import CanvasWorkspace


def make_workspace(qtbot: QtBot) -> CanvasWorkspace:
    workspace = CanvasWorkspace()
    qtbot.addWidget(workspace)
    workspace.resize(1200, 800)
    workspace.show()
    qtbot.waitExposed(workspace)
    return workspace


def gradient(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.empty((height, width, 4), dtype=np.uint8)
    pixels[..., 0] = (xs * 255 // max(1, width - 1)).astype(np.uint8)
    pixels[..., 1] = (ys * 255 // max(1, height - 1)).astype(np.uint8)
    pixels[..., 2] = 90
    pixels[..., 3] = 255
    return pixels


def test_first_run_shows_a_new_transparent_canvas(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    assert document.size == (512, 512)
    assert len(document.layers) == 1 and not document.active_layer.pixels.any()
    assert not workspace.is_modified and workspace.path is None and workspace.title == "Untitled"
    assert workspace.view.document is document
    assert workspace.layers_panel.document is document
    assert workspace.opened_generation_info is None
    # Fitted: the whole canvas is visible.
    canvas = workspace.view.canvas_rect_to_widget(document.bounds).toAlignedRect()
    assert workspace.view.viewport().rect().contains(canvas)
    assert "512 × 512" in workspace.status_label.text()


def test_new_canvas_replaces_the_document(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    old = workspace.document
    with qtbot.waitSignal(workspace.document_changed):
        document = workspace.new_canvas(300, 200)
    assert workspace.document is document is not old
    assert document.size == (300, 200)
    assert len(old.pixels_changed) == 0 and len(old.layers_changed) == 0  # the old one is let go
    with pytest.raises(CanvasError):
        workspace.new_canvas(0, 10)
    assert workspace.document is document


@pytest.mark.parametrize(("suffix", "format_name"), [(".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP")])
def test_open_images(qtbot: QtBot, tmp_path: Path, suffix: str, format_name: str) -> None:
    workspace = make_workspace(qtbot)
    pixels = gradient(96, 64)
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(pixels[..., :3]).save(
        path, format=format_name, **({"quality": 95} if suffix != ".png" else {})
    )
    with qtbot.waitSignal(workspace.document_changed):
        document = workspace.open_path(path)
    assert workspace.document is document
    assert document.size == (96, 64)
    assert document.layers[0].name == "photo"
    difference = np.abs(document.layers[0].pixels.astype(int) - pixels.astype(int))
    assert difference.max() <= (0 if suffix == ".png" else 16)
    assert workspace.path is None  # saving asks for an .ora file
    assert workspace.source_path == path and workspace.title == path.name
    assert not workspace.is_modified
    with pytest.raises(CanvasError, match="no OpenRaster file"):
        workspace.save()


def test_opened_png_generation_settings_are_kept_and_announced(qtbot: QtBot, tmp_path: Path) -> None:
    workspace = make_workspace(qtbot)
    path = tmp_path / "generated.png"
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a lighthouse at dusk\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
        "Seed: 1234, Size: 64x48, Model: dreamy",
    )
    Image.fromarray(gradient(64, 48)).save(path, pnginfo=info)
    with qtbot.waitSignal(workspace.generation_info_found) as blocker:
        workspace.open_path(path)
    found = blocker.args[0]
    assert isinstance(found, GenerationInfo)
    assert found.prompt == "a lighthouse at dusk" and found.seed == 1234 and found.source == "a1111"
    assert workspace.opened_generation_info is found

    workspace.new_canvas(32, 32)
    assert workspace.opened_generation_info is None


def test_save_ora_round_trip_and_modified_state(qtbot: QtBot, tmp_path: Path) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.new_canvas(80, 60)
    modified: list[bool] = []
    workspace.modified_changed.connect(modified.append)
    document.set_layer_pixels(document.layers[0], gradient(80, 60))
    sky = document.add_layer("Sky", provenance={"prompt": "clouds", "seed": 3, "model": "m"})
    with document.edit_pixels(sky, Rect(10, 5, 30, 20)) as pixels:
        pixels[...] = (255, 255, 255, 128)
    document.set_layer_opacity(sky, 0.5)
    hidden = document.add_layer("Hidden")
    document.set_layer_visible(hidden, False)
    document.set_active_layer(sky)
    assert workspace.is_modified and modified == [True]

    target = workspace.save_as(tmp_path / "picture")
    assert target == tmp_path / "picture.ora" and target.is_file()
    assert workspace.path == target and not workspace.is_modified and modified == [True, False]

    reopened = load_ora(target)
    assert [layer.name for layer in reopened.layers] == ["Background", "Sky", "Hidden"]
    for saved, original in zip(reopened.layers, document.layers, strict=True):
        assert np.array_equal(saved.pixels, original.pixels)
        assert (saved.visible, saved.opacity) == (original.visible, original.opacity)
    assert reopened.layers[1].provenance == {"prompt": "clouds", "seed": 3, "model": "m"}
    assert reopened.active_layer.name == "Sky"

    document.add_layer("Later")
    assert workspace.is_modified
    assert workspace.save() == target
    assert not workspace.is_modified
    assert len(load_ora(target).layers) == 4

    workspace.new_canvas(10, 10)
    opened = workspace.open_path(target)
    assert workspace.path == target
    assert [layer.name for layer in opened.layers] == ["Background", "Sky", "Later", "Hidden"]
    assert np.array_equal(opened.composite(), document.composite())

    with pytest.raises(CanvasError, match="OpenRaster"):
        workspace.save_as(tmp_path / "flat.png")


def test_export_png_writes_the_composite_and_provenance(qtbot: QtBot, tmp_path: Path) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.new_canvas(40, 30)
    document.set_layer_pixels(document.layers[0], gradient(40, 30))
    generated = document.add_layer("Generated", provenance={"prompt": "a red fox", "seed": 99, "model": "sd"})
    with document.edit_pixels(generated, Rect(0, 0, 10, 10)) as pixels:
        pixels[...] = (200, 50, 0, 255)
    target = workspace.export_png(tmp_path / "flat")
    assert target == tmp_path / "flat.png"
    assert np.array_equal(load_image(target), document.composite())
    info = read_generation_info(target)
    assert info is not None and info.prompt == "a red fox" and info.seed == 99
    assert workspace.is_modified  # exporting is not saving


def test_broken_files_raise_and_leave_the_document_alone(qtbot: QtBot, tmp_path: Path) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.new_canvas(64, 64)
    document.add_layer("Work")
    saved = workspace.save_as(tmp_path / "work.ora")
    changes: list[object] = []
    workspace.document_changed.connect(lambda: changes.append("document"))

    png = io.BytesIO()
    Image.fromarray(gradient(64, 64)).save(png, format="PNG")
    broken = {
        "garbage.png": b"this is not an image at all",
        "truncated.png": png.getvalue()[: len(png.getvalue()) // 2],
        "empty.jpg": b"",
        "bad.ora": b"PK\x03\x04 not really a zip",
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as ora:
        ora.writestr("mimetype", "image/openraster")
    broken["nostack.ora"] = archive.getvalue()
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
    for name in [*broken, "missing.png", "missing.ora"]:
        with pytest.raises(CanvasError) as raised:
            workspace.open_path(tmp_path / name)
        assert str(raised.value)  # a message for the user
        assert workspace.document is document
        assert workspace.path == saved
    assert changes == []
    assert [layer.name for layer in document.layers] == ["Background", "Work"]


def test_save_failure_is_a_canvas_error(qtbot: QtBot, tmp_path: Path) -> None:
    workspace = make_workspace(qtbot)
    workspace.document.add_layer("Work")
    with pytest.raises(CanvasError, match="Could not save"):
        workspace.save_as(tmp_path / "no such folder" / "work.ora")
    assert workspace.is_modified and workspace.path is None


def test_undo_redo_and_action_list(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    assert not workspace.undo_action.isEnabled()
    document.add_layer("One")
    assert workspace.undo_action.isEnabled() and "Add layer" in workspace.undo_action.text()
    workspace.undo_action.trigger()
    assert len(document.layers) == 1
    assert workspace.redo_action.isEnabled()
    workspace.redo()
    assert len(document.layers) == 2
    assert workspace.undo()
    assert len(document.layers) == 1

    actions = workspace.actions()
    names = {action.text().replace("&", "") for action in actions}
    for wanted in ("Zoom In", "Zoom Out", "Fit to Window", "Actual Size", "Brush", "Eraser", "Deselect"):
        assert wanted in names
    for action in actions:
        assert not action.shortcut().isEmpty(), action.text()
        assert action.statusTip(), action.text()
    shortcuts = [action.shortcut().toString() for action in actions]
    assert len(shortcuts) == len(set(shortcuts))  # no two actions share a shortcut

    zoom = workspace.view.zoom
    workspace.zoom_in_action.trigger()
    assert workspace.view.zoom > zoom
    workspace.actual_size_action.trigger()
    assert workspace.view.zoom == 1.0
    workspace.fit_action.trigger()
    assert workspace.view.zoom == pytest.approx(zoom)


def test_side_panels_dock_under_the_layers(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    panel = QLabel("Generation settings")
    frame = workspace.add_side_panel(panel, "Generate")
    assert workspace.side_panels() == [workspace.layers_panel, panel]
    assert panel.isVisible() and frame.isVisible()
    layers_bottom = workspace.layers_panel.mapTo(workspace, QPoint(0, workspace.layers_panel.height())).y()
    assert panel.mapTo(workspace, QPoint(0, 0)).y() > layers_bottom - 1


def test_the_first_docked_panel_gets_the_room_its_content_needs(qtbot: QtBot) -> None:
    """A low column gives the Layers box and later panels compact sizes and the first docked panel (Generate)
    the height its content needs, even inside a scroll area; it fits again when that need grows."""
    workspace = CanvasWorkspace()
    qtbot.addWidget(workspace)
    workspace.resize(1000, 560)
    content = QWidget()
    text = QLabel("\n".join(["a line of settings"] * 12))
    QVBoxLayout(content).addWidget(text)
    scroller = QScrollArea()
    scroller.setWidget(content)
    scroller.setWidgetResizable(True)
    workspace.add_side_panel(scroller, "Generate")
    results = QLabel("Results")
    workspace.add_side_panel(results, "Candidates")
    workspace.show()
    qtbot.waitExposed(workspace)
    qtbot.waitUntil(lambda: scroller.viewport().height() >= content.minimumSizeHint().height())
    assert workspace.layers_panel.list.isVisible() and workspace.layers_panel.list.height() > 0
    assert results.isVisible()
    needed = content.minimumSizeHint().height()
    text.setText("\n".join(["a line of settings"] * 15))  # e.g. a longer message
    qtbot.waitUntil(lambda: content.minimumSizeHint().height() > needed)
    qtbot.waitUntil(lambda: scroller.viewport().height() >= content.minimumSizeHint().height())
    assert text.visibleRegion().boundingRect() == text.rect()


def test_tool_errors_are_reported(qtbot: QtBot) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    document.set_layer_visible(document.active_layer, False)
    view = workspace.view
    point = view.canvas_to_widget((100, 100))
    with qtbot.waitSignal(workspace.failed) as blocker:
        qtbot.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(round(point.x()), round(point.y()))
        )
    assert "hidden" in blocker.args[0]


def test_screenshot_looks_like_a_paint_app(qtbot: QtBot, tmp_path: Path) -> None:
    workspace = make_workspace(qtbot)
    document = workspace.document
    ys, xs = np.mgrid[0:512, 0:512]
    background = gradient(512, 512)
    document.set_layer_pixels(document.layers[0], background)
    sun = document.add_layer("Sun")
    with document.edit_pixels(sun) as pixels:
        pixels[(xs - 300) ** 2 + (ys - 180) ** 2 < 80**2] = (255, 220, 60, 255)
    clouds = document.add_layer("Clouds", provenance={"prompt": "soft clouds", "seed": 5})
    with document.edit_pixels(clouds, Rect(40, 380, 260, 90)) as pixels:
        pixels[...] = (255, 255, 255, 170)
    document.select_rect(Rect(380, 300, 200, 150))  # reaches past the right edge: an outpaint request
    workspace.add_side_panel(QLabel("Prompt, model, steps…"), "Generate")
    workspace.view.fit_to_window()
    QApplication.processEvents()
    image = workspace.grab().toImage()
    assert image.save(str(tmp_path / "canvas.png"))
    assert (image.width(), image.height()) == (1200, 800)
    # The canvas shows the sun where it is.
    sun_at = workspace.view.canvas_to_widget((300, 180))
    sun_in_workspace = workspace.view.viewport().mapTo(
        workspace, QPoint(round(sun_at.x()), round(sun_at.y()))
    )
    colour = image.pixelColor(sun_in_workspace)
    assert (colour.red(), colour.green(), colour.blue()) == (255, 220, 60)
