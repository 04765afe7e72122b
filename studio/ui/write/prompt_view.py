""" "What the model sees": the prompt a suggestion at the cursor gets, part by part, and its token budget."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QHideEvent, QPalette, QShowEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.ghost_text import qt_to_py_index
from studio.writing.context import AssembledPrompt, PartKind

REFRESH_MS = 500
"""While visible, the view checks this often whether the text, the cursor or the notes changed."""

PART_NAMES = {
    PartKind.MEMORY: "memory",
    PartKind.TEXT: "document",
    PartKind.GLOSSARY: "glossary",
    PartKind.AUTHORS_NOTE: "author's note",
    PartKind.RECENT: "last lines",
}
# hues mixed into the base colour, so the parts read on light and dark themes alike
PART_HUES = {
    PartKind.MEMORY: QColor(66, 133, 244),
    PartKind.GLOSSARY: QColor(52, 168, 83),
    PartKind.AUTHORS_NOTE: QColor(234, 134, 0),
}


def editor_split(editor: MarkdownEditor | None) -> tuple[str, str] | None:
    """The text before and after ``editor``'s cursor (None without an editor)."""
    if editor is None:
        return None
    text = editor.document_text()
    split = qt_to_py_index(text, editor.textCursor().position())
    return text[:split], text[split:]


class PromptView(QWidget):
    """Shows ``assemble(prefix, suffix)`` for the current editor's cursor, refreshed while visible.

    ``current_editor()`` gives the editor; ``assemble`` is the continuation provider's
    :meth:`~studio.ui.write.continuation.EngineContinuationProvider.assemble`.
    """

    def __init__(
        self,
        current_editor: Callable[[], MarkdownEditor | None],
        assemble: Callable[[str, str], AssembledPrompt],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("prompt_view")
        self._current_editor = current_editor
        self._assemble = assemble
        self._key: object = None
        self.prompt: AssembledPrompt | None = None

        self.summary = QLabel(self)
        self.summary.setObjectName("prompt_summary")
        self.summary.setWordWrap(True)
        self.budget_bar = QProgressBar(self)
        self.budget_bar.setObjectName("prompt_budget")
        self.budget_bar.setTextVisible(True)
        self.legend = QLabel(self)
        self.legend.setWordWrap(True)
        self.text_view = QPlainTextEdit(self)
        self.text_view.setObjectName("prompt_text")
        self.text_view.setReadOnly(True)
        self.text_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.clicked.connect(lambda: self.refresh(force=True))
        row = QHBoxLayout()
        row.addWidget(self.budget_bar, 1)
        row.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        layout.addWidget(self.legend)
        layout.addWidget(self.text_view, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._update_legend()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self._timer.start()
        self.refresh(force=True)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt override)
        super().hideEvent(event)
        self._timer.stop()

    def refresh(self, force: bool = False) -> None:
        """Assemble the prompt for the current cursor again (only when something changed, unless ``force``)."""
        editor = self._current_editor()
        split = editor_split(editor)
        if split is None:
            self._key = None
            self.prompt = None
            self.summary.setText("No document is open.")
            self.budget_bar.setValue(0)
            self.text_view.clear()
            return
        prompt = self._assemble(*split)
        key = (id(editor), prompt)
        if not force and key == self._key:
            return
        self._key = key
        self.show_prompt(prompt)

    def show_prompt(self, prompt: AssembledPrompt) -> None:
        """Show ``prompt``, each part tinted by kind."""
        self.prompt = prompt
        share = prompt.estimated_tokens / max(1, prompt.budget_tokens)
        self.budget_bar.setRange(0, max(1, prompt.budget_tokens))
        self.budget_bar.setValue(min(prompt.estimated_tokens, prompt.budget_tokens))
        self.budget_bar.setFormat(
            f"≈ {prompt.estimated_tokens:,} of {prompt.budget_tokens:,} tokens ({share:.0%})"
        )
        lines = []
        if prompt.glossary:
            lines.append("Glossary entries in play: " + ", ".join(prompt.glossary) + ".")
        else:
            lines.append("No glossary entry is in play (none has a keyword near the cursor).")
        lines.extend(prompt.warnings)
        self.summary.setText(" ".join(lines))
        self.text_view.clear()
        cursor = QTextCursor(self.text_view.document())
        base = self.palette().color(QPalette.ColorRole.Base)
        for part in prompt.parts:
            fmt = QTextCharFormat()
            hue = PART_HUES.get(part.kind)
            if hue is not None:
                fmt.setBackground(_mix(base, hue, 0.28))
            elif part.kind is PartKind.RECENT:
                fmt.setFontWeight(600)
            cursor.insertText(part.text, fmt)
        self.text_view.moveCursor(QTextCursor.MoveOperation.End)
        self.text_view.ensureCursorVisible()

    def _update_legend(self) -> None:
        base = self.palette().color(QPalette.ColorRole.Base)
        swatches = " ".join(
            f'<span style="background:{_mix(base, hue, 0.28).name()}">&nbsp;{PART_NAMES[kind]}&nbsp;</span>'
            for kind, hue in PART_HUES.items()
        )
        self.legend.setText(
            f"{swatches} <b>last lines</b>; the cursor is at the end. Token counts are estimates."
        )


def _mix(base: QColor, tint: QColor, amount: float) -> QColor:
    return QColor(
        round(base.red() * (1 - amount) + tint.red() * amount),
        round(base.green() * (1 - amount) + tint.green() * amount),
        round(base.blue() * (1 - amount) + tint.blue() * amount),
    )
