"""Export to HTML, ODT and PDF through Qt's writers, with and without AI marks; the source is never touched."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from PySide6.QtGui import QTextBlock, QTextDocument
from pytestqt.qtbot import QtBot

from studio.ui.dialogs import ScriptedDialogs
from studio.ui.write.export import EXPORT_TINT, LEGEND, ExportError, build_document, export_markdown
from studio.ui.write.workspace import WriteWorkspace

SOURCE = (
    "# Chapter One\n\n"
    "She opened the door. The corridor smelled of *rain and rust*.\n\n"
    "- a list item\n"
    "- the AI item\n\n"
    "See [the map](https://example.org/map) — ünïcode 🐈 stays.\n"
)
AI_SENTENCE = "The corridor smelled of *rain and rust*."
AI_RANGES = [
    (SOURCE.index(AI_SENTENCE), SOURCE.index(AI_SENTENCE) + len(AI_SENTENCE)),
    (SOURCE.index("- the AI item"), SOURCE.index("the AI item") + len("the AI item")),
    (SOURCE.index("example.org"), SOURCE.index("example.org") + 7),  # inside a link address
]


def tinted_text(document: QTextDocument) -> str:
    """The text of ``document`` that carries the export tint."""
    chars = []
    for block in _blocks(document):
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            if fragment.charFormat().background().color() == EXPORT_TINT:
                chars.append(fragment.text())
            iterator += 1
    return "".join(chars)


def test_ai_ranges_become_a_tint_and_markdown_keeps_its_structure(qtbot: QtBot) -> None:
    marked = build_document(SOURCE, AI_RANGES, ai_marks=True)
    plain = build_document(SOURCE, AI_RANGES, ai_marks=False)
    # the same rendering, sentinels gone, plus the legend
    assert marked.toPlainText() == plain.toPlainText() + "\n" + LEGEND
    assert "\ue000" not in marked.toHtml() and "\ue001" not in marked.toHtml()
    assert "https://example.org/map" in marked.toHtml()
    assert tinted_text(marked) == "The corridor smelled of rain and rust.the AI item" + LEGEND
    assert tinted_text(plain) == ""
    # headings and lists are still headings and lists
    assert marked.firstBlock().blockFormat().headingLevel() == 1
    assert sum(1 for b in _blocks(marked) if b.textList() is not None) == 2
    assert LEGEND not in build_document(SOURCE, [], ai_marks=True).toPlainText()


def _blocks(document: QTextDocument) -> list[QTextBlock]:
    block, blocks = document.begin(), []
    while block.isValid():
        blocks.append(block)
        block = block.next()
    return blocks


@pytest.mark.parametrize("ai_marks", [True, False])
def test_export_writes_readable_html_odt_and_pdf(qtbot: QtBot, tmp_path: Path, ai_marks: bool) -> None:
    html = tmp_path / "story.html"
    export_markdown(SOURCE, AI_RANGES, html, ai_marks=ai_marks)
    page = html.read_text(encoding="utf-8")
    assert "She opened the door." in page and "ünïcode 🐈 stays." in page
    assert "<h1" in page and "<li" in page
    assert ("background-color:#dbe7fb" in page) is ai_marks
    assert (LEGEND in page) is ai_marks

    odt = tmp_path / "story.odt"
    export_markdown(SOURCE, AI_RANGES, odt, ai_marks=ai_marks)
    with zipfile.ZipFile(odt) as archive:
        assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.text"
        content = archive.read("content.xml").decode("utf-8")
    assert "She opened the door." in content
    assert ("#dbe7fb" in content) is ai_marks

    pdf = tmp_path / "story.pdf"
    export_markdown(SOURCE, AI_RANGES, pdf, ai_marks=ai_marks)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-32:]


def test_bad_target_says_why_and_writes_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"\.html, \.odt or \.pdf"):
        export_markdown(SOURCE, [], tmp_path / "story.docx", ai_marks=False)
    with pytest.raises(ExportError, match=r"Could not write story\.html"):
        export_markdown(SOURCE, [], tmp_path / "missing" / "story.html", ai_marks=False)
    assert list(tmp_path.iterdir()) == []


def test_export_leaves_the_document_untouched(qtbot: QtBot, tmp_path: Path) -> None:
    workspace = WriteWorkspace(dialogs=ScriptedDialogs())
    qtbot.addWidget(workspace)
    editor = workspace.new_document()
    editor.setPlainText(SOURCE)
    editor.set_ai_ranges(AI_RANGES[:2])
    editor.document().setModified(True)
    revision, ranges = editor.document().revision(), editor.ai_ranges()
    for name in ("out.html", "out.odt", "out.pdf"):
        workspace.export_current(tmp_path / name, ai_marks=True)
        assert (tmp_path / name).stat().st_size > 0
    assert editor.document_text() == SOURCE
    assert editor.document().revision() == revision
    assert editor.ai_ranges() == ranges
    assert editor.document().isModified()
    assert not editor.document().isUndoAvailable()
    assert workspace.current_path() is None  # exporting is not saving
    workspace.shutdown()


def test_images_next_to_the_document_go_into_the_export(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtGui import QColor, QImage

    (tmp_path / "images").mkdir()
    picture = QImage(40, 30, QImage.Format.Format_RGB32)
    picture.fill(QColor("#c04020"))
    assert picture.save(str(tmp_path / "images" / "lamp.png"))
    markdown = "The lamp:\n\n![A brass lamp](images/lamp.png)\n"
    odt = tmp_path / "out" / "story.odt"
    odt.parent.mkdir()
    export_markdown(markdown, [], odt, ai_marks=False, base=tmp_path)
    with zipfile.ZipFile(odt) as archive:
        pictures = [name for name in archive.namelist() if name.startswith("Pictures/")]
        assert len(pictures) == 1
        assert QImage.fromData(archive.read(pictures[0])).size().toTuple() == (40, 30)
    pdf_with, pdf_without = tmp_path / "out" / "with.pdf", tmp_path / "out" / "without.pdf"
    export_markdown(markdown, [], pdf_with, ai_marks=False, base=tmp_path)
    export_markdown(markdown, [], pdf_without, ai_marks=False)  # no folder: the image cannot be found
    # the 40x30 picture itself (without its folder Qt draws only its small broken-image icon)
    assert b"/Width 40" in pdf_with.read_bytes()
    assert b"/Width 40" not in pdf_without.read_bytes()
