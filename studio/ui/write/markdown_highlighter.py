"""Markdown syntax highlighting with colours derived from the widget palette (light and dark themes)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPalette,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)

_STATE_NORMAL = -1
_STATE_FENCE_BACKTICK = 1
_STATE_FENCE_TILDE = 2

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?=\s|$)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_QUOTE = re.compile(r"^ {0,3}(>+)")
_RULE = re.compile(r"^ {0,3}([-*_])(?:\s*\1){2,}\s*$")
_LIST = re.compile(r"^\s*([-*+]|\d{1,9}[.)])(\s+\[[ xX]\])?(?=\s|$)")
_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(
    r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)|(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])"
)
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_LINK = re.compile(r"(!?\[)([^\]\n]*)(\]\()([^)\s]*)((?:\s+\"[^\"]*\")?\))")
_AUTOLINK = re.compile(r"<(?:https?|mailto|ftp):[^\s>]+>|(?<![(<\w])https?://[^\s<>()]+[^\s<>().,;:!?'\"]")


def relative_luminance(color: QColor) -> float:
    """WCAG relative luminance of ``color`` (0 black .. 1 white)."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio between two colours (1 .. 21)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0..1) of the way towards ``b``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * amount,
        a.greenF() + (b.greenF() - a.greenF()) * amount,
        a.blueF() + (b.blueF() - a.blueF()) * amount,
    )


AI_TINT_CONTRAST = 1.18
"""How far the AI-text tint stands out from the page (WCAG contrast against Base): visible, never loud."""


def ai_tint(palette: QPalette) -> QColor:
    """The background of AI-written text: Base moved towards Highlight until it stands out by
    :data:`AI_TINT_CONTRAST` while Text on it stays readable (4.5:1, or 80% of the page's own contrast when
    that is lower), on light and dark palettes alike. A Highlight too close to Base gives way to Text."""
    base = palette.color(QPalette.ColorRole.Base)
    highlight = palette.color(QPalette.ColorRole.Highlight)
    text = palette.color(QPalette.ColorRole.Text)
    floor = min(4.5, contrast_ratio(text, base) * 0.8)
    best = mix(base, highlight, 0.1)
    for target in (highlight, text):
        for step in range(5, 26):
            candidate = mix(base, target, step * 0.02)
            if contrast_ratio(text, candidate) < floor:
                break
            if contrast_ratio(candidate, base) >= AI_TINT_CONTRAST:
                return candidate
            if contrast_ratio(candidate, base) > contrast_ratio(best, base):
                best = candidate
    return best


def readable(color: QColor, background: QColor, text: QColor, minimum: float = 3.0) -> QColor:
    """``color``, moved towards ``text`` until it reaches ``minimum`` contrast against ``background``."""
    result = QColor(color)
    step = 0.0
    while contrast_ratio(result, background) < minimum and step < 1.0:
        step = min(1.0, step + 0.1)
        result = mix(color, text, step)
    return result


@dataclass(frozen=True, slots=True)
class MarkdownColors:
    """The colours the highlighter uses, derived from a palette."""

    text: QColor
    base: QColor
    heading: QColor
    muted: QColor
    link: QColor
    code_background: QColor
    quote: QColor

    @classmethod
    def from_palette(cls, palette: QPalette) -> MarkdownColors:
        """Colours with enough contrast on ``palette``'s base colour, light or dark."""
        text = palette.color(QPalette.ColorRole.Text)
        base = palette.color(QPalette.ColorRole.Base)
        accent = palette.color(QPalette.ColorRole.Highlight)
        link = palette.color(QPalette.ColorRole.Link)
        return cls(
            text=text,
            base=base,
            heading=readable(mix(text, accent, 0.6), base, text, 4.5),
            muted=readable(mix(text, base, 0.45), base, text, 2.5),
            link=readable(link, base, text, 4.5),
            code_background=mix(base, text, 0.08),
            quote=readable(mix(text, base, 0.3), base, text, 4.0),
        )


def _char_format(
    color: QColor | None = None,
    *,
    bold: bool = False,
    italic: bool = False,
    strike: bool = False,
    underline: bool = False,
    background: QColor | None = None,
    monospace: bool = False,
) -> QTextCharFormat:
    fmt = QTextCharFormat()
    if color is not None:
        fmt.setForeground(color)
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if italic:
        fmt.setFontItalic(True)
    if strike:
        fmt.setFontStrikeOut(True)
    if underline:
        fmt.setFontUnderline(True)
    if background is not None:
        fmt.setBackground(background)
    if monospace:
        fmt.setFontFamilies(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).families())
    return fmt


