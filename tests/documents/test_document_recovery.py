"""Recovery snapshots and session locks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from studio import paths
from studio.documents.recovery import LockFile, LockInfo, RecoveryStore, new_document_id


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_snapshot_list_discard(tmp_path: Path) -> None:
    crashed = RecoveryStore()
    crashed.start_session()
    doc_id = new_document_id()
    entry = crashed.snapshot(doc_id, "Chapter 1\nIt was… 😀\n", original_path=tmp_path / "ch1.md")
    assert entry.text_file.parent == paths.recovery_dir()
    assert entry.title == "ch1.md"
    meta = json.loads(entry.meta_file.read_text(encoding="utf-8"))
    assert meta["original_path"] == str(tmp_path / "ch1.md")
    assert meta["saved_at"] > 0

    # While the session that wrote it runs (this process), nobody else is offered the snapshot.
    later = RecoveryStore()
    assert later.recoverable() == []

    crashed._lock = None  # the process "dies" without releasing its lock...
    lock = paths.recovery_dir() / f"session-{crashed.session_id}.lock"
    payload = json.loads(lock.read_text())
    payload["pid"] = _dead_pid()
    lock.write_text(json.dumps(payload))

    [found] = later.recoverable()
    assert found.doc_id == doc_id
    assert found.read_text() == "Chapter 1\nIt was… 😀\n"
    assert found.original_path == str(tmp_path / "ch1.md")

    later.discard(doc_id)
    assert later.recoverable() == []
    assert not entry.text_file.exists()
    assert not entry.meta_file.exists()


def test_snapshot_replaces_older_copy_and_clean_exit_makes_it_recoverable(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path)
    store.start_session()
    store.snapshot("doc1", "v1")
    store.snapshot("doc1", "v2", title="Untitled 1")
    assert [e.read_text() for e in store.entries()] == ["v2"]
    assert store.recoverable() == []  # our own session's snapshots are never offered to ourselves
    store.end_session()

    other = RecoveryStore(tmp_path)
    other.start_session()
    [entry] = other.recoverable()
    assert entry.title == "Untitled 1"
    assert entry.original_path is None
    adopted = other.adopt(entry)
    assert adopted.session_id == other.session_id
    assert RecoveryStore(tmp_path).recoverable() == []  # now owned by a live session


def test_corrupt_metadata_is_skipped(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path)
    store.snapshot("good", "text")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "orphan.json").write_text(json.dumps({"doc_id": "orphan", "saved_at": 1}))
    assert [e.doc_id for e in store.entries()] == ["good"]


def test_lock_file_blocks_live_holder_and_takes_over_dead_one(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    first = LockFile(path)
    assert first.acquire()
    info = first.read()
    assert info is not None
    assert (info.host, info.pid) == (socket.gethostname(), os.getpid())
    assert not LockFile(path).acquire()

    path.write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid(), "created_at": 0}))
    second = LockFile(path)
    assert second.acquire()
    holder = second.read()
    assert holder is not None and holder.pid == os.getpid()
    second.release()
    assert not path.exists()


def test_foreign_host_lock_goes_stale_with_age() -> None:
    assert LockInfo("other-host", 1, created_at=1000.0).is_alive(now=1000.0 + 60)
    assert not LockInfo("other-host", 1, created_at=1000.0).is_alive(now=1000.0 + 3 * 24 * 3600)
