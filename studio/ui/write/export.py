"""Export a Markdown document to HTML, ODT or PDF through Qt's own writers, with or without AI marks.

The Markdown source is rendered into a fresh :class:`QTextDocument` (``setMarkdown``); the editor's document is
never touched. With AI marks, the AI-written ranges are carried through the rendering by private-use sentinel
characters placed in a copy of the source, then turned into a tinted background and removed, and a one-line
legend ends the export. The file is written whole or not at all (atomic replace).
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QUrl
from PySide6.QtGui import (
    QColor,
    QPageLayout,
    QPageSize,
    QPdfWriter,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentWriter,
)

from studio.fileio import atomic_write_bytes

EXPORT_TINT = QColor("#dbe7fb")
"""The background of AI-written text in exports: a pale blue that prints and reads on white paper."""
LEGEND = "Text on a tinted background was written with AI assistance (Studio)."

_START, _END = "\ue000", "\ue001"
# What a Markdown line may start with before its text: indentation, headings, list items, quotes, task boxes.
_LINE_PREFIX = re.compile(r"[ \t]*(?:(?:#{1,6}|[-*+]|\d{1,9}[.)]|>)[ \t]+(?:\[[ xX]\][ \t]+)?|>)*[ \t]*")
# Lines that are markup only: code fences, rules, setext underlines, table separators.
_MARKUP_LINE = re.compile(r"[ \t]*(?:`{3,}.*|~{3,}.*|[-=*_ \t]+|[|:\- \t]+)")


class ExportError(Exception):
    """An export failed; the message is fit to show."""


class ExportFormat(StrEnum):
    HTML = "html"
    ODT = "odt"
    PDF = "pdf"


SUFFIXES = {
    ".html": ExportFormat.HTML,
    ".htm": ExportFormat.HTML,
    ".odt": ExportFormat.ODT,
    ".pdf": ExportFormat.PDF,
}


def format_for(path: str | os.PathLike[str]) -> ExportFormat:
    """The format a file name asks for; raises :class:`ExportError` for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportError(f"Cannot export to {Path(path).name}: choose a .html, .odt or .pdf file name.")
    return SUFFIXES[suffix]


def build_document(
    markdown: str,
    ai_ranges: list[tuple[int, int]],
    ai_marks: bool,
    title: str = "",
    base: str | os.PathLike[str] | None = None,
) -> QTextDocument:
    """The rendered document: ``markdown`` as rich text, AI-written ranges (Python indices into ``markdown``)
    tinted with :data:`EXPORT_TINT` when ``ai_marks``, followed by :data:`LEGEND` when anything is tinted.
    Relative image paths are read from the folder ``base`` (the document's own)."""
    document = QTextDocument()
    if base is not None:
        document.setBaseUrl(QUrl.fromLocalFile(str(Path(base).absolute()) + "/"))
    if title:
        document.setMetaInformation(QTextDocument.MetaInformation.DocumentTitle, title)
    marked = ai_marks and any(end > start for start, end in ai_ranges)
    document.setMarkdown(_with_sentinels(markdown, ai_ranges) if marked else markdown)
    if marked and _tint_sentinels(document):
        _append_legend(document)
    if base is not None:
        _keep_images(document)
    return document


def export_markdown(
    markdown: str,
    ai_ranges: list[tuple[int, int]],
    path: str | os.PathLike[str],
    *,
    ai_marks: bool,
    title: str = "",
    base: str | os.PathLike[str] | None = None,
) -> ExportFormat:
    """Write ``markdown`` to ``path`` in the format its suffix names (images relative to ``base``); raises
    :class:`ExportError`."""
    fmt = format_for(path)
    document = build_document(markdown, ai_ranges, ai_marks, title or Path(path).stem, base)
    data = render(document, fmt)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ExportError(f"Could not write {Path(path).name}: {exc.strerror or exc}") from exc
    return fmt


