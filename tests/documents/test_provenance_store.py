"""AI-text ranges kept between sessions, tied to the saved content."""

from __future__ import annotations

from pathlib import Path

from studio import paths
from studio.documents.provenance import ProvenanceStore


def test_ranges_round_trip_for_the_same_content_only(tmp_path: Path) -> None:
    store = ProvenanceStore()
    assert store.directory.parent == paths.data_dir()
    document = tmp_path / "a.md"
    store.save(document, "hash-1", [(0, 5), (10, 12)])
    assert ProvenanceStore().load(document, "hash-1") == [(0, 5), (10, 12)]
    assert ProvenanceStore().load(document, "hash-2") == []
    assert ProvenanceStore().load(tmp_path / "other.md", "hash-1") == []
    store.save(document, "hash-3", [])
    assert ProvenanceStore().load(document, "hash-1") == []


def test_damaged_records_are_ignored(tmp_path: Path) -> None:
    store = ProvenanceStore()
    document = tmp_path / "b.md"
    store.save(document, "h", [(1, 2)])
    record = next(store.directory.glob("*.json"))
    record.write_text(
        '{"sha256": "h", "ranges": [[3, 4], [5, 1], ["x", 2], [true, 3], [6]]}', encoding="utf-8"
    )
    assert store.load(document, "h") == [(3, 4)]
    record.write_text("not json", encoding="utf-8")
    assert store.load(document, "h") == []