class MarkdownHighlighter(QSyntaxHighlighter):
    """Highlights headings, emphasis, code (spans and fenced blocks), lists, links, quotes and rules."""

    def __init__(self, document: QTextDocument, palette: QPalette | None = None) -> None:
        super().__init__(document)
        self._formats: dict[str, QTextCharFormat] = {}
        self.colors = MarkdownColors.from_palette(palette or QPalette())
        self._build_formats()

    def set_palette(self, palette: QPalette) -> None:
        """Re-derive the colours from ``palette`` and re-highlight the document."""
        self.colors = MarkdownColors.from_palette(palette)
        self._build_formats()
        self.rehighlight()

    def format_for(self, name: str) -> QTextCharFormat:
        """The format used for ``name`` (``heading``, ``marker``, ``code``, ``link``, ``quote``...)."""
        return QTextCharFormat(self._formats[name])

    def _build_formats(self) -> None:
        c = self.colors
        self._formats = {
            "heading": _char_format(c.heading, bold=True),
            "marker": _char_format(c.muted),
            "strong": _char_format(bold=True),
            "emphasis": _char_format(italic=True),
            "strike": _char_format(c.muted, strike=True),
            "code": _char_format(background=c.code_background, monospace=True),
            "code_block": _char_format(background=c.code_background, monospace=True),
            "link": _char_format(c.link, underline=True),
            "url": _char_format(c.muted),
            "quote": _char_format(c.quote, italic=True),
            "rule": _char_format(c.muted),
            "list": _char_format(c.heading, bold=True),
        }

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt override)
        """Qt hook: highlight one line."""
        spans: list[tuple[int, int, str]] = []
        previous = self.previousBlockState()
        self.setCurrentBlockState(_STATE_NORMAL)
        fence = _FENCE.match(text)
        if previous in (_STATE_FENCE_BACKTICK, _STATE_FENCE_TILDE):
            closing = "`" if previous == _STATE_FENCE_BACKTICK else "~"
            spans.append((0, len(text), "code_block"))
            if not (fence and fence.group(1)[0] == closing and not text[fence.end() :].strip()):
                self.setCurrentBlockState(previous)
            self._apply(text, spans)
            return
        if fence:
            spans.append((0, len(text), "code_block"))
            self.setCurrentBlockState(
                _STATE_FENCE_BACKTICK if fence.group(1)[0] == "`" else _STATE_FENCE_TILDE
            )
            self._apply(text, spans)
            return

        if _RULE.match(text):
            spans.append((0, len(text), "rule"))
            self._apply(text, spans)
            return
        if heading := _HEADING.match(text):
            spans.append((0, len(text), "heading"))
            spans.append((heading.start(1), heading.end(1), "marker"))
        elif _SETEXT.match(text) and self.currentBlock().previous().text().strip():
            spans.append((0, len(text), "heading"))
        if quote := _QUOTE.match(text):
            spans.append((0, len(text), "quote"))
            spans.append((quote.start(1), quote.end(1), "marker"))
        if item := _LIST.match(text):
            spans.append((item.start(1), item.end(2) if item.group(2) else item.end(1), "list"))
        self._inline(text, spans)
        self._apply(text, spans)

    def _inline(self, text: str, spans: list[tuple[int, int, str]]) -> None:
        masked = list(text)
        for match in _CODE_SPAN.finditer(text):
            spans.append((match.start(), match.end(), "code"))
            masked[match.start() : match.end()] = " " * (match.end() - match.start())
        plain = "".join(masked)
        for match in _LINK.finditer(plain):
            spans.append((match.start(1), match.end(1), "marker"))
            spans.append((match.start(2), match.end(2), "link"))
            spans.append((match.start(3), match.end(5), "url"))
            masked[match.start(3) : match.end(5)] = " " * (match.end(5) - match.start(3))
        for match in _AUTOLINK.finditer(plain):
            spans.append((match.start(), match.end(), "link"))
            masked[match.start() : match.end()] = " " * (match.end() - match.start())
        plain = "".join(masked)
        for match in _STRONG.finditer(plain):
            spans.append((match.start(), match.end(), "strong"))
            spans.append((match.start(), match.start() + 2, "marker"))
            spans.append((match.end() - 2, match.end(), "marker"))
        for match in _EMPHASIS.finditer(plain):
            spans.append((match.start(), match.end(), "emphasis"))
            spans.append((match.start(), match.start() + 1, "marker"))
            spans.append((match.end() - 1, match.end(), "marker"))
        for match in _STRIKE.finditer(plain):
            spans.append((match.start(), match.end(), "strike"))

    def _apply(self, text: str, spans: list[tuple[int, int, str]]) -> None:
        """Set merged formats: later spans refine earlier ones where they overlap."""
        spans = [(start, end, name) for start, end, name in spans if end > start]
        if not spans:
            return
        to_qt = _Offsets(text)
        bounds = sorted({point for start, end, _ in spans for point in (start, end)})
        for low, high in itertools.pairwise(bounds):
            merged: QTextCharFormat | None = None
            for start, end, name in spans:
                if start <= low and high <= end:
                    if merged is None:
                        merged = QTextCharFormat(self._formats[name])
                    else:
                        merged.merge(self._formats[name])
            if merged is not None:
                qt_low = to_qt(low)
                self.setFormat(qt_low, to_qt(high) - qt_low, merged)


class _Offsets:
    """Maps a line's Python indices to Qt's UTF-16 positions (identity unless it has astral characters)."""

    def __init__(self, text: str) -> None:
        self._table: list[int] | None = None
        if any(ord(char) > 0xFFFF for char in text):
            table = [0]
            for char in text:
                table.append(table[-1] + (2 if ord(char) > 0xFFFF else 1))
            self._table = table

    def __call__(self, index: int) -> int:
        return index if self._table is None else self._table[index]
