"""Exact plain-text documents: what was read is what gets written back.

A :class:`TextDocument` remembers how its file was stored (encoding, byte order mark, newline style) and the
exact bytes it was loaded from. The editor works on ``\\n`` text; saving an unedited document writes the
original bytes unchanged, and saving an edited one re-encodes with the detected encoding and dominant newline.
Saving refuses to overwrite a file that changed on disk since it was loaded or last saved.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from studio.fileio import atomic_write_bytes

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Files larger than this are refused: a plain-text editor is the wrong tool for them."""

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class DocumentError(Exception):
    """Base of every error a document raises; ``str(error)`` is a message fit to show the user."""


class UnreadableDocumentError(DocumentError):
    """The file could not be read (missing, permissions, a folder, invalid text in a Unicode encoding)."""


class BinaryFileError(DocumentError):
    """The file holds NUL bytes, so it is not plain text."""


class FileTooLargeError(DocumentError):
    """The file is larger than the size limit."""


class UnencodableTextError(DocumentError):
    """The text holds characters the document's encoding cannot store (e.g. emoji in a cp1252 file).

    Nothing was written. Switch the document to UTF-8 (:meth:`TextDocument.convert_to_utf8`) and save again.
    """

    def __init__(self, message: str, encoding: str, character: str) -> None:
        super().__init__(message)
        self.encoding = encoding
        self.character = character


class ChangedOnDiskError(DocumentError):
    """The file on disk changed since it was loaded or saved; saving now would destroy those changes.

    Ask the user, then call ``save(force=True)`` to overwrite anyway.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path.name} was changed by another program since it was opened.")
        self.path = path


class SaveFailedError(DocumentError):
    """Writing failed (permissions, full disk); the file on disk is unchanged."""


class NoPathError(DocumentError):
    """The document has never been saved, so it has no path to save to."""


class Newline(StrEnum):
    """A line ending style."""

    LF = "\n"
    CRLF = "\r\n"
    CR = "\r"

    @property
    def label(self) -> str:
        """A short name for the status bar: ``LF``, ``CRLF`` or ``CR``."""
        return self.name


@dataclass(frozen=True, slots=True)
class TextFormat:
    """How a text file is stored on disk.

    ``encoding`` is a Python codec name without BOM handling (``utf-8``, ``utf-16-le``, ``cp1252``...);
    ``bom`` says whether a byte order mark precedes the text; ``newline`` is the dominant line ending;
    ``mixed_newlines`` is True when the file used more than one style; ``final_newline`` says whether the
    text ended with a line ending.
    """

    encoding: str = "utf-8"
    bom: bool = False
    newline: Newline = Newline.LF
    mixed_newlines: bool = False
    final_newline: bool = True

    @property
    def label(self) -> str:
        """A short human description, e.g. ``UTF-8 BOM · CRLF``."""
        encoding = self.encoding.upper() + (" BOM" if self.bom else "")
        newline = self.newline.label + (" (mixed)" if self.mixed_newlines else "")
        return f"{encoding} · {newline}"


@dataclass(frozen=True, slots=True)
class DiskStamp:
    """What the file on disk looked like when we last read or wrote it."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of_bytes(cls, data: bytes, mtime_ns: int = 0) -> DiskStamp:
        """The stamp of a file holding ``data``."""
        return cls(len(data), mtime_ns, hashlib.sha256(data).hexdigest())


def detect_format(data: bytes) -> tuple[str, TextFormat]:
    """Decode ``data`` and describe its format; returns ``(text with \\n line endings, format)``.

    Raises :class:`BinaryFileError` for NUL bytes outside UTF-16/32 and :class:`UnreadableDocumentError` for
    bytes that are invalid in the encoding their byte order mark announces.
    """
    encoding = ""
    bom = False
    for mark, name in _BOMS:
        if data.startswith(mark):
            encoding, bom, body = name, True, data[len(mark) :]
            break
    if bom:
        try:
            raw = body.decode(encoding)
        except UnicodeDecodeError as exc:
            message = f"The file claims to be {encoding.upper()} but is damaged: {exc}"
            raise UnreadableDocumentError(message) from exc
    else:
        if b"\x00" in data:
            raise BinaryFileError("This is a binary file, not plain text.")
        raw, encoding = _decode_without_bom(data)
    text, newline, mixed = _normalize_newlines(raw)
    fmt = TextFormat(
        encoding=encoding,
        bom=bom,
        newline=newline,
        mixed_newlines=mixed,
        final_newline=text.endswith("\n"),
    )
    return text, fmt