def render(document: QTextDocument, fmt: ExportFormat) -> bytes:
    """``document`` as the bytes of an HTML, ODT or PDF file."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if fmt is ExportFormat.PDF:
        writer = QPdfWriter(buffer)
        writer.setCreator("Studio")
        writer.setTitle(document.metaInformation(QTextDocument.MetaInformation.DocumentTitle))
        writer.setPageLayout(
            QPageLayout(
                QPageSize(QPageSize.PageSizeId.A4),
                QPageLayout.Orientation.Portrait,
                QMarginsF(20, 20, 20, 20),
                QPageLayout.Unit.Millimeter,
            )
        )
        document.print_(writer)
        del writer  # finishes the PDF
    else:
        writer_format = b"html" if fmt is ExportFormat.HTML else b"odf"
        text_writer = QTextDocumentWriter(buffer, QByteArray(writer_format))
        if not text_writer.write(document):
            raise ExportError(f"Qt could not write the document as {fmt.value.upper()}.")
    buffer.close()
    return bytes(array.data())


def _with_sentinels(markdown: str, ai_ranges: list[tuple[int, int]]) -> str:
    """``markdown`` with a start and an end sentinel around the text of each AI range, line by line, placed
    after a line's block markup (``# ``, ``- ``, ``> ``) so the structure is read as before."""
    insertions: list[tuple[int, str]] = []
    for start, end in sorted(ai_ranges):
        start, end = max(0, start), min(len(markdown), end)
        position = start
        while position < end:
            line_start = markdown.rfind("\n", 0, position) + 1
            line_end = markdown.find("\n", position)
            line_end = len(markdown) if line_end < 0 else line_end
            line = markdown[line_start:line_end]
            piece_start, piece_end = position, min(end, line_end)
            if not _MARKUP_LINE.fullmatch(line):
                prefix_end = line_start + _LINE_PREFIX.match(line).end()  # type: ignore[union-attr]
                piece_start = max(piece_start, prefix_end)
                while piece_end > piece_start and markdown[piece_end - 1] in " \t":
                    piece_end -= 1
                if piece_end > piece_start:
                    insertions += [(piece_start, _START), (piece_end, _END)]
            position = line_end + 1
    pieces, last = [], 0
    for position, sentinel in sorted(insertions, key=lambda item: (item[0], item[1] == _START)):
        pieces += [markdown[last:position], sentinel]
        last = position
    pieces.append(markdown[last:])
    return "".join(pieces)


def _tint_sentinels(document: QTextDocument) -> bool:
    """Tint the text between each start/end sentinel pair and remove every sentinel; True when any was tinted."""
    text = document.toPlainText()
    spans: list[tuple[int, int]] = []
    strays: list[int] = []
    open_at: int | None = None
    for index, char in enumerate(text):
        if char == _START:
            if open_at is not None:
                strays.append(open_at)
            open_at = index
        elif char == _END:
            if open_at is None:
                strays.append(index)
            else:
                spans.append((open_at, index))
                open_at = None
    if open_at is not None:
        strays.append(open_at)
    tint = QTextCharFormat()
    tint.setBackground(EXPORT_TINT)
    cursor = QTextCursor(document)
    cursor.beginEditBlock()
    removals = sorted([position for span in spans for position in span] + strays, reverse=True)
    for start, end in spans:
        cursor.setPosition(start + 1)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeCharFormat(tint)
    for position in removals:
        cursor.setPosition(position)
        cursor.setPosition(position + 1, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
    cursor.endEditBlock()
    _clean_anchors(document)
    return bool(spans)


def _clean_anchors(document: QTextDocument) -> None:
    """Sentinels that fell inside a link or image address: take them out of the address."""
    block = document.begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            fmt = fragment.charFormat()
            href = fmt.anchorHref()
            if href and (_START in href or _END in href):
                fixed = QTextCharFormat(fmt)
                fixed.setAnchorHref(href.replace(_START, "").replace(_END, ""))
                cursor = QTextCursor(document)
                cursor.setPosition(fragment.position())
                cursor.setPosition(fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor)
                cursor.setCharFormat(fixed)
            iterator += 1
        block = block.next()


def _keep_images(document: QTextDocument) -> None:
    """Load the document's images into its own resources: printing works on a copy of the document, which
    keeps those but cannot look files up relative to the original's folder."""
    block = document.begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fmt = iterator.fragment().charFormat()
            if fmt.isImageFormat():
                url = QUrl(fmt.toImageFormat().name())
                image = document.resource(QTextDocument.ResourceType.ImageResource, url)
                if image is not None:
                    document.addResource(QTextDocument.ResourceType.ImageResource, url, image)
            iterator += 1
        block = block.next()


def _append_legend(document: QTextDocument) -> None:
    cursor = QTextCursor(document)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    block = QTextBlockFormat()
    block.setTopMargin(18)
    plain = QTextCharFormat()
    cursor.insertBlock(block, plain)
    legend = QTextCharFormat()
    legend.setBackground(EXPORT_TINT)
    legend.setFontItalic(True)
    legend.setFontPointSize(max(8.0, document.defaultFont().pointSizeF() * 0.85))
    cursor.insertText(LEGEND, legend)
