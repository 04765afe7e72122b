"""The Write status bar: words, characters, reading time and the share of AI-written text."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette, QTextCursor
from pytestqt.qtbot import QtBot

from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.markdown_highlighter import AI_TINT_CONTRAST, ai_tint, contrast_ratio
from studio.ui.write.write_status import WORDS_PER_MINUTE, WriteStatus, describe, text_stats


def test_counts_words_characters_reading_time_and_ai_share() -> None:
    text = "Hello, world! It's a well-known test.\nÉcole 🐈 ok\n"
    stats = text_stats(text, [(0, 5)])
    assert stats.words == 8  # Hello world It's a well-known test École ok
    assert stats.characters == len(text) - 2
    assert stats.ai_characters == 5
    assert stats.ai_share == 5 / (len(text) - 2)
    assert stats.reading_minutes == 1
    assert text_stats("word " * (WORDS_PER_MINUTE * 3 + 1), []).reading_minutes == 4
    # line breaks inside an AI range are not characters
    assert text_stats("ab\ncd", [(0, 5)]).ai_characters == 4
    assert describe(text_stats("", [])) == ("0 words · 0 characters", "No AI text")
    counts, ai = describe(text_stats("one two three four", [(0, 9)]))
    assert counts == "4 words · 18 characters · 1 min read"
    assert ai == "AI-written 50%"


def test_status_follows_the_editor_and_its_ai_ranges(qtbot: QtBot) -> None:
    editor = MarkdownEditor()
    qtbot.addWidget(editor)
    editor.setPlainText("Human words here. ")
    status = WriteStatus(lambda: editor)
    qtbot.addWidget(status)
    assert status.counts_label.text().startswith("3 words")
    assert status.ai_label.text() == "No AI text"
    assert status.ai_label.styleSheet() == ""
    # the AI writes the second half
    cursor = editor.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    cursor.insertText("Machine words there too.")
    editor.set_ai_ranges([(18, 42)])
    qtbot.waitUntil(lambda: status.counts_label.text().startswith("7 words"))
    status.refresh()
    assert status.stats.ai_characters == 24
    assert status.ai_label.text() == f"AI-written {24 / 42 * 100:.0f}%"
    # the label wears the tint: it is the legend
    assert "background-color" in status.ai_label.styleSheet()
    assert "written by the AI" in status.ai_label.toolTip()
    status.set_ai_marks_shown(False)
    assert status.ai_label.styleSheet() == ""
    assert "hidden" in status.ai_label.toolTip()


@pytest.mark.parametrize(
    ("base", "text", "highlight"),
    [
        ("#ffffff", "#000000", "#308cc6"),  # Fusion light
        ("#191919", "#ffffff", "#2a82da"),  # Fusion dark
        ("#1e1e2e", "#cdd6f4", "#89b4fa"),  # a pale-accent dark theme
        ("#fdf6e3", "#657b83", "#eee8d5"),  # a low-contrast light theme
    ],
)
def test_the_ai_tint_stands_out_and_keeps_text_readable(base: str, text: str, highlight: str) -> None:
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Highlight, highlight),
    ):
        palette.setColor(role, QColor(colour))
    tint = ai_tint(palette)
    page_text = contrast_ratio(QColor(text), QColor(base))
    assert contrast_ratio(tint, QColor(base)) >= min(AI_TINT_CONTRAST, 1.1)
    assert contrast_ratio(QColor(text), tint) >= min(4.5, page_text * 0.8)
