"""The layers panel stays in sync with the document both ways."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.canvas.geometry import Rect
from studio.ui.canvas.layers_panel import DEPTH_ROLE, LAYER_ID_ROLE, LayersPanel


def make_panel(qtbot: QtBot, document: CanvasDocument | None = None) -> tuple[LayersPanel, CanvasDocument]:
    document = document or CanvasDocument(64, 48, background=(255, 255, 255))
    panel = LayersPanel()
    qtbot.addWidget(panel)
    panel.resize(260, 400)
    panel.set_document(document)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, document


def rows(panel: LayersPanel) -> list[str]:
    return [panel.list.item(row).text() for row in range(panel.list.count())]


def test_rows_list_layers_top_first_with_thumbnails(qtbot: QtBot) -> None:
    document = CanvasDocument(64, 48, background=(255, 0, 0))
    document.add_layer("Middle")
    document.add_layer("Top", provenance={"prompt": "a fox", "seed": 7})
    panel, _ = make_panel(qtbot, document)
    assert rows(panel) == ["Top", "Middle", "Background"]
    assert panel.list.currentRow() == 0  # the active (newest) layer
    for row in range(3):
        item = panel.list.item(row)
        assert not item.icon().isNull()
        assert item.checkState() == Qt.CheckState.Checked
    assert "a fox" in panel.list.item(0).toolTip() and "Seed 7" in panel.list.item(0).toolTip()
    thumbnail = panel.list.item(2).icon().pixmap(40, 40).toImage()
    colour = thumbnail.pixelColor(20, 20)
    assert (colour.red(), colour.green(), colour.blue()) == (255, 0, 0)


def test_add_duplicate_delete_and_reorder_buttons_change_the_document(qtbot: QtBot) -> None:
    panel, document = make_panel(qtbot)
    panel.add_action.trigger()
    assert len(document.layers) == 2
    assert rows(panel) == ["Layer 2", "Background"]
    assert document.active_layer.name == "Layer 2"

    panel.list.setCurrentRow(1)  # selecting a row makes that layer active
    assert document.active_layer.name == "Background"
    panel.duplicate_action.trigger()
    assert [layer.name for layer in document.layers] == ["Background", "Background copy", "Layer 2"]
    assert rows(panel) == ["Layer 2", "Background copy", "Background"]
    assert panel.list.currentRow() == 1

    panel.up_action.trigger()
    assert rows(panel) == ["Background copy", "Layer 2", "Background"]
    assert panel.list.currentRow() == 0
    assert not panel.up_action.isEnabled()
    panel.down_action.trigger()
    panel.down_action.trigger()
    assert rows(panel) == ["Layer 2", "Background", "Background copy"]
    assert not panel.down_action.isEnabled()

    panel.delete_action.trigger()
    assert [layer.name for layer in document.layers] == ["Background", "Layer 2"]
    panel.delete_action.trigger()
    assert len(document.layers) == 1
    assert not panel.delete_action.isEnabled()
    panel.delete_layer()  # refused quietly by the disabled action; the direct call reports
    assert len(document.layers) == 1


def test_document_changes_show_in_the_panel(qtbot: QtBot) -> None:
    panel, document = make_panel(qtbot)
    layer = document.add_layer("Sketch")
    assert rows(panel) == ["Sketch", "Background"]
    document.rename_layer(layer, "Ink")
    document.set_layer_visible(layer, False)
    document.set_layer_opacity(layer, 0.25)
    assert rows(panel) == ["Ink", "Background"]
    assert panel.list.item(0).checkState() == Qt.CheckState.Unchecked
    assert panel.opacity_slider.value() == 25
    assert panel.opacity_value.text() == "25 %"
    document.set_active_layer(document.layers[0])
    assert panel.list.currentRow() == 1
    assert panel.opacity_slider.value() == 100
    document.history.undo()  # opacity
    document.history.undo()  # visibility
    document.history.undo()  # rename
    assert rows(panel) == ["Sketch", "Background"]
    assert panel.list.item(0).checkState() == Qt.CheckState.Checked
    document.history.undo()  # add
    assert rows(panel) == ["Background"]


def test_visibility_checkbox_and_opacity_slider_change_the_document(qtbot: QtBot) -> None:
    panel, document = make_panel(qtbot)
    top = document.add_layer("Top")
    item = panel.list.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert not top.visible
    assert document.history.undo_label == "Hide layer"
    item.setCheckState(Qt.CheckState.Checked)
    assert top.visible

    panel.opacity_slider.setValue(40)
    assert top.opacity == 0.4
    # Dragging the slider is one undo step, applied on release.
    steps = document.history.undo_steps
    panel.opacity_slider.setSliderDown(True)
    panel.opacity_slider.setValue(70)
    panel.opacity_slider.setValue(60)
    assert top.opacity == 0.4 and panel.opacity_value.text() == "60 %"
    panel.opacity_slider.setSliderDown(False)
    panel.opacity_slider.sliderReleased.emit()
    assert top.opacity == 0.6
    assert document.history.undo_steps == steps + 1


def test_rename_by_double_click(qtbot: QtBot) -> None:
    panel, document = make_panel(qtbot)
    document.add_layer("Old name")
    panel.activateWindow()
    rect = panel.list.visualItemRect(panel.list.item(0))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and editor.text() == "Old name"
    editor.selectAll()
    qtbot.keyClicks(editor, "  New   name ")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: document.active_layer.name == "New name")  # the delegate commits queued
    assert rows(panel)[0] == "New name"

    # An empty name is refused: the old one comes back and the user is told.
    item = panel.list.item(0)
    with qtbot.waitSignal(panel.failed) as blocker:
        item.setText("   ")
    assert "empty" in blocker.args[0]
    assert item.text() == "New name" and document.active_layer.name == "New name"


def test_thumbnails_follow_painting(qtbot: QtBot) -> None:
    document = CanvasDocument(40, 40)
    panel, _ = make_panel(qtbot, document)
    layer = document.active_layer
    with document.edit_pixels(layer, Rect(0, 0, 40, 40)) as pixels:
        pixels[...] = (0, 0, 255, 255)

    def blue() -> bool:
        item = panel.list.item(0)
        colour = item.icon().pixmap(40, 40).toImage().pixelColor(20, 20)
        return (colour.red(), colour.green(), colour.blue()) == (0, 0, 255)

    qtbot.waitUntil(blue)
    assert panel.list.item(0).data(LAYER_ID_ROLE) == layer.id


def test_switching_documents_disconnects_the_old_one(qtbot: QtBot) -> None:
    panel, first = make_panel(qtbot)
    second = CanvasDocument(10, 10)
    second.add_layer("Only here", np.zeros((10, 10, 4), dtype=np.uint8))
    panel.set_document(second)
    assert rows(panel) == ["Only here", "Background"]
    first.add_layer("Ignored")
    assert rows(panel) == ["Only here", "Background"]
    assert len(first.layers_changed) == 0


def test_blend_mode_combo_sets_the_active_layers_mode_with_undo(qtbot: QtBot) -> None:
    panel, document = make_panel(qtbot)
    top = document.add_layer("Shade", np.full((48, 64, 4), (100, 100, 100, 255), dtype=np.uint8))
    assert panel.blend_combo.currentText() == "Normal"
    panel.blend_combo.setCurrentIndex(panel.blend_combo.findText("Multiply"))
    assert top.blend_mode.value == "svg:multiply"
    assert document.history.undo_label == "Blend mode"
    assert tuple(document.composite()[0, 0, :3]) == (100, 100, 100)  # white × grey
    document.history.undo()
    assert panel.blend_combo.currentText() == "Normal" and top.blend_mode.value == "svg:src-over"
    document.set_active_layer(document.layers[0])
    document.set_layer_blend_mode(document.layers[0], "svg:screen")
    assert panel.blend_combo.currentText() == "Screen"


def test_groups_show_as_indented_header_rows(qtbot: QtBot) -> None:
    panel, document = make_panel(qtbot)
    a = document.add_layer("A")
    document.add_layer("B")
    document.set_active_layer(a)
    panel.group_action.trigger()
    group = document.groups[0]
    assert rows(panel) == ["B", group.name, "A", "Background"]
    assert panel.group_id_at(1) == group.id and panel.layer_id_at(1) is None
    assert panel.list.item(2).data(DEPTH_ROLE) == 1 and panel.list.item(0).data(DEPTH_ROLE) == 0
    assert panel.list.currentRow() == 2  # the active layer stays chosen

    # Choosing the group row: opacity, blend mode, visibility and name act on the group.
    panel.list.setCurrentRow(1)
    panel.opacity_slider.setValue(50)
    panel.blend_combo.setCurrentIndex(panel.blend_combo.findText("Overlay"))
    assert (group.opacity, group.blend_mode.value) == (0.5, "svg:overlay")
    assert a.opacity == 1.0
    panel.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert not group.visible and not document.is_shown(a)
    panel.list.item(1).setText("Sky")
    assert group.name == "Sky"
    assert "Group Sky" in panel.list.item(1).toolTip()

    panel.ungroup_action.trigger()
    assert document.groups == () and rows(panel) == ["B", "A", "Background"]
    document.history.undo()
    assert rows(panel) == ["B", "Sky", "A", "Background"]


def test_merge_down_and_flatten_actions(qtbot: QtBot) -> None:
    panel, document = make_panel(qtbot)
    document.add_layer("Ink", np.full((48, 64, 4), (0, 0, 255, 255), dtype=np.uint8))
    assert panel.merge_down_action.isEnabled()
    panel.merge_down_action.trigger()
    assert rows(panel) == ["Background"] and not panel.merge_down_action.isEnabled()
    assert tuple(document.layers[0].pixels[0, 0]) == (0, 0, 255, 255)
    document.history.undo()
    assert rows(panel) == ["Ink", "Background"]
    document.add_layer("Empty")
    panel.flatten_action.trigger()
    assert rows(panel) == ["Background"] and len(document.layers) == 1
    with qtbot.waitSignal(panel.failed) as blocker:
        panel.merge_down()
    assert "bottom" in blocker.args[0]
    with qtbot.waitSignal(panel.failed) as blocker:
        panel.ungroup()
    assert "not in a group" in blocker.args[0]
