"""Story notes storage: round trip through the data folder, save-as and reopen, export next to the document,
and broken files that give a clear message and lose nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.writing.story_notes import (
    GlossaryEntry,
    StoryNotes,
    StoryNotesError,
    StoryNotesStore,
    parse_keywords,
    read_notes_file,
    sidecar_path,
)

NOTES = StoryNotes(
    memory="A sea story. Past tense, close third person.",
    authors_note="Keep the dialogue short.",
    authors_note_depth=4,
    glossary=(
        GlossaryEntry("Mira", ("Mira", "the captain"), "Captain of the Heron."),
        GlossaryEntry("Saltmarsh", ("Saltmarsh",), "A port on stilts. «Ünïcode»", enabled=False),
    ),
)


@pytest.fixture
def store(tmp_path: Path) -> StoryNotesStore:
    return StoryNotesStore(tmp_path / "data" / "story-notes")


def test_notes_round_trip_and_survive_save_as_and_reopen(store: StoryNotesStore, tmp_path: Path) -> None:
    document = tmp_path / "chapter.md"
    document.write_text("Text.", encoding="utf-8")
    store.save(document, NOTES)
    assert store.load(document).notes == NOTES
    assert list(tmp_path.glob("*.json")) == []  # nothing lands next to the user's document

    copy = tmp_path / "elsewhere" / "chapter-2.md"
    copy.parent.mkdir()
    copy.write_text("Text.", encoding="utf-8")
    store.copy_to(document, copy, NOTES)
    reopened = StoryNotesStore(store.directory)  # a new session
    assert reopened.load(copy).notes == NOTES
    assert reopened.load(document).notes == NOTES
    assert reopened.load(tmp_path / "other.md").notes == StoryNotes()


def test_empty_notes_remove_their_file(store: StoryNotesStore, tmp_path: Path) -> None:
    document = tmp_path / "a.md"
    store.save(document, NOTES)
    assert store.file_for(document).exists()
    store.save(document, StoryNotes())
    assert not store.file_for(document).exists()
    assert store.load(document).problem == ""


def test_a_broken_notes_file_is_moved_aside_with_a_clear_message(
    store: StoryNotesStore, tmp_path: Path
) -> None:
    document = tmp_path / "a.md"
    store.directory.mkdir(parents=True)
    broken = store.file_for(document)
    broken.write_text('{"format": "studio-story-notes", "memory": ', encoding="utf-8")
    loaded = store.load(document)
    assert loaded.notes == StoryNotes()
    assert "not valid JSON" in loaded.problem and "kept as" in loaded.problem
    kept = [path for path in store.directory.iterdir() if ".broken-" in path.name]
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8").endswith('"memory": ')
    assert str(kept[0]) in loaded.problem
    store.save(document, NOTES)  # the next save cannot overwrite what was broken
    assert kept[0].exists() and store.load(document).notes == NOTES


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2], "not a Studio story notes file"),
        ({"format": "studio-story-notes", "version": 99}, "newer Studio"),
        ({"format": "studio-story-notes", "version": 1, "memory": 3}, "memory is not text"),
        (
            {"format": "studio-story-notes", "version": 1, "glossary": [{"name": "A", "keywords": "A"}]},
            "glossary entry 1: keywords",
        ),
    ],
)
def test_wrong_contents_name_the_problem(tmp_path: Path, payload: object, message: str) -> None:
    path = tmp_path / "notes.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(StoryNotesError, match=message):
        read_notes_file(path)


def test_export_writes_a_sidecar_that_a_fresh_data_folder_picks_up(
    store: StoryNotesStore, tmp_path: Path
) -> None:
    document = tmp_path / "novel.md"
    document.write_text("Text.", encoding="utf-8")
    exported = store.export(document, NOTES)
    assert exported == sidecar_path(document) == tmp_path / "novel.md.story-notes.json"
    assert json.loads(exported.read_text(encoding="utf-8"))["document"] == "novel.md"
    other_machine = StoryNotesStore(tmp_path / "fresh-data")
    loaded = other_machine.load(document)
    assert loaded.notes == NOTES and loaded.source == exported


def test_a_broken_sidecar_is_left_alone_and_reported(store: StoryNotesStore, tmp_path: Path) -> None:
    document = tmp_path / "novel.md"
    sidecar_path(document).write_text("not json", encoding="utf-8")
    loaded = store.load(document)
    assert loaded.notes == StoryNotes() and "Fix or remove" in loaded.problem
    assert sidecar_path(document).read_text(encoding="utf-8") == "not json"


def test_an_unwritable_data_folder_raises_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    store = StoryNotesStore(blocker / "story-notes")
    with pytest.raises(StoryNotesError, match=r"Cannot save the story notes of a\.md"):
        store.save(tmp_path / "a.md", NOTES)


def test_keywords_are_parsed_from_a_comma_separated_list() -> None:
    assert parse_keywords(" Mira, the captain,, mira ,Cap'n ") == ("Mira", "the captain", "Cap'n")
