"""The Generate panel and the candidates strip on their own (no engine), driven with qtbot."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from studio.canvas.generation import layer_name, provenance_for
from studio.canvas.png_metadata import parse_a1111_parameters
from studio.ui.canvas.candidates_strip import CandidatesStrip
from studio.ui.canvas.generate_panel import GeneratePanel, scheduler_for_sampler
from studio.ui.dialogs import ScriptedDialogs

A1111_TEXT = (
    "a lighthouse at dusk, oil painting\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 3141592653, Size: 512x768, "
    "Model hash: abc123, Model: dreamshaper_8"
)


def shown(qtbot: QtBot, *widgets: QWidget) -> QWidget:
    window = QWidget()
    layout = QVBoxLayout(window)
    for widget in widgets:
        layout.addWidget(widget)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def test_use_these_settings_loads_a1111_info(qtbot: QtBot) -> None:
    panel = GeneratePanel()
    _window = shown(qtbot, panel)
    assert not panel.info_box.isVisible()
    info = parse_a1111_parameters(A1111_TEXT)
    panel.show_generation_info(info)
    assert panel.info_box.isVisible()
    assert "a lighthouse at dusk" in panel.info_label.text()
    assert "AUTOMATIC1111" in panel.info_label.text()
    assert panel.prompt_edit.toPlainText() == ""  # shown, not yet used

    qtbot.mouseClick(panel.use_info_button, Qt.MouseButton.LeftButton)
    settings = panel.settings()
    assert settings.prompt == "a lighthouse at dusk, oil painting"
    assert settings.negative_prompt == "blurry, lowres"
    assert (settings.steps, settings.guidance, settings.seed) == (28, 6.5, 3141592653)
    assert settings.scheduler == "dpm++_karras"
    assert settings.resolution == 768
    assert not panel.random_seed_check.isChecked()
    assert "dreamshaper_8" in panel.message  # the model is named, not switched
    assert settings.model_path == ""

    panel.show_generation_info(None)
    assert not panel.info_box.isVisible()


def test_sampler_names_of_other_tools() -> None:
    assert scheduler_for_sampler("Euler a") == "euler_a"
    assert scheduler_for_sampler("euler_ancestral") == "euler_a"
    assert scheduler_for_sampler("dpmpp_2m") == "dpm++"
    assert scheduler_for_sampler("Heun") is None
    assert scheduler_for_sampler(None) is None


def test_settings_and_random_seed(qtbot: QtBot) -> None:
    panel = GeneratePanel()
    _window = shown(qtbot, panel)
    assert panel.seed() == -1 and panel.random_seed_check.isChecked()
    assert not panel.seed_edit.isEnabled()
    panel.new_seed_action.trigger()
    assert not panel.random_seed_check.isChecked() and panel.seed() >= 0
    panel.set_seed(42)
    assert panel.seed() == 42
    panel.random_seed_check.setChecked(True)
    assert panel.seed() == -1
    assert panel.resolution() == 0 and panel.native_resolution() == 512
    panel.set_model_info("sdxl-base", "Stable Diffusion XL", 1024)
    assert panel.native_resolution() == 1024
    panel.resolution_spin.setValue(640)
    assert panel.native_resolution() == 640


def test_choose_model_asks_the_dialogs_and_refuses_bad_files(qtbot: QtBot, tmp_path: Path) -> None:
    dialogs = ScriptedDialogs()
    panel = GeneratePanel(dialogs=dialogs)
    _window = shown(qtbot, panel)
    model = tmp_path / "my-model.safetensors"
    model.write_bytes(b"x")
    dialogs.answers.image_model_path = model
    with qtbot.waitSignal(panel.model_changed) as blocker:
        qtbot.mouseClick(panel.choose_model_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(model)]
    assert panel.model_path == str(model)
    assert panel.model_label.text() == "my-model.safetensors"

    pickle = tmp_path / "old.ckpt"
    pickle.write_bytes(b"x")
    dialogs.answers.image_model_path = pickle
    panel.choose_model_action.trigger()
    assert panel.model_path == str(model)
    assert panel.message_is_error and "pickle" in panel.message

    dialogs.answers.image_model_path = None  # the dialog was cancelled
    panel.choose_model_folder_action.trigger()
    assert panel.model_path == str(model)
    # file, file, folder; each starts where the current model is
    assert dialogs.asked == [
        ("image_model_path", (False, "")),
        ("image_model_path", (False, str(tmp_path))),
        ("image_model_path", (True, str(tmp_path))),
    ]


def test_every_action_has_a_shortcut_and_a_name(qtbot: QtBot) -> None:
    panel = GeneratePanel()
    strip = CandidatesStrip()
    _window = shown(qtbot, panel, strip)
    for widget in (panel, strip):
        actions = widget.actions()
        assert actions
        for action in actions:
            assert not action.shortcut().isEmpty(), action.text()
            assert action.text().replace("&", "").strip() and action.statusTip() and action.objectName()
        shortcuts = [action.shortcut().toString() for action in actions]
        assert len(shortcuts) == len(set(shortcuts))
    assert panel.generate_action.shortcut().toString() == "Ctrl+Return"
    assert panel.vary_action.shortcut().toString() == "Ctrl+Shift+Return"


def test_running_state_switches_buttons(qtbot: QtBot) -> None:
    panel = GeneratePanel()
    _window = shown(qtbot, panel)
    assert panel.generate_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert not panel.progress_bar.isVisible()
    panel.set_running(True)
    panel.set_progress(0.5, "step 1/2")
    assert not panel.generate_button.isEnabled() and panel.cancel_button.isEnabled()
    assert panel.progress_bar.isVisible() and panel.progress_bar.value() == 50
    assert panel.message == "step 1/2"
    with qtbot.waitSignal(panel.cancel_requested):
        qtbot.keyClick(panel.prompt_edit, Qt.Key.Key_Escape)
    panel.set_running(False)
    panel.show_error("boom")
    assert panel.message_is_error and panel.message == "boom"


def _image(colour: str) -> QImage:
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    image.fill(QColor(colour))
    return image


def test_strip_select_apply_discard(qtbot: QtBot) -> None:
    strip = CandidatesStrip()
    _window = shown(qtbot, strip)
    for colour in ("red", "green", "blue"):
        strip.add_candidate(_image(colour), f"{colour} (1)\nSeed 1")
    assert strip.count() == 3 and strip.current_index() == -1
    assert not strip.apply_action.isEnabled()

    with qtbot.waitSignal(strip.candidate_selected) as selected:
        item = strip.list.item(1)
        qtbot.mouseClick(
            strip.list.viewport(), Qt.MouseButton.LeftButton, pos=strip.list.visualItemRect(item).center()
        )
    assert selected.args == [1]
    strip.list.setFocus()
    with qtbot.waitSignal(strip.candidate_applied) as applied:
        qtbot.keyClick(strip.list, Qt.Key.Key_Return)
    assert applied.args == [1]
    with qtbot.waitSignal(strip.candidate_discarded) as discarded:
        qtbot.keyClick(strip.list, Qt.Key.Key_Delete)
    assert discarded.args == [1] and strip.count() == 2
    assert strip.thumbnail(1).pixelColor(40, 40) == QColor("blue")
    with qtbot.waitSignal(strip.candidates_cleared):
        strip.discard_all_action.trigger()
    assert strip.count() == 0 and "No results" in strip.title.text()


def test_strip_keys_win_over_enclosing_shortcuts(qtbot: QtBot) -> None:
    """Inside the canvas workspace Delete erases the selection; in the strip it discards a candidate."""
    strip = CandidatesStrip()
    window = shown(qtbot, strip)
    fired: list[str] = []
    for key in ("Del", "Shift+Del", "Return"):
        outer = QAction(key, window)
        outer.setShortcut(QKeySequence(key))
        outer.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        outer.triggered.connect(lambda _checked=False, key=key: fired.append(key))
        window.addAction(outer)
    for colour in ("red", "green"):
        strip.add_candidate(_image(colour))
    strip.select(0)
    strip.list.setFocus()
    with qtbot.waitSignal(strip.candidate_applied):
        qtbot.keyClick(strip.list, Qt.Key.Key_Return)
    qtbot.keyClick(strip.list, Qt.Key.Key_Delete)
    assert strip.count() == 1
    strip.select(0)
    qtbot.keyClick(strip.list, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    assert strip.count() == 0
    assert fired == []


def test_layer_names_and_provenance() -> None:
    assert layer_name("a cat", 3) == "a cat (3)"
    assert layer_name("  a\n cat  ", 3) == "a cat (3)"
    long = layer_name("a very long prompt " * 10, 12)
    assert long.endswith("… (12)") and len(long) <= 40 + len(" (12)")
    assert layer_name("", 5) == "Generated (5)"
    params = {
        "prompt": "a cat",
        "negative_prompt": "dog",
        "steps": 2,
        "cfg": 7.0,
        "seed": 3,
        "width": 64,
        "height": 64,
        "sampler": "Euler",
        "scheduler": "default",
        "mode": "inpaint",
        "strength": 1.0,
        "model": "tiny",
        "model_hash": "abc",
    }
    provenance = provenance_for(params)
    assert provenance["prompt"] == "a cat" and provenance["seed"] == 3 and provenance["model"] == "tiny"
    assert provenance["ai_generated"] is True
    assert provenance["parameters"]["mode"] == "inpaint" and provenance["parameters"]["steps"] == 2