def _decode_without_bom(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, so nothing is ever lost.
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _normalize_newlines(raw: str) -> tuple[str, Newline, bool]:
    crlf = raw.count("\r\n")
    cr = raw.count("\r") - crlf
    lf = raw.count("\n") - crlf
    counts = {Newline.LF: lf, Newline.CRLF: crlf, Newline.CR: cr}
    used = [style for style, count in counts.items() if count]
    # max() keeps the first of equal counts, so ties and newline-free files prefer LF.
    dominant = max(counts, key=lambda style: counts[style]) if used else Newline.LF
    text = raw.replace("\r\n", "\n").replace("\r", "\n") if crlf or cr else raw
    return text, dominant, len(used) > 1


def encode_text(text: str, fmt: TextFormat) -> bytes:
    """Encode editor text (``\\n`` line endings) for disk with ``fmt``'s newline, encoding and BOM.

    Raises :class:`UnencodableTextError` when a character does not exist in the encoding.
    """
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    if fmt.newline is not Newline.LF:
        normalized = normalized.replace("\n", fmt.newline.value)
    try:
        body = normalized.encode(fmt.encoding)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end] if isinstance(exc.object, str) else "?"
        raise UnencodableTextError(
            f"The text contains {bad!r}, which cannot be saved as {fmt.encoding.upper()}. "
            "Save it as UTF-8 instead.",
            fmt.encoding,
            bad,
        ) from exc
    if not fmt.bom:
        return body
    mark = next((mark for mark, name in _BOMS if name == fmt.encoding), b"")
    return mark + body


