"""One dialog to choose an image model: a ``.safetensors`` checkpoint or a diffusers folder alike."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

MODEL_FILTER = "Stable Diffusion checkpoints (*.safetensors)"


class ModelPathDialog(QFileDialog):
    """A file dialog (Qt's own, so it behaves the same everywhere) that shows folders and ``.safetensors``
    files and accepts either: a chosen file is taken as is, a chosen folder as a diffusers model folder."""

    def __init__(self, parent: QWidget | None = None, start: str = "") -> None:
        super().__init__(parent, "Choose an image model (a .safetensors file or a diffusers folder)", start)
        self.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        self.setFileMode(QFileDialog.FileMode.Directory)
        self.setOption(QFileDialog.Option.ShowDirsOnly, False)
        self.setNameFilters([MODEL_FILTER, "All files (*)"])
        self.setLabelText(QFileDialog.DialogLabel.Accept, "Choose")
        self.setLabelText(QFileDialog.DialogLabel.FileName, "Model:")
        self.setAccessibleName("Choose image model")
        self.chosen: str | None = None

    def accept(self) -> None:
        files = self.selectedFiles()
        path = Path(files[0]) if files else None
        if path is not None and path.is_file():
            # Directory mode would refuse a file; a checkpoint file is a valid answer here.
            self.chosen = str(path)
            QDialog.accept(self)
            return
        if path is not None and path.is_dir():
            self.chosen = str(path)
        super().accept()


def choose_image_model(parent: QWidget | None, start: str = "") -> str | None:
    """Ask for an image model; the chosen file or folder, or None when cancelled."""
    dialog = ModelPathDialog(parent, start)
    if not dialog.exec():
        return None
    if dialog.chosen:
        return dialog.chosen
    files = dialog.selectedFiles()
    return files[0] if files else None
