"""The Write workspace's part of the status bar: words, characters, reading time and the share of AI-written
text, whose label is tinted like AI text in the editor (the legend of the tint)."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.markdown_highlighter import ai_tint

WORDS_PER_MINUTE = 230
"""Reading speed for the reading time (an adult reading prose silently)."""
UPDATE_DELAY_MS = 250
"""Counting waits this long after the last change, so typing never waits for it."""

_WORD = re.compile(r"\w+(?:['’-]\w+)*")


@dataclass(frozen=True, slots=True)
class TextStats:
    """Counts of one document."""

    words: int
    characters: int
    """Every character but line breaks."""
    ai_characters: int
    """Characters (line breaks excluded) inside AI-written ranges."""

    @property
    def reading_minutes(self) -> int:
        """Whole minutes to read at :data:`WORDS_PER_MINUTE` (0 for an empty text)."""
        return math.ceil(self.words / WORDS_PER_MINUTE)

    @property
    def ai_share(self) -> float:
        """The fraction (0..1) of the characters that the AI wrote."""
        return self.ai_characters / self.characters if self.characters else 0.0


def text_stats(text: str, ai_ranges: list[tuple[int, int]]) -> TextStats:
    """Count ``text``; ``ai_ranges`` are half-open Python index ranges of AI-written text."""
    ai = sum(end - start - text.count("\n", start, end) for start, end in ai_ranges if end > start)
    return TextStats(len(_WORD.findall(text)), len(text) - text.count("\n"), ai)


def describe(stats: TextStats) -> tuple[str, str]:
    """The counts label and the AI share label."""
    words = f"{stats.words:,} word{'s' if stats.words != 1 else ''}"
    characters = f"{stats.characters:,} character{'s' if stats.characters != 1 else ''}"
    minutes = stats.reading_minutes
    reading = f"{minutes} min read" if minutes else "under a minute to read" if stats.words else ""
    counts = " · ".join(part for part in (words, characters, reading) if part)
    if not stats.ai_characters:
        return counts, "No AI text"
    percent = stats.ai_share * 100
    shown = "<1" if percent < 1 else f"{percent:.0f}"
    return counts, f"AI-written {shown}%"


class WriteStatus(QWidget):
    """Status bar widgets for the current editor (``current_editor()``); call :meth:`document_changed` when the
    current document changes and :meth:`set_ai_marks_shown` when the tint is shown or hidden."""

    def __init__(
        self, current_editor: Callable[[], MarkdownEditor | None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._current_editor = current_editor
        self._editor: MarkdownEditor | None = None
        self._marks_shown = True
        self.stats = TextStats(0, 0, 0)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        self.counts_label = QLabel()
        self.counts_label.setAccessibleName("Word count")
        self.ai_label = QLabel()
        self.ai_label.setAccessibleName("Share of AI-written text")
        self.ai_label.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.ai_label)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UPDATE_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.document_changed()

    def document_changed(self) -> None:
        """Follow the current editor's text."""
        editor = self._current_editor()
        if editor is not self._editor:
            if self._editor is not None:
                with contextlib.suppress(RuntimeError, TypeError):  # the editor is gone already
                    self._editor.document().contentsChanged.disconnect(self._timer.start)
            self._editor = editor
            if editor is not None:
                editor.document().contentsChanged.connect(self._timer.start)
        self.refresh()

    def set_ai_marks_shown(self, shown: bool) -> None:
        """Whether AI text is tinted in the editor (the label then shows the tint as its legend)."""
        self._marks_shown = shown
        self._style_ai_label()

    def refresh(self) -> None:
        """Count the current document now."""
        self._timer.stop()
        editor = self._editor
        try:
            self.stats = (
                text_stats(editor.document_text(), editor.ai_ranges()) if editor else TextStats(0, 0, 0)
            )
        except RuntimeError:  # the editor was deleted with its tab
            self._editor = None
            self.stats = TextStats(0, 0, 0)
        counts, ai = describe(self.stats)
        self.counts_label.setText(counts)
        self.ai_label.setText(ai)
        self._style_ai_label()

    def _style_ai_label(self) -> None:
        tint = ai_tint(self.palette())
        text = self.palette().color(QPalette.ColorRole.Text)
        if self._marks_shown and self.stats.ai_characters:
            self.ai_label.setStyleSheet(
                f"background-color: {tint.name()}; color: {text.name()}; border-radius: 3px;"
            )
        else:
            self.ai_label.setStyleSheet("")
        legend = "Text on this tint in the editor was written by the AI (accepted suggestions and rewrites)."
        toggle = "View ▸ Show AI Marks shows or hides the tint."
        self.ai_label.setToolTip(
            f"{legend} {toggle}" if self._marks_shown else f"AI marks are hidden. {toggle}"
        )