def _read_file(path: Path, max_bytes: int) -> tuple[bytes, int]:
    try:
        stat = path.stat()
        if stat.st_size > max_bytes:
            raise FileTooLargeError(
                f"{path.name} is {stat.st_size / 1_048_576:.1f} MiB; files over "
                f"{max_bytes / 1_048_576:.0f} MiB cannot be opened."
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
            mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
    except FileNotFoundError as exc:
        raise UnreadableDocumentError(f"{path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise UnreadableDocumentError(f"{path} is a folder, not a file.") from exc
    except PermissionError as exc:
        raise UnreadableDocumentError(f"You do not have permission to read {path}.") from exc
    except OSError as exc:
        raise UnreadableDocumentError(f"{path} could not be read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise FileTooLargeError(f"{path.name} is larger than {max_bytes / 1_048_576:.0f} MiB.")
    return data, mtime_ns


@dataclass(eq=False)
class TextDocument:
    """A plain-text document: editor text plus everything needed to write it back exactly.

    ``text`` always uses ``\\n`` line endings; assign to it (or call :meth:`set_text`) as the user edits.
    """

    text: str = ""
    path: Path | None = None
    format: TextFormat = field(default_factory=TextFormat)
    stamp: DiskStamp | None = None
    """The file on disk as of the last load or save; None for new documents and vanished files."""
    _clean_text: str = field(default="", init=False, repr=False)
    _clean_bytes: bytes | None = field(default=None, init=False, repr=False)

    @classmethod
    def new(cls, fmt: TextFormat | None = None) -> TextDocument:
        """A new, empty, unsaved document (UTF-8, LF unless ``fmt`` says otherwise)."""
        return cls(text="", path=None, format=fmt or TextFormat())

    @classmethod
    def from_bytes(cls, data: bytes, path: str | os.PathLike[str] | None = None) -> TextDocument:
        """A document decoded from ``data``; saving it unedited writes ``data`` back byte for byte."""
        text, fmt = detect_format(data)
        document = cls(text=text, path=Path(path) if path is not None else None, format=fmt)
        document._clean_text = text
        document._clean_bytes = data
        return document

    @classmethod
    def load(cls, path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> TextDocument:
        """Read and decode ``path``.

        Raises :class:`UnreadableDocumentError`, :class:`BinaryFileError` or :class:`FileTooLargeError`.
        """
        file_path = Path(path).absolute()
        data, mtime_ns = _read_file(file_path, max_bytes)
        document = cls.from_bytes(data, file_path)
        document.stamp = DiskStamp.of_bytes(data, mtime_ns)
        return document

    @property
    def name(self) -> str:
        """The file name, or ``Untitled`` for a document never saved."""
        return self.path.name if self.path is not None else "Untitled"

    @property
    def is_modified(self) -> bool:
        """True when :attr:`text` differs from what was last loaded or saved."""
        return self.text != self._clean_text

    def set_text(self, text: str) -> None:
        """Replace the text (``\\n`` line endings; stray ``\\r`` are treated as line endings)."""
        self.text = text

    def convert_to_utf8(self) -> None:
        """Store the document as UTF-8 without BOM from the next save on (keeps the newline style)."""
        if self.format.encoding != "utf-8" or self.format.bom:
            self.format = replace(self.format, encoding="utf-8", bom=False)
            self._clean_bytes = None

    def set_newline(self, newline: Newline) -> None:
        """Use ``newline`` for every line from the next save on."""
        if newline is not self.format.newline or self.format.mixed_newlines:
            self.format = replace(self.format, newline=newline, mixed_newlines=False)
            self._clean_bytes = None

    def to_bytes(self) -> bytes:
        """The bytes a save would write: the original bytes when unedited, else the re-encoded text."""
        if self._clean_bytes is not None and self.text == self._clean_text:
            return self._clean_bytes
        return encode_text(self.text, self.format)

    def changed_on_disk(self) -> bool:
        """True when the file at :attr:`path` no longer holds what we last read or wrote.

        A file that vanished counts as unchanged (saving recreates it); so does one that was only touched.
        """
        if self.path is None or self.stamp is None:
            return False
        try:
            stat = self.path.stat()
            if stat.st_size != self.stamp.size:
                return True
            # Always compare content: a same-size rewrite within one clock tick keeps the old mtime.
            data = self.path.read_bytes()
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return hashlib.sha256(data).hexdigest() != self.stamp.sha256

    def save(self, path: str | os.PathLike[str] | None = None, *, force: bool = False) -> None:
        """Write the document atomically to ``path`` (default: its own path) and make it the new path.

        Raises :class:`ChangedOnDiskError` when saving to its own path and that file changed behind our back
        (unless ``force``), :class:`UnencodableTextError`, :class:`NoPathError` or :class:`SaveFailedError`.
        On any error the file on disk is left as it was.
        """
        target = Path(path).absolute() if path is not None else self.path
        if target is None:
            raise NoPathError("This document has not been saved yet; choose where to save it.")
        same_file = self.path is not None and _same_path(target, self.path)
        if same_file and not force and self.changed_on_disk():
            raise ChangedOnDiskError(target)
        data = self.to_bytes()
        # Write through symbolic links so a linked file stays linked.
        real_target = Path(os.path.realpath(target))
        try:
            atomic_write_bytes(real_target, data)
            mtime_ns = real_target.stat().st_mtime_ns
        except PermissionError as exc:
            raise SaveFailedError(f"You do not have permission to write {target}.") from exc
        except OSError as exc:
            raise SaveFailedError(f"{target.name} could not be saved: {exc.strerror or exc}") from exc
        self.path = target
        self.stamp = DiskStamp.of_bytes(data, mtime_ns)
        self._clean_text = self.text
        self._clean_bytes = data

    def reload(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Discard the in-memory text and read the file again (same errors as :meth:`load`)."""
        if self.path is None:
            raise NoPathError("This document has no file to reload from.")
        fresh = TextDocument.load(self.path, max_bytes)
        self.text, self.format, self.stamp = fresh.text, fresh.format, fresh.stamp
        self._clean_text, self._clean_bytes = fresh._clean_text, fresh._clean_bytes


def _same_path(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))
