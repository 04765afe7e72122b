"""Story notes: the per-document context the model sees besides the text itself.

*Memory* (what the work is, style notes) opens every prompt; the *author's note* is inserted a few lines before
the cursor; *glossary entries* (characters, places) join the prompt only while one of their keywords appears
near the cursor (NovelAI's lorebook, KoboldCpp's world info). :mod:`studio.writing.context` assembles them.

Notes live in Studio's data folder, one JSON file per document keyed by its resolved path, so writing never
drops files into the user's folders; :meth:`StoryNotesStore.export` writes a sidecar next to the document on
request, and a document without notes in the data folder picks up such a sidecar when it is opened (so notes
travel with a copied manuscript). A notes file that cannot be read is moved aside, never overwritten, and the
error says where it went.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from studio import paths
from studio.fileio import atomic_write_text

FORMAT_NAME = "studio-story-notes"
FORMAT_VERSION = 1
SIDECAR_SUFFIX = ".story-notes.json"
"""An exported sidecar is the document's full name plus this (``chapter.md.story-notes.json``)."""
DEFAULT_AUTHORS_NOTE_DEPTH = 3
MAX_AUTHORS_NOTE_DEPTH = 50
MAX_NOTES_FILE_BYTES = 8 * 1024 * 1024


class StoryNotesError(Exception):
    """Notes that cannot be read or written; the message is fit to show."""


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    """A character, place or thing: ``text`` joins the prompt while a keyword appears near the cursor.

    Keywords match case-insensitively as whole words (``Ann`` does not fire on ``Anna``); an entry without
    keywords uses its name.
    """

    name: str
    keywords: tuple[str, ...] = ()
    text: str = ""
    enabled: bool = True

    def triggers(self) -> tuple[str, ...]:
        """The words that switch this entry on: its keywords, or its name when it has none."""
        words = tuple(word.strip() for word in self.keywords if word.strip())
        return words or ((self.name.strip(),) if self.name.strip() else ())

    def matches(self, window: str) -> bool:
        """True when the entry is enabled, has text, and one of its triggers occurs in ``window``."""
        if not self.enabled or not self.text.strip():
            return False
        return any(_keyword_pattern(word).search(window) for word in self.triggers())


def _keyword_pattern(word: str) -> re.Pattern[str]:
    # \b only works next to word characters: a keyword like "Dr." or "#3" is matched by its word-ish edges
    start = r"(?<!\w)" if word[:1].isalnum() or word[:1] == "_" else ""
    end = r"(?!\w)" if word[-1:].isalnum() or word[-1:] == "_" else ""
    return re.compile(start + re.escape(word) + end, re.IGNORECASE)


def parse_keywords(text: str) -> tuple[str, ...]:
    """Keywords typed as a comma-separated list, trimmed, empty ones and repeats dropped."""
    seen: dict[str, None] = {}
    for word in text.split(","):
        word = word.strip()
        if word and word.casefold() not in {known.casefold() for known in seen}:
            seen[word] = None
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class StoryNotes:
    """One document's notes. ``authors_note_depth`` counts non-blank lines back from the cursor (its own line
    is 1): the note goes just before that line."""

    memory: str = ""
    authors_note: str = ""
    authors_note_depth: int = DEFAULT_AUTHORS_NOTE_DEPTH
    glossary: tuple[GlossaryEntry, ...] = field(default_factory=tuple)

    def is_empty(self) -> bool:
        """True when there is nothing worth storing."""
        return not (self.memory.strip() or self.authors_note.strip() or self.glossary)

    def with_entry(self, index: int, entry: GlossaryEntry) -> StoryNotes:
        """These notes with glossary entry ``index`` replaced (appended when ``index`` is the length)."""
        entries = list(self.glossary)
        if index == len(entries):
            entries.append(entry)
        else:
            entries[index] = entry
        return replace(self, glossary=tuple(entries))

    def without_entry(self, index: int) -> StoryNotes:
        """These notes without glossary entry ``index``."""
        return replace(self, glossary=self.glossary[:index] + self.glossary[index + 1 :])

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see :func:`notes_from_dict`)."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "memory": self.memory,
            "authors_note": self.authors_note,
            "authors_note_depth": self.authors_note_depth,
            "glossary": [
                {"name": e.name, "keywords": list(e.keywords), "text": e.text, "enabled": e.enabled}
                for e in self.glossary
            ],
        }


def notes_from_dict(raw: object) -> StoryNotes:
    """Notes from their JSON form; raises :class:`StoryNotesError` saying what is wrong."""
    if not isinstance(raw, Mapping) or raw.get("format") != FORMAT_NAME:
        raise StoryNotesError("it is not a Studio story notes file")
    version = raw.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StoryNotesError(f"it was written by a newer Studio (format version {version})")
    memory = _string(raw, "memory")
    authors_note = _string(raw, "authors_note")
    depth = raw.get("authors_note_depth", DEFAULT_AUTHORS_NOTE_DEPTH)
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise StoryNotesError("authors_note_depth is not a whole number")
    entries = raw.get("glossary", [])
    if not isinstance(entries, list):
        raise StoryNotesError("glossary is not a list")
    glossary = tuple(_entry(item, number) for number, item in enumerate(entries, 1))
    return StoryNotes(memory, authors_note, clamp_depth(depth), glossary)


def clamp_depth(depth: int) -> int:
    """An author's note depth within 1..:data:`MAX_AUTHORS_NOTE_DEPTH`."""
    return max(1, min(MAX_AUTHORS_NOTE_DEPTH, depth))


