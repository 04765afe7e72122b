"""The LoRA list widget: add checked files with a weight, refuse wrong ones with a message, remove, reload."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QToolButton
from pytestqt.qtbot import QtBot

from studio.ui.canvas.lora_list import LoraList


def write_safetensors(path: Path, keys: list[str]) -> Path:
    """A small valid safetensors file with one float32 tensor per key (header only matters here)."""
    header = {
        key: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i, key in enumerate(keys)
    }
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 4 * len(keys))
    return path


def lora_file(folder: Path, name: str) -> Path:
    return write_safetensors(
        folder / f"{name}.safetensors",
        ["unet.down_blocks.1.attn1.to_q.lora_A.weight", "unet.down_blocks.1.attn1.to_q.lora_B.weight"],
    )


def test_add_weight_and_remove_loras(qtbot: QtBot, tmp_path: Path) -> None:
    style, detail = lora_file(tmp_path, "style"), lora_file(tmp_path, "detail")
    asked: list[str] = []

    def choose(start: str) -> str:
        asked.append(start)
        return str(detail)

    widget = LoraList(choose_path=choose)
    qtbot.addWidget(widget)
    widget.show()
    assert widget.loras() == () and widget.empty_label.isVisible()
    with qtbot.waitSignal(widget.changed):
        assert widget.add_lora(str(style), 0.8)
    qtbot.mouseClick(widget.add_button, Qt.MouseButton.LeftButton)
    assert asked == [str(tmp_path)]  # the dialog opens where the last LoRA is
    assert widget.loras() == ((str(style), 0.8), (str(detail), 1.0))
    assert not widget.empty_label.isVisible()
    spins = [s for s in widget.findChildren(QDoubleSpinBox) if s.accessibleName() == "Weight of LoRA detail"]
    spins[0].setValue(0.35)
    assert widget.loras()[1] == (str(detail), 0.35)
    assert widget.add_lora(str(style), 0.5)  # listed already: its weight changes, no second row
    assert widget.loras() == ((str(style), 0.5), (str(detail), 0.35))
    remove = [b for b in widget.findChildren(QToolButton) if b.accessibleName() == "Remove LoRA style"]
    qtbot.mouseClick(remove[0], Qt.MouseButton.LeftButton)
    assert widget.loras() == ((str(detail), 0.35),)


def test_a_long_name_never_widens_the_list(qtbot: QtBot, tmp_path: Path) -> None:
    widget = LoraList(choose_path=lambda start: None)
    qtbot.addWidget(widget)
    narrow = widget.minimumSizeHint().width()
    widget.add_lora(str(lora_file(tmp_path, "a-very-long-lora-file-name-" * 4)))
    assert widget.minimumSizeHint().width() <= max(narrow, 200)


def test_wrong_files_are_refused_with_a_message(qtbot: QtBot, tmp_path: Path) -> None:
    widget = LoraList(choose_path=lambda start: None)
    qtbot.addWidget(widget)
    errors: list[str] = []
    widget.error.connect(errors.append)
    (tmp_path / "old.ckpt").write_bytes(b"\x80\x04junk")
    checkpoint = write_safetensors(tmp_path / "model.safetensors", ["model.diffusion_model.conv.weight"])
    assert not widget.add_lora(str(tmp_path / "old.ckpt"))
    assert not widget.add_lora(str(tmp_path / "gone.safetensors"))
    assert not widget.add_lora(str(checkpoint))
    assert "only .safetensors" in errors[0] and "not found" in errors[1] and "no LoRA weights" in errors[2]
    assert widget.loras() == ()
    widget.choose()  # a cancelled dialog adds nothing
    assert widget.loras() == ()


def test_set_loras_replaces_the_list_and_reports_missing_files(qtbot: QtBot, tmp_path: Path) -> None:
    style = lora_file(tmp_path, "style")
    widget = LoraList(choose_path=lambda start: None)
    qtbot.addWidget(widget)
    widget.add_lora(str(lora_file(tmp_path, "old")))
    errors: list[str] = []
    widget.error.connect(errors.append)
    problems = widget.set_loras([(str(style), 0.7), (str(tmp_path / "moved.safetensors"), 1.0)])
    assert widget.loras() == ((str(style), 0.7),)
    assert len(problems) == 1 and "not found" in problems[0] and errors == []
