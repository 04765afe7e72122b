"""The generation controller with the real diffusion engine process on the tiny pipeline (64×64, 2 steps)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.canvas.generation import apply_result
from studio.canvas.geometry import Rect
from studio.canvas.png_metadata import export_png_with_provenance, read_generation_info
from studio.engines.protocol import EngineEvent, EventKind

pytestmark = pytest.mark.diffusion

WAIT_MS = 180_000


def gradient_document(width: int = 64, height: int = 64) -> CanvasDocument:
    document = CanvasDocument(width, height, background=(40, 90, 160))
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    pixels[:, :, 1] = np.linspace(255, 0, height, dtype=np.uint8)[:, None]
    pixels[:, :, 2] = 90
    pixels[:, :, 3] = 255
    document.set_layer_pixels(document.active_layer, pixels, "Fill")
    return document


def test_txt2img_candidates_previews_apply_and_undo(qtbot: QtBot, make_rig, tmp_path: Path) -> None:
    document = CanvasDocument(64, 64)
    rig = make_rig(document, model=None)
    panel, strip, controller = rig.panel, rig.strip, rig.controller
    assert panel.set_model_path(str(rig.tiny_model))  # notifies: the controller loads the model now
    qtbot.waitUntil(lambda: "px" in panel.model_label.text(), timeout=WAIT_MS)
    assert "64 px" in panel.model_label.text()
    panel.candidates_spin.setValue(2)
    layers_before = len(document.layers)

    panel.prompt_edit.setFocus()
    qtbot.keyClick(panel.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert controller.is_running
    assert panel.cancel_button.isEnabled() and not panel.generate_button.isEnabled()
    request = controller.last_request
    assert request is not None
    assert (request.mode, request.width, request.height, request.steps) == ("txt2img", 64, 64, 2)
    assert (request.seed, request.num_candidates, request.init_image) == (7, 2, None)
    rig.wait_done(qtbot)

    assert not panel.message_is_error, panel.message
    assert strip.count() == 2
    assert [c.seed for c in controller.candidates] == [7, 8]
    assert not np.array_equal(controller.candidates[0].rgb, controller.candidates[1].rgb)
    assert controller.candidates[0].params["prompt"] == "a red fox in the snow"
    live = [call for call in rig.previews if call.running]
    assert live, "no preview was shown while generating"
    assert all(call.rect == Rect(0, 0, 64, 64) and call.image is not None for call in live)
    assert live[0].image is not None and live[0].image.size().toTuple() == (64, 64)
    # the first candidate is selected and shown in place, blended as applying will
    assert strip.current_index() == 0
    last = rig.previews[-1]
    assert last.rect == Rect(0, 0, 64, 64) and last.image is not None and not last.running

    QApplication.processEvents()  # lay out the new message before the screenshot
    rig.window.grab().save(str(tmp_path / "gen.png"))

    strip.select(1)
    strip.list.setFocus()
    qtbot.keyClick(strip.list, Qt.Key.Key_Return)
    assert len(document.layers) == layers_before + 1
    layer = document.active_layer
    assert layer.name == "a red fox in the snow (8)"
    provenance = layer.provenance
    assert provenance is not None
    assert provenance["prompt"] == "a red fox in the snow"
    assert provenance["seed"] == 8
    assert provenance["model"] == "tiny-folder"
    assert provenance["ai_generated"] is True
    assert provenance["parameters"]["steps"] == 2
    assert provenance["parameters"]["mode"] == "txt2img"
    candidate = controller.candidates[1]
    assert np.array_equal(layer.pixels, apply_result(candidate.plan, candidate.rgb))
    assert rig.previews[-1].rect is None and rig.previews[-1].image is None  # preview cleared

    out = tmp_path / "out.png"
    export_png_with_provenance(document, out)
    info = read_generation_info(out)
    assert info is not None and info.prompt == "a red fox in the snow" and info.seed == 8

    document.history.undo()
    assert len(document.layers) == layers_before
    assert all(layer.provenance is None for layer in document.layers)

    # discard one, then all
    strip.select(0)
    strip.list.setFocus()
    qtbot.keyClick(strip.list, Qt.Key.Key_Delete)
    assert strip.count() == 1 and [c.seed for c in controller.candidates] == [8]
    qtbot.keyClick(strip.list, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    assert strip.count() == 0 and controller.candidates == []
    assert rig.previews[-1].rect is None


def test_inpaint_keeps_pixels_outside_the_selection(qtbot: QtBot, make_rig) -> None:
    document = gradient_document()
    rig = make_rig(document)
    document.select_rect(Rect(16, 16, 24, 24))
    selected = document.selection.mask_for(document.bounds) > 0  # type: ignore[union-attr]
    before = document.composite().copy()

    rig.panel.generate_action.trigger()
    request = rig.controller.last_request
    assert request is not None and request.mode == "inpaint"
    assert request.init_image is not None and request.mask_image is not None
    rig.wait_done(qtbot)
    assert rig.strip.count() == 1, rig.panel.message

    item_rect = rig.strip.list.visualItemRect(rig.strip.list.item(0))
    viewport = rig.strip.list.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=item_rect.center())  # a real double-click
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=item_rect.center())  # starts with a press
    assert document.active_layer.name == "a red fox in the snow (7)"
    after = document.composite()
    assert np.array_equal(after[~selected], before[~selected])
    assert not np.array_equal(after[selected], before[selected])


def test_outpaint_grows_the_canvas(qtbot: QtBot, make_rig) -> None:
    document = gradient_document()
    rig = make_rig(document)
    document.select_rect(Rect(32, 0, 64, 64))  # reaches 32 px past the right edge
    before = document.composite().copy()

    rig.panel.generate_action.trigger()
    assert rig.controller.last_request is not None and rig.controller.last_request.mode == "outpaint"
    rig.wait_done(qtbot)
    assert rig.strip.count() == 1, rig.panel.message
    live = [call for call in rig.previews if call.running]
    assert live and all(call.rect is not None and call.rect.right > 64 for call in live)

    layer = rig.controller.apply(0)
    assert layer is not None
    assert document.size == (96, 64)
    assert np.array_equal(document.composite()[:, :32], before[:, :32])
    document.history.undo()
    assert document.size == (64, 64)


def test_vary_makes_an_img2img_variation_of_the_active_layer(qtbot: QtBot, make_rig) -> None:
    document = gradient_document()
    blob = np.zeros((64, 64, 4), dtype=np.uint8)
    blob[20:44, 12:52] = (200, 40, 40, 255)
    source = document.add_layer("Blob", blob)
    rig = make_rig(document)
    rig.panel.strength_spin.setValue(0.5)

    qtbot.keyClick(
        rig.panel.prompt_edit,
        Qt.Key.Key_Return,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    request = rig.controller.last_request
    assert request is not None and request.mode == "img2img" and request.strength == 0.5
    assert request.mask_image is None and request.init_image is not None
    rig.wait_done(qtbot)
    assert rig.strip.count() == 1, rig.panel.message

    layer = rig.controller.apply(0)
    assert layer is not None
    assert document.index_of(layer) == document.index_of(source) + 1
    assert np.array_equal(layer.pixels[:, :, 3] > 0, blob[:, :, 3] > 0)  # keeps the layer's shape
    assert layer.provenance is not None and layer.provenance["parameters"]["mode"] == "img2img"


def test_same_seed_gives_identical_candidates(qtbot: QtBot, make_rig) -> None:
    rig = make_rig(CanvasDocument(64, 64))
    rig.panel.set_seed(1234)
    for _ in range(2):
        assert rig.controller.generate() is not None
        rig.wait_done(qtbot)
    assert [c.seed for c in rig.controller.candidates] == [1234, 1234]
    assert np.array_equal(rig.controller.candidates[0].rgb, rig.controller.candidates[1].rgb)


def test_random_seed_is_reported_and_names_the_layer(qtbot: QtBot, make_rig) -> None:
    document = CanvasDocument(64, 64)
    rig = make_rig(document)
    rig.panel.random_seed_check.setChecked(True)
    rig.controller.generate()
    assert rig.controller.last_request is not None and rig.controller.last_request.seed == -1
    rig.wait_done(qtbot)
    seed = rig.controller.candidates[0].seed
    assert isinstance(seed, int) and seed >= 0
    layer = rig.controller.apply(0)
    assert layer is not None and layer.name == f"a red fox in the snow ({seed})"


def test_cancel_stops_at_once_and_clears_the_preview(qtbot: QtBot, make_rig) -> None:
    rig = make_rig(CanvasDocument(64, 64))
    rig.panel.steps_spin.setValue(500)
    rig.controller.generate()
    qtbot.waitUntil(
        lambda: any(call.running and call.image is not None for call in rig.previews), timeout=WAIT_MS
    )

    qtbot.mouseClick(rig.panel.cancel_button, Qt.MouseButton.LeftButton)
    assert not rig.controller.is_running
    assert rig.previews[-1].rect is None and rig.previews[-1].image is None
    assert rig.panel.generate_button.isEnabled() and not rig.panel.cancel_button.isEnabled()
    assert "Cancelled" in rig.panel.message
    rig.wait_idle(qtbot)
    assert rig.strip.count() == 0 and rig.controller.candidates == []
    assert rig.previews[-1].rect is None


def test_cancel_from_elsewhere_keeps_finished_candidates(qtbot: QtBot, make_rig) -> None:
    """The status bar cancels through the job handle; candidates finished before are kept."""
    rig = make_rig(CanvasDocument(64, 64))
    rig.panel.steps_spin.setValue(40)  # the second candidate still runs when the first one arrives
    rig.panel.candidates_spin.setValue(2)
    finals: list[EngineEvent] = []

    def on_event(event: EngineEvent) -> None:
        if event.kind is EventKind.PREVIEW and event.step is not None and event.step.final:
            finals.append(event)

    rig.runner.event_received.connect(on_event)
    handle = rig.controller.generate()
    assert handle is not None
    qtbot.waitUntil(lambda: bool(finals), timeout=WAIT_MS)
    handle.cancel()
    rig.wait_idle(qtbot)
    rig.runner.event_received.disconnect(on_event)
    assert not rig.controller.is_running
    assert rig.previews[-1].rect is None and rig.previews[-1].image is None
    assert rig.strip.count() == 1 and [c.seed for c in rig.controller.candidates] == [7]
    assert "Cancelled" in rig.panel.message


def test_generating_loads_the_chosen_model_first_once_per_engine_process(qtbot: QtBot, make_rig) -> None:
    """A generation request never loads a model: the controller sends the load itself, before it."""
    rig = make_rig(CanvasDocument(64, 64))
    started: list[str] = []

    def on_event(event: EngineEvent) -> None:
        handle = rig.runner.handle(event.job_id)
        if event.kind is EventKind.STARTED and handle is not None:
            started.append(type(handle.request).__name__)

    rig.runner.event_received.connect(on_event)
    try:
        for _ in range(2):
            assert rig.controller.generate() is not None
            rig.wait_done(qtbot)
            assert not rig.panel.message_is_error, rig.panel.message
        assert started == ["LoadPipelineRequest", "ImageRequest", "ImageRequest"]
        client = rig.runner.client("diffusion")
        client.kill()  # a fresh engine process has no model: the next generation loads it again
        qtbot.waitUntil(lambda: not client.is_alive, timeout=WAIT_MS)
        assert rig.controller.generate() is not None
        rig.wait_done(qtbot)
        assert not rig.panel.message_is_error, rig.panel.message
    finally:
        rig.runner.event_received.disconnect(on_event)
    assert started[3:] == ["LoadPipelineRequest", "ImageRequest"]
    assert rig.strip.count() == 3


def test_no_model_chosen_is_a_clear_message(qtbot: QtBot, make_rig) -> None:
    rig = make_rig(CanvasDocument(64, 64), model=None)
    assert rig.controller.generate() is None
    assert rig.panel.message_is_error
    assert "No image model chosen" in rig.panel.message
    assert not rig.controller.is_running and rig.runner.running_jobs == []


def test_engine_error_is_shown_in_the_panel(qtbot: QtBot, make_rig, tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    rig = make_rig(CanvasDocument(64, 64), model=broken)
    assert rig.controller.generate() is not None
    rig.wait_done(qtbot)
    assert rig.panel.message_is_error
    assert "broken.safetensors" in rig.panel.message
    assert rig.strip.count() == 0
    assert rig.previews == [] or rig.previews[-1].rect is None


def test_engine_crash_is_shown_in_the_panel(qtbot: QtBot, make_rig) -> None:
    rig = make_rig(CanvasDocument(64, 64))
    rig.panel.steps_spin.setValue(500)
    rig.controller.generate()
    qtbot.waitUntil(lambda: any(call.running for call in rig.previews), timeout=WAIT_MS)
    pid = rig.runner.client("diffusion").pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    rig.wait_done(qtbot)
    assert rig.panel.message_is_error
    assert "stopped unexpectedly" in rig.panel.message
    assert rig.previews[-1].rect is None and rig.previews[-1].image is None
    assert rig.panel.generate_button.isEnabled()


def test_a_models_own_precision_goes_with_its_load(qtbot: QtBot, make_rig, tiny_pipeline: Path) -> None:
    """The Models window's per-model precision is what the load asks for ("" leaves it to the Settings)."""
    rig = make_rig(CanvasDocument(64, 64))
    rig.controller.model_precision = lambda path: "float32" if Path(path) == tiny_pipeline else ""
    handle = rig.controller.load_model(str(tiny_pipeline))
    assert handle is not None and handle.request.precision == "float32"
    loaded: list[object] = []
    handle.on_success(loaded.append)
    qtbot.waitUntil(lambda: handle.is_done, timeout=WAIT_MS)
    assert loaded, rig.panel.message
    assert getattr(loaded[0], "precision", "") == "float32"
