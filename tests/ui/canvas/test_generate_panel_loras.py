"""The Generate panel's LoRA row and Upscale ×2 command (issue 10): LoRAs go into the settings, come back from
an image's settings, the row is reachable at 800×600, and Upscale ×2 is in the Image menu and reaches its
controller."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, PngImagePlugin
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from studio.canvas.png_metadata import GenerationInfo, read_generation_info
from studio.models.registry import DIFFUSION, ModelRegistry
from studio.settings import Settings
from studio.ui.canvas.generate_panel import GeneratePanel
from studio.ui.canvas.upscale_controller import NO_MODEL_MESSAGE
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import CANVAS_INDEX, MainWindow
from tests.ui.canvas.test_generate_panel_layout import on_screen
from tests.ui.canvas.test_lora_list import lora_file


def shown_panel(qtbot: QtBot) -> GeneratePanel:
    panel = GeneratePanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_settings_carry_the_loras(qtbot: QtBot, tmp_path: Path) -> None:
    panel = shown_panel(qtbot)
    assert panel.settings().loras == ()
    style = lora_file(tmp_path, "style")
    assert panel.lora_list.add_lora(str(style), 0.8)
    assert panel.settings().loras == ((str(style), 0.8),)

    bad = tmp_path / "notes.txt"
    bad.write_text("not a LoRA")
    assert not panel.lora_list.add_lora(str(bad))
    assert panel.message_is_error and "Cannot add this LoRA" in panel.message
    assert panel.settings().loras == ((str(style), 0.8),)  # nothing lost


def test_loading_an_images_settings_restores_its_loras(qtbot: QtBot, tmp_path: Path) -> None:
    panel = shown_panel(qtbot)
    style, detail = lora_file(tmp_path, "style"), lora_file(tmp_path, "detail")
    panel.lora_list.add_lora(str(style), 1.0)

    panel.load_generation_info(GenerationInfo(prompt="no loras here"))
    assert panel.settings().loras == ((str(style), 1.0),)  # the image names none: the list is kept

    gone = tmp_path / "gone.safetensors"
    info = GenerationInfo.from_settings(
        {
            "prompt": "a fox",
            "loras": [
                {"name": "detail", "weight": 0.6, "hash": "", "path": str(detail)},
                {"name": "gone", "weight": 1.0, "hash": "", "path": str(gone)},
                {"name": "elsewhere", "weight": 0.5},
            ],
        }
    )
    panel.load_generation_info(info)
    assert panel.settings().loras == ((str(detail), 0.6),)
    assert "Loaded the image's settings" in panel.message
    assert "gone" in panel.message
    assert (
        "LoRA not found: elsewhere — add it in the LoRA list" in panel.message
    )  # no file registered by that name


def test_use_these_settings_fills_the_loras_an_a1111_prompt_names(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "loras"
    folder.mkdir()
    style, detail = lora_file(folder, "Style"), lora_file(folder, "detail")
    lora_file(folder, "unregistered")  # on disk, but not in the registry
    registry = ModelRegistry()
    registry.record(str(style), DIFFUSION, model_kind="lora")
    registry.record(str(detail), DIFFUSION, model_kind="lora")
    registry.record(str(tmp_path / "missing_one.safetensors"), DIFFUSION, model_kind="sd15")  # not a LoRA
    image = tmp_path / "from-a1111.png"
    metadata = PngImagePlugin.PngInfo()
    metadata.add_text(
        "parameters",
        "a lighthouse at dusk, <lora:style:0.8>, <lora:unregistered:1>, oil painting <lora:Detail:0.3> "
        "<lora:missing_one:1>\nNegative prompt: blurry\n"
        "Steps: 24, Sampler: Euler a, CFG scale: 6.5, Seed: 1234, Size: 512x512, Model: sd15-base",
    )
    Image.new("RGB", (8, 8)).save(image, pnginfo=metadata)

    panel = shown_panel(qtbot)
    panel.show_generation_info(read_generation_info(image))
    assert panel.use_info_button.isVisible()
    qtbot.mouseClick(panel.use_info_button, Qt.MouseButton.LeftButton)

    # the found LoRAs leave the prompt and fill the list, in prompt order, with their weights
    assert panel.prompt_edit.toPlainText() == (
        "a lighthouse at dusk, <lora:unregistered:1>, oil painting <lora:missing_one:1>"
    )
    assert panel.lora_list.loras() == ((str(style), 0.8), (str(detail), 0.3))
    assert panel.settings().loras == ((str(style), 0.8), (str(detail), 0.3))
    assert panel.settings().prompt == panel.prompt_edit.toPlainText()
    assert panel.negative_edit.toPlainText() == "blurry" and panel.steps_spin.value() == 24
    assert not panel.message_is_error
    assert "LoRA not found: unregistered, missing_one — add them in the LoRA list" in panel.message

    # as the message says: add the missing file in the LoRA list, then use the settings again
    assert panel.lora_list.add_lora(str(folder / "unregistered.safetensors"))
    qtbot.mouseClick(panel.use_info_button, Qt.MouseButton.LeftButton)
    assert panel.prompt_edit.toPlainText() == "a lighthouse at dusk, oil painting <lora:missing_one:1>"
    unregistered = str(folder / "unregistered.safetensors")
    assert panel.lora_list.loras() == ((str(style), 0.8), (unregistered, 1.0), (str(detail), 0.3))
    assert "LoRA not found: missing_one — add it in the LoRA list" in panel.message

    # a prompt whose LoRAs are all found keeps no tag; one without tags leaves the list alone
    panel.load_generation_info(GenerationInfo(prompt="<lora:DETAIL:1.25> a quiet harbour"))
    assert panel.prompt_edit.toPlainText() == "a quiet harbour"
    assert panel.lora_list.loras() == ((str(detail), 1.25),)
    assert "not found" not in panel.message
    panel.load_generation_info(GenerationInfo(prompt="a harbour"))
    assert panel.lora_list.loras() == ((str(detail), 1.25),)


def test_upscale_action_follows_the_running_state(qtbot: QtBot) -> None:
    panel = shown_panel(qtbot)
    assert panel.upscale_action.isEnabled() and panel.upscale_action.shortcut().toString()
    with qtbot.waitSignal(panel.upscale_requested, timeout=1000):
        panel.upscale_action.trigger()
    panel.set_running(True)
    assert not panel.upscale_action.isEnabled()
    panel.set_running(False)
    assert panel.upscale_action.isEnabled()


def test_lora_row_at_800x600_and_upscale_in_the_image_menu(qtbot: QtBot, tmp_path: Path) -> None:
    dialogs = ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, unsaved_canvas=UnsavedChoice.DISCARD)
    window = MainWindow(Settings(suggestions_enabled=False), dialogs)
    qtbot.addWidget(window)
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    window.resize(800, 600)
    window.show()
    qtbot.waitExposed(window)
    panel = window.generate_panel
    panel.lora_list.add_lora(str(lora_file(tmp_path, "style")), 0.8)
    panel.settings_scroller.ensureWidgetVisible(panel.lora_list)
    button: QWidget = panel.lora_list.add_button
    qtbot.waitUntil(lambda: on_screen(window, button))
    assert panel.lora_list.width() <= panel.settings_scroller.viewport().width()

    assert panel.upscale_action in window.image_menu.actions()
    panel.upscale_action.trigger()  # no image model: the controller says so in the panel, no job
    qtbot.waitUntil(lambda: panel.message == NO_MODEL_MESSAGE)
    assert not window.upscale.is_running