def _string(raw: Mapping[str, Any], key: str, default: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise StoryNotesError(f"{key} is not text")
    return value


def _entry(item: object, number: int) -> GlossaryEntry:
    if not isinstance(item, Mapping):
        raise StoryNotesError(f"glossary entry {number} is not an object")
    try:
        keywords = item.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(word, str) for word in keywords):
            raise StoryNotesError("keywords is not a list of text")
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            raise StoryNotesError("enabled is not true or false")
        return GlossaryEntry(_string(item, "name"), tuple(keywords), _string(item, "text"), enabled)
    except StoryNotesError as exc:
        raise StoryNotesError(f"glossary entry {number}: {exc}") from None


def notes_to_json(notes: StoryNotes, document_path: str | os.PathLike[str] | None = None) -> str:
    """The notes as the text of a notes file (``document`` names the file they belong to, for people)."""
    payload = notes.to_dict()
    if document_path is not None:
        payload["document"] = str(document_path)
    payload["saved_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def read_notes_file(path: str | os.PathLike[str]) -> StoryNotes:
    """Read a notes file; raises :class:`StoryNotesError` naming the file and the problem."""
    target = Path(path)
    try:
        if target.stat().st_size > MAX_NOTES_FILE_BYTES:
            raise StoryNotesError(f"Cannot read the story notes {target}: the file is too large.")
        raw = json.loads(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StoryNotesError(f"Cannot read the story notes {target}: {exc.strerror or exc}.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoryNotesError(
            f"Cannot read the story notes {target}: it is not valid JSON ({exc})."
        ) from None
    try:
        return notes_from_dict(raw)
    except StoryNotesError as exc:
        raise StoryNotesError(f"Cannot read the story notes {target}: {exc}.") from None


def sidecar_path(document_path: str | os.PathLike[str]) -> Path:
    """Where :meth:`StoryNotesStore.export` puts a document's notes: next to it."""
    document = Path(document_path)
    return document.with_name(document.name + SIDECAR_SUFFIX)


@dataclass(frozen=True, slots=True)
class LoadedNotes:
    """What :meth:`StoryNotesStore.load` found: the notes, and a message when something was wrong (the
    broken file was moved aside; the message says where)."""

    notes: StoryNotes
    problem: str = ""
    source: Path | None = None


class StoryNotesStore:
    """Story notes per document file, in ``<data folder>/story-notes`` (one JSON file per resolved path)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else paths.data_dir() / "story-notes"

    def file_for(self, document_path: str | os.PathLike[str]) -> Path:
        """The notes file of ``document_path`` in the data folder."""
        resolved = str(Path(document_path).resolve())
        key = hashlib.sha1(resolved.encode("utf-8")).hexdigest()
        return self.directory / f"{key}.json"

    def load(self, document_path: str | os.PathLike[str]) -> LoadedNotes:
        """The notes of ``document_path``: from the data folder, else from an exported sidecar next to it,
        else empty. Never raises: a broken file is moved aside (so a later save cannot overwrite it) and
        ``problem`` explains."""
        for candidate in (self.file_for(document_path), sidecar_path(document_path)):
            if not candidate.exists():
                continue
            try:
                return LoadedNotes(read_notes_file(candidate), source=candidate)
            except StoryNotesError as exc:
                if candidate.parent != self.directory:
                    # the user's own sidecar: leave it where it is, just don't use it
                    return LoadedNotes(StoryNotes(), f"{exc} Fix or remove that file to use it.", candidate)
                kept = _move_aside(candidate)
                where = f" It was kept as {kept}." if kept else ""
                return LoadedNotes(StoryNotes(), f"{exc}{where} These notes start empty.", candidate)
        return LoadedNotes(StoryNotes())

    def save(self, document_path: str | os.PathLike[str], notes: StoryNotes) -> None:
        """Store ``notes`` for ``document_path`` atomically (empty notes remove the file).

        Raises :class:`StoryNotesError` when the data folder cannot be written.
        """
        target = self.file_for(document_path)
        try:
            if notes.is_empty():
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, notes_to_json(notes, Path(document_path).resolve()))
        except OSError as exc:
            raise StoryNotesError(
                f"Cannot save the story notes of {Path(document_path).name}: {exc}"
            ) from None

    def export(
        self,
        document_path: str | os.PathLike[str],
        notes: StoryNotes,
        target: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Write ``notes`` to ``target`` (default: the sidecar next to the document) and return where.

        Raises :class:`StoryNotesError` when it cannot be written.
        """
        destination = Path(target) if target is not None else sidecar_path(document_path)
        try:
            atomic_write_text(destination, notes_to_json(notes, Path(document_path).name))
        except OSError as exc:
            raise StoryNotesError(f"Cannot export the story notes to {destination}: {exc}") from None
        return destination

    def copy_to(
        self, old_path: str | os.PathLike[str], new_path: str | os.PathLike[str], notes: StoryNotes
    ) -> None:
        """After save-as: the notes now belong to ``new_path`` too (the old file keeps its own copy)."""
        if Path(old_path).resolve() != Path(new_path).resolve():
            self.save(new_path, notes)


def _move_aside(path: Path) -> Path | None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.broken-{stamp}{path.suffix}")
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def triggered_entries(glossary: Iterable[GlossaryEntry], window: str) -> list[GlossaryEntry]:
    """The entries of ``glossary`` one of whose keywords occurs in ``window``, in glossary order."""
    return [entry for entry in glossary if entry.matches(window)]
