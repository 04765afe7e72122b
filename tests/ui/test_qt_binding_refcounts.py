"""The Qt binding must not leak references to ``None``.

PySide6-Essentials 6.12.0 takes one reference off ``None`` on every binding call that returns nothing; on Python
3.11, where ``None`` is not immortal, a running Studio then aborts with ``Fatal Python error: none_dealloc``
after a few minutes of painting or typing. These tests make thousands of such calls, directly and through
Studio's own paint code, and check that ``sys.getrefcount(None)`` does not drift.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from studio.ui.canvas.workspace import CanvasWorkspace
from studio.ui.write.editor import MarkdownEditor

CALLS = 3000
TOLERANCE = 100
"""Unrelated code may hold or drop a few references to ``None``; a leak is one per call, thousands here."""

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="None is immortal on Python 3.12+: its refcount cannot show a leak"
)


def none_refcount_drift(action: Callable[[], object], repeats: int) -> int:
    """How far ``sys.getrefcount(None)`` moved over ``repeats`` calls of ``action`` (after one warm-up call)."""
    action()
    before = sys.getrefcount(None)
    for _ in range(repeats):
        action()
    return sys.getrefcount(None) - before


def test_painter_calls_that_return_nothing_keep_none_alive(qtbot: QtBot) -> None:
    image = QImage(64, 64, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.white)
    tile = QImage(8, 8, QImage.Format.Format_ARGB32_Premultiplied)
    tile.fill(QColor(200, 30, 30))
    pen = QPen(QColor(10, 20, 30))
    painter = QPainter(image)

    def paint() -> None:
        painter.save()
        painter.setPen(pen)
        pen.setDashPattern([2.0, 3.0])
        painter.fillRect(QRect(0, 0, 8, 8), QColor(0, 0, 255))
        painter.drawImage(QPoint(4, 4), tile)
        painter.drawLine(0, 0, 63, 63)
        painter.restore()

    try:
        drift = none_refcount_drift(paint, CALLS)
    finally:
        painter.end()
    assert abs(drift) < TOLERANCE, f"None refcount drifted by {drift} over {CALLS * 6} painter calls"


def test_widget_calls_that_return_nothing_keep_none_alive(qtbot: QtBot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    widget = QWidget()
    qtbot.addWidget(widget)
    texts = ("one", "two")
    counter = iter(range(10**9))

    def touch() -> None:
        index = next(counter) % 2
        label.setText(texts[index])
        widget.setToolTip(texts[index])
        widget.update()
        widget.resize(100 + index, 80)

    drift = none_refcount_drift(touch, CALLS)
    assert abs(drift) < TOLERANCE, f"None refcount drifted by {drift} over {CALLS * 4} widget calls"


def test_studio_paint_code_keeps_none_alive(qtbot: QtBot) -> None:
    """Rendering the editor and the canvas runs Studio's own paint code, as a running app does."""
    editor = MarkdownEditor()
    qtbot.addWidget(editor)
    editor.resize(400, 300)
    editor.setPlainText("# Title\n\nSome *prose* with `code` and a [link](x).\n" * 20)
    canvas = CanvasWorkspace()
    qtbot.addWidget(canvas)
    canvas.resize(500, 400)
    canvas.select_all()  # the selection outline paints with a dashed pen, as the marching ants do
    editor.show()
    canvas.show()
    qtbot.waitExposed(canvas)
    target = QImage(500, 400, QImage.Format.Format_ARGB32_Premultiplied)

    def render() -> None:
        editor.render(target)
        canvas.render(target)

    drift = none_refcount_drift(render, CALLS // 10)
    assert abs(drift) < TOLERANCE, f"None refcount drifted by {drift} over {CALLS // 10} renders"
