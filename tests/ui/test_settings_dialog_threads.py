"""The Settings dialog's thread field says what 'automatic' means on this machine."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel
from pytestqt.qtbot import QtBot

from studio.cpu import physical_cores
from studio.settings import Settings
from studio.ui.settings_dialog import SettingsDialog


def test_threads_zero_is_one_per_physical_core(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(threads=0))
    qtbot.addWidget(dialog)
    cores = physical_cores()
    assert dialog.threads.value() == 0
    assert dialog.threads.text() == f"Automatic: {cores} (one per physical core)"
    layout = dialog.layout()
    assert isinstance(layout, QFormLayout)
    label = layout.labelForField(dialog.threads)
    assert isinstance(label, QLabel)
    assert f"0 = one per physical core: {cores}" in label.text()
    dialog.threads.setValue(3)
    assert dialog.result_settings().threads == 3
    assert dialog.threads.text() == "3"
