"""The Settings dialog: context size, threads, image precision, suggestion delay, length and temperature."""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from studio.cpu import cpu_info, physical_cores
from studio.engines.image_precision import Precision, resolve_precision
from studio.settings import LIMITS, Settings


def _spin(name: str, accessible: str, suffix: str = "", step: int = 1) -> QSpinBox:
    low, high = LIMITS[name]
    box = QSpinBox()
    box.setRange(int(low), int(high))
    box.setSingleStep(step)
    box.setSuffix(suffix)
    box.setAccessibleName(accessible)
    box.setObjectName(name)
    return box


class SettingsDialog(QDialog):
    """Edits a copy of the settings; :meth:`result_settings` returns the edited copy."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self._settings = dataclasses.replace(settings)
        layout = QFormLayout(self)

        self.context_size = _spin("context_size", "Context size in tokens", " tokens", 256)
        self.context_size.setValue(settings.context_size)
        layout.addRow("&Context size:", self.context_size)

        cores = physical_cores()
        self.threads = _spin("threads", f"CPU threads, 0 for one per physical core ({cores})")
        self.threads.setSpecialValueText(f"Automatic: {cores} (one per physical core)")
        self.threads.setToolTip(
            "Threads for the text model and image generation. Automatic uses one per physical core: "
            "hyper-threads slow the text model down."
        )
        self.threads.setValue(settings.threads)
        layout.addRow(f"CPU &threads (0 = one per physical core: {cores}):", self.threads)

        self.image_precision = QComboBox()
        self.image_precision.setObjectName("image_precision")
        auto = resolve_precision(Precision.AUTO)
        for precision in Precision:
            label = f"Automatic: {auto.dtype} on this CPU" if precision is Precision.AUTO else precision.label
            self.image_precision.addItem(label, precision.value)
        self.image_precision.setAccessibleName(f"Image generation precision; automatic is {auto.dtype} here")
        native = cpu_info().native_bf16
        self.image_precision.setToolTip(
            "The number format image generation computes in. bfloat16 is several times faster on CPUs with "
            "AVX-512 BF16 or AMX and differs from float32 only in fine detail; elsewhere float32 is faster. "
            + (f"This CPU has {native}." if native else "This CPU has neither.")
            + " A change applies when the image model is next loaded."
        )
        self.image_precision.setCurrentIndex(
            max(0, self.image_precision.findData(Precision.parse(settings.image_precision).value))
        )
        layout.addRow("&Image precision:", self.image_precision)

        self.suggestions_enabled = QCheckBox("Suggest continuations while I type")
        self.suggestions_enabled.setAccessibleName("Suggest continuations while typing")
        self.suggestions_enabled.setChecked(settings.suggestions_enabled)
        layout.addRow("", self.suggestions_enabled)

        self.suggestion_delay = _spin("suggestion_delay_ms", "Suggestion delay in milliseconds", " ms", 50)
        self.suggestion_delay.setValue(settings.suggestion_delay_ms)
        layout.addRow("Suggestion &delay:", self.suggestion_delay)

        self.suggestion_length = _spin("suggestion_max_tokens", "Suggestion length in tokens", " tokens")
        self.suggestion_length.setValue(settings.suggestion_max_tokens)
        layout.addRow("Suggestion &length:", self.suggestion_length)

        self.temperature = QDoubleSpinBox()
        self.temperature.setObjectName("temperature")
        self.temperature.setAccessibleName("Temperature")
        self.temperature.setRange(*LIMITS["temperature"])
        self.temperature.setSingleStep(0.05)
        self.temperature.setDecimals(2)
        self.temperature.setValue(settings.temperature)
        layout.addRow("T&emperature:", self.temperature)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)

    def result_settings(self) -> Settings:
        """The settings as edited in the dialog."""
        return dataclasses.replace(
            self._settings,
            context_size=self.context_size.value(),
            threads=self.threads.value(),
            image_precision=str(self.image_precision.currentData()),
            suggestions_enabled=self.suggestions_enabled.isChecked(),
            suggestion_delay_ms=self.suggestion_delay.value(),
            suggestion_max_tokens=self.suggestion_length.value(),
            temperature=round(self.temperature.value(), 2),
        )
