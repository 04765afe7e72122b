"""The Settings dialog's image precision choice: Auto, bfloat16 or float32, and what Auto means here."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel
from pytestqt.qtbot import QtBot

from studio.cpu import cpu_info
from studio.engines.image_precision import Precision, resolve_precision
from studio.settings import Settings
from studio.ui.settings_dialog import SettingsDialog


def test_precision_choice_round_trips_and_auto_says_what_it_picks(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    box = dialog.image_precision
    assert [box.itemData(i) for i in range(box.count())] == ["auto", "bfloat16", "float32"]
    assert box.currentData() == "auto"
    auto = resolve_precision(Precision.AUTO)
    assert box.currentText() == f"Automatic: {auto.dtype} on this CPU"
    native = cpu_info().native_bf16
    assert (f"This CPU has {native}." if native else "This CPU has neither.") in box.toolTip()
    layout = dialog.layout()
    assert isinstance(layout, QFormLayout)
    label = layout.labelForField(box)
    assert isinstance(label, QLabel) and label.buddy() is box
    box.setCurrentIndex(box.findData("float32"))
    assert dialog.result_settings().image_precision == "float32"
    assert dialog.result_settings().threads == Settings().threads  # nothing else changed


def test_a_saved_choice_is_shown_and_an_unknown_one_reads_as_auto(qtbot: QtBot) -> None:
    saved = SettingsDialog(Settings(image_precision="bfloat16"))
    qtbot.addWidget(saved)
    assert saved.image_precision.currentData() == "bfloat16"
    assert saved.result_settings().image_precision == "bfloat16"
    odd = SettingsDialog(Settings(image_precision="fp8"))
    qtbot.addWidget(odd)
    assert odd.image_precision.currentData() == "auto"
    assert odd.result_settings().image_precision == "auto"
