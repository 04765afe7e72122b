"""Exact text documents: byte-identical round trips, edited saves, atomicity, conflicts and bad files."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from studio.documents.text_document import (
    BinaryFileError,
    ChangedOnDiskError,
    FileTooLargeError,
    Newline,
    NoPathError,
    SaveFailedError,
    TextDocument,
    UnencodableTextError,
    UnreadableDocumentError,
)

ROUND_TRIP_CASES = {
    "utf8": ("# Café\n\nNaïve résumé — “quoted”.\n".encode(), "utf-8", False, Newline.LF),
    "utf8_bom": (codecs.BOM_UTF8 + "Title\nbody ☃\n".encode(), "utf-8", True, Newline.LF),
    "utf16_le_bom": (
        codecs.BOM_UTF16_LE + "Zeile 1\r\nZeile 2 😀\r\n".encode("utf-16-le"),
        "utf-16-le",
        True,
        Newline.CRLF,
    ),
    "utf16_be_bom": (codecs.BOM_UTF16_BE + "a\nb\n".encode("utf-16-be"), "utf-16-be", True, Newline.LF),
    "crlf": (b"one\r\ntwo\r\nthree\r\n", "utf-8", False, Newline.CRLF),
    "cr": (b"one\rtwo\rthree\r", "utf-8", False, Newline.CR),
    "mixed": (b"a\r\nb\nc\r\nd\re\r\n", "utf-8", False, Newline.CRLF),
    "no_final_newline": (b"first\nlast line", "utf-8", False, Newline.LF),
    "cp1252": ("Caf\u00e9 \u2013 \u20ac5\r\n".encode("cp1252"), "cp1252", False, Newline.CRLF),
    "undefined_cp1252_bytes": (b"odd \x81\x8d\x90 bytes\n", "latin-1", False, Newline.LF),
    "empty": (b"", "utf-8", False, Newline.LF),
}


@pytest.mark.parametrize("case", sorted(ROUND_TRIP_CASES))
def test_unedited_save_is_byte_identical(tmp_path: Path, case: str) -> None:
    data, encoding, bom, newline = ROUND_TRIP_CASES[case]
    path = tmp_path / f"{case}.md"
    path.write_bytes(data)

    document = TextDocument.load(path)
    assert document.format.encoding == encoding
    assert document.format.bom is bom
    assert document.format.newline is newline
    assert "\r" not in document.text
    assert not document.is_modified

    document.save()
    assert path.read_bytes() == data


def test_editor_text_uses_lf_and_strips_bom() -> None:
    document = TextDocument.from_bytes(codecs.BOM_UTF8 + b"a\r\nb\r\n")
    assert document.text == "a\nb\n"
    assert document.format.final_newline


def test_final_newline_and_mixed_flags() -> None:
    assert not TextDocument.from_bytes(b"a\nb").format.final_newline
    mixed = TextDocument.from_bytes(b"a\r\nb\nc\r\n")
    assert mixed.format.mixed_newlines
    assert mixed.format.newline is Newline.CRLF
    assert not TextDocument.from_bytes(b"a\nb\n").format.mixed_newlines


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            codecs.BOM_UTF16_LE + "x\r\ny\r\n".encode("utf-16-le"),
            codecs.BOM_UTF16_LE + "x\r\nY!\r\n".encode("utf-16-le"),
        ),
        (b"x\ry\r", b"x\rY!\r"),
        ("x\r\ny\u00e9\r\n".encode("cp1252"), "x\r\nY!\r\n".encode("cp1252")),
        (codecs.BOM_UTF8 + b"x\ny", codecs.BOM_UTF8 + b"x\nY!"),
        (b"x\r\ny\nz\r\n", b"x\r\nY!\r\nz\r\n"),
    ],
)
def test_edited_save_keeps_encoding_bom_and_newlines(tmp_path: Path, data: bytes, expected: bytes) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(data)
    document = TextDocument.load(path)
    lines = document.text.split("\n")
    lines[1] = "Y!"
    document.set_text("\n".join(lines))
    assert document.is_modified

    document.save()
    assert path.read_bytes() == expected
    assert not document.is_modified
    # The saved bytes become the new baseline: another unedited save writes them unchanged.
    document.save()
    assert path.read_bytes() == expected


def test_edit_then_revert_writes_original_bytes(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    data = b"a\r\nb\nc"
    path.write_bytes(data)
    document = TextDocument.load(path)
    original = document.text
    document.set_text(original + "!")
    document.set_text(original)
    assert not document.is_modified
    document.save()
    assert path.read_bytes() == data


def test_unencodable_text_raises_and_keeps_file(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    data = "Caf\u00e9\n".encode("cp1252")
    path.write_bytes(data)
    document = TextDocument.load(path)
    document.set_text("Caf\u00e9 \u4e16\n")
    with pytest.raises(UnencodableTextError) as info:
        document.save()
    assert info.value.character == "\u4e16"
    assert path.read_bytes() == data

    document.convert_to_utf8()
    document.save()
    assert path.read_bytes() == "Caf\u00e9 \u4e16\n".encode()


def test_failed_write_leaves_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "story.md"
    path.write_bytes(b"old text\n")
    document = TextDocument.load(path)
    document.set_text("new text that must not half-land\n")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(SaveFailedError, match="could not be saved"):
        document.save()
    monkeypatch.undo()

    assert path.read_bytes() == b"old text\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["story.md"]
    assert document.is_modified
    document.save()
    assert path.read_bytes() == b"new text that must not half-land\n"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions as non-root")
def test_read_only_folder_save_fails_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "a.txt"
    path.write_bytes(b"keep\n")
    document = TextDocument.load(path)
    document.set_text("lost?\n")
    folder.chmod(0o555)
    try:
        with pytest.raises(SaveFailedError):
            document.save()
    finally:
        folder.chmod(0o755)
    assert path.read_bytes() == b"keep\n"


def test_refuses_to_overwrite_file_changed_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "shared.md"
    path.write_bytes(b"version 1\n")
    document = TextDocument.load(path)
    document.set_text("my edit\n")
    path.write_bytes(b"version 2\n")  # same size, possibly same mtime tick: content decides
    assert document.changed_on_disk()

    with pytest.raises(ChangedOnDiskError) as info:
        document.save()
    assert info.value.path == path
    assert path.read_bytes() == b"version 2\n"

    document.save(force=True)
    assert path.read_bytes() == b"my edit\n"
    assert not document.changed_on_disk()


def test_touching_a_file_is_not_a_change(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"same\n")
    document = TextDocument.load(path)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert not document.changed_on_disk()


def test_save_as_moves_document_and_skips_conflict_check(tmp_path: Path) -> None:
    source = tmp_path / "a.md"
    source.write_bytes(b"text\n")
    document = TextDocument.load(source)
    source.write_bytes(b"someone else\n")
    target = tmp_path / "b.md"
    document.save(target)
    assert target.read_bytes() == b"text\n"
    assert document.path == target
    assert source.read_bytes() == b"someone else\n"


def test_new_document_needs_path_then_saves_utf8_lf(tmp_path: Path) -> None:
    document = TextDocument.new()
    document.set_text("Hello\nWorld\n")
    with pytest.raises(NoPathError):
        document.save()
    document.save(tmp_path / "new.md")
    assert (tmp_path / "new.md").read_bytes() == b"Hello\nWorld\n"
    assert document.name == "new.md"


def test_save_through_symlink_keeps_link(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_bytes(b"a\n")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    document = TextDocument.load(link)
    document.set_text("b\n")
    document.save()
    assert link.is_symlink()
    assert real.read_bytes() == b"b\n"


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(BinaryFileError, match="binary"):
        TextDocument.load(path)


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(FileTooLargeError):
        TextDocument.load(path, max_bytes=1024)


def test_missing_folder_and_damaged_utf16_are_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocumentError, match="does not exist"):
        TextDocument.load(tmp_path / "nope.md")
    with pytest.raises(UnreadableDocumentError, match="folder"):
        TextDocument.load(tmp_path)
    damaged = tmp_path / "damaged.txt"
    damaged.write_bytes(codecs.BOM_UTF16_LE + b"a\x00b")
    with pytest.raises(UnreadableDocumentError, match="UTF-16-LE"):
        TextDocument.load(damaged)


def test_set_newline_converts_every_line(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(b"a\r\nb\nc\r")
    document = TextDocument.load(path)
    document.set_newline(Newline.LF)
    document.save()
    assert path.read_bytes() == b"a\nb\nc\n"
